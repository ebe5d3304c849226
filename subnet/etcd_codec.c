/* etcd v3 gateway codec: base64, key ranges, unary answers and watch stream
 * framing (jansson only, no I/O), so parsers link without libcurl.
 */
#include "subnet/etcd_codec.h"
#include "subnet/jsonx.h"
#include "common/vec.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char b64_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *etcd_b64_encode(const void *data, size_t len)
{
	const unsigned char *in = data;
	char *out = malloc(4 * ((len + 2) / 3) + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = b64_alpha[(v >> 18) & 63];
		out[o++] = b64_alpha[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64_alpha[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? b64_alpha[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static int b64_val(char ch)
{
	unsigned char c = (unsigned char)ch;

	/* Arithmetic, not a table scan: values of listings run to megabytes. */
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int etcd_b64_decode(const char *s, size_t slen, char **out, size_t *out_len)
{
	char *buf;
	size_t o = 0;
	int ret = -EINVAL;

	if (slen % 4)
		return -EINVAL;
	buf = malloc(slen / 4 * 3 + 1);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < slen; i += 4) {
		int v[4];
		bool last = i + 4 == slen;

		for (int k = 0; k < 4; k++) {
			v[k] = b64_val(s[i + k]);
			if (v[k] < 0 && !(last && k >= 2 && s[i + k] == '='))
				goto err_free;
		}
		if (v[2] < 0 && v[3] >= 0)
			goto err_free;
		buf[o++] = (char)((v[0] << 2) | (v[1] >> 4));
		if (v[2] >= 0)
			buf[o++] = (char)(((v[1] & 15) << 4) | (v[2] >> 2));
		if (v[3] >= 0)
			buf[o++] = (char)(((v[2] & 3) << 6) | v[3]);
	}
	buf[o] = '\0';
	*out = buf;
	if (out_len)
		*out_len = o;
	return 0;

err_free:
	free(buf);
	return ret;
}

int etcd_prefix_end(const char *prefix, char **out, size_t *out_len)
{
	size_t n = strlen(prefix);
	char *end = malloc(n + 1);

	if (!end)
		return -ENOMEM;
	memcpy(end, prefix, n + 1);
	while (n) {
		if ((unsigned char)end[n - 1] < 0xff) {
			end[n - 1]++;
			end[n] = '\0';
			*out = end;
			*out_len = n;
			return 0;
		}
		n--;
	}
	/* Every byte 0xff: "\0" means "every key from prefix on". */
	end[0] = '\0';
	*out = end;
	*out_len = 1;
	return 0;
}

uint64_t etcd_backoff_ms(unsigned attempt, uint64_t base_ms, uint64_t cap_ms, uint32_t rnd)
{
	uint64_t d = base_ms;

	while (attempt-- && d < cap_ms)
		d *= 2;
	if (d > cap_ms)
		d = cap_ms;
	if (d < 2)
		return d;
	return d / 2 + rnd % (d / 2 + 1);
}

void etcd_kv_clear(struct etcd_kv *kv)
{
	if (!kv)
		return;
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

int etcd_parse_kv(const json_t *j, struct etcd_kv *kv)
{
	const char *k, *v;
	int ret;

	memset(kv, 0, sizeof(*kv));
	if (!json_is_object(j))
		return -EPROTO;
	k = json_string_value(json_object_get(j, "key"));
	v = json_string_value(json_object_get(j, "value"));
	if (!k)
		return -EPROTO;
	ret = etcd_b64_decode(k, strlen(k), &kv->key, &kv->key_len);
	if (ret < 0)
		goto err;
	ret = etcd_b64_decode(v ? v : "", v ? strlen(v) : 0, &kv->value, &kv->value_len);
	if (ret < 0)
		goto err;
	kv->create_revision = jsonx_get_i64(j, "create_revision");
	kv->mod_revision = jsonx_get_i64(j, "mod_revision");
	kv->version = jsonx_get_i64(j, "version");
	kv->lease = jsonx_get_i64(j, "lease");
	return 0;

err:
	etcd_kv_clear(kv);
	return ret == -EINVAL ? -EPROTO : ret;
}

void etcd_response_clear(struct etcd_response *r)
{
	for (size_t i = 0; i < r->n_kvs; i++)
		etcd_kv_clear(&r->kvs[i]);
	free(r->kvs);
	memset(r, 0, sizeof(*r));
}

static int parse_kvs(const json_t *arr, struct etcd_response *out)
{
	size_t n = json_array_size(arr);

	if (!n)
		return 0;
	out->kvs = calloc(n, sizeof(*out->kvs));
	if (!out->kvs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int ret = etcd_parse_kv(json_array_get(arr, i), &out->kvs[i]);

		if (ret < 0)
			return ret;
		out->n_kvs = i + 1;
	}
	return 0;
}

static void set_message(struct etcd_response *out, const char *msg, size_t len)
{
	if (len >= sizeof(out->message))
		len = sizeof(out->message) - 1;
	memcpy(out->message, msg, len);
	out->message[len] = '\0';
	/* Plain-text error bodies end with a newline; keep logs on one line. */
	for (char *p = out->message; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

/* With authentication on, etcd answers a request that names no user with
 * 400: its gateway refuses any client certificate carrying a Common Name
 * (it cannot pass the name on), and a request without a token has no user.
 * Both are setup errors that no retry heals. */
static void classify_no_user(long http, struct etcd_response *out)
{
	if (http != 400)
		return;
	if (strstr(out->message, "CommonName of client sending a request against gateway")) {
		out->err = ETCD_EAUTH;
		snprintf(out->message, sizeof(out->message), "%s",
			 "etcd's gateway refuses a client certificate with a Common Name once "
			 "authentication is on; use one without a Common Name together with "
			 "--etcd-username and --etcd-password-file");
	} else if (out->grpc_code == 3 && strstr(out->message, "user name is empty")) {
		out->err = ETCD_EAUTH;
	}
}

static int parse_error(long http, const char *body, size_t len, struct etcd_response *out)
{
	json_t *root = body ? json_loadb(body, len, 0, NULL) : NULL;
	json_t *e = json_object_get(root, "error");
	const char *m = NULL;

	out->err = ETCD_ESERVER;
	if (json_is_string(e)) {
		m = json_string_value(e);
		out->grpc_code = (int)jsonx_get_i64(root, "code");
	} else if (json_is_object(e)) {
		m = json_string_value(json_object_get(e, "message"));
		out->grpc_code = (int)jsonx_get_i64(e, "grpc_code");
	}
	if (m)
		set_message(out, m, strlen(m));
	else if (body && len)
		set_message(out, body, len);
	/* An empty text (or a body starting with NUL) still needs a log line. */
	if (!out->message[0])
		snprintf(out->message, sizeof(out->message), "HTTP status %ld", http);
	/* gRPC Unauthenticated / PermissionDenied. */
	if (out->grpc_code == 16 || out->grpc_code == 7 || http == 401 || http == 403)
		out->err = ETCD_EAUTH;
	classify_no_user(http, out);
	json_decref(root);
	return 0;
}

/* The fields of one successful answer (res: its result object). */
static int parse_result(enum etcd_op op, json_t *res, struct etcd_response *out, char **token)
{
	int ret = 0;

	switch (op) {
	case ETCD_OP_RANGE:
		out->count = jsonx_get_i64(res, "count");
		out->more = json_is_true(json_object_get(res, "more"));
		ret = parse_kvs(json_object_get(res, "kvs"), out);
		break;
	case ETCD_OP_DELETE:
		out->deleted = jsonx_get_i64(res, "deleted");
		break;
	case ETCD_OP_TXN: {
		json_t *r0 = json_array_get(json_object_get(res, "responses"), 0);
		json_t *rr = json_object_get(r0, "response_range");

		/* A failed compare has no "succeeded" field at all. */
		out->succeeded = json_is_true(json_object_get(res, "succeeded"));
		if (!out->succeeded && rr)
			ret = parse_kvs(json_object_get(rr, "kvs"), out);
		out->deleted =
			jsonx_get_i64(json_object_get(r0, "response_delete_range"), "deleted");
		break;
	}
	case ETCD_OP_GRANT: {
		const char *e = json_string_value(json_object_get(res, "error"));

		if (e && *e) {
			out->err = ETCD_ESERVER;
			set_message(out, e, strlen(e));
		}
		out->lease_id = jsonx_get_i64(res, "ID");
		out->ttl = jsonx_get_i64(res, "TTL");
		break;
	}
	case ETCD_OP_KEEPALIVE:
		out->lease_id = jsonx_get_i64(res, "ID");
		out->ttl = jsonx_get_i64(res, "TTL");
		if (out->ttl < 0)
			out->ttl = 0;
		break;
	case ETCD_OP_AUTH: {
		const char *t = json_string_value(json_object_get(res, "token"));

		if (!t || !*t) {
			out->err = ETCD_EPROTO;
			snprintf(out->message, sizeof(out->message), "no token in answer");
			ret = -EPROTO;
		} else if (token) {
			*token = strdup(t);
			if (!*token)
				ret = -ENOMEM;
		}
		break;
	}
	default:
		break;
	}
	return ret;
}

int etcd_parse_response(enum etcd_op op, long http, const char *body, size_t len,
			struct etcd_response *out, char **token)
{
	json_t *root = NULL, *res;
	json_error_t jerr;
	int ret = 0;

	out->http_status = http;
	if (http != 200)
		return parse_error(http, body, len, out);
	if (op == ETCD_OP_KEEPALIVE) {
		/* A stream of one {"result":..} line per request. */
		const char *nl = body ? memchr(body, '\n', len) : NULL;

		if (nl)
			len = nl - body;
	}
	root = body ? json_loadb(body, len, 0, &jerr) : NULL;
	if (!json_is_object(root)) {
		out->err = ETCD_EPROTO;
		snprintf(out->message, sizeof(out->message), "unparsable answer: %s",
			 root ? "not an object" : jerr.text);
		ret = -EPROTO;
		goto out;
	}
	res = root;
	if (op == ETCD_OP_KEEPALIVE) {
		res = json_object_get(root, "result");
		if (!json_is_object(res)) {
			parse_error(http, body, len, out);
			goto out;
		}
	}
	out->revision = jsonx_get_i64(json_object_get(res, "header"), "revision");
	ret = parse_result(op, res, out, token);
	if (ret < 0 && !out->err) {
		out->err = ret == -ENOMEM ? -ENOMEM : ETCD_EPROTO;
		snprintf(out->message, sizeof(out->message), "malformed answer");
	}
out:
	json_decref(root);
	return ret;
}

#define WATCH_LINE_MAX (8u << 20)

void etcd_watch_msg_clear(struct etcd_watch_msg *msg)
{
	struct etcd_event *ev = (struct etcd_event *)msg->events;

	for (size_t i = 0; i < msg->n_events; i++) {
		etcd_kv_clear(ev[i].kv);
		free(ev[i].kv);
	}
	free(ev);
	memset(msg, 0, sizeof(*msg));
}

static int parse_events(const json_t *arr, struct etcd_watch_msg *msg)
{
	struct etcd_event *ev;
	size_t n = json_array_size(arr);
	int ret = 0;

	ev = calloc(n ? n : 1, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	msg->events = ev;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		json_t *type = json_object_get(e, "type");

		/* A PUT carries no type at all (proto3 omits the zero enum). */
		if (!type || (json_is_string(type) && !strcmp(json_string_value(type), "PUT")) ||
		    (json_is_integer(type) && json_integer_value(type) == 0))
			ev[i].type = ETCD_EVENT_PUT;
		else if ((json_is_string(type) && !strcmp(json_string_value(type), "DELETE")) ||
			 (json_is_integer(type) && json_integer_value(type) == 1))
			ev[i].type = ETCD_EVENT_DELETE;
		else
			return -EPROTO;
		ev[i].kv = calloc(1, sizeof(*ev[i].kv));
		if (!ev[i].kv)
			return -ENOMEM;
		msg->n_events = i + 1;
		ret = etcd_parse_kv(json_object_get(e, "kv"), ev[i].kv);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int etcd_watch_parse_line(const char *line, size_t len, struct etcd_watch_msg *msg, char *reason,
			  size_t reason_len)
{
	json_t *root, *res, *err;
	json_error_t jerr;
	int ret = 0;

	memset(msg, 0, sizeof(*msg));
	reason[0] = '\0';
	msg->reason = reason;
	root = json_loadb(line, len, 0, &jerr);
	if (!json_is_object(root)) {
		snprintf(reason, reason_len, "malformed watch message: %s", jerr.text);
		msg->kind = ETCD_WATCH_ERROR;
		ret = -EPROTO;
		goto out;
	}
	res = json_object_get(root, "result");
	if (!json_is_object(res)) {
		const char *m = NULL;

		/* {"error":{"message":..}} in-band, or a unary-style error body. */
		err = json_object_get(root, "error");
		if (json_is_object(err))
			m = json_string_value(json_object_get(err, "message"));
		else if (json_is_string(err))
			m = json_string_value(err);
		snprintf(reason, reason_len, "%s", m ? m : "watch stream error");
		msg->kind = ETCD_WATCH_ERROR;
		goto out;
	}
	msg->revision = jsonx_get_i64(json_object_get(res, "header"), "revision");
	if (json_is_true(json_object_get(res, "canceled"))) {
		const char *r = json_string_value(json_object_get(res, "cancel_reason"));

		msg->compact_revision = jsonx_get_i64(res, "compact_revision");
		msg->kind = msg->compact_revision ? ETCD_WATCH_COMPACTED : ETCD_WATCH_CANCELED;
		snprintf(reason, reason_len, "%s", r ? r : "canceled");
		goto out;
	}
	if (json_is_true(json_object_get(res, "created"))) {
		msg->kind = ETCD_WATCH_CREATED;
		goto out;
	}
	if (json_array_size(json_object_get(res, "events"))) {
		msg->kind = ETCD_WATCH_EVENTS;
		ret = parse_events(json_object_get(res, "events"), msg);
		if (ret < 0) {
			etcd_watch_msg_clear(msg);
			msg->reason = reason;
			msg->kind = ETCD_WATCH_ERROR;
			snprintf(reason, reason_len, "malformed watch event");
		}
		goto out;
	}
	msg->kind = ETCD_WATCH_PROGRESS;
out:
	json_decref(root);
	return ret;
}

void etcd_watch_parser_init(struct etcd_watch_parser *p, etcd_watch_cb cb, void *data)
{
	memset(p, 0, sizeof(*p));
	p->cb = cb;
	p->data = data;
}

static void deliver_line(struct etcd_watch_parser *p, const char *line, size_t len)
{
	struct etcd_watch_msg msg;
	char reason[256];

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (!len)
		return;
	etcd_watch_parse_line(line, len, &msg, reason, sizeof(reason));
	p->cb(p->data, &msg);
	etcd_watch_msg_clear(&msg);
}

int etcd_watch_parser_feed(struct etcd_watch_parser *p, const char *bytes, size_t len)
{
	/* What is buffered holds no '\n' (complete lines left at once), so only
	 * the new bytes are scanned: a long line in many chunks stays linear. */
	size_t start = 0, scan = p->len;

	if (p->len + len > WATCH_LINE_MAX)
		return -E2BIG;
	if (VEC_RESERVE(p->buf, p->cap, p->len + len, 4096) < 0)
		return -ENOMEM;
	memcpy(p->buf + p->len, bytes, len);
	p->len += len;
	for (size_t i = scan; i < p->len; i++) {
		if (p->buf[i] != '\n')
			continue;
		deliver_line(p, p->buf + start, i - start);
		start = i + 1;
	}
	memmove(p->buf, p->buf + start, p->len - start);
	p->len -= start;
	return 0;
}

void etcd_watch_parser_finish(struct etcd_watch_parser *p)
{
	/* A gracefully closed stream ends with an object and no newline. */
	if (p->len)
		deliver_line(p, p->buf, p->len);
	p->len = 0;
}

void etcd_watch_parser_clear(struct etcd_watch_parser *p)
{
	free(p->buf);
	p->buf = NULL;
	p->len = p->cap = 0;
}
