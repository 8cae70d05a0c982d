// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: collector stress.  Mutator threads (one per CPU) allocate
 * nodes, link them to nodes they hold (chains of bounded depth, so no
 * cycles), register finalizers on half of them and drop them, in short
 * sections, while another thread runs collections back to back.  Each
 * thread's held nodes live in registered root slots.
 *
 * Checked: a held node and everything it links to is intact (its magic
 * word) - nothing is freed while reachable; a finalizer never sees a
 * node that a root still holds; and after the roots are cleared and a
 * few cycles run, every node that had a finalizer was finalized exactly
 * once, none other was, and the heap is empty and consistent.
 *
 * Also: two threads set and remove finalizers of neighbouring objects,
 * whose fin bits share words read without the span's lock.
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/slab.h>
#include <linux/err.h>
#include "test_heap.h"

#define GS_MS		1500
#define GS_ROOTS	16
#define GS_MAX_IDS	(1 << 18)
#define GS_MAX_DEPTH	6
#define GS_MAX_THREADS	8
#define GS_MAGIC	0x5ca1ab1e0ddba11UL

struct snode {
	struct snode *link;
	unsigned long id;
	unsigned long magic;
	unsigned long depth;
};

struct gstress;

struct gthread {
	struct gstress *g;
	unsigned int index;
	void *roots[GS_ROOTS];
	struct completion done;
};

struct gstress {
	struct spanheap *heap;
	unsigned long deadline;
	atomic_t next_id;
	atomic_long_t errors;
	atomic_long_t ops;
	unsigned int nthreads;
	u8 *registered;		/* per id: a finalizer was set */
	atomic_t *finalized;	/* per id: times finalized */
	struct gthread t[GS_MAX_THREADS];
	struct completion collector_done;
};

static u32 gs_rand(u32 *state)
{
	u32 x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

static bool intact(struct snode *n)
{
	unsigned int hops = 0;

	for (; n; n = n->link)
		if (n->magic != (GS_MAGIC ^ n->id) || ++hops > GS_MAX_DEPTH + 1)
			return false;
	return true;
}

static void gs_finalizer(struct spanheap *heap, void *obj, void *arg)
{
	struct gstress *g = arg;
	struct snode *n = obj;
	unsigned int i, r;

	if (n->magic != (GS_MAGIC ^ n->id) || n->id >= GS_MAX_IDS) {
		atomic_long_inc(&g->errors);
		return;
	}
	/* Unreachable when marked, so no root can hold it now. */
	for (i = 0; i < g->nthreads; i++)
		for (r = 0; r < GS_ROOTS; r++)
			if (READ_ONCE(g->t[i].roots[r]) == obj)
				atomic_long_inc(&g->errors);
	atomic_inc(&g->finalized[n->id]);
}

static void mutate(struct gthread *t, u32 *seed)
{
	struct gstress *g = t->g;
	u32 r = gs_rand(seed);
	unsigned int slot = r % GS_ROOTS;
	struct snode *held = READ_ONCE(t->roots[slot]), *n, *parent;
	unsigned int id;

	switch ((r >> 8) % 10) {
	case 0 ... 4:
		id = atomic_inc_return(&g->next_id);
		if (id >= GS_MAX_IDS)
			return;
		n = spanheap_alloc(g->heap, sizeof(*n), 0);
		if (!n) {
			atomic_long_inc(&g->errors);
			return;
		}
		n->id = id;
		n->magic = GS_MAGIC ^ id;
		parent = READ_ONCE(t->roots[(r >> 16) % GS_ROOTS]);
		if (parent && parent->depth < GS_MAX_DEPTH) {
			n->link = parent;
			n->depth = parent->depth + 1;
		}
		if (r & BIT(30)) {
			if (spanheap_set_finalizer(g->heap, n, gs_finalizer, g))
				atomic_long_inc(&g->errors);
			else
				WRITE_ONCE(g->registered[id], 1);
		}
		WRITE_ONCE(t->roots[slot], n);
		break;
	case 5 ... 7:
		if (!intact(held))
			atomic_long_inc(&g->errors);
		break;
	default:
		WRITE_ONCE(t->roots[slot], NULL);
	}
}

static int mutator_thread(void *arg)
{
	struct gthread *t = arg;
	struct gstress *g = t->g;
	u32 seed = 0x9e3779b9u * (t->index + 1);
	unsigned long ops = 0;
	unsigned int i;

	while (time_before(jiffies, READ_ONCE(g->deadline))) {
		spanheap_enter(g->heap);
		for (i = 0; i < 32; i++)
			mutate(t, &seed);
		spanheap_exit(g->heap);
		ops += 32;
		cond_resched();
	}
	atomic_long_add(ops, &g->ops);
	kthread_complete_and_exit(&t->done, 0);
}

static int collector_thread(void *arg)
{
	struct gstress *g = arg;

	while (time_before(jiffies, READ_ONCE(g->deadline))) {
		spanheap_collect(g->heap);
		cond_resched();
	}
	kthread_complete_and_exit(&g->collector_done, 0);
}

static void gc_stress_finalizers_exact(struct kunit *test)
{
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	unsigned int i, r, ids, started, wrong = 0, finalized = 0, registered = 0;
	struct task_struct *task;
	struct gstress *g;

	KUNIT_ASSERT_NOT_NULL(test, st);
	/* Not kunit-managed: left to the threads if one never ends. */
	g = kzalloc(sizeof(*g), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, g);
	g->registered = kzalloc(GS_MAX_IDS, GFP_KERNEL);
	g->finalized = kcalloc(GS_MAX_IDS, sizeof(atomic_t), GFP_KERNEL);
	g->heap = spanheap_create("kunit-gcstress", 0);
	if (IS_ERR(g->heap)) {
		KUNIT_FAIL(test, "heap: %ld", PTR_ERR(g->heap));
		goto out_free;
	}
	if (!g->registered || !g->finalized) {
		KUNIT_FAIL(test, "out of memory");
		goto out;
	}
	g->nthreads = clamp(num_online_cpus(), 2u, GS_MAX_THREADS);
	for (i = 0; i < g->nthreads; i++) {
		g->t[i].g = g;
		g->t[i].index = i;
		init_completion(&g->t[i].done);
		for (r = 0; r < GS_ROOTS; r++)
			if (spanheap_root_add(g->heap, &g->t[i].roots[r])) {
				KUNIT_FAIL(test, "root_add failed");
				goto out;
			}
	}
	init_completion(&g->collector_done);
	g->deadline = jiffies + msecs_to_jiffies(GS_MS);
	for (started = 0; started <= g->nthreads; started++) {
		if (started < g->nthreads)
			task = kthread_run(mutator_thread, &g->t[started],
					   "spanheap-gcs/%u", started);
		else
			task = kthread_run(collector_thread, g, "spanheap-gcs-gc");
		if (IS_ERR(task)) {
			KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(task));
			WRITE_ONCE(g->deadline, jiffies);	/* the others stop */
			break;
		}
	}
	for (i = 0; i < started; i++)
		if (!test_wait_done(test, i < g->nthreads ? &g->t[i].done :
				    &g->collector_done, GS_MS / 1000 + 120))
			return;
	if (started <= g->nthreads)
		goto out;

	/* Drop every root; chains need at most depth + 2 cycles to go. */
	for (i = 0; i < g->nthreads; i++)
		for (r = 0; r < GS_ROOTS; r++)
			WRITE_ONCE(g->t[i].roots[r], NULL);
	for (i = 0; i < GS_MAX_DEPTH + 4; i++) {
		spanheap_collect(g->heap);
		spanheap_wait_finalizers(g->heap);
	}

	ids = min_t(unsigned int, atomic_read(&g->next_id) + 1, GS_MAX_IDS);
	for (i = 0; i < ids; i++) {
		finalized += atomic_read(&g->finalized[i]);
		registered += g->registered[i];
		wrong += atomic_read(&g->finalized[i]) != g->registered[i];
	}
	KUNIT_EXPECT_EQ(test, atomic_long_read(&g->errors), 0);
	KUNIT_EXPECT_EQ(test, wrong, 0);
	KUNIT_EXPECT_EQ(test, finalized, registered);
	KUNIT_EXPECT_GT(test, registered, 100);
	spanheap_read_stats(g->heap, st);
	KUNIT_EXPECT_EQ(test, st->objects_in_use, 0);
	KUNIT_EXPECT_EQ(test, st->fin_pending, 0);
	KUNIT_EXPECT_EQ(test, st->fin_executed, registered);
	KUNIT_EXPECT_EQ(test, st->specials[SPANHEAP_SPECIAL_FINALIZER], 0);
	/* Paced and explicit cycles raced: each still counted one pause. */
	KUNIT_EXPECT_GE(test, st->pause_total_ns, st->collections);
	KUNIT_EXPECT_LE(test, st->pause_max_ns, st->pause_total_ns);
	KUNIT_EXPECT_GE(test, st->pause_max_ns * st->collections, st->pause_total_ns);
	spanheap_drain(g->heap);
	KUNIT_EXPECT_EQ(test, shp_heap_check(g->heap), 0);
	kunit_info(test, "%ld ops, %u nodes, %u finalized, %llu cycles, max pause %llu us\n",
		   atomic_long_read(&g->ops), ids, finalized, st->collections,
		   st->pause_max_ns / 1000);
	for (i = 0; i < g->nthreads; i++)
		for (r = 0; r < GS_ROOTS; r++)
			spanheap_root_remove(g->heap, &g->t[i].roots[r]);
out:
	spanheap_destroy(g->heap);
out_free:
	kfree(g->finalized);
	kfree(g->registered);
	kfree(g);
}

#define FW_OBJS		64
#define FW_ROUNDS	2000

struct fin_words;

struct fw_thread {
	struct fin_words *fw;
	unsigned int self;
	struct completion done;
};

struct fin_words {
	struct spanheap *heap;
	void *obj[FW_OBJS];
	atomic_long_t errors;
	struct fw_thread t[2];
};

static void fw_fin(struct spanheap *heap, void *obj, void *arg)
{
}

/*
 * One of two threads: set, set again (-EEXIST) and remove the finalizer
 * of every other object, the two threads' objects sharing fin-bit words.
 */
static int fin_words_thread(void *arg)
{
	struct fw_thread *t = arg;
	struct fin_words *fw = t->fw;
	unsigned int r, i;

	for (r = 0; r < FW_ROUNDS; r++) {
		spanheap_enter(fw->heap);
		for (i = t->self; i < FW_OBJS; i += 2) {
			if (spanheap_set_finalizer(fw->heap, fw->obj[i], fw_fin, NULL) ||
			    spanheap_set_finalizer(fw->heap, fw->obj[i], fw_fin, NULL) != -EEXIST ||
			    spanheap_set_finalizer(fw->heap, fw->obj[i], NULL, NULL))
				atomic_long_inc(&fw->errors);
		}
		spanheap_exit(fw->heap);
		cond_resched();
	}
	kthread_complete_and_exit(&t->done, 0);
}

/*
 * Two threads set and remove finalizers on neighbouring objects of one
 * span: a second finalizer is found (-EEXIST) from the fin bit without
 * the lock while the other thread's add and remove rewrite that word.
 * Every call returns what the thread's own history says; TSan and KCSAN
 * see the unlocked read against the locked writes.
 */
static void finalizer_eexist_shares_words(struct kunit *test)
{
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	struct task_struct *task;
	struct fin_words *fw;
	unsigned int i, started;

	KUNIT_ASSERT_NOT_NULL(test, st);
	fw = kzalloc(sizeof(*fw), GFP_KERNEL);	/* freed once the threads are done */
	KUNIT_ASSERT_NOT_NULL(test, fw);
	fw->heap = spanheap_create("kunit-finwords", 0);
	if (IS_ERR(fw->heap)) {
		KUNIT_FAIL(test, "heap: %ld", PTR_ERR(fw->heap));
		kfree(fw);
		return;
	}
	spanheap_set_gc_percent(fw->heap, -1);	/* no cycle: nothing is finalized */
	spanheap_enter(fw->heap);
	migrate_disable();	/* one CPU's cache: one span */
	for (i = 0; i < FW_OBJS; i++)
		fw->obj[i] = spanheap_alloc(fw->heap, sizeof(struct snode), 0);
	migrate_enable();
	spanheap_exit(fw->heap);
	for (i = 0; i < FW_OBJS; i++)
		if (!fw->obj[i]) {
			KUNIT_FAIL(test, "object %u: allocation failed", i);
			goto out;
		}
	for (started = 0; started < 2; started++) {
		fw->t[started].fw = fw;
		fw->t[started].self = started;
		init_completion(&fw->t[started].done);
		task = kthread_run(fin_words_thread, &fw->t[started], "spanheap-finw/%u",
				   started);
		if (IS_ERR(task)) {
			KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(task));
			break;
		}
	}
	for (i = 0; i < started; i++)
		if (!test_wait_done(test, &fw->t[i].done, 120))
			return;
	KUNIT_EXPECT_EQ(test, atomic_long_read(&fw->errors), 0);
	spanheap_read_stats(fw->heap, st);
	KUNIT_EXPECT_EQ(test, st->specials[SPANHEAP_SPECIAL_FINALIZER], 0);
	spanheap_drain(fw->heap);
	KUNIT_EXPECT_EQ(test, shp_heap_check(fw->heap), 0);
out:
	spanheap_destroy(fw->heap);
	kfree(fw);
}

#define SX_NODES	4096
#define SX_MS		1000

struct stats_exact;

struct sx_thread {
	struct stats_exact *sx;
	struct completion done;
};

struct stats_exact {
	struct spanheap *heap;
	unsigned long deadline;
	void *head;		/* a root: a chain of SX_NODES nodes */
	atomic_long_t churned;
	struct sx_thread t[GS_MAX_THREADS];
	struct completion cycles_done;
};

/*
 * Allocate a node and free it again, on one CPU: its cache takes a
 * partial span from the central lists (after each cycle drained it) and
 * the count is never more than one above the chain's.
 */
static int sx_churn_thread(void *arg)
{
	struct sx_thread *t = arg;
	struct stats_exact *sx = t->sx;
	unsigned long n = 0;
	void *obj;

	while (time_before(jiffies, READ_ONCE(sx->deadline))) {
		spanheap_enter(sx->heap);
		migrate_disable();	/* a local free: no remote posting */
		obj = spanheap_alloc(sx->heap, sizeof(struct snode), 0);
		if (obj && !spanheap_free(sx->heap, obj))
			n++;
		migrate_enable();
		spanheap_exit(sx->heap);
		cond_resched();
	}
	atomic_long_add(n, &sx->churned);
	kthread_complete_and_exit(&t->done, 0);
}

static int sx_cycle_thread(void *arg)
{
	struct stats_exact *sx = arg;

	while (time_before(jiffies, READ_ONCE(sx->deadline))) {
		spanheap_collect(sx->heap);
		cond_resched();
	}
	kthread_complete_and_exit(&sx->cycles_done, 0);
}

/*
 * STATS counts each object once while cycles drain the caches and other
 * CPUs' caches take spans back: a chain of SX_NODES rooted nodes, each
 * span also holding freed room, is read as between SX_NODES and
 * SX_NODES plus one per churning thread, never a cached span's objects
 * fewer or more.
 */
static void stats_exact_while_spans_move(struct kunit *test)
{
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	unsigned long reads = 0, wrong = 0, last_wrong = 0, cycles;
	unsigned int i, nthreads = clamp(num_online_cpus(), 2u, GS_MAX_THREADS);
	unsigned int started = 0, stopped = 0;
	struct stats_exact *sx;
	struct task_struct *task;
	struct snode *n;

	KUNIT_ASSERT_NOT_NULL(test, st);
	/* Not kunit-managed: a thread that never stops must not see it freed. */
	sx = kzalloc(sizeof(*sx), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, sx);
	sx->heap = spanheap_create("kunit-statsexact", 0);
	if (IS_ERR(sx->heap)) {
		KUNIT_FAIL(test, "heap: %ld", PTR_ERR(sx->heap));
		kfree(sx);
		return;
	}
	spanheap_set_gc_percent(sx->heap, -1);	/* only the cycle thread's cycles */
	if (spanheap_root_add(sx->heap, &sx->head)) {
		KUNIT_FAIL(test, "root_add failed");
		goto out;
	}
	/* Every other node joins the chain: the first cycle leaves spans half full. */
	spanheap_enter(sx->heap);
	for (i = 0; i < 2 * SX_NODES; i++) {
		n = spanheap_alloc(sx->heap, sizeof(*n), 0);
		if (!n)
			break;
		if (i & 1)
			continue;
		n->link = sx->head;
		WRITE_ONCE(sx->head, n);
	}
	spanheap_exit(sx->heap);
	KUNIT_EXPECT_EQ(test, i, 2 * SX_NODES);
	spanheap_collect(sx->heap);
	spanheap_read_stats(sx->heap, st);
	KUNIT_EXPECT_EQ(test, st->objects_in_use, SX_NODES);
	if (i < 2 * SX_NODES || st->objects_in_use != SX_NODES)
		goto out;
	cycles = st->collections;

	WRITE_ONCE(sx->deadline, jiffies + msecs_to_jiffies(SX_MS));
	init_completion(&sx->cycles_done);
	for (i = 0; i <= nthreads; i++) {
		if (i < nthreads) {
			sx->t[i].sx = sx;
			init_completion(&sx->t[i].done);
			task = kthread_run(sx_churn_thread, &sx->t[i], "spanheap-sx/%u", i);
		} else {
			task = kthread_run(sx_cycle_thread, sx, "spanheap-sx-gc");
		}
		if (IS_ERR(task)) {
			KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(task));
			WRITE_ONCE(sx->deadline, jiffies);	/* the others stop */
			break;
		}
		started++;
	}
	/*
	 * Each churning thread holds at most one node at a time, but a read
	 * may meet it once per bitmap word of its span while it allocates
	 * ahead of the read: 4 words for this class, 8 for a thread that
	 * moves to another CPU meanwhile.  A span counted twice or not at
	 * all is off by its chain nodes, a hundred or more.
	 */
	while (time_before(jiffies, READ_ONCE(sx->deadline))) {
		spanheap_read_stats(sx->heap, st);
		reads++;
		if (st->objects_in_use < SX_NODES ||
		    st->objects_in_use > SX_NODES + 8 * nthreads) {
			wrong++;
			last_wrong = st->objects_in_use;
		}
		cond_resched();
	}
	for (i = 0; i < started; i++)
		stopped += !!wait_for_completion_timeout(i < nthreads ? &sx->t[i].done :
							 &sx->cycles_done,
							 msecs_to_jiffies(SX_MS + 120000));
	if (stopped < started) {
		KUNIT_FAIL(test, "%u of %u threads did not stop: heap left", started - stopped,
			   started);
		return;
	}
	if (started <= nthreads)
		goto out;
	spanheap_read_stats(sx->heap, st);
	if (wrong)
		KUNIT_FAIL(test, "%lu of %lu reads wrong, the last %lu objects",
			   wrong, reads, last_wrong);
	KUNIT_EXPECT_EQ(test, st->objects_in_use, SX_NODES);
	/* The race ran: cycles drained caches that churning refilled. */
	KUNIT_EXPECT_GT(test, st->collections, cycles + 1);
	KUNIT_EXPECT_GT(test, atomic_long_read(&sx->churned), 0L);
	kunit_info(test, "%lu reads, %llu cycles, %ld nodes churned\n", reads,
		   st->collections - cycles, atomic_long_read(&sx->churned));
	spanheap_root_remove(sx->heap, &sx->head);
	spanheap_collect(sx->heap);
	spanheap_read_stats(sx->heap, st);
	KUNIT_EXPECT_EQ(test, st->objects_in_use, 0);
	spanheap_drain(sx->heap);
	KUNIT_EXPECT_EQ(test, shp_heap_check(sx->heap), 0);
out:
	spanheap_destroy(sx->heap);
	kfree(sx);
}

/*
 * Charges at the limit from outside any section against the stopped
 * world's walks: each round refills the empty spans kept for reuse, sets
 * the limit just above what is held, and runs spanheap_finalizer_cycles()
 * (whose walk reads the span lists without their locks) while a thread
 * charges after a delay that differs from round to round, so that its
 * give-back lands before, during or after the walk.  Pacing is on.  A
 * span given back under a walk is a use-after-free for the sanitizers
 * and KASAN; every walk must find the self-referencing finalizable
 * objects, and the heap stay consistent.
 */
#define CW_ROUNDS	48
#define CW_CYCLIC	16

struct charge_walk {
	struct spanheap *heap;
	bool stop;
	atomic_long_t charged, refused;
	struct completion go, charged_round, done;
};

static void cw_fin(struct spanheap *heap, void *obj, void *arg)
{
}

static int cw_charge_thread(void *arg)
{
	struct charge_walk *cw = arg;
	unsigned int r, spin;

	for (r = 0; ; r++) {
		if (!wait_for_completion_timeout(&cw->go, 60 * HZ) || READ_ONCE(cw->stop))
			break;
		for (spin = 0; spin < (r % 8) * 64; spin++)
			cond_resched();
		if (!spanheap_charge(cw->heap, 64 << 10)) {
			atomic_long_inc(&cw->charged);
			spanheap_uncharge(cw->heap, 64 << 10);
		} else {
			atomic_long_inc(&cw->refused);
		}
		complete(&cw->charged_round);
	}
	kthread_complete_and_exit(&cw->done, 0);
}

static void charge_beside_walks(struct kunit *test)
{
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	struct task_struct *task;
	struct charge_walk *cw;
	unsigned int r;
	long cycles;

	KUNIT_ASSERT_NOT_NULL(test, st);
	/* Not kunit-managed: a thread that never stops must not see it freed. */
	cw = kzalloc(sizeof(*cw), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cw);
	cw->heap = spanheap_create("kunit-chargewalk", 0);	/* paced */
	if (IS_ERR(cw->heap)) {
		KUNIT_FAIL(test, "heap: %ld", PTR_ERR(cw->heap));
		kfree(cw);
		return;
	}
	init_completion(&cw->go);
	init_completion(&cw->charged_round);
	init_completion(&cw->done);
	if (test_self_cycles(cw->heap, CW_CYCLIC, cw_fin) != CW_CYCLIC) {
		KUNIT_FAIL(test, "self cycles not made");
		goto out;
	}
	task = kthread_run(cw_charge_thread, cw, "spanheap-cw");
	if (IS_ERR(task)) {
		KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(task));
		goto out;
	}
	for (r = 0; r < CW_ROUNDS; r++) {
		if (!test_kept_spans_at_limit(cw->heap, st)) {
			KUNIT_FAIL(test, "round %u: allocation failed", r);
			break;
		}
		complete(&cw->go);
		cycles = spanheap_finalizer_cycles(cw->heap, NULL, NULL);
		if (!wait_for_completion_timeout(&cw->charged_round, 60 * HZ)) {
			KUNIT_FAIL(test, "round %u: the charge did not return", r);
			break;
		}
		if (cycles != CW_CYCLIC) {
			KUNIT_FAIL(test, "round %u: %ld cycles reported, not %u", r,
				   cycles, CW_CYCLIC);
			break;
		}
	}
	WRITE_ONCE(cw->stop, true);
	complete(&cw->go);
	if (!test_wait_done(test, &cw->done, 120))
		return;
	KUNIT_EXPECT_EQ(test, atomic_long_read(&cw->charged) +
			atomic_long_read(&cw->refused), (long)r);
	kunit_info(test, "%ld charges, %ld refused\n", atomic_long_read(&cw->charged),
		   atomic_long_read(&cw->refused));
	spanheap_set_limit(cw->heap, 0);
	spanheap_drain(cw->heap);
	KUNIT_EXPECT_EQ(test, shp_heap_check(cw->heap), 0);
out:
	spanheap_destroy(cw->heap);
	kfree(cw);
}

static struct kunit_case gc_stress_cases[] = {
	KUNIT_CASE(gc_stress_finalizers_exact),
	KUNIT_CASE(finalizer_eexist_shares_words),
	KUNIT_CASE(stats_exact_while_spans_move),
	KUNIT_CASE(charge_beside_walks),
	{}
};

static struct kunit_suite gc_stress_suite = {
	.name = "spanheap_gc_stress",
	.test_cases = gc_stress_cases,
};

kunit_test_suites(&gc_stress_suite);
