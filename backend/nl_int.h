/* Netlink socket internals shared by nl.c (requests, dumps, events) and
 * nl_batch.c (batches). Nothing outside backend/nl*.c includes this. */
#ifndef WEFT_NL_INT_H
#define WEFT_NL_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <libmnl/libmnl.h>

#include "backend/nl.h"

/* Large enough for the biggest skb a dump sends to a reader of this size. */
#define NL_RBUF_SIZE 32768

struct nl_sock {
	struct mnl_socket *mnl;
	uint32_t portid;
	uint32_t dst; /* where requests go: the kernel (0); a unit test's fake */
	uint32_t seq;
	bool strict;
	char errmsg[256];
	char msg[NL_MSG_MAX] __attribute__((aligned(8)));
	char rbuf[NL_RBUF_SIZE] __attribute__((aligned(8)));
};

/* Sends len bytes to s->dst: 0 or -errno. */
int nl_send_raw(struct nl_sock *s, const void *buf, size_t len);
/* One datagram into s->rbuf: its length, or -errno (-EAGAIN when flags has
 * MSG_DONTWAIT and nothing is queued, -ENOSPC when it was truncated). */
int nl_recv(struct nl_sock *s, int flags);
/* Decodes NLMSG_ERROR / NLMSG_DONE: the -errno (0 for an ack) and, into
 * s->errmsg, the extack text. */
int nl_msg_error(struct nl_sock *s, const struct nlmsghdr *nlh);

#endif
