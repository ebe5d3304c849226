/* Underlay detection on the loopback interface (present in every netns,
 * read only): by name, by address, a --public-ip override, and errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../daemon/underlay.c"

#define LOOPBACK 0x7f000001u

static void test_by_name(void **state)
{
	struct underlay u;
	char err[256] = "";

	assert_int_equal(underlay_detect("lo", NULL, &u, err, sizeof(err)), 0);
	assert_string_equal(u.iface, "lo");
	assert_int_equal(u.public_ip, LOOPBACK);
	assert_int_equal(u.net.addr, 0x7f000000u);
	assert_int_equal(u.net.prefix, 8);
	assert_true(u.ifindex > 0);
	assert_true(u.mtu >= 1280);
}

static void test_by_address(void **state)
{
	struct underlay u;
	char err[256] = "";

	assert_int_equal(underlay_detect("127.0.0.1", NULL, &u, err, sizeof(err)), 0);
	assert_string_equal(u.iface, "lo");
	assert_int_equal(u.public_ip, LOOPBACK);
	assert_int_equal(u.net.prefix, 8);
}

/* An address the interface does not hold: used as given, no on-link net. */
static void test_public_ip_override(void **state)
{
	struct underlay u;
	char err[256] = "";

	assert_int_equal(underlay_detect("lo", "198.18.0.9", &u, err, sizeof(err)), 0);
	assert_string_equal(u.iface, "lo");
	assert_int_equal(u.public_ip, 0xc6120009u);
	assert_int_equal(u.net.prefix, 0);
	/* and one it does hold: its network */
	assert_int_equal(underlay_detect(NULL, "127.0.0.1", &u, err, sizeof(err)), 0);
	assert_string_equal(u.iface, "lo");
	assert_int_equal(u.net.prefix, 8);
}

static void test_errors(void **state)
{
	struct underlay u = {.mtu = 7};
	char err[256] = "";

	assert_int_equal(underlay_detect("nosuchif0", NULL, &u, err, sizeof(err)), -ENODEV);
	assert_non_null(strstr(err, "--iface nosuchif0"));
	assert_int_equal(underlay_detect("198.18.255.254", NULL, &u, err, sizeof(err)), -ENODEV);
	assert_non_null(strstr(err, "no interface has this address"));
	/* nothing half-filled */
	assert_int_equal(u.mtu, 7);
}

static void test_ipv6(void **state)
{
	struct underlay u = {0};
	char err[256] = "", ifn[IF_NAMESIZE];
	struct in6_addr a, want;
	unsigned scope, flags;

	/* /proc/net/if_inet6 lines: address, index, length, scope, flags, name. */
	assert_int_equal(
		underlay_inet6_line("20010db8001800000000000000000003 02 40 00 80     eth0\n", &a,
				    ifn, &scope, &flags),
		0);
	assert_int_equal(ip6_parse_addr("2001:db8:18::3", &want), 0);
	assert_true(ip6_addr_equal(&a, &want));
	assert_string_equal(ifn, "eth0");
	assert_int_equal(scope, 0);
	assert_int_equal(flags, 0x80);
	assert_int_equal(underlay_inet6_line("2001 02 40 00 80 eth0", &a, ifn, &scope, &flags),
			 -EINVAL);
	assert_int_equal(underlay_inet6_line("2001:db8:18:0000000000000000003 02 40 00 80 eth0", &a,
					     ifn, &scope, &flags),
			 -EINVAL);
	/* --public-ipv6 wins; loopback's ::1 is never a public address. */
	assert_int_equal(underlay_detect("lo", NULL, &u, err, sizeof(err)), 0);
	underlay_detect_ipv6(NULL, &u);
	assert_false(u.has_public_ipv6);
	underlay_detect_ipv6("2001:db8:18::9", &u);
	assert_true(u.has_public_ipv6);
	assert_int_equal(ip6_parse_addr("2001:db8:18::9", &want), 0);
	assert_true(ip6_addr_equal(&u.public_ipv6, &want));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_by_name),
		cmocka_unit_test(test_by_address),
		cmocka_unit_test(test_public_ip_override),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_ipv6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
