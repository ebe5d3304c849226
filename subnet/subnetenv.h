/* subnet.env: the file weftd writes once the data plane is ready and the CNI
 * plugin reads on every call. Same bytes as flannel's. */
#ifndef WEFT_SUBNETENV_H
#define WEFT_SUBNETENV_H

#include <stdbool.h>
#include <stddef.h>

#include "common/ip4.h"
#include "common/ip6.h"

struct subnet_env {
	struct ip4_net network;	 /* FLANNEL_NETWORK, e.g. 10.244.0.0/16 */
	struct ip4_net subnet;	 /* FLANNEL_SUBNET: gateway with prefix, 10.244.3.1/24 */
	unsigned mtu;		 /* FLANNEL_MTU */
	bool ipmasq;		 /* FLANNEL_IPMASQ */
	bool v6_only;		 /* no IPv4 lines: network and subnet unused */
	bool has_v6;		 /* the IPv6 lines below are present */
	struct ip6_net network6; /* FLANNEL_IPV6_NETWORK, e.g. fd00:10:244::/56 */
	struct ip6_net subnet6;	 /* FLANNEL_IPV6_SUBNET, e.g. fd00:10:244:3::1/64 */
};

/* flannel's lines, in its order: the IPv4 pair (unless v6_only), the IPv6
 * pair (if has_v6), FLANNEL_MTU, FLANNEL_IPMASQ. Returns the length written (without NUL), or
 * -ENOSPC when buf is too small. */
int subnetenv_format(const struct subnet_env *env, char *buf, size_t len);
/* Atomic write, mode 0644; creates the parent directory (0755) if missing.
 * 0 or -errno. */
int subnetenv_write(const char *path, const struct subnet_env *env);

/* Accepts what flannel's CNI plugin accepts: KEY=VALUE lines, blank lines and
 * '#' comments skipped, optional matching quotes around a value, other keys
 * ignored, a comma list in FLANNEL_NETWORK takes its first IPv4 entry (in
 * FLANNEL_IPV6_NETWORK its first IPv6 one). FLANNEL_MTU and FLANNEL_IPMASQ
 * are required, and at least one family: a family's network and subnet
 * come together, the subnet inside the network. 0 or -EINVAL with a message in err (may be NULL). */
int subnetenv_parse(const char *text, struct subnet_env *out, char *err, size_t errlen);
/* 0; -ENOENT when the file is missing (daemon not ready); -EINVAL when it is
 * malformed or not a regular file (a FIFO is refused at once); -EFBIG over
 * 1 MiB; other -errno on I/O errors. */
int subnetenv_read(const char *path, struct subnet_env *out, char *err, size_t errlen);

#endif
