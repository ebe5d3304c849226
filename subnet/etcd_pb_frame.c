/* gRPC framing of what etcd sends back: length-prefixed messages cut at
 * arbitrary points by the transport, and the call status in the trailers. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "subnet/etcd_pb.h"

void etcd_pb_reader_init(struct etcd_pb_reader *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
}

void etcd_pb_reader_clear(struct etcd_pb_reader *r)
{
	free(r->msg);
	r->msg = NULL;
	r->hdr_len = r->msg_len = r->msg_have = 0;
}

bool etcd_pb_reader_partial(const struct etcd_pb_reader *r)
{
	return r->hdr_len > 0;
}

/* The prefix is complete: check it and get ready for the body. */
static int start_msg(struct etcd_pb_reader *r)
{
	uint32_t n = (uint32_t)r->hdr[1] << 24 | (uint32_t)r->hdr[2] << 16 |
		     (uint32_t)r->hdr[3] << 8 | r->hdr[4];

	/* Bit 0 is "compressed"; the other flag bits are reserved. */
	if (r->hdr[0] != 0)
		return -EPROTO;
	if (n > r->max)
		return -EMSGSIZE;
	r->msg_len = n;
	r->msg_have = 0;
	return 0;
}

static int deliver(struct etcd_pb_reader *r, const uint8_t *msg, etcd_pb_msg_cb cb, void *data)
{
	int ret = cb(data, msg, r->msg_len);

	free(r->msg);
	r->msg = NULL;
	r->hdr_len = r->msg_len = r->msg_have = 0;
	return ret;
}

static int feed(struct etcd_pb_reader *r, const uint8_t *p, size_t len, etcd_pb_msg_cb cb,
		void *data)
{
	while (len) {
		size_t n;
		int ret;

		if (r->hdr_len < ETCD_PB_PREFIX) {
			n = ETCD_PB_PREFIX - r->hdr_len;
			n = n < len ? n : len;
			memcpy(r->hdr + r->hdr_len, p, n);
			r->hdr_len += n;
			p += n;
			len -= n;
			if (r->hdr_len < ETCD_PB_PREFIX)
				break;
			ret = start_msg(r);
			if (ret < 0)
				return ret;
		}
		/* A whole message in the input needs no copy. */
		if (!r->msg && len >= r->msg_len) {
			n = r->msg_len;
			ret = deliver(r, p, cb, data);
			p += n;
			len -= n;
			if (ret < 0)
				return ret;
			continue;
		}
		if (!r->msg) {
			r->msg = malloc(r->msg_len ? r->msg_len : 1);
			if (!r->msg)
				return -ENOMEM;
		}
		n = r->msg_len - r->msg_have;
		n = n < len ? n : len;
		memcpy(r->msg + r->msg_have, p, n);
		r->msg_have += n;
		p += n;
		len -= n;
		if (r->msg_have == r->msg_len) {
			ret = deliver(r, r->msg, cb, data);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

int etcd_pb_reader_feed(struct etcd_pb_reader *r, const void *bytes, size_t len, etcd_pb_msg_cb cb,
			void *data)
{
	if (r->err)
		return r->err;
	r->err = feed(r, bytes, len, cb, data);
	if (r->err)
		etcd_pb_reader_clear(r);
	return r->err;
}

void etcd_pb_status_init(struct etcd_pb_status *s)
{
	memset(s, 0, sizeof(*s));
	s->status = -1;
}

static bool header_is(const char *line, size_t len, const char *name, const char **val,
		      size_t *vlen)
{
	size_t n = strlen(name);

	if (len <= n || line[n] != ':' || strncasecmp(line, name, n))
		return false;
	line += n + 1;
	len -= n + 1;
	while (len && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
		len--;
	*val = line;
	*vlen = len;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* grpc-message is percent-encoded; control bytes become spaces so that a
 * log line stays one line. */
static void set_message(struct etcd_pb_status *s, const char *v, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 1 < sizeof(s->message); i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == '%' && i + 2 < len && hexval(v[i + 1]) >= 0 && hexval(v[i + 2]) >= 0) {
			c = (unsigned char)(hexval(v[i + 1]) << 4 | hexval(v[i + 2]));
			i += 2;
		}
		s->message[o++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	s->message[o] = '\0';
}

int etcd_pb_status_header(struct etcd_pb_status *s, const char *line, size_t len)
{
	const char *v;
	size_t vlen;
	int code = 0;

	if (header_is(line, len, "grpc-message", &v, &vlen)) {
		set_message(s, v, vlen);
		return 1;
	}
	if (!header_is(line, len, "grpc-status", &v, &vlen))
		return 0;
	/* Codes are 0..16; anything else is not a status we can act on. */
	if (!vlen || vlen > 2)
		return -EPROTO;
	for (size_t i = 0; i < vlen; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EPROTO;
		code = code * 10 + (v[i] - '0');
	}
	if (code > 16)
		return -EPROTO;
	s->status = code;
	return 1;
}

int etcd_pb_status_apply(const struct etcd_pb_status *s, struct etcd_response *out)
{
	if (s->status == 0)
		return out->err;
	out->grpc_code = s->status < 0 ? 0 : s->status;
	if (s->status < 0) {
		out->err = ETCD_EPROTO;
		snprintf(out->message, sizeof(out->message), "call ended without grpc-status");
		return out->err;
	}
	switch (s->status) {
	case 7:	 /* PermissionDenied */
	case 16: /* Unauthenticated */
		out->err = ETCD_EAUTH;
		break;
	case 4: /* DeadlineExceeded */
		out->err = ETCD_ETIMEDOUT;
		break;
	default:
		out->err = ETCD_ESERVER;
		break;
	}
	if (s->message[0])
		snprintf(out->message, sizeof(out->message), "%s", s->message);
	else
		snprintf(out->message, sizeof(out->message), "grpc-status %d", s->status);
	return out->err;
}

struct unary_acc {
	enum etcd_op op;
	struct etcd_response *out;
	unsigned n;
	int ret;
};

static int on_unary_msg(void *data, const uint8_t *msg, size_t len)
{
	struct unary_acc *a = data;

	if (a->n++)
		return -EPROTO;
	a->ret = etcd_pb_parse_response(a->op, msg, len, a->out, NULL);
	return 0;
}

/* The permission error cannot tell a Common Name that names no user from a
 * key outside the user's role: say both. */
static void explain_denied(struct etcd_response *out)
{
	char m[sizeof(out->message)];

	if (out->grpc_code != 7)
		return;
	snprintf(m, sizeof(m), "%s", out->message);
	snprintf(out->message, sizeof(out->message),
		 "%.100s (the client certificate's Common Name names no etcd user, or the "
		 "user's role does not cover the key)",
		 m);
}

int etcd_pb_unary_result(enum etcd_op op, const struct etcd_pb_status *st, const void *body,
			 size_t len, struct etcd_response *out)
{
	struct etcd_pb_reader rd;
	struct unary_acc a = {.op = op, .out = out};
	int ret;

	memset(out, 0, sizeof(*out));
	if (etcd_pb_status_apply(st, out)) {
		explain_denied(out);
		return out->err;
	}
	etcd_pb_reader_init(&rd, len + 1);
	ret = etcd_pb_reader_feed(&rd, body, len, on_unary_msg, &a);
	if (!ret && (a.n != 1 || etcd_pb_reader_partial(&rd)))
		ret = -EPROTO;
	etcd_pb_reader_clear(&rd);
	if (a.ret)
		return out->err;
	if (ret) {
		etcd_response_clear(out);
		memset(out, 0, sizeof(*out));
		out->err = ETCD_EPROTO;
		snprintf(out->message, sizeof(out->message), "%s",
			 a.n ? "more than one answer message" : "no complete answer message");
	}
	return out->err;
}
