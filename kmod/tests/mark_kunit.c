// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the parallel mark.  One graph (a wide tree with interior
 * pointers and 24-byte objects, a list, rings, finalizable objects,
 * garbage, and an object wide enough to overflow every mark stack) is
 * marked serially and with 2 and 4 workers, with mark bytes and (at the
 * heap's limit) without; each mark must set exactly the expected bits.
 * Then mutators allocate wide structures between back-to-back cycles
 * that mark them in parallel (a TSan suite too).  Late work items, and
 * workers woken before a mark's first drain, join only drains that
 * have buffers for them, and never outlast their mark or heap.
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/slab.h>
#include <linux/err.h>
#include "test_heap.h"

#define MK_SUBTREES	256
#define MK_SUBTREE	63	/* nodes of a complete binary subtree */
#define MK_LIST		2000
#define MK_RING		100
#define MK_WIDE		(8 * SHP_GRAY_ENTRIES)
#define MK_MAX_OBJS	(MK_SUBTREES * (MK_SUBTREE + 2) + MK_LIST + 4 * MK_RING + \
			 2 * MK_WIDE + 64)
#define MK_NROOTS	5

struct mnode {
	void *a, *b;
	unsigned long magic, id;
};

struct mgraph {
	struct spanheap *heap;
	void *roots[MK_NROOTS];
	unsigned int n;
	void **obj;		/* every object, not scanned (kvmalloc) */
	bool *live;		/* expected to be marked */
	bool *marked;
	unsigned int f1;	/* index of the unreachable finalizable object */
};

static void mk_fin(struct spanheap *heap, void *obj, void *ctx)
{
}

static void *mk_add(struct kunit *test, struct mgraph *g, size_t size, bool live)
{
	void *p = spanheap_alloc(g->heap, size, 0);

	SECTION_ASSERT_NOT_NULL(test, g->heap, p);
	SECTION_ASSERT_LT(test, g->heap, g->n, (unsigned int)MK_MAX_OBJS);
	g->obj[g->n] = p;
	g->live[g->n++] = live;
	return p;
}

/* A complete binary tree of @n nodes; children are named by interior pointers. */
static struct mnode *mk_tree(struct kunit *test, struct mgraph *g, unsigned int n,
			     bool live)
{
	struct mnode *t[MK_SUBTREE];
	unsigned int i;

	for (i = 0; i < n; i++) {
		t[i] = mk_add(test, g, sizeof(struct mnode), live);
		t[i]->magic = i;
	}
	for (i = 0; i < n; i++) {
		if (2 * i + 1 < n)
			t[i]->a = (char *)t[2 * i + 1] + 8;
		if (2 * i + 2 < n)
			t[i]->b = t[2 * i + 2];
	}
	return t[0];
}

static struct mnode *mk_ring(struct kunit *test, struct mgraph *g, bool live)
{
	struct mnode *first = mk_add(test, g, sizeof(struct mnode), live), *n = first;
	unsigned int i;

	for (i = 1; i < MK_RING; i++) {
		n->a = mk_add(test, g, sizeof(struct mnode), live);
		n = n->a;
	}
	n->a = first;
	return first;
}

static void mk_build(struct kunit *test, struct mgraph *g)
{
	struct mnode *n, *f1, *f3, **wide, *list = NULL;
	void **fan;
	unsigned int i;

	spanheap_enter(g->heap);
	/*
	 * Marked first, scanned last: by then the drain has gone parallel
	 * (the fan fills the stack), and its MK_WIDE children overflow it.
	 */
	wide = mk_add(test, g, MK_WIDE * sizeof(void *), true);
	for (i = 0; i < MK_WIDE; i++) {
		wide[i] = mk_add(test, g, sizeof(struct mnode), true);
		wide[i]->a = mk_add(test, g, sizeof(struct mnode), true);
	}
	g->roots[0] = wide;
	fan = mk_add(test, g, MK_SUBTREES * sizeof(void *), true);
	for (i = 0; i < MK_SUBTREES; i++) {
		void **odd;

		fan[i] = mk_tree(test, g, MK_SUBTREE, true);
		/* Three words, the pointer in the last: every word is scanned. */
		odd = mk_add(test, g, 3 * sizeof(void *), true);
		odd[2] = mk_add(test, g, sizeof(struct mnode), true);
		((struct mnode *)fan[i])->id = (unsigned long)odd;
	}
	g->roots[1] = fan;
	for (i = 0; i < MK_LIST; i++) {
		n = mk_add(test, g, sizeof(*n), true);
		n->a = list;
		list = n;
	}
	g->roots[2] = list;
	g->roots[3] = mk_ring(test, g, true);
	mk_ring(test, g, false);
	mk_tree(test, g, MK_SUBTREE, false);
	/* Reachable with a finalizer: marked, and so is its referent. */
	n = mk_add(test, g, sizeof(*n), true);
	n->a = mk_add(test, g, sizeof(*n), true);
	SECTION_ASSERT_EQ(test, g->heap, spanheap_set_finalizer(g->heap, n, mk_fin, NULL), 0);
	g->roots[4] = n;
	/* Unreachable with a finalizer: only its referent is marked. */
	g->f1 = g->n;
	f1 = mk_add(test, g, sizeof(*f1), false);
	f1->a = mk_add(test, g, sizeof(*f1), true);
	SECTION_ASSERT_EQ(test, g->heap, spanheap_set_finalizer(g->heap, f1, mk_fin, NULL), 0);
	/* Unreachable with a finalizer, on a cycle through itself: marked. */
	f3 = mk_add(test, g, sizeof(*f3), true);
	f3->a = mk_add(test, g, sizeof(*f3), true);
	((struct mnode *)f3->a)->a = f3;
	SECTION_ASSERT_EQ(test, g->heap, spanheap_set_finalizer(g->heap, f3, mk_fin, NULL), 0);
	spanheap_exit(g->heap);
}

static void count_marks(struct spanheap *heap, struct shp_span *s, void *arg)
{
	unsigned int w;

	for (w = 0; w < s->nwords; w++)
		*(unsigned long *)arg += hweight_long(shp_mark_bits(s)[w]);
}

/*
 * Stop the world and mark as a cycle does with @workers, without
 * sweeping; read every object's mark bit into g->marked.  Return: bits
 * set in the whole heap.
 */
static unsigned long mk_mark(struct kunit *test, struct mgraph *g,
			     unsigned int workers)
{
	struct spanheap *heap = g->heap;
	unsigned long total = 0;
	struct shp_span *s;
	unsigned int i, idx;
	bool stack;

	mutex_lock(&heap->gc_lock);
	cancel_work_sync(&heap->sweep_work);
	percpu_down_write(&heap->sections);
	shp_central_world_stopped(heap, true);	/* as stop_world() */
	shp_finish_sweep(heap);
	spanheap_drain(heap);
	stack = shp_mark_stack_get(heap);
	if (stack) {
		heap->nmark_workers = workers;
		shp_mark_heap(heap);
		rcu_read_lock();
		for (i = 0; i < g->n; i++) {
			s = shp_find_object(heap, g->obj[i], &idx);
			g->marked[i] = s && test_bit(idx, shp_mark_bits(s));
		}
		rcu_read_unlock();
		shp_visit_spans(heap, count_marks, &total);
	}
	shp_central_world_stopped(heap, false);
	percpu_up_write(&heap->sections);
	mutex_unlock(&heap->gc_lock);
	KUNIT_ASSERT_TRUE(test, stack);
	return total;
}

static void mk_graph_init(struct kunit *test, struct mgraph *g)
{
	unsigned int i;

	g->obj = kunit_kcalloc(test, MK_MAX_OBJS, sizeof(*g->obj), GFP_KERNEL);
	g->live = kunit_kcalloc(test, MK_MAX_OBJS, sizeof(*g->live), GFP_KERNEL);
	g->marked = kunit_kcalloc(test, MK_MAX_OBJS, sizeof(*g->marked), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, g->obj);
	KUNIT_ASSERT_NOT_NULL(test, g->live);
	KUNIT_ASSERT_NOT_NULL(test, g->marked);
	g->heap = spanheap_create("kunit-mark", 0);
	KUNIT_ASSERT_FALSE(test, IS_ERR(g->heap));
	spanheap_set_gc_percent(g->heap, -1);
	/* Parallel state for 4 workers, made by the first mark. */
	g->heap->nmark_workers = 4;
	for (i = 0; i < MK_NROOTS; i++)
		KUNIT_ASSERT_EQ(test, spanheap_root_add(g->heap, &g->roots[i]), 0);
}

static void mk_graph_exit(struct mgraph *g)
{
	unsigned int i;

	for (i = 0; i < MK_NROOTS; i++)
		spanheap_root_remove(g->heap, &g->roots[i]);
	spanheap_destroy(g->heap);
}

/* Serial and parallel marks set the same, expected, bits. */
static void mark_parallel_same_set(struct kunit *test)
{
	static const unsigned int workers[] = { 1, 2, 4, 1, 4 };
	struct mgraph *g = kunit_kzalloc(test, sizeof(*g), GFP_KERNEL);
	unsigned long nlive = 0, total;
	unsigned int r, i, wrong, par_overflows = 0;
	u64 overflows, drains, byte_drains;

	KUNIT_ASSERT_NOT_NULL(test, g);
	mk_graph_init(test, g);
	mk_build(test, g);
	for (i = 0; i < g->n; i++)
		nlive += g->live[i];
	for (r = 0; r < ARRAY_SIZE(workers); r++) {
		overflows = g->heap->mark_overflows;
		drains = g->heap->mark_par_drains;
		byte_drains = g->heap->mark_byte_drains;
		total = mk_mark(test, g, workers[r]);
		for (i = 0, wrong = 0; i < g->n; i++)
			wrong += g->marked[i] != g->live[i];
		if (wrong || total != nlive)
			kunit_info(test, "%u workers: %u wrong, %lu of %lu marked\n",
				   workers[r], wrong, total, nlive);
		KUNIT_EXPECT_EQ(test, wrong, 0);
		KUNIT_EXPECT_EQ(test, total, nlive);
		KUNIT_EXPECT_LE(test, g->heap->mark_overflows, overflows + 1);
		if (workers[r] > 1) {
			KUNIT_EXPECT_GT(test, g->heap->mark_par_drains, drains);
			/* No limit: the workers mark with bytes. */
			KUNIT_EXPECT_EQ(test, g->heap->mark_byte_drains - byte_drains,
					g->heap->mark_par_drains - drains);
			par_overflows += g->heap->mark_overflows - overflows;
		} else {
			/* MK_WIDE gray objects at once overflow the stack. */
			KUNIT_EXPECT_EQ(test, g->heap->mark_overflows, overflows + 1);
			KUNIT_EXPECT_EQ(test, g->heap->mark_par_drains, drains);
		}
	}
	/*
	 * The workers' buffers hold 40 x 128 gray objects: only workers
	 * draining them as fast as one pushes MK_WIDE could avoid overflow
	 * in all three parallel marks.
	 */
	KUNIT_EXPECT_GT(test, par_overflows, 0);

	/* Without the wide object nothing overflows: no rescan hides a loss. */
	g->roots[0] = NULL;
	for (i = 0; i <= 2 * MK_WIDE; i++)
		g->live[i] = false;
	nlive -= 2 * MK_WIDE + 1;
	for (r = 0; r < 3; r++) {
		overflows = g->heap->mark_overflows;
		total = mk_mark(test, g, workers[r]);
		for (i = 0, wrong = 0; i < g->n; i++)
			wrong += g->marked[i] != g->live[i];
		if (wrong || total != nlive)
			kunit_info(test, "%u workers, no overflow: %u wrong, %lu of %lu marked\n",
				   workers[r], wrong, total, nlive);
		KUNIT_EXPECT_EQ(test, wrong, 0);
		KUNIT_EXPECT_EQ(test, total, nlive);
		KUNIT_EXPECT_EQ(test, g->heap->mark_overflows, overflows);
	}
	kunit_info(test, "%u objects, %lu live; %llu parallel drains, %llu helped\n",
		   g->n, nlive, g->heap->mark_par_drains, g->heap->mark_par_helped);

	/* A real cycle with 4 workers frees exactly the rest. */
	g->heap->nmark_workers = 4;
	spanheap_collect(g->heap);
	rcu_read_lock();
	for (i = 0, wrong = 0; i < g->n; i++) {
		struct shp_span *s = shp_find_object(g->heap, g->obj[i], &r);
		bool alloc = s && test_bit(r, shp_alloc_bits(s));

		/* The unreachable finalizable object waits for its finalizer. */
		wrong += alloc != (g->live[i] || i == g->f1);
	}
	rcu_read_unlock();
	KUNIT_EXPECT_EQ(test, wrong, 0);
	mk_graph_exit(g);
}

/*
 * Unroot the wide object, so no mark overflows (an overflow's rescan
 * marks serially what the workers may have lost).  Return: objects live.
 */
static unsigned long mk_drop_wide(struct mgraph *g)
{
	unsigned long nlive = 0;
	unsigned int i;

	g->roots[0] = NULL;
	for (i = 0; i <= 2 * MK_WIDE; i++)
		g->live[i] = false;
	for (i = 0; i < g->n; i++)
		nlive += g->live[i];
	return nlive;
}

/* Mark with @workers; expect exactly the @nlive expected objects marked. */
static void mk_expect_marked(struct kunit *test, struct mgraph *g,
			     unsigned long nlive, unsigned int workers)
{
	unsigned long total = mk_mark(test, g, workers);
	unsigned int i, wrong;

	for (i = 0, wrong = 0; i < g->n; i++)
		wrong += g->marked[i] != g->live[i];
	KUNIT_EXPECT_EQ(test, wrong, 0);
	KUNIT_EXPECT_EQ(test, total, nlive);
}

/*
 * Mark with 4 workers, in parallel, exactly the @nlive expected objects.
 * Return: the parallel drains that had mark bytes.
 */
static u64 mk_mark_par_bytes(struct kunit *test, struct mgraph *g,
			     unsigned long nlive)
{
	u64 drains = g->heap->mark_par_drains;
	u64 byte_drains = g->heap->mark_byte_drains;

	mk_expect_marked(test, g, nlive, 4);
	KUNIT_EXPECT_GT(test, g->heap->mark_par_drains, drains);
	return g->heap->mark_byte_drains - byte_drains;
}

/*
 * At the heap's limit there is no room for mark bytes: the workers set
 * the mark bits atomically, to the same set; with room again, the next
 * mark has bytes.  Without the wide object: no overflow rescan, which
 * would mark serially what the workers lose.
 */
static void mark_bytes_within_limit(struct kunit *test)
{
	struct mgraph *g = kunit_kzalloc(test, sizeof(*g), GFP_KERNEL);
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	unsigned long nlive;
	u64 overflows, byte_drains;
	unsigned int r;

	KUNIT_ASSERT_NOT_NULL(test, g);
	KUNIT_ASSERT_NOT_NULL(test, st);
	mk_graph_init(test, g);
	mk_build(test, g);
	nlive = mk_drop_wide(g);
	spanheap_read_stats(g->heap, st);
	spanheap_set_limit(g->heap, st->bytes_reserved + st->bytes_meta);
	for (r = 0; r < 3; r++) {
		if (r == 2)
			spanheap_set_limit(g->heap, 0);
		overflows = g->heap->mark_overflows;
		byte_drains = mk_mark_par_bytes(test, g, nlive);
		KUNIT_EXPECT_EQ(test, g->heap->mark_overflows, overflows);
		if (r < 2)
			KUNIT_EXPECT_EQ(test, byte_drains, 0);
		else
			KUNIT_EXPECT_GT(test, byte_drains, 0);
	}
	mk_graph_exit(g);
}

/*
 * The mark bytes follow the heap: grown by half, the heap no longer fits
 * the bytes the last mark sized, so the next mark makes them again
 * (without them the workers would set the bits atomically).
 */
static void mark_bytes_follow_growth(struct kunit *test)
{
	struct mgraph *g = kunit_kzalloc(test, sizeof(*g), GFP_KERNEL);
	unsigned int i, extra, failed = 0;
	u64 drains, byte_drains, made;
	unsigned long nlive;

	KUNIT_ASSERT_NOT_NULL(test, g);
	mk_graph_init(test, g);
	mk_build(test, g);
	nlive = mk_drop_wide(g);
	drains = g->heap->mark_par_drains;
	byte_drains = mk_mark_par_bytes(test, g, nlive);
	KUNIT_EXPECT_EQ(test, byte_drains, g->heap->mark_par_drains - drains);
	/* Unreachable, so the set to mark is the same. */
	extra = g->n / 2;
	spanheap_enter(g->heap);
	for (i = 0; i < extra; i++)
		failed += !spanheap_alloc(g->heap, sizeof(struct mnode), 0);
	spanheap_exit(g->heap);
	KUNIT_ASSERT_EQ(test, failed, 0);
	made = g->heap->mark_bytes_made;
	drains = g->heap->mark_par_drains;
	byte_drains = mk_mark_par_bytes(test, g, nlive);
	KUNIT_EXPECT_EQ(test, byte_drains, g->heap->mark_par_drains - drains);
	KUNIT_EXPECT_EQ(test, g->heap->mark_bytes_made, made + 1);
	mk_graph_exit(g);
}

#define MB_FAN		256	/* gray at once: past SHP_MARK_PAR_MIN */

/* Set the expected liveness of the fan and its leaves, objects @f to @f + MB_FAN. */
static void mb_fan_live(struct mgraph *g, unsigned int f, bool live)
{
	unsigned int i;

	for (i = f; i <= f + MB_FAN; i++)
		g->live[i] = live;
}

/*
 * Mark bytes are made by the first parallel drain of a mark, not by its
 * reset: marks of a list stay serial and make none; a fan's leaves,
 * gray at once, are drained in parallel, with bytes made once and kept
 * through serial marks after.
 */
static void mark_bytes_only_when_parallel(struct kunit *test)
{
	struct mgraph *g = kunit_kzalloc(test, sizeof(*g), GFP_KERNEL);
	struct mnode *list = NULL, *node;
	unsigned int i, f;
	u64 byte_drains;
	void **fan;

	KUNIT_ASSERT_NOT_NULL(test, g);
	mk_graph_init(test, g);
	spanheap_enter(g->heap);
	for (i = 0; i < MK_LIST; i++) {
		node = mk_add(test, g, sizeof(*node), true);
		node->a = list;
		list = node;
	}
	f = g->n;
	fan = mk_add(test, g, MB_FAN * sizeof(void *), false);
	for (i = 0; i < MB_FAN; i++)
		fan[i] = mk_add(test, g, sizeof(*node), false);
	spanheap_exit(g->heap);
	g->roots[0] = list;

	mk_expect_marked(test, g, MK_LIST, 4);
	mk_expect_marked(test, g, MK_LIST, 4);
	KUNIT_EXPECT_EQ(test, g->heap->mark_par_drains, 0);
	KUNIT_EXPECT_EQ(test, g->heap->mark_bytes_made, 0);

	g->roots[1] = fan;
	mb_fan_live(g, f, true);
	byte_drains = mk_mark_par_bytes(test, g, MK_LIST + MB_FAN + 1);
	KUNIT_EXPECT_GT(test, byte_drains, 0);
	KUNIT_EXPECT_EQ(test, g->heap->mark_bytes_made, 1);

	g->roots[1] = NULL;
	mb_fan_live(g, f, false);
	mk_expect_marked(test, g, MK_LIST, 4);
	g->roots[1] = fan;
	mb_fan_live(g, f, true);
	byte_drains = mk_mark_par_bytes(test, g, MK_LIST + MB_FAN + 1);
	KUNIT_EXPECT_GT(test, byte_drains, 0);
	KUNIT_EXPECT_EQ(test, g->heap->mark_bytes_made, 1);
	mk_graph_exit(g);
}

#define MH_SIZE		48	/* objects of a class whose spans end in waste */
#define MH_SPANS	5	/* more than the mark's hint and its 3 previous */
#define MH_OBJS		(8 * 256)

/* The objects of up to MH_SPANS spans, grouped by span. */
struct mh_spans {
	struct shp_span *s[MH_SPANS];
	unsigned int n, nobj[MH_SPANS], used[MH_SPANS];
	unsigned int obj[MH_SPANS][MH_OBJS];	/* indexes in g->obj */
};

/*
 * A list whose links go from span to span in a pseudo-random order
 * among five, so the mark's hint moves to its previous ones and back,
 * and to spans evicted from them; every node also holds a word into a
 * freed object and one just past the last object of a span, neither of
 * which marks anything.  Serial and parallel marks set exactly the
 * list's bits.
 */
static void mark_hints_rotate(struct kunit *test)
{
	struct mgraph *g = kunit_kzalloc(test, sizeof(*g), GFP_KERNEL);
	struct mh_spans *sp = kunit_kzalloc(test, sizeof(*sp), GFP_KERNEL);
	unsigned long nlive = 0, total, *node, *list = NULL, tail;
	unsigned int i, j, r, idx, wrong, rnd = 1, nfree = 0;
	void *freed[MH_SPANS];
	struct shp_span *s;

	KUNIT_ASSERT_NOT_NULL(test, g);
	KUNIT_ASSERT_NOT_NULL(test, sp);
	mk_graph_init(test, g);
	spanheap_enter(g->heap);
	for (i = 0; i < MH_OBJS; i++)
		mk_add(test, g, MH_SIZE, false);
	rcu_read_lock();
	for (i = 0; i < g->n; i++) {
		s = shp_find_object(g->heap, g->obj[i], &idx);
		for (j = 0; j < sp->n && sp->s[j] != s; j++)
			;
		if (j == sp->n && sp->n < MH_SPANS)
			sp->s[sp->n++] = s;
		if (j < sp->n)
			sp->obj[j][sp->nobj[j]++] = i;
	}
	rcu_read_unlock();
	SECTION_ASSERT_EQ(test, g->heap, sp->n, MH_SPANS);
	s = sp->s[0];
	tail = s->base + (unsigned long)s->nelems * s->elemsize;
	SECTION_ASSERT_LT(test, g->heap, tail, s->base + s->bytes);
	/* The last object of each span is freed; its words point into it. */
	for (j = 0; j < MH_SPANS; j++) {
		SECTION_ASSERT_GT(test, g->heap, sp->nobj[j], 2U);
		i = sp->obj[j][--sp->nobj[j]];
		freed[j] = g->obj[i];
		SECTION_ASSERT_EQ(test, g->heap, spanheap_free(g->heap, freed[j]), 0);
	}
	for (;;) {
		rnd = rnd * 1103515245 + 12345;
		j = (rnd >> 16) % MH_SPANS;
		for (r = 0; r < MH_SPANS && sp->used[j] == sp->nobj[j]; r++)
			j = (j + 1) % MH_SPANS;
		if (r == MH_SPANS)
			break;
		i = sp->obj[j][sp->used[j]++];
		node = g->obj[i];
		node[0] = (unsigned long)list;
		node[1] = (unsigned long)freed[nfree++ % MH_SPANS] + 8;
		node[2] = tail;
		list = node;
		g->live[i] = true;
		nlive++;
	}
	g->roots[2] = list;
	spanheap_exit(g->heap);
	for (r = 0; r < 2; r++) {
		total = mk_mark(test, g, r + 1);
		for (i = 0, wrong = 0; i < g->n; i++)
			wrong += g->marked[i] != g->live[i];
		KUNIT_EXPECT_EQ(test, wrong, 0);
		KUNIT_EXPECT_EQ(test, total, nlive);
	}
	mk_graph_exit(g);
}

#define MS_MS		1000
#define MS_THREADS	2
#define MS_ROOTS	8
#define MS_FAN		256
#define MS_MAGIC	0x6d61726b5f706172UL

struct mstress;

struct mthread {
	struct mstress *m;
	unsigned int index;
	void *roots[MS_ROOTS];
	struct completion done;
};

struct mstress {
	struct spanheap *heap;
	unsigned long deadline;
	atomic_long_t errors;
	struct mthread t[MS_THREADS];
	struct completion collector_done;
};

/* A fan: MS_FAN pointers, each to a node holding its magic and a leaf. */
static bool fan_intact(void **fan)
{
	struct mnode *n;
	unsigned int i;

	if (!fan)
		return true;
	for (i = 0; i < MS_FAN; i++) {
		n = fan[i];
		if (n->magic != (MS_MAGIC ^ i) || !n->a ||
		    ((struct mnode *)n->a)->magic != MS_MAGIC)
			return false;
	}
	return true;
}

static void **fan_new(struct spanheap *heap)
{
	void **fan = spanheap_alloc(heap, MS_FAN * sizeof(void *), 0);
	struct mnode *n, *leaf;
	unsigned int i;

	if (!fan)
		return NULL;
	for (i = 0; i < MS_FAN; i++) {
		n = spanheap_alloc(heap, sizeof(*n), 0);
		leaf = spanheap_alloc(heap, sizeof(*leaf), 0);
		if (!n || !leaf)
			return NULL;
		leaf->magic = MS_MAGIC;
		n->a = leaf;
		n->magic = MS_MAGIC ^ i;
		fan[i] = n;
	}
	return fan;
}

static int ms_mutator(void *arg)
{
	struct mthread *t = arg;
	struct mstress *m = t->m;
	u32 x = 0x9e3779b9u * (t->index + 1);
	void **fan;
	unsigned int i;

	while (time_before(jiffies, READ_ONCE(m->deadline))) {
		spanheap_enter(m->heap);
		for (i = 0; i < 8; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			if (!fan_intact(READ_ONCE(t->roots[x % MS_ROOTS])))
				atomic_long_inc(&m->errors);
			if (x & 0x100) {
				fan = fan_new(m->heap);
				if (!fan)
					atomic_long_inc(&m->errors);
				WRITE_ONCE(t->roots[(x >> 9) % MS_ROOTS], fan);
			}
		}
		spanheap_exit(m->heap);
		cond_resched();
	}
	kthread_complete_and_exit(&t->done, 0);
}

static int ms_collector(void *arg)
{
	struct mstress *m = arg;

	while (time_before(jiffies, READ_ONCE(m->deadline))) {
		spanheap_collect(m->heap);
		cond_resched();
	}
	kthread_complete_and_exit(&m->collector_done, 0);
}

/* Mutators allocate between cycles marked by 4 workers; nothing reachable goes. */
static void mark_parallel_mutators(struct kunit *test)
{
	unsigned int i, r, started;
	struct task_struct *task;
	struct mstress *m;

	m = kzalloc(sizeof(*m), GFP_KERNEL);	/* freed once the threads are done */
	KUNIT_ASSERT_NOT_NULL(test, m);
	m->heap = spanheap_create("kunit-mark-stress", 0);
	if (IS_ERR(m->heap)) {
		KUNIT_FAIL(test, "heap: %ld", PTR_ERR(m->heap));
		kfree(m);
		return;
	}
	spanheap_set_gc_percent(m->heap, -1);
	m->heap->nmark_workers = 4;
	for (i = 0; i < MS_THREADS; i++) {
		m->t[i].m = m;
		m->t[i].index = i;
		init_completion(&m->t[i].done);
		for (r = 0; r < MS_ROOTS; r++)
			if (spanheap_root_add(m->heap, &m->t[i].roots[r])) {
				KUNIT_FAIL(test, "root_add failed");
				goto out;
			}
	}
	init_completion(&m->collector_done);
	m->deadline = jiffies + msecs_to_jiffies(MS_MS);
	for (started = 0; started <= MS_THREADS; started++) {
		if (started < MS_THREADS)
			task = kthread_run(ms_mutator, &m->t[started], "spanheap-mk/%u",
					   started);
		else
			task = kthread_run(ms_collector, m, "spanheap-mk-gc");
		if (IS_ERR(task)) {
			KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(task));
			WRITE_ONCE(m->deadline, jiffies);	/* the others stop */
			break;
		}
	}
	for (i = 0; i < started; i++)
		if (!test_wait_done(test, i < MS_THREADS ? &m->t[i].done :
				    &m->collector_done, MS_MS / 1000 + 120))
			return;
	if (started <= MS_THREADS)
		goto out;
	spanheap_collect(m->heap);
	for (i = 0; i < MS_THREADS; i++)
		for (r = 0; r < MS_ROOTS; r++)
			KUNIT_EXPECT_TRUE(test, fan_intact(m->t[i].roots[r]));
	KUNIT_EXPECT_EQ(test, atomic_long_read(&m->errors), 0);
	KUNIT_EXPECT_GT(test, m->heap->mark_par_drains, 0);
	/* A cycle after one with a parallel drain woke its workers early. */
	KUNIT_EXPECT_GT(test, m->heap->mark_early_wakes, 0);
	kunit_info(test, "%llu cycles, %llu parallel drains, %llu helped, %llu woken early\n",
		   (u64)atomic64_read(&m->heap->collections),
		   m->heap->mark_par_drains, m->heap->mark_par_helped,
		   m->heap->mark_early_wakes);
	for (i = 0; i < MS_THREADS; i++)
		for (r = 0; r < MS_ROOTS; r++)
			spanheap_root_remove(m->heap, &m->t[i].roots[r]);
out:
	spanheap_destroy(m->heap);
	kfree(m);
}

/* Wait, at most 10 s, until @work is neither queued nor running. */
static bool mk_item_idle(struct work_struct *work)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(10000);

	while (work_busy(work)) {
		if (time_after(jiffies, deadline))
			return false;
		usleep_range(1000, 2000);
	}
	return true;
}

/*
 * Assert that @work, an item of @g's workers, ends within 10 s.  If it
 * does not, end any wake it may wait on and stop the case there: the
 * heap is left, not destroyed under an item that may still run.
 */
static void mk_assert_idle(struct kunit *test, struct mgraph *g,
			   struct work_struct *work)
{
	bool idle = mk_item_idle(work);

	if (!idle) {
		mutex_lock(&g->heap->gc_lock);
		shp_mark_workers_release(g->heap);
		mutex_unlock(&g->heap->gc_lock);
	}
	KUNIT_ASSERT_TRUE(test, idle);
}

static struct completion mk_gate, mk_gate_entered;
static bool mk_gated_done;

static unsigned int mk_gate_ms;

/*
 * Worker 1's item, held in its workqueue thread until the gate opens or
 * mk_gate_ms pass.
 */
static void mk_work_gated(struct work_struct *work)
{
	complete(&mk_gate_entered);
	wait_for_completion_timeout(&mk_gate, msecs_to_jiffies(mk_gate_ms));
	shp_mark_workfn(work);
	WRITE_ONCE(mk_gated_done, true);
}

/* Queue @work, gated for @ms, and wait until a workqueue thread has taken it. */
static void mk_queue_gated(struct kunit *test, struct work_struct *work,
			   unsigned int ms)
{
	mk_gate_ms = ms;
	init_completion(&mk_gate);
	init_completion(&mk_gate_entered);
	WRITE_ONCE(mk_gated_done, false);
	queue_work(shp_mark_wq, work);
	KUNIT_ASSERT_NE(test, wait_for_completion_timeout(&mk_gate_entered,
			msecs_to_jiffies(10000)), 0UL);
}

/*
 * A worker's item that a workqueue thread took but that has not joined
 * holds up no drain and takes part in none; let through, it finds the
 * drain done and leaves; and destroying the heap waits for it.
 */
static void mark_late_worker(struct kunit *test)
{
	struct mgraph *g = kunit_kzalloc(test, sizeof(*g), GFP_KERNEL);
	struct work_struct *work;
	unsigned long nlive;
	u64 drains, helped;

	KUNIT_ASSERT_NOT_NULL(test, g);
	mk_graph_init(test, g);
	mk_build(test, g);
	nlive = mk_drop_wide(g);
	mk_expect_marked(test, g, nlive, 2);	/* makes the parallel state */
	work = shp_mark_worker_work(g->heap, 1);
	KUNIT_ASSERT_NOT_NULL(test, work);
	cancel_work_sync(work);		/* it may still be on its way out */
	INIT_WORK(work, mk_work_gated);

	mk_queue_gated(test, work, 60000);
	drains = g->heap->mark_par_drains;
	helped = g->heap->mark_par_helped;
	mk_expect_marked(test, g, nlive, 2);
	KUNIT_EXPECT_GT(test, g->heap->mark_par_drains, drains);
	KUNIT_EXPECT_EQ(test, g->heap->mark_par_helped, helped);
	KUNIT_EXPECT_FALSE(test, READ_ONCE(mk_gated_done));

	complete_all(&mk_gate);
	mk_assert_idle(test, g, work);
	KUNIT_EXPECT_TRUE(test, READ_ONCE(mk_gated_done));
	KUNIT_EXPECT_EQ(test, g->heap->mark_par_helped, helped);
	/* The gate stays open: the item may join this mark. */
	mk_expect_marked(test, g, nlive, 2);
	mk_assert_idle(test, g, work);

	/* Held for a second: the destroy gets to it first, and must wait. */
	mk_queue_gated(test, work, 1000);
	mk_graph_exit(g);
	KUNIT_EXPECT_TRUE(test, READ_ONCE(mk_gated_done));
}

/* Offers worker i's item to a drain of n workers, as the two functions below. */
typedef int (*mk_offer_fn)(struct spanheap *heap, unsigned int n, unsigned int i);

/*
 * Worker i's item joins a drain of n workers exactly when i < n (the
 * drain has buffers for it): a drain of 2 admits worker 1's, not worker
 * 2's or 3's, whose buffers it hands out as shared ones.
 */
static void mk_offers(struct kunit *test, mk_offer_fn offer)
{
	struct mgraph *g = kunit_kzalloc(test, sizeof(*g), GFP_KERNEL);
	unsigned long nlive;

	KUNIT_ASSERT_NOT_NULL(test, g);
	mk_graph_init(test, g);
	mk_build(test, g);
	nlive = mk_drop_wide(g);
	mk_expect_marked(test, g, nlive, 4);	/* state for 4 workers */

	KUNIT_EXPECT_EQ(test, offer(g->heap, 2, 1), 1);
	KUNIT_EXPECT_EQ(test, offer(g->heap, 2, 2), 0);
	KUNIT_EXPECT_EQ(test, offer(g->heap, 2, 3), 0);
	KUNIT_EXPECT_EQ(test, offer(g->heap, 3, 2), 1);
	KUNIT_EXPECT_EQ(test, offer(g->heap, 3, 3), 0);
	KUNIT_EXPECT_EQ(test, offer(g->heap, 4, 3), 1);
	/* Drains the state cannot have, and worker 0 (the cycle's task). */
	KUNIT_EXPECT_EQ(test, offer(g->heap, 1, 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, offer(g->heap, 5, 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, offer(g->heap, 2, 0), -EINVAL);

	/* The state is whole after: marks with 2 and 4 workers, the same set. */
	mk_expect_marked(test, g, nlive, 2);
	mk_expect_marked(test, g, nlive, 4);
	mk_graph_exit(g);
}

/* A late item of an earlier drain with more workers (shp_mark_offer_late_item()). */
static void mark_late_worker_fewer(struct kunit *test)
{
	mk_offers(test, shp_mark_offer_late_item);
}

/*
 * An item woken before a drain opens (shp_mark_offer_early_item()): it
 * waits for the drain; refused, it waits on, and leaves when the wake
 * ends.
 */
static void mark_early_item_waits(struct kunit *test)
{
	mk_offers(test, shp_mark_offer_early_item);
}

/*
 * A mark after one that drained in parallel queues its workers before
 * its first drain (shp_mark_workers_wake()) and marks the same set; the
 * wake has every worker wait until its release.  A mark woken early that
 * has no parallel drain lets its workers go when it ends: none waits on;
 * and the mark after it is not woken early.
 */
static void mark_workers_woken_early(struct kunit *test)
{
	struct mgraph *g = kunit_kzalloc(test, sizeof(*g), GFP_KERNEL);
	struct work_struct *work;
	unsigned long nlive;
	unsigned int i, r;
	unsigned long deadline;
	bool waiting;
	u64 wakes, drains;

	KUNIT_ASSERT_NOT_NULL(test, g);
	mk_graph_init(test, g);
	mk_build(test, g);
	nlive = mk_drop_wide(g);
	mk_expect_marked(test, g, nlive, 2);	/* a parallel drain */
	KUNIT_ASSERT_GT(test, g->heap->mark_par_drains, 0);
	work = shp_mark_worker_work(g->heap, 1);
	KUNIT_ASSERT_NOT_NULL(test, work);

	for (r = 0; r < 3; r++) {
		wakes = g->heap->mark_early_wakes;
		drains = g->heap->mark_par_drains;
		mk_expect_marked(test, g, nlive, 2);
		KUNIT_EXPECT_EQ(test, g->heap->mark_early_wakes, wakes + 1);
		KUNIT_EXPECT_GT(test, g->heap->mark_par_drains, drains);
	}

	/* The wake queues workers 1 to 3, which wait until the release. */
	mutex_lock(&g->heap->gc_lock);
	percpu_down_write(&g->heap->sections);
	g->heap->nmark_workers = 4;
	shp_mark_workers_wake(g->heap);
	deadline = jiffies + msecs_to_jiffies(10000);
	while (!(waiting = shp_mark_early_waiters(g->heap) == 3) &&
	       time_before(jiffies, deadline))
		usleep_range(1000, 2000);
	shp_mark_workers_release(g->heap);
	percpu_up_write(&g->heap->sections);
	mutex_unlock(&g->heap->gc_lock);
	KUNIT_EXPECT_TRUE(test, waiting);
	for (i = 1; i < 4; i++)
		KUNIT_EXPECT_TRUE(test, mk_item_idle(shp_mark_worker_work(g->heap, i)));
	KUNIT_EXPECT_EQ(test, shp_mark_early_waiters(g->heap), 0);
	mk_expect_marked(test, g, nlive, 2);	/* parallel again: the next wakes */

	/* Nothing rooted: the finalizers' referents alone stay serial. */
	for (i = 0; i < MK_NROOTS; i++)
		g->roots[i] = NULL;
	KUNIT_EXPECT_TRUE(test, mk_item_idle(work));
	wakes = g->heap->mark_early_wakes;
	drains = g->heap->mark_par_drains;
	mk_mark(test, g, 2);
	KUNIT_EXPECT_EQ(test, g->heap->mark_early_wakes, wakes + 1);
	KUNIT_EXPECT_EQ(test, g->heap->mark_par_drains, drains);
	mk_assert_idle(test, g, work);
	mk_mark(test, g, 2);
	KUNIT_EXPECT_EQ(test, g->heap->mark_early_wakes, wakes + 1);
	mk_graph_exit(g);
}

static struct kunit_case mark_cases[] = {
	KUNIT_CASE(mark_parallel_same_set),
	KUNIT_CASE(mark_bytes_within_limit),
	KUNIT_CASE(mark_bytes_follow_growth),
	KUNIT_CASE(mark_bytes_only_when_parallel),
	KUNIT_CASE(mark_hints_rotate),
	KUNIT_CASE(mark_parallel_mutators),
	KUNIT_CASE(mark_late_worker),
	KUNIT_CASE(mark_late_worker_fewer),
	KUNIT_CASE(mark_workers_woken_early),
	KUNIT_CASE(mark_early_item_waits),
	{}
};

static struct kunit_suite mark_suite = {
	.name = "spanheap_mark",
	.test_cases = mark_cases,
};

kunit_test_suites(&mark_suite);
