// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: weak handles (Go 1.24's weak.Pointer).  Go 1.19, the Go on this
 * machine, has no weak package: the expected behaviour is the rules
 * documented in Go's weak/pointer.go and runtime/mheap.go:
 *   - Make is canonical: the same pointer gives the same handle;
 *   - Value is nil as soon as the object is first found unreachable,
 *     before a finalizer can resurrect it, and stays nil;
 *   - a handle made after the resurrection is a new one;
 *   - a weak handle keeps nothing alive.
 */
#include <kunit/test.h>
#include <linux/err.h>
#include <linux/kthread.h>
#include <linux/completion.h>
#include <linux/jiffies.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include "test_heap.h"

struct node {
	struct node *next[2];
	unsigned long id;
};

static int weak_init(struct kunit *test)
{
	return test_heap_init(test, "kunit-weak", 0);
}

static void weak_exit(struct kunit *test)
{
	test_heap_exit(test, 0);
}

static struct node *node(struct kunit *test)
{
	struct node *n = spanheap_alloc(test->priv, sizeof(*n), 0);

	SECTION_ASSERT_NOT_NULL(test, test->priv, n);
	return n;
}

static u64 weak_records(struct kunit *test)
{
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, st);
	spanheap_read_stats(test->priv, st);
	return st->specials[SPANHEAP_SPECIAL_WEAK];
}

/* Same (object, offset), same handle; another offset, another handle. */
static void canonical_per_object_and_offset(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct spanheap_weak *w1, *w2, *w3;
	struct node *a;

	spanheap_enter(heap);
	a = node(test);
	w1 = spanheap_weak_make(heap, a);
	w2 = spanheap_weak_make(heap, a);
	w3 = spanheap_weak_make(heap, &a->id);
	SECTION_ASSERT_FALSE(test, heap, IS_ERR(w1));
	SECTION_ASSERT_FALSE(test, heap, IS_ERR(w3));
	KUNIT_EXPECT_PTR_EQ(test, w1, w2);
	KUNIT_EXPECT_PTR_NE(test, w1, w3);
	KUNIT_EXPECT_PTR_EQ(test, spanheap_weak_value(heap, w1), (void *)a);
	KUNIT_EXPECT_PTR_EQ(test, spanheap_weak_value(heap, w3), (void *)&a->id);
	spanheap_weak_put(heap, w1);
	KUNIT_EXPECT_PTR_EQ(test, spanheap_weak_value(heap, w2), (void *)a);
	spanheap_weak_put(heap, w2);
	spanheap_weak_put(heap, w3);
	spanheap_exit(heap);
	/* Nobody holds them: their records are gone too. */
	KUNIT_EXPECT_EQ(test, weak_records(test), 0);
}

/*
 * Weak only: collected, and the handle reads NULL from then on.  Held,
 * it keeps its record's memory charged to the heap until its last put.
 */
static void keeps_nothing_alive(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct spanheap_weak *w;
	struct node *a, *b;
	long meta;

	spanheap_enter(heap);
	a = node(test);
	b = node(test);
	a->next[0] = b;
	w = spanheap_weak_make(heap, b);
	SECTION_ASSERT_FALSE(test, heap, IS_ERR(w));
	spanheap_exit(heap);
	spanheap_collect(heap);
	KUNIT_EXPECT_EQ(test, weak_records(test), 0);
	meta = atomic_long_read(&heap->meta);
	spanheap_enter(heap);
	KUNIT_EXPECT_NULL(test, spanheap_weak_value(heap, w));
	KUNIT_EXPECT_NULL(test, spanheap_object_base(heap, b, NULL));
	spanheap_weak_put(heap, w);
	spanheap_exit(heap);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&heap->meta),
			meta - (long)sizeof(struct shp_special_weak));
}

/* Read before the sweeper got there: the read sweeps, and says NULL. */
static void lazy_sweep_reads_null(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct spanheap_weak *w;
	struct node *a;

	spanheap_enter(heap);
	a = node(test);
	w = spanheap_weak_make(heap, a);
	SECTION_ASSERT_FALSE(test, heap, IS_ERR(w));
	spanheap_exit(heap);
	/* A cycle that leaves sweeping to later, as paced cycles do. */
	shp_collect(heap, false);
	cancel_work_sync(&heap->sweep_work);
	spanheap_enter(heap);
	KUNIT_EXPECT_NULL(test, spanheap_weak_value(heap, w));
	spanheap_weak_put(heap, w);
	spanheap_exit(heap);
}

struct resurrect {
	struct spanheap *heap;
	void *saved;		/* a root slot */
	struct spanheap_weak *seen;
	void *value_in_fin;
};

static void resurrecting_fin(struct spanheap *heap, void *obj, void *arg)
{
	struct resurrect *r = arg;

	r->value_in_fin = spanheap_weak_value(heap, r->seen);
	WRITE_ONCE(r->saved, obj);
}

/* NULL before the finalizer resurrects; a new handle afterwards. */
static void cleared_before_resurrection(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct resurrect *r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	struct spanheap_weak *w, *w2;
	struct node *a;

	KUNIT_ASSERT_NOT_NULL(test, r);
	KUNIT_ASSERT_EQ(test, spanheap_root_add(heap, &r->saved), 0);
	spanheap_enter(heap);
	a = node(test);
	w = spanheap_weak_make(heap, a);
	SECTION_ASSERT_FALSE(test, heap, IS_ERR(w));
	r->seen = w;
	r->value_in_fin = a;
	SECTION_ASSERT_EQ(test, heap, spanheap_set_finalizer(heap, a, resurrecting_fin, r), 0);
	spanheap_exit(heap);

	spanheap_collect(heap);
	spanheap_wait_finalizers(heap);
	KUNIT_EXPECT_PTR_EQ(test, READ_ONCE(r->saved), (void *)a);
	KUNIT_EXPECT_NULL(test, r->value_in_fin);	/* already, in the finalizer */
	spanheap_collect(heap);
	spanheap_enter(heap);
	KUNIT_EXPECT_TRUE(test, spanheap_object_base(heap, a, NULL) == a);
	KUNIT_EXPECT_NULL(test, spanheap_weak_value(heap, w));
	w2 = spanheap_weak_make(heap, a);
	SECTION_ASSERT_FALSE(test, heap, IS_ERR(w2));
	KUNIT_EXPECT_PTR_NE(test, w, w2);
	KUNIT_EXPECT_PTR_EQ(test, spanheap_weak_value(heap, w2), (void *)a);
	spanheap_weak_put(heap, w);
	spanheap_exit(heap);
	WRITE_ONCE(r->saved, NULL);
	spanheap_collect(heap);
	spanheap_enter(heap);
	KUNIT_EXPECT_NULL(test, spanheap_weak_value(heap, w2));
	spanheap_weak_put(heap, w2);
	spanheap_exit(heap);
	spanheap_root_remove(heap, &r->saved);
}

/* Explicit free clears; bad pointers are refused. */
static void free_and_bad_input(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct spanheap_weak *w;
	struct node *a;
	long local;

	spanheap_enter(heap);
	a = node(test);
	w = spanheap_weak_make(heap, a);
	SECTION_ASSERT_FALSE(test, heap, IS_ERR(w));
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, a), 0);
	KUNIT_EXPECT_NULL(test, spanheap_weak_value(heap, w));
	KUNIT_EXPECT_EQ(test, PTR_ERR(spanheap_weak_make(heap, a)), -EINVAL);
	KUNIT_EXPECT_EQ(test, PTR_ERR(spanheap_weak_make(heap, &local)), -EFAULT);
	KUNIT_EXPECT_EQ(test, PTR_ERR(spanheap_weak_make(heap, NULL)), -EFAULT);
	spanheap_weak_put(heap, w);
	spanheap_exit(heap);
	KUNIT_EXPECT_EQ(test, weak_records(test), 0);
}

#define CHURN_SLOTS	64

struct churn {
	struct spanheap *heap;
	struct node *slots[CHURN_SLOTS];	/* root slots */
	unsigned long deadline;
	atomic_t errors;
	atomic_t reads;
	struct completion done;
};

/* Make, read and drop handles while another thread collects. */
static int churn_thread(void *arg)
{
	struct churn *c = arg;
	u32 seed = 12345;

	while (time_before(jiffies, c->deadline)) {
		unsigned int i = (seed = seed * 1103515245 + 12345) >> 16;
		struct spanheap_weak *w;
		struct node *n;
		void *v;

		spanheap_enter(c->heap);
		i %= CHURN_SLOTS;
		n = READ_ONCE(c->slots[i]);
		if (!n || (seed & 1)) {
			n = spanheap_alloc(c->heap, sizeof(*n), 0);
			WRITE_ONCE(c->slots[i], (seed & 2) ? n : NULL);
		}
		if (n) {
			w = spanheap_weak_make(c->heap, n);
			if (IS_ERR(w)) {
				atomic_inc(&c->errors);
			} else {
				v = spanheap_weak_value(c->heap, w);
				/* Non-NULL only while the object is allocated. */
				if (v && (v != n || spanheap_object_base(c->heap, v, NULL) != v))
					atomic_inc(&c->errors);
				atomic_inc(&c->reads);
				spanheap_weak_put(c->heap, w);
			}
		}
		spanheap_exit(c->heap);
		cond_resched();
	}
	/* Completes and exits without returning into module text. */
	kthread_complete_and_exit(&c->done, 0);
}

static void concurrent_with_collections(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct task_struct *t;
	struct churn *c;
	int i;

	c = kzalloc(sizeof(*c), GFP_KERNEL);	/* freed once the thread is gone */
	KUNIT_ASSERT_NOT_NULL(test, c);
	c->heap = heap;
	init_completion(&c->done);
	for (i = 0; i < CHURN_SLOTS; i++)
		if (spanheap_root_add(heap, (void **)&c->slots[i]))
			break;
	if (i < CHURN_SLOTS) {
		KUNIT_FAIL(test, "root_add failed");
		goto out;
	}
	spanheap_set_gc_percent(heap, 1);	/* paced cycles too */
	c->deadline = jiffies + HZ / 2;
	t = kthread_run(churn_thread, c, "spanheap-weak");
	if (IS_ERR(t)) {
		KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(t));
		goto out;
	}
	while (time_before(jiffies, c->deadline))
		spanheap_collect(heap);
	if (!test_thread_done(test, &c->done, 60))
		return;
	spanheap_set_gc_percent(heap, -1);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->errors), 0);
	KUNIT_EXPECT_GT(test, atomic_read(&c->reads), 0);
out:
	while (i-- > 0)
		spanheap_root_remove(heap, (void **)&c->slots[i]);
	kfree(c);
	spanheap_collect(heap);
	KUNIT_EXPECT_EQ(test, weak_records(test), 0);
}

#define TWIN_OBJS	256
#define TWIN_ROUNDS	64	/* at least; more until the two ran at once */

/*
 * Two tasks make the handles of the same fresh objects, one from each
 * end, so that they meet on some object: both see it without records,
 * both allocate, and the locked find-or-add must give both the one
 * handle.  The test publishes round r in @round; the thread says it
 * started it in @started, which the test waits for, and finished it in
 * @done.  @made counts the thread's makes, so the test sees whether the
 * two ran at once.
 */
struct twin {
	struct spanheap *heap;
	struct node *head;			/* root slot */
	struct node *objs[TWIN_OBJS];		/* reachable from @head */
	struct spanheap_weak *w[2][TWIN_OBJS];
	atomic_t round;
	atomic_t started;
	atomic_t done;
	atomic_t made;
	bool stop;
	struct completion exited;
};

/* Spin until *@v reaches @r or @stop is set; false on a 30 s timeout. */
static bool twin_wait(atomic_t *v, int r, bool *stop)
{
	unsigned long deadline = jiffies + 30 * HZ;

	while (atomic_read_acquire(v) < r && !READ_ONCE(*stop)) {
		if (time_after(jiffies, deadline))
			return false;
		cond_resched();
	}
	return !READ_ONCE(*stop);
}

static int twin_thread(void *arg)
{
	struct twin *t = arg;
	int r, i;

	for (r = 1; twin_wait(&t->round, r, &t->stop); r++) {
		atomic_set_release(&t->started, r);
		spanheap_enter(t->heap);
		for (i = 0; i < TWIN_OBJS; i++) {
			t->w[1][i] = spanheap_weak_make(t->heap, t->objs[i]);
			atomic_inc(&t->made);
		}
		spanheap_exit(t->heap);
		atomic_set_release(&t->done, r);
	}
	kthread_complete_and_exit(&t->exited, 0);
}

/* One round's objects, chained from @t->head; false if out of memory. */
static bool twin_objects(struct twin *t)
{
	struct node *n;
	int i;

	memset(t->w, 0, sizeof(t->w));
	spanheap_enter(t->heap);
	WRITE_ONCE(t->head, NULL);
	for (i = 0; i < TWIN_OBJS; i++) {
		n = spanheap_alloc(t->heap, sizeof(*n), 0);
		if (!n)
			break;
		n->next[0] = t->head;
		WRITE_ONCE(t->head, n);
		t->objs[i] = n;
	}
	spanheap_exit(t->heap);
	return i == TWIN_OBJS;
}

/*
 * The round's handles, one per object shared by both tasks; puts every
 * handle made (a slot the thread did not reach is NULL).
 */
static void twin_check(struct kunit *test, struct twin *t)
{
	struct spanheap *heap = t->heap;
	struct spanheap_weak *w;
	int i, k, bad = 0;

	spanheap_enter(heap);
	for (i = 0; i < TWIN_OBJS; i++) {
		if (t->w[0][i] != t->w[1][i] || IS_ERR_OR_NULL(t->w[0][i]) ||
		    spanheap_weak_value(heap, t->w[0][i]) != t->objs[i])
			bad++;
		for (k = 0; k < 2; k++) {
			w = t->w[k][i];
			if (!IS_ERR_OR_NULL(w))
				spanheap_weak_put(heap, w);
		}
	}
	spanheap_exit(heap);
	KUNIT_EXPECT_EQ(test, bad, 0);
}

static void concurrent_makes_share_one_handle(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	unsigned long deadline = jiffies + 30 * HZ;
	int r, i, made, overlapped = 0;
	struct task_struct *task;
	struct twin *t;

	if (num_online_cpus() < 2)
		kunit_skip(test, "needs two CPUs for the two tasks to meet");
	t = kzalloc(sizeof(*t), GFP_KERNEL);	/* freed once the thread is gone */
	KUNIT_ASSERT_NOT_NULL(test, t);
	t->heap = heap;
	init_completion(&t->exited);
	if (spanheap_root_add(heap, (void **)&t->head)) {
		kfree(t);
		KUNIT_FAIL(test, "root_add failed");
		return;
	}
	spanheap_set_gc_percent(heap, 1);	/* paced cycles race the makes */
	task = kthread_run(twin_thread, t, "spanheap-twin");
	if (IS_ERR(task)) {
		spanheap_root_remove(heap, (void **)&t->head);
		kfree(t);
		KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(task));
		return;
	}
	for (r = 1; r <= TWIN_ROUNDS ||
		    (!overlapped && time_before(jiffies, deadline)); r++) {
		if (!twin_objects(t)) {
			KUNIT_FAIL(test, "round %d: out of memory", r);
			break;
		}
		atomic_set_release(&t->round, r);
		if (!twin_wait(&t->started, r, &t->stop)) {
			KUNIT_FAIL(test, "round %d: the thread did not start", r);
			break;
		}
		made = atomic_read(&t->made);
		spanheap_enter(heap);
		for (i = TWIN_OBJS - 1; i >= 0; i--)
			t->w[0][i] = spanheap_weak_make(heap, t->objs[i]);
		spanheap_exit(heap);
		overlapped += atomic_read(&t->made) != made;
		if (!twin_wait(&t->done, r, &t->stop)) {
			KUNIT_FAIL(test, "round %d: the thread did not finish", r);
			break;
		}
		twin_check(test, t);
	}
	WRITE_ONCE(t->stop, true);
	if (!test_thread_done(test, &t->exited, 60))
		return;
	if (atomic_read(&t->round) == r)	/* left: the thread has finished it */
		twin_check(test, t);
	/* The race was run: in some round the thread made handles meanwhile. */
	KUNIT_EXPECT_GT(test, overlapped, 0);
	spanheap_set_gc_percent(heap, -1);
	spanheap_root_remove(heap, (void **)&t->head);
	kfree(t);
	spanheap_collect(heap);
	KUNIT_EXPECT_EQ(test, weak_records(test), 0);
}

static struct kunit_case weak_cases[] = {
	KUNIT_CASE(canonical_per_object_and_offset),
	KUNIT_CASE(keeps_nothing_alive),
	KUNIT_CASE(lazy_sweep_reads_null),
	KUNIT_CASE(cleared_before_resurrection),
	KUNIT_CASE(free_and_bad_input),
	KUNIT_CASE(concurrent_with_collections),
	KUNIT_CASE(concurrent_makes_share_one_handle),
	{}
};

static struct kunit_suite weak_suite = {
	.name = "spanheap_weak",
	.init = weak_init,
	.exit = weak_exit,
	.test_cases = weak_cases,
};

kunit_test_suites(&weak_suite);
