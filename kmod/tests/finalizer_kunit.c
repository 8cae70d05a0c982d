// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the collector and finalizers, against the rules of
 * Documentation/spanheap/collector.rst (Go's, where Go has one).
 *
 * Test objects are nodes: two pointer slots and an id.  Finalizers log
 * the ids they see, in order.  A test builds a graph inside a section,
 * leaves the section (its locals are then stale: they are only passed
 * to spanheap_object_base(), which looks them up without dereferencing)
 * and runs cycles with collect_and_wait().
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/slab.h>
#include <linux/err.h>
#include <linux/sched.h>
#include <linux/workqueue.h>
#include "test_heap.h"

struct node {
	struct node *next[2];
	unsigned long id;
};

#define LOG_MAX	64

struct fin_log {
	spinlock_t lock;
	unsigned long ids[LOG_MAX];
	unsigned int n;
	struct task_struct *task;	/* who ran the last finalizer */
	void *resurrect;		/* a finalizer stores its object here */
	bool reregister;		/* ... and sets its finalizer again */
};

struct ctx {
	struct spanheap *heap;
	struct fin_log log;
};

static void log_fin(struct spanheap *heap, void *obj, void *arg)
{
	struct fin_log *log = arg;
	struct node *n = obj;

	spin_lock(&log->lock);
	if (log->n < LOG_MAX)
		log->ids[log->n] = n->id;
	log->n++;
	log->task = current;
	spin_unlock(&log->lock);
	if (log->resurrect != NULL)
		return;
	if (log->reregister) {
		WRITE_ONCE(log->resurrect, obj);
		WARN_ON(spanheap_set_finalizer(heap, obj, log_fin, log));
	}
}

static int fin_init(struct kunit *test)
{
	struct ctx *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);

	if (!c)
		return -ENOMEM;
	c->heap = test_heap_new("kunit-fin");
	if (IS_ERR(c->heap))
		return PTR_ERR(c->heap);
	spin_lock_init(&c->log.lock);
	test->priv = c;
	return 0;
}

static void fin_exit(struct kunit *test)
{
	struct ctx *c = test->priv;

	spanheap_destroy(c->heap);
}

/* A node of @c's heap, with log_fin if @fin; NULL if either fails. */
static struct node *node_or_null(struct ctx *c, unsigned long id, bool fin)
{
	struct node *n = spanheap_alloc(c->heap, sizeof(*n), 0);

	if (!n)
		return NULL;
	n->id = id;
	if (fin && spanheap_set_finalizer(c->heap, n, log_fin, &c->log))
		return NULL;
	return n;
}

static struct node *node(struct kunit *test, unsigned long id, bool fin)
{
	struct ctx *c = test->priv;
	struct node *n = node_or_null(c, id, fin);

	SECTION_ASSERT_NOT_NULL(test, c->heap, n);
	return n;
}

static void collect_and_wait(struct ctx *c)
{
	spanheap_collect(c->heap);
	spanheap_wait_finalizers(c->heap);
}

static unsigned int logged(struct ctx *c)
{
	unsigned int n;

	spin_lock(&c->log.lock);
	n = c->log.n;
	spin_unlock(&c->log.lock);
	return n;
}

static bool alive(struct ctx *c, void *obj)
{
	return spanheap_object_base(c->heap, obj, NULL) == obj;
}

/* A -> B -> C, all finalizable: one finalizer per cycle, in order. */
static void chain_finalized_in_order(struct kunit *test)
{
	struct ctx *c = test->priv;
	struct node *a, *b, *cc;

	spanheap_enter(c->heap);
	a = node(test, 1, true);
	b = node(test, 2, true);
	cc = node(test, 3, true);
	a->next[0] = b;
	b->next[0] = cc;
	spanheap_exit(c->heap);

	collect_and_wait(c);
	KUNIT_ASSERT_EQ(test, logged(c), 1);
	KUNIT_EXPECT_EQ(test, c->log.ids[0], 1);
	KUNIT_EXPECT_TRUE(test, alive(c, a));	/* resurrected for one cycle */
	collect_and_wait(c);
	KUNIT_ASSERT_EQ(test, logged(c), 2);
	KUNIT_EXPECT_EQ(test, c->log.ids[1], 2);
	KUNIT_EXPECT_FALSE(test, alive(c, a));
	collect_and_wait(c);
	KUNIT_ASSERT_EQ(test, logged(c), 3);
	KUNIT_EXPECT_EQ(test, c->log.ids[2], 3);
	collect_and_wait(c);
	KUNIT_EXPECT_EQ(test, logged(c), 3);
	KUNIT_EXPECT_FALSE(test, alive(c, b));
	KUNIT_EXPECT_FALSE(test, alive(c, cc));
}

/* A -> B, A -> C, B -> D, C -> D: A, then B and C (any order), then D. */
static void diamond(struct kunit *test)
{
	struct ctx *c = test->priv;
	struct node *a, *b, *cc, *d;

	spanheap_enter(c->heap);
	a = node(test, 1, true);
	b = node(test, 2, true);
	cc = node(test, 3, true);
	d = node(test, 4, true);
	a->next[0] = b;
	a->next[1] = cc;
	b->next[0] = d;
	cc->next[0] = d;
	spanheap_exit(c->heap);

	collect_and_wait(c);
	KUNIT_ASSERT_EQ(test, logged(c), 1);
	KUNIT_EXPECT_EQ(test, c->log.ids[0], 1);
	collect_and_wait(c);
	KUNIT_ASSERT_EQ(test, logged(c), 3);
	KUNIT_EXPECT_EQ(test, c->log.ids[1] + c->log.ids[2], 5);
	KUNIT_EXPECT_NE(test, c->log.ids[1], c->log.ids[2]);
	collect_and_wait(c);
	KUNIT_ASSERT_EQ(test, logged(c), 4);
	KUNIT_EXPECT_EQ(test, c->log.ids[3], 4);
}

static void count_report(void *arg, void *obj)
{
	(*(int *)arg)++;
}

/* A <-> B with finalizers: never finalized, never freed, reported. */
static void cycle_never_finalized(struct kunit *test)
{
	struct ctx *c = test->priv;
	struct node *a, *b, *plain;
	int i, reported = 0;

	spanheap_enter(c->heap);
	a = node(test, 1, true);
	b = node(test, 2, true);
	a->next[0] = b;
	b->next[0] = a;
	plain = node(test, 3, false);	/* a cycle without finalizers is freed */
	plain->next[0] = plain;
	spanheap_exit(c->heap);

	for (i = 0; i < 3; i++)
		collect_and_wait(c);
	KUNIT_EXPECT_EQ(test, logged(c), 0);
	KUNIT_EXPECT_TRUE(test, alive(c, a));
	KUNIT_EXPECT_TRUE(test, alive(c, b));
	KUNIT_EXPECT_FALSE(test, alive(c, plain));
	KUNIT_EXPECT_EQ(test, spanheap_finalizer_cycles(c->heap, count_report,
							&reported), 2);
	KUNIT_EXPECT_EQ(test, reported, 2);
}

static void self_reference_never_finalized(struct kunit *test)
{
	struct ctx *c = test->priv;
	struct node *a;

	spanheap_enter(c->heap);
	a = node(test, 1, true);
	a->next[1] = a;
	node(test, 2, true);	/* no self reference: finalized */
	spanheap_exit(c->heap);

	collect_and_wait(c);
	collect_and_wait(c);
	KUNIT_ASSERT_EQ(test, logged(c), 1);
	KUNIT_EXPECT_EQ(test, c->log.ids[0], 2);
	KUNIT_EXPECT_TRUE(test, alive(c, a));
	KUNIT_EXPECT_EQ(test, spanheap_finalizer_cycles(c->heap, NULL, NULL), 1);
}

/* The finalizer roots its object and sets itself again: it runs again later. */
static void resurrection_and_reregistration(struct kunit *test)
{
	struct ctx *c = test->priv;
	struct node *a;

	KUNIT_ASSERT_EQ(test, spanheap_root_add(c->heap, &c->log.resurrect), 0);
	c->log.reregister = true;
	spanheap_enter(c->heap);
	a = node(test, 7, true);
	spanheap_exit(c->heap);

	collect_and_wait(c);
	KUNIT_ASSERT_EQ(test, logged(c), 1);
	KUNIT_EXPECT_PTR_EQ(test, READ_ONCE(c->log.resurrect), (void *)a);
	collect_and_wait(c);
	collect_and_wait(c);
	KUNIT_EXPECT_EQ(test, logged(c), 1);	/* rooted: not finalized again */
	KUNIT_EXPECT_TRUE(test, alive(c, a));

	c->log.reregister = false;
	WRITE_ONCE(c->log.resurrect, NULL);	/* drop the root's referent */
	collect_and_wait(c);
	KUNIT_EXPECT_EQ(test, logged(c), 2);	/* the re-registered one ran */
	KUNIT_EXPECT_TRUE(test, alive(c, a));
	collect_and_wait(c);
	KUNIT_EXPECT_FALSE(test, alive(c, a));
	KUNIT_EXPECT_EQ(test, spanheap_root_remove(c->heap, &c->log.resurrect), 0);
}

static void removed_finalizer_does_not_run(struct kunit *test)
{
	struct ctx *c = test->priv;
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	struct node *a;

	KUNIT_ASSERT_NOT_NULL(test, st);
	spanheap_enter(c->heap);
	a = node(test, 1, true);
	spanheap_read_stats(c->heap, st);
	KUNIT_EXPECT_EQ(test, st->specials[SPANHEAP_SPECIAL_FINALIZER], 1);
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(c->heap, a, NULL, NULL), 0);
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(c->heap, a, NULL, NULL), 0);
	spanheap_read_stats(c->heap, st);
	KUNIT_EXPECT_EQ(test, st->specials[SPANHEAP_SPECIAL_FINALIZER], 0);
	spanheap_exit(c->heap);
	collect_and_wait(c);
	KUNIT_EXPECT_EQ(test, logged(c), 0);
	KUNIT_EXPECT_FALSE(test, alive(c, a));
}

static void error_cases(struct kunit *test)
{
	struct ctx *c = test->priv;
	struct spanheap *other = spanheap_create("kunit-fin-other", 0);
	void *k = kmalloc(32, GFP_KERNEL);
	struct node *a, *freed, *o;
	int local;

	KUNIT_ASSERT_FALSE(test, IS_ERR(other));
	KUNIT_ASSERT_NOT_NULL(test, k);
	spanheap_enter(other);
	o = spanheap_alloc(other, sizeof(*o), 0);
	spanheap_exit(other);
	spanheap_enter(c->heap);
	a = node(test, 1, false);
	freed = node(test, 2, false);
	SECTION_ASSERT_EQ(test, c->heap, spanheap_free(c->heap, freed), 0);

	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(c->heap, (char *)a + 8, log_fin, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(c->heap, freed, log_fin, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(c->heap, &local, log_fin, NULL), -EFAULT);
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(c->heap, k, log_fin, NULL), -EFAULT);
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(c->heap, o, log_fin, NULL), -EFAULT);
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(c->heap, NULL, log_fin, NULL), -EFAULT);
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(c->heap, a, log_fin, &c->log), 0);
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(c->heap, a, log_fin, &c->log), -EEXIST);
	KUNIT_EXPECT_EQ(test, spanheap_pin(c->heap, (char *)a + 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, spanheap_unpin(c->heap, a), -EINVAL);	/* not pinned */
	KUNIT_EXPECT_EQ(test, spanheap_root_remove(c->heap, (void **)&local), -ENOENT);
	spanheap_exit(c->heap);
	KUNIT_EXPECT_EQ(test, spanheap_root_add(c->heap, &c->log.resurrect), 0);
	KUNIT_EXPECT_EQ(test, spanheap_root_add(c->heap, &c->log.resurrect), -EEXIST);
	KUNIT_EXPECT_EQ(test, spanheap_root_remove(c->heap, &c->log.resurrect), 0);

	collect_and_wait(c);	/* the one valid finalizer ran, once */
	KUNIT_EXPECT_EQ(test, logged(c), 1);
	spanheap_destroy(other);
	kfree(k);
}

/*
 * A root holding an interior pointer keeps the object; so does an
 * interior pointer inside a SCAN object.
 */
static void interior_pointers_keep_alive(struct kunit *test)
{
	struct ctx *c = test->priv;
	void *root = NULL;
	struct node *a, *b;

	KUNIT_ASSERT_EQ(test, spanheap_root_add(c->heap, &root), 0);
	spanheap_enter(c->heap);
	a = node(test, 1, true);
	b = node(test, 2, true);
	a->next[0] = (struct node *)((char *)b + 16);
	root = (char *)a + 8;
	spanheap_exit(c->heap);
	collect_and_wait(c);
	collect_and_wait(c);
	KUNIT_EXPECT_EQ(test, logged(c), 0);
	KUNIT_EXPECT_TRUE(test, alive(c, a));
	KUNIT_EXPECT_TRUE(test, alive(c, b));
	root = NULL;
	collect_and_wait(c);
	KUNIT_EXPECT_EQ(test, logged(c), 1);
	KUNIT_EXPECT_EQ(test, spanheap_root_remove(c->heap, &root), 0);
}

/* A rooted NOSCAN object is never read: what it points to can die. */
/* NOSCAN objects of every size, large ones included, are never read. */
static void noscan_does_not_keep_alive(struct kunit *test)
{
	static const size_t sizes[] = { sizeof(struct node), 40000, 200000 };
	struct ctx *c = test->priv;
	void *root = NULL;
	struct node *data, *b;
	unsigned int i;

	KUNIT_ASSERT_EQ(test, spanheap_root_add(c->heap, &root), 0);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		spanheap_enter(c->heap);
		data = spanheap_alloc(c->heap, sizes[i], SPANHEAP_NOSCAN);
		SECTION_ASSERT_NOT_NULL(test, c->heap, data);
		b = node(test, 2, true);
		data->next[0] = b;
		data->next[1] = (void *)b + 8;	/* interior, too */
		root = data;
		spanheap_exit(c->heap);
		collect_and_wait(c);
		KUNIT_EXPECT_EQ(test, logged(c), i + 1);
		KUNIT_EXPECT_TRUE(test, alive(c, data));
	}
	KUNIT_EXPECT_EQ(test, spanheap_root_remove(c->heap, &root), 0);
}

static void roots_and_pins_are_never_finalized(struct kunit *test)
{
	struct ctx *c = test->priv;
	void *root = NULL;
	struct node *a, *b;
	int i;

	KUNIT_ASSERT_EQ(test, spanheap_root_add(c->heap, &root), 0);
	spanheap_enter(c->heap);
	a = node(test, 1, true);
	b = node(test, 2, true);
	root = a;
	SECTION_ASSERT_EQ(test, c->heap, spanheap_pin(c->heap, b), 0);
	SECTION_ASSERT_EQ(test, c->heap, spanheap_pin(c->heap, b), 0);	/* counted */
	spanheap_exit(c->heap);
	for (i = 0; i < 3; i++)
		collect_and_wait(c);
	KUNIT_EXPECT_EQ(test, logged(c), 0);

	spanheap_enter(c->heap);
	KUNIT_EXPECT_EQ(test, spanheap_unpin(c->heap, b), 0);
	spanheap_exit(c->heap);
	collect_and_wait(c);
	KUNIT_EXPECT_EQ(test, logged(c), 0);	/* still pinned once */
	spanheap_enter(c->heap);
	KUNIT_EXPECT_EQ(test, spanheap_unpin(c->heap, b), 0);
	spanheap_exit(c->heap);
	collect_and_wait(c);
	KUNIT_ASSERT_EQ(test, logged(c), 1);
	KUNIT_EXPECT_EQ(test, c->log.ids[0], 2);
	KUNIT_EXPECT_EQ(test, spanheap_root_remove(c->heap, &root), 0);
	collect_and_wait(c);
	KUNIT_EXPECT_EQ(test, logged(c), 2);
}

static void cleanup_nop(struct spanheap *heap, void *arg)
{
}

/*
 * A chain X -> Y of two finalizable nodes (ids @id, @id + 1) kept by a
 * holder of @size bytes: pinned, or rooted with a cleanup whose argument
 * is X.  While held nothing is finalized; let go, X goes, then Y.
 */
static void holder_keeps_chain(struct kunit *test, size_t size, bool cleanup,
			       unsigned long id)
{
	struct ctx *c = test->priv;
	void **holder, *root = NULL;
	struct node *x, *y;

	spin_lock(&c->log.lock);
	c->log.n = 0;
	spin_unlock(&c->log.lock);
	if (cleanup)
		KUNIT_ASSERT_EQ(test, spanheap_root_add(c->heap, &root), 0);
	spanheap_enter(c->heap);
	holder = spanheap_alloc(c->heap, size, 0);
	SECTION_ASSERT_NOT_NULL(test, c->heap, holder);
	x = node(test, id, true);
	y = node(test, id + 1, true);
	x->next[0] = y;
	if (cleanup) {
		root = holder;
		SECTION_ASSERT_GT(test, c->heap, spanheap_add_cleanup(c->heap, holder,
							   cleanup_nop, x), 0);
	} else {
		holder[0] = x;
		SECTION_ASSERT_EQ(test, c->heap, spanheap_pin(c->heap, holder), 0);
	}
	x = NULL;
	y = NULL;
	spanheap_exit(c->heap);
	collect_and_wait(c);
	collect_and_wait(c);
	KUNIT_EXPECT_EQ(test, logged(c), 0);

	if (cleanup) {
		/* Its cleanup queued, then run: X is unreachable after. */
		KUNIT_EXPECT_EQ(test, spanheap_root_remove(c->heap, &root), 0);
		collect_and_wait(c);
		spanheap_wait_cleanups(c->heap);
		KUNIT_EXPECT_EQ(test, logged(c), 0);
	} else {
		spanheap_enter(c->heap);
		KUNIT_EXPECT_EQ(test, spanheap_unpin(c->heap, holder), 0);
		spanheap_exit(c->heap);
	}
	collect_and_wait(c);
	KUNIT_ASSERT_EQ(test, logged(c), 1);
	KUNIT_EXPECT_EQ(test, c->log.ids[0], id);
	collect_and_wait(c);
	KUNIT_ASSERT_EQ(test, logged(c), 2);
	KUNIT_EXPECT_EQ(test, c->log.ids[1], id + 1);
}

/*
 * The mark takes every span's records in one pass with no drain between
 * them, so X may have its referents scanned before its holder's record
 * reaches it; holders of 16 and 256 bytes sit in spans visited before
 * and after the nodes' (which decides it for the cleanup argument).
 */
static void holders_keep_finalizers_in_any_span_order(struct kunit *test)
{
	static const size_t sizes[] = { 16, 256 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		holder_keeps_chain(test, sizes[i], false, 10 * i + 1);
		holder_keeps_chain(test, sizes[i], true, 10 * i + 5);
	}
}

/* Objects allocated after a cycle's mark, before its sweep, survive it. */
static void allocated_during_cycle_survive(struct kunit *test)
{
	struct ctx *c = test->priv;
	struct node *garbage, *fresh;

	spanheap_enter(c->heap);
	garbage = node(test, 1, true);
	spanheap_exit(c->heap);

	shp_collect(c->heap, false);		/* mark only... */
	cancel_work_sync(&c->heap->sweep_work);	/* ...and hold the sweep */
	spanheap_enter(c->heap);
	fresh = node(test, 2, true);	/* same class: its span gets swept first */
	spanheap_exit(c->heap);
	shp_finish_sweep(c->heap);
	spanheap_wait_finalizers(c->heap);
	KUNIT_ASSERT_EQ(test, logged(c), 1);
	KUNIT_EXPECT_EQ(test, c->log.ids[0], 1);
	KUNIT_EXPECT_TRUE(test, alive(c, fresh));
	collect_and_wait(c);
	KUNIT_EXPECT_EQ(test, logged(c), 2);	/* next cycle: unreachable */
	KUNIT_EXPECT_FALSE(test, alive(c, garbage));
}

/* Finalizers run on the worker, not in the collecting task, exactly once. */
static void finalizer_runs_once_in_worker(struct kunit *test)
{
	struct ctx *c = test->priv;
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	int i;

	KUNIT_ASSERT_NOT_NULL(test, st);
	spanheap_enter(c->heap);
	node(test, 1, true);
	spanheap_exit(c->heap);
	for (i = 0; i < 4; i++)
		collect_and_wait(c);
	KUNIT_EXPECT_EQ(test, logged(c), 1);
	KUNIT_EXPECT_PTR_NE(test, (void *)c->log.task, (void *)current);
	KUNIT_EXPECT_NOT_NULL(test, c->log.task);
	spanheap_read_stats(c->heap, st);
	KUNIT_EXPECT_EQ(test, st->fin_queued, 1);
	KUNIT_EXPECT_EQ(test, st->fin_executed, 1);
	KUNIT_EXPECT_EQ(test, st->fin_pending, 0);
	KUNIT_EXPECT_EQ(test, st->collections, 4);
	KUNIT_EXPECT_EQ(test, st->objects_in_use, 0);
}

/* Growing the heap past the pacer's goal starts a cycle by itself. */
static void pacing_triggers_collection(struct kunit *test)
{
	struct ctx *c = test->priv;
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	unsigned long bytes;

	KUNIT_ASSERT_NOT_NULL(test, st);
	spanheap_set_gc_percent(c->heap, 100);
	spanheap_enter(c->heap);
	for (bytes = 0; bytes < 2 * SHP_GC_MIN_HEAP; bytes += 1024)
		SECTION_ASSERT_NOT_NULL(test, c->heap, spanheap_alloc(c->heap, 1024, 0));
	spanheap_exit(c->heap);
	/* The trigger queued the cycle; wait for it, then for its sweeper. */
	flush_work(&c->heap->gc_work);
	flush_work(&c->heap->sweep_work);
	spanheap_read_stats(c->heap, st);
	KUNIT_EXPECT_GE(test, st->collections, 1);
	KUNIT_EXPECT_LT(test, st->objects_in_use, 2 * SHP_GC_MIN_HEAP / 1024);
}

/*
 * A paced cycle tests its trigger again when it can start (Go's
 * gcStart): queued while another cycle held gc_lock, it runs if the
 * heap is still past the goal and does not if pacing was turned off
 * meanwhile.  (memory_limit: one a failed allocation asked for runs
 * with pacing off.)
 */
static void paced_cycle_retests_trigger(struct kunit *test)
{
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	static const int percent_at_start[] = { 100, -1 };
	struct spanheap *heap;
	unsigned long bytes;
	unsigned int i, busy;

	KUNIT_ASSERT_NOT_NULL(test, st);
	for (i = 0; i < ARRAY_SIZE(percent_at_start); i++) {
		heap = spanheap_create("kunit-fin-retest", 0);
		KUNIT_ASSERT_FALSE(test, IS_ERR(heap));
		spanheap_set_gc_percent(heap, 100);
		mutex_lock(&heap->gc_lock);	/* as a cycle in progress does */
		spanheap_enter(heap);
		for (bytes = 0; bytes < 2 * SHP_GC_MIN_HEAP; bytes += 1024)
			if (!spanheap_alloc(heap, 1024, 0))
				break;
		spanheap_exit(heap);
		busy = work_busy(&heap->gc_work);	/* queued, or waiting for us */
		spanheap_set_gc_percent(heap, percent_at_start[i]);
		mutex_unlock(&heap->gc_lock);
		flush_work(&heap->gc_work);
		spanheap_read_stats(heap, st);
		KUNIT_EXPECT_EQ(test, bytes, 2 * SHP_GC_MIN_HEAP);
		KUNIT_EXPECT_NE(test, busy, 0);
		KUNIT_EXPECT_EQ(test, st->collections, percent_at_start[i] < 0 ? 0 : 1);
		flush_work(&heap->sweep_work);
		spanheap_destroy(heap);
	}
}

/*
 * A paced cycle first sweeps what the last cycle left unswept (Go's
 * gcStart): here that gives the garbage's spans back, the heap falls to
 * its goal, and no second cycle runs.
 */
static void paced_cycle_sweeps_first(struct kunit *test)
{
	struct spanheap *heap = spanheap_create("kunit-fin-sweep1st", 0);
	unsigned long bytes;
	s64 cycles;

	KUNIT_ASSERT_FALSE(test, IS_ERR(heap));
	spanheap_set_gc_percent(heap, -1);
	spanheap_enter(heap);
	for (bytes = 0; bytes < 2 * SHP_GC_MIN_HEAP; bytes += 1024)
		if (!spanheap_alloc(heap, 1024, 0))
			break;
	spanheap_exit(heap);
	KUNIT_EXPECT_EQ(test, bytes, 2 * SHP_GC_MIN_HEAP);
	test_collect_unswept(heap);		/* all garbage, nothing swept */
	spanheap_set_gc_percent(heap, 100);
	KUNIT_EXPECT_GT(test, shp_heap_in_use(heap), (long)heap->next_gc);
	cycles = atomic64_read(&heap->collections);
	shp_heap_queue_work(heap, shp_wq, &heap->gc_work);
	flush_work(&heap->gc_work);
	KUNIT_EXPECT_EQ(test, atomic64_read(&heap->collections), cycles);
	KUNIT_EXPECT_LE(test, shp_heap_in_use(heap), (long)heap->next_gc);
	spanheap_destroy(heap);
}

/*
 * Fill @heap (limit 1 MiB, pacing off) with unrooted @size objects until
 * one fails at the limit; that failure must have a cycle run, after
 * which an object fits again.  Return: how many fitted at first.
 */
static unsigned int fill_to_limit(struct kunit *test, struct spanheap *heap,
				  size_t size)
{
	unsigned int n = 0, most = (1 << 20) / size;

	spanheap_enter(heap);
	while (n < most && spanheap_alloc(heap, size, 0))
		n++;
	spanheap_exit(heap);
	KUNIT_EXPECT_LT(test, n, most);	/* the metadata counts too */
	flush_work(&heap->gc_work);
	KUNIT_EXPECT_EQ(test, atomic64_read(&heap->collections), 1);
	KUNIT_EXPECT_LE(test, atomic_long_read(&heap->reserved), 1L << 20);
	spanheap_enter(heap);
	KUNIT_EXPECT_NOT_NULL(test, spanheap_alloc(heap, size, 0));
	spanheap_exit(heap);
	return n;
}

/* At the limit allocation fails, queues a cycle, and works again after it. */
static void memory_limit(struct kunit *test)
{
	struct spanheap *heap = spanheap_create("kunit-fin-limit", 1 << 20);
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);

	KUNIT_ASSERT_FALSE(test, IS_ERR(heap));
	KUNIT_ASSERT_NOT_NULL(test, st);
	spanheap_set_gc_percent(heap, -1);
	spanheap_read_stats(heap, st);	/* its own structures count too */
	KUNIT_EXPECT_EQ(test, fill_to_limit(test, heap, 1024),
			((1 << 20) - st->bytes_meta) / 8192 * 8);
	spanheap_destroy(heap);
}

/*
 * As memory_limit, with large objects; and one that cannot fit even
 * beside the heap's fixed metadata fails at once, with no cycle.
 */
static void memory_limit_large(struct kunit *test)
{
	struct spanheap *heap = spanheap_create("kunit-fin-limit3", 1 << 20);

	KUNIT_ASSERT_FALSE(test, IS_ERR(heap));
	spanheap_set_gc_percent(heap, -1);
	KUNIT_EXPECT_GT(test, fill_to_limit(test, heap, 64 << 10), 0U);
	spanheap_enter(heap);
	KUNIT_EXPECT_NULL(test, spanheap_alloc(heap, 1 << 20, 0));
	spanheap_exit(heap);
	KUNIT_EXPECT_EQ(test, work_busy(&heap->gc_work), 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&heap->collections), 1);
	spanheap_destroy(heap);
}

#define OWNER_CHARGE	(600 << 10)

static void uncharge_owner(struct spanheap *heap, void *arg)
{
	spanheap_uncharge(heap, (unsigned long)arg);
}

/*
 * Metadata a cycle frees counts against the limit until then: a large
 * object that fits only beside less of it fails, has a cycle run, and
 * fits once the cleanup that gives back an owner's charge has run.
 */
static void large_at_limit_after_uncharging_cleanup(struct kunit *test)
{
	struct spanheap *heap = spanheap_create("kunit-fin-limit5", 1 << 20);
	void *obj;

	KUNIT_ASSERT_FALSE(test, IS_ERR(heap));
	spanheap_set_gc_percent(heap, -1);
	KUNIT_ASSERT_EQ(test, spanheap_charge(heap, OWNER_CHARGE), 0);
	spanheap_enter(heap);
	obj = spanheap_alloc(heap, 64, 0);
	SECTION_ASSERT_NOT_NULL(test, heap, obj);
	SECTION_ASSERT_GT(test, heap, spanheap_add_cleanup(heap, obj, uncharge_owner,
						   (void *)(unsigned long)OWNER_CHARGE), 0LL);
	obj = NULL;
	KUNIT_EXPECT_NULL(test, spanheap_alloc(heap, 512 << 10, 0));
	spanheap_exit(heap);
	flush_work(&heap->gc_work);
	flush_work(&heap->sweep_work);		/* which queues the cleanup */
	KUNIT_EXPECT_EQ(test, atomic64_read(&heap->collections), 1);
	spanheap_wait_cleanups(heap);
	spanheap_enter(heap);
	KUNIT_EXPECT_NOT_NULL(test, spanheap_alloc(heap, 512 << 10, 0));
	spanheap_exit(heap);
	spanheap_destroy(heap);
}

/*
 * Unrooted 1 KiB objects in @heap (pacing off) until @room more bytes
 * would pass @limit.  Return: how many.
 */
static unsigned int fill_below_limit(struct spanheap *heap, long limit, long room)
{
	unsigned int n;

	spanheap_enter(heap);
	for (n = 0; n < 4096; n++) {
		if (atomic_long_read(&heap->reserved) + atomic_long_read(&heap->meta) +
		    room > limit || !spanheap_alloc(heap, 1024, 0))
			break;
	}
	spanheap_exit(heap);
	return n;
}

/*
 * A large object that does not fit at the limit makes room: it sweeps
 * the small spans, whose garbage gives its pages back, and gives back
 * the empty spans a sweep kept for the pacer (whose goal is above this
 * limit); then it fits, and no cycle is needed.  Once with the garbage
 * left unswept, once swept and kept.
 */
static void large_at_limit_makes_room(struct kunit *test)
{
	struct spanheap *heap;
	unsigned int swept;

	for (swept = 0; swept < 2; swept++) {
		heap = spanheap_create("kunit-fin-limit4", 2 << 20);
		KUNIT_ASSERT_FALSE(test, IS_ERR(heap));
		spanheap_set_gc_percent(heap, -1);
		KUNIT_ASSERT_GT(test, fill_below_limit(heap, 2 << 20, 64 << 10), 256U);
		KUNIT_ASSERT_EQ(test, work_busy(&heap->gc_work), 0);	/* none failed */
		if (swept)
			spanheap_collect(heap);	/* the empty spans stay */
		else
			test_collect_unswept(heap);
		KUNIT_EXPECT_GT(test, atomic_long_read(&heap->reserved) +
				atomic_long_read(&heap->meta) + (64 << 10), 2L << 20);
		spanheap_enter(heap);
		KUNIT_EXPECT_NOT_NULL(test, spanheap_alloc(heap, 64 << 10, 0));
		spanheap_exit(heap);
		KUNIT_EXPECT_EQ(test, work_busy(&heap->gc_work), 0);
		KUNIT_EXPECT_EQ(test, atomic64_read(&heap->collections), 1);
		spanheap_destroy(heap);
	}
}

/* The same kept empty spans never stand in the way of an owner's charge. */
static void charge_at_limit_gives_back_kept_spans(struct kunit *test)
{
	struct spanheap *heap = spanheap_create("kunit-fin-limit6", 2 << 20);

	KUNIT_ASSERT_FALSE(test, IS_ERR(heap));
	spanheap_set_gc_percent(heap, -1);
	KUNIT_ASSERT_GT(test, fill_below_limit(heap, 2 << 20, 256 << 10), 256U);
	spanheap_collect(heap);
	KUNIT_EXPECT_GT(test, atomic_long_read(&heap->reserved) +
			atomic_long_read(&heap->meta) + (256 << 10), 2L << 20);
	KUNIT_EXPECT_EQ(test, spanheap_charge(heap, 256 << 10), 0);
	spanheap_uncharge(heap, 256 << 10);
	spanheap_destroy(heap);
}

static void nop_fin(struct spanheap *heap, void *obj, void *ctx)
{
}

/*
 * A charge that cannot fit is refused with nothing counted and the limit
 * still enforced: above the limit, above LONG_MAX, or one that would wrap
 * the count on a heap without a limit (a size_t above LONG_MAX once went
 * negative in the count and took the limit off).
 */
static void expect_refused(struct kunit *test, struct spanheap *heap, size_t bytes)
{
	int ret = spanheap_charge(heap, bytes);

	KUNIT_EXPECT_EQ_MSG(test, ret, -ENOMEM, "charge of %zu", bytes);
	if (!ret)	/* so that destroy finds the count as it should */
		spanheap_uncharge(heap, bytes);
}

static void charge_that_cannot_fit_refused(struct kunit *test)
{
	struct spanheap *heap = spanheap_create("kunit-fin-charge-big", 1 << 20);
	struct spanheap *nolimit = spanheap_create("kunit-fin-charge-big2", 0);
	long meta;

	KUNIT_ASSERT_FALSE(test, IS_ERR(heap));
	KUNIT_ASSERT_FALSE(test, IS_ERR(nolimit));
	meta = atomic_long_read(&heap->meta);
	expect_refused(test, heap, (size_t)LONG_MAX + 1);
	expect_refused(test, heap, SIZE_MAX);
	expect_refused(test, heap, LONG_MAX);
	expect_refused(test, heap, 2 << 20);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&heap->meta), meta);
	KUNIT_EXPECT_EQ(test, spanheap_charge(heap, PAGE_SIZE), 0);
	spanheap_uncharge(heap, PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&heap->meta), meta);

	/*
	 * No limit: counted as asked up to SHP_META_CHARGE_MAX, beyond which
	 * only the heap's own forced charges go, without wrapping.
	 */
	meta = atomic_long_read(&nolimit->meta);
	KUNIT_ASSERT_EQ(test, spanheap_charge(nolimit, SHP_META_CHARGE_MAX - meta), 0);
	expect_refused(test, nolimit, PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&nolimit->meta), SHP_META_CHARGE_MAX);
	KUNIT_EXPECT_TRUE(test, shp_meta_charge(nolimit, PAGE_SIZE, true));
	KUNIT_EXPECT_GT(test, atomic_long_read(&nolimit->meta), SHP_META_CHARGE_MAX);
	shp_meta_uncharge(nolimit, PAGE_SIZE);
	spanheap_uncharge(nolimit, SHP_META_CHARGE_MAX - meta);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&nolimit->meta), meta);
	spanheap_destroy(nolimit);
	spanheap_destroy(heap);

	/* A limit above LONG_MAX is no limit, not a negative one. */
	heap = spanheap_create("kunit-fin-charge-big3", SIZE_MAX);
	KUNIT_ASSERT_FALSE(test, IS_ERR(heap));
	KUNIT_EXPECT_EQ(test, spanheap_charge(heap, PAGE_SIZE), 0);
	spanheap_uncharge(heap, PAGE_SIZE);
	spanheap_enter(heap);
	KUNIT_EXPECT_NOT_NULL(test, spanheap_alloc(heap, 64, 0));
	spanheap_exit(heap);
	spanheap_destroy(heap);
}

/* A second task charging while spanheap_finalizer_cycles() walks. */
struct walk_charge {
	struct kunit *test;
	struct spanheap *heap;
	struct shp_central *ct;
	struct completion go, charged_once, done;
	unsigned int reports, nempty_before, nempty_after;
	bool timed_out;
	int charged;
};

static int walk_charger(void *arg)
{
	struct walk_charge *wc = arg;

	wait_for_completion(&wc->go);
	wc->nempty_before = READ_ONCE(wc->ct->nempty);
	/* Outside any section, as a cleanup may charge. */
	wc->charged = spanheap_charge(wc->heap, 64 << 10);
	wc->nempty_after = READ_ONCE(wc->ct->nempty);
	rcu_barrier();		/* whatever was given back is freed by now */
	complete(&wc->charged_once);	/* for the report */
	kthread_complete_and_exit(&wc->done, 0);
}

/* The first report, the walk half done: let the charger run to its end. */
static void walk_charge_report(void *arg, void *obj)
{
	struct walk_charge *wc = arg;

	if (wc->reports++)
		return;
	complete(&wc->go);
	if (!wait_for_completion_timeout(&wc->charged_once, 10 * HZ))
		wc->timed_out = true;
}

/*
 * The stopped world's walkers read the span lists without their locks:
 * a charge at the limit from outside any section must not give back the
 * empty spans kept for reuse under spanheap_finalizer_cycles()'s walk
 * (it did, and the walk went on into freed spans).  Refused meanwhile,
 * the same charge succeeds once the walk is over.
 */
static void charge_beside_cycles_walk(struct kunit *test)
{
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	struct walk_charge *wc;
	struct task_struct *task;
	int ret;

	KUNIT_ASSERT_NOT_NULL(test, st);
	wc = kzalloc(sizeof(*wc), GFP_KERNEL);	/* freed once the thread is done */
	KUNIT_ASSERT_NOT_NULL(test, wc);
	wc->test = test;
	wc->heap = test_heap_new("kunit-fin-walk-charge");
	if (IS_ERR(wc->heap)) {
		KUNIT_FAIL(test, "heap: %ld", PTR_ERR(wc->heap));
		kfree(wc);
		return;
	}
	init_completion(&wc->go);
	init_completion(&wc->charged_once);
	init_completion(&wc->done);
	KUNIT_EXPECT_EQ(test, test_self_cycles(wc->heap, 1, nop_fin), 1U);
	wc->ct = test_kept_spans_at_limit(wc->heap, st);
	if (!wc->ct || wc->ct->nempty <= SHP_KEEP_EMPTY_SPANS + 8) {
		KUNIT_FAIL(test, "no empty spans kept at the limit");
		goto out;
	}
	task = kthread_run(walk_charger, wc, "spanheap-walk-charge");
	if (IS_ERR(task)) {
		KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(task));
		goto out;
	}
	KUNIT_EXPECT_EQ(test, spanheap_finalizer_cycles(wc->heap, walk_charge_report, wc), 1);
	complete(&wc->go);	/* if the walk never reported */
	if (!test_wait_done(test, &wc->done, 60))
		return;
	KUNIT_EXPECT_FALSE(test, wc->timed_out);
	KUNIT_EXPECT_EQ(test, wc->reports, 1U);
	KUNIT_EXPECT_EQ(test, wc->charged, -ENOMEM);
	KUNIT_EXPECT_EQ(test, wc->nempty_after, wc->nempty_before);
	if (!wc->charged)
		spanheap_uncharge(wc->heap, 64 << 10);

	ret = spanheap_charge(wc->heap, 64 << 10);
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_EXPECT_LE(test, wc->ct->nempty, SHP_KEEP_EMPTY_SPANS);
	if (!ret)
		spanheap_uncharge(wc->heap, 64 << 10);
out:
	spanheap_set_limit(wc->heap, 0);
	spanheap_destroy(wc->heap);
	kfree(wc);
}

/*
 * Fill a 2 MiB heap with garbage, collect (its empty spans are kept for
 * the pacer) and charge the room left.  Return: the bytes charged.
 */
static long at_limit_beside_kept_spans(struct kunit *test, struct spanheap *heap)
{
	long room;

	KUNIT_ASSERT_GT(test, fill_below_limit(heap, 2 << 20, 256 << 10), 64U);
	spanheap_collect(heap);
	room = (2L << 20) - atomic_long_read(&heap->reserved) -
	       atomic_long_read(&heap->meta);
	KUNIT_ASSERT_GE(test, room, 0L);
	KUNIT_ASSERT_EQ(test, spanheap_charge(heap, room), 0);
	return room;
}

/*
 * Nor do they stand in the way of special records: at the limit, each
 * kind is made after the kept spans are given back, the first with its
 * span's specials array.  Removing a record that is not there needs no
 * array, so gives back nothing.
 */
static void records_at_limit_give_back_kept_spans(struct kunit *test)
{
	struct spanheap *heap = spanheap_create("kunit-fin-limit7", 2 << 20);
	struct spanheap_weak *weak;
	static void **t;	/* a root slot outlives a failed case's heap */
	long room, reserved, meta;
	s64 id;
	int i;

	KUNIT_ASSERT_FALSE(test, IS_ERR(heap));
	spanheap_set_gc_percent(heap, -1);
	KUNIT_ASSERT_EQ(test, spanheap_root_add(heap, (void **)&t), 0);
	spanheap_enter(heap);
	t = spanheap_alloc(heap, 4 * sizeof(void *), 0);
	SECTION_ASSERT_NOT_NULL(test, heap, t);
	for (i = 0; i < 4; i++) {
		t[i] = spanheap_alloc(heap, 64, SPANHEAP_NOSCAN);
		SECTION_ASSERT_NOT_NULL(test, heap, t[i]);
	}
	spanheap_exit(heap);

	room = at_limit_beside_kept_spans(test, heap);
	reserved = atomic_long_read(&heap->reserved);
	meta = atomic_long_read(&heap->meta);
	spanheap_enter(heap);
	/* Removing what is not there makes no specials array, frees nothing. */
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(heap, t[0], NULL, NULL), 0);
	KUNIT_EXPECT_EQ(test, spanheap_unpin(heap, t[3]), -EINVAL);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&heap->meta), meta);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&heap->reserved), reserved);
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(heap, t[0], nop_fin, NULL), 0);
	spanheap_exit(heap);
	spanheap_uncharge(heap, room);

	room = at_limit_beside_kept_spans(test, heap);
	spanheap_enter(heap);
	id = spanheap_add_cleanup(heap, t[1], cleanup_nop, NULL);
	KUNIT_EXPECT_GT(test, id, 0LL);
	spanheap_exit(heap);
	spanheap_uncharge(heap, room);

	room = at_limit_beside_kept_spans(test, heap);
	spanheap_enter(heap);
	weak = spanheap_weak_make(heap, t[2]);
	KUNIT_EXPECT_FALSE(test, IS_ERR(weak));
	spanheap_exit(heap);
	spanheap_uncharge(heap, room);

	room = at_limit_beside_kept_spans(test, heap);
	spanheap_enter(heap);
	KUNIT_EXPECT_EQ(test, spanheap_pin(heap, t[3]), 0);
	spanheap_exit(heap);
	spanheap_uncharge(heap, room);

	spanheap_enter(heap);
	spanheap_set_finalizer(heap, t[0], NULL, NULL);
	if (id > 0)
		spanheap_stop_cleanup(heap, t[1], id);
	if (!IS_ERR(weak))
		spanheap_weak_put(heap, weak);
	spanheap_unpin(heap, t[3]);
	spanheap_exit(heap);
	spanheap_root_remove(heap, (void **)&t);
	spanheap_destroy(heap);
}

static struct completion gc_gate;

/* heap->gc_work held back until the case opens the gate. */
static void gc_work_gated(struct work_struct *work)
{
	wait_for_completion(&gc_gate);
	shp_gc_workfn(work);
}

/*
 * An allocation failing at the limit queues a cycle that runs whatever
 * the pacer says, unless a cycle ran in between: an explicit collection
 * answers the failure, and the queued one does not stop the world again.
 */
static void explicit_cycle_answers_limit_failure(struct kunit *test)
{
	struct spanheap *heap = spanheap_create("kunit-fin-limit2", 1 << 20);
	unsigned int n = 0;

	KUNIT_ASSERT_FALSE(test, IS_ERR(heap));
	spanheap_set_gc_percent(heap, -1);
	init_completion(&gc_gate);
	INIT_WORK(&heap->gc_work, gc_work_gated);
	spanheap_enter(heap);
	while (spanheap_alloc(heap, 1024, 0) && n < 4096)
		n++;
	spanheap_exit(heap);
	KUNIT_EXPECT_LT(test, n, 4096);		/* it failed, so queued the work */
	KUNIT_EXPECT_NE(test, work_busy(&heap->gc_work), 0);
	spanheap_collect(heap);
	complete(&gc_gate);
	flush_work(&heap->gc_work);
	KUNIT_EXPECT_EQ(test, atomic64_read(&heap->collections), 1);
	INIT_WORK(&heap->gc_work, shp_gc_workfn);
	spanheap_destroy(heap);
}

/* Destroying a heap with finalizers queued drops them, leaking nothing. */
static void destroy_with_queued_finalizers(struct kunit *test)
{
	struct spanheap *heap = spanheap_create("kunit-fin-destroy", 0);
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	struct ctx *c = test->priv;
	int i;

	KUNIT_ASSERT_FALSE(test, IS_ERR(heap));
	KUNIT_ASSERT_NOT_NULL(test, st);
	spanheap_set_gc_percent(heap, -1);
	spanheap_enter(heap);
	for (i = 0; i < 500; i++) {
		struct node *n = spanheap_alloc(heap, sizeof(*n), 0);

		SECTION_ASSERT_NOT_NULL(test, heap, n);
		SECTION_ASSERT_EQ(test, heap, spanheap_set_finalizer(heap, n, log_fin, &c->log), 0);
	}
	spanheap_exit(heap);
	spanheap_collect(heap);
	spanheap_read_stats(heap, st);
	KUNIT_EXPECT_EQ(test, st->fin_queued, 500);	/* all due at once */
	spanheap_destroy(heap);		/* some may have run, the rest drop */
	KUNIT_EXPECT_LE(test, logged(c), 500);
	/* Leaks and use-after-free show up under ASan / KASAN / kmemleak. */
}

/* A cycle that holds gc_lock and waits for the case's section to end. */
struct pending_cycle {
	struct spanheap *heap;
	struct completion done;
};

static int pending_cycle_thread(void *arg)
{
	struct pending_cycle *pc = arg;

	spanheap_collect(pc->heap);
	kthread_complete_and_exit(&pc->done, 0);
}

/*
 * Inside a section the world cannot stop, so a charge at the limit gives
 * back the kept empty spans even while a cycle holds gc_lock and waits
 * for that section (a fix that took gc_lock with a trylock refused it).
 */
static void charge_in_section_beside_pending_cycle(struct kunit *test)
{
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	unsigned long deadline = jiffies + 10 * HZ;
	struct pending_cycle *pc;
	struct shp_central *ct;
	struct task_struct *task;
	int ret;

	KUNIT_ASSERT_NOT_NULL(test, st);
	pc = kzalloc(sizeof(*pc), GFP_KERNEL);	/* freed once the thread is done */
	KUNIT_ASSERT_NOT_NULL(test, pc);
	pc->heap = test_heap_new("kunit-fin-pending-charge");
	if (IS_ERR(pc->heap)) {
		KUNIT_FAIL(test, "heap: %ld", PTR_ERR(pc->heap));
		kfree(pc);
		return;
	}
	init_completion(&pc->done);
	ct = test_kept_spans_at_limit(pc->heap, st);
	if (!ct || ct->nempty <= SHP_KEEP_EMPTY_SPANS + 8) {
		KUNIT_FAIL(test, "no empty spans kept at the limit");
		goto out;
	}

	spanheap_enter(pc->heap);
	task = kthread_run(pending_cycle_thread, pc, "spanheap-pending");
	if (IS_ERR(task)) {
		spanheap_exit(pc->heap);
		KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(task));
		goto out;
	}
	while (!mutex_is_locked(&pc->heap->gc_lock) && time_before(jiffies, deadline))
		usleep_range(100, 200);
	KUNIT_EXPECT_TRUE(test, mutex_is_locked(&pc->heap->gc_lock));
	ret = spanheap_charge(pc->heap, 64 << 10);
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_EXPECT_LE(test, ct->nempty, SHP_KEEP_EMPTY_SPANS);
	spanheap_exit(pc->heap);
	if (!test_wait_done(test, &pc->done, 60))
		return;
	if (!ret)
		spanheap_uncharge(pc->heap, 64 << 10);
out:
	spanheap_set_limit(pc->heap, 0);
	spanheap_destroy(pc->heap);
	kfree(pc);
}

/* The first finalizer to run waits until its heap is being destroyed. */
struct dying_wait {
	struct spanheap *heap;
	atomic_t ran;
	bool saw_dying;
	struct completion first;
};

static void fin_until_dying(struct spanheap *heap, void *obj, void *arg)
{
	struct dying_wait *dw = arg;
	unsigned long deadline = jiffies + 10 * HZ;

	if (atomic_inc_return(&dw->ran) != 1)
		return;
	complete(&dw->first);
	while (!READ_ONCE(heap->dying) && time_before(jiffies, deadline))
		usleep_range(100, 200);
	dw->saw_dying = READ_ONCE(heap->dying);
}

/*
 * A finalizer worker already running when the heap is destroyed finishes
 * its batch and stops: the rest of the queue is dropped, as documented
 * and as cleanups are (it used to run the whole queue).
 */
static void destroy_stops_running_finalizer_worker(struct kunit *test)
{
	struct dying_wait *dw = kunit_kzalloc(test, sizeof(*dw), GFP_KERNEL);
	struct spanheap *heap = test_heap_new("kunit-fin-destroy-run");
	int i;

	KUNIT_ASSERT_NOT_NULL(test, dw);
	KUNIT_ASSERT_FALSE(test, IS_ERR(heap));
	init_completion(&dw->first);
	spanheap_enter(heap);
	for (i = 0; i < 500; i++) {
		struct node *n = spanheap_alloc(heap, sizeof(*n), 0);

		SECTION_ASSERT_NOT_NULL(test, heap, n);
		SECTION_ASSERT_EQ(test, heap, spanheap_set_finalizer(heap, n, fin_until_dying, dw), 0);
	}
	spanheap_exit(heap);
	spanheap_collect(heap);		/* all 500 due at once */
	KUNIT_EXPECT_NE(test, wait_for_completion_timeout(&dw->first, 10 * HZ), 0UL);
	spanheap_destroy(heap);
	KUNIT_EXPECT_TRUE(test, dw->saw_dying);
	KUNIT_EXPECT_GE(test, atomic_read(&dw->ran), 1);
	KUNIT_EXPECT_LE(test, atomic_read(&dw->ran), 32);
}

/* Entries over two queue blocks: the first full, the second not. */
#define NQUEUED	(SHP_FINBLOCK_ENTRIES + 2)

/*
 * Queued finalizers' objects and contexts are roots until they ran
 * (Go's finq is scanned): queued as a sweep would, each reachable from
 * its entry alone, all survive a cycle, and the next one after the
 * worker ran them frees them.
 */
static void queued_finalizers_are_roots(struct kunit *test)
{
	struct ctx *c = test->priv;
	struct node **v = kunit_kcalloc(test, 2 * NQUEUED, sizeof(*v), GFP_KERNEL);
	unsigned int i, n = 0;
	bool queued = true;

	KUNIT_ASSERT_NOT_NULL(test, v);
	spanheap_set_gc_percent(c->heap, -1);
	spanheap_enter(c->heap);
	for (i = 0; i < 2 * NQUEUED; i++)
		v[i] = node(test, i, false);
	spin_lock(&c->heap->fin_lock);
	for (i = 0; i < NQUEUED; i++)
		queued &= shp_queue_finalizer(c->heap, v[2 * i], nop_fin, v[2 * i + 1]);
	spin_unlock(&c->heap->fin_lock);
	spanheap_exit(c->heap);
	KUNIT_ASSERT_TRUE(test, queued);
	spanheap_collect(c->heap);	/* wakes the worker after its mark */
	for (i = 0; i < 2 * NQUEUED; i++)
		n += alive(c, v[i]);
	KUNIT_EXPECT_EQ(test, n, 2 * NQUEUED);
	spanheap_wait_finalizers(c->heap);
	collect_and_wait(c);		/* they ran: now nothing holds them */
	for (i = 0, n = 0; i < 2 * NQUEUED; i++)
		n += alive(c, v[i]);
	KUNIT_EXPECT_EQ(test, n, 0);
}

/*
 * One rooted object pointing to more objects than the mark stack holds:
 * the overflow must be recovered by rescanning, losing nothing.
 */
static void mark_stack_overflow_loses_nothing(struct kunit *test)
{
	struct ctx *c = test->priv;
	const unsigned int n = 3 * SHP_GRAY_ENTRIES;
	struct node **fan, *data;
	void *root = NULL;
	unsigned int i, alive_after = 0;

	KUNIT_ASSERT_EQ(test, spanheap_root_add(c->heap, &root), 0);
	spanheap_enter(c->heap);
	fan = spanheap_alloc(c->heap, n * sizeof(*fan), 0);
	SECTION_ASSERT_NOT_NULL(test, c->heap, fan);
	for (i = 0; i < n; i++) {
		fan[i] = node(test, i, i % 64 == 0);	/* some with finalizers */
		fan[i]->next[0] = node(test, n + i, false);	/* and a child each */
	}
	/* The rescans pass over NOSCAN spans too, without reading them. */
	data = spanheap_alloc(c->heap, sizeof(*data), SPANHEAP_NOSCAN);
	SECTION_ASSERT_NOT_NULL(test, c->heap, data);
	fan[n - 1]->next[1] = data;
	root = fan;
	spanheap_exit(c->heap);
	collect_and_wait(c);
	KUNIT_EXPECT_EQ(test, logged(c), 0);
	spanheap_enter(c->heap);
	for (i = 0; i < n; i++)
		alive_after += alive(c, fan[i]) && alive(c, fan[i]->next[0]);
	KUNIT_EXPECT_TRUE(test, alive(c, data));
	spanheap_exit(c->heap);
	KUNIT_EXPECT_EQ(test, alive_after, n);
	root = NULL;
	collect_and_wait(c);
	KUNIT_EXPECT_EQ(test, logged(c), n / 64);
	KUNIT_EXPECT_EQ(test, spanheap_root_remove(c->heap, &root), 0);
}

/* gctrace: the per-cycle line is printed (its formatting runs under KASAN). */
static void gctrace_cycle(struct kunit *test)
{
	struct ctx *c = test->priv;
	bool old = shp_gctrace;

	spanheap_enter(c->heap);
	node(test, 1, true);
	spanheap_exit(c->heap);
	WRITE_ONCE(shp_gctrace, true);
	collect_and_wait(c);
	WRITE_ONCE(shp_gctrace, old);
	KUNIT_EXPECT_EQ(test, logged(c), 1);
}

/*
 * Every cycle's pause is counted: the last one, the longest, and their
 * sum, which grows by exactly the last pause per cycle.
 */
static void pause_counted(struct kunit *test)
{
	struct ctx *c = test->priv;
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	u64 total = 0, max = 0;
	int i;

	KUNIT_ASSERT_NOT_NULL(test, st);
	spanheap_read_stats(c->heap, st);
	KUNIT_EXPECT_EQ(test, st->pause_total_ns, 0ULL);
	spanheap_enter(c->heap);
	node(test, 1, true);
	spanheap_exit(c->heap);
	for (i = 0; i < 3; i++) {
		spanheap_collect(c->heap);
		spanheap_read_stats(c->heap, st);
		KUNIT_EXPECT_GT(test, st->pause_last_ns, 0ULL);
		total += st->pause_last_ns;
		max = max(max, st->pause_last_ns);
		KUNIT_EXPECT_EQ(test, st->pause_total_ns, total);
		KUNIT_EXPECT_EQ(test, st->pause_max_ns, max);
	}
	KUNIT_EXPECT_EQ(test, st->collections, 3ULL);
}

struct scan_roots {
	void *objs[4];
	unsigned int calls;
};

static void scan_roots(struct spanheap *heap, void *arg)
{
	struct scan_roots *r = arg;
	int local;
	unsigned int i;

	r->calls++;
	for (i = 0; i < ARRAY_SIZE(r->objs); i++)
		spanheap_mark_root(heap, r->objs[i]);
	/* Values that are no heap pointers are ignored. */
	spanheap_mark_root(heap, NULL);
	spanheap_mark_root(heap, &local);
	spanheap_mark_root(heap, (void *)~0UL);
}

/* An owner's root-scan callback reports roots, interior pointers too. */
static void root_scan_reports_roots(struct kunit *test)
{
	struct ctx *c = test->priv;
	struct scan_roots *r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, r);
	spanheap_enter(c->heap);
	for (i = 0; i < ARRAY_SIZE(r->objs); i++)
		r->objs[i] = node(test, i + 1, true);
	spanheap_exit(c->heap);
	r->objs[3] = (char *)r->objs[3] + 16;	/* interior */
	spanheap_set_root_scan(c->heap, scan_roots, r);
	collect_and_wait(c);
	collect_and_wait(c);
	KUNIT_EXPECT_EQ(test, r->calls, 2);
	KUNIT_EXPECT_EQ(test, logged(c), 0);
	for (i = 0; i < ARRAY_SIZE(r->objs); i++)
		KUNIT_EXPECT_NOT_NULL(test, spanheap_object_base(c->heap, r->objs[i], NULL));
	/* One dropped from the callback's set: finalized alone. */
	r->objs[0] = NULL;
	collect_and_wait(c);
	KUNIT_ASSERT_EQ(test, logged(c), 1);
	KUNIT_EXPECT_EQ(test, c->log.ids[0], 1);
	spanheap_set_root_scan(c->heap, NULL, NULL);
	collect_and_wait(c);
	KUNIT_EXPECT_EQ(test, r->calls, 3);
	KUNIT_EXPECT_EQ(test, logged(c), 4);
}

/*
 * spanheap_take_finalizer() hands back the context and the finalizer
 * never runs; every error leaves the object as it was.
 */
static void take_finalizer_returns_context(struct kunit *test)
{
	struct ctx *c = test->priv;
	struct node *a, *b;
	struct shp_span *s;
	void *big, *ctx = NULL;
	int local;

	spanheap_enter(c->heap);
	a = node(test, 1, true);
	b = node(test, 2, true);
	big = spanheap_alloc(c->heap, 40000, 0);
	SECTION_ASSERT_NOT_NULL(test, c->heap, big);
	KUNIT_EXPECT_EQ(test, spanheap_take_finalizer(c->heap, a, &ctx), 0);
	KUNIT_EXPECT_PTR_EQ(test, ctx, (void *)&c->log);
	ctx = NULL;
	KUNIT_EXPECT_EQ(test, spanheap_take_finalizer(c->heap, a, &ctx), -ENOENT);
	KUNIT_EXPECT_EQ(test, spanheap_take_finalizer(c->heap, (char *)b + 8, &ctx), -EINVAL);
	KUNIT_EXPECT_EQ(test, spanheap_take_finalizer(c->heap, &local, &ctx), -EFAULT);
	/* A span that never had a record has no records array at all. */
	KUNIT_EXPECT_EQ(test, spanheap_take_finalizer(c->heap, big, &ctx), -ENOENT);
	KUNIT_EXPECT_NULL(test, ctx);
	rcu_read_lock();
	s = shp_pagemap_lookup(big);
	rcu_read_unlock();
	SECTION_ASSERT_NOT_NULL(test, c->heap, s);
	KUNIT_EXPECT_NULL(test, READ_ONCE(s->specials));
	spin_lock(&s->speciallock);
	KUNIT_EXPECT_NULL(test, shp_special_find(s, 0, 0, SPANHEAP_SPECIAL_PIN));
	shp_special_free_object(s, 0);
	spin_unlock(&s->speciallock);
	KUNIT_EXPECT_EQ(test, s->nspecials, 0);
	spanheap_exit(c->heap);

	collect_and_wait(c);
	KUNIT_ASSERT_EQ(test, logged(c), 1);	/* only b's */
	KUNIT_EXPECT_EQ(test, c->log.ids[0], 2);
}

/*
 * At the heap's limit, records and owner charges are refused with
 * -ENOMEM and nothing changes, but a second finalizer is still refused
 * with -EEXIST; raising the limit makes them work.
 */
static void records_refused_at_limit(struct kunit *test)
{
	struct ctx *c = test->priv;
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	struct spanheap_stats *st2 = kunit_kzalloc(test, sizeof(*st2), GFP_KERNEL);
	struct node *a, *b;
	void *other;
	int local;

	KUNIT_ASSERT_NOT_NULL(test, st);
	KUNIT_ASSERT_NOT_NULL(test, st2);
	spanheap_enter(c->heap);
	migrate_disable();	/* a and b from one CPU cache: one span */
	a = node_or_null(c, 1, false);
	b = node_or_null(c, 2, false);
	PINNED_ASSERT_NOT_NULL(test, c->heap, a);
	PINNED_ASSERT_NOT_NULL(test, c->heap, b);
	migrate_enable();
	other = spanheap_alloc(c->heap, 2000, 0);	/* another span, no records */
	SECTION_ASSERT_NOT_NULL(test, c->heap, other);
	SECTION_ASSERT_EQ(test, c->heap, spanheap_pin(c->heap, a), 0);	/* a's span: array */
	SECTION_ASSERT_EQ(test, c->heap, spanheap_set_finalizer(c->heap, a, log_fin, &c->log), 0);
	spanheap_read_stats(c->heap, st);
	spanheap_set_limit(c->heap, st->bytes_reserved + st->bytes_meta);
	KUNIT_EXPECT_EQ(test, spanheap_pin(c->heap, b), -ENOMEM);
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(c->heap, b, log_fin, &c->log), -ENOMEM);
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(c->heap, a, log_fin, &c->log), -EEXIST);
	KUNIT_EXPECT_EQ(test, shp_finalizer_check(c->heap, a), -EEXIST);
	KUNIT_EXPECT_EQ(test, shp_finalizer_check(c->heap, b), 0);
	KUNIT_EXPECT_EQ(test, shp_finalizer_check(c->heap, other), 0);	/* no array made */
	KUNIT_EXPECT_EQ(test, spanheap_pin(c->heap, other), -ENOMEM);
	KUNIT_EXPECT_EQ(test, spanheap_charge(c->heap, 1), -ENOMEM);
	KUNIT_EXPECT_EQ(test, spanheap_unpin(c->heap, &local), -EFAULT);
	spanheap_read_stats(c->heap, st2);
	KUNIT_EXPECT_EQ(test, st2->limit, st->bytes_reserved + st->bytes_meta);
	KUNIT_EXPECT_EQ(test, st2->bytes_meta, st->bytes_meta);
	KUNIT_EXPECT_EQ(test, st2->specials[SPANHEAP_SPECIAL_PIN], 1);
	KUNIT_EXPECT_EQ(test, st2->specials[SPANHEAP_SPECIAL_FINALIZER], 1);

	spanheap_set_limit(c->heap, 0);
	KUNIT_EXPECT_EQ(test, spanheap_charge(c->heap, 4096), 0);
	spanheap_read_stats(c->heap, st2);
	KUNIT_EXPECT_EQ(test, st2->bytes_meta, st->bytes_meta + 4096);
	spanheap_uncharge(c->heap, 4096);
	KUNIT_EXPECT_EQ(test, spanheap_pin(c->heap, b), 0);
	KUNIT_EXPECT_EQ(test, spanheap_pin(c->heap, other), 0);
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(c->heap, b, log_fin, &c->log), 0);
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(c->heap, a, NULL, NULL), 0);
	KUNIT_EXPECT_EQ(test, spanheap_unpin(c->heap, a), 0);
	KUNIT_EXPECT_EQ(test, spanheap_unpin(c->heap, b), 0);
	KUNIT_EXPECT_EQ(test, spanheap_unpin(c->heap, other), 0);
	spanheap_exit(c->heap);
	collect_and_wait(c);
	KUNIT_EXPECT_EQ(test, logged(c), 1);
	/* spanheap_destroy() warns unless every charge was given back. */
}

/* Root slots beyond the table's first size; removing one drops its referent. */
static void many_root_slots(struct kunit *test)
{
	struct ctx *c = test->priv;
	const unsigned int n = 40;
	void **slots = kunit_kcalloc(test, n, sizeof(*slots), GFP_KERNEL);
	unsigned int i, kept = 0;

	KUNIT_ASSERT_NOT_NULL(test, slots);
	spanheap_enter(c->heap);
	for (i = 0; i < n; i++)
		slots[i] = node(test, i, true);
	spanheap_exit(c->heap);
	for (i = 0; i < n; i++)
		KUNIT_ASSERT_EQ(test, spanheap_root_add(c->heap, &slots[i]), 0);
	KUNIT_EXPECT_EQ(test, spanheap_root_add(c->heap, &slots[n / 2]), -EEXIST);
	collect_and_wait(c);
	KUNIT_EXPECT_EQ(test, logged(c), 0);
	for (i = 0; i < n; i += 2)
		KUNIT_EXPECT_EQ(test, spanheap_root_remove(c->heap, &slots[i]), 0);
	collect_and_wait(c);
	KUNIT_EXPECT_EQ(test, logged(c), n / 2);
	for (i = 0; i < LOG_MAX && i < logged(c); i++)
		kept += c->log.ids[i] % 2;
	KUNIT_EXPECT_EQ(test, kept, 0);		/* only the even ones ran */
	for (i = 1; i < n; i += 2)
		KUNIT_EXPECT_EQ(test, spanheap_root_remove(c->heap, &slots[i]), 0);
	collect_and_wait(c);
	KUNIT_EXPECT_EQ(test, logged(c), n);
}

/* After @cycles more collections, none of @v[0 .. @n) is allocated. */
static void expect_collected(struct kunit *test, struct ctx *c, struct node **v,
			     unsigned int n, int cycles)
{
	unsigned int i, left = 0;

	while (cycles--)
		collect_and_wait(c);
	spanheap_enter(c->heap);
	for (i = 0; i < n; i++)
		left += alive(c, v[i]);
	spanheap_exit(c->heap);
	KUNIT_EXPECT_EQ(test, left, 0U);
}

/*
 * More pinned objects than half the mark stack: marking drains the
 * stack between spans of pins, and every pinned object's referent
 * stays.
 */
static void many_pins_drain_mark_stack(struct kunit *test)
{
	struct ctx *c = test->priv;
	const unsigned int n = SHP_GRAY_ENTRIES / 2 + 256;
	struct node **pinned = kunit_kcalloc(test, n, sizeof(*pinned), GFP_KERNEL);
	unsigned int i, kept = 0;

	KUNIT_ASSERT_NOT_NULL(test, pinned);
	spanheap_enter(c->heap);
	for (i = 0; i < n; i++) {
		pinned[i] = node(test, i, false);
		pinned[i]->next[0] = node(test, n + i, false);
		SECTION_ASSERT_EQ(test, c->heap, spanheap_pin(c->heap, pinned[i]), 0);
	}
	node(test, 2 * n, true);	/* garbage */
	spanheap_exit(c->heap);
	collect_and_wait(c);
	KUNIT_EXPECT_EQ(test, logged(c), 1);
	spanheap_enter(c->heap);
	for (i = 0; i < n; i++) {
		kept += alive(c, pinned[i]) && alive(c, pinned[i]->next[0]);
		KUNIT_EXPECT_EQ(test, spanheap_unpin(c->heap, pinned[i]), 0);
	}
	spanheap_exit(c->heap);
	KUNIT_EXPECT_EQ(test, kept, n);
	expect_collected(test, c, pinned, n, 2);	/* the pins, then their referents */
}

/*
 * More unreachable finalizable objects than half the mark stack, each
 * with a child: scanning their referents drains the stack between
 * bitmap words, and every child survives the cycle that finalizes its
 * parent.
 */
static void many_finalizers_drain_mark_stack(struct kunit *test)
{
	struct ctx *c = test->priv;
	const unsigned int n = SHP_GRAY_ENTRIES / 2 + 256;
	struct node **child = kunit_kcalloc(test, n, sizeof(*child), GFP_KERNEL);
	unsigned int i, kept = 0;

	KUNIT_ASSERT_NOT_NULL(test, child);
	spanheap_enter(c->heap);
	for (i = 0; i < n; i++) {
		struct node *parent = node(test, i, true);

		child[i] = node(test, n + i, false);
		parent->next[0] = child[i];
	}
	spanheap_exit(c->heap);
	collect_and_wait(c);
	KUNIT_EXPECT_EQ(test, logged(c), n);
	spanheap_enter(c->heap);
	for (i = 0; i < n; i++)
		kept += alive(c, child[i]);
	spanheap_exit(c->heap);
	KUNIT_EXPECT_EQ(test, kept, n);
	expect_collected(test, c, child, n, 1);
}

/*
 * Roots holding a pointer into a released span's old pages (inside the
 * heap's address range) or into a span's tail keep nothing alive: the
 * last object before the tail is finalized.
 */
static void stale_and_tail_roots_keep_nothing(struct kunit *test)
{
	struct ctx *c = test->priv;
	unsigned int cl = shp_size_to_class(48), n = shp_size_classes[cl].nelems, i;
	void **objs = kunit_kcalloc(test, n, sizeof(*objs), GFP_KERNEL);
	void *stale = NULL, *tail = NULL, *x, *y;
	struct shp_span *s;
	unsigned long last;

	KUNIT_ASSERT_NOT_NULL(test, objs);
	KUNIT_ASSERT_EQ(test, spanheap_root_add(c->heap, &stale), 0);
	KUNIT_ASSERT_EQ(test, spanheap_root_add(c->heap, &tail), 0);
	spanheap_enter(c->heap);
	x = spanheap_alloc(c->heap, 40000, 0);
	y = spanheap_alloc(c->heap, 40000, 0);
	SECTION_ASSERT_NOT_NULL(test, c->heap, x);
	SECTION_ASSERT_NOT_NULL(test, c->heap, y);
	migrate_disable();	/* one CPU cache: one span, filled */
	for (i = 0; i < n; i++) {
		objs[i] = spanheap_alloc(c->heap, 48, 0);
		PINNED_ASSERT_NOT_NULL(test, c->heap, objs[i]);
	}
	migrate_enable();
	rcu_read_lock();
	s = shp_pagemap_lookup(objs[0]);
	rcu_read_unlock();
	SECTION_ASSERT_NOT_NULL(test, c->heap, s);
	last = s->base + (n - 1) * s->elemsize;
	for (i = 0; i < n; i++) {
		SECTION_ASSERT_PTR_EQ(test, c->heap, spanheap_object_base(c->heap, objs[i], NULL), objs[i]);
		SECTION_ASSERT_TRUE(test, c->heap, (unsigned long)objs[i] - s->base < s->bytes);
	}
	SECTION_ASSERT_LT(test, c->heap, n * s->elemsize, s->bytes);	/* the class has a tail */
	((struct node *)last)->id = 48;
	SECTION_ASSERT_EQ(test, c->heap, spanheap_set_finalizer(c->heap, (void *)last, log_fin,
						     &c->log), 0);
	tail = (void *)(s->base + n * s->elemsize);
	KUNIT_EXPECT_EQ(test, spanheap_free(c->heap, x), 0);
	stale = (char *)x + 64;
	spanheap_exit(c->heap);

	collect_and_wait(c);
	KUNIT_ASSERT_EQ(test, logged(c), 1);
	KUNIT_EXPECT_EQ(test, c->log.ids[0], 48);
	collect_and_wait(c);
	KUNIT_EXPECT_NULL(test, spanheap_object_base(c->heap, (void *)last, NULL));
	KUNIT_EXPECT_NULL(test, spanheap_object_base(c->heap, y, NULL));
	KUNIT_EXPECT_EQ(test, spanheap_root_remove(c->heap, &stale), 0);
	KUNIT_EXPECT_EQ(test, spanheap_root_remove(c->heap, &tail), 0);
}

/* An explicit free drops the object's pin and finalizer: it never runs. */
static void explicit_free_drops_records(struct kunit *test)
{
	struct ctx *c = test->priv;
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	struct node *a, *b;

	KUNIT_ASSERT_NOT_NULL(test, st);
	spanheap_enter(c->heap);
	migrate_disable();	/* a is freed by the CPU whose cache owns its span */
	a = node_or_null(c, 1, true);
	b = node_or_null(c, 2, true);
	PINNED_ASSERT_NOT_NULL(test, c->heap, a);
	PINNED_ASSERT_NOT_NULL(test, c->heap, b);
	PINNED_ASSERT_EQ(test, c->heap, spanheap_pin(c->heap, a), 0);
	spanheap_read_stats(c->heap, st);
	KUNIT_EXPECT_EQ(test, st->specials[SPANHEAP_SPECIAL_FINALIZER], 2);
	KUNIT_EXPECT_EQ(test, st->specials[SPANHEAP_SPECIAL_PIN], 1);
	KUNIT_EXPECT_EQ(test, spanheap_free(c->heap, a), 0);
	migrate_enable();
	spanheap_read_stats(c->heap, st);
	KUNIT_EXPECT_EQ(test, st->specials[SPANHEAP_SPECIAL_FINALIZER], 1);
	KUNIT_EXPECT_EQ(test, st->specials[SPANHEAP_SPECIAL_PIN], 0);
	spanheap_drain(c->heap);	/* b's span is central now */
	KUNIT_EXPECT_EQ(test, spanheap_free(c->heap, b), 0);
	spanheap_read_stats(c->heap, st);
	KUNIT_EXPECT_EQ(test, st->specials[SPANHEAP_SPECIAL_FINALIZER], 0);
	KUNIT_EXPECT_EQ(test, st->objects_in_use, 0);
	spanheap_exit(c->heap);
	collect_and_wait(c);
	collect_and_wait(c);
	KUNIT_EXPECT_EQ(test, logged(c), 0);
}

static struct kunit_case fin_cases[] = {
	KUNIT_CASE(chain_finalized_in_order),
	KUNIT_CASE(diamond),
	KUNIT_CASE(cycle_never_finalized),
	KUNIT_CASE(self_reference_never_finalized),
	KUNIT_CASE(resurrection_and_reregistration),
	KUNIT_CASE(removed_finalizer_does_not_run),
	KUNIT_CASE(error_cases),
	KUNIT_CASE(interior_pointers_keep_alive),
	KUNIT_CASE(noscan_does_not_keep_alive),
	KUNIT_CASE(roots_and_pins_are_never_finalized),
	KUNIT_CASE(holders_keep_finalizers_in_any_span_order),
	KUNIT_CASE(allocated_during_cycle_survive),
	KUNIT_CASE(finalizer_runs_once_in_worker),
	KUNIT_CASE(pacing_triggers_collection),
	KUNIT_CASE(paced_cycle_retests_trigger),
	KUNIT_CASE(paced_cycle_sweeps_first),
	KUNIT_CASE(memory_limit),
	KUNIT_CASE(memory_limit_large),
	KUNIT_CASE(large_at_limit_makes_room),
	KUNIT_CASE(charge_at_limit_gives_back_kept_spans),
	KUNIT_CASE(charge_that_cannot_fit_refused),
	KUNIT_CASE(charge_beside_cycles_walk),
	KUNIT_CASE(charge_in_section_beside_pending_cycle),
	KUNIT_CASE(records_at_limit_give_back_kept_spans),
	KUNIT_CASE(large_at_limit_after_uncharging_cleanup),
	KUNIT_CASE(explicit_cycle_answers_limit_failure),
	KUNIT_CASE(destroy_with_queued_finalizers),
	KUNIT_CASE(destroy_stops_running_finalizer_worker),
	KUNIT_CASE(queued_finalizers_are_roots),
	KUNIT_CASE(mark_stack_overflow_loses_nothing),
	KUNIT_CASE(gctrace_cycle),
	KUNIT_CASE(pause_counted),
	KUNIT_CASE(root_scan_reports_roots),
	KUNIT_CASE(take_finalizer_returns_context),
	KUNIT_CASE(records_refused_at_limit),
	KUNIT_CASE(many_root_slots),
	KUNIT_CASE(many_pins_drain_mark_stack),
	KUNIT_CASE(many_finalizers_drain_mark_stack),
	KUNIT_CASE(stale_and_tail_roots_keep_nothing),
	KUNIT_CASE(explicit_free_drops_records),
	{}
};

static struct kunit_suite fin_suite = {
	.name = "spanheap_finalizer",
	.init = fin_init,
	.exit = fin_exit,
	.test_cases = fin_cases,
};

kunit_test_suites(&fin_suite);
