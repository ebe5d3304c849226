#include "backend/nft.h"
#include "backend/nl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

/* Offsets of the IPv4 source and destination address in the header. */
#define IP4_SADDR_OFF 12
#define IP4_DADDR_OFF 16

#define KUBE_PROXY_MARK 0x4000u
#define NFT_PRIO_SRCNAT 100
#define NFT_PRIO_FILTER 0

/* One transaction is a few hundred bytes per rule; libmnl's batch wants
 * room for one more message past its limit, hence twice the size. */
#define NFT_BATCH_LIMIT 16384
#define NFT_BATCH_MIN	8192

static uint32_t prefix_mask(uint8_t len)
{
	return len ? ~0u << (32 - len) : 0;
}

static bool cidr_valid(uint32_t addr, uint8_t len)
{
	return len <= 32 && !(addr & ~prefix_mask(len));
}

static bool conf_valid(const struct nft_conf *c)
{
	if (!cidr_valid(c->network, c->network_len) || !cidr_valid(c->subnet, c->subnet_len))
		return false;
	/* The pod subnet must lie inside the overlay network. */
	return c->subnet_len >= c->network_len &&
	       (c->subnet & prefix_mask(c->network_len)) == c->network;
}

static int add_expr(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (!e)
		return -ENOMEM;
	nftnl_rule_add_expr(r, e);
	return 0;
}

/* reg1 & mask [!=|==] data; the bitwise step is left out for a full mask.
 * Values are in network byte order, as the packet holds them. */
static int cmp_masked(struct nftnl_rule *r, uint32_t mask, uint32_t data, bool neq)
{
	uint32_t xor = 0;
	struct nftnl_expr *e;
	int ret;

	if (mask != UINT32_MAX) {
		e = nftnl_expr_alloc("bitwise");
		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
			nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
			nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, sizeof(uint32_t));
			nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, sizeof(mask));
			nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &xor, sizeof(xor));
		}
		ret = add_expr(r, e);
		if (ret)
			return ret;
	}
	e = nftnl_expr_alloc("cmp");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, neq ? NFT_CMP_NEQ : NFT_CMP_EQ);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, &data, sizeof(data));
	}
	return add_expr(r, e);
}

/* ip saddr|daddr [!=] addr/len */
static int match_prefix(struct nftnl_rule *r, uint32_t off, uint32_t addr, uint8_t len, bool neq)
{
	struct nftnl_expr *e;
	int ret;

	e = nftnl_expr_alloc("payload");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, sizeof(uint32_t));
	}
	ret = add_expr(r, e);
	if (ret)
		return ret;
	return cmp_masked(r, htonl(prefix_mask(len)), htonl(addr), neq);
}

/* meta mark & 0x4000 == 0x4000: kube-proxy marks what it wants to masquerade
 * itself; match the bit, not the whole mark. */
static int match_kube_proxy_mark(struct nftnl_rule *r)
{
	struct nftnl_expr *e;
	int ret;

	e = nftnl_expr_alloc("meta");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_MARK);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	}
	ret = add_expr(r, e);
	if (ret)
		return ret;
	/* The mark is host byte order in the register. */
	return cmp_masked(r, KUBE_PROXY_MARK, KUBE_PROXY_MARK, false);
}

static int add_verdict(struct nftnl_rule *r, int verdict)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, verdict);
	}
	return add_expr(r, e);
}

static int add_masquerade(struct nftnl_rule *r, bool fully_random)
{
	struct nftnl_expr *e = nftnl_expr_alloc("masq");

	if (e && fully_random)
		nftnl_expr_set_u32(e, NFTNL_EXPR_MASQ_FLAGS, NF_NAT_RANGE_PROTO_RANDOM_FULLY);
	return add_expr(r, e);
}

/* Sets a comment (nft shows it) on a table, chain or rule through setter. */
static int set_comment(void *obj, void (*setter)(void *, const void *, uint32_t), uint8_t type,
		       const char *text)
{
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(NFTNL_UDATA_COMMENT_MAXLEN + 8);
	int ret = 0;

	if (!ud)
		return -ENOMEM;
	if (!nftnl_udata_put_strz(ud, type, text))
		ret = -EMSGSIZE;
	else
		setter(obj, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
	nftnl_udata_buf_free(ud);
	return ret;
}

static void table_set_udata(void *t, const void *d, uint32_t len)
{
	nftnl_table_set_data(t, NFTNL_TABLE_USERDATA, d, len);
}

static void chain_set_udata(void *c, const void *d, uint32_t len)
{
	nftnl_chain_set_data(c, NFTNL_CHAIN_USERDATA, d, len);
}

static void rule_set_udata(void *r, const void *d, uint32_t len)
{
	nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, d, len);
}

/* Writes the next message header into the batch; -EMSGSIZE once full. */
static int batch_next(struct mnl_nlmsg_batch *b)
{
	return mnl_nlmsg_batch_next(b) ? 0 : -EMSGSIZE;
}

static int put_table(struct mnl_nlmsg_batch *b, uint16_t type, uint16_t flags, uint32_t *seq,
		     bool comment)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;
	int ret = 0;

	if (!t)
		return -ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, NFT_WEFT_TABLE);
	if (comment)
		ret = set_comment(t, table_set_udata, NFTNL_UDATA_TABLE_COMMENT,
				  "weft: pod masquerade and forwarding");
	if (!ret) {
		nlh = nftnl_table_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), type, NFPROTO_IPV4,
						  flags | NLM_F_ACK, (*seq)++);
		nftnl_table_nlmsg_build_payload(nlh, t);
		ret = batch_next(b);
	}
	nftnl_table_free(t);
	return ret;
}

static int put_chain(struct mnl_nlmsg_batch *b, const char *name, const char *type, uint32_t hook,
		     int prio, const char *comment, uint32_t *seq)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;
	int ret;

	if (!c)
		return -ENOMEM;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFT_WEFT_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	ret = set_comment(c, chain_set_udata, NFTNL_UDATA_CHAIN_COMMENT, comment);
	if (!ret) {
		nlh = nftnl_chain_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), NFT_MSG_NEWCHAIN,
						  NFPROTO_IPV4, NLM_F_CREATE | NLM_F_ACK, (*seq)++);
		nftnl_chain_nlmsg_build_payload(nlh, c);
		ret = batch_next(b);
	}
	nftnl_chain_free(c);
	return ret;
}

/* One rule: up to two address matches, then a verdict or masquerade. */
struct rule_spec {
	const char *comment;
	bool kube_mark;
	bool has_src, src_neq;
	uint32_t src;
	uint8_t src_len;
	bool has_dst, dst_neq;
	uint32_t dst;
	uint8_t dst_len;
	bool masq;
	int verdict;
};

static int put_rule(struct mnl_nlmsg_batch *b, const char *chain, const struct rule_spec *s,
		    bool fully_random, uint32_t *seq)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nlmsghdr *nlh;
	int ret;

	if (!r)
		return -ENOMEM;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFT_WEFT_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_IPV4);
	ret = set_comment(r, rule_set_udata, NFTNL_UDATA_RULE_COMMENT, s->comment);
	if (!ret && s->kube_mark)
		ret = match_kube_proxy_mark(r);
	if (!ret && s->has_src)
		ret = match_prefix(r, IP4_SADDR_OFF, s->src, s->src_len, s->src_neq);
	if (!ret && s->has_dst)
		ret = match_prefix(r, IP4_DADDR_OFF, s->dst, s->dst_len, s->dst_neq);
	if (!ret)
		ret = s->masq ? add_masquerade(r, fully_random) : add_verdict(r, s->verdict);
	if (!ret) {
		nlh = nftnl_rule_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), NFT_MSG_NEWRULE,
						 NFPROTO_IPV4,
						 NLM_F_APPEND | NLM_F_CREATE | NLM_F_ACK, (*seq)++);
		nftnl_rule_nlmsg_build_payload(nlh, r);
		ret = batch_next(b);
	}
	nftnl_rule_free(r);
	return ret;
}

static int put_begin(struct mnl_nlmsg_batch *b, uint32_t *seq)
{
	nftnl_batch_begin(mnl_nlmsg_batch_current(b), (*seq)++);
	return batch_next(b);
}

static int put_end(struct mnl_nlmsg_batch *b, uint32_t *seq)
{
	nftnl_batch_end(mnl_nlmsg_batch_current(b), (*seq)++);
	return batch_next(b);
}

/* Table created if absent, then deleted, so the delete never fails and the
 * new table starts empty: all in the same transaction. */
static int put_fresh_table(struct mnl_nlmsg_batch *b, uint32_t *seq)
{
	int ret;

	ret = put_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, seq, false);
	if (!ret)
		ret = put_table(b, NFT_MSG_DELTABLE, 0, seq, false);
	return ret;
}

static int build_replace(struct mnl_nlmsg_batch *b, const struct nft_conf *c, uint32_t *seq)
{
	const uint32_t mcast = 0xe0000000u; /* 224.0.0.0/4 */
	const struct rule_spec post[] = {
		{.comment = "marked by kube-proxy: it masquerades itself",
		 .kube_mark = true,
		 .verdict = NFT_RETURN},
		{.comment = "pod to pod: keep pod addresses",
		 .has_src = true,
		 .src = c->subnet,
		 .src_len = c->subnet_len,
		 .has_dst = true,
		 .dst = c->network,
		 .dst_len = c->network_len,
		 .verdict = NFT_RETURN},
		{.comment = "overlay to local pods: keep pod addresses",
		 .has_src = true,
		 .src = c->network,
		 .src_len = c->network_len,
		 .has_dst = true,
		 .dst = c->subnet,
		 .dst_len = c->subnet_len,
		 .verdict = NFT_RETURN},
		{.comment = "outside to local pods: keep source",
		 .has_src = true,
		 .src_neq = true,
		 .src = c->network,
		 .src_len = c->network_len,
		 .has_dst = true,
		 .dst = c->subnet,
		 .dst_len = c->subnet_len,
		 .verdict = NFT_RETURN},
		{.comment = "pods leaving the overlay network",
		 .has_src = true,
		 .src = c->network,
		 .src_len = c->network_len,
		 .has_dst = true,
		 .dst_neq = true,
		 .dst = mcast,
		 .dst_len = 4,
		 .masq = true},
		{.comment = "outside to remote pods",
		 .has_src = true,
		 .src_neq = true,
		 .src = c->network,
		 .src_len = c->network_len,
		 .has_dst = true,
		 .dst = c->network,
		 .dst_len = c->network_len,
		 .masq = true},
	};
	const struct rule_spec fwd[] = {
		{.comment = "from the overlay network",
		 .has_src = true,
		 .src = c->network,
		 .src_len = c->network_len,
		 .verdict = NF_ACCEPT},
		{.comment = "to the overlay network",
		 .has_dst = true,
		 .dst = c->network,
		 .dst_len = c->network_len,
		 .verdict = NF_ACCEPT},
	};
	int ret;

	ret = put_fresh_table(b, seq);
	if (!ret)
		ret = put_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL, seq, true);
	if (!ret)
		ret = put_chain(b, "postrouting", "nat", NF_INET_POST_ROUTING, NFT_PRIO_SRCNAT,
				"masquerade pod traffic leaving the overlay network", seq);
	for (size_t i = 0; !ret && i < sizeof(post) / sizeof(post[0]); i++)
		ret = put_rule(b, "postrouting", &post[i], c->fully_random, seq);
	if (!ret)
		ret = put_chain(b, "forward", "filter", NF_INET_FORWARD, NFT_PRIO_FILTER,
				"accept overlay traffic", seq);
	for (size_t i = 0; !ret && i < sizeof(fwd) / sizeof(fwd[0]); i++)
		ret = put_rule(b, "forward", &fwd[i], c->fully_random, seq);
	return ret;
}

static int build(const struct nft_conf *c, uint32_t seq, void *buf, size_t size, size_t *len)
{
	struct mnl_nlmsg_batch *b;
	int ret;

	/* Every message is built past the batch limit before it is checked,
	 * so keep one message's worth of slack beyond the limit. */
	if (size < NFT_BATCH_MIN)
		return -EMSGSIZE;
	b = mnl_nlmsg_batch_start(buf, size / 2);
	if (!b)
		return -ENOMEM;
	ret = put_begin(b, &seq);
	if (!ret)
		ret = c ? build_replace(b, c, &seq) : put_fresh_table(b, &seq);
	if (!ret)
		ret = put_end(b, &seq);
	if (!ret)
		*len = mnl_nlmsg_batch_size(b);
	mnl_nlmsg_batch_stop(b);
	return ret;
}

int nft_build_replace(const struct nft_conf *conf, uint32_t seq, void *buf, size_t size,
		      size_t *len)
{
	if (!conf_valid(conf))
		return -EINVAL;
	return build(conf, seq, buf, size, len);
}

int nft_build_delete(uint32_t seq, void *buf, size_t size, size_t *len)
{
	return build(NULL, seq, buf, size, len);
}

/* Counts the messages that ask for an ack and the range of their seqs. */
static int batch_scan(const void *batch, size_t len, uint32_t *first, uint32_t *last,
		      unsigned *acks)
{
	const struct nlmsghdr *nlh = batch;
	int left = (int)len;

	*acks = 0;
	*first = UINT32_MAX;
	*last = 0;
	while (nl_msg_ok(nlh, left)) {
		if (nlh->nlmsg_flags & NLM_F_ACK)
			(*acks)++;
		if (nlh->nlmsg_seq < *first)
			*first = nlh->nlmsg_seq;
		if (nlh->nlmsg_seq > *last)
			*last = nlh->nlmsg_seq;
		nlh = mnl_nlmsg_next(nlh, &left);
	}
	return left == 0 && *acks ? 0 : -EINVAL;
}

int nft_send(const void *batch, size_t len)
{
	char *rx = NULL;
	struct mnl_socket *nl;
	uint32_t first, last, portid;
	unsigned expected, acked = 0;
	int one = 1, err = 0, ret;

	ret = batch_scan(batch, len, &first, &last, &expected);
	if (ret)
		return ret;
	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto close_sock;
	}
	/* Acks without a copy of the request keep the replies small. */
	mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	portid = mnl_socket_get_portid(nl);
	rx = malloc(MNL_SOCKET_BUFFER_SIZE);
	if (!rx) {
		ret = -ENOMEM;
		goto close_sock;
	}
	if (mnl_socket_sendto(nl, batch, len) < 0) {
		ret = -errno;
		goto free_rx;
	}
	/* The kernel runs the whole transaction inside sendto(): every ack is
	 * queued by now, so read without blocking until the queue is empty. */
	for (;;) {
		ssize_t n = recv(mnl_socket_get_fd(nl), rx, MNL_SOCKET_BUFFER_SIZE, MSG_DONTWAIT);
		const struct nlmsghdr *nlh = (const void *)rx;
		int left;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				ret = -errno;
			break;
		}
		left = (int)n;
		for (; nl_msg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct nlmsgerr *e;

			if (!mnl_nlmsg_portid_ok(nlh, portid) || nlh->nlmsg_seq < first ||
			    nlh->nlmsg_seq > last || nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
				continue;
			e = mnl_nlmsg_get_payload(nlh);
			acked++;
			if (e->error && !err)
				err = e->error;
		}
	}
	if (!ret && err)
		ret = err;
	else if (!ret && acked < expected)
		ret = -EPROTO;
free_rx:
	free(rx);
close_sock:
	mnl_socket_close(nl);
	return ret;
}

static int build_and_send(const struct nft_conf *conf)
{
	size_t size = 2 * NFT_BATCH_LIMIT, len;
	void *buf = malloc(size);
	int ret;

	if (!buf)
		return -ENOMEM;
	/* Seqs only need to be unique per socket; time keeps them readable
	 * in a netlink trace. */
	if (conf)
		ret = nft_build_replace(conf, (uint32_t)time(NULL), buf, size, &len);
	else
		ret = nft_build_delete((uint32_t)time(NULL), buf, size, &len);
	if (!ret)
		ret = nft_send(buf, len);
	free(buf);
	return ret;
}

int nft_apply(const struct nft_conf *conf)
{
	if (!conf_valid(conf))
		return -EINVAL;
	return build_and_send(conf);
}

int nft_remove(void)
{
	return build_and_send(NULL);
}
