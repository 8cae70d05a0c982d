/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace KUnit: the subset of <kunit/test.h> the spanheap suites use,
 * so the same *_kunit.c files run here (printing KTAP) and in the kernel.
 */
#ifndef _SHIM_KUNIT_TEST_H
#define _SHIM_KUNIT_TEST_H

#include <shim.h>
#include <setjmp.h>

enum kunit_status { KUNIT_SUCCESS, KUNIT_FAILURE, KUNIT_SKIPPED };

struct kunit_resource_node;

struct kunit {
	const char *name;
	void *priv;
	enum kunit_status status;
	char status_comment[256];
	jmp_buf abort;
	struct kunit_resource_node *resources;
};

struct kunit_case {
	void (*run_case)(struct kunit *test);
	const char *name;
};

struct kunit_suite {
	const char name[256];
	int (*suite_init)(struct kunit_suite *suite);
	void (*suite_exit)(struct kunit_suite *suite);
	int (*init)(struct kunit *test);
	void (*exit)(struct kunit *test);
	struct kunit_case *test_cases;
};

#define KUNIT_CASE(fn)		{ .run_case = fn, .name = #fn }

void shim_kunit_register(struct kunit_suite **suites, int n);
#define kunit_test_suites(...)						\
	static struct kunit_suite *__shim_suites[] = { __VA_ARGS__ };	\
	__attribute__((constructor)) static void __shim_register(void)	\
	{								\
		shim_kunit_register(__shim_suites,			\
				    ARRAY_SIZE(__shim_suites));		\
	}
#define kunit_test_suite(s)	kunit_test_suites(&s)

void *kunit_kmalloc(struct kunit *test, size_t size, gfp_t gfp);
static inline void *kunit_kzalloc(struct kunit *test, size_t size, gfp_t gfp)
{
	return kunit_kmalloc(test, size, gfp | __GFP_ZERO);
}
static inline void *kunit_kmalloc_array(struct kunit *test, size_t n, size_t size, gfp_t gfp)
{
	return kunit_kmalloc(test, n * size, gfp);
}
static inline void *kunit_kcalloc(struct kunit *test, size_t n, size_t size, gfp_t gfp)
{
	return kunit_kzalloc(test, n * size, gfp);
}

void shim_kunit_fail(struct kunit *test, const char *file, int line,
		     const char *fmt, ...) __printf(4, 5);
void __attribute__((noreturn)) shim_kunit_abort(struct kunit *test);

#define kunit_info(test, fmt, ...)	printf("    # %s: " fmt, (test)->name, ##__VA_ARGS__)
#define kunit_err(test, fmt, ...)	printf("    # %s: " fmt, (test)->name, ##__VA_ARGS__)
#define kunit_log(lvl, test, fmt, ...)	kunit_info(test, fmt, ##__VA_ARGS__)

#define kunit_mark_skipped(test, fmt, ...) do {				\
	(test)->status = KUNIT_SKIPPED;					\
	snprintf((test)->status_comment, sizeof((test)->status_comment),\
		 fmt, ##__VA_ARGS__);					\
	} while (0)
#define kunit_skip(test, fmt, ...) do {					\
	kunit_mark_skipped(test, fmt, ##__VA_ARGS__);			\
	shim_kunit_abort(test);						\
	} while (0)

#define KUNIT_FAIL(test, fmt, ...)					\
	shim_kunit_fail(test, __FILE__, __LINE__, fmt, ##__VA_ARGS__)

#define __SHIM_BINARY(test, abort, l, op, r, fmt, cast) do {		\
	typeof(l) __l = (l);						\
	typeof(r) __r = (r);						\
	if (!(__l op __r)) {						\
		shim_kunit_fail(test, __FILE__, __LINE__,		\
			"Expected %s %s %s, but\n        %s == " fmt	\
			"\n        %s == " fmt, #l, #op, #r,		\
			#l, (cast)__l, #r, (cast)__r);			\
		if (abort)						\
			shim_kunit_abort(test);				\
	}								\
	} while (0)
#define __SHIM_INT(t, a, l, op, r)	__SHIM_BINARY(t, a, l, op, r, "%lld", long long)
#define __SHIM_PTR(t, a, l, op, r)	__SHIM_BINARY(t, a, l, op, r, "%p", const void *)
#define __SHIM_TRUE(t, a, c, want) do {					\
	bool __v = (c);							\
	if (__v != (want)) {						\
		shim_kunit_fail(t, __FILE__, __LINE__,			\
			"Expected %s to be %s", #c, (want) ? "true" : "false"); \
		if (a)							\
			shim_kunit_abort(t);				\
	}								\
	} while (0)
#define __SHIM_NULL(t, a, p, want) do {					\
	const void *__p = (p);						\
	if ((__p == NULL) != (want)) {					\
		shim_kunit_fail(t, __FILE__, __LINE__,			\
			"Expected %s %s NULL, but is %p", #p,		\
			(want) ? "==" : "!=", __p);			\
		if (a)							\
			shim_kunit_abort(t);				\
	}								\
	} while (0)
#define __SHIM_NOT_ERR_OR_NULL(t, a, p) do {				\
	const void *__p = (p);						\
	if (IS_ERR_OR_NULL(__p)) {					\
		shim_kunit_fail(t, __FILE__, __LINE__,			\
			"Expected %s is not error or NULL, but is %p", #p, __p); \
		if (a)							\
			shim_kunit_abort(t);				\
	}								\
	} while (0)

#define KUNIT_EXPECT_TRUE(t, c)		__SHIM_TRUE(t, 0, c, true)
#define KUNIT_EXPECT_FALSE(t, c)	__SHIM_TRUE(t, 0, c, false)
#define KUNIT_EXPECT_EQ(t, l, r)	__SHIM_INT(t, 0, l, ==, r)
#define KUNIT_EXPECT_NE(t, l, r)	__SHIM_INT(t, 0, l, !=, r)
#define KUNIT_EXPECT_LT(t, l, r)	__SHIM_INT(t, 0, l, <, r)
#define KUNIT_EXPECT_LE(t, l, r)	__SHIM_INT(t, 0, l, <=, r)
#define KUNIT_EXPECT_GT(t, l, r)	__SHIM_INT(t, 0, l, >, r)
#define KUNIT_EXPECT_GE(t, l, r)	__SHIM_INT(t, 0, l, >=, r)
#define KUNIT_EXPECT_PTR_EQ(t, l, r)	__SHIM_PTR(t, 0, l, ==, r)
#define KUNIT_EXPECT_PTR_NE(t, l, r)	__SHIM_PTR(t, 0, l, !=, r)
#define KUNIT_EXPECT_NULL(t, p)		__SHIM_NULL(t, 0, p, true)
#define KUNIT_EXPECT_NOT_NULL(t, p)	__SHIM_NULL(t, 0, p, false)
#define KUNIT_EXPECT_NOT_ERR_OR_NULL(t, p) __SHIM_NOT_ERR_OR_NULL(t, 0, p)
/* The _MSG forms: the message is not printed (the line number is). */
#define KUNIT_EXPECT_EQ_MSG(t, l, r, ...)	KUNIT_EXPECT_EQ(t, l, r)
#define KUNIT_EXPECT_LT_MSG(t, l, r, ...)	KUNIT_EXPECT_LT(t, l, r)
#define KUNIT_EXPECT_GT_MSG(t, l, r, ...)	KUNIT_EXPECT_GT(t, l, r)
#define KUNIT_EXPECT_PTR_EQ_MSG(t, l, r, ...)	KUNIT_EXPECT_PTR_EQ(t, l, r)
#define KUNIT_EXPECT_NOT_NULL_MSG(t, p, ...)	KUNIT_EXPECT_NOT_NULL(t, p)
#define KUNIT_ASSERT_TRUE(t, c)		__SHIM_TRUE(t, 1, c, true)
#define KUNIT_ASSERT_FALSE(t, c)	__SHIM_TRUE(t, 1, c, false)
#define KUNIT_ASSERT_EQ(t, l, r)	__SHIM_INT(t, 1, l, ==, r)
#define KUNIT_ASSERT_NE(t, l, r)	__SHIM_INT(t, 1, l, !=, r)
#define KUNIT_ASSERT_LT(t, l, r)	__SHIM_INT(t, 1, l, <, r)
#define KUNIT_ASSERT_LE(t, l, r)	__SHIM_INT(t, 1, l, <=, r)
#define KUNIT_ASSERT_GT(t, l, r)	__SHIM_INT(t, 1, l, >, r)
#define KUNIT_ASSERT_GE(t, l, r)	__SHIM_INT(t, 1, l, >=, r)
#define KUNIT_ASSERT_PTR_EQ(t, l, r)	__SHIM_PTR(t, 1, l, ==, r)
#define KUNIT_ASSERT_NULL(t, p)		__SHIM_NULL(t, 1, p, true)
#define KUNIT_ASSERT_NOT_NULL(t, p)	__SHIM_NULL(t, 1, p, false)
#define KUNIT_ASSERT_NOT_ERR_OR_NULL(t, p) __SHIM_NOT_ERR_OR_NULL(t, 1, p)
#define KUNIT_ASSERT_FAILURE(t, fmt, ...) do {				\
	KUNIT_FAIL(t, fmt, ##__VA_ARGS__);				\
	shim_kunit_abort(t);						\
	} while (0)

#endif /* _SHIM_KUNIT_TEST_H */
