/* jansson helpers for the JSON weft reads from others: flannel-written
 * values (Go's decoder rules) and etcd's gateway (int64 as strings). */
#ifndef WEFT_JSONX_H
#define WEFT_JSONX_H

#include <stdint.h>

#include <jansson.h>

/* Go's decoder matches keys case-insensitively and the last duplicate wins;
 * jansson iterates in insertion order, so the last match is kept. A JSON
 * null reads as absent (Go leaves the field at its default). */
json_t *jsonx_get_ci(json_t *obj, const char *key);

/* etcd's gateway encodes int64 as strings and omits zero fields: a string or
 * an integer member, 0 when absent. */
int64_t jsonx_get_i64(const json_t *obj, const char *name);

#endif
