/* weft CNI plugin: the request as parsed from the environment and stdin,
 * and the error every step can return.
 *
 * Flow: main.c reads env + stdin (conf.c), dispatches the verb; ADD reads
 * subnet.env, reserves an address (ipam.c), wires bridge + veth + pod side
 * (attach.c) and prints the versioned result (result.c). Any failure after
 * something was made undoes it before the error is printed. */
#ifndef WEFT_CNI_H
#define WEFT_CNI_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <net/if.h>

/* Well-known CNI error codes; 999 is what plugins use for runtime failures. */
enum cni_code {
	CNI_ERR_VERSION = 1,
	CNI_ERR_ENV = 4,
	CNI_ERR_DECODE = 6,
	CNI_ERR_CONFIG = 7,
	CNI_ERR_TRY_LATER = 11,
	CNI_ERR_NOT_AVAILABLE = 50,
	CNI_ERR_INTERNAL = 999,
};

struct cni_err {
	int code;
	char msg[256];
	char details[512];
};

/* Fills e (code, msg, optional details) and returns -1 for `return` chains. */
int cni_fail(struct cni_err *e, int code, const char *details, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

enum cni_cmd { CMD_ADD, CMD_DEL, CMD_CHECK, CMD_VERSION, CMD_GC, CMD_STATUS };

/* Result formats, ordered so comparisons mean "at least". */
enum cni_ver { VER_030, VER_031, VER_040, VER_100, VER_110 };

#define CNI_MAX_ID 256

struct cni_req {
	enum cni_cmd cmd;
	const char *container_id; /* env, validated */
	const char *netns;	  /* env CNI_NETNS, may be NULL for DEL */
	const char *ifname;	  /* env, validated */

	json_t *conf; /* whole stdin document, owned */
	const char *version_str;
	enum cni_ver ver;
	const char *name;
	char subnet_file[PATH_MAX];
	char data_dir[PATH_MAX];
	char bridge[IFNAMSIZ];
	bool hairpin;
	bool default_gw;
	unsigned mtu;	      /* 0: from subnet.env */
	json_t *prev_result;  /* borrowed from conf, NULL if absent */
	json_t *valid_attach; /* GC: borrowed array, NULL if absent */
};

/* Parses the environment and stdin text into req. On failure e holds the
 * code and message. VERSION needs only CNI_COMMAND. */
int cni_req_parse(struct cni_req *req, const char *stdin_text, size_t len, struct cni_err *e);
void cni_req_free(struct cni_req *req);

/* The version string errors should carry: the request's if known. */
const char *cni_req_version(const struct cni_req *req);
bool cni_version_supported(const char *v, enum cni_ver *out);
extern const char *const cni_supported_versions[];

bool cni_valid_id(const char *id);
bool cni_valid_ifname(const char *name);

/* Host veth name and alias for an attachment: "veth" + 8 hex digits of a
 * hash over (container id, ifname); "weft:<id>:<ifname>". */
void cni_host_veth_name(const char *id, const char *ifname, char out[IFNAMSIZ]);
int cni_host_veth_alias(const char *id, const char *ifname, char *out, size_t len);

#endif
