/* Answers of the etcd v3 gateway to every unary call, and the base64 that
 * carries keys and values. Any body, with any status, gives a response the
 * lease manager can read: an error code and message, or kvs whose decoded
 * bytes are NUL-terminated at their length. */
#include <jansson.h>

#include "tests/fuzz/fuzz.h"

#include "common/util.h"
#include "subnet/etcd_codec.h"

static const enum etcd_op ops[] = {
	ETCD_OP_RANGE, ETCD_OP_PUT,	  ETCD_OP_DELETE, ETCD_OP_TXN,
	ETCD_OP_GRANT, ETCD_OP_KEEPALIVE, ETCD_OP_REVOKE, ETCD_OP_AUTH,
};

static void check_response(enum etcd_op op, long http, const char *body, size_t len)
{
	struct etcd_response r = {0};
	char *token = NULL;
	int ret;

	ret = etcd_parse_response(op, http, body, len, &r, op == ETCD_OP_AUTH ? &token : NULL);
	FUZZ_CHECK(r.http_status == http);
	FUZZ_CHECK(strnlen(r.message, sizeof(r.message)) < sizeof(r.message));
	FUZZ_CHECK(ret == 0 || r.err != 0);
	if (http != 200)
		FUZZ_CHECK(r.err != 0 && r.message[0] != '\0');
	if (r.err)
		FUZZ_CHECK(r.message[0] != '\0');
	FUZZ_CHECK(r.n_kvs == 0 || r.kvs != NULL);
	for (size_t i = 0; i < r.n_kvs; i++) {
		FUZZ_CHECK(r.kvs[i].key && r.kvs[i].key[r.kvs[i].key_len] == '\0');
		FUZZ_CHECK(r.kvs[i].value && r.kvs[i].value[r.kvs[i].value_len] == '\0');
	}
	if (token) {
		FUZZ_CHECK(op == ETCD_OP_AUTH && ret == 0 && token[0] != '\0');
		free(token);
	}
	FUZZ_CHECK(op != ETCD_OP_KEEPALIVE || r.ttl >= 0);
	etcd_response_clear(&r);
}

static void check_b64(const uint8_t *data, size_t size)
{
	char *enc, *dec;
	size_t len;

	enc = etcd_b64_encode(data, size);
	FUZZ_CHECK(enc != NULL && strlen(enc) == (size + 2) / 3 * 4);
	FUZZ_CHECK(etcd_b64_decode(enc, strlen(enc), &dec, &len) == 0);
	FUZZ_CHECK(len == size && memcmp(dec, data, size) == 0 && dec[len] == '\0');
	free(dec);
	free(enc);

	/* Arbitrary text: refused, or decoded to at most 3/4 of its length. */
	if (etcd_b64_decode((const char *)data, size, &dec, &len) == 0) {
		FUZZ_CHECK(size % 4 == 0 && len <= size / 4 * 3 && dec[len] == '\0');
		free(dec);
	}
}

static void check_prefix_end(const uint8_t *data, size_t size)
{
	char *prefix = fuzz_cstr(data, size < 64 ? size : 64), *end;
	size_t n, len;

	FUZZ_CHECK(etcd_prefix_end(prefix, &end, &len) == 0);
	n = strlen(prefix);
	/* Every key that starts with prefix sorts below end ("\0": no end). */
	if (!(len == 1 && end[0] == '\0')) {
		FUZZ_CHECK(len <= n && len > 0);
		FUZZ_CHECK(memcmp(prefix, end, len - 1) == 0);
		FUZZ_CHECK((unsigned char)end[len - 1] == (unsigned char)prefix[len - 1] + 1);
	}
	free(end);
	free(prefix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;

	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		check_response(ops[i], 200, body, size);
	check_response(ETCD_OP_RANGE, 0, NULL, 0);
	check_response(ETCD_OP_TXN, 200, NULL, 0);
	check_response(ETCD_OP_PUT, 400, body, size);
	check_response(ETCD_OP_AUTH, 401, body, size);
	check_response(ETCD_OP_GRANT, 503, body, size);
	check_b64(data, size);
	check_prefix_end(data, size);
	return 0;
}
