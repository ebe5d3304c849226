/* subnet.env as the CNI plugin reads it on every call: written by weftd or
 * flanneld, or edited by hand. What parses formats to flannel's four lines,
 * and those parse back to the same values, for either family or both. */
#include "tests/fuzz/fuzz.h"

#include "subnet/subnetenv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct subnet_env env, again;
	char err[256], buf[512];
	char *text = fuzz_cstr(data, size);
	int ret, n;

	ret = subnetenv_parse(text, &env, err, sizeof(err));
	FUZZ_CHECK(subnetenv_parse(text, &again, NULL, 0) == ret);
	if (ret) {
		FUZZ_CHECK(ret == -EINVAL && err[0] != '\0');
		goto out;
	}
	FUZZ_CHECK(err[0] == '\0');
	FUZZ_CHECK(env.v6_only ? env.has_v6 : ip4_net_contains_net(&env.network, &env.subnet));
	FUZZ_CHECK(!env.has_v6 || ip6_net_contains_net(&env.network6, &env.subnet6));
	FUZZ_CHECK(env.mtu >= 68 && env.mtu <= 65535);

	n = subnetenv_format(&env, buf, sizeof(buf));
	FUZZ_CHECK(n > 0 && (size_t)n == strlen(buf));
	/* One byte short of the text plus NUL must be refused, not cut. */
	FUZZ_CHECK(subnetenv_format(&env, buf, (size_t)n) == -ENOSPC);
	n = subnetenv_format(&env, buf, sizeof(buf));
	FUZZ_CHECK(subnetenv_parse(buf, &again, err, sizeof(err)) == 0);
	FUZZ_CHECK(env.v6_only == again.v6_only && env.has_v6 == again.has_v6);
	FUZZ_CHECK(env.v6_only || ip4_net_equal(&env.network, &again.network));
	FUZZ_CHECK(env.v6_only || ip4_net_equal(&env.subnet, &again.subnet));
	FUZZ_CHECK(!env.has_v6 || ip6_net_equal(&env.network6, &again.network6));
	FUZZ_CHECK(!env.has_v6 || ip6_net_equal(&env.subnet6, &again.subnet6));
	FUZZ_CHECK(env.mtu == again.mtu && env.ipmasq == again.ipmasq);
out:
	free(text);
	return 0;
}
