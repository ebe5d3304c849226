/* nftables table ip weft: wire format parsed back without a kernel, then the
 * real transaction in a private network namespace, read back with nft. */
/* labels: root */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "backend/nft.h"

#define BUFSZ 32768

static const struct nft_conf conf = {
	.network = 0x0af40000, /* 10.244.0.0/16 */
	.network_len = 16,
	.subnet = 0x0af40300, /* 10.244.3.0/24 */
	.subnet_len = 24,
	.fully_random = true,
};

/* fd00:10:244::/56 and fd00:10:244:3::/64 */
static const struct nft_conf conf6 = {
	.family = AF_INET6,
	.network6 = {{{0xfd, 0, 0, 0x10, 0x02, 0x44}}},
	.network_len = 56,
	.subnet6 = {{{0xfd, 0, 0, 0x10, 0x02, 0x44, 0, 3}}},
	.subnet_len = 64,
	.fully_random = true,
};

static uint16_t msg_type(const struct nlmsghdr *nlh)
{
	if (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN || nlh->nlmsg_type == NFNL_MSG_BATCH_END)
		return nlh->nlmsg_type;
	return NFNL_MSG_TYPE(nlh->nlmsg_type);
}

static void test_batch_layout(void **state)
{
	const uint16_t want[] = {
		NFNL_MSG_BATCH_BEGIN, NFT_MSG_NEWTABLE, NFT_MSG_DELTABLE,   NFT_MSG_NEWTABLE,
		NFT_MSG_NEWCHAIN,     NFT_MSG_NEWRULE,	NFT_MSG_NEWRULE,    NFT_MSG_NEWRULE,
		NFT_MSG_NEWRULE,      NFT_MSG_NEWRULE,	NFT_MSG_NEWRULE,    NFT_MSG_NEWCHAIN,
		NFT_MSG_NEWRULE,      NFT_MSG_NEWRULE,	NFNL_MSG_BATCH_END,
	};
	char *buf = malloc(BUFSZ);
	const struct nlmsghdr *nlh;
	size_t len = 0, n = 0;
	int left;

	assert_non_null(buf);
	assert_int_equal(nft_build_replace(&conf, 100, buf, BUFSZ, &len), 0);
	assert_true(len > 0 && len < BUFSZ);
	nlh = (const void *)buf;
	left = (int)len;
	while (mnl_nlmsg_ok(nlh, left)) {
		assert_true(n < sizeof(want) / sizeof(want[0]));
		assert_int_equal(msg_type(nlh), want[n]);
		/* consecutive sequence numbers from the one given */
		assert_int_equal(nlh->nlmsg_seq, 100 + n);
		if (n > 0 && want[n] != NFNL_MSG_BATCH_END)
			assert_true(nlh->nlmsg_flags & NLM_F_ACK);
		if (want[n] == NFT_MSG_NEWTABLE || want[n] == NFT_MSG_DELTABLE) {
			struct nftnl_table *t = nftnl_table_alloc();

			assert_int_equal(nftnl_table_nlmsg_parse(nlh, t), 0);
			assert_string_equal(nftnl_table_get_str(t, NFTNL_TABLE_NAME), "weft");
			assert_int_equal(nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY), NFPROTO_IPV4);
			nftnl_table_free(t);
		}
		n++;
		nlh = mnl_nlmsg_next(nlh, &left);
	}
	assert_int_equal(left, 0);
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	free(buf);
}

/* Returns the n-th message of the batch. */
static const struct nlmsghdr *nth_msg(const char *buf, size_t len, unsigned n)
{
	const struct nlmsghdr *nlh = (const void *)buf;
	int left = (int)len;

	while (n-- && mnl_nlmsg_ok(nlh, left))
		nlh = mnl_nlmsg_next(nlh, &left);
	assert_true(mnl_nlmsg_ok(nlh, left));
	return nlh;
}

static void test_chains(void **state)
{
	char *buf = malloc(BUFSZ);
	struct nftnl_chain *c;
	size_t len;

	assert_int_equal(nft_build_replace(&conf, 1, buf, BUFSZ, &len), 0);
	c = nftnl_chain_alloc();
	assert_int_equal(nftnl_chain_nlmsg_parse(nth_msg(buf, len, 4), c), 0);
	assert_string_equal(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), "weft");
	assert_string_equal(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME), "postrouting");
	assert_string_equal(nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE), "nat");
	assert_int_equal(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM), NF_INET_POST_ROUTING);
	assert_int_equal(nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO), 100);
	assert_int_equal(nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY), NF_ACCEPT);
	nftnl_chain_free(c);
	c = nftnl_chain_alloc();
	assert_int_equal(nftnl_chain_nlmsg_parse(nth_msg(buf, len, 11), c), 0);
	assert_string_equal(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME), "forward");
	assert_string_equal(nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE), "filter");
	assert_int_equal(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM), NF_INET_FORWARD);
	assert_int_equal(nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO), 0);
	nftnl_chain_free(c);
	free(buf);
}

/* Expected expression, compared field by field. */
struct want_expr {
	const char *name;
	uint32_t a, b, c; /* payload: base offset len; cmp: op data; meta: key */
	uint32_t mask;	  /* bitwise */
};

static void check_rule(const struct nlmsghdr *nlh, const char *chain, const struct want_expr *want,
		       size_t n)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_expr_iter *it;
	struct nftnl_expr *e;
	size_t i = 0;
	uint32_t dlen;

	assert_int_equal(nftnl_rule_nlmsg_parse(nlh, r), 0);
	assert_string_equal(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), "weft");
	assert_string_equal(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), chain);
	assert_true(nftnl_rule_is_set(r, NFTNL_RULE_USERDATA));
	it = nftnl_expr_iter_create(r);
	while ((e = nftnl_expr_iter_next(it))) {
		const struct want_expr *w = &want[i];
		const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

		assert_true(i < n);
		assert_string_equal(name, w->name);
		if (!strcmp(name, "payload")) {
			assert_int_equal(nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE), w->a);
			assert_int_equal(nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET), w->b);
			assert_int_equal(nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN), w->c);
			assert_int_equal(nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_DREG), NFT_REG_1);
		} else if (!strcmp(name, "bitwise")) {
			const uint32_t *m = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_MASK, &dlen);

			assert_int_equal(dlen, 4);
			assert_int_equal(*m, w->mask);
		} else if (!strcmp(name, "cmp")) {
			const uint32_t *d = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &dlen);

			assert_int_equal(nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP), w->a);
			assert_int_equal(dlen, 4);
			assert_int_equal(*d, w->b);
		} else if (!strcmp(name, "meta")) {
			assert_int_equal(nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY), w->a);
		} else if (!strcmp(name, "immediate")) {
			assert_int_equal(nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG),
					 NFT_REG_VERDICT);
			assert_int_equal((int32_t)nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT),
					 (int32_t)w->a);
		} else if (!strcmp(name, "masq")) {
			uint32_t flags = nftnl_expr_is_set(e, NFTNL_EXPR_MASQ_FLAGS)
						 ? nftnl_expr_get_u32(e, NFTNL_EXPR_MASQ_FLAGS)
						 : 0;
			assert_int_equal(flags, w->a);
		} else {
			fail_msg("unexpected expression %s", name);
		}
		i++;
	}
	assert_int_equal(i, n);
	nftnl_expr_iter_destroy(it);
	nftnl_rule_free(r);
}

#define NH NFT_PAYLOAD_NETWORK_HEADER
#define PAYLOAD(off)                                           \
	{                                                      \
		.name = "payload", .a = NH, .b = (off), .c = 4 \
	}
#define MASK(m)                                \
	{                                      \
		.name = "bitwise", .mask = (m) \
	}
#define CMP(op, d)                                 \
	{                                          \
		.name = "cmp", .a = (op), .b = (d) \
	}
#define META(k)                          \
	{                                \
		.name = "meta", .a = (k) \
	}
#define VERDICT(v)                                      \
	{                                               \
		.name = "immediate", .a = (uint32_t)(v) \
	}
#define MASQ(f)                          \
	{                                \
		.name = "masq", .a = (f) \
	}

static void test_rules(void **state)
{
	char *buf = malloc(BUFSZ);
	size_t len;
	const struct want_expr mark[] = {
		META(NFT_META_MARK),
		MASK(0x4000),
		CMP(NFT_CMP_EQ, 0x4000),
		VERDICT(NFT_RETURN),
	};
	const struct want_expr pod2pod[] = {
		PAYLOAD(12),	     MASK(htonl(0xffffff00)), CMP(NFT_CMP_EQ, htonl(0x0af40300)),
		PAYLOAD(16),	     MASK(htonl(0xffff0000)), CMP(NFT_CMP_EQ, htonl(0x0af40000)),
		VERDICT(NFT_RETURN),
	};
	const struct want_expr to_local[] = {
		PAYLOAD(12),	     MASK(htonl(0xffff0000)), CMP(NFT_CMP_NEQ, htonl(0x0af40000)),
		PAYLOAD(16),	     MASK(htonl(0xffffff00)), CMP(NFT_CMP_EQ, htonl(0x0af40300)),
		VERDICT(NFT_RETURN),
	};
	const struct want_expr leaving[] = {
		PAYLOAD(12),
		MASK(htonl(0xffff0000)),
		CMP(NFT_CMP_EQ, htonl(0x0af40000)),
		PAYLOAD(16),
		MASK(htonl(0xf0000000)),
		CMP(NFT_CMP_NEQ, htonl(0xe0000000)),
		MASQ(NF_NAT_RANGE_PROTO_RANDOM_FULLY),
	};
	const struct want_expr fwd_to[] = {
		PAYLOAD(16),
		MASK(htonl(0xffff0000)),
		CMP(NFT_CMP_EQ, htonl(0x0af40000)),
		VERDICT(NF_ACCEPT),
	};

	assert_int_equal(nft_build_replace(&conf, 1, buf, BUFSZ, &len), 0);
	check_rule(nth_msg(buf, len, 5), "postrouting", mark, 4);
	check_rule(nth_msg(buf, len, 6), "postrouting", pod2pod, 7);
	check_rule(nth_msg(buf, len, 8), "postrouting", to_local, 7);
	check_rule(nth_msg(buf, len, 9), "postrouting", leaving, 7);
	check_rule(nth_msg(buf, len, 13), "forward", fwd_to, 4);
	free(buf);
}

static void test_no_fully_random_and_host_prefix(void **state)
{
	struct nft_conf c = conf;
	char *buf = malloc(BUFSZ);
	size_t len;
	const struct want_expr leaving[] = {
		PAYLOAD(12), MASK(htonl(0xffff0000)), CMP(NFT_CMP_EQ, htonl(0x0af40000)),
		PAYLOAD(16), MASK(htonl(0xf0000000)), CMP(NFT_CMP_NEQ, htonl(0xe0000000)),
		MASQ(0),
	};
	/* a /32 subnet needs no mask */
	const struct want_expr pod2pod[] = {
		PAYLOAD(12),
		CMP(NFT_CMP_EQ, htonl(0x0af40305)),
		PAYLOAD(16),
		MASK(htonl(0xffff0000)),
		CMP(NFT_CMP_EQ, htonl(0x0af40000)),
		VERDICT(NFT_RETURN),
	};

	c.fully_random = false;
	c.subnet = 0x0af40305;
	c.subnet_len = 32;
	assert_int_equal(nft_build_replace(&c, 1, buf, BUFSZ, &len), 0);
	check_rule(nth_msg(buf, len, 9), "postrouting", leaving, 7);
	check_rule(nth_msg(buf, len, 6), "postrouting", pod2pod, 6);
	free(buf);
}

static void test_invalid_conf(void **state)
{
	char *buf = malloc(BUFSZ);
	struct nft_conf c;
	size_t len;

	c = conf;
	c.subnet = 0x0af50300; /* outside the network */
	assert_int_equal(nft_build_replace(&c, 1, buf, BUFSZ, &len), -EINVAL);
	assert_int_equal(nft_apply(&c, NULL), -EINVAL);
	c = conf;
	c.network = 0x0af40001; /* host bits set */
	assert_int_equal(nft_build_replace(&c, 1, buf, BUFSZ, &len), -EINVAL);
	c = conf;
	c.subnet_len = 33;
	assert_int_equal(nft_build_replace(&c, 1, buf, BUFSZ, &len), -EINVAL);
	c = conf;
	c.subnet_len = 8; /* wider than the network */
	c.subnet = 0x0a000000;
	assert_int_equal(nft_build_replace(&c, 1, buf, BUFSZ, &len), -EINVAL);
	assert_int_equal(nft_build_replace(&conf, 1, buf, 4096, &len), -EMSGSIZE);
	assert_int_equal(nft_build_delete(1, buf, 100, &len), -EMSGSIZE);
	assert_int_equal(nft_send(buf, 0, NULL), -EINVAL);
	free(buf);
}

/* ip6 weft: family IPv6 on every message, 16-byte addresses at the
 * IPv6 header's offsets; a subnet outside the network is refused. */
static void test_ip6_wire(void **state)
{
	char *buf = malloc(BUFSZ);
	const struct nlmsghdr *nlh;
	struct nft_conf c = conf6;
	unsigned rules = 0;
	size_t len;
	int left;

	(void)state;
	assert_int_equal(nft_build_replace(&conf6, 1, buf, BUFSZ, &len), 0);
	left = (int)len;
	for (nlh = (void *)buf; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);

		if (msg_type(nlh) == NFNL_MSG_BATCH_BEGIN || msg_type(nlh) == NFNL_MSG_BATCH_END)
			continue;
		assert_int_equal(g->nfgen_family, NFPROTO_IPV6);
		rules += msg_type(nlh) == NFT_MSG_NEWRULE;
	}
	assert_int_equal(rules, 8);
	assert_int_equal(nft_build_delete_family(AF_INET6, 1, buf, BUFSZ, &len), 0);
	assert_int_equal(nft_build_delete_family(AF_PACKET, 1, buf, BUFSZ, &len), -EINVAL);
	c.subnet6.s6_addr[5] = 0x45; /* fd00:10:245:3::/64 */
	assert_int_equal(nft_build_replace(&c, 1, buf, BUFSZ, &len), -EINVAL);
	c = conf6;
	c.network_len = 129;
	assert_int_equal(nft_build_replace(&c, 1, buf, BUFSZ, &len), -EINVAL);
	free(buf);
}

/* Kernel part: runs in a network namespace of its own. */
static int netns_setup(void **state)
{
	if (unshare(CLONE_NEWNET) < 0)
		return -1;
	return 0;
}

static char *run(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	char *out = calloc(1, 65536);
	size_t n = 0;

	assert_non_null(p);
	assert_non_null(out);
	while (n < 65535) {
		size_t r = fread(out + n, 1, 65535 - n, p);

		if (!r)
			break;
		n += r;
	}
	pclose(p);
	return out;
}

static const char golden[] =
	"table ip weft {\n"
	"\tcomment \"weft: pod masquerade and forwarding\"\n"
	"\tchain postrouting {\n"
	"\t\tcomment \"masquerade pod traffic leaving the overlay network\"\n"
	"\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
	"\t\tmeta mark & 0x00004000 == 0x00004000 return comment \"marked by kube-proxy: it masquerades itself\"\n"
	"\t\tip saddr 10.244.3.0/24 ip daddr 10.244.0.0/16 return comment \"pod to pod: keep pod addresses\"\n"
	"\t\tip saddr 10.244.0.0/16 ip daddr 10.244.3.0/24 return comment \"overlay to local pods: keep pod addresses\"\n"
	"\t\tip saddr != 10.244.0.0/16 ip daddr 10.244.3.0/24 return comment \"outside to local pods: keep source\"\n"
	"\t\tip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random comment \"pods leaving the overlay network\"\n"
	"\t\tip saddr != 10.244.0.0/16 ip daddr 10.244.0.0/16 masquerade fully-random comment \"outside to remote pods\"\n"
	"\t}\n"
	"\n"
	"\tchain forward {\n"
	"\t\tcomment \"accept overlay traffic\"\n"
	"\t\ttype filter hook forward priority filter; policy accept;\n"
	"\t\tip saddr 10.244.0.0/16 accept comment \"from the overlay network\"\n"
	"\t\tip daddr 10.244.0.0/16 accept comment \"to the overlay network\"\n"
	"\t}\n"
	"}\n";

static const char golden6[] =
	"table ip6 weft {\n"
	"\tcomment \"weft: pod masquerade and forwarding\"\n"
	"\tchain postrouting {\n"
	"\t\tcomment \"masquerade pod traffic leaving the overlay network\"\n"
	"\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
	"\t\tmeta mark & 0x00004000 == 0x00004000 return comment \"marked by kube-proxy: it masquerades itself\"\n"
	"\t\tip6 saddr fd00:10:244:3::/64 ip6 daddr fd00:10:244::/56 return comment \"pod to pod: keep pod addresses\"\n"
	"\t\tip6 saddr fd00:10:244::/56 ip6 daddr fd00:10:244:3::/64 return comment \"overlay to local pods: keep pod addresses\"\n"
	"\t\tip6 saddr != fd00:10:244::/56 ip6 daddr fd00:10:244:3::/64 return comment \"outside to local pods: keep source\"\n"
	"\t\tip6 saddr fd00:10:244::/56 ip6 daddr != ff00::/8 masquerade fully-random comment \"pods leaving the overlay network\"\n"
	"\t\tip6 saddr != fd00:10:244::/56 ip6 daddr fd00:10:244::/56 masquerade fully-random comment \"outside to remote pods\"\n"
	"\t}\n"
	"\n"
	"\tchain forward {\n"
	"\t\tcomment \"accept overlay traffic\"\n"
	"\t\ttype filter hook forward priority filter; policy accept;\n"
	"\t\tip6 saddr fd00:10:244::/56 accept comment \"from the overlay network\"\n"
	"\t\tip6 daddr fd00:10:244::/56 accept comment \"to the overlay network\"\n"
	"\t}\n"
	"}\n";

/* Both tables side by side; each removed on its own. */
static void test_kernel_apply6(void **state)
{
	char *out;

	(void)state;
	assert_int_equal(nft_apply(&conf, NULL), 0);
	assert_int_equal(nft_apply(&conf6, NULL), 0);
	assert_int_equal(nft_apply(&conf6, NULL), 0);
	out = run("nft list table ip6 weft 2>&1");
	assert_string_equal(out, golden6);
	free(out);
	out = run("nft list table ip weft 2>&1");
	assert_string_equal(out, golden);
	free(out);
	assert_int_equal(nft_remove_family(AF_INET6, NULL), 0);
	out = run("nft list tables");
	assert_string_equal(out, "table ip weft\n");
	free(out);
	assert_int_equal(nft_remove_family(AF_INET6, NULL), 0);
	assert_int_equal(nft_remove(NULL), 0);
	out = run("nft list tables");
	assert_string_equal(out, "");
	free(out);
}

static void test_kernel_apply(void **state)
{
	struct nft_conf c = conf;
	char *out;

	/* A foreign table must survive everything weft does. */
	assert_int_equal(system("nft add table ip other && nft add chain ip other c"), 0);
	assert_int_equal(nft_apply(&conf, NULL), 0);
	out = run("nft list table ip weft 2>&1");
	assert_string_equal(out, golden);
	free(out);

	/* Applying again replaces, never duplicates. */
	assert_int_equal(nft_apply(&conf, NULL), 0);
	out = run("nft list table ip weft 2>&1");
	assert_string_equal(out, golden);
	free(out);

	/* A new subnet replaces the old rules in the same transaction. */
	c.subnet = 0x0af40700;
	assert_int_equal(nft_apply(&c, NULL), 0);
	out = run("nft list table ip weft 2>&1");
	assert_null(strstr(out, "10.244.3.0/24"));
	assert_non_null(strstr(out, "ip saddr 10.244.7.0/24 ip daddr 10.244.0.0/16 return"));
	free(out);
	out = run("nft list ruleset | grep -c '^table'");
	assert_string_equal(out, "2\n");
	free(out);

	assert_int_equal(nft_remove(NULL), 0);
	out = run("nft list tables");
	assert_string_equal(out, "table ip other\n");
	free(out);
	/* Removing what is not there is fine. */
	assert_int_equal(nft_remove(NULL), 0);
	assert_int_equal(system("nft delete table ip other"), 0);
}

/* A transaction the kernel rejects reports its error and changes nothing. */
static void test_kernel_rejects(void **state)
{
	char *buf = malloc(BUFSZ);
	struct nftnl_rule *r;
	struct mnl_nlmsg_batch *b;
	struct nlmsghdr *nlh;
	struct nft_err e;
	char *out;

	assert_int_equal(nft_apply(&conf, NULL), 0);
	/* Rule for a chain that does not exist, after a table delete: the
	 * whole transaction must be rolled back. */
	b = mnl_nlmsg_batch_start(buf, BUFSZ / 2);
	nftnl_batch_begin(mnl_nlmsg_batch_current(b), 1);
	mnl_nlmsg_batch_next(b);
	{
		struct nftnl_table *t = nftnl_table_alloc();

		nftnl_table_set_str(t, NFTNL_TABLE_NAME, "weft");
		nlh = nftnl_table_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), NFT_MSG_DELTABLE,
						  NFPROTO_IPV4, NLM_F_ACK, 2);
		nftnl_table_nlmsg_build_payload(nlh, t);
		nftnl_table_free(t);
		mnl_nlmsg_batch_next(b);
	}
	r = nftnl_rule_alloc();
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, "nosuch");
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, "nosuch");
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_IPV4);
	nlh = nftnl_rule_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), NFT_MSG_NEWRULE, NFPROTO_IPV4,
					 NLM_F_APPEND | NLM_F_CREATE | NLM_F_ACK, 3);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	mnl_nlmsg_batch_next(b);
	nftnl_batch_end(mnl_nlmsg_batch_current(b), 4);
	mnl_nlmsg_batch_next(b);
	assert_int_equal(nft_send(mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b), &e), -ENOENT);
	mnl_nlmsg_batch_stop(b);
	/* The refused message is named; the kernel points at its attribute. */
	assert_int_equal(e.err, -ENOENT);
	assert_string_equal(e.what, "rule 1 of chain nosuch");
	assert_non_null(strstr(e.msg, "bad attribute at offset"));
	out = run("nft list table ip weft 2>&1");
	assert_string_equal(out, golden);
	free(out);
	assert_int_equal(nft_remove(NULL), 0);
	free(buf);
}

/* A message the kernel refuses with extack text: the text reaches the
 * caller, with the message it belongs to, and nothing is changed. */
static void test_kernel_extack_text(void **state)
{
	char *buf = malloc(BUFSZ), name[300];
	struct mnl_nlmsg_batch *b;
	struct nftnl_table *t;
	struct nlmsghdr *nlh;
	struct nft_err e;
	char *out;

	assert_int_equal(nft_apply(&conf, NULL), 0);
	/* Longer than any table name may be: refused by attribute policy. */
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	b = mnl_nlmsg_batch_start(buf, BUFSZ / 2);
	nftnl_batch_begin(mnl_nlmsg_batch_current(b), 1);
	mnl_nlmsg_batch_next(b);
	t = nftnl_table_alloc();
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, "weft");
	nlh = nftnl_table_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), NFT_MSG_DELTABLE,
					  NFPROTO_IPV4, NLM_F_ACK, 2);
	nftnl_table_nlmsg_build_payload(nlh, t);
	mnl_nlmsg_batch_next(b);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
	nlh = nftnl_table_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), NFT_MSG_NEWTABLE,
					  NFPROTO_IPV4, NLM_F_CREATE | NLM_F_ACK, 3);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	mnl_nlmsg_batch_next(b);
	nftnl_batch_end(mnl_nlmsg_batch_current(b), 4);
	mnl_nlmsg_batch_next(b);
	assert_int_equal(nft_send(mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b), &e), -ERANGE);
	mnl_nlmsg_batch_stop(b);
	assert_int_equal(e.err, -ERANGE);
	assert_true(!strncmp(e.what, "table xxx", 9));
	assert_string_equal(e.msg, "Attribute failed policy validation");
	out = run("nft list table ip weft 2>&1");
	assert_string_equal(out, golden);
	free(out);
	assert_int_equal(nft_remove(&e), 0);
	assert_int_equal(e.err, 0);
	free(buf);
}

/* Errors that never reach the kernel are detailed too. */
static void test_local_errors(void **state)
{
	struct nft_conf c = conf;
	struct nft_err e;
	char junk[64] = {0};

	c.subnet_len = 40;
	assert_int_equal(nft_apply(&c, &e), -EINVAL);
	assert_int_equal(e.err, -EINVAL);
	assert_string_equal(e.what, "configuration");
	/* Not whole messages, or a single one: no transaction. */
	assert_int_equal(nft_send(junk, sizeof(junk), &e), -EINVAL);
	assert_string_equal(e.what, "transaction");
	assert_int_equal(nft_send(junk, 0, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest wire[] = {
		cmocka_unit_test(test_batch_layout),
		cmocka_unit_test(test_chains),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_no_fully_random_and_host_prefix),
		cmocka_unit_test(test_invalid_conf),
		cmocka_unit_test(test_local_errors),
		cmocka_unit_test(test_ip6_wire),
	};
	const struct CMUnitTest kernel[] = {
		cmocka_unit_test(test_kernel_apply),
		cmocka_unit_test(test_kernel_apply6),
		cmocka_unit_test(test_kernel_rejects),
		cmocka_unit_test(test_kernel_extack_text),
	};
	int ret;

	ret = cmocka_run_group_tests_name("nft wire format", wire, NULL, NULL);
	ret += cmocka_run_group_tests_name("nft kernel", kernel, netns_setup, NULL);
	return ret;
}
