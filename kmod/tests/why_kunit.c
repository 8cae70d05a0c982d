// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: spanheap_why(), the path by which the collector reaches an
 * object (kmod/why.c): each root kind, shortest paths, the cycle that
 * keeps a finalizable object from ever being finalized, unreachable
 * objects, bad pointers, the search's bound, and searches while
 * mutators, paced cycles and the background sweeper run.
 *
 * Test objects are nodes: two pointer slots (offsets 0 and 8) and an id.
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/slab.h>
#include "test_heap.h"

struct node {
	struct node *next[2];
	unsigned long id;
};

#define MAX_HOPS	16

/* What the report saw. */
struct seen {
	int calls;
	enum spanheap_root_kind kind;
	unsigned int root_index;
	unsigned int nhops;
	struct spanheap_path_hop hops[MAX_HOPS];
};

static void record(void *arg, const struct spanheap_path *p)
{
	struct seen *s = arg;
	unsigned int i;

	s->calls++;
	s->kind = p->kind;
	s->root_index = p->root_index;
	s->nhops = p->nhops;
	for (i = 0; i < p->nhops && i < MAX_HOPS; i++)
		s->hops[i] = p->hops[i];
}

static void nop_fin(struct spanheap *heap, void *obj, void *ctx)
{
}

static void nop_cleanup(struct spanheap *heap, void *arg)
{
}

static int why_init(struct kunit *test)
{
	return test_heap_init(test, "kunit-why", 0);
}

static void why_exit(struct kunit *test)
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

/* spanheap_why() on @obj, from outside any section; the result in @s. */
static int why(struct kunit *test, void *obj, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	return spanheap_why(test->priv, obj, record, s);
}

static void expect_hop(struct kunit *test, struct seen *s, unsigned int i,
		       void *obj, u32 offset)
{
	KUNIT_ASSERT_LT(test, i, s->nhops);
	KUNIT_EXPECT_PTR_EQ(test, s->hops[i].obj, obj);
	KUNIT_EXPECT_EQ(test, s->hops[i].offset, offset);
}

/* root slot -> A, A[0] -> B, B[1] -> C: R's path is slot 0, A@0, B@8, C. */
static void root_slot_path(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	static void *slot0, *slot1;
	struct node *a, *b, *c;
	struct seen s;

	spanheap_enter(heap);
	a = node(test, 1);
	b = node(test, 2);
	c = node(test, 3);
	a->next[0] = b;
	b->next[1] = c;
	slot0 = NULL;
	slot1 = a;
	spanheap_exit(heap);
	KUNIT_ASSERT_EQ(test, spanheap_root_add(heap, &slot0), 0);
	KUNIT_ASSERT_EQ(test, spanheap_root_add(heap, &slot1), 0);

	KUNIT_ASSERT_EQ(test, why(test, c, &s), 0);
	KUNIT_EXPECT_EQ(test, s.calls, 1);
	KUNIT_EXPECT_EQ(test, s.kind, SPANHEAP_ROOT_SLOT);
	KUNIT_EXPECT_EQ(test, s.root_index, 1U);
	KUNIT_ASSERT_EQ(test, s.nhops, 3U);
	expect_hop(test, &s, 0, a, 0);
	expect_hop(test, &s, 1, b, 8);
	expect_hop(test, &s, 2, c, SPANHEAP_PATH_END);

	/* The root's own object: one hop. */
	KUNIT_ASSERT_EQ(test, why(test, a, &s), 0);
	KUNIT_EXPECT_EQ(test, s.kind, SPANHEAP_ROOT_SLOT);
	KUNIT_ASSERT_EQ(test, s.nhops, 1U);
	expect_hop(test, &s, 0, a, SPANHEAP_PATH_END);

	/* A shortcut A[1] -> C: the shortest path wins. */
	spanheap_enter(heap);
	a->next[1] = c;
	spanheap_exit(heap);
	KUNIT_ASSERT_EQ(test, why(test, c, &s), 0);
	KUNIT_ASSERT_EQ(test, s.nhops, 2U);
	expect_hop(test, &s, 0, a, 8);
	expect_hop(test, &s, 1, c, SPANHEAP_PATH_END);

	/* Nothing was collected or changed by asking. */
	spanheap_collect(heap);
	KUNIT_EXPECT_PTR_EQ(test, spanheap_object_base(heap, b, NULL), (void *)b);
	KUNIT_EXPECT_EQ(test, spanheap_root_remove(heap, &slot0), 0);
	KUNIT_EXPECT_EQ(test, spanheap_root_remove(heap, &slot1), 0);
}

static void *scan_roots[2];

static void scan_two(struct spanheap *heap, void *arg)
{
	spanheap_mark_root(heap, scan_roots[0]);
	spanheap_mark_root(heap, scan_roots[1]);
}

/* The owner's root scan reports roots of its own; the second keeps B. */
static void owner_root_path(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct node *a, *b, *c;
	struct seen s;

	spanheap_enter(heap);
	a = node(test, 1);
	b = node(test, 2);
	c = node(test, 3);
	b->next[0] = c;
	spanheap_exit(heap);
	scan_roots[0] = a;
	scan_roots[1] = b;
	spanheap_set_root_scan(heap, scan_two, NULL);

	KUNIT_ASSERT_EQ(test, why(test, c, &s), 0);
	KUNIT_EXPECT_EQ(test, s.kind, SPANHEAP_ROOT_OWNER);
	KUNIT_EXPECT_EQ(test, s.root_index, 1U);
	KUNIT_ASSERT_EQ(test, s.nhops, 2U);
	expect_hop(test, &s, 0, b, 0);
	expect_hop(test, &s, 1, c, SPANHEAP_PATH_END);
	/* The scan marked nothing: a real cycle still sees the roots. */
	spanheap_collect(heap);
	KUNIT_EXPECT_PTR_EQ(test, spanheap_object_base(heap, c, NULL), (void *)c);
	spanheap_set_root_scan(heap, NULL, NULL);
	KUNIT_ASSERT_EQ(test, why(test, c, &s), 0);
	KUNIT_EXPECT_EQ(test, s.kind, SPANHEAP_ROOT_NONE);
}

/* A pinned P, P[1] -> Q. */
static void pin_path(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct node *p, *q;
	struct seen s;

	spanheap_enter(heap);
	p = node(test, 1);
	q = node(test, 2);
	p->next[1] = q;
	SECTION_ASSERT_EQ(test, heap, spanheap_pin(heap, p), 0);
	spanheap_exit(heap);

	KUNIT_ASSERT_EQ(test, why(test, q, &s), 0);
	KUNIT_EXPECT_EQ(test, s.kind, SPANHEAP_ROOT_PIN);
	KUNIT_ASSERT_EQ(test, s.nhops, 2U);
	expect_hop(test, &s, 0, p, 8);
	expect_hop(test, &s, 1, q, SPANHEAP_PATH_END);

	spanheap_enter(heap);
	KUNIT_EXPECT_EQ(test, spanheap_unpin(heap, p), 0);
	spanheap_exit(heap);
	KUNIT_ASSERT_EQ(test, why(test, q, &s), 0);
	KUNIT_EXPECT_EQ(test, s.kind, SPANHEAP_ROOT_NONE);
	KUNIT_EXPECT_EQ(test, s.nhops, 0U);
}

/*
 * Queue F's finalizer with context CTX as a sweep would.  The worker is
 * woken by the next stop of the world, but runs inside a section, so
 * the search that stops it sees the entry.
 */
static void queue_fin(struct kunit *test, struct node *f, struct node *ctx)
{
	struct spanheap *heap = test->priv;
	bool queued;

	spanheap_enter(heap);
	spin_lock(&heap->fin_lock);
	queued = shp_queue_finalizer(heap, f, nop_fin, ctx);
	spin_unlock(&heap->fin_lock);
	spanheap_exit(heap);
	KUNIT_ASSERT_TRUE(test, queued);
}

/* A queued finalizer's object and context are roots until it ran. */
static void finalizer_queue_path(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct node *f, *g, *ctx;
	struct seen s;

	spanheap_enter(heap);
	f = node(test, 1);
	g = node(test, 2);
	ctx = node(test, 3);
	f->next[0] = g;
	spanheap_exit(heap);

	queue_fin(test, f, ctx);
	KUNIT_ASSERT_EQ(test, why(test, g, &s), 0);
	KUNIT_EXPECT_EQ(test, s.kind, SPANHEAP_ROOT_FINQ);
	KUNIT_ASSERT_EQ(test, s.nhops, 2U);
	expect_hop(test, &s, 0, f, 0);
	expect_hop(test, &s, 1, g, SPANHEAP_PATH_END);
	spanheap_wait_finalizers(heap);

	queue_fin(test, f, ctx);
	KUNIT_ASSERT_EQ(test, why(test, ctx, &s), 0);
	KUNIT_EXPECT_EQ(test, s.kind, SPANHEAP_ROOT_FINQ);
	KUNIT_EXPECT_EQ(test, s.root_index, 1U);	/* the entry's second root */
	KUNIT_ASSERT_EQ(test, s.nhops, 1U);
	expect_hop(test, &s, 0, ctx, SPANHEAP_PATH_END);
	spanheap_wait_finalizers(heap);

	/* Once it ran, nothing keeps them. */
	KUNIT_ASSERT_EQ(test, why(test, ctx, &s), 0);
	KUNIT_EXPECT_EQ(test, s.kind, SPANHEAP_ROOT_NONE);
}

/* A cleanup's argument is a root while its object lives. */
static void cleanup_arg_path(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	static void *slot;
	struct node *o, *arg;
	struct seen s;

	spanheap_enter(heap);
	o = node(test, 1);
	arg = node(test, 2);
	slot = o;
	SECTION_ASSERT_GT(test, heap, spanheap_add_cleanup(heap, o, nop_cleanup, arg), 0LL);
	spanheap_exit(heap);
	KUNIT_ASSERT_EQ(test, spanheap_root_add(heap, &slot), 0);

	KUNIT_ASSERT_EQ(test, why(test, arg, &s), 0);
	KUNIT_EXPECT_EQ(test, s.kind, SPANHEAP_ROOT_CLEANUP_ARG);
	KUNIT_ASSERT_EQ(test, s.nhops, 1U);
	expect_hop(test, &s, 0, arg, SPANHEAP_PATH_END);
	KUNIT_EXPECT_EQ(test, spanheap_root_remove(heap, &slot), 0);
}

/* F has a finalizer and nothing reaches it: F[1] -> G is kept by it. */
static void finalizer_referent_path(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct node *f, *g, *h;
	struct seen s;

	spanheap_enter(heap);
	f = node(test, 1);
	g = node(test, 2);
	h = node(test, 3);
	f->next[1] = g;
	g->next[0] = h;
	SECTION_ASSERT_EQ(test, heap, spanheap_set_finalizer(heap, f, nop_fin, NULL), 0);
	spanheap_exit(heap);

	KUNIT_ASSERT_EQ(test, why(test, h, &s), 0);
	KUNIT_EXPECT_EQ(test, s.kind, SPANHEAP_ROOT_FIN_REFERENT);
	KUNIT_ASSERT_EQ(test, s.nhops, 3U);
	expect_hop(test, &s, 0, f, 8);
	expect_hop(test, &s, 1, g, 0);
	expect_hop(test, &s, 2, h, SPANHEAP_PATH_END);

	/* F itself: its finalizer does not keep it. */
	KUNIT_ASSERT_EQ(test, why(test, f, &s), 0);
	KUNIT_EXPECT_EQ(test, s.kind, SPANHEAP_ROOT_NONE);
}

/*
 * X <-> Y, both with finalizers, nothing else: each reaches itself
 * through its own referents, so neither is ever finalized.  The report
 * is that cycle, starting and ending at the object asked about, even
 * though the other's finalizer reaches it in one hop.
 */
static void finalizer_cycle(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct node *x, *y, *z, *t;
	struct seen s;

	spanheap_enter(heap);
	x = node(test, 1);
	y = node(test, 2);
	x->next[0] = y;
	y->next[1] = x;
	SECTION_ASSERT_EQ(test, heap, spanheap_set_finalizer(heap, x, nop_fin, NULL), 0);
	SECTION_ASSERT_EQ(test, heap, spanheap_set_finalizer(heap, y, nop_fin, NULL), 0);
	/* T has a finalizer, Z's finalizer keeps it, and T reaches no one. */
	z = node(test, 3);
	t = node(test, 4);
	z->next[0] = t;
	SECTION_ASSERT_EQ(test, heap, spanheap_set_finalizer(heap, z, nop_fin, NULL), 0);
	SECTION_ASSERT_EQ(test, heap, spanheap_set_finalizer(heap, t, nop_fin, NULL), 0);
	spanheap_exit(heap);

	KUNIT_ASSERT_EQ(test, why(test, x, &s), 0);
	KUNIT_EXPECT_EQ(test, s.kind, SPANHEAP_ROOT_FIN_CYCLE);
	KUNIT_ASSERT_EQ(test, s.nhops, 3U);
	expect_hop(test, &s, 0, x, 0);
	expect_hop(test, &s, 1, y, 8);
	expect_hop(test, &s, 2, x, SPANHEAP_PATH_END);

	KUNIT_ASSERT_EQ(test, why(test, y, &s), 0);
	KUNIT_EXPECT_EQ(test, s.kind, SPANHEAP_ROOT_FIN_CYCLE);
	KUNIT_ASSERT_EQ(test, s.nhops, 3U);
	expect_hop(test, &s, 0, y, 8);
	expect_hop(test, &s, 1, x, 0);
	expect_hop(test, &s, 2, y, SPANHEAP_PATH_END);

	/* No cycle through T: it is kept by Z's finalizer, until that runs. */
	KUNIT_ASSERT_EQ(test, why(test, t, &s), 0);
	KUNIT_EXPECT_EQ(test, s.kind, SPANHEAP_ROOT_FIN_REFERENT);
	KUNIT_ASSERT_EQ(test, s.nhops, 2U);
	expect_hop(test, &s, 0, z, 0);
	expect_hop(test, &s, 1, t, SPANHEAP_PATH_END);

	/* The cycle diagnostic agrees: X and Y, not Z or T. */
	KUNIT_EXPECT_EQ(test, spanheap_finalizer_cycles(heap, NULL, NULL), 2);
}

/* Unreachable objects, and what is not an object. */
static void unreachable_and_bad_pointers(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct node *a, *b;
	struct seen s;
	int local;

	spanheap_enter(heap);
	a = node(test, 1);
	b = node(test, 2);
	a->next[0] = b;
	spanheap_exit(heap);

	KUNIT_ASSERT_EQ(test, why(test, b, &s), 0);
	KUNIT_EXPECT_EQ(test, s.calls, 1);
	KUNIT_EXPECT_EQ(test, s.kind, SPANHEAP_ROOT_NONE);
	KUNIT_EXPECT_EQ(test, s.nhops, 0U);

	KUNIT_EXPECT_EQ(test, why(test, &local, &s), -EFAULT);
	KUNIT_EXPECT_EQ(test, why(test, (char *)a + 8, &s), -EINVAL);
	KUNIT_EXPECT_EQ(test, s.calls, 0);
	spanheap_collect(heap);
	/* Freed by the cycle: no longer an allocated object. */
	KUNIT_EXPECT_EQ(test, why(test, a, &s), -EINVAL);
	KUNIT_EXPECT_EQ(test, s.calls, 0);
}

/*
 * Root kinds are walked one after another in the mark's order: T kept
 * for good by a root slot (slot -> A -> B -> T) and, for now, by a
 * queued finalizer (F -> T) is reported by the slot, although the
 * queue's path is shorter.
 */
static void first_root_kind_wins(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	static void *slot;
	struct node *a, *b, *t, *f, *ctx;
	struct seen s;

	spanheap_enter(heap);
	a = node(test, 1);
	b = node(test, 2);
	t = node(test, 3);
	f = node(test, 4);
	ctx = node(test, 5);
	a->next[0] = b;
	b->next[0] = t;
	f->next[0] = t;
	slot = a;
	spanheap_exit(heap);
	KUNIT_ASSERT_EQ(test, spanheap_root_add(heap, &slot), 0);
	queue_fin(test, f, ctx);

	KUNIT_ASSERT_EQ(test, why(test, t, &s), 0);
	KUNIT_EXPECT_EQ(test, s.kind, SPANHEAP_ROOT_SLOT);
	KUNIT_EXPECT_EQ(test, s.nhops, 3U);
	spanheap_wait_finalizers(heap);
	KUNIT_EXPECT_EQ(test, spanheap_root_remove(heap, &slot), 0);
}

/* A tiny object other than its block's first is asked about by its block. */
static void tiny_member(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	static void *slot;
	u64 *a, *b;
	struct seen s;

	spanheap_enter(heap);
	migrate_disable();
	a = spanheap_alloc(heap, 8, SPANHEAP_NOSCAN);
	b = spanheap_alloc(heap, 8, SPANHEAP_NOSCAN);
	migrate_enable();
	SECTION_ASSERT_NOT_NULL(test, heap, a);
	SECTION_ASSERT_NOT_NULL(test, heap, b);
	SECTION_ASSERT_PTR_EQ(test, heap, (u8 *)b, (u8 *)a + 8);	/* one block */
	slot = b;
	spanheap_exit(heap);
	KUNIT_ASSERT_EQ(test, spanheap_root_add(heap, &slot), 0);

	KUNIT_EXPECT_EQ(test, why(test, b, &s), 0);
	KUNIT_EXPECT_EQ(test, s.kind, SPANHEAP_ROOT_SLOT);
	KUNIT_EXPECT_EQ(test, spanheap_root_remove(heap, &slot), 0);
}

/*
 * A path longer than KMALLOC_MAX_SIZE / 16 hops (262144 with 4 MiB):
 * the report's hop array must not need one kmalloc of that size.
 */
#define DEEP_PATH	300000
static void deep_path(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	static void *slot;
	struct node *head, *n, *prev;
	struct seen s;
	int i;

	spanheap_enter(heap);
	head = prev = node(test, 0);
	for (i = 1; i < DEEP_PATH; i++) {
		n = node(test, i);
		prev->next[0] = n;
		prev = n;
	}
	slot = head;
	spanheap_exit(heap);
	KUNIT_ASSERT_EQ(test, spanheap_root_add(heap, &slot), 0);
	KUNIT_EXPECT_EQ(test, why(test, prev, &s), 0);
	KUNIT_EXPECT_EQ(test, s.nhops, (unsigned int)DEEP_PATH);
	KUNIT_EXPECT_EQ(test, spanheap_root_remove(heap, &slot), 0);
}

/* A search that needs more than shp_why_max_nodes nodes fails whole. */
static void search_is_bounded(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	unsigned int old = shp_why_max_nodes;
	struct node *n[8];
	static void *slot;
	struct seen s;
	int i, ret;

	spanheap_enter(heap);
	for (i = 0; i < 8; i++) {
		n[i] = node(test, i);
		if (i)
			n[i - 1]->next[0] = n[i];
	}
	slot = n[0];
	spanheap_exit(heap);
	KUNIT_ASSERT_EQ(test, spanheap_root_add(heap, &slot), 0);

	WRITE_ONCE(shp_why_max_nodes, 4);
	ret = why(test, n[7], &s);
	WRITE_ONCE(shp_why_max_nodes, 8);
	KUNIT_EXPECT_EQ(test, ret, -E2BIG);
	KUNIT_EXPECT_EQ(test, s.calls, 0);
	/* Eight nodes are enough for eight objects. */
	KUNIT_EXPECT_EQ(test, why(test, n[7], &s), 0);
	WRITE_ONCE(shp_why_max_nodes, old);
	KUNIT_EXPECT_EQ(test, s.nhops, 8U);
	KUNIT_EXPECT_EQ(test, spanheap_root_remove(heap, &slot), 0);
}

/* ---- searches while mutators, paced cycles and the sweeper run ---- */

#define CONC_MS		1500
#define CONC_CHAIN	6

struct conc {
	struct spanheap *heap;
	void *slot;		/* the chain's head, a root */
	struct node *chain[CONC_CHAIN];
	unsigned long deadline;
	struct completion mut_done, why_done;
	int bad;		/* searches whose path was wrong */
	int searches;
};

/* Allocates garbage (pacing on: cycles and sweeps follow) and relinks. */
static int conc_mutator(void *arg)
{
	struct conc *c = arg;
	struct node *n, *prev = NULL;
	unsigned int i = 0;

	while (time_before(jiffies, READ_ONCE(c->deadline))) {
		spanheap_enter(c->heap);
		n = spanheap_alloc(c->heap, 256, 0);
		if (n && prev && (i & 7))
			n->next[0] = prev;
		prev = (i & 7) ? n : NULL;
		/* The chain's tail points at fresh garbage now and then. */
		c->chain[CONC_CHAIN - 1]->next[1] = n;
		spanheap_exit(c->heap);
		i++;
		if (!(i % 64))
			cond_resched();
	}
	kthread_complete_and_exit(&c->mut_done, 0);
}

static void conc_record(void *arg, const struct spanheap_path *p)
{
	struct conc *c = arg;
	unsigned int i;

	c->searches++;
	if (p->kind != SPANHEAP_ROOT_SLOT || p->nhops != CONC_CHAIN) {
		c->bad++;
		return;
	}
	for (i = 0; i < CONC_CHAIN; i++)
		if (p->hops[i].obj != c->chain[i])
			c->bad++;
}

static int conc_searcher(void *arg)
{
	struct conc *c = arg;

	while (time_before(jiffies, READ_ONCE(c->deadline))) {
		if (spanheap_why(c->heap, c->chain[CONC_CHAIN - 1], conc_record, c))
			c->bad++;
		cond_resched();
	}
	kthread_complete_and_exit(&c->why_done, 0);
}

static void concurrent_with_mutators(struct kunit *test)
{
	int (*const fn[2])(void *) = { conc_mutator, conc_searcher };
	struct completion *done[2];
	struct task_struct *t;
	int i, started;
	struct conc *c;

	/* Not kunit-managed: left to the threads if one never ends. */
	c = kzalloc(sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c);
	c->heap = test->priv;
	spanheap_enter(c->heap);
	for (i = 0; i < CONC_CHAIN; i++) {
		c->chain[i] = spanheap_alloc(c->heap, sizeof(struct node), 0);
		if (!c->chain[i])
			break;
		c->chain[i]->id = i;
		if (i)
			c->chain[i - 1]->next[0] = c->chain[i];
	}
	c->slot = c->chain[0];
	spanheap_exit(c->heap);
	if (i < CONC_CHAIN || spanheap_root_add(c->heap, &c->slot)) {
		KUNIT_FAIL(test, "no rooted chain");
		kfree(c);
		return;
	}
	spanheap_set_gc_percent(c->heap, 10);
	init_completion(&c->mut_done);
	init_completion(&c->why_done);
	done[0] = &c->mut_done;
	done[1] = &c->why_done;
	c->deadline = jiffies + msecs_to_jiffies(CONC_MS);
	for (started = 0; started < 2; started++) {
		t = kthread_run(fn[started], c, "spanheap-why/%d", started);
		if (IS_ERR(t)) {
			KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(t));
			WRITE_ONCE(c->deadline, jiffies);	/* the other stops */
			break;
		}
	}
	for (i = 0; i < started; i++)
		if (!test_thread_done(test, done[i], CONC_MS / 1000 + 120))
			return;
	if (started == 2) {
		KUNIT_EXPECT_GT(test, c->searches, 0);
		KUNIT_EXPECT_EQ(test, c->bad, 0);
	}
	KUNIT_EXPECT_EQ(test, spanheap_root_remove(c->heap, &c->slot), 0);
	spanheap_set_gc_percent(c->heap, -1);
	kfree(c);
}

static struct kunit_case why_cases[] = {
	KUNIT_CASE(root_slot_path),
	KUNIT_CASE(owner_root_path),
	KUNIT_CASE(pin_path),
	KUNIT_CASE(finalizer_queue_path),
	KUNIT_CASE(cleanup_arg_path),
	KUNIT_CASE(finalizer_referent_path),
	KUNIT_CASE(finalizer_cycle),
	KUNIT_CASE(unreachable_and_bad_pointers),
	KUNIT_CASE(first_root_kind_wins),
	KUNIT_CASE(tiny_member),
	KUNIT_CASE(deep_path),
	KUNIT_CASE(search_is_bounded),
	KUNIT_CASE(concurrent_with_mutators),
	{}
};

static struct kunit_suite why_suite = {
	.name = "spanheap_why",
	.init = why_init,
	.exit = why_exit,
	.test_cases = why_cases,
};

kunit_test_suites(&why_suite);
