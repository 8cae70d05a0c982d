// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the consistency check the other suites rely on must catch each
 * broken invariant.  Every case corrupts one field of a quiescent heap
 * (pacing off, no other task on it), expects -EUCLEAN, and restores it.
 */
#include <kunit/test.h>
#include <linux/slab.h>
#include <linux/err.h>
#include <linux/sched.h>
#include <linux/mm.h>
#include <linux/workqueue.h>
#include "test_heap.h"

static int check_init(struct kunit *test)
{
	return test_heap_init(test, "kunit-check", 0);
}

static void check_exit(struct kunit *test)
{
	test_heap_exit(test, 0);
}

static struct shp_span *span_of(const void *obj)
{
	struct shp_span *s;

	rcu_read_lock();
	s = shp_pagemap_lookup(obj);
	rcu_read_unlock();
	return s;
}

/* Run the check with @field changed by @delta, then put it back. */
#define EXPECT_CAUGHT(test, heap, field, delta) do {			\
	(field) += (delta);						\
	if (shp_heap_check(heap) != -EUCLEAN)				\
		KUNIT_FAIL(test, "%s changed by %ld: not caught",	\
			   #field, (long)(delta));			\
	(field) -= (delta);						\
	KUNIT_EXPECT_EQ(test, shp_heap_check(heap), 0);			\
	} while (0)

/* A central partial span and a cached one: their metadata and bitmaps. */
static void span_corruption_caught(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	unsigned int cl = shp_size_to_class(48);
	struct shp_span *s;
	local_t *allocs;
	unsigned long *alloc, past;
	void *a, *b;

	KUNIT_ASSERT_NE(test, shp_size_classes[cl].nelems % 64, 0);
	spanheap_enter(heap);
	migrate_disable();
	a = spanheap_alloc(heap, 48, 0);
	b = spanheap_alloc(heap, 48, 0);
	migrate_enable();
	spanheap_exit(heap);
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_NOT_NULL(test, b);
	s = span_of(a);
	KUNIT_ASSERT_PTR_EQ(test, span_of(b), s);
	spanheap_drain(heap);
	KUNIT_ASSERT_EQ(test, shp_heap_check(heap), 0);
	KUNIT_ASSERT_EQ(test, s->state, SHP_SPAN_CENTRAL);

	EXPECT_CAUGHT(test, heap, s->spc, 1);		/* wrong class */
	EXPECT_CAUGHT(test, heap, s->bytes, PAGE_SIZE);	/* a page not its own */
	EXPECT_CAUGHT(test, heap, s->nalloc, 1);		/* count off */
	/* A remote free of an object that is not allocated. */
	EXPECT_CAUGHT(test, heap, shp_remote_bits(s)[0], BIT(63));
	/* An allocation bit past the last object. */
	alloc = shp_alloc_bits(s);
	past = BIT(shp_size_classes[cl].nelems % 64);
	EXPECT_CAUGHT(test, heap, alloc[s->nwords - 1], past);
	/* The class's span count. */
	EXPECT_CAUGHT(test, heap, heap->central[s->spc].nspans, 1);
	EXPECT_CAUGHT(test, heap, heap->central[s->spc].nempty, 1);

	/* The same span taken by a CPU cache again. */
	spanheap_enter(heap);
	SECTION_ASSERT_NOT_NULL(test, heap, spanheap_alloc(heap, 48, 0));
	spanheap_exit(heap);
	KUNIT_ASSERT_EQ(test, s->state, SHP_SPAN_CACHED);
	EXPECT_CAUGHT(test, heap, s->owner, 1);		/* not that cache's */
	KUNIT_ASSERT_NE(test, s->alloc_cache, 0);
	EXPECT_CAUGHT(test, heap, s->cache_base, s->elemsize);
	/* A cache's last span must be one of its own, never tiny. */
	{
		struct shp_span *tiny, *last;
		struct shp_cpu_cache *c;
		void *p;

		spanheap_enter(heap);
		p = spanheap_alloc(heap, 8, SPANHEAP_NOSCAN);
		spanheap_exit(heap);
		KUNIT_ASSERT_NOT_NULL(test, p);
		rcu_read_lock();
		tiny = shp_pagemap_lookup(p);	/* live: stays after unlock */
		rcu_read_unlock();
		KUNIT_ASSERT_EQ(test, tiny->state, SHP_SPAN_CACHED);
		c = tiny->owner;		/* the CPU the test ran on then */
		KUNIT_ASSERT_PTR_EQ(test, c->alloc[SHP_TINY_SPC], tiny);
		KUNIT_EXPECT_EQ(test, shp_heap_check(heap), 0);
		last = c->last;
		c->last = tiny;
		KUNIT_EXPECT_EQ(test, shp_heap_check(heap), -EUCLEAN);
		c->last = last;
		KUNIT_EXPECT_EQ(test, shp_heap_check(heap), 0);
	}
	/* Counters against the bitmaps, bytes against the spans. */
	allocs = &per_cpu_ptr(heap->cpu, 0)->allocs;
	local_set(allocs, local_read(allocs) + 1);
	KUNIT_EXPECT_EQ(test, shp_heap_check(heap), -EUCLEAN);
	local_set(allocs, local_read(allocs) - 1);
	KUNIT_EXPECT_EQ(test, shp_heap_check(heap), 0);
	atomic_long_add(PAGE_SIZE, &heap->reserved);
	KUNIT_EXPECT_EQ(test, shp_heap_check(heap), -EUCLEAN);
	atomic_long_sub(PAGE_SIZE, &heap->reserved);
	KUNIT_EXPECT_EQ(test, shp_heap_check(heap), 0);
}

static void nop_fin(struct spanheap *heap, void *obj, void *ctx)
{
}

static void nop_cleanup(struct spanheap *heap, void *arg)
{
}

/* Each object's summary bits, and the span's counts, against its records. */
static void specials_corruption_caught(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	unsigned int ia, ib, ifree;
	struct shp_span *s;
	void *a, *b;

	spanheap_enter(heap);
	migrate_disable();
	a = spanheap_alloc(heap, 48, 0);
	b = spanheap_alloc(heap, 48, 0);
	migrate_enable();
	SECTION_ASSERT_NOT_NULL(test, heap, a);
	SECTION_ASSERT_NOT_NULL(test, heap, b);
	SECTION_ASSERT_EQ(test, heap, spanheap_set_finalizer(heap, a, nop_fin, NULL), 0);
	SECTION_ASSERT_GT(test, heap, spanheap_add_cleanup(heap, b, nop_cleanup, NULL), 0);
	spanheap_exit(heap);
	s = span_of(a);
	KUNIT_ASSERT_PTR_EQ(test, span_of(b), s);
	ia = (a - (void *)s->base) / s->elemsize;
	ib = (b - (void *)s->base) / s->elemsize;
	ifree = s->nelems - 1;
	KUNIT_ASSERT_FALSE(test, test_bit(ifree, shp_alloc_bits(s)));
	KUNIT_ASSERT_EQ(test, shp_heap_check(heap), 0);

	/* A special bit without records, and records without their bit. */
	EXPECT_CAUGHT(test, heap, shp_special_bits(s)[ifree / 64], BIT(ifree % 64));
	EXPECT_CAUGHT(test, heap, shp_special_bits(s)[ib / 64], -BIT(ib % 64));
	/* A finalizer bit without a finalizer, and a finalizer without it. */
	EXPECT_CAUGHT(test, heap, shp_fin_bits(s)[ib / 64], BIT(ib % 64));
	EXPECT_CAUGHT(test, heap, shp_fin_bits(s)[ia / 64], -BIT(ia % 64));
	/* The span's counts. */
	EXPECT_CAUGHT(test, heap, s->nspecials, 1);
	EXPECT_CAUGHT(test, heap, s->nkind[SPANHEAP_SPECIAL_CLEANUP], 1);
	EXPECT_CAUGHT(test, heap, s->nkind[SPANHEAP_SPECIAL_FINALIZER], -1);
}

/* Full and large spans. */
static void full_and_large_corruption_caught(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	unsigned int cl = shp_size_to_class(4096), n = shp_size_classes[cl].nelems, i;
	struct shp_span *s, *large;
	void *obj = NULL, *big;

	spanheap_enter(heap);
	migrate_disable();
	for (i = 0; i < n; i++) {
		obj = spanheap_alloc(heap, 4096, SPANHEAP_NOSCAN);
		PINNED_ASSERT_NOT_NULL(test, heap, obj);
	}
	migrate_enable();
	big = spanheap_alloc(heap, 40000, 0);
	spanheap_exit(heap);
	KUNIT_ASSERT_NOT_NULL(test, big);
	s = span_of(obj);
	large = span_of(big);
	KUNIT_ASSERT_NOT_NULL(test, s);
	KUNIT_ASSERT_NOT_NULL(test, large);
	spanheap_drain(heap);
	KUNIT_ASSERT_EQ(test, s->nalloc, n);	/* on the full list */
	KUNIT_ASSERT_EQ(test, shp_heap_check(heap), 0);

	EXPECT_CAUGHT(test, heap, s->nalloc, -1);
	EXPECT_CAUGHT(test, heap, large->state, SHP_SPAN_CENTRAL - SHP_SPAN_LARGE);
	EXPECT_CAUGHT(test, heap, heap->nlarge, 1);
	/* The page heap the large span's run comes from. */
	EXPECT_CAUGHT(test, heap, large->run->npages, 1);
	EXPECT_CAUGHT(test, heap, large->run->arena->nfree, 1);
	EXPECT_CAUGHT(test, heap, large->run->arena->edge[large->run->npages]->first, 1);
	EXPECT_CAUGHT(test, heap, heap->pages.idle_bytes, PAGE_SIZE);
	EXPECT_CAUGHT(test, heap, heap->pages.narenas, 1);
	EXPECT_CAUGHT(test, heap, heap->pages.nonempty, 1);
}

/* Spans a cycle left unswept are checked on their own list. */
static void unswept_corruption_caught(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	void *root = NULL;
	struct shp_span *s;

	KUNIT_ASSERT_EQ(test, spanheap_root_add(heap, &root), 0);
	spanheap_enter(heap);
	root = spanheap_alloc(heap, 64, 0);
	spanheap_exit(heap);
	KUNIT_ASSERT_NOT_NULL(test, root);
	s = span_of(root);
	test_collect_unswept(heap);
	KUNIT_ASSERT_NE(test, READ_ONCE(s->sweepgen), heap->sweepgen);

	KUNIT_EXPECT_EQ(test, shp_heap_check(heap), 0);
	EXPECT_CAUGHT(test, heap, s->nalloc, 1);
	shp_finish_sweep(heap);
	KUNIT_EXPECT_EQ(test, shp_heap_check(heap), 0);
	KUNIT_EXPECT_EQ(test, spanheap_root_remove(heap, &root), 0);
}

static struct kunit_case check_cases[] = {
	KUNIT_CASE(span_corruption_caught),
	KUNIT_CASE(specials_corruption_caught),
	KUNIT_CASE(full_and_large_corruption_caught),
	KUNIT_CASE(unswept_corruption_caught),
	{}
};

static struct kunit_suite check_suite = {
	.name = "spanheap_check",
	.init = check_init,
	.exit = check_exit,
	.test_cases = check_cases,
};

kunit_test_suites(&check_suite);
