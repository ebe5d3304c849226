#include "subnet/jsonx.h"

#include <stdlib.h>
#include <strings.h>

json_t *jsonx_get_ci(json_t *obj, const char *key)
{
	const char *k;
	json_t *v, *found = NULL;

	json_object_foreach(obj, k, v)
	{
		if (strcasecmp(k, key) == 0)
			found = v;
	}
	return json_is_null(found) ? NULL : found;
}

int64_t jsonx_get_i64(const json_t *obj, const char *name)
{
	json_t *v = json_object_get(obj, name);

	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	if (json_is_integer(v))
		return json_integer_value(v);
	return 0;
}
