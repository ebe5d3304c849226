/* Growable arrays. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/vec.h"

int vec_reserve(void **p, size_t *cap, size_t need, size_t elem, size_t min_cap)
{
	size_t ncap = *cap ? *cap : (min_cap ? min_cap : 1);
	void *np;

	if (need <= *cap)
		return 0;
	if (!elem)
		return -EINVAL;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return -ENOMEM;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / elem)
		return -ENOMEM;
	np = realloc(*p, ncap * elem);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}
