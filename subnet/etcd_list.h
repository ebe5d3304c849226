/* Paginated listing of a prefix: bounded memory and answer size whatever
 * etcd holds.
 *
 * Pages are ranges of at most `limit` keys, each answer capped at
 * ETCD_LIST_PAGE_MAX bytes; the first page fixes the revision R and every
 * later page reads at R, continuing after the last key seen, so the pages
 * add up to one consistent listing. An answer over the cap shrinks the page
 * and retries; a single key whose value alone is over the cap is looked up
 * with keys_only and skipped (counted, and named for logs). When R is compacted (or is a future
 * revision on another member) mid-way, the listing restarts at the current
 * revision and the page callback is told to forget what it got.
 */
#ifndef WEFT_ETCD_LIST_H
#define WEFT_ETCD_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct etcd_client;
struct etcd_kv;
struct etcd_response;
struct etcd_list;

#define ETCD_LIST_PAGE_MAX (1u << 20)
/* The keys-only lookup of a key to skip: a key itself may be as long as a
 * request (1.5 MiB by default); beyond this the listing fails. */
#define ETCD_LIST_PROBE_MAX  (4u << 20)
#define ETCD_LIST_LIMIT_INIT 64u
#define ETCD_LIST_LIMIT_MAX  1024u

/* restart: forget every kv of earlier pages (a new listing began). */
typedef void (*etcd_list_page_cb)(void *data, const struct etcd_kv *kvs, size_t n, bool restart);
/* err NULL: complete at revision. Otherwise the listing stopped. */
typedef void (*etcd_list_done_cb)(void *data, const struct etcd_response *err, int64_t revision);

struct etcd_list_stats {
	uint64_t pages;	   /* pages received */
	uint64_t shrinks;  /* answers over the cap, page made smaller */
	uint64_t skipped;  /* keys whose value alone is over the cap */
	uint64_t restarts; /* revision compacted mid-way */
};

/* Callbacks run from the client's event loop. Free the lister only where
 * the loop will not run the client again before it is freed too, or when
 * idle. */
int etcd_list_new(struct etcd_client *c, const char *prefix, etcd_list_page_cb page,
		  etcd_list_done_cb done, void *data, struct etcd_list **out);
void etcd_list_free(struct etcd_list *l);
/* 0, -EBUSY while a listing runs, or -errno (no callback then). */
int etcd_list_start(struct etcd_list *l);
bool etcd_list_running(const struct etcd_list *l);
void etcd_list_get_stats(const struct etcd_list *l, struct etcd_list_stats *st);
/* The last key skipped as too large ("" if none), for logs. */
const char *etcd_list_skipped_key(const struct etcd_list *l);

/* Codec and policy, exposed for tests. */
/* The gateway body of a page: {"key","range_end","limit"[,"revision"][,"keys_only"]};
 * rev 0 reads the current revision. NULL on ENOMEM. */
char *etcd_range_body(const char *key, size_t key_len, const char *end, size_t end_len, int64_t rev,
		      unsigned limit, bool keys_only);
/* The smallest key after key: key + "\0". */
int etcd_key_after(const char *key, size_t key_len, char **out, size_t *out_len);
/* The next page's limit: an eighth after an answer over the cap, else what
 * fills half the cap at the last page's bytes per key (at most double);
 * never 0 nor above ETCD_LIST_LIMIT_MAX. */
unsigned etcd_list_next_limit(unsigned limit, size_t page_bytes, unsigned n_keys, bool too_big);
/* The range error that means "read again at the current revision". */
bool etcd_list_revision_gone(const struct etcd_response *r);

#endif
