/* The ip weft and ip6 weft tables: the transaction is built with libnftnl into a flat
 * buffer (what the wire tests read back), then sent message by message
 * through the netlink layer's batch, which reports the failing message's
 * errno and extack text. */
#include "backend/nft.h"
#include "backend/nl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

#include "common/ip4.h"
#include "common/ip6.h"

/* Offsets of the source and destination address in the IPv4 and IPv6
 * headers. */
#define IP4_SADDR_OFF 12
#define IP4_DADDR_OFF 16
#define IP6_SADDR_OFF 8
#define IP6_DADDR_OFF 24

#define KUBE_PROXY_MARK 0x4000u
#define NFT_PRIO_SRCNAT 100
#define NFT_PRIO_FILTER 0

/* One transaction is a few hundred bytes per rule; libmnl's batch wants
 * room for one more message past its limit, hence twice the size. */
#define NFT_BATCH_LIMIT 16384
#define NFT_BATCH_MIN	8192

/* A prefix as the packet holds it: alen bytes of address and of mask,
 * network byte order. */
struct pfx {
	uint8_t addr[16], mask[16];
};

/* What the messages of one transaction share. */
struct tx {
	struct mnl_nlmsg_batch *b;
	uint32_t seq;
	uint16_t proto;	       /* NFPROTO_IPV4 or NFPROTO_IPV6 */
	uint32_t alen;	       /* address length: 4 or 16 */
	uint32_t saddr, daddr; /* header offsets */
};

static bool is6(const struct nft_conf *c)
{
	return c->family == AF_INET6;
}

static bool conf_valid(const struct nft_conf *c)
{
	if (is6(c)) {
		const struct ip6_net net = {c->network6, c->network_len};
		const struct ip6_net sub = {c->subnet6, c->subnet_len};

		return net.len <= 128 && sub.len <= 128 && ip6_net_is_canonical(&net) &&
		       ip6_net_is_canonical(&sub) && ip6_net_contains_net(&net, &sub);
	}
	const struct ip4_net net = {c->network, c->network_len};
	const struct ip4_net sub = {c->subnet, c->subnet_len};

	if ((c->family && c->family != AF_INET) || net.prefix > 32 || sub.prefix > 32 ||
	    !ip4_net_is_canonical(&net) || !ip4_net_is_canonical(&sub))
		return false;
	/* The pod subnet must lie inside the overlay network. */
	return ip4_net_contains_net(&net, &sub);
}

static struct pfx pfx4(uint32_t addr, uint8_t len)
{
	uint32_t a = htonl(addr), m = htonl(ip4_mask(len));
	struct pfx p;

	memset(&p, 0, sizeof(p));
	memcpy(p.addr, &a, 4);
	memcpy(p.mask, &m, 4);
	return p;
}

static struct pfx pfx6(const struct in6_addr *addr, uint8_t len)
{
	struct in6_addr m = ip6_mask(len);
	struct pfx p;

	memcpy(p.addr, addr, 16);
	memcpy(p.mask, &m, 16);
	return p;
}

static int add_expr(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (!e)
		return -ENOMEM;
	nftnl_rule_add_expr(r, e);
	return 0;
}

static bool all_ones(const uint8_t *b, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		if (b[i] != 0xff)
			return false;
	return true;
}

/* reg1 & mask [!=|==] data over len bytes; the bitwise step is left out
 * for a full mask. Values are in the register's byte order. */
static int cmp_masked(struct nftnl_rule *r, const void *mask, const void *data, uint32_t len,
		      bool neq)
{
	static const uint8_t xor [16];
	struct nftnl_expr *e;
	int ret;

	if (!all_ones(mask, len)) {
		e = nftnl_expr_alloc("bitwise");
		if (e) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
			nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
			nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
			nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
			nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xor, len);
		}
		ret = add_expr(r, e);
		if (ret)
			return ret;
	}
	e = nftnl_expr_alloc("cmp");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, neq ? NFT_CMP_NEQ : NFT_CMP_EQ);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return add_expr(r, e);
}

/* ip[6] saddr|daddr [!=] prefix */
static int match_prefix(struct nftnl_rule *r, const struct tx *t, uint32_t off, const struct pfx *p,
			bool neq)
{
	struct nftnl_expr *e;
	int ret;

	e = nftnl_expr_alloc("payload");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, t->alen);
	}
	ret = add_expr(r, e);
	if (ret)
		return ret;
	return cmp_masked(r, p->mask, p->addr, t->alen, neq);
}

/* meta mark & 0x4000 == 0x4000: kube-proxy marks what it wants to masquerade
 * itself; match the bit, not the whole mark. */
static int match_kube_proxy_mark(struct nftnl_rule *r)
{
	const uint32_t mark = KUBE_PROXY_MARK;
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
	return cmp_masked(r, &mark, &mark, sizeof(mark), false);
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

static int put_table(struct tx *x, uint16_t type, uint16_t flags, bool comment)
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
		nlh = nftnl_table_nlmsg_build_hdr(mnl_nlmsg_batch_current(x->b), type, x->proto,
						  flags | NLM_F_ACK, x->seq++);
		nftnl_table_nlmsg_build_payload(nlh, t);
		ret = batch_next(x->b);
	}
	nftnl_table_free(t);
	return ret;
}

static int put_chain(struct tx *x, const char *name, const char *type, uint32_t hook, int prio,
		     const char *comment)
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
		nlh = nftnl_chain_nlmsg_build_hdr(mnl_nlmsg_batch_current(x->b), NFT_MSG_NEWCHAIN,
						  x->proto, NLM_F_CREATE | NLM_F_ACK, x->seq++);
		nftnl_chain_nlmsg_build_payload(nlh, c);
		ret = batch_next(x->b);
	}
	nftnl_chain_free(c);
	return ret;
}

/* One rule: up to two address matches, then a verdict or masquerade. */
struct rule_spec {
	const char *comment;
	bool kube_mark;
	const struct pfx *src, *dst; /* NULL: no match */
	bool src_neq, dst_neq;
	bool masq;
	int verdict;
};

static int put_rule(struct tx *x, const char *chain, const struct rule_spec *s, bool fully_random)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nlmsghdr *nlh;
	int ret;

	if (!r)
		return -ENOMEM;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFT_WEFT_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, x->proto);
	ret = set_comment(r, rule_set_udata, NFTNL_UDATA_RULE_COMMENT, s->comment);
	if (!ret && s->kube_mark)
		ret = match_kube_proxy_mark(r);
	if (!ret && s->src)
		ret = match_prefix(r, x, x->saddr, s->src, s->src_neq);
	if (!ret && s->dst)
		ret = match_prefix(r, x, x->daddr, s->dst, s->dst_neq);
	if (!ret)
		ret = s->masq ? add_masquerade(r, fully_random) : add_verdict(r, s->verdict);
	if (!ret) {
		nlh = nftnl_rule_nlmsg_build_hdr(mnl_nlmsg_batch_current(x->b), NFT_MSG_NEWRULE,
						 x->proto, NLM_F_APPEND | NLM_F_CREATE | NLM_F_ACK,
						 x->seq++);
		nftnl_rule_nlmsg_build_payload(nlh, r);
		ret = batch_next(x->b);
	}
	nftnl_rule_free(r);
	return ret;
}

/* Table created if absent, then deleted, so the delete never fails and the
 * new table starts empty: all in the same transaction. */
static int put_fresh_table(struct tx *x)
{
	int ret;

	ret = put_table(x, NFT_MSG_NEWTABLE, NLM_F_CREATE, false);
	if (!ret)
		ret = put_table(x, NFT_MSG_DELTABLE, 0, false);
	return ret;
}

static int build_replace(struct tx *x, const struct nft_conf *c)
{
	static const struct in6_addr mcast6 = {{{0xff}}}; /* ff00::/8 */
	const struct pfx net =
		is6(c) ? pfx6(&c->network6, c->network_len) : pfx4(c->network, c->network_len);
	const struct pfx sub =
		is6(c) ? pfx6(&c->subnet6, c->subnet_len) : pfx4(c->subnet, c->subnet_len);
	const struct pfx mcast = is6(c) ? pfx6(&mcast6, 8) : pfx4(0xe0000000u, 4); /* 224/4 */
	const struct rule_spec post[] = {
		{.comment = "marked by kube-proxy: it masquerades itself",
		 .kube_mark = true,
		 .verdict = NFT_RETURN},
		{.comment = "pod to pod: keep pod addresses",
		 .src = &sub,
		 .dst = &net,
		 .verdict = NFT_RETURN},
		{.comment = "overlay to local pods: keep pod addresses",
		 .src = &net,
		 .dst = &sub,
		 .verdict = NFT_RETURN},
		{.comment = "outside to local pods: keep source",
		 .src = &net,
		 .src_neq = true,
		 .dst = &sub,
		 .verdict = NFT_RETURN},
		{.comment = "pods leaving the overlay network",
		 .src = &net,
		 .dst = &mcast,
		 .dst_neq = true,
		 .masq = true},
		{.comment = "outside to remote pods",
		 .src = &net,
		 .src_neq = true,
		 .dst = &net,
		 .masq = true},
	};
	const struct rule_spec fwd[] = {
		{.comment = "from the overlay network", .src = &net, .verdict = NF_ACCEPT},
		{.comment = "to the overlay network", .dst = &net, .verdict = NF_ACCEPT},
	};
	int ret;

	ret = put_fresh_table(x);
	if (!ret)
		ret = put_table(x, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL, true);
	if (!ret)
		ret = put_chain(x, "postrouting", "nat", NF_INET_POST_ROUTING, NFT_PRIO_SRCNAT,
				"masquerade pod traffic leaving the overlay network");
	for (size_t i = 0; !ret && i < sizeof(post) / sizeof(post[0]); i++)
		ret = put_rule(x, "postrouting", &post[i], c->fully_random);
	if (!ret)
		ret = put_chain(x, "forward", "filter", NF_INET_FORWARD, NFT_PRIO_FILTER,
				"accept overlay traffic");
	for (size_t i = 0; !ret && i < sizeof(fwd) / sizeof(fwd[0]); i++)
		ret = put_rule(x, "forward", &fwd[i], c->fully_random);
	return ret;
}

/* c NULL: the transaction that deletes table <family> weft. */
static int build(int family, const struct nft_conf *c, uint32_t seq, void *buf, size_t size,
		 size_t *len)
{
	bool v6 = family == AF_INET6;
	struct tx x = {
		.seq = seq,
		.proto = v6 ? NFPROTO_IPV6 : NFPROTO_IPV4,
		.alen = v6 ? 16 : 4,
		.saddr = v6 ? IP6_SADDR_OFF : IP4_SADDR_OFF,
		.daddr = v6 ? IP6_DADDR_OFF : IP4_DADDR_OFF,
	};
	int ret;

	/* Every message is built past the batch limit before it is checked,
	 * so keep one message's worth of slack beyond the limit. */
	if (size < NFT_BATCH_MIN)
		return -EMSGSIZE;
	x.b = mnl_nlmsg_batch_start(buf, size / 2);
	if (!x.b)
		return -ENOMEM;
	nftnl_batch_begin(mnl_nlmsg_batch_current(x.b), x.seq++);
	ret = batch_next(x.b);
	if (!ret)
		ret = c ? build_replace(&x, c) : put_fresh_table(&x);
	if (!ret) {
		nftnl_batch_end(mnl_nlmsg_batch_current(x.b), x.seq++);
		ret = batch_next(x.b);
	}
	if (!ret)
		*len = mnl_nlmsg_batch_size(x.b);
	mnl_nlmsg_batch_stop(x.b);
	return ret;
}

int nft_build_replace(const struct nft_conf *conf, uint32_t seq, void *buf, size_t size,
		      size_t *len)
{
	if (!conf_valid(conf))
		return -EINVAL;
	return build(conf->family, conf, seq, buf, size, len);
}

int nft_build_delete(uint32_t seq, void *buf, size_t size, size_t *len)
{
	return build(AF_INET, NULL, seq, buf, size, len);
}

int nft_build_delete_family(int family, uint32_t seq, void *buf, size_t size, size_t *len)
{
	if (family != AF_INET && family != AF_INET6)
		return -EINVAL;
	return build(family, NULL, seq, buf, size, len);
}

/* Names message idx of the transaction for an error: the kind of
 * message and, for chains and rules, which one. */
static void describe(const void *batch, size_t len, unsigned idx, char *out, size_t size)
{
	const struct nlmsghdr *nlh = batch;
	char name[64] = "";
	unsigned nrule = 0;
	int left = (int)len;

	for (unsigned i = 0; i < idx && nl_msg_ok(nlh, left); i++) {
		if (NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWCHAIN)
			nrule = 0;
		else if (NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWRULE)
			nrule++;
		nlh = mnl_nlmsg_next(nlh, &left);
	}
	if (!nl_msg_ok(nlh, left) || nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN) {
		snprintf(out, size, "transaction");
		return;
	}
	switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
	case NFT_MSG_NEWTABLE:
	case NFT_MSG_DELTABLE: {
		struct nftnl_table *t = nftnl_table_alloc();

		if (t && nftnl_table_nlmsg_parse(nlh, t) == 0 &&
		    nftnl_table_is_set(t, NFTNL_TABLE_NAME))
			snprintf(name, sizeof(name), "%s",
				 nftnl_table_get_str(t, NFTNL_TABLE_NAME));
		nftnl_table_free(t);
		snprintf(out, size, "table %s", name);
		break;
	}
	case NFT_MSG_NEWCHAIN: {
		struct nftnl_chain *c = nftnl_chain_alloc();

		if (c && nftnl_chain_nlmsg_parse(nlh, c) == 0 &&
		    nftnl_chain_is_set(c, NFTNL_CHAIN_NAME))
			snprintf(name, sizeof(name), "%s",
				 nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
		nftnl_chain_free(c);
		snprintf(out, size, "chain %s", name);
		break;
	}
	case NFT_MSG_NEWRULE: {
		struct nftnl_rule *r = nftnl_rule_alloc();

		if (r && nftnl_rule_nlmsg_parse(nlh, r) == 0 &&
		    nftnl_rule_is_set(r, NFTNL_RULE_CHAIN))
			snprintf(name, sizeof(name), "%s", nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
		nftnl_rule_free(r);
		snprintf(out, size, "rule %u of chain %s", nrule + 1, name);
		break;
	}
	default:
		snprintf(out, size, "message %u", idx);
	}
}

/* Fills *e unless it holds a failure already. */
static void err_set(struct nft_err *e, int err, const char *what)
{
	if (!e || e->err)
		return;
	e->err = err;
	snprintf(e->what, sizeof(e->what), "%s", what);
}

struct send_ctx {
	const void *batch;
	size_t len;
	struct nft_err *e;
};

/* The first failure is the one worth reporting: later messages of an
 * aborted transaction often fail only because of it. */
static void on_err(unsigned idx, int err, const char *msg, void *data)
{
	struct send_ctx *c = data;

	if (!c->e || c->e->err)
		return;
	c->e->err = err;
	snprintf(c->e->msg, sizeof(c->e->msg), "%s", msg);
	describe(c->batch, c->len, idx, c->e->what, sizeof(c->e->what));
}

/* Whole messages only, each fitting a batch slot, begin and end at least. */
static bool batch_valid(const void *batch, size_t len)
{
	const struct nlmsghdr *nlh = batch;
	int left = (int)len;
	unsigned n = 0;

	if (len > NFT_BATCH_LIMIT * 2)
		return false;
	for (; nl_msg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left), n++)
		if (nlh->nlmsg_len > NL_MSG_MAX)
			return false;
	return left == 0 && n >= 2;
}

/* Copies each message of the transaction into the batch. */
static int fill(struct nl_batch *b, const void *batch, size_t len)
{
	const struct nlmsghdr *nlh = batch;
	int left = (int)len;

	for (; nl_msg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		uint32_t seq;
		void *room = nl_batch_raw(b, &seq);

		if (!room)
			return -EMSGSIZE;
		memcpy(room, nlh, nlh->nlmsg_len);
	}
	return 0;
}

int nft_send(const void *batch, size_t len, struct nft_err *e)
{
	struct send_ctx c = {batch, len, e};
	struct nl_batch *b = NULL;
	struct nl_sock *s = NULL;
	int ret;

	if (e)
		memset(e, 0, sizeof(*e));
	if (!batch_valid(batch, len)) {
		err_set(e, -EINVAL, "transaction");
		return -EINVAL;
	}
	ret = nl_open_bus(NETLINK_NETFILTER, &s);
	if (!ret)
		ret = nl_batch_new_tx(s, on_err, &c, &b);
	if (!ret) {
		ret = fill(b, batch, len);
		if (ret)
			nl_batch_cancel(b);
		else
			ret = nl_batch_commit(b);
	}
	if (ret)
		err_set(e, ret, "transaction");
	nl_batch_free(b);
	nl_close(s);
	return ret;
}

static int build_and_send(int family, const struct nft_conf *conf, struct nft_err *e)
{
	size_t size = 2 * NFT_BATCH_LIMIT, len;
	void *buf = malloc(size);
	int ret;

	if (!buf) {
		err_set(e, -ENOMEM, "building the transaction");
		return -ENOMEM;
	}
	/* The batch renumbers: seqs are the socket's own. */
	if (conf)
		ret = nft_build_replace(conf, 0, buf, size, &len);
	else
		ret = nft_build_delete_family(family, 0, buf, size, &len);
	if (ret)
		err_set(e, ret, "building the transaction");
	else
		ret = nft_send(buf, len, e);
	free(buf);
	return ret;
}

int nft_apply(const struct nft_conf *conf, struct nft_err *e)
{
	if (e)
		memset(e, 0, sizeof(*e));
	if (!conf_valid(conf)) {
		err_set(e, -EINVAL, "configuration");
		return -EINVAL;
	}
	return build_and_send(conf->family, conf, e);
}

int nft_remove(struct nft_err *e)
{
	return nft_remove_family(AF_INET, e);
}

int nft_remove_family(int family, struct nft_err *e)
{
	if (e)
		memset(e, 0, sizeof(*e));
	if (family != AF_INET && family != AF_INET6) {
		err_set(e, -EINVAL, "configuration");
		return -EINVAL;
	}
	return build_and_send(family, NULL, e);
}
