// SPDX-License-Identifier: GPL-2.0
/* KUnit: allocation and explicit free, every class, spans and limits. */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/slab.h>
#include <linux/err.h>
#include <linux/sched.h>
#include <linux/mm.h>
#include "test_heap.h"

/* Allocator cases: no collection frees what locals hold. */
#define ALLOC_HEAP	(TEST_HEAP_SECTION | TEST_HEAP_CHECK)

static int heap_init(struct kunit *test)
{
	return test_heap_init(test, "kunit-alloc", ALLOC_HEAP);
}

static void heap_exit(struct kunit *test)
{
	test_heap_exit(test, ALLOC_HEAP);
}

static bool all_bytes(const void *p, u8 val, size_t n)
{
	const u8 *b = p;

	while (n--)
		if (*b++ != val)
			return false;
	return true;
}

static void alloc_free_every_class(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	unsigned int c, noscan;

	for (c = 1; c < SHP_NR_CLASSES; c++) {
		for (noscan = 0; noscan < 2; noscan++) {
			size_t want = shp_size_classes[c].size - (c > 1);
			size_t size = 0;
			void *p = spanheap_alloc(heap, want,
						 noscan ? SPANHEAP_NOSCAN : 0);

			FIXTURE_ASSERT_NOT_NULL(test, p);
			if (noscan && want <= SHP_TINY_SIZE) {
				/* Tiny: a member of a 16-byte block, never freed. */
				KUNIT_EXPECT_TRUE(test, all_bytes(p, 0, want));
				KUNIT_EXPECT_NOT_NULL(test, spanheap_object_base(heap, p, &size));
				KUNIT_EXPECT_EQ(test, size, SHP_TINY_SIZE);
				KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), -EINVAL);
				continue;
			}
			KUNIT_EXPECT_TRUE(test, all_bytes(p, 0, shp_size_classes[c].size));
			KUNIT_EXPECT_PTR_EQ(test, spanheap_object_base(heap, p, &size), p);
			KUNIT_EXPECT_EQ(test, size, shp_size_classes[c].size);
			memset(p, 0xa5, size);
			KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), 0);
		}
	}
}

static void alloc_large_objects(struct kunit *test)
{
	static const size_t sizes[] = { SPANHEAP_MAX_SMALL_SIZE + 1, 65536,
					1 << 20, (5 << 20) + 3 };
	struct spanheap *heap = test->priv;
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	unsigned int i;

	FIXTURE_ASSERT_NOT_NULL(test, st);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		u8 *p = spanheap_alloc(heap, sizes[i], 0);
		size_t size = 0;

		FIXTURE_ASSERT_NOT_NULL(test, p);
		KUNIT_EXPECT_TRUE(test, all_bytes(p, 0, sizes[i]));
		KUNIT_EXPECT_PTR_EQ(test, spanheap_object_base(heap, p + sizes[i] - 1, &size),
				    (void *)p);
		KUNIT_EXPECT_EQ(test, size, PAGE_ALIGN(sizes[i]));
		spanheap_read_stats(heap, st);
		KUNIT_EXPECT_EQ(test, st->classes[0].spans, 1);
		KUNIT_EXPECT_EQ(test, st->bytes_in_use, PAGE_ALIGN(sizes[i]));
		KUNIT_EXPECT_EQ(test, spanheap_free(heap, p + 8), -EINVAL);
		KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), 0);
		/* The span is gone, so the pointer is no longer ours. */
		KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), -EFAULT);
		KUNIT_EXPECT_NULL(test, spanheap_object_base(heap, p, NULL));
	}
	/* The runs are kept for reuse until the scavenger gives them back. */
	KUNIT_EXPECT_GT(test, shp_scavenge(heap, jiffies, true), 0);
	spanheap_read_stats(heap, st);
	KUNIT_EXPECT_EQ(test, st->bytes_reserved, 0);
	KUNIT_EXPECT_EQ(test, st->bad_frees, 2 * ARRAY_SIZE(sizes));
}

static void reused_objects_are_zeroed(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	void *p = spanheap_alloc(heap, 64, 0), *q;

	FIXTURE_ASSERT_NOT_NULL(test, p);
	memset(p, 0xff, 64);
	FIXTURE_ASSERT_EQ(test, spanheap_free(heap, p), 0);
	q = spanheap_alloc(heap, 64, 0);
	KUNIT_EXPECT_PTR_EQ(test, q, p);	/* the freed slot comes back first */
	KUNIT_EXPECT_TRUE(test, all_bytes(q, 0, 64));
}

/*
 * NOZERO skips zeroing for its own object only, small or large: the
 * slot or run keeps what it held, and the next object there without the
 * flag is zero again.  Without NOSCAN the flag is refused, nothing done.
 */
static void nozero_objects_keep_old_bytes(struct kunit *test)
{
	static const size_t sizes[] = { 64, 4096, 65536 };
	const unsigned int nz = SPANHEAP_NOSCAN | SPANHEAP_NOZERO;
	struct spanheap *heap = test->priv;
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	unsigned int i;
	u8 *p, *q;

	FIXTURE_ASSERT_NOT_NULL(test, st);
	KUNIT_EXPECT_NULL(test, spanheap_alloc(heap, 64, SPANHEAP_NOZERO));
	KUNIT_EXPECT_NULL(test, spanheap_alloc(heap, 65536, SPANHEAP_NOZERO));
	spanheap_read_stats(heap, st);
	KUNIT_EXPECT_EQ(test, st->allocs, 0);
	KUNIT_EXPECT_EQ(test, st->bytes_reserved, 0);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		p = spanheap_alloc(heap, sizes[i], SPANHEAP_NOSCAN);
		FIXTURE_ASSERT_NOT_NULL(test, p);
		memset(p, 0x5a, sizes[i]);
		FIXTURE_ASSERT_EQ(test, spanheap_free(heap, p), 0);
		q = spanheap_alloc(heap, sizes[i], nz);
		FIXTURE_ASSERT_PTR_EQ(test, q, p);	/* the freed memory comes back first */
		KUNIT_EXPECT_TRUE(test, all_bytes(q, 0x5a, sizes[i]));
		memset(q, 0xa5, sizes[i]);
		FIXTURE_ASSERT_EQ(test, spanheap_free(heap, q), 0);
		q = spanheap_alloc(heap, sizes[i], SPANHEAP_NOSCAN);
		FIXTURE_ASSERT_PTR_EQ(test, q, p);
		KUNIT_EXPECT_TRUE(test, all_bytes(q, 0, sizes[i]));
		KUNIT_EXPECT_EQ(test, spanheap_free(heap, q), 0);
	}
}

/* Fill exactly one span of 32-byte objects: first and last slot, then overflow. */
static void first_last_object_and_full_span(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	unsigned int c = shp_size_to_class(32), n = shp_size_classes[c].nelems, i;
	u8 **objs = kunit_kcalloc(test, n + 1, sizeof(*objs), GFP_KERNEL);
	u8 *lo = NULL, *hi = NULL;

	FIXTURE_ASSERT_NOT_NULL(test, objs);
	spanheap_drain(heap);
	for (i = 0; i < n; i++) {
		objs[i] = spanheap_alloc(heap, 32, SPANHEAP_NOSCAN);
		FIXTURE_ASSERT_NOT_NULL(test, objs[i]);
		if (!lo || objs[i] < lo)
			lo = objs[i];
		if (!hi || objs[i] > hi)
			hi = objs[i];
	}
	/* One fresh span, handed out in address order. */
	KUNIT_EXPECT_PTR_EQ(test, objs[0], lo);
	KUNIT_EXPECT_EQ(test, (unsigned long)lo % PAGE_SIZE, 0);
	KUNIT_EXPECT_EQ(test, hi - lo, (long)(n - 1) * 32);
	objs[n] = spanheap_alloc(heap, 32, SPANHEAP_NOSCAN);
	FIXTURE_ASSERT_NOT_NULL(test, objs[n]);
	KUNIT_EXPECT_TRUE(test, objs[n] < lo || objs[n] > hi);	/* a new span */

	/* Free first and last of the full span; it becomes partial again. */
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, lo), 0);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, hi), 0);
	KUNIT_EXPECT_EQ(test, shp_heap_check(heap), 0);
	for (i = 0; i <= n; i++)
		if (objs[i] != lo && objs[i] != hi)
			KUNIT_EXPECT_EQ(test, spanheap_free(heap, objs[i]), 0);
}

/* Spans emptied by frees are reused, and released beyond the keep limit. */
static void empty_spans_are_reused_and_released(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	unsigned int c = shp_size_to_class(1024), n = 4 * shp_size_classes[c].nelems, i;
	unsigned long span = PAGE_SIZE << shp_size_classes[c].order;
	void **objs = kunit_kcalloc(test, n, sizeof(*objs), GFP_KERNEL);
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);

	FIXTURE_ASSERT_NOT_NULL(test, st);
	FIXTURE_ASSERT_NOT_NULL(test, objs);
	for (i = 0; i < n; i++) {
		objs[i] = spanheap_alloc(heap, 1024, 0);
		FIXTURE_ASSERT_NOT_NULL(test, objs[i]);
	}
	spanheap_read_stats(heap, st);
	KUNIT_EXPECT_EQ(test, st->classes[c].spans, 4);
	KUNIT_EXPECT_EQ(test, st->bytes_reserved, 4 * span);
	KUNIT_EXPECT_EQ(test, st->objects_in_use, n);
	spanheap_drain(heap);
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_EQ(test, spanheap_free(heap, objs[i]), 0);
	spanheap_read_stats(heap, st);
	KUNIT_EXPECT_EQ(test, st->objects_in_use, 0);
	KUNIT_EXPECT_EQ(test, st->classes[c].spans, SHP_KEEP_EMPTY_SPANS);
	KUNIT_EXPECT_EQ(test, st->bytes_reserved, SHP_KEEP_EMPTY_SPANS * span);
	KUNIT_EXPECT_EQ(test, shp_heap_check(heap), 0);
	/* The kept span serves the next allocation: nothing new reserved. */
	objs[0] = spanheap_alloc(heap, 1000, 0);
	FIXTURE_ASSERT_NOT_NULL(test, objs[0]);
	spanheap_read_stats(heap, st);
	KUNIT_EXPECT_EQ(test, st->bytes_reserved, SHP_KEEP_EMPTY_SPANS * span);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, objs[0]), 0);
}

static void double_and_interior_free_rejected(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	u8 *p = spanheap_alloc(heap, 48, 0), *q = spanheap_alloc(heap, 48, 0);
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);

	FIXTURE_ASSERT_NOT_NULL(test, st);
	FIXTURE_ASSERT_NOT_NULL(test, p);
	FIXTURE_ASSERT_NOT_NULL(test, q);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p + 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p + 47), -EINVAL);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), 0);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), -EINVAL);	/* owned span */
	spanheap_drain(heap);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), -EINVAL);	/* central span */
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, q), 0);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, q), -EINVAL);
	spanheap_read_stats(heap, st);
	KUNIT_EXPECT_EQ(test, st->bad_frees, 5);
	KUNIT_EXPECT_EQ(test, st->frees, 2);
	KUNIT_EXPECT_EQ(test, st->objects_in_use, 0);
}

static void foreign_pointers_rejected(struct kunit *test)
{
	struct spanheap *heap = test->priv, *other;
	void *k = kmalloc(64, GFP_KERNEL), *o;
	int local;

	FIXTURE_ASSERT_NOT_NULL(test, k);
	other = spanheap_create("kunit-other", 0);
	FIXTURE_ASSERT_FALSE(test, IS_ERR(other));
	/* Sections of two heaps must not nest (collectors would deadlock). */
	spanheap_exit(heap);
	spanheap_enter(other);
	o = spanheap_alloc(other, 64, 0);
	spanheap_exit(other);
	spanheap_enter(heap);
	KUNIT_EXPECT_NOT_NULL(test, o);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, &local), -EFAULT);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, k), -EFAULT);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, NULL), -EFAULT);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, (void *)~0UL), -EFAULT);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, o), -EFAULT);
	spanheap_exit(heap);
	spanheap_enter(other);
	KUNIT_EXPECT_EQ(test, spanheap_free(other, o), 0);
	spanheap_exit(other);
	spanheap_destroy(other);
	spanheap_enter(heap);
	kfree(k);
}

static void bad_arguments_rejected(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	char name[40];
	long reserved;

	KUNIT_EXPECT_NULL(test, spanheap_alloc(heap, 8, 0x80));
	KUNIT_EXPECT_PTR_EQ(test, spanheap_create("", 0), ERR_PTR(-EINVAL));
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	KUNIT_EXPECT_PTR_EQ(test, spanheap_create(name, 0), ERR_PTR(-EINVAL));
	KUNIT_EXPECT_NOT_NULL(test, spanheap_alloc(heap, 0, 0));
	/* A large object's span size must fit an int: no pages are reserved. */
	reserved = atomic_long_read(&heap->reserved);
	KUNIT_EXPECT_NULL(test, spanheap_alloc(heap, (size_t)INT_MAX + 1, 0));
	KUNIT_EXPECT_NULL(test, spanheap_alloc(heap, SIZE_MAX, SPANHEAP_NOSCAN));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&heap->reserved), reserved);
	/* Destroying what spanheap_create() may return on failure is a no-op. */
	spanheap_destroy(NULL);
	spanheap_destroy(ERR_PTR(-ENOMEM));
}

struct remote_objs {
	struct spanheap *heap;
	void *live, *freed;
	struct completion done;
};

/* Allocates two objects on its own CPU cache and frees one of them. */
static int remote_alloc_thread(void *arg)
{
	struct remote_objs *r = arg;

	spanheap_enter(r->heap);
	r->live = spanheap_alloc(r->heap, 64, 0);
	r->freed = spanheap_alloc(r->heap, 64, 0);
	if (r->freed && spanheap_free(r->heap, r->freed))
		r->freed = NULL;
	spanheap_exit(r->heap);
	kthread_complete_and_exit(&r->done, 0);
}

/*
 * Frees of objects in a span another CPU's cache owns are posted, not
 * applied: a second free of the same object and a free of a slot that
 * is not allocated must still be refused.  (Where the thread ran on this
 * CPU, the owner's path must give the same answers.)
 */
static void remote_double_free_rejected(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	struct task_struct *t;
	struct remote_objs *r;
	void *live, *freed;

	FIXTURE_ASSERT_NOT_NULL(test, st);
	r = kzalloc(sizeof(*r), GFP_KERNEL);	/* freed once the thread is done */
	FIXTURE_ASSERT_NOT_NULL(test, r);
	r->heap = heap;
	init_completion(&r->done);
	t = kthread_run(remote_alloc_thread, r, "spanheap-remote");
	if (IS_ERR(t)) {
		kfree(r);
		KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(t));
		return;
	}
	if (!test_thread_done_in_section(test, &r->done, 60))
		return;
	live = r->live;
	freed = r->freed;
	kfree(r);
	FIXTURE_ASSERT_NOT_NULL(test, live);
	FIXTURE_ASSERT_NOT_NULL(test, freed);

	KUNIT_EXPECT_EQ(test, spanheap_free(heap, freed), -EINVAL);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, live), 0);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, live), -EINVAL);
	KUNIT_EXPECT_NULL(test, spanheap_object_base(heap, live, NULL));
	spanheap_drain(heap);		/* folds the posted free */
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, live), -EINVAL);
	spanheap_read_stats(heap, st);
	KUNIT_EXPECT_EQ(test, st->objects_in_use, 0);
	KUNIT_EXPECT_EQ(test, st->bad_frees, 3);
	KUNIT_EXPECT_EQ(test, st->allocs, 2);
	KUNIT_EXPECT_EQ(test, st->frees, 2);
}

/* Allocation past the limit fails with NULL; freeing everything leaks nothing. */
static void exhaustion_returns_null_without_leaks(struct kunit *test)
{
	const size_t limit = 256 << 10;
	struct spanheap *heap = spanheap_create("kunit-limit", limit);
	unsigned int n = 0, i, cap = 1024;
	void **objs = kunit_kcalloc(test, cap, sizeof(*objs), GFP_KERNEL);
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);

	FIXTURE_ASSERT_NOT_NULL(test, st);
	FIXTURE_ASSERT_FALSE(test, IS_ERR(heap));
	FIXTURE_ASSERT_NOT_NULL(test, objs);
	spanheap_set_gc_percent(heap, -1);
	spanheap_read_stats(heap, st);
	/* The heap's own structures count against the limit too. */
	FIXTURE_ASSERT_LT(test, st->bytes_meta, limit / 2);
	spanheap_exit(test->priv);	/* sections of two heaps must not nest */
	spanheap_enter(heap);
	while (n < cap && (objs[n] = spanheap_alloc(heap, 1024, 0)))
		n++;
	KUNIT_EXPECT_LT(test, n, cap);
	/* 1 KiB objects come 8 to an 8 KiB span, without tail. */
	KUNIT_EXPECT_EQ(test, n, (limit - st->bytes_meta) / 8192 * 8);
	KUNIT_EXPECT_NULL(test, spanheap_alloc(heap, 8, 0));
	KUNIT_EXPECT_NULL(test, spanheap_alloc(heap, 1 << 20, 0));
	spanheap_read_stats(heap, st);
	KUNIT_EXPECT_LE(test, st->bytes_reserved, limit);
	KUNIT_EXPECT_EQ(test, st->objects_in_use, n);
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_EQ(test, spanheap_free(heap, objs[i]), 0);
	spanheap_drain(heap);
	KUNIT_EXPECT_EQ(test, shp_heap_check(heap), 0);
	spanheap_read_stats(heap, st);
	KUNIT_EXPECT_EQ(test, st->objects_in_use, 0);
	KUNIT_EXPECT_LE(test, st->bytes_reserved, SHP_KEEP_EMPTY_SPANS * 8192);
	/* Memory is usable again. */
	objs[0] = spanheap_alloc(heap, 8, 0);
	KUNIT_EXPECT_NOT_NULL(test, objs[0]);
	spanheap_exit(heap);
	spanheap_destroy(heap);
	spanheap_enter(test->priv);
}

struct remote_free {
	struct spanheap *heap;
	void *obj;
	int ret;
	struct completion done;
};

static int remote_free_thread(void *arg)
{
	struct remote_free *r = arg;

	spanheap_enter(r->heap);
	r->ret = spanheap_free(r->heap, r->obj);
	spanheap_exit(r->heap);
	kthread_complete_and_exit(&r->done, 0);
}

/*
 * Free @obj from another task (a remote free if it runs on another CPU).
 * Return: false if the case failed and must return at once.
 */
static bool free_from_another_task(struct kunit *test, struct spanheap *heap,
				   void *obj)
{
	struct remote_free *r = kzalloc(sizeof(*r), GFP_KERNEL);
	struct task_struct *t;

	if (!r) {
		KUNIT_FAIL(test, "out of memory");
		return false;
	}
	r->heap = heap;
	r->obj = obj;
	r->ret = -1;
	init_completion(&r->done);
	t = kthread_run(remote_free_thread, r, "spanheap-remote");
	if (IS_ERR(t)) {
		kfree(r);
		KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(t));
		return false;
	}
	if (!test_thread_done_in_section(test, &r->done, 60))
		return false;	/* @r is left to the thread */
	KUNIT_EXPECT_EQ(test, r->ret, 0);
	kfree(r);
	return true;
}

/*
 * A span this CPU filled gets an object back from another task (posted
 * remotely if that ran on another CPU): the next allocation, which finds
 * the span dry, takes that object again rather than a new span.
 */
static void remote_free_refills_owner(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	unsigned int c = shp_size_to_class(64), n = shp_size_classes[c].nelems, i;
	void **objs = kunit_kcalloc(test, n, sizeof(*objs), GFP_KERNEL);

	FIXTURE_ASSERT_NOT_NULL(test, objs);
	for (i = 0; i < n; i++) {
		objs[i] = spanheap_alloc(heap, 64, 0);
		FIXTURE_ASSERT_NOT_NULL(test, objs[i]);
	}
	if (!free_from_another_task(test, heap, objs[n / 2]))
		return;
	KUNIT_EXPECT_NULL(test, spanheap_object_base(heap, objs[n / 2], NULL));
	KUNIT_EXPECT_PTR_EQ(test, spanheap_alloc(heap, 64, 0), objs[n / 2]);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&heap->reserved),
			(long)(PAGE_SIZE << shp_size_classes[c].order));
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_EQ(test, spanheap_free(heap, objs[i]), 0);
}

static void never_runs(struct spanheap *heap, void *obj, void *ctx)
{
}

/*
 * An object freed by another task (a remote free when that runs on
 * another CPU) takes its pin and finalizer with it, as a local free does:
 * the object that reuses its slot inherits neither.
 */
static void remote_free_drops_records(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	void *obj;

	FIXTURE_ASSERT_NOT_NULL(test, st);
	obj = spanheap_alloc(heap, 64, 0);
	FIXTURE_ASSERT_NOT_NULL(test, obj);
	FIXTURE_ASSERT_EQ(test, spanheap_pin(heap, obj), 0);
	FIXTURE_ASSERT_EQ(test, spanheap_set_finalizer(heap, obj, never_runs, NULL), 0);
	if (!free_from_another_task(test, heap, obj))
		return;
	spanheap_read_stats(heap, st);
	KUNIT_EXPECT_EQ(test, st->specials[SPANHEAP_SPECIAL_PIN], 0);
	KUNIT_EXPECT_EQ(test, st->specials[SPANHEAP_SPECIAL_FINALIZER], 0);
	/* Folded and handed out again: nothing of the old object's comes back. */
	spanheap_drain(heap);
	KUNIT_EXPECT_EQ(test, shp_heap_check(heap), 0);
	spanheap_read_stats(heap, st);
	KUNIT_EXPECT_EQ(test, st->specials[SPANHEAP_SPECIAL_PIN], 0);
}

static void never_cleans(struct spanheap *heap, void *arg)
{
}

/*
 * An object freed by another task takes no new record while its free is
 * still posted to the owner (always so in the userspace build, where
 * each task is a CPU of its own): it is not allocated any more.
 */
static void remotely_freed_takes_no_record(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	void *obj = spanheap_alloc(heap, 64, 0);

	FIXTURE_ASSERT_NOT_NULL(test, obj);
	if (!free_from_another_task(test, heap, obj))
		return;
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(heap, obj, never_runs, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, spanheap_add_cleanup(heap, obj, never_cleans, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, spanheap_pin(heap, obj), -EINVAL);
	KUNIT_EXPECT_EQ(test, PTR_ERR(spanheap_weak_make(heap, obj)), -EINVAL);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, obj), -EINVAL);
	KUNIT_EXPECT_EQ(test, shp_heap_check(heap), 0);
}

/* A free in a span this CPU owns, other than the one it used last. */
static void free_in_owned_span_not_last(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	void *a = spanheap_alloc(heap, 64, 0), *b = spanheap_alloc(heap, 512, 0);
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);

	FIXTURE_ASSERT_NOT_NULL(test, a);
	FIXTURE_ASSERT_NOT_NULL(test, b);
	FIXTURE_ASSERT_NOT_NULL(test, st);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, a), 0);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, a), -EINVAL);
	KUNIT_EXPECT_PTR_EQ(test, spanheap_alloc(heap, 64, 0), a);	/* back in the cache */
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, b), 0);
	spanheap_read_stats(heap, st);
	KUNIT_EXPECT_EQ(test, st->objects_in_use, 1);
	KUNIT_EXPECT_EQ(test, st->bad_frees, 1);
}

static struct kunit_case alloc_cases[] = {
	KUNIT_CASE(alloc_free_every_class),
	KUNIT_CASE(alloc_large_objects),
	KUNIT_CASE(reused_objects_are_zeroed),
	KUNIT_CASE(nozero_objects_keep_old_bytes),
	KUNIT_CASE(first_last_object_and_full_span),
	KUNIT_CASE(empty_spans_are_reused_and_released),
	KUNIT_CASE(double_and_interior_free_rejected),
	KUNIT_CASE(foreign_pointers_rejected),
	KUNIT_CASE(bad_arguments_rejected),
	KUNIT_CASE(remote_double_free_rejected),
	KUNIT_CASE(remote_free_refills_owner),
	KUNIT_CASE(remote_free_drops_records),
	KUNIT_CASE(remotely_freed_takes_no_record),
	KUNIT_CASE(free_in_owned_span_not_last),
	KUNIT_CASE(exhaustion_returns_null_without_leaks),
	{}
};

static struct kunit_suite alloc_suite = {
	.name = "spanheap_alloc",
	.init = heap_init,
	.exit = heap_exit,
	.test_cases = alloc_cases,
};

kunit_test_suites(&alloc_suite);
