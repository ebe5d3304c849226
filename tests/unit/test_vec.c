/* Growable arrays: growth, failure leaves the array alone, overflow. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "common/vec.h"

static void test_grows_by_doubling(void **state)
{
	int *v = NULL;
	size_t cap = 0;

	(void)state;
	assert_int_equal(VEC_RESERVE(v, cap, 1, 4), 0);
	assert_int_equal(cap, 4);
	assert_int_equal(VEC_RESERVE(v, cap, 4, 4), 0);
	assert_int_equal(cap, 4);
	assert_int_equal(VEC_RESERVE(v, cap, 5, 4), 0);
	assert_int_equal(cap, 8);
	assert_int_equal(VEC_RESERVE(v, cap, 100, 4), 0);
	assert_int_equal(cap, 128);
	v[99] = 7;
	free(v);
}

static void test_overflow_keeps_array(void **state)
{
	uint64_t *v = NULL;
	size_t cap = 0;

	(void)state;
	assert_int_equal(VEC_RESERVE(v, cap, 2, 2), 0);
	v[1] = 42;
	assert_int_equal(VEC_RESERVE(v, cap, SIZE_MAX / 4, 2), -ENOMEM);
	assert_int_equal(VEC_RESERVE(v, cap, SIZE_MAX, 2), -ENOMEM);
	assert_int_equal(cap, 2);
	assert_int_equal(v[1], 42);
	assert_int_equal(vec_reserve((void **)&v, &cap, 3, 0, 2), -EINVAL);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grows_by_doubling),
		cmocka_unit_test(test_overflow_keeps_array),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
