// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: cleanups (Go 1.24's runtime.AddCleanup, Cleanup.Stop; Go 1.25
 * runs them on several goroutines).  Go 1.19, the Go on this machine,
 * predates cleanups: the expected behaviour is taken from the rules
 * documented in Go's runtime/mcleanup.go:
 *   - the object is freed by the cycle that finds it unreachable, and the
 *     cleanup gets its argument, never the object;
 *   - ptr == arg is refused (Go panics: the cleanup could never run);
 *   - many cleanups per object, run in no order, cycles included;
 *   - Stop cancels, and does nothing once the cleanup is queued;
 *   - with a finalizer, cleanups run after it and after the object was
 *     found unreachable again;
 *   - arg keeps what it references alive.
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/err.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include "test_heap.h"

struct node {
	struct node *next[2];
	unsigned long id;
};

/* What cleanups saw: a count per argument slot, and who ran them. */
struct runs {
	atomic_t n[8];
	atomic_t total;
	struct spanheap *heap;
};

static void count_cleanup(struct spanheap *heap, void *arg)
{
	atomic_t *slot = arg;

	atomic_inc(slot);
}

static int cu_init(struct kunit *test)
{
	return test_heap_init(test, "kunit-cleanup", 0);
}

static void cu_exit(struct kunit *test)
{
	test_heap_exit(test, 0);
}

static struct node *node(struct kunit *test, unsigned long id)
{
	struct node *n = spanheap_alloc(test->priv, sizeof(*n), 0);

	SECTION_ASSERT_NOT_NULL(test, test->priv, n);
	n->id = id;
	return n;
}

static void collect_and_wait(struct spanheap *heap)
{
	spanheap_collect(heap);
	spanheap_wait_finalizers(heap);
	spanheap_wait_cleanups(heap);
}

static bool alive(struct spanheap *heap, void *obj)
{
	return spanheap_object_base(heap, obj, NULL) == obj;
}

static struct spanheap_stats *stats(struct kunit *test)
{
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, st);
	spanheap_read_stats(test->priv, st);
	return st;
}

/* Runs once, after the object is unreachable, with its argument. */
static void runs_once_when_unreachable(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct runs *r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	struct node *a, *root = NULL;
	s64 id;

	KUNIT_ASSERT_NOT_NULL(test, r);
	KUNIT_ASSERT_EQ(test, spanheap_root_add(heap, (void **)&root), 0);
	spanheap_enter(heap);
	a = node(test, 1);
	id = spanheap_add_cleanup(heap, a, count_cleanup, &r->n[0]);
	KUNIT_EXPECT_GT(test, id, 0);
	root = a;
	spanheap_exit(heap);

	collect_and_wait(heap);
	KUNIT_EXPECT_EQ(test, atomic_read(&r->n[0]), 0);	/* rooted */
	KUNIT_EXPECT_TRUE(test, alive(heap, a));
	WRITE_ONCE(root, NULL);
	collect_and_wait(heap);
	KUNIT_EXPECT_EQ(test, atomic_read(&r->n[0]), 1);
	KUNIT_EXPECT_FALSE(test, alive(heap, a));	/* freed by that cycle */
	collect_and_wait(heap);
	KUNIT_EXPECT_EQ(test, atomic_read(&r->n[0]), 1);
	KUNIT_EXPECT_EQ(test, stats(test)->cleanups_queued, 1);
	KUNIT_EXPECT_EQ(test, stats(test)->cleanups_executed, 1);
	KUNIT_EXPECT_EQ(test, stats(test)->specials[SPANHEAP_SPECIAL_CLEANUP], 0);
	spanheap_root_remove(heap, (void **)&root);
}

/* Several per object, ids distinct; a cycle A <-> B is collected. */
static void many_per_object_and_cycles(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct runs *r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	struct node *a, *b;
	s64 ids[3];
	int i;

	KUNIT_ASSERT_NOT_NULL(test, r);
	spanheap_enter(heap);
	a = node(test, 1);
	b = node(test, 2);
	a->next[0] = b;
	b->next[0] = a;
	for (i = 0; i < 3; i++)
		ids[i] = spanheap_add_cleanup(heap, a, count_cleanup, &r->n[i]);
	KUNIT_EXPECT_GT(test, ids[0], 0);
	KUNIT_EXPECT_NE(test, ids[0], ids[1]);
	KUNIT_EXPECT_NE(test, ids[1], ids[2]);
	KUNIT_EXPECT_GT(test, spanheap_add_cleanup(heap, b, count_cleanup, &r->n[3]), 0);
	/* Interior pointers name (object, offset), as in Go. */
	ids[0] = spanheap_add_cleanup(heap, &b->id, count_cleanup, &r->n[4]);
	KUNIT_EXPECT_GT(test, ids[0], 0);
	KUNIT_EXPECT_EQ(test, spanheap_stop_cleanup(heap, b, ids[0]), -ENOENT);
	KUNIT_EXPECT_EQ(test, spanheap_stop_cleanup(heap, &b->id, ids[0]), 0);
	KUNIT_EXPECT_GT(test, spanheap_add_cleanup(heap, &b->id, count_cleanup, &r->n[5]), 0);
	spanheap_exit(heap);
	KUNIT_EXPECT_EQ(test, stats(test)->specials[SPANHEAP_SPECIAL_CLEANUP], 5);

	collect_and_wait(heap);
	KUNIT_EXPECT_EQ(test, atomic_read(&r->n[4]), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&r->n[5]), 1);
	for (i = 0; i < 4; i++)
		KUNIT_EXPECT_EQ(test, atomic_read(&r->n[i]), 1);
	KUNIT_EXPECT_FALSE(test, alive(heap, a));
	KUNIT_EXPECT_FALSE(test, alive(heap, b));
}

/* Bad input: an errno, and nothing added. */
static void bad_input_changes_nothing(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct spanheap *other = test_heap_new("kunit-cleanup2");
	atomic_t n = ATOMIC_INIT(0);
	struct node *a, *o;
	long local;

	KUNIT_ASSERT_FALSE(test, IS_ERR(other));
	spanheap_enter(other);
	o = spanheap_alloc(other, sizeof(*o), 0);
	spanheap_exit(other);
	KUNIT_ASSERT_NOT_NULL(test, o);
	spanheap_enter(heap);
	a = node(test, 1);
	KUNIT_EXPECT_EQ(test, spanheap_add_cleanup(heap, a, count_cleanup, a), -EINVAL);
	KUNIT_EXPECT_EQ(test, spanheap_add_cleanup(heap, a, NULL, &n), -EINVAL);
	KUNIT_EXPECT_EQ(test, spanheap_add_cleanup(heap, (u8 *)a +
						   spanheap_class_size(sizeof(*a)),
						   count_cleanup, &n), -EINVAL);	/* a free slot */
	KUNIT_EXPECT_EQ(test, spanheap_add_cleanup(heap, &local, count_cleanup, &n), -EFAULT);
	KUNIT_EXPECT_EQ(test, spanheap_add_cleanup(heap, o, count_cleanup, &n), -EFAULT);
	KUNIT_EXPECT_EQ(test, spanheap_add_cleanup(heap, NULL, count_cleanup, &n), -EFAULT);
	KUNIT_EXPECT_EQ(test, spanheap_stop_cleanup(heap, a, 1), -ENOENT);
	KUNIT_EXPECT_EQ(test, spanheap_stop_cleanup(heap, &local, 1), -EFAULT);
	spanheap_exit(heap);
	KUNIT_EXPECT_EQ(test, stats(test)->specials[SPANHEAP_SPECIAL_CLEANUP], 0);
	spanheap_destroy(other);
}

/* Stop before the object dies: it never runs; a second Stop is -ENOENT. */
static void stop_before_queueing(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct runs *r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	struct node *a;
	s64 keep, stop;

	KUNIT_ASSERT_NOT_NULL(test, r);
	spanheap_enter(heap);
	a = node(test, 1);
	stop = spanheap_add_cleanup(heap, a, count_cleanup, &r->n[0]);
	keep = spanheap_add_cleanup(heap, a, count_cleanup, &r->n[1]);
	KUNIT_EXPECT_EQ(test, spanheap_stop_cleanup(heap, a, keep + 100), -ENOENT);
	KUNIT_EXPECT_EQ(test, spanheap_stop_cleanup(heap, a, stop), 0);
	KUNIT_EXPECT_EQ(test, spanheap_stop_cleanup(heap, a, stop), -ENOENT);
	spanheap_exit(heap);

	collect_and_wait(heap);
	KUNIT_EXPECT_EQ(test, atomic_read(&r->n[0]), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&r->n[1]), 1);
}

struct gate {
	struct completion started;
	struct completion release;
	atomic_t ran;
};

static void gated_cleanup(struct spanheap *heap, void *arg)
{
	struct gate *g = arg;

	complete(&g->started);
	wait_for_completion_timeout(&g->release, 20 * HZ);
	atomic_inc(&g->ran);
}

/* Once queued, Stop has no effect: the cleanup still runs. */
static void stop_after_queueing(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct gate *g = kunit_kzalloc(test, sizeof(*g), GFP_KERNEL);
	struct node *a;
	s64 id;

	KUNIT_ASSERT_NOT_NULL(test, g);
	init_completion(&g->started);
	init_completion(&g->release);
	spanheap_enter(heap);
	a = node(test, 1);
	id = spanheap_add_cleanup(heap, a, gated_cleanup, g);
	spanheap_exit(heap);
	spanheap_collect(heap);
	KUNIT_ASSERT_NE(test, wait_for_completion_timeout(&g->started, 20 * HZ), 0);
	spanheap_enter(heap);
	/* The object is gone: Stop cannot name it any more. */
	KUNIT_EXPECT_LT(test, spanheap_stop_cleanup(heap, a, id), 0);
	node(test, 2);		/* the running cleanup holds up no section */
	spanheap_exit(heap);
	spanheap_collect(heap);	/* nor a collection */
	complete(&g->release);
	spanheap_wait_cleanups(heap);
	KUNIT_EXPECT_EQ(test, atomic_read(&g->ran), 1);
}

static void log_fin(struct spanheap *heap, void *obj, void *arg)
{
	atomic_inc(arg);
}

/* With a finalizer: it runs first, cleanups after a further cycle. */
static void after_finalizer(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct runs *r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	struct node *a;

	KUNIT_ASSERT_NOT_NULL(test, r);
	spanheap_enter(heap);
	a = node(test, 1);
	SECTION_ASSERT_GT(test, heap, spanheap_add_cleanup(heap, a, count_cleanup, &r->n[0]), 0);
	SECTION_ASSERT_EQ(test, heap, spanheap_set_finalizer(heap, a, log_fin, &r->n[1]), 0);
	spanheap_exit(heap);

	collect_and_wait(heap);
	KUNIT_EXPECT_EQ(test, atomic_read(&r->n[1]), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&r->n[0]), 0);
	KUNIT_EXPECT_TRUE(test, alive(heap, a));	/* resurrected */
	collect_and_wait(heap);
	KUNIT_EXPECT_EQ(test, atomic_read(&r->n[0]), 1);
	KUNIT_EXPECT_FALSE(test, alive(heap, a));
}

static void report_obj(void *arg, void *obj)
{
	*(void **)arg = obj;
}

/* arg is a root: what it references lives; if it reaches ptr, never. */
static void arg_keeps_alive(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct node *a, *b, *c, *d;
	void *reported = NULL;

	spanheap_enter(heap);
	a = node(test, 1);
	b = node(test, 2);	/* reachable only as a's cleanup's argument */
	SECTION_ASSERT_GT(test, heap, spanheap_add_cleanup(heap, a, count_cleanup, b), 0);
	c = node(test, 3);
	d = node(test, 4);
	d->next[0] = c;		/* c's cleanup argument reaches c */
	SECTION_ASSERT_GT(test, heap, spanheap_add_cleanup(heap, c, count_cleanup, d), 0);
	spanheap_exit(heap);

	collect_and_wait(heap);
	KUNIT_EXPECT_FALSE(test, alive(heap, a));
	KUNIT_EXPECT_TRUE(test, alive(heap, b));	/* was an argument until now */
	collect_and_wait(heap);
	KUNIT_EXPECT_FALSE(test, alive(heap, b));
	KUNIT_EXPECT_TRUE(test, alive(heap, c));
	KUNIT_EXPECT_TRUE(test, alive(heap, d));
	KUNIT_EXPECT_EQ(test, spanheap_finalizer_cycles(heap, report_obj, &reported), 1);
	KUNIT_EXPECT_PTR_EQ(test, reported, (void *)c);
}

static atomic_t null_arg_runs;

static void count_null_arg(struct spanheap *heap, void *arg)
{
	atomic_inc(&null_arg_runs);
}

/* Does the span of @obj hold a cleanup whose argument the mark reads? */
static bool span_has_cleanup_roots(struct spanheap *heap, void *obj)
{
	struct shp_span *s;
	unsigned int idx;
	bool roots;

	rcu_read_lock();
	s = shp_find_object(heap, obj, &idx);
	roots = s && READ_ONCE(s->cleanup_roots);
	rcu_read_unlock();
	return roots;
}

/*
 * The mark reads the cleanups of a span only if one has an argument that
 * may point into an object (not NULL or a small id): such an argument
 * stays a root while cleanups without one come and go beside it, and the
 * span is read again for nothing only until its last cleanup goes.
 */
static void arg_root_beside_null_args(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct node *a, *b, *root = NULL;
	s64 null1, with_b, null2;

	atomic_set(&null_arg_runs, 0);
	KUNIT_ASSERT_EQ(test, spanheap_root_add(heap, (void **)&root), 0);
	spanheap_enter(heap);
	a = node(test, 1);
	b = node(test, 2);	/* reachable only as a cleanup's argument */
	root = a;
	null1 = spanheap_add_cleanup(heap, a, count_null_arg, NULL);
	SECTION_ASSERT_GT(test, heap, null1, 0);
	KUNIT_EXPECT_FALSE(test, span_has_cleanup_roots(heap, a));
	with_b = spanheap_add_cleanup(heap, a, count_cleanup, b);
	SECTION_ASSERT_GT(test, heap, with_b, 0);
	KUNIT_EXPECT_TRUE(test, span_has_cleanup_roots(heap, a));
	KUNIT_EXPECT_EQ(test, spanheap_stop_cleanup(heap, a, null1), 0);
	spanheap_exit(heap);

	collect_and_wait(heap);
	KUNIT_EXPECT_TRUE(test, alive(heap, b));

	spanheap_enter(heap);
	null2 = spanheap_add_cleanup(heap, a, count_null_arg, (void *)42);
	SECTION_ASSERT_GT(test, heap, null2, 0);
	KUNIT_EXPECT_EQ(test, spanheap_stop_cleanup(heap, a, with_b), 0);
	spanheap_exit(heap);
	collect_and_wait(heap);
	KUNIT_EXPECT_FALSE(test, alive(heap, b));
	KUNIT_EXPECT_EQ(test, shp_heap_check(heap), 0);

	/* Its last cleanup gone, a's span is not read for them any more. */
	spanheap_enter(heap);
	KUNIT_EXPECT_EQ(test, spanheap_stop_cleanup(heap, a, null2), 0);
	KUNIT_EXPECT_FALSE(test, span_has_cleanup_roots(heap, a));
	null2 = spanheap_add_cleanup(heap, a, count_null_arg, NULL);
	SECTION_ASSERT_GT(test, heap, null2, 0);
	KUNIT_EXPECT_FALSE(test, span_has_cleanup_roots(heap, a));
	spanheap_exit(heap);

	WRITE_ONCE(root, NULL);
	collect_and_wait(heap);
	KUNIT_EXPECT_FALSE(test, alive(heap, a));
	KUNIT_EXPECT_EQ(test, atomic_read(&null_arg_runs), 1);
	spanheap_root_remove(heap, (void **)&root);
}

/* More than every worker can take: some stay queued while they run. */
#define NHELD	((SHP_MAX_CLEANUP_WORKERS + 1) * SHP_CLEANUP_BATCH)

/* gated_cleanup() of the gate in next[0] of its node (not a heap pointer). */
static void held_cleanup(struct spanheap *heap, void *arg)
{
	gated_cleanup(heap, ((struct node *)arg)->next[0]);
}

/* Are the arguments, and the child each references, all @live? */
static void expect_held_live(struct kunit *test, struct node **args,
			     struct node **kids, bool live)
{
	struct spanheap *heap = test->priv;
	unsigned int i;

	spanheap_enter(heap);
	for (i = 0; i < NHELD; i++) {
		KUNIT_EXPECT_EQ(test, shp_object_live(heap, args[i]), live);
		KUNIT_EXPECT_EQ(test, shp_object_live(heap, kids[i]), live);
	}
	spanheap_exit(heap);
}

/*
 * Queued cleanups' arguments, and those of the batch a worker is
 * running, are roots until each cleanup returns: a cycle while every
 * worker is held in its first cleanup frees none of them, nor what
 * they reference.
 */
static void queued_args_are_roots(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct gate *g = kunit_kzalloc(test, sizeof(*g), GFP_KERNEL);
	struct node **args = kunit_kcalloc(test, NHELD, sizeof(*args), GFP_KERNEL);
	struct node **kids = kunit_kcalloc(test, NHELD, sizeof(*kids), GFP_KERNEL);
	unsigned long queued;
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, g);
	KUNIT_ASSERT_NOT_NULL(test, args);
	KUNIT_ASSERT_NOT_NULL(test, kids);
	init_completion(&g->started);
	init_completion(&g->release);
	spanheap_enter(heap);
	for (i = 0; i < NHELD; i++) {
		args[i] = node(test, i);
		args[i]->next[0] = (struct node *)g;
		kids[i] = node(test, NHELD + i);
		args[i]->next[1] = kids[i];
		SECTION_ASSERT_GT(test, heap, spanheap_add_cleanup(heap, node(test, i),
							   held_cleanup, args[i]), 0);
	}
	spanheap_exit(heap);
	spanheap_collect(heap);
	KUNIT_ASSERT_NE(test, wait_for_completion_timeout(&g->started, 20 * HZ), 0);
	spin_lock(&heap->fin_lock);
	queued = heap->cleanq.q.n;
	spin_unlock(&heap->fin_lock);
	KUNIT_EXPECT_GT(test, queued, 0);
	spanheap_collect(heap);
	expect_held_live(test, args, kids, true);
	complete_all(&g->release);
	spanheap_wait_cleanups(heap);
	KUNIT_EXPECT_EQ(test, atomic_read(&g->ran), NHELD);
	collect_and_wait(heap);
	expect_held_live(test, args, kids, false);
}

struct pair {
	struct completion started[2];
	atomic_t ok;
};

struct pair_arg {
	struct pair *p;
	int me;
};

/* Each waits for the other to start: only parallel workers finish both. */
static void wait_for_peer(struct spanheap *heap, void *arg)
{
	struct pair_arg *pa = arg;

	complete(&pa->p->started[pa->me]);
	if (wait_for_completion_timeout(&pa->p->started[!pa->me], 20 * HZ))
		atomic_inc(&pa->p->ok);
}

/*
 * A third, plain cleanup is queued with the pair: a worker's share of a
 * short queue must not put both of the pair in one batch.
 */
static void parallel_workers(struct kunit *test)
{
	unsigned int old = READ_ONCE(shp_cleanup_workers);
	struct pair *p = kunit_kzalloc(test, sizeof(*p), GFP_KERNEL);
	struct pair_arg *pa = kunit_kcalloc(test, 2, sizeof(*pa), GFP_KERNEL);
	atomic_t *plain = kunit_kzalloc(test, sizeof(*plain), GFP_KERNEL);
	struct spanheap *heap;
	struct node *n;
	int i;

	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_NOT_NULL(test, pa);
	KUNIT_ASSERT_NOT_NULL(test, plain);
	WRITE_ONCE(shp_cleanup_workers, 2);	/* the module parameter */
	heap = test_heap_new("kunit-cleanup-par");
	WRITE_ONCE(shp_cleanup_workers, old);
	KUNIT_ASSERT_FALSE(test, IS_ERR(heap));
	KUNIT_EXPECT_EQ(test, heap->ncleanup_workers, 2);
	for (i = 0; i < 2; i++) {
		init_completion(&p->started[i]);
		pa[i].p = p;
		pa[i].me = i;
	}
	spanheap_enter(heap);
	n = spanheap_alloc(heap, sizeof(*n), 0);
	SECTION_ASSERT_NOT_NULL(test, heap, n);
	KUNIT_EXPECT_GT(test, spanheap_add_cleanup(heap, n, count_cleanup, plain), 0);
	for (i = 0; i < 2; i++) {
		n = spanheap_alloc(heap, sizeof(*n), 0);
		SECTION_ASSERT_NOT_NULL(test, heap, n);
		KUNIT_EXPECT_GT(test, spanheap_add_cleanup(heap, n, wait_for_peer, &pa[i]), 0);
	}
	spanheap_exit(heap);
	collect_and_wait(heap);
	KUNIT_EXPECT_EQ(test, atomic_read(&p->ok), 2);
	KUNIT_EXPECT_EQ(test, atomic_read(plain), 1);
	spanheap_destroy(heap);
}

/* Without the parameter: Go 1.25's max(CPUs / 4, 1). */
static void default_worker_count(struct kunit *test)
{
	struct spanheap *heap = test->priv;

	if (READ_ONCE(shp_cleanup_workers))
		kunit_skip(test, "cleanup_workers is set");
	KUNIT_EXPECT_EQ(test, heap->ncleanup_workers,
			min(max(num_online_cpus() / 4, 1U), SHP_MAX_CLEANUP_WORKERS));
}

/* A cleanup runs outside any section: it may enter one and allocate. */
static void alloc_in_cleanup(struct spanheap *heap, void *arg)
{
	struct node *n;

	spanheap_enter(heap);
	n = spanheap_alloc(heap, sizeof(*n), 0);
	if (n)
		atomic_inc(arg);
	spanheap_exit(heap);
}

static void cleanup_may_allocate(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	atomic_t *n = kunit_kzalloc(test, sizeof(*n), GFP_KERNEL);
	struct node *a;

	KUNIT_ASSERT_NOT_NULL(test, n);
	spanheap_enter(heap);
	a = node(test, 1);
	SECTION_ASSERT_GT(test, heap, spanheap_add_cleanup(heap, a, alloc_in_cleanup, n), 0);
	spanheap_exit(heap);
	collect_and_wait(heap);
	KUNIT_EXPECT_EQ(test, atomic_read(n), 1);
}

/* Blocks until its heap is being destroyed, then lets destroy go on. */
static void wait_for_dying(struct spanheap *heap, void *arg)
{
	unsigned long deadline = jiffies + 20 * HZ;
	struct gate *g = arg;

	complete(&g->started);
	while (!READ_ONCE(heap->dying) && time_before(jiffies, deadline))
		cond_resched();
	atomic_inc(&g->ran);
}

/*
 * @n objects, each with cleanup @fn(@arg); garbage once the section ends.
 * Return: all were made (else the case failed).
 */
static bool add_garbage_with_cleanups(struct kunit *test, struct spanheap *heap,
				      int n, spanheap_cleanup_t fn, void *arg)
{
	struct node *a;
	int i;

	spanheap_enter(heap);
	for (i = 0; i < n; i++) {
		a = spanheap_alloc(heap, sizeof(*a), 0);
		if (!a || spanheap_add_cleanup(heap, a, fn, arg) <= 0)
			break;
	}
	spanheap_exit(heap);
	if (i < n)
		KUNIT_FAIL(test, "cleanup %d of %d not added", i, n);
	return i == n;
}

/*
 * Destroy waits for a running cleanup and drops the queued ones: one
 * worker runs the first until destroy has begun; the 100 queued behind
 * it never run.
 */
static void destroy_with_queued_cleanups(struct kunit *test)
{
	unsigned int old = READ_ONCE(shp_cleanup_workers);
	struct gate *g = kunit_kzalloc(test, sizeof(*g), GFP_KERNEL);
	atomic_t *n = kunit_kzalloc(test, sizeof(*n), GFP_KERNEL);
	struct spanheap *heap;

	KUNIT_ASSERT_NOT_NULL(test, g);
	KUNIT_ASSERT_NOT_NULL(test, n);
	WRITE_ONCE(shp_cleanup_workers, 1);
	heap = test_heap_new("kunit-cleanup-destroy");
	WRITE_ONCE(shp_cleanup_workers, old);
	KUNIT_ASSERT_FALSE(test, IS_ERR(heap));
	init_completion(&g->started);
	/* No assert from here on: only destroy ends the worker's cleanup. */
	if (add_garbage_with_cleanups(test, heap, 1, wait_for_dying, g)) {
		spanheap_collect(heap);
		KUNIT_EXPECT_NE(test, wait_for_completion_timeout(&g->started, 20 * HZ), 0);
		if (add_garbage_with_cleanups(test, heap, 100, count_cleanup, n))
			spanheap_collect(heap);	/* queues 100 behind the busy worker */
	}
	spanheap_destroy(heap);
	KUNIT_EXPECT_EQ(test, atomic_read(&g->ran), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(n), 0);
}

struct dying {
	struct completion started;
	atomic_t requeued;
	atomic_t done;
};

/*
 * Runs while spanheap_destroy() waits for it: allocates past the pacer's
 * trigger and collects, both of which would queue work destroy has
 * already cancelled.
 */
static void alloc_while_dying(struct spanheap *heap, void *arg)
{
	unsigned long deadline = jiffies + 20 * HZ;
	struct dying *d = arg;
	void *big;

	complete(&d->started);
	while (!READ_ONCE(heap->dying) && time_before(jiffies, deadline))
		cond_resched();
	spanheap_enter(heap);
	big = spanheap_alloc(heap, 2 * SHP_GC_MIN_HEAP, SPANHEAP_NOSCAN);
	spanheap_exit(heap);
	spanheap_collect(heap);
	/*
	 * Destroy cancelled these before it began waiting for the cleanup
	 * workers (whose own work items it holds pending while it cancels
	 * them, so they cannot be checked here).
	 */
	if (work_pending(&heap->gc_work) || work_pending(&heap->sweep_work) ||
	    work_pending(&heap->fin_work))
		atomic_inc(&d->requeued);
	if (big && READ_ONCE(heap->dying))
		atomic_inc(&d->done);
}

/* Nothing a dying heap's cleanup does queues work on the freed heap. */
static void destroy_while_cleanup_allocates(struct kunit *test)
{
	struct dying *d = kunit_kzalloc(test, sizeof(*d), GFP_KERNEL);
	struct spanheap *heap = spanheap_create("kunit-cleanup-dying", 0);

	KUNIT_ASSERT_NOT_NULL(test, d);
	KUNIT_ASSERT_FALSE(test, IS_ERR(heap));		/* pacing on */
	init_completion(&d->started);
	/* The second one may be queued behind the first. */
	add_garbage_with_cleanups(test, heap, 2, alloc_while_dying, d);
	spanheap_collect(heap);
	/* Destroy waits for a running cleanup; a queued one it drops. */
	KUNIT_EXPECT_NE(test, wait_for_completion_timeout(&d->started, 20 * HZ), 0);
	spanheap_destroy(heap);
	KUNIT_EXPECT_GE(test, atomic_read(&d->done), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&d->requeued), 0);
}

struct ids {
	struct spanheap *heap;
	s64 *ids;
	atomic_t ran;		/* its objects' cleanups run */
	struct completion done;
};

#define IDS_TASKS	4
#define IDS_EACH	1000

static int ids_thread(void *arg)
{
	struct ids *r = arg;
	struct node *o;
	int i;

	for (i = 0; i < IDS_EACH; i++) {
		spanheap_enter(r->heap);
		o = spanheap_alloc(r->heap, sizeof(*o), 0);
		r->ids[i] = o ? spanheap_add_cleanup(r->heap, o, count_cleanup, &r->ran) : -1;
		spanheap_exit(r->heap);
		cond_resched();
	}
	/* Completes and exits without returning into module text. */
	kthread_complete_and_exit(&r->done, 0);
}

/* Ids come from per-CPU blocks: unique and positive across tasks. */
static void ids_unique_across_tasks(struct kunit *test)
{
	int i, j, started, dup = 0, nonpos = 0;
	struct task_struct *t;
	struct ids *r;
	s64 *all;

	/* Not kunit-managed: left to the threads if one never ends. */
	r = kcalloc(IDS_TASKS, sizeof(*r), GFP_KERNEL);
	all = kcalloc(IDS_TASKS * IDS_EACH, sizeof(*all), GFP_KERNEL);
	if (!r || !all) {
		kfree(all);
		kfree(r);
		KUNIT_FAIL(test, "out of memory");
		return;
	}
	for (started = 0; started < IDS_TASKS; started++) {
		r[started].heap = test->priv;
		r[started].ids = all + started * IDS_EACH;
		init_completion(&r[started].done);
		t = kthread_run(ids_thread, &r[started], "spanheap-ids/%d", started);
		if (IS_ERR(t)) {
			KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(t));
			break;
		}
	}
	for (i = 0; i < started; i++)
		if (!test_thread_done(test, &r[i].done, 60))
			return;
	for (i = 0; started == IDS_TASKS && i < IDS_TASKS * IDS_EACH; i++) {
		nonpos += all[i] <= 0;
		for (j = 0; j < i; j++)
			dup += all[i] == all[j];
	}
	KUNIT_EXPECT_EQ(test, nonpos, 0);
	KUNIT_EXPECT_EQ(test, dup, 0);
	/* The objects are garbage: their cleanups run, then @r may go. */
	collect_and_wait(test->priv);
	for (i = 0; i < started; i++)
		KUNIT_EXPECT_EQ(test, atomic_read(&r[i].ran), IDS_EACH);
	kfree(all);
	kfree(r);
}

static struct kunit_case cleanup_cases[] = {
	KUNIT_CASE(runs_once_when_unreachable),
	KUNIT_CASE(many_per_object_and_cycles),
	KUNIT_CASE(bad_input_changes_nothing),
	KUNIT_CASE(stop_before_queueing),
	KUNIT_CASE(stop_after_queueing),
	KUNIT_CASE(after_finalizer),
	KUNIT_CASE(arg_keeps_alive),
	KUNIT_CASE(arg_root_beside_null_args),
	KUNIT_CASE(queued_args_are_roots),
	KUNIT_CASE(parallel_workers),
	KUNIT_CASE(ids_unique_across_tasks),
	KUNIT_CASE(default_worker_count),
	KUNIT_CASE(cleanup_may_allocate),
	KUNIT_CASE(destroy_with_queued_cleanups),
	KUNIT_CASE(destroy_while_cleanup_allocates),
	{}
};

static struct kunit_suite cleanup_suite = {
	.name = "spanheap_cleanup",
	.init = cu_init,
	.exit = cu_exit,
	.test_cases = cleanup_cases,
};

kunit_test_suites(&cleanup_suite);
