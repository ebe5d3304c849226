/* The lease layer's key-value interface (kv.h) over the etcd client. */
#ifndef WEFT_KV_ETCD_H
#define WEFT_KV_ETCD_H

#include "subnet/kv.h"

struct etcd_client;

/* The client must outlive the store; kv->ops->free(kv->ctx) frees it. */
int kv_etcd_new(struct etcd_client *c, struct kv *out);

#endif
