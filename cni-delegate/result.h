/* Result and error JSON in the shape each CNI version expects, and the
 * reading of a prevResult this plugin produced. */
#ifndef WEFT_CNI_RESULT_H
#define WEFT_CNI_RESULT_H

#include <stdint.h>

#include "cni-delegate/attach.h"
#include "cni-delegate/cni.h"
#include "common/ip6.h"

/* The ADD result on stdout. 0 or -errno. */
int result_print_add(const struct cni_req *req, const struct attach_spec *sp,
		     const struct attach_macs *macs);
/* The error object on stdout. */
void result_print_error(const struct cni_req *req, const struct cni_err *e);
/* VERSION's answer for the requested version (if supported). */
void result_print_version(const char *requested);

#define RESULT_MAX_ROUTES 16

struct prev_result {
	bool has_v4, has_v6;
	struct ip4_net addr;  /* the pod interface's IPv4 address */
	uint32_t gateway;     /* 0 when absent */
	struct ip6_net addr6; /* its IPv6 address */
	struct attach_route routes[RESULT_MAX_ROUTES];
	unsigned n_routes;
};

/* Finds the first IPv4 and the first IPv6 address on interface `ifname`
 * (sandbox side) and the routes of both families. -1 with e filled when the
 * result has neither address or is malformed. */
int result_parse_prev(json_t *prev, const char *ifname, struct prev_result *out, struct cni_err *e);

#endif
