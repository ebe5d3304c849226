/* Watch stream framing and message decoding (no I/O here). */
#include "subnet/etcd.h"
#include "subnet/jsonx.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	if (p->len + len > p->cap) {
		size_t cap = p->cap ? p->cap : 4096;
		char *nbuf;

		while (cap < p->len + len)
			cap *= 2;
		nbuf = realloc(p->buf, cap);
		if (!nbuf)
			return -ENOMEM;
		p->buf = nbuf;
		p->cap = cap;
	}
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
