/* CNI files owned by weftd: the conflist in --cni-conf-dir and the plugin
 * in --cni-bin-dir. Nothing is written until the node is ready; from then
 * on both are restored whenever they are deleted or changed (inotify on
 * their directories, read on weftd's loop) and left in place at exit.
 *
 * Every write is a temp file created exclusively in the same directory,
 * then renamed over the target, so a runtime never reads half a file.
 * "Changed" is decided by content, type and mode, so weftd's own rename
 * does not trigger another write. */
#ifndef WEFTD_CNIFILES_H
#define WEFTD_CNIFILES_H

#include <stddef.h>

struct loop;
struct cnifiles;

struct cnifiles_config {
	struct loop *loop;
	const char *conf_dir;	   /* NULL: no conflist */
	const char *conf_template; /* NULL: the built-in list */
	const char *cni_version;   /* of the built-in list */
	const char *subnet_file;   /* the built-in list's subnetFile */
	const char *bin_dir;	   /* NULL: no plugin */
	const char *plugin;	   /* NULL: "weft" beside this executable */
};

/* Reads and checks the template and the plugin; writes nothing. With
 * neither directory set *out is NULL. 0, or -errno with a message in err. */
int cnifiles_new(const struct cnifiles_config *c, struct cnifiles **out, char *err, size_t errlen);
/* The node is ready: write what differs and start watching. Later calls do
 * nothing. 0 or -errno (failures are retried on the loop). */
int cnifiles_activate(struct cnifiles *cf);
void cnifiles_free(struct cnifiles *cf);

#endif
