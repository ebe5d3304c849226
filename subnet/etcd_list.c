/* Paginated prefix listing (see etcd_list.h). */
#include "subnet/etcd_list.h"
#include "subnet/etcd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Compactions in a row before giving up (the owner retries later). */
#define RESTARTS_MAX 5

struct etcd_list {
	struct etcd_client *c;
	char *key, *end; /* prefix and its range_end */
	size_t key_len, end_len;
	char *next; /* first key of the next page */
	size_t next_len;
	int64_t rev; /* pinned revision, 0 before the first page */
	unsigned limit, restarts_in_row;
	bool running, probing, fresh;
	etcd_list_page_cb page;
	etcd_list_done_cb done;
	void *data;
	struct etcd_list_stats st;
	char skipped[128];
};

/* The range of one page (or of the keys-only probe). */
static struct etcd_pb_range page_range(const char *key, size_t key_len, const char *end,
				       size_t end_len, int64_t rev, unsigned limit, bool keys_only)
{
	return (struct etcd_pb_range){
		.key = {.data = key, .len = key_len},
		.range_end = {.data = end, .len = end_len},
		.limit = limit,
		.revision = rev,
		.keys_only = keys_only,
	};
}

char *etcd_range_body(const char *key, size_t key_len, const char *end, size_t end_len, int64_t rev,
		      unsigned limit, bool keys_only)
{
	struct etcd_request rq = {
		.op = ETCD_OP_RANGE,
		.range = page_range(key, key_len, end, end_len, rev, limit, keys_only),
	};
	const char *path;

	return etcd_req_json(&rq, &path);
}

int etcd_key_after(const char *key, size_t key_len, char **out, size_t *out_len)
{
	char *k = malloc(key_len + 2);

	if (!k)
		return -ENOMEM;
	memcpy(k, key, key_len);
	k[key_len] = '\0';
	k[key_len + 1] = '\0';
	*out = k;
	*out_len = key_len + 1;
	return 0;
}

unsigned etcd_list_next_limit(unsigned limit, size_t page_bytes, unsigned n_keys, bool too_big)
{
	size_t fit;

	if (too_big)
		return limit > 8 ? limit / 8 : 1;
	if (!n_keys)
		return limit ? limit : 1;
	/* Aim at half the cap with the last page's key size, at most doubling. */
	fit = ETCD_LIST_PAGE_MAX / 2 / (page_bytes / n_keys + 1);
	if (fit > (size_t)limit * 2)
		fit = (size_t)limit * 2;
	if (fit > ETCD_LIST_LIMIT_MAX)
		fit = ETCD_LIST_LIMIT_MAX;
	return fit ? (unsigned)fit : 1;
}

bool etcd_list_revision_gone(const struct etcd_response *r)
{
	/* gRPC OutOfRange: "required revision has been compacted" or "is a
	 * future revision" (a member behind the one that served page 1). */
	return r->err == ETCD_ESERVER && r->grpc_code == 11;
}

int etcd_list_new(struct etcd_client *c, const char *prefix, etcd_list_page_cb page,
		  etcd_list_done_cb done, void *data, struct etcd_list **out)
{
	struct etcd_list *l = calloc(1, sizeof(*l));
	int ret;

	if (!l)
		return -ENOMEM;
	l->c = c;
	l->page = page;
	l->done = done;
	l->data = data;
	l->key_len = strlen(prefix);
	l->key = strdup(prefix);
	ret = l->key ? etcd_prefix_end(prefix, &l->end, &l->end_len) : -ENOMEM;
	if (ret < 0) {
		etcd_list_free(l);
		return ret;
	}
	*out = l;
	return 0;
}

void etcd_list_free(struct etcd_list *l)
{
	if (!l)
		return;
	free(l->key);
	free(l->end);
	free(l->next);
	free(l);
}

bool etcd_list_running(const struct etcd_list *l)
{
	return l->running;
}

void etcd_list_get_stats(const struct etcd_list *l, struct etcd_list_stats *st)
{
	*st = l->st;
}

const char *etcd_list_skipped_key(const struct etcd_list *l)
{
	return l->skipped;
}

static void on_page(void *data, const struct etcd_response *r);

static int fetch(struct etcd_list *l)
{
	struct etcd_pb_range r = page_range(l->next, l->next_len, l->end, l->end_len, l->rev,
					    l->probing ? 1 : l->limit, l->probing);

	return etcd_range(l->c, &r, l->probing ? ETCD_LIST_PROBE_MAX : ETCD_LIST_PAGE_MAX, on_page,
			  l);
}

static int set_next(struct etcd_list *l, const char *key, size_t len, bool after)
{
	char *k;
	size_t n;

	if (after) {
		if (etcd_key_after(key, len, &k, &n) < 0)
			return -ENOMEM;
	} else {
		k = malloc(len + 1);
		if (!k)
			return -ENOMEM;
		memcpy(k, key, len);
		k[len] = '\0';
		n = len;
	}
	free(l->next);
	l->next = k;
	l->next_len = n;
	return 0;
}

/* From the first page on, at the current revision. */
static int restart(struct etcd_list *l)
{
	l->rev = 0;
	l->probing = false;
	l->fresh = true;
	l->limit = ETCD_LIST_LIMIT_INIT;
	if (set_next(l, l->key, l->key_len, false) < 0)
		return -ENOMEM;
	return fetch(l);
}

int etcd_list_start(struct etcd_list *l)
{
	int ret;

	if (l->running)
		return -EBUSY;
	l->restarts_in_row = 0;
	ret = restart(l);
	if (!ret)
		l->running = true;
	return ret;
}

static void finish(struct etcd_list *l, const struct etcd_response *err)
{
	l->running = false;
	l->done(l->data, err, err ? 0 : l->rev);
}

static void fail_start(struct etcd_list *l, int ret)
{
	struct etcd_response r = {.err = ret};

	snprintf(r.message, sizeof(r.message), "cannot request the next page: %s", strerror(-ret));
	finish(l, &r);
}

static size_t page_bytes(const struct etcd_response *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_kvs; i++)
		n += r->kvs[i].key_len + r->kvs[i].value_len;
	return n / 3 * 4; /* base64 on the wire */
}

/* The answer was too large even for one key: learn which (keys only). */
static void skip_probed(struct etcd_list *l, const struct etcd_response *r)
{
	const struct etcd_kv *kv = &r->kvs[0];

	l->st.skipped++;
	snprintf(l->skipped, sizeof(l->skipped), "%.*s", (int)kv->key_len, kv->key);
	/* Logged as text: any byte of a hostile key stays printable. */
	for (char *p = l->skipped; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
}

/* A page must end at or after where it started, or the listing could go
 * round in circles. */
static bool key_advances(const struct etcd_list *l, const struct etcd_kv *last)
{
	size_t n = last->key_len < l->next_len ? last->key_len : l->next_len;
	int c = memcmp(last->key, l->next, n);

	return c > 0 || (c == 0 && last->key_len >= l->next_len);
}

static void on_page(void *data, const struct etcd_response *r)
{
	struct etcd_list *l = data;
	bool fresh = l->fresh, probe = l->probing;
	int ret;

	if (r->err == ETCD_ETOOBIG && !probe) {
		l->st.shrinks++;
		if (l->limit == 1)
			l->probing = true;
		l->limit = etcd_list_next_limit(l->limit, 0, 0, true);
		ret = fetch(l);
		goto out;
	}
	if (l->rev && etcd_list_revision_gone(r) && l->restarts_in_row < RESTARTS_MAX) {
		l->st.restarts++;
		l->restarts_in_row++;
		ret = restart(l);
		goto out;
	}
	if (r->err) {
		finish(l, r);
		return;
	}
	if (!l->rev)
		l->rev = r->revision;
	if (probe && r->n_kvs)
		skip_probed(l, r);
	else if (!probe)
		l->st.pages++;
	l->probing = false;
	l->fresh = false;
	/* A probe answer has keys only: the owner just hears "nothing new". */
	l->page(l->data, probe ? NULL : r->kvs, probe ? 0 : r->n_kvs, fresh);
	if (!r->more || !r->n_kvs) {
		finish(l, NULL);
		return;
	}
	if (!key_advances(l, &r->kvs[r->n_kvs - 1])) {
		struct etcd_response bad = {.err = ETCD_EPROTO};

		snprintf(bad.message, sizeof(bad.message), "listing page does not advance");
		finish(l, &bad);
		return;
	}
	l->limit = etcd_list_next_limit(l->limit, page_bytes(r), (unsigned)r->n_kvs, false);
	ret = set_next(l, r->kvs[r->n_kvs - 1].key, r->kvs[r->n_kvs - 1].key_len, true);
	if (!ret)
		ret = fetch(l);
out:
	if (ret < 0)
		fail_start(l, ret);
}
