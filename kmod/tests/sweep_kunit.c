// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: lazy sweeping.  After a cycle whose sweep is left to the
 * background sweeper, a free, a lookup or a record operation sweeps the
 * span it touches first, and sweeping may release the span under it.
 * To hold the sweep back, the cycle queues a no-op in the sweeper's
 * place (see test_collect_unswept()).
 */
#include <kunit/test.h>
#include <linux/slab.h>
#include <linux/err.h>
#include <linux/sched.h>
#include <linux/workqueue.h>
#include "test_heap.h"

static int sweep_init(struct kunit *test)
{
	return test_heap_init(test, "kunit-sweep", 0);
}

static void sweep_exit(struct kunit *test)
{
	test_heap_exit(test, 0);
}

static bool span_unswept(struct spanheap *heap, const void *obj)
{
	struct shp_span *s;
	bool unswept;

	rcu_read_lock();
	s = shp_pagemap_lookup(obj);
	unswept = s && READ_ONCE(s->state) != SHP_SPAN_DEAD &&
		  READ_ONCE(s->sweepgen) != READ_ONCE(heap->sweepgen);
	rcu_read_unlock();
	return unswept;
}

static struct shp_span *span_of(const void *obj)
{
	struct shp_span *s;

	rcu_read_lock();
	s = shp_pagemap_lookup(obj);
	rcu_read_unlock();
	return s;
}

/*
 * Unreachable objects freed explicitly before their span is swept: the
 * free sweeps the span, finds the object already gone (-EINVAL), and a
 * span left empty is kept once per class and released beyond that while
 * the heap is over its goal.  Large objects likewise; reachable ones are
 * swept and then freed normally.
 */
static void free_sweeps_first(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	unsigned int cl = shp_size_to_class(1024), per = shp_size_classes[cl].nelems;
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	void **small = kunit_kcalloc(test, 2 * per, sizeof(*small), GFP_KERNEL);
	void *roots[2] = { NULL, NULL }, *dead, *other = NULL;
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, st);
	KUNIT_ASSERT_NOT_NULL(test, small);
	for (i = 0; i < ARRAY_SIZE(roots); i++)
		KUNIT_ASSERT_EQ(test, spanheap_root_add(heap, &roots[i]), 0);
	spanheap_enter(heap);
	for (i = 0; i < 2 * per; i++) {
		small[i] = spanheap_alloc(heap, 1024, 0);
		SECTION_ASSERT_NOT_NULL(test, heap, small[i]);
	}
	/* More than the pacer's minimum goal, unreachable. */
	dead = spanheap_alloc(heap, SHP_GC_MIN_HEAP + (1 << 20), SPANHEAP_NOSCAN);
	roots[0] = spanheap_alloc(heap, 40000, 0);
	roots[1] = spanheap_alloc(heap, 40000, 0);
	spanheap_exit(heap);
	KUNIT_ASSERT_NOT_NULL(test, dead);
	KUNIT_ASSERT_NOT_NULL(test, roots[0]);
	KUNIT_ASSERT_NOT_NULL(test, roots[1]);
	for (i = 1; i < 2 * per && !other; i++)
		if (span_of(small[i]) != span_of(small[0]))
			other = small[i];
	KUNIT_ASSERT_NOT_NULL(test, other);
	test_collect_unswept(heap);
	KUNIT_ASSERT_TRUE(test, span_unswept(heap, small[0]));
	KUNIT_ASSERT_TRUE(test, span_unswept(heap, other));
	KUNIT_ASSERT_TRUE(test, span_unswept(heap, dead));

	spanheap_enter(heap);
	/* The first empty span of the class is kept ... */
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, small[0]), -EINVAL);
	KUNIT_EXPECT_NOT_NULL(test, span_of(small[0]));
	/* ... the second is released by the sweep the free ran. */
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, other), -EINVAL);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, other), -EFAULT);
	/* A lookup sweeps a reachable large object: it stays. */
	KUNIT_EXPECT_TRUE(test, span_unswept(heap, roots[0]));
	KUNIT_EXPECT_TRUE(test, shp_object_live(heap, roots[0]));
	KUNIT_EXPECT_FALSE(test, span_unswept(heap, roots[0]));
	/* An unreachable large object is released by the free's sweep. */
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, dead), -EINVAL);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, dead), -EFAULT);
	/* A reachable one is swept, then freed. */
	KUNIT_EXPECT_TRUE(test, span_unswept(heap, roots[1]));
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, roots[1]), 0);
	roots[1] = NULL;
	spanheap_exit(heap);

	shp_finish_sweep(heap);
	spanheap_drain(heap);
	KUNIT_EXPECT_EQ(test, shp_heap_check(heap), 0);
	spanheap_read_stats(heap, st);
	KUNIT_EXPECT_EQ(test, st->objects_in_use, 1);
	KUNIT_EXPECT_EQ(test, st->bad_frees, 5);
	KUNIT_EXPECT_EQ(test, st->classes[0].spans, 1);
	for (i = 0; i < ARRAY_SIZE(roots); i++)
		KUNIT_EXPECT_EQ(test, spanheap_root_remove(heap, &roots[i]), 0);
}

static void count_fin(struct spanheap *heap, void *obj, void *arg)
{
	atomic_inc(arg);
}

/*
 * At the heap's limit a cycle still queues what it found dead: the queue
 * block is charged past the limit, as the mark stack is, so finalizable
 * garbage does not wait for a cycle that happens to find room.
 */
static void finalizer_queued_at_limit(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	atomic_t *ran = kunit_kzalloc(test, sizeof(*ran), GFP_KERNEL);
	void *obj;

	KUNIT_ASSERT_NOT_NULL(test, st);
	KUNIT_ASSERT_NOT_NULL(test, ran);
	spanheap_enter(heap);
	obj = spanheap_alloc(heap, 32, 0);
	SECTION_ASSERT_NOT_NULL(test, heap, obj);
	SECTION_ASSERT_EQ(test, heap, spanheap_set_finalizer(heap, obj, count_fin, ran), 0);
	spanheap_exit(heap);
	spanheap_read_stats(heap, st);
	spanheap_set_limit(heap, st->bytes_reserved + st->bytes_meta);

	spanheap_collect(heap);
	spanheap_wait_finalizers(heap);
	KUNIT_EXPECT_EQ(test, atomic_read(ran), 1);
	spanheap_read_stats(heap, st);
	KUNIT_EXPECT_EQ(test, st->fin_executed, 1);
	KUNIT_EXPECT_EQ(test, st->specials[SPANHEAP_SPECIAL_FINALIZER], 0);

	spanheap_set_limit(heap, 0);
	spanheap_collect(heap);		/* resurrected for its finalizer: now freed */
	spanheap_read_stats(heap, st);
	KUNIT_EXPECT_EQ(test, st->objects_in_use, 0);
}

/*
 * A lookup that sweeps lazily queues the finalizers of the span's dead
 * objects and keeps them for it.  Only a full sweep wakes the finalizer
 * worker, so here they are still queued when the heap is destroyed,
 * which drops them without running them (and frees the queue: ASan,
 * KASAN and kmemleak watch).
 */
static void lazily_queued_finalizers_dropped_by_destroy(struct kunit *test)
{
	struct spanheap *heap = spanheap_create("kunit-sweep-drop", 0);
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	atomic_t *ran = kunit_kzalloc(test, sizeof(*ran), GFP_KERNEL);
	void *objs[2];
	unsigned int i;

	KUNIT_ASSERT_FALSE(test, IS_ERR(heap));
	KUNIT_ASSERT_NOT_NULL(test, st);
	KUNIT_ASSERT_NOT_NULL(test, ran);
	spanheap_set_gc_percent(heap, -1);
	spanheap_enter(heap);
	for (i = 0; i < ARRAY_SIZE(objs); i++) {
		objs[i] = spanheap_alloc(heap, i ? 40000 : 32, 0);
		SECTION_ASSERT_NOT_NULL(test, heap, objs[i]);
		SECTION_ASSERT_EQ(test, heap, spanheap_set_finalizer(heap, objs[i], count_fin, ran), 0);
	}
	spanheap_exit(heap);
	test_collect_unswept(heap);
	for (i = 0; i < ARRAY_SIZE(objs); i++)
		KUNIT_EXPECT_TRUE(test, span_unswept(heap, objs[i]));
	spanheap_enter(heap);
	for (i = 0; i < ARRAY_SIZE(objs); i++)
		KUNIT_EXPECT_TRUE(test, shp_object_live(heap, objs[i]));
	spanheap_exit(heap);
	spanheap_read_stats(heap, st);
	KUNIT_EXPECT_EQ(test, st->fin_pending, 2);
	KUNIT_EXPECT_EQ(test, st->specials[SPANHEAP_SPECIAL_FINALIZER], 0);
	spanheap_destroy(heap);
	KUNIT_EXPECT_EQ(test, atomic_read(ran), 0);
}

/*
 * Finalizers queued by a lazy sweep are roots for the next cycle: their
 * objects (and what those reference) stay until the finalizers have run,
 * and each runs once.
 */
static void queued_finalizers_are_roots(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	atomic_t *ran = kunit_kzalloc(test, sizeof(*ran), GFP_KERNEL);
	void **objs[2], *child;
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, ran);
	spanheap_enter(heap);
	child = spanheap_alloc(heap, 16, 0);
	SECTION_ASSERT_NOT_NULL(test, heap, child);
	for (i = 0; i < ARRAY_SIZE(objs); i++) {
		objs[i] = spanheap_alloc(heap, 64, 0);
		SECTION_ASSERT_NOT_NULL(test, heap, objs[i]);
		*objs[i] = child;
		SECTION_ASSERT_EQ(test, heap, spanheap_set_finalizer(heap, objs[i], count_fin, ran), 0);
	}
	spanheap_exit(heap);
	test_collect_unswept(heap);
	spanheap_enter(heap);
	KUNIT_EXPECT_TRUE(test, shp_object_live(heap, objs[0]));	/* queues both */
	spanheap_exit(heap);
	KUNIT_EXPECT_EQ(test, atomic_read(ran), 0);

	spanheap_collect(heap);		/* marks from the queue, then runs it */
	spanheap_wait_finalizers(heap);
	KUNIT_EXPECT_EQ(test, atomic_read(ran), 2);
	spanheap_enter(heap);
	for (i = 0; i < ARRAY_SIZE(objs); i++)
		KUNIT_EXPECT_TRUE(test, shp_object_live(heap, objs[i]));
	KUNIT_EXPECT_TRUE(test, shp_object_live(heap, child));
	spanheap_exit(heap);
	spanheap_collect(heap);
	spanheap_wait_finalizers(heap);
	KUNIT_EXPECT_EQ(test, atomic_read(ran), 2);
	spanheap_enter(heap);
	for (i = 0; i < ARRAY_SIZE(objs); i++)
		KUNIT_EXPECT_FALSE(test, shp_object_live(heap, objs[i]));
	KUNIT_EXPECT_FALSE(test, shp_object_live(heap, child));
	spanheap_exit(heap);
}

/*
 * A CPU cache that needs a span of a class whose spans are all unswept
 * sweeps them until one has room (Go's partialUnswept), rather than
 * taking a new span.
 */
static void alloc_sweeps_for_room(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	unsigned int cl = shp_size_to_class(1024), n = shp_size_classes[cl].nelems, i;
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	void **objs = kunit_kcalloc(test, n, sizeof(*objs), GFP_KERNEL);
	void *root = NULL, *fresh;
	long reserved;

	KUNIT_ASSERT_NOT_NULL(test, st);
	KUNIT_ASSERT_NOT_NULL(test, objs);
	KUNIT_ASSERT_EQ(test, spanheap_root_add(heap, &root), 0);
	spanheap_enter(heap);
	for (i = 0; i < n; i++) {
		objs[i] = spanheap_alloc(heap, 1024, 0);
		SECTION_ASSERT_NOT_NULL(test, heap, objs[i]);
	}
	spanheap_exit(heap);
	root = objs[0];
	test_collect_unswept(heap);
	reserved = atomic_long_read(&heap->reserved);
	for (i = 0; i < n; i++)
		KUNIT_ASSERT_TRUE(test, span_unswept(heap, objs[i]));

	spanheap_enter(heap);
	fresh = spanheap_alloc(heap, 1024, 0);
	SECTION_ASSERT_NOT_NULL(test, heap, fresh);
	KUNIT_EXPECT_FALSE(test, span_unswept(heap, fresh));
	KUNIT_EXPECT_TRUE(test, shp_object_live(heap, root));
	spanheap_exit(heap);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&heap->reserved), reserved);
	spanheap_read_stats(heap, st);
	KUNIT_EXPECT_EQ(test, st->objects_in_use, 2);
	KUNIT_EXPECT_EQ(test, spanheap_root_remove(heap, &root), 0);
}

static struct kunit_case sweep_cases[] = {
	KUNIT_CASE(free_sweeps_first),
	KUNIT_CASE(finalizer_queued_at_limit),
	KUNIT_CASE(lazily_queued_finalizers_dropped_by_destroy),
	KUNIT_CASE(queued_finalizers_are_roots),
	KUNIT_CASE(alloc_sweeps_for_room),
	{}
};

static struct kunit_suite sweep_suite = {
	.name = "spanheap_sweep",
	.init = sweep_init,
	.exit = sweep_exit,
	.test_cases = sweep_cases,
};

kunit_test_suites(&sweep_suite);
