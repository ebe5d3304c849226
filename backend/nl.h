/* The one libmnl wrapper: a socket on one netlink bus (rtnetlink or
 * nfnetlink) with ext-ack on, its own sequence numbers and a receive loop
 * that checks seq/portid and turns NLMSG_ERROR (plus the kernel's extack
 * text) into a -errno.
 *
 * Use one socket per purpose: requests, dumps and events each get their own
 * (a dump's replies must not interleave with acks or events). Every request
 * asks for an ack. A dump the kernel flags NLM_F_DUMP_INTR is restarted here,
 * at most NL_DUMP_TRIES times in all; callers never retry dumps themselves.
 * Event sockets report an overflowed receive queue as -ENOBUFS: the caller
 * must resync everything.
 *
 * Batches (nl_batch.c) send many messages at once and report each failed
 * one with its errno and extack text; an nftables transaction is one batch.
 *
 * The object kind files (nl_link.c, nl_addr.c, ...) build and parse message
 * bodies; nl.c and nl_batch.c only move messages. */
#ifndef WEFT_NL_H
#define WEFT_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/netlink.h>

struct nl_sock;
struct nl_batch;

/* Like mnl_nlmsg_ok, but compares nlmsg_len unsigned: libmnl casts it to
 * int, so a length near UINT32_MAX passes and the walk never ends. */
static inline bool nl_msg_ok(const struct nlmsghdr *nlh, int len)
{
	return len >= (int)sizeof(*nlh) && nlh->nlmsg_len >= sizeof(*nlh) &&
	       nlh->nlmsg_len <= (unsigned)len;
}

/* Room for one request message. Builders get this as their bound. */
#define NL_MSG_MAX 4096

/* Dumps sent in all before an interrupted dump gives up with -EBUSY: the
 * table kept changing under it. */
#define NL_DUMP_TRIES 4

/* Called for each reply message of a dump, a GET or an event read.
 * Return 0 to go on, a negative errno to stop (it is returned). */
typedef int (*nl_msg_cb)(const struct nlmsghdr *nlh, void *data);
/* Called before an interrupted dump is sent again: drop what was collected. */
typedef void (*nl_reset_cb)(void *data);

/* Opens a socket on bus (NETLINK_ROUTE, NETLINK_NETFILTER) in the caller's
 * network namespace. */
int nl_open_bus(int bus, struct nl_sock **out);
/* Opens an rtnetlink socket in the caller's network namespace. */
int nl_open(struct nl_sock **out);
/* Opens an rtnetlink socket that lives in the namespace netns_fd refers to;
 * the calling thread is back in its own namespace on return. */
int nl_open_netns(struct nl_sock **out, int netns_fd);
/* Same, with the namespace given as a path (e.g. /run/netns/x). */
int nl_open_netns_path(struct nl_sock **out, const char *path);
void nl_close(struct nl_sock *s);

int nl_fd(const struct nl_sock *s);
/* The kernel's extack text for the last failed request, or "". */
const char *nl_errmsg(const struct nl_sock *s);

/* A scratch message in the socket's own buffer (NL_MSG_MAX bytes), valid
 * until the next nl_msg call on this socket. */
struct nlmsghdr *nl_msg(struct nl_sock *s, uint16_t type, uint16_t flags);

/* Sends one message with NLM_F_ACK and waits for the ack: 0 or -errno. */
int nl_request(struct nl_sock *s, struct nlmsghdr *nlh);
/* Like nl_request, but replies before the ack (e.g. a GET or NLM_F_ECHO) go
 * to cb. A GET by name or index answers with one message. */
int nl_request_reply(struct nl_sock *s, struct nlmsghdr *nlh, nl_msg_cb cb, void *data);
/* Sends nlh as a dump (NLM_F_DUMP is added) and feeds every message to cb.
 * A dump the kernel flags as inconsistent is sent again (nlh as it is, so
 * cb must not reuse this socket) after reset(rdata) (reset may be NULL);
 * -EBUSY when NL_DUMP_TRIES dumps in a row were. */
int nl_dump(struct nl_sock *s, struct nlmsghdr *nlh, nl_msg_cb cb, void *data, nl_reset_cb reset,
	    void *rdata);

/* Event sockets: join an RTNLGRP_* group. The socket becomes non-blocking. */
int nl_subscribe(struct nl_sock *s, unsigned group);
/* Reads every event queued now, feeding each to cb. 0 when drained,
 * -ENOBUFS when events were lost (resync everything), other -errno. */
int nl_event_read(struct nl_sock *s, nl_msg_cb cb, void *data);

/* Batches: many requests in one buffer, sent together, acks read in bulk.
 * Each message gets an index (0, 1, ... in the order they were started);
 * a failed one is reported to the callback with its index, errno and the
 * kernel's extack text ("" if none). The kernel handles a send before
 * sendmsg returns, so every ack is queued by then and read without waiting.
 * A plain batch flushes a full buffer on its own; a transaction (nfnetlink:
 * batch begin ... batch end) goes out in one send or not at all. */
typedef void (*nl_batch_err_cb)(unsigned idx, int err, const char *msg, void *data);

int nl_batch_new(struct nl_sock *s, nl_batch_err_cb cb, void *data, struct nl_batch **out);
/* A batch that is never split: too many bytes make it fail with -EMSGSIZE. */
int nl_batch_new_tx(struct nl_sock *s, nl_batch_err_cb cb, void *data, struct nl_batch **out);
void nl_batch_free(struct nl_batch *b);
/* Starts the next message with NLM_F_ACK; build its body with at most
 * NL_MSG_MAX bytes in total. NULL when a forced flush failed to send or a
 * transaction is full (see nl_batch_commit). */
struct nlmsghdr *nl_batch_msg(struct nl_batch *b, uint16_t type, uint16_t flags);
/* Starts the next message for a builder that writes the whole message
 * itself (e.g. libnftnl) with seq *seq, at most NL_MSG_MAX bytes. It is
 * acked only if the builder sets NLM_F_ACK (nfnetlink's batch begin and end
 * are not). NULL as for nl_batch_msg. */
void *nl_batch_raw(struct nl_batch *b, uint32_t *seq);
/* Drops the message last started (e.g. its builder failed). */
void nl_batch_cancel(struct nl_batch *b);
/* Sends what is left and reads all acks. Returns 0 when every message
 * succeeded, else the first error; each failed message was reported to the
 * callback with its index. Counts are reset for reuse. */
int nl_batch_commit(struct nl_batch *b);
/* Messages that failed since nl_batch_new. */
unsigned nl_batch_failed(const struct nl_batch *b);

#endif
