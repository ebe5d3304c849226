/* Growable arrays: one place doubles capacity and checks for overflow. */
#ifndef WEFT_VEC_H
#define WEFT_VEC_H

#include <stddef.h>

/* Makes room for at least need elements of elem bytes in *p (capacity *cap,
 * doubling from min_cap). *p is untouched on failure. 0 or -ENOMEM. */
int vec_reserve(void **p, size_t *cap, size_t need, size_t elem, size_t min_cap);

/* Typed wrapper: VEC_RESERVE(arr, cap, need, 16). */
#define VEC_RESERVE(arr, cap, need, min_cap) \
	vec_reserve((void **)&(arr), &(cap), (need), sizeof(*(arr)), (min_cap))

#endif
