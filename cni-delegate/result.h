/* Result and error JSON in the shape each CNI version expects, and the
 * reading of a prevResult this plugin produced. */
#ifndef WEFT_CNI_RESULT_H
#define WEFT_CNI_RESULT_H

#include <stdint.h>

#include "cni-delegate/attach.h"
#include "cni-delegate/cni.h"

/* The ADD result on stdout. 0 or -errno. */
int result_print_add(const struct cni_req *req, const struct attach_spec *sp,
		     const struct attach_macs *macs);
/* The error object on stdout. */
void result_print_error(const struct cni_req *req, const struct cni_err *e);
/* VERSION's answer for the requested version (if supported). */
void result_print_version(const char *requested);

#define RESULT_MAX_ROUTES 16

struct prev_result {
	struct ip4_net addr; /* the pod interface's IPv4 address */
	uint32_t gateway;    /* 0 when absent */
	struct attach_route routes[RESULT_MAX_ROUTES];
	unsigned n_routes;
};

/* Finds the IPv4 address on interface `ifname` (sandbox side) and the IPv4
 * routes. -1 with e filled when the result lacks them or is malformed. */
int result_parse_prev(json_t *prev, const char *ifname, struct prev_result *out, struct cni_err *e);

#endif
