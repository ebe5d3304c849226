/* --cni-conf-template: an operator's conflist, written verbatim for the
 * runtime. Accepted lists are JSON objects with a name, a version weft
 * speaks and exactly one weft plugin; refusals say why. */
#include "tests/fuzz/fuzz.h"

#include <jansson.h>

#include "daemon/conflist.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256] = "", sf[4096] = "";
	json_t *root, *plugins, *p;
	size_t i, wefts = 0;
	int ret;

	ret = conflist_check((const char *)data, size, sf, sizeof(sf), err, sizeof(err));
	if (ret) {
		FUZZ_CHECK(ret == -EINVAL && err[0] != '\0');
		return 0;
	}
	FUZZ_CHECK(sf[0]);
	root = json_loadb((const char *)data, size, 0, NULL);
	FUZZ_CHECK(json_is_object(root));
	FUZZ_CHECK(name_ok(json_string_value(json_object_get(root, "name"))));
	FUZZ_CHECK(version_ok(json_string_value(json_object_get(root, "cniVersion"))));
	plugins = json_object_get(root, "plugins");
	FUZZ_CHECK(json_array_size(plugins) > 0);
	json_array_foreach(plugins, i, p)
	{
		const char *t = json_string_value(json_object_get(p, "type"));

		FUZZ_CHECK(t && t[0]);
		wefts += !strcmp(t, "weft");
	}
	FUZZ_CHECK(wefts == 1);
	json_decref(root);
	return 0;
}
