// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the page heap (pageheap.c).  Large objects' runs are reused,
 * split and coalesced within an arena; the scavenger frees arenas idle
 * longer than the heap's delay (driven here with a made-up clock, never
 * by sleeping: the heap's own delay is set far out so that the worker
 * does not act behind the cases' backs); a reused run comes zeroed; an
 * arena past the limit first frees idle arenas, else fails cleanly.
 * The page heap's cases keep no freed span whole (max_kept 0) and fill
 * no CPU's large slot, so that each free reaches the runs; the kept-span
 * and slot cases, and the concurrent one, keep them as a heap does by
 * default.
 */
#include <kunit/test.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/err.h>
#include <linux/sched.h>
#include <linux/kthread.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/workqueue.h>
#include "test_heap.h"

#define OBJ		(64UL << 10)		/* a large object */
#define OBJ_PAGES	(OBJ >> PAGE_SHIFT)
#define ARENA_PAGES	(SHP_ARENA_BYTES >> PAGE_SHIFT)
/* Far beyond any case's run time: only the cases' clock scavenges. */
#define FAR		(3600UL * HZ)

static int pageheap_init(struct kunit *test)
{
	int ret = test_heap_init(test, "kunit-pageheap", TEST_HEAP_SECTION);

	if (!ret) {
		((struct spanheap *)test->priv)->pages.delay = FAR;
		((struct spanheap *)test->priv)->pages.max_kept = 0;
		((struct spanheap *)test->priv)->large_slot_pages = 0;
	}
	return ret;
}

static void pageheap_exit(struct kunit *test)
{
	test_heap_exit(test, TEST_HEAP_SECTION | TEST_HEAP_CHECK);
}

static struct shp_run *run_of(struct spanheap *heap, void *p)
{
	struct shp_span *s;
	struct shp_run *r;

	rcu_read_lock();
	s = shp_pagemap_lookup(p);
	r = s ? s->run : NULL;
	rcu_read_unlock();
	return r;
}

static long reserved(struct spanheap *heap)
{
	return atomic_long_read(&heap->reserved);
}

static unsigned long narenas(struct spanheap *heap)
{
	unsigned long n;

	spin_lock(&heap->lock);
	n = heap->pages.narenas;
	spin_unlock(&heap->lock);
	return n;
}

/* The only arena of @heap. */
static struct shp_arena *only_arena(struct spanheap *heap)
{
	return list_first_entry(&heap->pages.arenas, struct shp_arena, list);
}

static void *alloc(struct kunit *test, size_t size)
{
	void *p = spanheap_alloc(test->priv, size, SPANHEAP_NOSCAN);

	FIXTURE_ASSERT_NOT_NULL(test, p);
	return p;
}

static void freed_run_is_reused(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	u8 *p = alloc(test, OBJ), *q;

	KUNIT_EXPECT_EQ(test, reserved(heap), (long)SHP_ARENA_BYTES);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), 0);
	/* Still held, as a free run. */
	KUNIT_EXPECT_EQ(test, reserved(heap), (long)SHP_ARENA_BYTES);
	KUNIT_EXPECT_EQ(test, heap->pages.idle_bytes, SHP_ARENA_BYTES);
	q = alloc(test, OBJ);
	KUNIT_EXPECT_PTR_EQ(test, q, p);
	KUNIT_EXPECT_EQ(test, narenas(heap), 1);
	KUNIT_EXPECT_EQ(test, reserved(heap), (long)SHP_ARENA_BYTES);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, q), 0);
}

/*
 * An idle arena made for one big object is reused by an object of its
 * size, but never cut up for a smaller one, which would keep all of it
 * from the scavenger.
 */
static void big_idle_arena_not_split(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	const size_t big = 4 * SHP_ARENA_BYTES;
	u8 *p = alloc(test, big), *q, *small;

	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), 0);
	q = alloc(test, big);
	KUNIT_EXPECT_PTR_EQ(test, q, p);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, q), 0);
	small = alloc(test, OBJ);
	KUNIT_EXPECT_TRUE(test, small < p || small >= p + big);
	KUNIT_EXPECT_EQ(test, narenas(heap), 2);
	KUNIT_EXPECT_EQ(test, shp_scavenge(heap, jiffies, true), big);
	KUNIT_EXPECT_EQ(test, reserved(heap), (long)SHP_ARENA_BYTES);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, small), 0);
}

static void run_is_split(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	u8 *p = alloc(test, 2 * OBJ), *q, *r;
	struct shp_run *run;

	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), 0);
	/* Both halves of the freed run, low half first. */
	q = alloc(test, OBJ);
	r = alloc(test, OBJ);
	KUNIT_EXPECT_PTR_EQ(test, q, p);
	KUNIT_EXPECT_PTR_EQ(test, r, p + OBJ);
	run = run_of(heap, r);
	FIXTURE_ASSERT_NOT_NULL(test, run);
	KUNIT_EXPECT_EQ(test, run->npages, OBJ_PAGES);
	KUNIT_EXPECT_EQ(test, narenas(heap), 1);
	KUNIT_EXPECT_EQ(test, heap->pages.idle_bytes, SHP_ARENA_BYTES - 2 * OBJ);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, q), 0);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, r), 0);
}

static void neighbours_coalesce(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	u8 *a = alloc(test, OBJ), *b = alloc(test, OBJ), *c = alloc(test, OBJ);
	struct shp_arena *arena = only_arena(heap);
	struct shp_run *run;
	u8 *big;

	FIXTURE_ASSERT_PTR_EQ(test, b, a + OBJ);
	FIXTURE_ASSERT_PTR_EQ(test, c, b + OBJ);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, a), 0);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, c), 0);
	/* c merged with the arena's tail; a stands alone. */
	KUNIT_EXPECT_EQ(test, arena->edge[0]->npages, OBJ_PAGES);
	KUNIT_EXPECT_EQ(test, arena->edge[ARENA_PAGES - 1]->npages,
			ARENA_PAGES - 2 * OBJ_PAGES);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, b), 0);
	/* b joins both neighbours: one run covers the idle arena. */
	run = arena->edge[0];
	FIXTURE_ASSERT_NOT_NULL(test, run);
	KUNIT_EXPECT_PTR_EQ(test, arena->edge[ARENA_PAGES - 1], run);
	KUNIT_EXPECT_EQ(test, run->npages, ARENA_PAGES);
	KUNIT_EXPECT_EQ(test, arena->nfree, ARENA_PAGES);
	KUNIT_EXPECT_NULL(test, arena->edge[OBJ_PAGES]);
	/* So a whole-arena object fits without a new arena. */
	big = alloc(test, SHP_ARENA_BYTES);
	KUNIT_EXPECT_PTR_EQ(test, big, a);
	KUNIT_EXPECT_EQ(test, narenas(heap), 1);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, big), 0);
}

/* Fill two arenas with large objects and free them all. */
static void burst(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	unsigned int n = 2 * SHP_ARENA_BYTES / OBJ, i;
	void **objs = kunit_kcalloc(test, n, sizeof(*objs), GFP_KERNEL);

	FIXTURE_ASSERT_NOT_NULL(test, objs);
	for (i = 0; i < n; i++)
		objs[i] = alloc(test, OBJ);
	KUNIT_EXPECT_EQ(test, narenas(heap), 2);
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_EQ(test, spanheap_free(heap, objs[i]), 0);
	KUNIT_EXPECT_EQ(test, reserved(heap), 2 * (long)SHP_ARENA_BYTES);
}

static void scavenged_after_delay(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	unsigned long now;

	burst(test);
	now = jiffies;		/* both arenas went idle before this */
	KUNIT_EXPECT_EQ(test, shp_scavenge(heap, now + FAR + 1, false),
			2 * SHP_ARENA_BYTES);
	KUNIT_EXPECT_EQ(test, reserved(heap), 0);
	KUNIT_EXPECT_EQ(test, narenas(heap), 0);
	KUNIT_EXPECT_EQ(test, heap->pages.idle_bytes, 0);
	KUNIT_EXPECT_EQ(test, heap->pages.scavenged, 2 * SHP_ARENA_BYTES);
	/* The heap grows again from nothing. */
	spanheap_free(heap, alloc(test, OBJ));
	KUNIT_EXPECT_EQ(test, narenas(heap), 1);
}

static void kept_before_delay(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	unsigned long idle = jiffies;	/* no arena went idle before this */
	u8 *p;

	burst(test);
	KUNIT_EXPECT_EQ(test, shp_scavenge(heap, idle + FAR - 1, false), 0);
	KUNIT_EXPECT_EQ(test, reserved(heap), 2 * (long)SHP_ARENA_BYTES);
	/* A partly used arena is never given back, not even by force. */
	p = alloc(test, OBJ);
	KUNIT_EXPECT_EQ(test, shp_scavenge(heap, idle + 2 * FAR, true),
			SHP_ARENA_BYTES);
	KUNIT_EXPECT_EQ(test, narenas(heap), 1);
	KUNIT_EXPECT_PTR_EQ(test, run_of(heap, p)->arena, only_arena(heap));
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), 0);
}

static void reused_run_is_zeroed(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	u8 *p = alloc(test, 3 * OBJ), *fence = alloc(test, OBJ), *q;
	size_t i;

	/* @fence keeps the freed run apart from the fresh rest of the arena. */
	memset(p, 0xa5, 3 * OBJ);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), 0);
	/* Dirty now: a smaller run cut from it must be zeroed. */
	q = alloc(test, 2 * OBJ);
	FIXTURE_ASSERT_PTR_EQ(test, q, p);
	for (i = 0; i < 2 * OBJ; i++)
		if (q[i])
			break;
	KUNIT_EXPECT_EQ(test, i, 2 * OBJ);
	/* The rest of the dirty run stays dirty; fresh memory is not. */
	KUNIT_EXPECT_TRUE(test, only_arena(heap)->edge[2 * OBJ_PAGES]->needzero);
	KUNIT_EXPECT_FALSE(test, only_arena(heap)->edge[ARENA_PAGES - 1]->needzero);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, q), 0);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, fence), 0);
}

/*
 * A dead large object's run is reused by the next large allocation even
 * though no sweep has run yet: the allocation sweeps the large spans
 * first (Go's mheap.reclaim).  The cycle's background sweep is held back
 * as in the sweep suite.
 */
static void dead_run_reclaimed_before_growth(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	u8 *p = alloc(test, OBJ), *q;

	migrate_enable();
	spanheap_exit(heap);
	test_collect_unswept(heap);	/* nothing roots p */
	spanheap_enter(heap);
	migrate_disable();
	KUNIT_EXPECT_NE(test, READ_ONCE(heap->large_sweepgen), READ_ONCE(heap->sweepgen));
	q = alloc(test, OBJ);
	/* p's run, merged back into the arena's free rest, comes first. */
	KUNIT_EXPECT_PTR_EQ(test, q, p);
	KUNIT_EXPECT_EQ(test, heap->nswept_large, 1);
	KUNIT_EXPECT_EQ(test, narenas(heap), 1);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, q), 0);
}

/* At the limit, idle arenas are freed at once; without any, NULL. */
static void limit_frees_idle_arenas_or_fails(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	size_t big = SHP_ARENA_BYTES + PAGE_SIZE;
	long before;
	u8 *p, *q;

	FIXTURE_ASSERT_NOT_NULL(test, st);
	spanheap_read_stats(heap, st);
	spanheap_set_limit(heap, st->bytes_meta + SHP_ARENA_BYTES + SHP_ARENA_BYTES / 2);
	p = alloc(test, OBJ);
	/* Does not fit beside the partly used arena: nothing changes. */
	before = reserved(heap);
	KUNIT_EXPECT_NULL(test, spanheap_alloc(heap, big, 0));
	KUNIT_EXPECT_EQ(test, reserved(heap), before);
	KUNIT_EXPECT_EQ(test, narenas(heap), 1);
	/* Idle, it is given back early to make room. */
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), 0);
	q = alloc(test, big);
	KUNIT_EXPECT_EQ(test, narenas(heap), 1);
	KUNIT_EXPECT_EQ(test, heap->pages.scavenged, SHP_ARENA_BYTES);
	/* Near the limit the arena is the object's size. */
	KUNIT_EXPECT_EQ(test, reserved(heap), (long)big);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, q), 0);
	spanheap_set_limit(heap, 0);
}

/*
 * A heap filled to its limit with large objects, then emptied: the idle
 * arenas it keeps do not stand in the way of small spans (freed early)
 * nor of metadata charges (not counted against the limit).
 */
static void idle_runs_make_room_at_limit(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	unsigned int n = 0, i;
	void **objs = kunit_kcalloc(test, 64, sizeof(*objs), GFP_KERNEL);
	void *small;

	FIXTURE_ASSERT_NOT_NULL(test, st);
	FIXTURE_ASSERT_NOT_NULL(test, objs);
	spanheap_read_stats(heap, st);
	spanheap_set_limit(heap, st->bytes_meta + SHP_ARENA_BYTES);
	while (n < 64 && (objs[n] = spanheap_alloc(heap, 60000, SPANHEAP_NOSCAN)))
		n++;
	FIXTURE_ASSERT_GT(test, n, 0);
	FIXTURE_ASSERT_LT(test, n, 64);
	KUNIT_EXPECT_NULL(test, spanheap_alloc(heap, 1024, 0));
	/* The arena's last free page is all the room left. */
	KUNIT_EXPECT_EQ(test, heap->pages.idle_bytes, SHP_ARENA_BYTES - n * PAGE_ALIGN(60000));
	KUNIT_EXPECT_EQ(test, spanheap_charge(heap, heap->pages.idle_bytes + 1), -ENOMEM);
	/* Free runs of an arena still in use make no room: nothing frees them. */
	for (i = 1; i < n; i++)
		KUNIT_EXPECT_EQ(test, spanheap_free(heap, objs[i]), 0);
	KUNIT_EXPECT_GT(test, heap->pages.idle_bytes, OBJ);
	KUNIT_EXPECT_EQ(test, spanheap_charge(heap, PAGE_SIZE), -ENOMEM);
	/* A wholly idle arena does: it is given back before the heap grows. */
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, objs[0]), 0);
	KUNIT_EXPECT_EQ(test, heap->pages.idle_arena_bytes, SHP_ARENA_BYTES);
	KUNIT_EXPECT_EQ(test, spanheap_charge(heap, OBJ), 0);
	spanheap_uncharge(heap, OBJ);
	small = spanheap_alloc(heap, 1024, 0);
	KUNIT_EXPECT_NOT_NULL(test, small);
	KUNIT_EXPECT_GT(test, heap->pages.scavenged, 0);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, small), 0);
	spanheap_set_limit(heap, 0);
	/* The failed small allocation queued a cycle: let it finish. */
	migrate_enable();
	spanheap_exit(heap);
	flush_work(&heap->gc_work);
	flush_work(&heap->sweep_work);
	spanheap_enter(heap);
	migrate_disable();
}

static struct shp_span *span_of(void *p)
{
	struct shp_span *s;

	rcu_read_lock();
	s = shp_pagemap_lookup(p);
	rcu_read_unlock();
	return s;
}

/*
 * A freed large span is kept whole: dead to lookups and to a second
 * free, idle for the pacer, then handed back, the same struct at the
 * same address, to the next allocation of its length: zeroed unless
 * NOZERO.  Past max_kept, freed spans go back to the runs.
 */
static void freed_span_kept_whole(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	u8 *p = alloc(test, OBJ), *q, *r, *other;
	long in_use = shp_heap_in_use(heap);
	struct shp_span *s = span_of(p);
	unsigned int idx;
	size_t i;

	heap->pages.max_kept = 2;
	memset(p, 0xa5, OBJ);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), 0);
	KUNIT_EXPECT_EQ(test, heap->pages.nkept, 1);
	KUNIT_EXPECT_EQ(test, heap->pages.kept_bytes, OBJ);
	KUNIT_EXPECT_EQ(test, shp_heap_in_use(heap), in_use - (long)OBJ);
	KUNIT_EXPECT_EQ(test, READ_ONCE(s->state), SHP_SPAN_DEAD);
	KUNIT_EXPECT_PTR_EQ(test, span_of(p), s);	/* still mapped */
	rcu_read_lock();
	KUNIT_EXPECT_NULL(test, shp_find_object(heap, p + 100, &idx));
	rcu_read_unlock();
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), -EFAULT);
	KUNIT_EXPECT_EQ(test, shp_heap_check(heap), 0);

	/* Another length does not take it. */
	other = alloc(test, 2 * OBJ);
	KUNIT_EXPECT_PTR_NE(test, other, p);
	KUNIT_EXPECT_EQ(test, heap->pages.nkept, 1);

	q = spanheap_alloc(heap, OBJ, 0);
	FIXTURE_ASSERT_PTR_EQ(test, q, p);
	KUNIT_EXPECT_PTR_EQ(test, span_of(q), s);
	KUNIT_EXPECT_EQ(test, READ_ONCE(s->state), SHP_SPAN_LARGE);
	KUNIT_EXPECT_EQ(test, SHP_SPC_NOSCAN(s->spc), 0);
	KUNIT_EXPECT_EQ(test, heap->pages.nkept, 0);
	KUNIT_EXPECT_EQ(test, shp_heap_in_use(heap), in_use + 2 * (long)OBJ);
	for (i = 0; i < OBJ && !q[i]; i++)
		;
	KUNIT_EXPECT_EQ(test, i, OBJ);

	/* NOZERO takes it as it was left. */
	memset(q, 0x3c, OBJ);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, q), 0);
	r = spanheap_alloc(heap, OBJ, SPANHEAP_NOSCAN | SPANHEAP_NOZERO);
	FIXTURE_ASSERT_PTR_EQ(test, r, p);
	KUNIT_EXPECT_EQ(test, SHP_SPC_NOSCAN(s->spc), 1);
	KUNIT_EXPECT_EQ(test, r[0], 0x3c);
	KUNIT_EXPECT_EQ(test, r[OBJ - 1], 0x3c);

	/* Two kept at most: the third freed span goes back to the runs. */
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, r), 0);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, other), 0);
	q = alloc(test, 3 * OBJ);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, q), 0);
	KUNIT_EXPECT_EQ(test, heap->pages.nkept, 2);
	KUNIT_EXPECT_NULL(test, span_of(q));
	KUNIT_EXPECT_EQ(test, shp_heap_check(heap), 0);
}

/* The scavenger releases kept spans first, then frees the arenas idle. */
static void kept_spans_scavenged(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	u8 *p = alloc(test, OBJ);
	unsigned long now;

	heap->pages.max_kept = shp_kept_large_spans;
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), 0);
	burst(test);
	/* One clock for every pass: a tick between two would shift the delay. */
	now = jiffies;
	/* The burst's first allocation took p's span back. */
	KUNIT_EXPECT_EQ(test, heap->pages.nkept, 2 * SHP_ARENA_BYTES / OBJ);
	KUNIT_EXPECT_EQ(test, heap->pages.idle_bytes, 0);
	/* Keeping armed the scavenger (its delay is FAR: not run yet). */
	KUNIT_EXPECT_TRUE(test, heap->pages.armed);
	/* The first pass sees them kept from now on: all stay. */
	KUNIT_EXPECT_EQ(test, shp_scavenge(heap, now + 2 * FAR, false), 0);
	KUNIT_EXPECT_EQ(test, heap->pages.nkept, 2 * SHP_ARENA_BYTES / OBJ);
	/* Within the delay of that: all stay. */
	KUNIT_EXPECT_EQ(test, shp_scavenge(heap, now + 2 * FAR + FAR - 1, false), 0);
	KUNIT_EXPECT_EQ(test, heap->pages.nkept, 2 * SHP_ARENA_BYTES / OBJ);
	/* Past it: released, their arenas idle inside the call, then freed. */
	KUNIT_EXPECT_EQ(test, shp_scavenge(heap, now + 5 * FAR, false),
			2 * SHP_ARENA_BYTES);
	KUNIT_EXPECT_EQ(test, heap->pages.nkept, 0);
	KUNIT_EXPECT_EQ(test, heap->pages.kept_bytes, 0);
	KUNIT_EXPECT_EQ(test, reserved(heap), 0);
	KUNIT_EXPECT_NULL(test, span_of(p));
}

static void count_finalizer(struct spanheap *heap, void *obj, void *ctx)
{
	atomic_inc(ctx);
}

/*
 * A span kept from the sweep of a dead object, or from a free, carries
 * none of the old object's records into the new one: weak handles read
 * NULL, and no finalizer runs for the new object when it dies.
 */
static void kept_span_carries_no_record(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	u8 *p = alloc(test, OBJ), *q;
	struct spanheap_weak *w;
	atomic_t runs = ATOMIC_INIT(0);

	heap->pages.max_kept = shp_kept_large_spans;
	w = spanheap_weak_make(heap, p);
	FIXTURE_ASSERT_FALSE(test, IS_ERR_OR_NULL(w));
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(heap, p, count_finalizer, &runs), 0);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), 0);
	q = alloc(test, OBJ);
	FIXTURE_ASSERT_PTR_EQ(test, q, p);
	KUNIT_EXPECT_NULL(test, spanheap_weak_value(heap, w));
	spanheap_weak_put(heap, w);

	/* q dies unreferenced: swept, kept, and reused by the next alloc. */
	migrate_enable();
	spanheap_exit(heap);
	spanheap_collect(heap);
	spanheap_wait_finalizers(heap);
	spanheap_enter(heap);
	migrate_disable();
	KUNIT_EXPECT_EQ(test, atomic_read(&runs), 0);
	q = alloc(test, OBJ);
	KUNIT_EXPECT_PTR_EQ(test, q, p);
	KUNIT_EXPECT_EQ(test, heap->nswept_large, 1);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, q), 0);
}

/*
 * A stale pointer to a freed large object does not make the mark scan
 * it: the small object only it points to dies, as when its span was
 * released.
 */
static void kept_span_not_marked(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	void **root = spanheap_alloc(heap, 64, 0), **big, *small;
	struct spanheap_weak *w;

	heap->pages.max_kept = shp_kept_large_spans;
	FIXTURE_ASSERT_NOT_NULL(test, root);
	big = spanheap_alloc(heap, OBJ, 0);
	small = spanheap_alloc(heap, 64, 0);
	FIXTURE_ASSERT_NOT_NULL(test, big);
	FIXTURE_ASSERT_NOT_NULL(test, small);
	big[0] = small;
	root[0] = big;
	w = spanheap_weak_make(heap, small);
	FIXTURE_ASSERT_FALSE(test, IS_ERR_OR_NULL(w));
	FIXTURE_ASSERT_EQ(test, spanheap_root_add(heap, (void **)&root), 0);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, big), 0);
	KUNIT_EXPECT_EQ(test, heap->pages.nkept, 1);
	migrate_enable();
	spanheap_exit(heap);
	spanheap_collect(heap);
	spanheap_enter(heap);
	migrate_disable();
	KUNIT_EXPECT_NULL(test, spanheap_weak_value(heap, w));
	KUNIT_EXPECT_EQ(test, spanheap_root_remove(heap, (void **)&root), 0);
	spanheap_weak_put(heap, w);
}

/*
 * At the limit, kept spans do not stand in the way of the owner's
 * charges: spanheap_charge() gives them back, and the arena they leave
 * idle, before it fails.
 */
static void charge_at_limit_releases_kept_spans(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	void **objs = kunit_kcalloc(test, 64, sizeof(*objs), GFP_KERNEL);
	unsigned int n = 0, i;

	FIXTURE_ASSERT_NOT_NULL(test, st);
	FIXTURE_ASSERT_NOT_NULL(test, objs);
	heap->pages.max_kept = shp_kept_large_spans;
	spanheap_read_stats(heap, st);
	spanheap_set_limit(heap, st->bytes_meta + SHP_ARENA_BYTES);
	while (n < 64 && (objs[n] = spanheap_alloc(heap, OBJ, SPANHEAP_NOSCAN)))
		n++;
	FIXTURE_ASSERT_EQ(test, n, SHP_ARENA_BYTES / OBJ);
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_EQ(test, spanheap_free(heap, objs[i]), 0);
	KUNIT_EXPECT_EQ(test, heap->pages.nkept, n);
	KUNIT_EXPECT_EQ(test, spanheap_charge(heap, OBJ), 0);
	KUNIT_EXPECT_EQ(test, heap->pages.nkept, 0);
	KUNIT_EXPECT_EQ(test, narenas(heap), 0);
	spanheap_uncharge(heap, OBJ);
	spanheap_set_limit(heap, 0);
}

/*
 * The mark's span hints outlive its RCU sections (it drops the read lock
 * between batches), and the scavenger work runs while the world is
 * stopped.  A stale pointer to a kept span must not leave that span in
 * a hint: the scavenger releases it mid-mark, and the next pointer of
 * the same hint slot would read the freed struct (use after free).
 */
static void kept_span_not_in_mark_hint(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	unsigned long v;
	u8 *p;

	heap->pages.max_kept = shp_kept_large_spans;
	p = alloc(test, OBJ);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), 0);
	FIXTURE_ASSERT_EQ(test, heap->pages.nkept, 1);
	v = (unsigned long)p;	/* a stale pointer the mark comes across */

	migrate_enable();
	spanheap_exit(heap);
	mutex_lock(&heap->gc_lock);
	cancel_work_sync(&heap->sweep_work);
	percpu_down_write(&heap->sections);
	shp_central_world_stopped(heap, true);	/* as stop_world() */
	shp_finish_sweep(heap);
	spanheap_drain(heap);
	KUNIT_EXPECT_TRUE(test, shp_mark_stack_get(heap));
	shp_mark_reset(heap);
	rcu_read_lock();
	shp_scan_range(heap, (unsigned long)&v, sizeof(v));
	rcu_read_unlock();
	/* The scavenger, as it may run between two mark batches: two passes. */
	shp_scavenge(heap, jiffies, false);
	shp_scavenge(heap, jiffies + 2 * FAR, false);
	KUNIT_EXPECT_EQ(test, heap->pages.nkept, 0);
	rcu_barrier();
	/* The next batch: the hint would be the kept span. */
	rcu_read_lock();
	shp_scan_range(heap, (unsigned long)&v, sizeof(v));
	rcu_read_unlock();
	KUNIT_EXPECT_EQ(test, heap->ngray, 0);
	shp_central_world_stopped(heap, false);
	percpu_up_write(&heap->sections);
	mutex_unlock(&heap->gc_lock);
	spanheap_enter(heap);
	migrate_disable();
}

/*
 * At the limit, kept spans do not stand in the way of the heap's own
 * records either: a weak handle (specials array and record, charged by
 * shp_meta_charge()) succeeds as it did when freed spans went back to
 * the runs and left their arena idle, out of the count.
 */
static void kept_spans_do_not_block_records_at_limit(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	void **objs = kunit_kcalloc(test, 64, sizeof(*objs), GFP_KERNEL);
	struct spanheap_weak *w;
	unsigned int n = 0, i;
	void *x;

	FIXTURE_ASSERT_NOT_NULL(test, st);
	FIXTURE_ASSERT_NOT_NULL(test, objs);
	heap->pages.max_kept = shp_kept_large_spans;
	x = spanheap_alloc(heap, 64, 0);
	FIXTURE_ASSERT_NOT_NULL(test, x);
	spanheap_read_stats(heap, st);
	spanheap_set_limit(heap, st->bytes_meta + st->bytes_reserved + SHP_ARENA_BYTES);
	while (n < 64 && (objs[n] = spanheap_alloc(heap, OBJ, SPANHEAP_NOSCAN)))
		n++;
	FIXTURE_ASSERT_EQ(test, n, SHP_ARENA_BYTES / OBJ);
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_EQ(test, spanheap_free(heap, objs[i]), 0);
	w = spanheap_weak_make(heap, x);
	KUNIT_EXPECT_FALSE(test, IS_ERR_OR_NULL(w));
	if (!IS_ERR_OR_NULL(w))
		spanheap_weak_put(heap, w);
	spanheap_set_limit(heap, 0);
}

struct stale_lookup {
	struct spanheap *heap;
	void *p;
	atomic_t stop;
	struct completion done;
};

/* Looks up a pointer that another thread frees and allocates again. */
static int stale_lookup_thread(void *arg)
{
	struct stale_lookup *l = arg;

	spanheap_enter(l->heap);
	while (!atomic_read(&l->stop)) {
		spanheap_object_base(l->heap, (u8 *)l->p + 8, NULL);
		cond_resched();
	}
	spanheap_exit(l->heap);
	kthread_complete_and_exit(&l->done, 0);
}

/*
 * spanheap_object_base() of a remembered pointer may race with the
 * object's free and the reuse of its kept span: the reuse rewrites the
 * bitmaps and fields of a span that lock-free lookups can still hold,
 * so it must do so with marked accesses (TSan and KCSAN check this).
 */
static void kept_span_reuse_vs_stale_lookup(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct stale_lookup *l;
	struct task_struct *t;
	unsigned int i;
	void *p, *q;
	int ret;

	heap->pages.max_kept = shp_kept_large_spans;
	p = alloc(test, OBJ);
	l = kzalloc(sizeof(*l), GFP_KERNEL);	/* freed once the thread is done */
	FIXTURE_ASSERT_NOT_NULL(test, l);
	l->heap = heap;
	l->p = p;
	init_completion(&l->done);
	t = kthread_run(stale_lookup_thread, l, "spanheap-stale");
	if (IS_ERR(t)) {
		kfree(l);
		KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(t));
		return;
	}
	for (i = 0; i < 2000; i++) {
		ret = spanheap_free(heap, p);
		q = spanheap_alloc(heap, OBJ, SPANHEAP_NOSCAN | SPANHEAP_NOZERO);
		if (ret || q != p) {
			KUNIT_FAIL(test, "round %u: free %d, %s", i, ret,
				   q ? "another object" : "no object");
			break;
		}
	}
	atomic_set(&l->stop, 1);
	if (!test_thread_done_in_section(test, &l->done, 60))
		return;
	kfree(l);
}

#define CHURN_THREADS	2
#define CHURN_OBJS	8

struct churn {
	struct spanheap *heap;
	unsigned long deadline;
	atomic_t errors;
	atomic_t allocs;
	struct completion done;
};

/* Large objects in and out while the main thread collects and scavenges. */
static int churn_thread(void *arg)
{
	struct churn *c = arg;
	u32 seed = (u32)(unsigned long)current;
	u8 *objs[CHURN_OBJS];
	size_t sizes[CHURN_OBJS];
	unsigned int i, j;

	while (time_before(jiffies, READ_ONCE(c->deadline))) {
		spanheap_enter(c->heap);
		for (i = 0; i < CHURN_OBJS; i++) {
			seed = seed * 1103515245 + 12345;
			/* Half of one of four lengths, for kept spans to be reused. */
			if (seed & BIT(30))
				sizes[i] = ((seed >> 8) % 4 + 1) * OBJ;
			else
				sizes[i] = SPANHEAP_MAX_SMALL_SIZE + 1 + (seed >> 8) % (300 << 10);
			objs[i] = spanheap_alloc(c->heap, sizes[i], SPANHEAP_NOSCAN);
			if (!objs[i]) {
				atomic_inc(&c->errors);
				continue;
			}
			atomic_inc(&c->allocs);
			for (j = 0; j < sizes[i]; j += 512)
				if (objs[i][j])
					atomic_inc(&c->errors);
			memset(objs[i], 0x5a, sizes[i]);
		}
		/* Half freed here, half left to the collector. */
		for (i = 0; i < CHURN_OBJS; i += 2)
			if (objs[i] && spanheap_free(c->heap, objs[i]))
				atomic_inc(&c->errors);
		/* Made again at once: its kept span, unless a scavenge came between. */
		if (objs[0]) {
			objs[0] = spanheap_alloc(c->heap, sizes[0], SPANHEAP_NOSCAN);
			for (j = 0; objs[0] && j < sizes[0]; j += 512)
				if (objs[0][j])
					atomic_inc(&c->errors);
			if (!objs[0] || spanheap_free(c->heap, objs[0]))
				atomic_inc(&c->errors);
		}
		spanheap_exit(c->heap);
		cond_resched();
	}
	kthread_complete_and_exit(&c->done, 0);
}

static void concurrent_with_collections_and_scavenger(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct task_struct *t;
	unsigned long puts = 0;
	struct churn *c;
	int i, started;

	c = kzalloc(sizeof(*c), GFP_KERNEL);	/* freed once the threads are done */
	FIXTURE_ASSERT_NOT_NULL(test, c);
	migrate_enable();
	spanheap_exit(heap);	/* collections wait for sections */
	c->heap = heap;
	init_completion(&c->done);
	heap->pages.delay = 0;	/* the background scavenger runs too */
	heap->pages.max_kept = shp_kept_large_spans;
	heap->large_slot_pages = SHP_LARGE_SLOT_PAGES;
	spanheap_set_gc_percent(heap, 10);
	c->deadline = jiffies + HZ / 2;
	for (started = 0; started < CHURN_THREADS; started++) {
		t = kthread_run(churn_thread, c, "spanheap-pageheap");
		if (IS_ERR(t)) {
			KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(t));
			WRITE_ONCE(c->deadline, jiffies);	/* the other stops */
			break;
		}
	}
	while (time_before(jiffies, READ_ONCE(c->deadline))) {
		spanheap_collect(heap);
		shp_scavenge(heap, jiffies, true);
		cond_resched();
	}
	/* Out of the section: the heap alone is left if a thread never ends. */
	for (i = 0; i < started; i++)
		if (!test_thread_done(test, &c->done, 60))
			return;
	spanheap_set_gc_percent(heap, -1);
	/* A paced cycle may still run: the drain below must not race it. */
	flush_work(&heap->gc_work);
	flush_work(&heap->sweep_work);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->errors), 0);
	KUNIT_EXPECT_GT(test, atomic_read(&c->allocs), 0);
	/* Kept spans were taken back, under collections and the scavenger. */
	KUNIT_EXPECT_GT(test, heap->pages.nreused, 0);
	/* And the CPUs' large slots were filled (then given back by cycles). */
	for_each_possible_cpu(i)
		puts += per_cpu_ptr(heap->cpu, i)->large_puts;
	KUNIT_EXPECT_GT(test, puts, 0);
	/* Everything dead and swept: all arenas idle, then all given back. */
	spanheap_collect(heap);
	spanheap_drain(heap);
	KUNIT_EXPECT_EQ(test, shp_heap_check(heap), 0);
	shp_scavenge(heap, jiffies, true);
	KUNIT_EXPECT_EQ(test, narenas(heap), 0);
	KUNIT_EXPECT_EQ(test, heap->pages.idle_bytes, 0);
	kfree(c);
	spanheap_enter(heap);
	migrate_disable();
}

/* The span this CPU's large slot holds, or NULL.  Context: migration off. */
static struct shp_span *my_slot(struct spanheap *heap)
{
	return READ_ONCE(this_cpu_ptr(heap->cpu)->large);
}

/* Large slots held by any CPU. */
static unsigned int slots_held(struct spanheap *heap)
{
	unsigned int n = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		n += !!READ_ONCE(per_cpu_ptr(heap->cpu, cpu)->large);
	return n;
}

/*
 * Turn large slots on (the suite's heap has them off), keep freed spans
 * as a heap does by default, and free a fresh large object into this
 * CPU's slot.  Return: the object, freed.
 */
static u8 *slot_filled(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	u8 *p;

	heap->large_slot_pages = SHP_LARGE_SLOT_PAGES;
	heap->pages.max_kept = shp_kept_large_spans;
	p = alloc(test, OBJ);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), 0);
	FIXTURE_ASSERT_PTR_EQ(test, my_slot(heap), span_of(p));
	return p;
}

/*
 * A freed large span of at most large_slot_pages pages stays in its
 * CPU's slot: freed for every lookup and a second free, records gone,
 * and taken back by the CPU's next allocation of its length (zeroed
 * unless NOZERO).  An allocation of another length gives it back to the
 * kept spans; so does nothing else on its own.  Too long a span, or a
 * heap with a limit, never goes in a slot.
 */
static void freed_large_span_in_slot(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	atomic_t runs = ATOMIC_INIT(0);
	struct spanheap_weak *w;
	struct shp_span *s;
	u8 *p, *q;
	size_t i;

	heap->large_slot_pages = SHP_LARGE_SLOT_PAGES;
	heap->pages.max_kept = shp_kept_large_spans;
	p = alloc(test, OBJ);
	s = span_of(p);
	w = spanheap_weak_make(heap, p);
	FIXTURE_ASSERT_FALSE(test, IS_ERR_OR_NULL(w));
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(heap, p, count_finalizer, &runs), 0);
	memset(p, 0xa5, OBJ);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), 0);
	KUNIT_EXPECT_PTR_EQ(test, my_slot(heap), s);
	KUNIT_EXPECT_EQ(test, heap->pages.nkept, 0);
	KUNIT_EXPECT_EQ(test, READ_ONCE(s->state), SHP_SPAN_LARGE);
	KUNIT_EXPECT_NULL(test, s->specials);
	KUNIT_EXPECT_NULL(test, spanheap_weak_value(heap, w));
	spanheap_weak_put(heap, w);
	KUNIT_EXPECT_NULL(test, spanheap_object_base(heap, p, NULL));
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(heap, p, count_finalizer, &runs),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), -EFAULT);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p + PAGE_SIZE), -EINVAL);
	KUNIT_EXPECT_EQ(test, shp_heap_check(heap), 0);

	/* NOZERO takes it back as it was left; zeroed otherwise. */
	q = spanheap_alloc(heap, OBJ, SPANHEAP_NOSCAN | SPANHEAP_NOZERO);
	FIXTURE_ASSERT_PTR_EQ(test, q, p);
	KUNIT_EXPECT_NULL(test, my_slot(heap));
	KUNIT_EXPECT_EQ(test, q[0], 0xa5);
	KUNIT_EXPECT_EQ(test, q[OBJ - 1], 0xa5);
	KUNIT_EXPECT_PTR_EQ(test, spanheap_object_base(heap, q + 1, NULL), (void *)q);
	KUNIT_EXPECT_EQ(test, shp_heap_check(heap), 0);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, q), 0);
	q = spanheap_alloc(heap, OBJ, 0);
	FIXTURE_ASSERT_PTR_EQ(test, q, p);
	KUNIT_EXPECT_EQ(test, SHP_SPC_NOSCAN(s->spc), 0);
	for (i = 0; i < OBJ && !q[i]; i++)
		;
	KUNIT_EXPECT_EQ(test, i, OBJ);

	/* Another length gives it back to the kept spans first. */
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, q), 0);
	q = alloc(test, 2 * OBJ);
	KUNIT_EXPECT_PTR_NE(test, q, p);
	KUNIT_EXPECT_NULL(test, my_slot(heap));
	KUNIT_EXPECT_EQ(test, heap->pages.nkept, 1);
	KUNIT_EXPECT_EQ(test, READ_ONCE(s->state), SHP_SPAN_DEAD);

	/* A second free into a full slot releases the span held. */
	p = alloc(test, OBJ);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, q), 0);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), 0);
	KUNIT_EXPECT_PTR_EQ(test, my_slot(heap), span_of(p));
	KUNIT_EXPECT_EQ(test, heap->pages.nkept, 1);
	KUNIT_EXPECT_EQ(test, shp_heap_check(heap), 0);

	/* Too long for a slot, or a limit set: kept at once. */
	q = alloc(test, ((size_t)SHP_LARGE_SLOT_PAGES + 1) << PAGE_SHIFT);
	KUNIT_EXPECT_NULL(test, my_slot(heap));
	KUNIT_EXPECT_EQ(test, heap->pages.nkept, 2);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, q), 0);
	KUNIT_EXPECT_NULL(test, my_slot(heap));
	KUNIT_EXPECT_EQ(test, heap->pages.nkept, 3);
	p = alloc(test, OBJ);
	KUNIT_EXPECT_EQ(test, heap->pages.nkept, 2);
	spanheap_set_limit(heap, 64 << 20);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), 0);
	KUNIT_EXPECT_NULL(test, my_slot(heap));
	KUNIT_EXPECT_EQ(test, heap->pages.nkept, 3);
	spanheap_set_limit(heap, 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&runs), 0);
	KUNIT_EXPECT_EQ(test, shp_heap_check(heap), 0);
}

/* Outside a section: free a large object into a slot, then run the slot work. */
static void put_then_slot_work(struct kunit *test)
{
	struct spanheap *heap = test->priv;

	spanheap_enter(heap);
	migrate_disable();
	/* Not alloc(): called with the suite's section closed, it must not end. */
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, spanheap_alloc(heap, OBJ, SPANHEAP_NOSCAN)), 0);
	migrate_enable();
	spanheap_exit(heap);
	shp_slot_workfn(&heap->slot_work.work);
}

/*
 * Slots are given back, to the kept spans, by a cycle (the world
 * stopped), and by the slot work once a slot saw no put for a whole
 * run; a slot in use is left alone.
 */
static void large_slots_given_back(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct shp_span *s;
	u8 *p;

	p = slot_filled(test);
	KUNIT_EXPECT_EQ(test, slots_held(heap), 1);
	KUNIT_EXPECT_TRUE(test, heap->slot_armed);
	migrate_enable();
	spanheap_exit(heap);
	spanheap_collect(heap);
	KUNIT_EXPECT_EQ(test, slots_held(heap), 0);
	KUNIT_EXPECT_EQ(test, heap->pages.nkept, 1);
	spanheap_enter(heap);
	migrate_disable();

	p = alloc(test, OBJ);
	KUNIT_EXPECT_EQ(test, heap->pages.nkept, 0);
	s = span_of(p);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), 0);
	migrate_enable();
	spanheap_exit(heap);
	/* The first run only notes the put; no put since: the second gives it back. */
	shp_slot_workfn(&heap->slot_work.work);
	KUNIT_EXPECT_EQ(test, slots_held(heap), 1);
	KUNIT_EXPECT_TRUE(test, heap->slot_armed);	/* comes back for it */
	shp_slot_workfn(&heap->slot_work.work);
	KUNIT_EXPECT_EQ(test, slots_held(heap), 0);
	KUNIT_EXPECT_EQ(test, heap->pages.nkept, 1);
	KUNIT_EXPECT_EQ(test, READ_ONCE(s->state), SHP_SPAN_DEAD);
	shp_slot_workfn(&heap->slot_work.work);
	KUNIT_EXPECT_FALSE(test, heap->slot_armed);	/* nothing left to watch */

	/* A put between two runs keeps the slot. */
	put_then_slot_work(test);
	put_then_slot_work(test);
	KUNIT_EXPECT_EQ(test, slots_held(heap), 1);
	KUNIT_EXPECT_EQ(test, shp_heap_check(heap), 0);
	spanheap_drain(heap);
	KUNIT_EXPECT_EQ(test, slots_held(heap), 0);
	spanheap_enter(heap);
	migrate_disable();
}

/*
 * A call on another CPU that reads a slotted span (its own thread, so
 * that TSan sees two threads), strictly between two steps of the main
 * thread.  The handshake uses plain marked flags, no lock and no
 * completion: it orders the steps in time but gives TSan no
 * happens-before edge, so a plain access racing a marked write of the
 * other thread is reported, as KCSAN would.
 */
struct slot_peer {
	struct spanheap *heap;
	void *p;
	int (*fn)(struct slot_peer *sp);
	int ret;
	int go;
	int done;
	struct completion exited;
};

static int slot_peer_thread(void *arg)
{
	struct slot_peer *sp = arg;

	spanheap_enter(sp->heap);
	while (!READ_ONCE(sp->go))
		cond_resched();
	WRITE_ONCE(sp->ret, sp->fn(sp));
	WRITE_ONCE(sp->done, 1);
	spanheap_exit(sp->heap);
	kthread_complete_and_exit(&sp->exited, 0);
}

/*
 * Start a peer running @fn on @p and wait until it has.  Return: the
 * peer, to be waited for (exited) and freed, or NULL if the case failed
 * and must return at once.
 */
static struct slot_peer *slot_peer_start(struct kunit *test, void *p,
					 int (*fn)(struct slot_peer *sp))
{
	struct slot_peer *sp = kzalloc(sizeof(*sp), GFP_KERNEL);
	unsigned long deadline = jiffies + 60 * HZ;
	struct task_struct *t;

	if (!sp) {
		KUNIT_FAIL(test, "out of memory");
		return NULL;
	}
	sp->heap = test->priv;
	sp->p = p;
	sp->fn = fn;
	init_completion(&sp->exited);
	t = kthread_run(slot_peer_thread, sp, "spanheap-peer");
	if (IS_ERR(t)) {
		kfree(sp);
		KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(t));
		return NULL;
	}
	WRITE_ONCE(sp->go, 1);
	while (!READ_ONCE(sp->done) && time_before(jiffies, deadline))
		cond_resched();
	if (!READ_ONCE(sp->done)) {
		KUNIT_FAIL(test, "peer not done after 60 s: the heap is left to it");
		test_leave_heap_in_section(test);
		return NULL;
	}
	return sp;
}

static int peer_free(struct slot_peer *sp)
{
	return spanheap_free(sp->heap, sp->p);
}

static int peer_read_stats(struct slot_peer *sp)
{
	struct spanheap_stats *st = kmalloc(sizeof(*st), GFP_KERNEL);
	int ret;

	if (!st)
		return -ENOMEM;
	spanheap_read_stats(sp->heap, st);
	ret = st->classes[0].spans;
	kfree(st);
	return ret;
}

/*
 * A second free of an object in another CPU's slot fails with -EFAULT;
 * it must not look at the span once heap->lock is dropped, since the
 * owner may give the slot back (the span's state changing) at once.
 */
static void second_free_vs_slot_given_back(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct slot_peer *sp;
	u8 *p, *q;

	p = slot_filled(test);
	sp = slot_peer_start(test, p, peer_free);
	if (!sp)
		return;
	KUNIT_EXPECT_EQ(test, READ_ONCE(sp->ret), -EFAULT);
	/* Another length: the slot goes back to the kept spans, dead. */
	q = spanheap_alloc(heap, 2 * OBJ, SPANHEAP_NOSCAN);
	KUNIT_EXPECT_NOT_NULL(test, q);
	KUNIT_EXPECT_NULL(test, my_slot(heap));
	KUNIT_EXPECT_EQ(test, heap->pages.nkept, 1);
	if (!test_thread_done_in_section(test, &sp->exited, 60))
		return;
	kfree(sp);
	if (q)
		KUNIT_EXPECT_EQ(test, spanheap_free(heap, q), 0);
}

/*
 * Stats read on another CPU walk heap->large, slotted spans included,
 * under heap->lock; the owner revives its slotted span without the lock,
 * rewriting its class: the reader must use marked reads.
 */
static void stats_vs_slot_revive(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct slot_peer *sp;
	u8 *p;

	p = slot_filled(test);
	sp = slot_peer_start(test, p, peer_read_stats);
	if (!sp)
		return;
	KUNIT_EXPECT_EQ(test, READ_ONCE(sp->ret), 1);
	/* The slotted span back as a scanned object, with no lock. */
	KUNIT_EXPECT_PTR_EQ(test, spanheap_alloc(heap, OBJ, 0), (void *)p);
	KUNIT_EXPECT_EQ(test, SHP_SPC_NOSCAN(span_of(p)->spc), 0);
	if (test_thread_done_in_section(test, &sp->exited, 60))
		kfree(sp);
}

/*
 * A limit set after a slot was filled has the slot work give every slot
 * back at once, so that the slot's span does not make a charge at the
 * new limit fail once the work has run.
 */
static void limit_gives_slots_back(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	unsigned long deadline;
	u8 *p;

	FIXTURE_ASSERT_NOT_NULL(test, st);
	p = slot_filled(test);
	KUNIT_EXPECT_EQ(test, slots_held(heap), 1);
	spanheap_read_stats(heap, st);
	spanheap_set_limit(heap, st->bytes_meta + SHP_ARENA_BYTES);
	/* Queued without delay (its own is FAR); it stops the world. */
	migrate_enable();
	spanheap_exit(heap);
	deadline = jiffies + 10 * HZ;
	while (slots_held(heap) && time_before(jiffies, deadline))
		usleep_range(100, 200);
	KUNIT_EXPECT_EQ(test, slots_held(heap), 0);
	flush_delayed_work(&heap->slot_work);	/* done with the heap's lists */
	KUNIT_EXPECT_EQ(test, heap->pages.nkept, 1);
	spanheap_enter(heap);
	migrate_disable();
	KUNIT_EXPECT_EQ(test, spanheap_charge(heap, OBJ), 0);
	KUNIT_EXPECT_EQ(test, narenas(heap), 0);
	spanheap_uncharge(heap, OBJ);
	/* No slot is filled under a limit. */
	p = alloc(test, OBJ);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, p), 0);
	KUNIT_EXPECT_EQ(test, slots_held(heap), 0);
	spanheap_set_limit(heap, 0);
}

static struct kunit_case pageheap_cases[] = {
	KUNIT_CASE(freed_run_is_reused),
	KUNIT_CASE(big_idle_arena_not_split),
	KUNIT_CASE(run_is_split),
	KUNIT_CASE(neighbours_coalesce),
	KUNIT_CASE(scavenged_after_delay),
	KUNIT_CASE(kept_before_delay),
	KUNIT_CASE(reused_run_is_zeroed),
	KUNIT_CASE(dead_run_reclaimed_before_growth),
	KUNIT_CASE(limit_frees_idle_arenas_or_fails),
	KUNIT_CASE(idle_runs_make_room_at_limit),
	KUNIT_CASE(freed_span_kept_whole),
	KUNIT_CASE(kept_spans_scavenged),
	KUNIT_CASE(kept_span_carries_no_record),
	KUNIT_CASE(kept_span_not_marked),
	KUNIT_CASE(charge_at_limit_releases_kept_spans),
	KUNIT_CASE(kept_span_not_in_mark_hint),
	KUNIT_CASE(kept_spans_do_not_block_records_at_limit),
	KUNIT_CASE(kept_span_reuse_vs_stale_lookup),
	KUNIT_CASE(freed_large_span_in_slot),
	KUNIT_CASE(large_slots_given_back),
	KUNIT_CASE(limit_gives_slots_back),
	KUNIT_CASE(second_free_vs_slot_given_back),
	KUNIT_CASE(stats_vs_slot_revive),
	KUNIT_CASE(concurrent_with_collections_and_scavenger),
	{}
};

static struct kunit_suite pageheap_suite = {
	.name = "spanheap_pageheap",
	.init = pageheap_init,
	.exit = pageheap_exit,
	.test_cases = pageheap_cases,
};

kunit_test_suites(&pageheap_suite);
