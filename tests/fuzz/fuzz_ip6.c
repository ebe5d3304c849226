/* IPv6 text forms and CIDR math. Addresses agree with inet_pton and print
 * back as inet_ntop does; a network prints back as its canonical spelling;
 * the math is checked against its definitions on networks from raw bytes. */
#include <arpa/inet.h>
#include <stdbool.h>

#include "tests/fuzz/fuzz.h"

#include "common/ip6.h"

static void check_text(const char *s)
{
	char buf[IP6_NET_STRLEN], want[INET6_ADDRSTRLEN];
	struct in6_addr a, in, again;
	struct ip6_net n, m;
	bool ok = ip6_parse_addr(s, &a) == 0;

	/* libc decides what an address is (inputs of any length). */
	FUZZ_CHECK(ok == (strlen(s) < IP6_ADDR_STRLEN && inet_pton(AF_INET6, s, &in) == 1));
	if (ok) {
		FUZZ_CHECK(ip6_addr_equal(&a, &in));
		ip6_format_addr(&a, buf);
		FUZZ_CHECK(inet_ntop(AF_INET6, &a, want, sizeof(want)) != NULL);
		FUZZ_CHECK(strcmp(buf, want) == 0);
		FUZZ_CHECK(ip6_parse_addr(buf, &again) == 0 && ip6_addr_equal(&a, &again));
	}
	if (ip6_parse_net(s, &n) == 0) {
		FUZZ_CHECK(n.len <= 128);
		ip6_format_net(&n, buf);
		FUZZ_CHECK(ip6_parse_net(buf, &m) == 0 && ip6_net_equal(&n, &m));
	}
}

static void check_math(const struct ip6_net *n, uint8_t len, uint64_t i)
{
	struct ip6_net c = ip6_net_canonical(n), sn, next;
	struct in6_addr sum;
	uint64_t count, idx;

	FUZZ_CHECK(ip6_net_is_canonical(&c) && ip6_net_contains(&c, &n->addr));
	FUZZ_CHECK(ip6_net_contains_net(&c, &c) && ip6_net_overlaps(&c, n));
	FUZZ_CHECK(ip6_net_equal(&c, n) == ip6_net_is_canonical(n));

	count = ip6_subnet_count(n, len);
	FUZZ_CHECK(count >= 1);
	if (len - n->len < 64) {
		FUZZ_CHECK(count == (uint64_t)1 << (len - n->len));
		FUZZ_CHECK(ip6_subnet_nth(n, len, count, &sn) == -ERANGE);
		i %= count;
	} else {
		FUZZ_CHECK(count == UINT64_MAX);
	}
	FUZZ_CHECK(ip6_subnet_nth(n, len, i, &sn) == 0);
	FUZZ_CHECK(sn.len == len && ip6_net_is_canonical(&sn) && ip6_net_contains_net(&c, &sn));
	FUZZ_CHECK(ip6_subnet_index(n, len, &sn.addr, &idx) == 0 && idx == i);
	FUZZ_CHECK(ip6_subnet_distance(&c.addr, &sn.addr, len) == i);
	FUZZ_CHECK(ip6_subnet_add(&c.addr, len, i, &sum) == 0 && ip6_addr_equal(&sum, &sn.addr));

	next = sn;
	if (ip6_subnet_next(&next)) {
		FUZZ_CHECK(next.len == len && !ip6_net_overlaps(&sn, &next));
		FUZZ_CHECK(ip6_subnet_distance(&sn.addr, &next.addr, len) == 1);
	} else {
		FUZZ_CHECK(ip6_net_equal(&next, &sn));
	}
	/* Usable networks hold usable addresses only. */
	if (ip6_net_usable(&sn))
		FUZZ_CHECK(ip6_addr_usable(&sn.addr));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);

	check_text(s);
	free(s);

	if (size >= 26) {
		struct ip6_net n;
		uint8_t len;
		uint64_t i;

		memcpy(n.addr.s6_addr, data, 16);
		n.len = data[16] % 129;
		len = (uint8_t)(n.len + data[17] % (129 - n.len));
		memcpy(&i, data + 18, sizeof(i));
		check_math(&n, len, i);
	}
	return 0;
}
