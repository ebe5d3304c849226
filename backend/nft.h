/* nftables rules of weftd: one table of its own per family, "ip weft" and
 * "ip6 weft" (same rules for the IPv6 network and subnet), each always
 * replaced as a whole in one nf_tables transaction (add, delete, add again,
 * then chains and rules), so packets see either the old or the new rule set
 * and other tables are never touched. The table is left in place on exit.
 *
 *   chain postrouting (nat, srcnat): kube-proxy mark, pod-to-pod and traffic
 *     towards local pods return; the rest leaving the overlay is masqueraded.
 *   chain forward (filter): accept traffic from and to the overlay network.
 */
#ifndef WEFT_NFT_H
#define WEFT_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#define NFT_WEFT_TABLE "weft"

/* family AF_INET6 (table ip6 weft) uses network6 and subnet6 with
 * network_len and subnet_len; 0 means AF_INET (table ip weft). */
struct nft_conf {
	int family;
	uint32_t network; /* overlay network, host byte order */
	uint8_t network_len;
	uint32_t subnet; /* this node's pod subnet, host byte order */
	uint8_t subnet_len;
	bool fully_random; /* masquerade with fully random source ports */
	struct in6_addr network6, subnet6;
};

/* Serialise the replacing transaction (batch begin ... batch end) into buf.
 * Returns 0 and the length in *len, -EINVAL for an inconsistent conf,
 * -EMSGSIZE when buf is too small. Sequence numbers start at seq. */
int nft_build_replace(const struct nft_conf *conf, uint32_t seq, void *buf, size_t size,
		      size_t *len);

/* Serialise a transaction that deletes table ip weft if it exists. */
int nft_build_delete(uint32_t seq, void *buf, size_t size, size_t *len);
/* The same for table ip weft (AF_INET) or ip6 weft (AF_INET6). */
int nft_build_delete_family(int family, uint32_t seq, void *buf, size_t size, size_t *len);

/* Why a transaction failed, for the caller's log: the first message the
 * kernel refused, its errno and the kernel's extack text. */
struct nft_err {
	int err;       /* negative errno; 0: no failure */
	char what[80]; /* e.g. "rule 2 of chain postrouting", "transaction" */
	char msg[256]; /* the kernel's extack text; "" if it gave none */
};

/* Send one serialised transaction (batch begin ... batch end) through the
 * netlink batch and read every ack. Returns 0 or the first error the kernel
 * reported (negative errno), detailed in *e (e may be NULL). */
int nft_send(const void *batch, size_t len, struct nft_err *e);

/* Replace table ip weft (ip6 weft) with the rules for conf (build + send). */
int nft_apply(const struct nft_conf *conf, struct nft_err *e);

/* Remove table ip weft; 0 when it does not exist. */
int nft_remove(struct nft_err *e);
/* Remove table ip weft (AF_INET) or ip6 weft (AF_INET6). */
int nft_remove_family(int family, struct nft_err *e);

#endif
