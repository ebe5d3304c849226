/* IPv4 text forms and CIDR math. The parsers accept exactly one spelling
 * per value, so formatting what they accept gives back the input; the math
 * is checked against its definitions on networks built from raw bytes,
 * and addresses against inet_pton. */
#include <arpa/inet.h>
#include <stdbool.h>

#include "tests/fuzz/fuzz.h"

#include "common/ip4.h"

static void check_text(const char *s)
{
	char buf[IP4_NET_STRLEN];
	struct in_addr in;
	struct ip4_net n;
	uint32_t a;
	bool ok = ip4_parse_addr(s, &a) == 0;

	/* libc's strict parser agrees on what a dotted quad is. */
	FUZZ_CHECK(ok == (inet_pton(AF_INET, s, &in) == 1));
	if (ok) {
		FUZZ_CHECK(a == ntohl(in.s_addr));
		ip4_format_addr(a, buf);
		FUZZ_CHECK(strcmp(buf, s) == 0);
	}
	if (ip4_parse_net(s, &n) == 0) {
		FUZZ_CHECK(n.prefix <= 32);
		ip4_format_net(&n, buf);
		FUZZ_CHECK(strcmp(buf, s) == 0);
	}
}

static void check_math(const struct ip4_net *n, uint8_t len, uint64_t i)
{
	struct ip4_net c = ip4_net_canonical(n), sn, next;
	uint64_t count, idx;

	FUZZ_CHECK(ip4_net_is_canonical(&c));
	FUZZ_CHECK(ip4_net_contains(&c, n->addr));
	FUZZ_CHECK(ip4_net_contains(n, ip4_net_first(n)) &&
		   ip4_net_contains(n, ip4_net_broadcast(n)));
	FUZZ_CHECK(ip4_net_size(n) == (uint64_t)ip4_net_broadcast(n) - ip4_net_first(n) + 1);
	FUZZ_CHECK(ip4_net_contains_net(&c, &c) && ip4_net_overlaps(&c, n));
	FUZZ_CHECK(ip4_net_equal(&c, n) == ip4_net_is_canonical(n));

	count = ip4_subnet_count(n, len);
	FUZZ_CHECK(count == (uint64_t)1 << (len - n->prefix));
	FUZZ_CHECK(ip4_subnet_nth(n, len, count, &sn) == -ERANGE);
	i %= count;
	FUZZ_CHECK(ip4_subnet_nth(n, len, i, &sn) == 0);
	FUZZ_CHECK(sn.prefix == len && ip4_net_is_canonical(&sn));
	FUZZ_CHECK(ip4_net_contains_net(&c, &sn));
	FUZZ_CHECK(ip4_net_contains_net(&sn, &c) == (len == n->prefix));
	FUZZ_CHECK(ip4_subnet_index(n, len, sn.addr, &idx) == 0 && idx == i);
	FUZZ_CHECK(ip4_net_size(&sn) * count == ip4_net_size(n));

	next = sn;
	if (ip4_subnet_next(&next)) {
		FUZZ_CHECK(next.prefix == len && next.addr == ip4_net_broadcast(&sn) + 1);
		FUZZ_CHECK(!ip4_net_overlaps(&sn, &next));
	} else {
		FUZZ_CHECK(ip4_net_broadcast(&sn) == UINT32_MAX && ip4_net_equal(&next, &sn));
	}
	/* An address outside or off the grid has no index. */
	if (len < 32)
		FUZZ_CHECK(ip4_subnet_index(n, len, sn.addr + 1, &idx) == -EINVAL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);

	check_text(s);
	free(s);

	if (size >= 14) {
		struct ip4_net n;
		uint8_t len;
		uint64_t i;

		n.addr = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
			 (uint32_t)data[2] << 8 | data[3];
		n.prefix = data[4] % 33;
		len = (uint8_t)(n.prefix + data[5] % (33 - n.prefix));
		memcpy(&i, data + 6, sizeof(i));
		check_math(&n, len, i);
	}
	return 0;
}
