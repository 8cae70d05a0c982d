// SPDX-License-Identifier: GPL-2.0
/* KUnit: pointer -> object lookup accepts interior pointers, rejects the rest. */
#include <kunit/test.h>
#include <linux/slab.h>
#include <linux/err.h>
#include <linux/sched.h>
#include <linux/mm.h>
#include "test_heap.h"

static int heap_init(struct kunit *test)
{
	return test_heap_init(test, "kunit-lookup", TEST_HEAP_SECTION);
}

static void heap_exit(struct kunit *test)
{
	test_heap_exit(test, TEST_HEAP_SECTION);
}

static void interior_pointers_resolve(struct kunit *test)
{
	static const size_t sizes[] = { 8, 24, 48, 1408, 32768, 40000 };
	struct spanheap *heap = test->priv;
	unsigned int i;
	size_t off;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		u8 *p = spanheap_alloc(heap, sizes[i], 0);

		FIXTURE_ASSERT_NOT_NULL(test, p);
		for (off = 0; off < sizes[i]; off++) {
			if (spanheap_object_base(heap, p + off, NULL) != p) {
				KUNIT_FAIL(test, "size %zu offset %zu", sizes[i], off);
				break;
			}
		}
		KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), 0);
	}
}

static void foreign_pointers_miss(struct kunit *test)
{
	struct spanheap *heap = test->priv, *other = spanheap_create("kunit-o", 0);
	void *k = kmalloc(32, GFP_KERNEL), *o;
	int local;

	FIXTURE_ASSERT_FALSE(test, IS_ERR(other));
	FIXTURE_ASSERT_NOT_NULL(test, k);
	spanheap_exit(heap);	/* sections of two heaps must not nest */
	spanheap_enter(other);
	o = spanheap_alloc(other, 32, 0);
	spanheap_exit(other);
	spanheap_enter(heap);
	FIXTURE_ASSERT_NOT_NULL(test, o);
	KUNIT_EXPECT_NULL(test, spanheap_object_base(heap, o, NULL));
	KUNIT_EXPECT_PTR_EQ(test, spanheap_object_base(other, o, NULL), o);
	KUNIT_EXPECT_NULL(test, spanheap_object_base(heap, k, NULL));
	KUNIT_EXPECT_NULL(test, spanheap_object_base(heap, &local, NULL));
	KUNIT_EXPECT_NULL(test, spanheap_object_base(heap, NULL, NULL));
	KUNIT_EXPECT_NULL(test, spanheap_object_base(heap, (void *)~0UL, NULL));
	KUNIT_EXPECT_NULL(test, spanheap_object_base(heap, ERR_PTR(-EINVAL), NULL));
	spanheap_exit(heap);	/* no destroy inside a section */
	spanheap_destroy(other);
	spanheap_enter(heap);
	/* other's spans are gone: o now misses everywhere */
	rcu_read_lock();
	KUNIT_EXPECT_NULL(test, shp_pagemap_lookup(o));
	rcu_read_unlock();
	kfree(k);
}

/* Span metadata is never inside a span; a span's tail is not an object. */
static void metadata_and_tail_pointers_miss(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	unsigned int c = shp_size_to_class(48);
	const struct shp_size_class *sc = &shp_size_classes[c];
	u8 *p = spanheap_alloc(heap, 48, 0), *tail;
	struct shp_span *s;

	FIXTURE_ASSERT_NOT_NULL(test, p);
	rcu_read_lock();
	s = shp_pagemap_lookup(p);
	rcu_read_unlock();
	FIXTURE_ASSERT_NOT_NULL(test, s);
	KUNIT_EXPECT_NULL(test, spanheap_object_base(heap, s, NULL));
	KUNIT_EXPECT_NULL(test, spanheap_object_base(heap, shp_alloc_bits(s), NULL));
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, s), -EFAULT);
	FIXTURE_ASSERT_LT(test, sc->nelems * sc->size, PAGE_SIZE << sc->order);
	tail = (u8 *)s->base + sc->nelems * sc->size;
	KUNIT_EXPECT_NULL(test, spanheap_object_base(heap, tail, NULL));
	KUNIT_EXPECT_NE(test, spanheap_free(heap, tail), 0);
	/* An unallocated slot of a live span is not an object either. */
	KUNIT_EXPECT_NULL(test, spanheap_object_base(heap, tail - sc->size, NULL));
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), 0);
}

/* Pointers into spans returned to the page allocator are not ours. */
static void freed_span_pointers_miss(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	unsigned int c = shp_size_to_class(4096), n, i, released = 0;
	void **objs;

	n = (2 + SHP_KEEP_EMPTY_SPANS) * shp_size_classes[c].nelems;
	objs = kunit_kcalloc(test, n, sizeof(*objs), GFP_KERNEL);
	FIXTURE_ASSERT_NOT_NULL(test, objs);
	for (i = 0; i < n; i++) {
		objs[i] = spanheap_alloc(heap, 4096, 0);
		FIXTURE_ASSERT_NOT_NULL(test, objs[i]);
	}
	spanheap_drain(heap);
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_EQ(test, spanheap_free(heap, objs[i]), 0);
	for (i = 0; i < n; i++) {
		KUNIT_EXPECT_NULL(test, spanheap_object_base(heap, objs[i], NULL));
		if (spanheap_free(heap, objs[i]) == -EFAULT)
			released++;
	}
	/* All but the kept spans went back; their objects miss in the pagemap. */
	KUNIT_EXPECT_EQ(test, released, n - SHP_KEEP_EMPTY_SPANS * shp_size_classes[c].nelems);
}

static void never_called(struct spanheap *heap, void *obj, void *ctx)
{
}

/*
 * Issue 7's use-after-free: an object a cycle found dead, looked up
 * before the background sweeper got to its span, must read as dead (the
 * lookup sweeps it, which may release the span under the lookup), and a
 * special operation on it must fail.  The sweeper races every try.
 */
static void dead_objects_read_dead_after_lazy_sweep(struct kunit *test)
{
	static const size_t sizes[] = { 48, 40000, 200000 };
	struct spanheap *heap = test->priv;
	unsigned int i, try, dead = 0, tries = 0;
	int ret;

	spanheap_exit(heap);	/* no section across the cycles below */
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		for (try = 0; try < 40; try++, tries++) {
			void *d;

			spanheap_enter(heap);
			d = spanheap_alloc(heap, sizes[i], SPANHEAP_NOSCAN);
			FIXTURE_ASSERT_NOT_NULL(test, d);	/* still pinned */
			spanheap_exit(heap);
			shp_collect(heap, false);	/* sweeping left to the sweeper */
			spanheap_enter(heap);
			dead += !shp_object_live(heap, d);
			ret = spanheap_set_finalizer(heap, d, never_called, NULL);
			KUNIT_EXPECT_TRUE(test, ret == -EINVAL || ret == -EFAULT);
			spanheap_exit(heap);
		}
	}
	spanheap_enter(heap);
	KUNIT_EXPECT_EQ(test, dead, tries);
}

static struct kunit_case lookup_cases[] = {
	KUNIT_CASE(interior_pointers_resolve),
	KUNIT_CASE(foreign_pointers_miss),
	KUNIT_CASE(metadata_and_tail_pointers_miss),
	KUNIT_CASE(freed_span_pointers_miss),
	KUNIT_CASE(dead_objects_read_dead_after_lazy_sweep),
	{}
};

static struct kunit_suite lookup_suite = {
	.name = "spanheap_lookup",
	.init = heap_init,
	.exit = heap_exit,
	.test_cases = lookup_cases,
};

kunit_test_suites(&lookup_suite);
