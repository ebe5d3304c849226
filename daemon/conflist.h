/* The CNI network configuration list weftd keeps in --cni-conf-dir: the
 * built-in one (weft + portmap) and the checks a --cni-conf-template must
 * pass before weftd starts. Pure functions, no files. */
#ifndef WEFTD_CONFLIST_H
#define WEFTD_CONFLIST_H

#include <stddef.h>

#define CONFLIST_NAME "10-weft.conflist"
#define CONFLIST_MAX  (64u << 10)

/* The built-in list at cniVersion version, its weft plugin reading
 * subnet_file. *out: NUL-terminated heap text ending in a newline.
 * 0, -EINVAL or -ENOMEM. */
int conflist_build(const char *version, const char *subnet_file, char **out);

/* Checks that text is a conflist weft can serve: a JSON object with a
 * valid name, a cniVersion the plugin speaks (cniVersions, if present, too),
 * and a plugins array of typed objects holding exactly one weft plugin.
 * On success the weft plugin's subnetFile (its default when absent) goes to
 * subnet_file unless that is NULL. -EINVAL with a message in err otherwise. */
int conflist_check(const char *text, size_t len, char *subnet_file, size_t sf_len, char *err,
		   size_t errlen);

#endif
