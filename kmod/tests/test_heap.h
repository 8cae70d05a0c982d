/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The heap fixture the KUnit suites share: a heap per case, with pacing
 * off so that cycles run only when a case asks for one (or fails an
 * allocation at the limit).
 */
#ifndef _SPANHEAP_TEST_HEAP_H
#define _SPANHEAP_TEST_HEAP_H

#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/err.h>
#include <linux/sched.h>
#include <linux/workqueue.h>
#include "../internal.h"

/* Cases run inside a section, on one CPU (they reason about its cache). */
#define TEST_HEAP_SECTION	0x1
/* The exit drains the heap and expects shp_heap_check() to pass. */
#define TEST_HEAP_CHECK		0x2

/* A new heap named @name, pacing off, or an ERR_PTR. */
static inline struct spanheap *test_heap_new(const char *name)
{
	struct spanheap *heap = spanheap_create(name, 0);

	if (!IS_ERR(heap))
		spanheap_set_gc_percent(heap, -1);
	return heap;
}

static inline void test_sweep_held_back(struct work_struct *work)
{
}

/*
 * A cycle without its sweep: shp_collect(heap, false) queues the
 * background sweeper, whose work item runs a no-op meanwhile.  The
 * caller has pacing off, so nothing else queues it, and it is idle when
 * swapped.
 */
static inline void test_collect_unswept(struct spanheap *heap)
{
	flush_work(&heap->sweep_work);
	INIT_WORK(&heap->sweep_work, test_sweep_held_back);
	shp_collect(heap, false);
	flush_work(&heap->sweep_work);
	INIT_WORK(&heap->sweep_work, shp_sweep_workfn);
}

/* Suite init: test->priv is the case's heap. */
static inline int test_heap_init(struct kunit *test, const char *name,
				 unsigned int flags)
{
	struct spanheap *heap = test_heap_new(name);

	if (IS_ERR(heap))
		return PTR_ERR(heap);
	test->priv = heap;
	if (flags & TEST_HEAP_SECTION) {
		spanheap_enter(heap);
		migrate_disable();
	}
	return 0;
}

/* Destroy a case's @heap, outside any section; @check: shp_heap_check() too. */
static inline void test_heap_release(struct kunit *test, struct spanheap *heap,
				     bool check)
{
	/* A failure at the limit queued a cycle, which drains and sweeps too. */
	flush_work(&heap->gc_work);
	flush_work(&heap->sweep_work);
	if (check) {
		spanheap_drain(heap);
		KUNIT_EXPECT_EQ(test, shp_heap_check(heap), 0);
	}
	spanheap_destroy(heap);
}

/* Suite exit, with the flags given to test_heap_init(). */
static inline void test_heap_exit(struct kunit *test, unsigned int flags)
{
	struct spanheap *heap = test->priv;

	if (!heap)		/* left to a thread, or released by the case */
		return;
	if (flags & TEST_HEAP_SECTION) {
		migrate_enable();
		spanheap_exit(heap);
	}
	test_heap_release(test, heap, flags & TEST_HEAP_CHECK);
}

/*
 * Asserting inside a section.  A failed KUNIT_ASSERT_*() ends the case's
 * thread there and then.  In the kernel the suite's exit then runs in
 * another thread (kunit_catch_run_case()), which can neither close a
 * section the ended thread held nor undo its migrate_disable(); lockdep
 * reports the held section when the thread exits (and stops checking for
 * the rest of the run), and the pinned CPU stays pinned.  So a case ends
 * from inside a section only through these, which take the section (and
 * pin) down first:
 *
 * SECTION_ASSERT_*(test, heap, ...): inside a section of @heap;
 * PINNED_ASSERT_*(test, heap, ...): the same after one migrate_disable();
 * FIXTURE_ASSERT_*(test, ...): inside a TEST_HEAP_SECTION suite's own
 * section (pinned by test_heap_init()), which is closed and the heap
 * destroyed, so that test_heap_exit() finds none.
 *
 * While a TEST_HEAP_SECTION case has closed the suite's section it must
 * not end at all: its exit would close the section again.  Each checks
 * like the KUNIT_ASSERT_*() of the same name (its operands evaluated
 * once) and ends the case only if that check fails.
 * scripts/section_asserts.py checks the rules.
 */
static inline void test_end_in_section(struct kunit *test, struct spanheap *heap)
{
	spanheap_exit(heap);
	KUNIT_ASSERT_FAILURE(test, "case ended, its section closed");
}

static inline void test_end_pinned(struct kunit *test, struct spanheap *heap)
{
	migrate_enable();
	spanheap_exit(heap);
	KUNIT_ASSERT_FAILURE(test, "case ended, its section closed and CPU unpinned");
}

static inline void test_end_in_fixture(struct kunit *test, struct spanheap *unused)
{
	struct spanheap *heap = test->priv;

	migrate_enable();
	spanheap_exit(heap);
	test->priv = NULL;
	test_heap_release(test, heap, false);
	KUNIT_ASSERT_FAILURE(test, "case ended, its section closed and heap destroyed");
}

/*
 * The checks, each reported by the KUNIT_EXPECT_*_MSG() of its kind (whose
 * own locals, in the shim too, must not share their names).
 */
#define TEST_END_UNLESS_TRUE(end, t, h, c, want)			\
	do {								\
		bool __ta_c = !!(c);					\
									\
		if (__ta_c != (want)) {					\
			KUNIT_EXPECT_EQ_MSG(t, __ta_c, want, "%s", #c);	\
			end(t, h);					\
		}							\
	} while (0)
#define TEST_END_UNLESS_NOT_NULL(end, t, h, p)				\
	do {								\
		const void *__ta_p = (p);				\
									\
		if (!__ta_p) {						\
			KUNIT_EXPECT_NOT_NULL_MSG(t, __ta_p, "%s", #p);	\
			end(t, h);					\
		}							\
	} while (0)
#define TEST_END_UNLESS_CMP(end, t, h, kind, op, l, r)			\
	do {								\
		typeof(l) __ta_l = (l);					\
		typeof(r) __ta_r = (r);					\
									\
		if (!(__ta_l op __ta_r)) {				\
			KUNIT_EXPECT_##kind##_MSG(t, __ta_l, __ta_r, "%s", \
						  #l " " #op " " #r);	\
			end(t, h);					\
		}							\
	} while (0)

#define SECTION_ASSERT_TRUE(t, h, c)					\
	TEST_END_UNLESS_TRUE(test_end_in_section, t, h, c, true)
#define SECTION_ASSERT_FALSE(t, h, c)					\
	TEST_END_UNLESS_TRUE(test_end_in_section, t, h, c, false)
#define SECTION_ASSERT_NOT_NULL(t, h, p)				\
	TEST_END_UNLESS_NOT_NULL(test_end_in_section, t, h, p)
#define SECTION_ASSERT_EQ(t, h, l, r)					\
	TEST_END_UNLESS_CMP(test_end_in_section, t, h, EQ, ==, l, r)
#define SECTION_ASSERT_PTR_EQ(t, h, l, r)				\
	TEST_END_UNLESS_CMP(test_end_in_section, t, h, PTR_EQ, ==, l, r)
#define SECTION_ASSERT_LT(t, h, l, r)					\
	TEST_END_UNLESS_CMP(test_end_in_section, t, h, LT, <, l, r)
#define SECTION_ASSERT_GT(t, h, l, r)					\
	TEST_END_UNLESS_CMP(test_end_in_section, t, h, GT, >, l, r)

#define PINNED_ASSERT_NOT_NULL(t, h, p)					\
	TEST_END_UNLESS_NOT_NULL(test_end_pinned, t, h, p)
#define PINNED_ASSERT_EQ(t, h, l, r)					\
	TEST_END_UNLESS_CMP(test_end_pinned, t, h, EQ, ==, l, r)

#define FIXTURE_ASSERT_TRUE(t, c)					\
	TEST_END_UNLESS_TRUE(test_end_in_fixture, t, NULL, c, true)
#define FIXTURE_ASSERT_FALSE(t, c)					\
	TEST_END_UNLESS_TRUE(test_end_in_fixture, t, NULL, c, false)
#define FIXTURE_ASSERT_NOT_NULL(t, p)					\
	TEST_END_UNLESS_NOT_NULL(test_end_in_fixture, t, NULL, p)
#define FIXTURE_ASSERT_EQ(t, l, r)					\
	TEST_END_UNLESS_CMP(test_end_in_fixture, t, NULL, EQ, ==, l, r)
#define FIXTURE_ASSERT_PTR_EQ(t, l, r)					\
	TEST_END_UNLESS_CMP(test_end_in_fixture, t, NULL, PTR_EQ, ==, l, r)
#define FIXTURE_ASSERT_LT(t, l, r)					\
	TEST_END_UNLESS_CMP(test_end_in_fixture, t, NULL, LT, <, l, r)
#define FIXTURE_ASSERT_GT(t, l, r)					\
	TEST_END_UNLESS_CMP(test_end_in_fixture, t, NULL, GT, >, l, r)

/*
 * Wait up to @secs for a thread of the case to complete @done.  On a
 * timeout the case fails and leaves whatever the thread uses to it: the
 * caller returns at once, freeing and destroying nothing (hence kzalloc(),
 * not kunit_kzalloc(), for the thread's state).  A leak, not a
 * use-after-free, if the thread is stuck.
 * Return: whether @done completed.
 */
static inline bool test_wait_done(struct kunit *test, struct completion *done,
				  unsigned int secs)
{
	if (wait_for_completion_timeout(done, secs * HZ))
		return true;
	KUNIT_FAIL(test, "thread not done after %u s: what it uses is left to it",
		   secs);
	return false;
}

/*
 * test_wait_done() for a thread on the case's heap (test->priv), which
 * test_heap_exit() then leaves too.
 */
static inline bool test_thread_done(struct kunit *test, struct completion *done,
				    unsigned int secs)
{
	if (test_wait_done(test, done, secs))
		return true;
	test->priv = NULL;
	return false;
}

/*
 * Leave the case's heap to a thread that did not finish, from inside a
 * TEST_HEAP_SECTION suite's section: closed here, as test_heap_exit()
 * will neither close it nor destroy the heap.
 */
static inline void test_leave_heap_in_section(struct kunit *test)
{
	struct spanheap *heap = test->priv;

	migrate_enable();
	spanheap_exit(heap);
	test->priv = NULL;
}

/* test_thread_done() from inside a TEST_HEAP_SECTION suite's section. */
static inline bool test_thread_done_in_section(struct kunit *test,
					       struct completion *done,
					       unsigned int secs)
{
	if (test_wait_done(test, done, secs))
		return true;
	test_leave_heap_in_section(test);
	return false;
}

/*
 * @n finalizable objects of @heap, each reachable from itself (so never
 * finalized: spanheap_finalizer_cycles() reports each).
 * Return: how many were made.
 */
static inline unsigned int test_self_cycles(struct spanheap *heap, unsigned int n,
					    spanheap_finalizer_t fn)
{
	unsigned int i;
	void **x;

	spanheap_enter(heap);
	for (i = 0; i < n; i++) {
		x = spanheap_alloc(heap, 64, 0);
		if (!x)
			break;
		x[0] = x;
		if (spanheap_set_finalizer(heap, x, fn, NULL))
			break;
	}
	spanheap_exit(heap);
	return i;
}

/*
 * Leave @heap at its limit beside empty spans kept for reuse: 400
 * garbage objects of 1024 bytes made and collected (their spans emptied
 * and kept), then the limit set a page above what the heap holds (@st
 * is read for it).  Return: the central lists of that class, or NULL if
 * the objects could not be made.
 */
static inline struct shp_central *test_kept_spans_at_limit(struct spanheap *heap,
							   struct spanheap_stats *st)
{
	unsigned int i;

	spanheap_set_limit(heap, 0);
	spanheap_enter(heap);
	for (i = 0; i < 400 && spanheap_alloc(heap, 1024, 0); i++)
		;
	spanheap_exit(heap);
	if (i < 400)
		return NULL;
	spanheap_collect(heap);
	spanheap_read_stats(heap, st);
	spanheap_set_limit(heap, st->bytes_reserved + st->bytes_meta + PAGE_SIZE);
	return &heap->central[SHP_SPC(shp_size_to_class(1024), 0)];
}

#endif /* _SPANHEAP_TEST_HEAP_H */
