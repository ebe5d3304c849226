/* Built-in conflist and template checks (jansson). */
#include "daemon/conflist.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define DEFAULT_SUBNET_FILE "/run/weft/subnet.env"

static const char *const versions[] = {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};

static bool version_ok(const char *v)
{
	for (size_t i = 0; i < ARRAY_SIZE(versions); i++)
		if (!strcmp(v, versions[i]))
			return true;
	return false;
}

/* The plugin also names its store directory after it: same rule. */
static bool name_ok(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-'))
			return false;
	return true;
}

int conflist_build(const char *version, const char *subnet_file, char **out)
{
	json_t *root;
	char *text;
	int ret = 0;

	if (!version_ok(version))
		return -EINVAL;
	/* portmap serves hostPort; flannel's stock list chains it the same way. */
	root = json_pack("{s:s, s:s, s:[{s:s, s:s}, {s:s, s:{s:b}}]}", "name", "weft", "cniVersion",
			 version, "plugins", "type", "weft", "subnetFile", subnet_file, "type",
			 "portmap", "capabilities", "portMappings", 1);
	if (!root)
		return -ENOMEM;
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text)
		return -ENOMEM;
	/* Files end in a newline; json_dumps leaves it out. */
	if (asprintf(out, "%s\n", text) < 0) {
		*out = NULL;
		ret = -ENOMEM;
	}
	free(text);
	return ret;
}

static int check_versions(json_t *root, char *err, size_t errlen)
{
	json_t *v = json_object_get(root, "cniVersion"), *vs, *e;
	size_t i;

	if (!json_is_string(v))
		return err_fail(err, errlen, "\"cniVersion\" missing or not a string");
	if (!version_ok(json_string_value(v)))
		return err_fail(
			err, errlen,
			"\"cniVersion\" \"%s\" is not one weft speaks (0.3.0, 0.3.1, 0.4.0, "
			"1.0.0, 1.1.0)",
			json_string_value(v));
	vs = json_object_get(root, "cniVersions");
	if (!vs)
		return 0;
	if (!json_is_array(vs))
		return err_fail(err, errlen, "\"cniVersions\" is not an array");
	json_array_foreach(vs, i, e)
	{
		if (!json_is_string(e) || !version_ok(json_string_value(e)))
			return err_fail(err, errlen,
					"\"cniVersions\"[%zu] is not a version weft speaks", i);
	}
	return 0;
}

/* plugins[]: objects with a type; exactly one of them weft. */
static int check_plugins(json_t *root, char *subnet_file, size_t sf_len, char *err, size_t errlen)
{
	json_t *plugins = json_object_get(root, "plugins"), *p, *t, *f;
	json_t *weft = NULL;
	size_t i;

	if (!json_is_array(plugins) || !json_array_size(plugins))
		return err_fail(err, errlen, "\"plugins\" missing, not an array or empty");
	json_array_foreach(plugins, i, p)
	{
		t = json_object_get(p, "type");
		if (!json_is_object(p) || !json_is_string(t) || !json_string_length(t))
			return err_fail(err, errlen,
					"plugins[%zu] is not an object with a \"type\"", i);
		if (strcmp(json_string_value(t), "weft"))
			continue;
		if (weft)
			return err_fail(err, errlen, "more than one weft plugin in \"plugins\"");
		weft = p;
	}
	if (!weft)
		return err_fail(err, errlen, "no plugin of type \"weft\" in \"plugins\"");
	f = json_object_get(weft, "subnetFile");
	if (f && (!json_is_string(f) || !json_string_length(f)))
		return err_fail(err, errlen, "the weft plugin's \"subnetFile\" is not a path");
	if (subnet_file &&
	    str_copy(subnet_file, sf_len, f ? json_string_value(f) : DEFAULT_SUBNET_FILE) < 0)
		return err_fail(err, errlen, "the weft plugin's \"subnetFile\" is too long");
	return 0;
}

int conflist_check(const char *text, size_t len, char *subnet_file, size_t sf_len, char *err,
		   size_t errlen)
{
	json_error_t jerr;
	json_t *root, *name;
	int ret;

	if (len > CONFLIST_MAX)
		return err_fail(err, errlen, "larger than %u bytes", CONFLIST_MAX);
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return err_fail(err, errlen, "not valid JSON: line %d: %s", jerr.line, jerr.text);
	if (!json_is_object(root)) {
		ret = err_fail(err, errlen, "not a JSON object");
		goto cleanup;
	}
	name = json_object_get(root, "name");
	if (!json_is_string(name) || !name_ok(json_string_value(name))) {
		ret = err_fail(err, errlen,
			       "\"name\" missing or not letters, digits, '_', '.' and '-' "
			       "starting with a letter or digit");
		goto cleanup;
	}
	ret = check_versions(root, err, errlen);
	if (!ret)
		ret = check_plugins(root, subnet_file, sf_len, err, errlen);
cleanup:
	json_decref(root);
	return ret;
}
