// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the /dev/spanheap layer (uheap) driven through uheap_do() with
 * kernel-side argument structs: the parts of issue 7 that take 2^32
 * calls or a precise interleaving to reach from userspace.
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/err.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "../internal.h"
#include "../uheap.h"
#include "test_heap.h"

static int uheap_init(struct kunit *test)
{
	struct uheap *u = uheap_create();
	union uheap_args a = { .params = {
		.size = sizeof(a.params), .flags = SPANHEAP_PARAM_GC_PERCENT,
		.gc_percent = -1,
	} };

	if (IS_ERR(u))
		return PTR_ERR(u);
	test->priv = u;
	return uheap_do(u, SPANHEAP_IOC_SET_PARAMS, &a, NULL);
}

static void uheap_exit(struct kunit *test)
{
	if (test->priv)		/* NULL: left to a thread that never ended */
		uheap_destroy(test->priv);
}

static long do_alloc(struct uheap *u, u32 kind, u64 len, u32 flags, u64 *h)
{
	union uheap_args a = { .alloc = {
		.size = sizeof(a.alloc), .kind = kind, .length = len, .flags = flags,
	} };
	long ret = uheap_do(u, SPANHEAP_IOC_ALLOC, &a, NULL);

	*h = a.alloc.handle;
	return ret;
}

static long do_cmd(struct uheap *u, unsigned int cmd, u64 h, u64 x)
{
	union uheap_args a = { .size = 0 };

	switch (cmd) {
	case SPANHEAP_IOC_ROOT:
	case SPANHEAP_IOC_UNROOT:
		a.root = (struct spanheap_root){ .size = sizeof(a.root), .handle = h };
		break;
	case SPANHEAP_IOC_FINALIZER:
		a.fin = (struct spanheap_finalizer){ .size = sizeof(a.fin),
						     .handle = h, .token = x };
		break;
	case SPANHEAP_IOC_STORE:
		a.ref = (struct spanheap_ref){ .size = sizeof(a.ref), .handle = h,
					       .value = x };
		break;
	case SPANHEAP_IOC_GC:
		a.gc = (struct spanheap_gc){ .size = sizeof(a.gc),
					     .flags = SPANHEAP_GC_WAIT };
		break;
	}
	return uheap_do(u, cmd, &a, NULL);
}

static long do_fin_clear(struct uheap *u, u64 h)
{
	union uheap_args a = { .fin = {
		.size = sizeof(a.fin), .handle = h, .flags = SPANHEAP_FIN_CLEAR,
	} };

	return uheap_do(u, SPANHEAP_IOC_FINALIZER, &a, NULL);
}

static void *entry_obj(struct uheap *u, u64 h)
{
	struct uh_entry *e;

	mutex_lock(&u->lock);
	e = uh_tab_get(&u->tab, h & (UH_MAX_ENTRIES - 1));
	mutex_unlock(&u->lock);
	return e ? e->obj : NULL;
}

/* Defect 3: the user's token is never what the collector sees. */
static void token_is_never_scanned(struct kunit *test)
{
	struct uheap *u = test->priv;
	struct shp_special_finalizer *f;
	struct shp_span *s;
	unsigned int idx;
	u64 x, fo, token;
	void *fobj;

	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_REF, 1, 0, &x), 0);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_REF, 1, 0, &fo), 0);
	/* A token that is the address of an unrooted object. */
	token = (u64)(unsigned long)entry_obj(u, x) + 8;
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, fo, token), 0);
	fobj = entry_obj(u, fo);
	spanheap_enter(u->heap);
	s = shp_special_target(u->heap, fobj, &idx, NULL, SHP_AT_START);
	SECTION_ASSERT_FALSE(test, u->heap, IS_ERR(s));
	spin_lock(&s->speciallock);
	f = (struct shp_special_finalizer *)shp_special_find(s, idx, 0,
						SPANHEAP_SPECIAL_FINALIZER);
	KUNIT_EXPECT_NOT_NULL(test, f);
	if (f)
		KUNIT_EXPECT_NE(test, (u64)(unsigned long)f->ctx, token);
	spin_unlock(&s->speciallock);
	spanheap_exit(u->heap);
	/* fo's event is delivered and pending; x stays unreachable. */
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, u->nevents, 1);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, x, 0), -ESTALE);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, fo, 0), 0);
}

/* Defect 8: the generation never wraps; the file retires instead. */
static void handle_space_retires(struct kunit *test)
{
	struct uheap *u = test->priv;
	u64 old, last, h;

	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &old), 0);
	mutex_lock(&u->lock);
	u->epoch = UH_GEN_MASK;			/* 2^44 allocations later */
	u->next_idx = UH_MAX_ENTRIES - 1;
	mutex_unlock(&u->lock);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &last), 0);
	KUNIT_EXPECT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8, 0, &h), -ENOSPC);
	KUNIT_EXPECT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8, 0, &h), -ENOSPC);
	/* Handles made before still name their objects. */
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_UNROOT, old, 0), 0);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_UNROOT, last, 0), 0);
	KUNIT_EXPECT_EQ(test, u->nentries, 2);
}

/* Defect 8: the per-handle root count stops at U32_MAX. */
static void root_count_overflows(struct kunit *test)
{
	struct uheap *u = test->priv;
	struct uh_entry *e;
	u64 h;

	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &h), 0);
	mutex_lock(&u->lock);
	e = uh_tab_get(&u->tab, h & (UH_MAX_ENTRIES - 1));
	e->roots = U32_MAX - 1;
	u->nroots = U32_MAX - 1;
	mutex_unlock(&u->lock);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, h, 0), 0);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, h, 0), -EOVERFLOW);
	KUNIT_EXPECT_EQ(test, e->roots, U32_MAX);
	KUNIT_EXPECT_EQ(test, u->nroots, U32_MAX);
	mutex_lock(&u->lock);
	e->roots = 1;
	u->nroots = 1;
	mutex_unlock(&u->lock);
}

/*
 * Two unreachable objects with finalizers and room for one event: a
 * cycle delivers one (rooted here, so it stays) and re-arms the other,
 * which a second cycle's sweep then takes again.  Returns that one's
 * event, queued to run and not yet run by the worker.
 */
static struct uh_event *one_deferred_then_taken(struct kunit *test, struct uheap *u)
{
	struct uh_event *ev;
	u64 a, b;
	void *ctx;

	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_REF, 1, 0, &a), 0);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_REF, 1, 0, &b), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, a, 1), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, b, 2), 0);
	u->ev_max = 1;
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	/* One delivered, the other deferred: re-armed on its object. */
	KUNIT_EXPECT_EQ(test, u->nevents, 1);
	KUNIT_EXPECT_EQ(test, u->ndeferred, 1);
	ev = list_first_entry(&u->events, struct uh_event, node);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, ev->ev.handle, 0), 0);
	/* The deferred object: what a sweep does. */
	ev = list_first_entry(&u->armed, struct uh_event, node);
	spanheap_enter(u->heap);
	SECTION_ASSERT_EQ(test, u->heap, spanheap_take_finalizer(u->heap, ev->obj, &ctx), 0);
	spanheap_exit(u->heap);
	KUNIT_ASSERT_PTR_EQ(test, ctx, (void *)ev);
	return ev;
}

/*
 * Defect 2: the queue is full when the worker runs a finalizer whose
 * object got a new finalizer after the sweep queued the old one.  The
 * old token is delivered past the cap, once; the new one stays armed.
 */
static void full_queue_and_new_finalizer_lose_nothing(struct kunit *test)
{
	struct uheap *u = test->priv;
	struct uh_event *ev, *old;
	int n = 0;

	old = one_deferred_then_taken(test, u);
	/* The user sets token 3 meanwhile. */
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, old->ev.handle, 3), 0);
	spanheap_enter(u->heap);
	uheap_finalizer(u->heap, old->obj, old);	/* the worker's run */
	spanheap_exit(u->heap);
	KUNIT_EXPECT_EQ(test, u->nevents, 2);
	KUNIT_EXPECT_EQ(test, u->novercap, 1);
	list_for_each_entry(ev, &u->events, node)
		n += ev->ev.token == old->ev.token;
	KUNIT_EXPECT_EQ(test, n, 1);
	n = 0;
	list_for_each_entry(ev, &u->armed, node)
		n += ev->ev.token == 3;
	KUNIT_EXPECT_EQ(test, n, 1);
}

/* Defect 4: the table holds O(live objects) entries; dead ones go. */
static void table_shrinks_after_collection(struct kunit *test)
{
	struct uheap *u = test->priv;
	unsigned int i;
	u64 h;

	for (i = 0; i < 20000; i++)
		KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_REF, 1, 0, &h), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	for (i = 0; i < 20000; i++)
		KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_REF, 1, 0, &h), 0);
	KUNIT_EXPECT_LE(test, u->nentries, 20000 + 256);
	/*
	 * The table's leaves, which hold the entries (dense here: about one
	 * per UH_LEAF_ENTRIES entries, the emptied ones freed), and directory.
	 */
	KUNIT_EXPECT_GE(test, atomic_long_read(&u->charged),
			(long)(u->nentries / UH_LEAF_ENTRIES * UH_TAB_LEAF_COST +
			       uh_tab_dir_cost(u->tab.ndir)));
	KUNIT_EXPECT_LE(test, atomic_long_read(&u->charged),
			(long)((u->nentries / UH_LEAF_ENTRIES + 2) * UH_TAB_LEAF_COST +
			       uh_tab_dir_cost(u->tab.ndir)));
}

/*
 * Defect 4: a table kept sparse on purpose (one live entry per leaf)
 * is charged for its leaves, so the file's limit bounds it.
 */
static void sparse_table_is_charged(struct kunit *test)
{
	struct uheap *u = test->priv;
	long before = atomic_long_read(&u->charged);
	unsigned int i;
	u64 h;

	for (i = 0; i < 16 * UH_LEAF_ENTRIES; i++)
		KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
					       i % UH_LEAF_ENTRIES ? 0 : SPANHEAP_ALLOC_ROOTED,
					       &h), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	mutex_lock(&u->lock);
	u->reclaim_at = 0;			/* the next ALLOC reclaims */
	mutex_unlock(&u->lock);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8, 0, &h), 0);
	KUNIT_EXPECT_LE(test, u->nentries, 16 + 1);
	KUNIT_EXPECT_GE(test, atomic_long_read(&u->charged) - before,
			(long)(16 * UH_TAB_LEAF_COST));
}

/*
 * A finalizer the cycle took, then cleared by the user, with the queue
 * full: delivered past the cap, not re-armed behind the user's back (the
 * object takes a new finalizer at once).
 */
static void cleared_while_queued_is_not_rearmed(struct kunit *test)
{
	struct uheap *u = test->priv;
	struct uh_event *taken = one_deferred_then_taken(test, u);

	/* Kept alive here; then the user clears its finalizer. */
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, taken->ev.handle, 0), 0);
	KUNIT_EXPECT_EQ(test, do_fin_clear(u, taken->ev.handle), 0);
	spanheap_enter(u->heap);
	uheap_finalizer(u->heap, taken->obj, taken);	/* the worker's run */
	spanheap_exit(u->heap);
	KUNIT_EXPECT_EQ(test, u->nevents, 2);
	KUNIT_EXPECT_EQ(test, u->ndeferred, 1);
	KUNIT_EXPECT_EQ(test, u->novercap, 1);
	KUNIT_EXPECT_PTR_EQ(test, list_last_entry(&u->events, struct uh_event, node), taken);
	/* Not set again: a new finalizer is accepted. */
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, taken->ev.handle, 3), 0);
}

/*
 * At the limit, what this layer charges fails cleanly: ALLOC (its table
 * leaf) and FINALIZER (its event record) with -ENOMEM, nothing changed.
 */
static void charges_at_the_limit_fail_cleanly(struct kunit *test)
{
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	struct uheap *u = test->priv;
	unsigned long n = 0;
	u64 h, h2;

	KUNIT_ASSERT_NOT_NULL(test, st);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8, SPANHEAP_ALLOC_ROOTED, &h), 0);
	spanheap_read_stats(u->heap, st);
	spanheap_set_limit(u->heap, st->bytes_reserved + st->bytes_meta + (64 << 10));
	while (!spanheap_charge(u->heap, 8))	/* fill to the last 8 bytes */
		n++;
	KUNIT_EXPECT_GT(test, n, 0UL);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, h, 1), -ENOMEM);
	/* An entry of a new leaf: the leaf's charge fails. */
	mutex_lock(&u->lock);
	u->next_idx = 2 * UH_LEAF_ENTRIES;
	mutex_unlock(&u->lock);
	KUNIT_EXPECT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8, 0, &h2), -ENOMEM);
	KUNIT_EXPECT_EQ(test, u->nentries, 1U);
	KUNIT_EXPECT_EQ(test, u->next_idx, 2 * UH_LEAF_ENTRIES);
	spanheap_uncharge(u->heap, n * 8);
	/* Room again: the same calls succeed, and the finalizer is a new one. */
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, h, 1), 0);
	KUNIT_EXPECT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8, 0, &h2), 0);
}

/* ---- cleanups and weak handles ---- */

static long do_cleanup(struct uheap *u, u64 h, u64 token, u64 *id)
{
	union uheap_args a = { .cleanup = {
		.size = sizeof(a.cleanup), .handle = h, .token = token,
	} };
	long ret = uheap_do(u, SPANHEAP_IOC_CLEANUP, &a, NULL);

	if (id)
		*id = a.cleanup.id;
	return ret;
}

static long do_stop(struct uheap *u, u64 h, u64 id)
{
	union uheap_args a = { .cleanup = {
		.size = sizeof(a.cleanup), .handle = h, .id = id,
	} };

	return uheap_do(u, SPANHEAP_IOC_CLEANUP_STOP, &a, NULL);
}

/* WEAK_MAKE (@h in), WEAK_GET or WEAK_DROP (@w in); @out gets the struct. */
static long do_weak(struct uheap *u, unsigned int cmd, u64 w, u64 h, u32 flags,
		    struct spanheap_weakref *out)
{
	union uheap_args a = { .weak = {
		.size = sizeof(a.weak), .flags = flags, .weak = w, .handle = h,
	} };
	long ret = uheap_do(u, cmd, &a, NULL);

	if (out)
		*out = a.weak;
	return ret;
}

static u64 weak_make(struct kunit *test, struct uheap *u, u64 h)
{
	struct spanheap_weakref r;

	KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_MAKE, 0, h, 0, &r), 0);
	return r.weak;
}

/* The handle WEAK_GET reads (0 once found dead), or U64_MAX on error. */
static u64 weak_get(struct uheap *u, u64 w, u32 flags)
{
	struct spanheap_weakref r;

	return do_weak(u, SPANHEAP_IOC_WEAK_GET, w, 0, flags, &r) ? U64_MAX : r.handle;
}

/* Delivered events of @type (and @token unless 0). */
static unsigned int events_of(struct uheap *u, u16 type, u64 token)
{
	struct uh_event *ev;
	unsigned int n = 0;

	spin_lock(&u->ev_lock);
	list_for_each_entry(ev, &u->events, node)
		n += ev->ev.type == type && (!token || ev->ev.token == token);
	spin_unlock(&u->ev_lock);
	return n;
}

static struct spanheap_stats_v1 *stats(struct kunit *test, struct uheap *u)
{
	struct spanheap_stats_v1 *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, st);
	st->size = sizeof(*st);
	KUNIT_EXPECT_EQ(test, uheap_do(u, SPANHEAP_IOC_STATS, (union uheap_args *)st,
				       NULL), 0);
	return st;
}

/* An unreachable object's cleanup: one event, with its token, no handle. */
static void cleanup_event_comes_once(struct kunit *test)
{
	struct uheap *u = test->priv;
	struct spanheap_stats_v1 *st;
	struct uh_event *ev;
	u64 h, id, id2;

	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &h), 0);
	KUNIT_ASSERT_EQ(test, do_cleanup(u, h, 0x5eed, &id), 0);
	KUNIT_EXPECT_GT(test, id, 0ULL);
	KUNIT_ASSERT_EQ(test, do_cleanup(u, h, 0x5eee, &id2), 0);
	KUNIT_EXPECT_NE(test, id, id2);
	st = stats(test, u);
	KUNIT_EXPECT_EQ(test, st->version, (u32)SPANHEAP_STATS_VERSION);
	KUNIT_EXPECT_EQ(test, st->cleanups_set, 2ULL);
	/* Rooted: nothing runs. */
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, u->nevents, 0U);
	KUNIT_ASSERT_EQ(test, do_stop(u, h, id2), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_UNROOT, h, 0), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, h, 0), -ESTALE);
	KUNIT_ASSERT_EQ(test, u->nevents, 1U);
	ev = list_first_entry(&u->events, struct uh_event, node);
	KUNIT_EXPECT_EQ(test, ev->ev.type, SPANHEAP_EVENT_CLEANUP);
	KUNIT_EXPECT_EQ(test, ev->ev.token, 0x5eedULL);
	KUNIT_EXPECT_EQ(test, ev->ev.handle, 0ULL);
	KUNIT_EXPECT_EQ(test, ev->ev.seq, 1ULL);
	KUNIT_EXPECT_PTR_EQ(test, ev->obj, NULL);
	/* Exactly once. */
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, u->nevents, 1U);
	st = stats(test, u);
	KUNIT_EXPECT_EQ(test, st->cleanups_set, 0ULL);
	KUNIT_EXPECT_EQ(test, st->cleanups_run, 1ULL);
	KUNIT_EXPECT_EQ(test, st->cleanups_queued, 0ULL);
	KUNIT_EXPECT_EQ(test, st->events_pending, 1ULL);
	KUNIT_EXPECT_NULL(test, xa_load(&u->cleanups, id));
}

/* Unlike finalizers, cleanups do not keep a cycle: both run. */
static void cleanup_cycle_is_collected(struct kunit *test)
{
	struct uheap *u = test->priv;
	u64 a, b;

	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_REF, 1, 0, &a), 0);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_REF, 1, 0, &b), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_STORE, a, b), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_STORE, b, a), 0);
	KUNIT_ASSERT_EQ(test, do_cleanup(u, a, 1, NULL), 0);
	KUNIT_ASSERT_EQ(test, do_cleanup(u, b, 2, NULL), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, events_of(u, SPANHEAP_EVENT_CLEANUP, 1), 1U);
	KUNIT_EXPECT_EQ(test, events_of(u, SPANHEAP_EVENT_CLEANUP, 2), 1U);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, a, 0), -ESTALE);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, b, 0), -ESTALE);
}

/* STOP before a cycle: no event, and the record's charge is given back. */
static void cleanup_stopped_never_comes(struct kunit *test)
{
	struct uheap *u = test->priv;
	long before;
	u64 h, id;

	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_REF, 1, 0, &h), 0);
	before = atomic_long_read(&u->charged);
	KUNIT_ASSERT_EQ(test, do_cleanup(u, h, 7, &id), 0);
	KUNIT_EXPECT_GT(test, atomic_long_read(&u->charged), before);
	KUNIT_EXPECT_EQ(test, do_stop(u, h, id), 0);
	/* All given back but the record pool's spare chunk, now empty. */
	KUNIT_EXPECT_EQ(test, atomic_long_read(&u->charged),
			before + (long)UH_EVCHUNK_COST);
	KUNIT_EXPECT_EQ(test, u->ev_nchunks, 1U);
	KUNIT_EXPECT_TRUE(test, list_empty(&u->ev_full));
	KUNIT_EXPECT_EQ(test, list_first_entry(&u->ev_partial, struct uh_evchunk,
					       node)->nused, 0U);
	KUNIT_EXPECT_EQ(test, do_stop(u, h, id), -ENOENT);
	KUNIT_EXPECT_TRUE(test, list_empty(&u->armed));
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, u->nevents, 0U);
	KUNIT_EXPECT_EQ(test, u->ncleanrun, 0ULL);
}

/* STOP once the cycle queued the cleanup: -ENOENT, the event comes once. */
static void cleanup_stop_after_queueing(struct kunit *test)
{
	struct uheap *u = test->priv;
	u64 h, id;

	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_REF, 1, 0, &h), 0);
	KUNIT_ASSERT_EQ(test, do_cleanup(u, h, 9, &id), 0);
	spanheap_collect(u->heap);	/* queued; maybe not run yet */
	KUNIT_EXPECT_EQ(test, do_stop(u, h, id), -ENOENT);
	spanheap_wait_cleanups(u->heap);
	KUNIT_EXPECT_EQ(test, events_of(u, SPANHEAP_EVENT_CLEANUP, 9), 1U);
	KUNIT_EXPECT_EQ(test, do_stop(u, h, id), -ENOENT);
	KUNIT_EXPECT_EQ(test, u->nevents, 1U);
}

/* Cleanup events cannot be deferred: past a full queue they count overcap. */
static void cleanup_event_past_the_cap(struct kunit *test)
{
	struct uheap *u = test->priv;
	u64 a, b;

	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8, 0, &a), 0);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8, 0, &b), 0);
	KUNIT_ASSERT_EQ(test, do_cleanup(u, a, 1, NULL), 0);
	KUNIT_ASSERT_EQ(test, do_cleanup(u, b, 2, NULL), 0);
	u->ev_max = 1;
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, u->nevents, 2U);
	KUNIT_EXPECT_EQ(test, u->novercap, 1ULL);
	KUNIT_EXPECT_EQ(test, u->ndeferred, 0ULL);
}

/* The token of a cleanup is not what the collector sees either. */
static void cleanup_token_keeps_nothing_alive(struct kunit *test)
{
	struct uheap *u = test->priv;
	struct uh_event *ev;
	u64 x, h, token;

	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_REF, 1, 0, &x), 0);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_REF, 1,
				       SPANHEAP_ALLOC_ROOTED, &h), 0);
	token = (u64)(unsigned long)entry_obj(u, x) + 8;
	KUNIT_ASSERT_EQ(test, do_cleanup(u, h, token, NULL), 0);
	KUNIT_ASSERT_EQ(test, do_cleanup(u, h, token - 8, NULL), 0);
	list_for_each_entry(ev, &u->armed, node)
		KUNIT_EXPECT_EQ(test, ev->ev.token & ~8ULL, token & ~8ULL);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, x, 0), -ESTALE);
	KUNIT_EXPECT_EQ(test, u->nevents, 0U);
}

/* Every bad argument fails and changes nothing. */
static void cleanup_and_weak_bad_input(struct kunit *test)
{
	struct uheap *u = test->priv, *v = uheap_create();
	long charged;
	union uheap_args a;
	u64 h, h2, w, id, foreign, fw, st;

	KUNIT_ASSERT_FALSE(test, IS_ERR(v));
	KUNIT_ASSERT_EQ(test, do_alloc(v, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &foreign), 0);
	fw = weak_make(test, v, foreign);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &h), 0);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &h2), 0);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8, 0, &st), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);	/* st stale */
	/* The first use of a stale handle drops its entry: not a change. */
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, st, 0), -ESTALE);
	KUNIT_ASSERT_EQ(test, do_cleanup(u, h, 1, &id), 0);
	w = weak_make(test, u, h);
	KUNIT_EXPECT_EQ(test, w >> 62, 1ULL);		/* bit 62, not 63 */
	charged = atomic_long_read(&u->charged);

	/* CLEANUP */
	a = (union uheap_args){ .cleanup = { .size = sizeof(a.cleanup),
		.flags = 1, .handle = h } };
	KUNIT_EXPECT_EQ(test, uheap_do(u, SPANHEAP_IOC_CLEANUP, &a, NULL), -EINVAL);
	a = (union uheap_args){ .cleanup = { .size = sizeof(a.cleanup),
		.handle = h, .id = 5 } };
	KUNIT_EXPECT_EQ(test, uheap_do(u, SPANHEAP_IOC_CLEANUP, &a, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, do_cleanup(u, w, 1, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, do_cleanup(u, foreign, 1, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, do_cleanup(u, st, 1, NULL), -ESTALE);
	KUNIT_EXPECT_EQ(test, do_cleanup(u, h + 1000, 1, NULL), -ENOENT);
	KUNIT_EXPECT_EQ(test, do_cleanup(u, 0, 1, NULL), -EINVAL);
	/* CLEANUP_STOP */
	a = (union uheap_args){ .cleanup = { .size = sizeof(a.cleanup),
		.handle = h, .token = 1, .id = id } };
	KUNIT_EXPECT_EQ(test, uheap_do(u, SPANHEAP_IOC_CLEANUP_STOP, &a, NULL), -EINVAL);
	a.cleanup.token = 0;
	a.cleanup.flags = 2;
	KUNIT_EXPECT_EQ(test, uheap_do(u, SPANHEAP_IOC_CLEANUP_STOP, &a, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, do_stop(u, h2, id), -ENOENT);	/* another object's */
	KUNIT_EXPECT_EQ(test, do_stop(u, h, id + 1), -ENOENT);
	KUNIT_EXPECT_EQ(test, do_stop(u, h, 0), -ENOENT);
	KUNIT_EXPECT_EQ(test, do_stop(u, h, -1ULL), -ENOENT);
	KUNIT_EXPECT_EQ(test, do_stop(u, w, id), -EINVAL);
	KUNIT_EXPECT_EQ(test, do_stop(u, foreign, id), -EINVAL);
	/* WEAK_MAKE */
	KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_MAKE, 0, h,
				      SPANHEAP_WEAK_ROOT, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_MAKE, w, h, 0, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_MAKE, 0, w, 0, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_MAKE, 0, foreign, 0, NULL),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_MAKE, 0, st, 0, NULL), -ESTALE);
	a = (union uheap_args){ .weak = { .size = sizeof(a.weak), .handle = h,
		.count = 1 } };
	KUNIT_EXPECT_EQ(test, uheap_do(u, SPANHEAP_IOC_WEAK_MAKE, &a, NULL), -EINVAL);
	/* WEAK_GET */
	KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_GET, w, 0, 2, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_GET, w, h, 0, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_GET, h, 0, 0, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_GET, fw, 0, 0, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_GET, w + 1000, 0, 0, NULL),
			-ENOENT);
	KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_GET, w | 1ULL << 63, 0, 0,
				      NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_GET, 0, 0, 0, NULL), -EINVAL);
	/* WEAK_DROP */
	KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_DROP, w, h, 0, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_DROP, w, 0,
				      SPANHEAP_WEAK_ROOT, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_DROP, h, 0, 0, NULL), -EINVAL);
	KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_DROP, fw, 0, 0, NULL), -EINVAL);
	/* Weak handles are not object handles anywhere. */
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, w, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_STORE, h, w), -EINVAL);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, w, 1), -EINVAL);

	/* Nothing changed. */
	KUNIT_EXPECT_EQ(test, atomic_long_read(&u->charged), charged);
	KUNIT_EXPECT_EQ(test, u->nweak, 1U);
	KUNIT_EXPECT_EQ(test, weak_get(u, w, 0), h);
	KUNIT_EXPECT_EQ(test, u->nroots, 2ULL);
	KUNIT_EXPECT_PTR_NE(test, xa_load(&u->cleanups, id), NULL);
	KUNIT_EXPECT_EQ(test, do_stop(u, h, id), 0);
	/* Dropped: stale. */
	KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_DROP, w, 0, 0, NULL), 0);
	KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_DROP, w, 0, 0, NULL), -ESTALE);
	KUNIT_EXPECT_EQ(test, weak_get(u, w, 0), U64_MAX);
	KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_GET, w, 0, 0, NULL), -ESTALE);
	uheap_destroy(v);	/* with its weak handle still made */
}

/* One weak handle per object while it lives, counted. */
static void weak_handle_is_canonical(struct kunit *test)
{
	struct uheap *u = test->priv;
	struct spanheap_weakref r;
	u64 h, h2, w, w2;

	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_REF, 1,
				       SPANHEAP_ALLOC_ROOTED, &h), 0);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_REF, 1,
				       SPANHEAP_ALLOC_ROOTED, &h2), 0);
	KUNIT_ASSERT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_MAKE, 0, h, 0, &r), 0);
	w = r.weak;
	KUNIT_EXPECT_EQ(test, r.count, 1ULL);
	KUNIT_ASSERT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_MAKE, 0, h, 0, &r), 0);
	KUNIT_EXPECT_EQ(test, r.weak, w);
	KUNIT_EXPECT_EQ(test, r.count, 2ULL);
	w2 = weak_make(test, u, h2);
	KUNIT_EXPECT_NE(test, w2, w);
	KUNIT_EXPECT_EQ(test, u->nweak, 2U);
	KUNIT_EXPECT_EQ(test, weak_get(u, w, 0), h);
	KUNIT_EXPECT_EQ(test, weak_get(u, w2, 0), h2);
	/* A weak handle keeps nothing alive, and does not leak a pointer. */
	KUNIT_EXPECT_EQ(test, w & ~((1ULL << 62) | ((1ULL << 62) - 1)), 0ULL);
	KUNIT_ASSERT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_DROP, w, 0, 0, &r), 0);
	KUNIT_EXPECT_EQ(test, r.count, 1ULL);
	KUNIT_EXPECT_EQ(test, weak_get(u, w, 0), h);
	KUNIT_ASSERT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_DROP, w, 0, 0, &r), 0);
	KUNIT_EXPECT_EQ(test, r.count, 0ULL);
	/* All dropped: the next MAKE is a new handle. */
	KUNIT_EXPECT_NE(test, weak_make(test, u, h), w);
	KUNIT_EXPECT_EQ(test, stats(test, u)->weak_handles, 2ULL);
	KUNIT_EXPECT_EQ(test, stats(test, u)->weak_live, 2ULL);
}

/* Where the weak handle table's cyclic allocation resumes. */
static void weak_cursor_set(struct uheap *u, u32 idx)
{
	mutex_lock(&u->lock);
	u->wnext_idx = idx;
	mutex_unlock(&u->lock);
}

/*
 * WEAK_MAKE fails cleanly: when its xarray leaf cannot be charged
 * (-ENOMEM: no handle, charge or cursor moved), and once the weak
 * handles' generation is used up (-ENOSPC for good, as ALLOC's).
 * Handles made before keep working.
 */
static void weak_make_fails_cleanly(struct kunit *test)
{
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	struct uheap *u = test->priv;
	struct spanheap_weakref r;
	u64 h, h2, h3, w0, w;
	long before, cost, meta;
	unsigned long n = 0;

	KUNIT_ASSERT_NOT_NULL(test, st);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_REF, 1,
				       SPANHEAP_ALLOC_ROOTED, &h), 0);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_REF, 1,
				       SPANHEAP_ALLOC_ROOTED, &h2), 0);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_REF, 1,
				       SPANHEAP_ALLOC_ROOTED, &h3), 0);
	w0 = weak_make(test, u, h);
	/* What a handle costs in a leaf already charged: core record, entry. */
	cost = atomic_long_read(&u->heap->meta);
	weak_make(test, u, h3);
	cost = atomic_long_read(&u->heap->meta) - cost;
	KUNIT_ASSERT_GT(test, cost, 0L);

	/* Room for that, not for the new leaf the next handle would start. */
	spanheap_read_stats(u->heap, st);
	spanheap_set_limit(u->heap, st->bytes_reserved + st->bytes_meta + (64 << 10));
	while (!spanheap_charge(u->heap, 8))
		n++;
	KUNIT_ASSERT_GT(test, n * 8, (unsigned long)cost);
	spanheap_uncharge(u->heap, cost);
	/* Control: that room makes a handle in a charged leaf, and takes it back. */
	meta = atomic_long_read(&u->heap->meta);
	weak_cursor_set(u, 5);
	w = weak_make(test, u, h2);
	KUNIT_EXPECT_EQ(test, w & (UH_MAX_ENTRIES - 1), 5);
	KUNIT_ASSERT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_DROP, w, 0, 0, &r), 0);
	KUNIT_ASSERT_EQ(test, atomic_long_read(&u->heap->meta), meta);
	weak_cursor_set(u, 2 * XA_CHUNK_SIZE);
	before = atomic_long_read(&u->charged);
	KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_MAKE, 0, h2, 0, &r), -ENOMEM);
	KUNIT_EXPECT_EQ(test, u->nweak, 2U);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&u->charged), before);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&u->heap->meta), meta);
	KUNIT_EXPECT_EQ(test, u->wnext_idx, 2 * XA_CHUNK_SIZE);
	spanheap_uncharge(u->heap, n * 8 - cost);
	w = weak_make(test, u, h2);
	KUNIT_EXPECT_EQ(test, w & (UH_MAX_ENTRIES - 1), 2 * XA_CHUNK_SIZE);
	KUNIT_EXPECT_EQ(test, weak_get(u, w, 0), h2);

	/* The last index of the last generation, then none. */
	mutex_lock(&u->lock);
	u->wepoch = UH_GEN_MASK;
	u->wnext_idx = UH_MAX_ENTRIES - 1;
	mutex_unlock(&u->lock);
	KUNIT_ASSERT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_DROP, w, 0, 0, &r), 0);
	w = weak_make(test, u, h2);
	KUNIT_EXPECT_EQ(test, w & (UH_MAX_ENTRIES - 1), UH_MAX_ENTRIES - 1);
	KUNIT_ASSERT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_DROP, w, 0, 0, &r), 0);
	before = atomic_long_read(&u->charged);
	KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_MAKE, 0, h2, 0, &r), -ENOSPC);
	KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_MAKE, 0, h2, 0, &r), -ENOSPC);
	KUNIT_EXPECT_EQ(test, u->nweak, 2U);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&u->charged), before);
	KUNIT_EXPECT_EQ(test, weak_get(u, w0, 0), h);
	/* An existing handle takes more references still. */
	KUNIT_ASSERT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_MAKE, 0, h, 0, &r), 0);
	KUNIT_EXPECT_EQ(test, r.weak, w0);
	KUNIT_EXPECT_EQ(test, r.count, 2ULL);
}

/* @n rooted 8-byte DATA objects into @h, a weak handle of each into @w. */
static void weak_objects(struct kunit *test, struct uheap *u, u64 *h, u64 *w,
			 unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
					       SPANHEAP_ALLOC_ROOTED, &h[i]), 0);
		w[i] = weak_make(test, u, h[i]);
	}
}

#define MANY_WEAK	2100	/* past two of the walks' 1024-handle yields */

/*
 * STATS counts every weak handle, and closing the file frees them: both
 * walk them all, yielding the CPU on the way, so they must run where
 * sleeping is allowed (the shim's cond_resched() checks; so does a
 * kernel with CONFIG_DEBUG_ATOMIC_SLEEP).
 */
static void many_weak_handles_counted_and_freed(struct kunit *test)
{
	u64 *h = kunit_kcalloc(test, MANY_WEAK, sizeof(*h), GFP_KERNEL);
	u64 *w = kunit_kcalloc(test, MANY_WEAK, sizeof(*w), GFP_KERNEL);
	struct uheap *u = test->priv;
	struct spanheap_stats_v1 *st;
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, h);
	KUNIT_ASSERT_NOT_NULL(test, w);
	weak_objects(test, u, h, w, MANY_WEAK);
	st = stats(test, u);
	KUNIT_EXPECT_EQ(test, st->weak_handles, (u64)MANY_WEAK);
	KUNIT_EXPECT_EQ(test, st->weak_live, (u64)MANY_WEAK);
	for (i = 0; i < MANY_WEAK; i += 2)
		KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_UNROOT, h[i], 0), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	st = stats(test, u);
	KUNIT_EXPECT_EQ(test, st->weak_handles, (u64)MANY_WEAK);
	KUNIT_EXPECT_EQ(test, st->weak_live, (u64)MANY_WEAK / 2);
	/* uheap_exit() closes the file with every handle still held. */
}

#define RACE_WEAK	2112	/* three of STATS's 1024-handle sections; 8 | it */

struct weak_stats_race {
	struct uheap *u;
	atomic_t stop, walks, bad;
	u64 min_handles, min_live;	/* what every walk must see */
	u64 max_handles;		/* what no walk can exceed */
	struct completion started, done;
};

/* STATS until told to stop, counting walks whose counts are impossible. */
static int weak_stats_thread(void *arg)
{
	struct weak_stats_race *r = arg;
	struct spanheap_stats_v1 *st = kzalloc(sizeof(*st), GFP_KERNEL);

	while (st && !atomic_read(&r->stop)) {
		st->size = sizeof(*st);
		if (uheap_do(r->u, SPANHEAP_IOC_STATS, (union uheap_args *)st, NULL) ||
		    st->weak_live > st->weak_handles ||
		    st->weak_handles < r->min_handles || st->weak_live < r->min_live ||
		    st->weak_handles > r->max_handles)
			atomic_inc(&r->bad);
		if (atomic_inc_return(&r->walks) == 1)
			complete(&r->started);
	}
	if (!st)
		atomic_inc(&r->bad);
	kfree(st);
	complete(&r->started);
	kthread_complete_and_exit(&r->done, 0);
}

/*
 * STATS walks the weak table a section at a time, so commands and cycles
 * run between its chunks: handles dropped and made again (at new
 * indices), objects unrooted and collected.  Each walk's counts stay
 * possible: live <= handles, and neither below what existed throughout.
 * Quiescent, they are exact.  The concurrent sibling of
 * weak_stats_walk_gap_lets_commands_run, which places commands in a gap.
 */
static void weak_stats_walk_races_commands_and_cycles(struct kunit *test)
{
	u64 *h = kunit_kcalloc(test, RACE_WEAK, sizeof(*h), GFP_KERNEL);
	u64 *w = kunit_kcalloc(test, RACE_WEAK, sizeof(*w), GFP_KERNEL);
	struct uheap *u = test->priv;
	struct weak_stats_race *r;
	struct spanheap_stats_v1 *st;
	struct task_struct *t;
	unsigned int i, round;

	KUNIT_ASSERT_NOT_NULL(test, h);
	KUNIT_ASSERT_NOT_NULL(test, w);
	weak_objects(test, u, h, w, RACE_WEAK);
	/* Not kunit_kzalloc(): leaked, not freed, if the thread never ends. */
	r = kzalloc(sizeof(*r), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r);
	/* Never dropped: i even or i % 8 < 4; of those, never unrooted: i % 8 >= 4. */
	r->min_handles = RACE_WEAK - RACE_WEAK / 4;
	r->min_live = RACE_WEAK / 4;
	/* Every handle ever made: the first ones, and one per remake. */
	r->max_handles = RACE_WEAK + 4 * (RACE_WEAK / 4);
	r->u = u;
	init_completion(&r->started);
	init_completion(&r->done);
	t = kthread_run(weak_stats_thread, r, "spanheap-stats");
	if (IS_ERR(t)) {
		kfree(r);
		KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(t));
		return;
	}
	KUNIT_EXPECT_NE(test, wait_for_completion_timeout(&r->started, 60 * HZ), 0UL);
	for (round = 0; round < 4; round++) {
		/* Odd handles of objects kept live: dropped, then made anew. */
		for (i = 1; i < RACE_WEAK; i += 2) {
			if (i % 8 < 4)
				continue;
			KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_DROP,
						      w[i], 0, 0, NULL), 0);
			w[i] = weak_make(test, u, h[i]);
		}
		for (i = round; i < RACE_WEAK; i += 8)
			KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_UNROOT, h[i], 0), 0);
		KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	}
	atomic_set(&r->stop, 1);
	if (!wait_for_completion_timeout(&r->done, 60 * HZ)) {
		/* Leave the file and @r to the thread: no use after free. */
		test->priv = NULL;
		KUNIT_FAIL(test, "STATS thread still running after 60 s");
		return;
	}
	KUNIT_EXPECT_GT(test, atomic_read(&r->walks), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&r->bad), 0);
	kfree(r);
	st = stats(test, u);
	KUNIT_EXPECT_EQ(test, st->weak_handles, (u64)RACE_WEAK);
	KUNIT_EXPECT_EQ(test, st->weak_live, (u64)RACE_WEAK / 2);
}

/* What weak_stats_walk_gap_lets_commands_run() does in STATS's first gap. */
struct weak_gap {
	struct kunit *test;
	u64 *h, *w;
	unsigned int gaps;
};

/*
 * After the first chunk (weak handles 0 to 1023): drop the last one it
 * counted, which a walk keeping its entry across the gap would then
 * read, and the next two it has not; make the first again (a new index,
 * ahead); kill 100 objects behind and 112 ahead with a cycle, which
 * waits for every section.  Commands take a section and u->lock, so
 * each proves the walk holds neither here.
 */
static void weak_gap_commands(struct uheap *u, void *arg)
{
	struct weak_gap *g = arg;
	struct kunit *test = g->test;
	unsigned int i;

	if (g->gaps++)
		return;
	for (i = 1023; i <= 1025; i++)
		KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_DROP, g->w[i],
					      0, 0, NULL), 0);
	g->w[1023] = weak_make(test, u, g->h[1023]);
	for (i = 0; i < RACE_WEAK; i++)
		if (i < 100 || i >= RACE_WEAK - 112)
			KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_UNROOT, g->h[i], 0), 0);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
}

/*
 * STATS lets the file's commands and cycles run between its chunks, and
 * each chunk reads the table as it is then: the first chunk's 1024
 * handles, all live; then 1088 more less the two dropped ahead, plus
 * the one made again at a new index, of which 112 are dead.
 */
static void weak_stats_walk_gap_lets_commands_run(struct kunit *test)
{
	struct weak_gap g = { .test = test };
	struct uheap *u = test->priv;
	struct spanheap_stats_v1 *st;
	unsigned int i;

	g.h = kunit_kcalloc(test, RACE_WEAK, sizeof(*g.h), GFP_KERNEL);
	g.w = kunit_kcalloc(test, RACE_WEAK, sizeof(*g.w), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, g.h);
	KUNIT_ASSERT_NOT_NULL(test, g.w);
	weak_objects(test, u, g.h, g.w, RACE_WEAK);
	/* A fresh file's weak handles take indices 1, 2, ... */
	for (i = 0; i < RACE_WEAK; i++)
		KUNIT_ASSERT_EQ(test, g.w[i] & (UH_MAX_ENTRIES - 1), (u64)i + 1);
	u->weak_walk_arg = &g;
	u->weak_walk_gap = weak_gap_commands;
	st = stats(test, u);
	u->weak_walk_gap = NULL;
	KUNIT_EXPECT_EQ(test, g.gaps, 2U);	/* three chunks */
	KUNIT_EXPECT_EQ(test, st->weak_handles, 1024ULL + 1088 - 2 + 1);
	KUNIT_EXPECT_EQ(test, st->weak_live, 1024ULL + 1088 - 2 + 1 - 112);
	st = stats(test, u);
	KUNIT_EXPECT_EQ(test, st->weak_handles, (u64)RACE_WEAK - 2);
	KUNIT_EXPECT_EQ(test, st->weak_live, (u64)RACE_WEAK - 2 - 100 - 112);
}

/* Once a cycle found the object unreachable, the weak handle reads 0. */
static void weak_reads_zero_after_death(struct kunit *test)
{
	struct uheap *u = test->priv;
	struct spanheap_weakref r;
	u64 h, w;

	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &h), 0);
	w = weak_make(test, u, h);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, weak_get(u, w, 0), h);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_UNROOT, h, 0), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_ASSERT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_GET, w, 0,
				      SPANHEAP_WEAK_ROOT, &r), 0);
	KUNIT_EXPECT_EQ(test, r.handle, 0ULL);
	KUNIT_EXPECT_EQ(test, r.count, 1ULL);
	KUNIT_EXPECT_EQ(test, u->nroots, 0ULL);
	KUNIT_EXPECT_EQ(test, stats(test, u)->weak_handles, 1ULL);
	KUNIT_EXPECT_EQ(test, stats(test, u)->weak_live, 0ULL);
	KUNIT_EXPECT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_DROP, w, 0, 0, NULL), 0);
	KUNIT_EXPECT_EQ(test, u->nweak, 0U);
}

/*
 * A finalizer's event resurrects the object, but its weak handle reads 0
 * from the cycle that found it unreachable; a MAKE afterwards is new.
 */
static void weak_zero_while_resurrected(struct kunit *test)
{
	struct uheap *u = test->priv;
	u64 h, w, w2;

	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_REF, 1, 0, &h), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, h, 3), 0);
	w = weak_make(test, u, h);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_ASSERT_EQ(test, events_of(u, SPANHEAP_EVENT_FINALIZER, 3), 1U);
	/* The event holds it: alive, rootable, but weakly dead. */
	KUNIT_EXPECT_EQ(test, weak_get(u, w, SPANHEAP_WEAK_ROOT), 0ULL);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, h, 0), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, weak_get(u, w, 0), 0ULL);
	w2 = weak_make(test, u, h);
	KUNIT_EXPECT_NE(test, w2, w);
	KUNIT_EXPECT_EQ(test, weak_get(u, w2, 0), h);
	KUNIT_EXPECT_EQ(test, weak_make(test, u, h), w2);
	KUNIT_EXPECT_EQ(test, weak_get(u, w, 0), 0ULL);
	KUNIT_EXPECT_EQ(test, u->nweak, 2U);
}

/* WEAK_GET with SPANHEAP_WEAK_ROOT roots in the same call. */
static void weak_get_root_keeps_alive(struct kunit *test)
{
	struct uheap *u = test->priv;
	u64 h, w;

	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &h), 0);
	w = weak_make(test, u, h);
	KUNIT_ASSERT_EQ(test, weak_get(u, w, SPANHEAP_WEAK_ROOT), h);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_UNROOT, h, 0), 0);
	KUNIT_EXPECT_EQ(test, u->nroots, 1ULL);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, weak_get(u, w, 0), h);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_UNROOT, h, 0), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, weak_get(u, w, 0), 0ULL);
}

/*
 * Close with cleanups armed, queued and delivered, and weak handles
 * made: the exit's uheap_destroy() must free it all (ASan, kmemleak).
 */
static void close_frees_cleanups_and_weak(struct kunit *test)
{
	struct uheap *u = test->priv;
	unsigned int i;
	u64 h;

	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &h), 0);
	KUNIT_ASSERT_EQ(test, do_cleanup(u, h, 1, NULL), 0);
	weak_make(test, u, h);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8, 0, &h), 0);
	KUNIT_ASSERT_EQ(test, do_cleanup(u, h, 2, NULL), 0);
	weak_make(test, u, h);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);	/* delivered */
	for (i = 0; i < 64; i++) {
		KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8, 0, &h), 0);
		KUNIT_ASSERT_EQ(test, do_cleanup(u, h, 3, NULL), 0);
	}
	spanheap_collect(u->heap);	/* queued, some perhaps running */
}

/* ---- SPANHEAP_IOC_BATCH (uheap_batch()) ---- */

static struct spanheap_op bop(unsigned int cmd, u64 h, u64 x, u64 y, u32 flags)
{
	struct spanheap_op op = { .cmd = cmd };

	switch (cmd) {
	case SPANHEAP_IOC_ALLOC:
		op.alloc = (struct spanheap_alloc){ .size = sizeof(op.alloc),
			.kind = h, .length = x, .flags = flags };
		break;
	case SPANHEAP_IOC_STORE:
	case SPANHEAP_IOC_LOAD:
		op.ref = (struct spanheap_ref){ .size = sizeof(op.ref),
			.handle = h, .slot = x, .value = y, .flags = flags };
		break;
	case SPANHEAP_IOC_ROOT:
	case SPANHEAP_IOC_UNROOT:
		op.root = (struct spanheap_root){ .size = sizeof(op.root),
			.handle = h, .count = x, .flags = flags };
		break;
	case SPANHEAP_IOC_FINALIZER:
		op.fin = (struct spanheap_finalizer){ .size = sizeof(op.fin),
			.handle = h, .token = x, .flags = flags };
		break;
	case SPANHEAP_IOC_CLEANUP:
	case SPANHEAP_IOC_CLEANUP_STOP:
		op.cleanup = (struct spanheap_cleanup){
			.size = sizeof(op.cleanup), .handle = h, .token = x,
			.id = y, .flags = flags };
		break;
	default:	/* WEAK_*: @h the weak handle, @x the object */
		op.weak = (struct spanheap_weakref){ .size = sizeof(op.weak),
			.weak = h, .handle = x, .count = y, .flags = flags };
	}
	return op;
}

/* Every op kind in one batch, with the results single commands give. */
static void batch_runs_every_op(struct kunit *test)
{
	struct uheap *u = test->priv;
	struct spanheap_op ops[11];
	u64 a, b, w, fresh;
	u32 done = 99;
	unsigned int i;

	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_REF, 2,
				       SPANHEAP_ALLOC_ROOTED, &a), 0);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &b), 0);
	w = weak_make(test, u, b);
	ops[0] = bop(SPANHEAP_IOC_ALLOC, SPANHEAP_KIND_DATA, 16, 0,
		     SPANHEAP_ALLOC_ROOTED);
	ops[1] = bop(SPANHEAP_IOC_STORE, a, 1, b, 0);
	ops[2] = bop(SPANHEAP_IOC_LOAD, a, 1, 0, 0);
	ops[3] = bop(SPANHEAP_IOC_ROOT, b, 0, 0, 0);
	ops[4] = bop(SPANHEAP_IOC_UNROOT, b, 0, 0, 0);
	ops[5] = bop(SPANHEAP_IOC_FINALIZER, b, 7, 0, 0);
	ops[6] = bop(SPANHEAP_IOC_CLEANUP, a, 9, 0, 0);
	ops[7] = bop(SPANHEAP_IOC_WEAK_MAKE, 0, b, 0, 0);
	ops[8] = bop(SPANHEAP_IOC_WEAK_GET, w, 0, 0, SPANHEAP_WEAK_ROOT);
	ops[9] = bop(SPANHEAP_IOC_WEAK_DROP, w, 0, 0, 0);
	ops[10] = bop(SPANHEAP_IOC_FINALIZER, a, 8, 0, 0);
	KUNIT_ASSERT_EQ(test, uheap_batch(u, ops, ARRAY_SIZE(ops), &done), 0);
	KUNIT_EXPECT_EQ(test, done, 11U);
	for (i = 0; i < ARRAY_SIZE(ops); i++)
		KUNIT_EXPECT_EQ(test, ops[i].error, 0);
	fresh = ops[0].alloc.handle;
	KUNIT_EXPECT_NE(test, fresh, 0ULL);
	KUNIT_EXPECT_EQ(test, ops[2].ref.value, b);
	KUNIT_EXPECT_EQ(test, ops[3].root.count, 2ULL);
	KUNIT_EXPECT_EQ(test, ops[4].root.count, 1ULL);
	KUNIT_EXPECT_GT(test, ops[6].cleanup.id, 0ULL);
	KUNIT_EXPECT_EQ(test, ops[7].weak.weak, w);
	KUNIT_EXPECT_EQ(test, ops[7].weak.count, 2ULL);
	KUNIT_EXPECT_EQ(test, ops[8].weak.handle, b);
	KUNIT_EXPECT_EQ(test, ops[9].weak.count, 1ULL);
	/* Their effects, seen by single commands. */
	KUNIT_EXPECT_EQ(test, u->nroots, 4ULL);		/* a, b twice, fresh */
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, b, 1), -EEXIST);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, a, 1), -EEXIST);
	KUNIT_EXPECT_EQ(test, weak_get(u, w, 0), b);
	/* The new handle was settled: usable, and by a later batch. */
	ops[0] = bop(SPANHEAP_IOC_UNROOT, fresh, 0, 0, 0);
	ops[1] = bop(SPANHEAP_IOC_CLEANUP_STOP, a, 0, ops[6].cleanup.id, 0);
	ops[2] = bop(SPANHEAP_IOC_FINALIZER, b, 0, 0, SPANHEAP_FIN_CLEAR);
	ops[3] = bop(SPANHEAP_IOC_STORE, a, 1, 0, 0);
	KUNIT_ASSERT_EQ(test, uheap_batch(u, ops, 4, &done), 0);
	KUNIT_EXPECT_EQ(test, done, 4U);
	KUNIT_EXPECT_EQ(test, ops[0].root.count, 0ULL);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, b, 1), 0);
	KUNIT_EXPECT_EQ(test, do_stop(u, a, ops[1].cleanup.id), -ENOENT);
	KUNIT_EXPECT_EQ(test, u->nroots, 3ULL);
	/* fresh is garbage now, and b only rooted: a's slot was cleared. */
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, fresh, 0), -ESTALE);
}

/* The batch stops at the first op that fails; the ops before it stand. */
static void batch_stops_at_first_error(struct kunit *test)
{
	struct uheap *u = test->priv;
	struct spanheap_op ops[3];
	u64 stale, nentries;
	u32 done;

	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8, 0, &stale), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	nentries = u->nentries;
	ops[0] = bop(SPANHEAP_IOC_ALLOC, SPANHEAP_KIND_DATA, 8, 0,
		     SPANHEAP_ALLOC_ROOTED);
	ops[1] = bop(SPANHEAP_IOC_ROOT, stale, 0, 0, 0);
	ops[2] = bop(SPANHEAP_IOC_ALLOC, SPANHEAP_KIND_DATA, 8, 0,
		     SPANHEAP_ALLOC_ROOTED);
	KUNIT_ASSERT_EQ(test, uheap_batch(u, ops, 3, &done), 0);
	KUNIT_EXPECT_EQ(test, done, 1U);
	KUNIT_EXPECT_EQ(test, ops[0].error, 0);
	KUNIT_EXPECT_EQ(test, ops[1].error, -ESTALE);
	KUNIT_EXPECT_EQ(test, ops[2].error, 0);
	KUNIT_EXPECT_EQ(test, ops[2].alloc.handle, 0ULL);	/* never ran */
	/* The stale entry was dropped, one object added: not two. */
	KUNIT_EXPECT_EQ(test, u->nentries, nentries);
	KUNIT_EXPECT_EQ(test, u->nroots, 1ULL);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, ops[0].alloc.handle, 0), 0);

	/* A command's own bad input is that op's error, as it would be alone. */
	ops[0] = bop(SPANHEAP_IOC_ROOT, ops[0].alloc.handle, 0, 0, 0);
	ops[1] = bop(SPANHEAP_IOC_ALLOC, SPANHEAP_KIND_DATA, 8, 0, 0x80);
	KUNIT_ASSERT_EQ(test, uheap_batch(u, ops, 2, &done), 0);
	KUNIT_EXPECT_EQ(test, done, 1U);
	KUNIT_EXPECT_EQ(test, ops[0].root.count, 3ULL);
	KUNIT_EXPECT_EQ(test, ops[1].error, -EINVAL);
	KUNIT_EXPECT_EQ(test, u->nentries, nentries);
}

/* What the batch itself checks fails the call before any op runs. */
static void batch_bad_input_runs_nothing(struct kunit *test)
{
	static const unsigned int bad_cmds[] = {
		0, SPANHEAP_IOC_BATCH, SPANHEAP_IOC_GC, SPANHEAP_IOC_READ,
		SPANHEAP_IOC_WRITE, SPANHEAP_IOC_STATS, SPANHEAP_IOC_SET_PARAMS,
		_IOWR(SPANHEAP_IOC_MAGIC, 1, struct spanheap_root),
		_IOWR(SPANHEAP_IOC_MAGIC, 18, struct spanheap_alloc),
	};
	struct uheap *u = test->priv;
	struct spanheap_op ops[2], *many;
	long charged = atomic_long_read(&u->charged);
	u64 nentries = u->nentries;
	unsigned int i, j;
	u32 done = 77;

	for (i = 0; i < ARRAY_SIZE(bad_cmds) + 8; i++) {
		ops[0] = bop(SPANHEAP_IOC_ALLOC, SPANHEAP_KIND_DATA, 8, 0,
			     SPANHEAP_ALLOC_ROOTED);
		ops[1] = ops[0];
		j = i - ARRAY_SIZE(bad_cmds);
		/* A command that is no op, with that command's size. */
		if (i < ARRAY_SIZE(bad_cmds))
			ops[1].cmd = bad_cmds[i];
		if (i < ARRAY_SIZE(bad_cmds))
			ops[1].size = _IOC_SIZE(bad_cmds[i]);
		else if (j == 0)
			ops[1].flags = 1;
		else if (j == 1)
			ops[1].reserved = 1;
		else if (j == 2)
			ops[1].error = -1;
		else if (j == 3)
			ops[1].size = sizeof(ops[1].alloc) + 8;
		else if (j == 4)
			ops[1].size = 0;
		else if (j == 5)	/* past ALLOC's 32 bytes: must be 0 */
			ops[1].raw[4] = 1;
		else if (j == 6) {	/* the first word past FINALIZER's 24 */
			memset(ops[1].raw, 0, sizeof(ops[1].raw));
			ops[1].cmd = SPANHEAP_IOC_FINALIZER;
			ops[1].size = sizeof(ops[1].fin);
			ops[1].raw[3] = 1;
		} else
			ops[1].size = sizeof(ops[1].alloc) - 1;
		KUNIT_EXPECT_EQ_MSG(test, uheap_batch(u, ops, 2, &done), -EINVAL,
				    "case %u", i);
		KUNIT_EXPECT_EQ(test, ops[0].alloc.handle, 0ULL);
		KUNIT_EXPECT_EQ(test, ops[0].error, 0);
	}
	KUNIT_EXPECT_EQ(test, uheap_batch(u, ops, 0, &done), -EINVAL);
	many = kunit_kcalloc(test, SPANHEAP_BATCH_MAX + 1, sizeof(*many), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, many);
	for (i = 0; i <= SPANHEAP_BATCH_MAX; i++)
		many[i] = bop(SPANHEAP_IOC_ALLOC, SPANHEAP_KIND_DATA, 8, 0, 0);
	KUNIT_EXPECT_EQ(test, uheap_batch(u, many, SPANHEAP_BATCH_MAX + 1, &done),
			-E2BIG);
	KUNIT_EXPECT_EQ(test, done, 77U);
	KUNIT_EXPECT_EQ(test, u->nentries, nentries);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&u->charged), charged);
	/* The most there may be is fine. */
	KUNIT_EXPECT_EQ(test, uheap_batch(u, many, SPANHEAP_BATCH_MAX, &done), 0);
	KUNIT_EXPECT_EQ(test, done, SPANHEAP_BATCH_MAX);
	KUNIT_EXPECT_EQ(test, u->nentries, nentries + SPANHEAP_BATCH_MAX);
}

/*
 * A batch [UNROOT h, ROOT h] whose write-back failed is taken back
 * newest first; a cycle may run between the two undos (they settle in
 * chunks).  Taking back the ROOT must not leave h unrooted while its
 * UNROOT is still to be taken back: h must survive that cycle.
 */
static void batch_undo_keeps_root_across_cycle(struct kunit *test)
{
	struct uheap *u = test->priv;
	struct spanheap_op ops[2];
	u32 done;
	u64 h;

	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &h), 0);
	ops[0] = bop(SPANHEAP_IOC_UNROOT, h, 0, 0, 0);
	ops[1] = bop(SPANHEAP_IOC_ROOT, h, 0, 0, 0);
	KUNIT_ASSERT_EQ(test, uheap_batch_run(u, ops, 2, &done), 0);
	KUNIT_ASSERT_EQ(test, done, 2U);
	uheap_batch_settle(u, &ops[1], 1, false);	/* the ROOT, taken back */
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	uheap_batch_settle(u, &ops[0], 1, false);	/* then the UNROOT */
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	/* Rooted once, as before the batch: alive, and one UNROOT frees it. */
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, h, 0), 0);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_UNROOT, h, 0), 0);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_UNROOT, h, 0), 0);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_UNROOT, h, 0), -EINVAL);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, h, 0), -ESTALE);
}

/*
 * A batch's CLEANUP and WEAK_MAKE whose write-back failed are taken back
 * (settle_undo()): the cleanup never runs, the weak reference and both
 * charges are given back, and a weak handle made before keeps its own
 * reference.  What happened meanwhile stands: a cleanup queued by a
 * cycle before the undo delivers its event once, and a weak reference
 * dropped by another call stays dropped.
 */
static void batch_undo_takes_back_cleanup_and_weak(struct kunit *test)
{
	struct uheap *u = test->priv;
	struct spanheap_weakref r;
	struct spanheap_op ops[3];
	u64 h, h2, id, w0;
	long before;
	u32 done;

	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_REF, 1,
				       SPANHEAP_ALLOC_ROOTED, &h), 0);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_REF, 1,
				       SPANHEAP_ALLOC_ROOTED, &h2), 0);
	/* The record pool's spare chunk made, so the charge is exact after. */
	KUNIT_ASSERT_EQ(test, do_cleanup(u, h, 1, &id), 0);
	KUNIT_ASSERT_EQ(test, do_stop(u, h, id), 0);
	w0 = weak_make(test, u, h2);
	before = atomic_long_read(&u->charged);

	ops[0] = bop(SPANHEAP_IOC_CLEANUP, h, 5, 0, 0);
	ops[1] = bop(SPANHEAP_IOC_WEAK_MAKE, 0, h, 0, 0);
	ops[2] = bop(SPANHEAP_IOC_WEAK_MAKE, 0, h2, 0, 0);
	KUNIT_ASSERT_EQ(test, uheap_batch_run(u, ops, 3, &done), 0);
	KUNIT_ASSERT_EQ(test, done, 3U);
	KUNIT_EXPECT_EQ(test, ops[2].weak.weak, w0);
	KUNIT_EXPECT_EQ(test, ops[2].weak.count, 2ULL);
	KUNIT_EXPECT_EQ(test, u->nweak, 2U);
	uheap_batch_settle(u, ops, done, false);
	KUNIT_EXPECT_EQ(test, do_stop(u, h, ops[0].cleanup.id), -ENOENT);
	KUNIT_EXPECT_TRUE(test, list_empty(&u->armed));
	KUNIT_EXPECT_EQ(test, weak_get(u, ops[1].weak.weak, 0), U64_MAX);
	KUNIT_EXPECT_EQ(test, u->nweak, 1U);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&u->charged), before);
	KUNIT_ASSERT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_GET, w0, 0, 0, &r), 0);
	KUNIT_EXPECT_EQ(test, r.handle, h2);
	KUNIT_EXPECT_EQ(test, r.count, 1ULL);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_UNROOT, h, 0), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	spanheap_wait_cleanups(u->heap);
	KUNIT_EXPECT_EQ(test, events_of(u, SPANHEAP_EVENT_CLEANUP, 5), 0U);
	KUNIT_EXPECT_EQ(test, u->ncleanrun, 0ULL);

	/* Settled after a cycle queued the cleanup, and after a DROP. */
	ops[0] = bop(SPANHEAP_IOC_CLEANUP, h2, 6, 0, 0);
	ops[1] = bop(SPANHEAP_IOC_WEAK_MAKE, 0, h2, 0, 0);
	KUNIT_ASSERT_EQ(test, uheap_batch_run(u, ops, 2, &done), 0);
	KUNIT_ASSERT_EQ(test, done, 2U);
	KUNIT_ASSERT_EQ(test, do_weak(u, SPANHEAP_IOC_WEAK_DROP, w0, 0, 0, &r), 0);
	KUNIT_EXPECT_EQ(test, r.count, 1ULL);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_UNROOT, h2, 0), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	spanheap_wait_cleanups(u->heap);
	uheap_batch_settle(u, ops, done, false);
	KUNIT_EXPECT_EQ(test, events_of(u, SPANHEAP_EVENT_CLEANUP, 6), 1U);
	KUNIT_EXPECT_EQ(test, weak_get(u, w0, 0), U64_MAX);
	KUNIT_EXPECT_EQ(test, u->nweak, 0U);

	/* Settled while the cleanup the cycle queued may not have run yet. */
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_REF, 1, 0, &h), 0);
	ops[0] = bop(SPANHEAP_IOC_CLEANUP, h, 7, 0, 0);
	KUNIT_ASSERT_EQ(test, uheap_batch_run(u, ops, 1, &done), 0);
	KUNIT_ASSERT_EQ(test, done, 1U);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	uheap_batch_settle(u, ops, done, false);
	spanheap_wait_cleanups(u->heap);
	KUNIT_EXPECT_EQ(test, events_of(u, SPANHEAP_EVENT_CLEANUP, 7), 1U);
	KUNIT_EXPECT_TRUE(test, list_empty(&u->armed));
}

/*
 * entry_live() takes a rooted entry's object as live without a lookup:
 * check that it is, for every rooted entry of @u.
 */
static void expect_rooted_live(struct kunit *test, struct uheap *u)
{
	struct uh_entry *e;
	u32 idx;

	spanheap_enter(u->heap);
	mutex_lock(&u->lock);
	for (idx = 0; (e = uh_tab_next(&u->tab, &idx)); idx++) {
		if (!e->rooted)
			continue;
		KUNIT_EXPECT_EQ_MSG(test, shp_object_live(u->heap, e->obj), true,
				    "index %u", idx);
		if (shp_object_live(u->heap, e->obj))
			KUNIT_EXPECT_EQ(test, ((struct uh_header *)e->obj)->handle,
					e->handle);
	}
	mutex_unlock(&u->lock);
	spanheap_exit(u->heap);
}

/*
 * Roots taken back in any order around cycles: while an entry is rooted
 * (an UNROOT or ROOT not settled, a WEAK_GET's root) its object stays
 * allocated and its own; once it is not, a cycle collects it and the
 * handle is -ESTALE, never taken as live.
 */
static void rooted_entry_object_stays_live(struct kunit *test)
{
	struct uheap *u = test->priv;
	struct spanheap_op root, unroot, wget;
	u32 done;
	u64 h, w;

	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &h), 0);
	w = weak_make(test, u, h);
	/* A ROOT left unsettled while two UNROOTs settle: no root is left. */
	root = bop(SPANHEAP_IOC_ROOT, h, 0, 0, 0);
	KUNIT_ASSERT_EQ(test, uheap_batch_run(u, &root, 1, &done), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_UNROOT, h, 0), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_UNROOT, h, 0), 0);
	/* A WEAK_GET's root, and an UNROOT of it left unsettled. */
	wget = bop(SPANHEAP_IOC_WEAK_GET, w, 0, 0, SPANHEAP_WEAK_ROOT);
	KUNIT_ASSERT_EQ(test, uheap_batch_run(u, &wget, 1, &done), 0);
	KUNIT_ASSERT_EQ(test, done, 1U);
	unroot = bop(SPANHEAP_IOC_UNROOT, h, 0, 0, 0);
	KUNIT_ASSERT_EQ(test, uheap_batch_run(u, &unroot, 1, &done), 0);
	KUNIT_ASSERT_EQ(test, done, 1U);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	expect_rooted_live(test, u);
	/* The UNROOT settles: no root at all, then the stale ROOT's undo. */
	uheap_batch_settle(u, &unroot, 1, true);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	expect_rooted_live(test, u);
	uheap_batch_settle(u, &root, 1, false);
	uheap_batch_settle(u, &wget, 1, true);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	expect_rooted_live(test, u);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, h, 0), -ESTALE);
	KUNIT_EXPECT_EQ(test, weak_get(u, w, SPANHEAP_WEAK_ROOT), 0ULL);
	KUNIT_EXPECT_EQ(test, u->nroots, 0ULL);
}

/*
 * An op is checked by the single command's handler: alone or in a
 * batch, the same bad input is the same error, and changes nothing.
 */
static void batch_op_errors_match_single(struct kunit *test)
{
	struct uheap *u = test->priv;
	struct spanheap_op *cases, op;
	union uheap_args a;
	u64 h, r, st, w;
	long charged, single;
	unsigned int i, n = 0;
	u32 done;

	cases = kunit_kcalloc(test, 24, sizeof(*cases), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cases);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &h), 0);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_REF, 1,
				       SPANHEAP_ALLOC_ROOTED, &r), 0);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8, 0, &st), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, h, 5), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, st, 0), -ESTALE);
	w = weak_make(test, u, h);
	cases[n++] = bop(SPANHEAP_IOC_ALLOC, 3, 8, 0, 0);
	cases[n++] = bop(SPANHEAP_IOC_ALLOC, SPANHEAP_KIND_DATA, 0, 0, 0);
	cases[n++] = bop(SPANHEAP_IOC_ALLOC, SPANHEAP_KIND_REF,
			 SPANHEAP_MAX_SLOTS + 1, 0, 0);
	cases[n] = bop(SPANHEAP_IOC_ALLOC, SPANHEAP_KIND_DATA, 8, 0, 0);
	cases[n++].alloc.reserved = 1;
	cases[n] = bop(SPANHEAP_IOC_ALLOC, SPANHEAP_KIND_DATA, 8, 0, 0);
	cases[n++].alloc.handle = h;
	cases[n++] = bop(SPANHEAP_IOC_STORE, h, 0, r, 0);	/* not REF */
	cases[n++] = bop(SPANHEAP_IOC_STORE, r, 1, h, 0);	/* slot */
	cases[n++] = bop(SPANHEAP_IOC_STORE, r, 0, st, 0);	/* stale value */
	cases[n++] = bop(SPANHEAP_IOC_STORE, r, 0, h, 4);
	cases[n++] = bop(SPANHEAP_IOC_LOAD, r, 0, h, 0);	/* value in */
	cases[n++] = bop(SPANHEAP_IOC_ROOT, h, 1, 0, 0);	/* count in */
	cases[n++] = bop(SPANHEAP_IOC_ROOT, w, 0, 0, 0);	/* weak */
	cases[n++] = bop(SPANHEAP_IOC_UNROOT, st, 0, 0, 0);
	cases[n++] = bop(SPANHEAP_IOC_UNROOT, h + 100, 0, 0, 0);
	cases[n++] = bop(SPANHEAP_IOC_FINALIZER, h, 6, 0, 0);	/* -EEXIST */
	cases[n++] = bop(SPANHEAP_IOC_FINALIZER, h, 6, 0, SPANHEAP_FIN_CLEAR);
	cases[n++] = bop(SPANHEAP_IOC_CLEANUP, h, h, 3, 0);	/* id in */
	cases[n++] = bop(SPANHEAP_IOC_CLEANUP_STOP, h, 0, 12345, 0);
	cases[n++] = bop(SPANHEAP_IOC_WEAK_MAKE, 0, w, 0, 0);
	cases[n++] = bop(SPANHEAP_IOC_WEAK_GET, w, 0, 0, 2);
	cases[n++] = bop(SPANHEAP_IOC_WEAK_GET, w + 1000, 0, 0, 0);
	cases[n++] = bop(SPANHEAP_IOC_WEAK_DROP, w, h, 0, 0);
	cases[n++] = bop(SPANHEAP_IOC_WEAK_DROP, w, 0, 1, 0);
	cases[n++] = bop(SPANHEAP_IOC_ALLOC, SPANHEAP_KIND_DATA,
			 SPANHEAP_MAX_OBJECT + 1, 0, 0);
	KUNIT_ASSERT_LE(test, n, 24U);
	charged = atomic_long_read(&u->charged);
	for (i = 0; i < n; i++) {
		memcpy(&a, &cases[i].raw, sizeof(cases[i].raw));
		single = uheap_do(u, cases[i].cmd, &a, NULL);
		KUNIT_EXPECT_LT_MSG(test, single, 0L, "case %u", i);
		op = cases[i];
		KUNIT_ASSERT_EQ(test, uheap_batch(u, &op, 1, &done), 0);
		KUNIT_EXPECT_EQ_MSG(test, done, 0U, "case %u", i);
		KUNIT_EXPECT_EQ_MSG(test, (long)op.error, single, "case %u", i);
	}
	KUNIT_EXPECT_EQ(test, atomic_long_read(&u->charged), charged);
	KUNIT_EXPECT_EQ(test, u->nroots, 2ULL);
	KUNIT_EXPECT_EQ(test, weak_get(u, w, 0), h);
}

/* Entries with a non-zero ROOT count, counted by walking the table. */
static u32 rooted_entries(struct uheap *u)
{
	struct uh_entry *e;
	u32 idx, n = 0;

	mutex_lock(&u->lock);
	for (idx = 0; (e = uh_tab_next(&u->tab, &idx)); idx++)
		n += !!e->roots;
	mutex_unlock(&u->lock);
	return n;
}

/*
 * ALLOC skips the reclaim walk of a table whose entries are all rooted
 * (u->nrooted == u->nentries): u->nrooted follows ROOT, UNROOT and their
 * undoing, and once an entry loses its roots and its object is
 * collected, the next reclaim drops it.
 */
static void reclaim_skips_only_fully_rooted_table(struct kunit *test)
{
	struct uheap *u = test->priv;
	struct spanheap_op op;
	u64 h[8], extra;
	u32 done;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(h); i++)
		KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
					       SPANHEAP_ALLOC_ROOTED, &h[i]), 0);
	KUNIT_EXPECT_EQ(test, u->nrooted, 8);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, h[0], 0), 0);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_UNROOT, h[0], 0), 0);
	KUNIT_EXPECT_EQ(test, u->nrooted, 8);
	/* An UNROOT to zero taken back (its write-back failed): still rooted. */
	op = bop(SPANHEAP_IOC_UNROOT, h[2], 0, 0, 0);
	KUNIT_ASSERT_EQ(test, uheap_batch_run(u, &op, 1, &done), 0);
	KUNIT_ASSERT_EQ(test, done, 1);
	KUNIT_EXPECT_EQ(test, u->nrooted, 7);
	uheap_batch_settle(u, &op, 1, false);
	KUNIT_EXPECT_EQ(test, u->nrooted, 8);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_UNROOT, h[1], 0), 0);
	KUNIT_EXPECT_EQ(test, u->nrooted, 7);
	KUNIT_EXPECT_EQ(test, rooted_entries(u), u->nrooted);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, h[0], 0), 0);
	mutex_lock(&u->lock);
	u->reclaim_at = 0;			/* the next ALLOC reclaims */
	mutex_unlock(&u->lock);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &extra), 0);
	/* h[1]'s entry went (its object was collected); the rest stay. */
	KUNIT_EXPECT_EQ(test, u->nentries, 8);
	KUNIT_EXPECT_EQ(test, u->nrooted, 8);
	KUNIT_EXPECT_EQ(test, rooted_entries(u), u->nrooted);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, h[1], 0), -ESTALE);
	/* Fully rooted again: the walk is skipped, nothing is dropped. */
	mutex_lock(&u->lock);
	u->reclaim_at = 0;
	mutex_unlock(&u->lock);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &extra), 0);
	KUNIT_EXPECT_EQ(test, u->nentries, 9);
	KUNIT_EXPECT_EQ(test, rooted_entries(u), 9);
}

/*
 * ALLOC stores at the cyclic cursor, or searches when that index is
 * taken; a fresh leaf is charged to its first entry, and given back with
 * its last, then charged again for the next entry made there.
 */
static void table_insert_cursor_and_leaf_charge(struct kunit *test)
{
	struct uheap *u = test->priv;
	u64 h1, h2, a, b;
	long base;

	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &h1), 0);
	mutex_lock(&u->lock);
	u->next_idx = h1 & (UH_MAX_ENTRIES - 1);	/* taken: search on */
	mutex_unlock(&u->lock);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &h2), 0);
	KUNIT_EXPECT_EQ(test, h2 & (UH_MAX_ENTRIES - 1),
			(h1 & (UH_MAX_ENTRIES - 1)) + 1);
	KUNIT_EXPECT_EQ(test, u->next_idx, (h2 & (UH_MAX_ENTRIES - 1)) + 1);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, h1, 0), 0);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, h2, 0), 0);

	/* A fresh leaf: its first entry pays for it. */
	mutex_lock(&u->lock);
	u->next_idx = 5 * UH_LEAF_ENTRIES;	/* within the directory */
	mutex_unlock(&u->lock);
	base = atomic_long_read(&u->charged);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8, 0, &a), 0);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&u->charged) - base,
			(long)UH_TAB_LEAF_COST);
	/* Collected, and its entry dropped with the leaf's charge. */
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, a, 0), -ESTALE);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&u->charged), base);
	/* The next index shares the leaf, now empty again: charged again. */
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &b), 0);
	KUNIT_EXPECT_EQ(test, b & (UH_MAX_ENTRIES - 1), (a & (UH_MAX_ENTRIES - 1)) + 1);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&u->charged) - base,
			(long)UH_TAB_LEAF_COST);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_UNROOT, b, 0), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, b, 0), -ESTALE);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&u->charged), base);
}

/*
 * Each directory slot's counts and bit against its leaf: a leaf exists
 * iff it holds an entry; an entry is rooted iff it has ROOTs or unsettled
 * UNROOTs.  Context: u->lock.
 */
static void check_leaves(struct kunit *test, const struct uh_table *t)
{
	u32 li, i, used, rooted;
	struct uh_entry *e;

	for (li = 0; li < t->ndir; li++) {
		used = 0;
		rooted = 0;
		for (i = 0; t->dir[li].leaf && i < UH_LEAF_ENTRIES; i++) {
			e = &t->dir[li].leaf->ent[i];
			used += e->used;
			rooted += e->rooted;
			if (e->used)
				KUNIT_EXPECT_EQ(test, e->rooted, e->roots || e->unroots);
			else	/* a free slot is all zero */
				KUNIT_EXPECT_TRUE(test, !memchr_inv(e, 0, sizeof(*e)));
		}
		KUNIT_EXPECT_EQ_MSG(test, t->dir[li].nused, used, "leaf %u", li);
		KUNIT_EXPECT_EQ_MSG(test, !t->dir[li].leaf, !used, "leaf %u", li);
		KUNIT_EXPECT_EQ_MSG(test, t->dir[li].nrooted, rooted, "leaf %u", li);
		KUNIT_EXPECT_EQ_MSG(test, test_bit(li, t->rooted), !!rooted, "leaf %u", li);
	}
}

/* Rebuild the table's books from a walk; they must match the counters. */
static void check_books(struct kunit *test, struct uheap *u, long base)
{
	u32 idx, leaf = U32_MAX, leaves = 0, n = 0, rooted = 0;
	struct uh_entry *e;

	mutex_lock(&u->lock);
	for (idx = 0; (e = uh_tab_next(&u->tab, &idx)); idx++) {
		n++;
		rooted += !!e->roots;
		if (idx / UH_LEAF_ENTRIES != leaf) {
			leaf = idx / UH_LEAF_ENTRIES;
			leaves++;
		}
	}
	KUNIT_EXPECT_EQ(test, n, u->nentries);
	KUNIT_EXPECT_EQ(test, rooted, u->nrooted);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&u->charged) - base,
			(long)(leaves * UH_TAB_LEAF_COST + uh_tab_dir_cost(u->tab.ndir)));
	check_leaves(test, &u->tab);
	mutex_unlock(&u->lock);
}

/*
 * KCSAN's kernel runs the per-step table walk several times slower: 5000
 * steps passed KUnit's 300 s case timeout there once leaves held their
 * entries inline.  The other runtimes keep the full count.
 */
#ifdef CONFIG_KCSAN
#define BOOKS_STEPS	1000
#else
#define BOOKS_STEPS	5000
#endif

/*
 * Random ALLOCs (rooted or not), ROOT/UNROOT, GCs, batches settled as
 * delivered or not, forced reclaims and cursor jumps (onto taken low
 * indices, and near the top to wrap): after every step the entry count,
 * the rooted count (nrooted, which lets table_reclaim() skip its walk)
 * and the charge (entries, non-empty leaves and the directory) match a
 * walk of the table, as do the per-leaf counts and the rooted bitmap.
 */
static void books_exact_under_random_ops(struct kunit *test)
{
	u64 seed = 0x9e3779b97f4a7c15ULL, r, h[64] = { 0 };
	struct uheap *u = test->priv;
	long base = atomic_long_read(&u->charged);
	struct spanheap_op ops[4];
	unsigned int i, j, k, m;
	u32 done;

	for (i = 0; i < BOOKS_STEPS && test->status != KUNIT_FAILURE; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		r = seed;
		k = (r >> 8) % ARRAY_SIZE(h);
		switch (r % 8) {
		case 0:
		case 1:
		case 2:
			do_alloc(u, SPANHEAP_KIND_DATA, 8,
				 r & 0x10000 ? SPANHEAP_ALLOC_ROOTED : 0, &h[k]);
			break;
		case 3:
			if (h[k])
				do_cmd(u, r & 0x40 ? SPANHEAP_IOC_ROOT : SPANHEAP_IOC_UNROOT,
				       h[k], 0);
			break;
		case 4:
			m = 1 + (r >> 20) % ARRAY_SIZE(ops);
			for (j = 0; j < m; j++)
				ops[j] = bop(SPANHEAP_IOC_ALLOC, SPANHEAP_KIND_DATA, 8, 0,
					     (r >> (24 + j)) & 1 ? SPANHEAP_ALLOC_ROOTED : 0);
			if (!uheap_batch_run(u, ops, m, &done))
				uheap_batch_settle(u, ops, done, (r >> 30) & 1);
			break;
		case 5:
			if (!(r & 0x700))
				do_cmd(u, SPANHEAP_IOC_GC, 0, 0);
			break;
		case 6:
			mutex_lock(&u->lock);
			u->reclaim_at = 0;
			mutex_unlock(&u->lock);
			break;
		default:
			mutex_lock(&u->lock);
			if (r & 0x100)
				u->next_idx = UH_MAX_ENTRIES - (r >> 40) % 70;
			else
				u->next_idx = 1 + (r >> 40) % 300;
			mutex_unlock(&u->lock);
			break;
		}
		check_books(test, u, base);
	}
	KUNIT_EXPECT_EQ(test, i, BOOKS_STEPS);
	KUNIT_EXPECT_GT(test, u->epoch, 0U);	/* the cursor jumps did wrap */
}

/* ---- the handle table (uheap_table.c) ---- */

static void set_cursor(struct uheap *u, u32 idx)
{
	mutex_lock(&u->lock);
	u->next_idx = idx;
	mutex_unlock(&u->lock);
}

static u32 idx_of(u64 h)
{
	return h & (UH_MAX_ENTRIES - 1);
}

/*
 * Entries are slots of their leaf: a free slot of a leaf that exists is
 * no entry (a handle of its index never handed out is -ENOENT, not
 * -ESTALE), and a dropped entry's slot is free again, all zero.
 */
static void table_free_slot_is_no_entry(struct kunit *test)
{
	struct uheap *u = test->priv;
	u64 h1, h2;

	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &h1), 0);
	KUNIT_ASSERT_EQ(test, idx_of(h1), 1U);
	KUNIT_EXPECT_NOT_NULL(test, u->tab.dir[0].leaf);
	KUNIT_EXPECT_NULL(test, uh_tab_get(&u->tab, 2));
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, uh_handle(u, 2, 0), 0),
			-ENOENT);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8, 0, &h2), 0);
	KUNIT_ASSERT_EQ(test, idx_of(h2), 2U);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, h2, 0), -ESTALE);
	KUNIT_EXPECT_NULL(test, uh_tab_get(&u->tab, 2));
	KUNIT_EXPECT_EQ(test, u->tab.dir[0].nused, 1);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, h1, 0), 0);
	check_books(test, u, 0);
}

/*
 * Consecutive ALLOCs fill a leaf and go on into the next, which the first
 * entry there pays for; an index past the directory grows it (doubling,
 * charged, the old slots copied), and what was there still resolves.
 */
static void table_grows_across_leaves(struct kunit *test)
{
	struct uheap *u = test->priv;
	u64 first, h, far;
	long before;
	u32 i, ndir;

	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &first), 0);
	KUNIT_EXPECT_EQ(test, idx_of(first), 1U);
	for (i = 2; i < 2 * UH_LEAF_ENTRIES; i++) {
		KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
					       SPANHEAP_ALLOC_ROOTED, &h), 0);
		KUNIT_ASSERT_EQ(test, idx_of(h), i);
	}
	KUNIT_EXPECT_EQ(test, u->tab.dir[0].nused, UH_LEAF_ENTRIES - 1);
	KUNIT_EXPECT_EQ(test, u->tab.dir[1].nused, UH_LEAF_ENTRIES);
	KUNIT_EXPECT_NULL(test, u->tab.dir[2].leaf);
	/* The next entry opens leaf 2: one leaf more, nothing else. */
	before = atomic_long_read(&u->charged);
	ndir = u->tab.ndir;
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &h), 0);
	KUNIT_EXPECT_EQ(test, idx_of(h), 2 * UH_LEAF_ENTRIES);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&u->charged) - before,
			(long)UH_TAB_LEAF_COST);
	KUNIT_EXPECT_EQ(test, u->tab.ndir, ndir);
	/* Far past the directory: it grows to the next power of two. */
	set_cursor(u, 100 * UH_LEAF_ENTRIES + 7);
	before = atomic_long_read(&u->charged);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &far), 0);
	KUNIT_EXPECT_EQ(test, idx_of(far), 100 * UH_LEAF_ENTRIES + 7);
	KUNIT_EXPECT_EQ(test, u->tab.ndir, 128U);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&u->charged) - before,
			(long)(UH_TAB_LEAF_COST + uh_tab_dir_cost(128) -
			       uh_tab_dir_cost(ndir)));
	/* The old slots came along: every entry resolves, counts intact. */
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, first, 0), 0);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, h, 0), 0);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, far, 0), 0);
	KUNIT_EXPECT_EQ(test, u->tab.dir[1].nrooted, UH_LEAF_ENTRIES);
	KUNIT_EXPECT_TRUE(test, test_bit(100, u->tab.rooted));
	KUNIT_EXPECT_EQ(test, u->nentries, 2 * UH_LEAF_ENTRIES + 1);
	check_books(test, u, 0);
}

/*
 * Past the last index the cursor wraps to the first free index from 1,
 * a new generation: an old handle of that index is stale, handles made
 * before still name their objects.  A search skips full leaves whole.
 */
static void table_index_wraps(struct kunit *test)
{
	struct uheap *u = test->priv;
	u64 low[3], top[2], h, gone;
	u32 i;

	/* Index 1, unrooted: collected, its index free again. */
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8, 0, &gone), 0);
	for (i = 0; i < 3; i++)
		KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
					       SPANHEAP_ALLOC_ROOTED, &low[i]), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, gone, 0), -ESTALE);
	set_cursor(u, UH_MAX_ENTRIES - 2);
	for (i = 0; i < 2; i++) {
		KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
					       SPANHEAP_ALLOC_ROOTED, &top[i]), 0);
		KUNIT_EXPECT_EQ(test, idx_of(top[i]), UH_MAX_ENTRIES - 2 + i);
	}
	KUNIT_EXPECT_EQ(test, u->epoch, 0U);
	KUNIT_EXPECT_EQ(test, u->next_idx, UH_MAX_ENTRIES);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &h), 0);
	KUNIT_EXPECT_EQ(test, idx_of(h), 1U);
	KUNIT_EXPECT_EQ(test, u->epoch, 1U);
	KUNIT_EXPECT_EQ(test, h, uh_handle(u, 1, 1));
	KUNIT_EXPECT_EQ(test, u->next_idx, 2U);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, gone, 0), -ESTALE);
	for (i = 0; i < 3; i++)
		KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, low[i], 0), 0);
	for (i = 0; i < 2; i++)
		KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, top[i], 0), 0);
	/* Fill leaf 1; a search from inside it lands past it, not before. */
	set_cursor(u, UH_LEAF_ENTRIES);
	for (i = 0; i < UH_LEAF_ENTRIES; i++)
		KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
					       SPANHEAP_ALLOC_ROOTED, &h), 0);
	KUNIT_EXPECT_EQ(test, u->tab.dir[1].nused, UH_LEAF_ENTRIES);
	set_cursor(u, UH_LEAF_ENTRIES + 3);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &h), 0);
	KUNIT_EXPECT_EQ(test, idx_of(h), 2 * UH_LEAF_ENTRIES);
	KUNIT_EXPECT_EQ(test, u->epoch, 1U);
	check_books(test, u, 0);
}

/* Take the file to its limit but for @room bytes. */
static unsigned long leave_room(struct kunit *test, struct uheap *u, long room)
{
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	unsigned long n = 0;

	KUNIT_ASSERT_NOT_NULL(test, st);
	spanheap_read_stats(u->heap, st);
	spanheap_set_limit(u->heap, st->bytes_reserved + st->bytes_meta + (64 << 10));
	while (!spanheap_charge(u->heap, 8))	/* fill to the last 8 bytes */
		n++;
	KUNIT_ASSERT_GT(test, n * 8, (unsigned long)room);
	spanheap_uncharge(u->heap, room);
	return n * 8 - room;
}

/*
 * An ALLOC whose new leaf does not fit the limit (by 8 bytes), or whose
 * leaf fits but not the directory grown for it, fails with -ENOMEM and
 * changes nothing: not the charges, the cursor, the directory, the
 * entries or the heap.
 */
static void table_leaf_failure_changes_nothing(struct kunit *test)
{
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	struct uheap *u = test->priv;
	u64 h, objects;
	unsigned long filled;
	long charged;
	u32 ndir;

	KUNIT_ASSERT_NOT_NULL(test, st);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &h), 0);
	ndir = u->tab.ndir;
	KUNIT_ASSERT_EQ(test, ndir, 8U);
	/* A fresh leaf inside the directory, room for all of it but 8 bytes. */
	set_cursor(u, 3 * UH_LEAF_ENTRIES);
	filled = leave_room(test, u, UH_TAB_LEAF_COST - 8);
	spanheap_read_stats(u->heap, st);
	objects = st->objects_in_use;
	charged = atomic_long_read(&u->charged);
	KUNIT_EXPECT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8, 0, &h), -ENOMEM);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&u->charged), charged);
	KUNIT_EXPECT_EQ(test, u->nentries, 1U);
	KUNIT_EXPECT_EQ(test, u->next_idx, 3 * UH_LEAF_ENTRIES);
	KUNIT_EXPECT_NULL(test, u->tab.dir[3].leaf);
	KUNIT_EXPECT_EQ(test, u->tab.dir[3].nused, 0);
	spanheap_read_stats(u->heap, st);
	KUNIT_EXPECT_EQ(test, st->objects_in_use, objects);
	/* Room for the leaf too, not for a directory of 256 slots. */
	set_cursor(u, 200 * UH_LEAF_ENTRIES);
	spanheap_uncharge(u->heap, UH_TAB_LEAF_COST);
	filled -= UH_TAB_LEAF_COST;
	KUNIT_EXPECT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8, 0, &h), -ENOMEM);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&u->charged), charged);
	KUNIT_EXPECT_EQ(test, u->tab.ndir, ndir);
	KUNIT_EXPECT_EQ(test, u->next_idx, 200 * UH_LEAF_ENTRIES);
	KUNIT_EXPECT_EQ(test, u->nentries, 1U);
	check_books(test, u, 0);
	/* With room, the same ALLOC succeeds where it was to go. */
	spanheap_uncharge(u->heap, filled);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8, 0, &h), 0);
	KUNIT_EXPECT_EQ(test, idx_of(h), 200 * UH_LEAF_ENTRIES);
	KUNIT_EXPECT_EQ(test, u->tab.ndir, 256U);
	check_books(test, u, 0);
}

/*
 * A leaf whose entries all went (collected, then dropped by reclaim) is
 * freed, its charge given back; a leaf keeping one rooted entry stays.
 */
static void table_frees_empty_leaves(struct kunit *test)
{
	struct uheap *u = test->priv;
	long before;
	u64 h, keep;
	u32 i;

	set_cursor(u, UH_LEAF_ENTRIES);		/* leaves 1 and 2 */
	before = atomic_long_read(&u->charged);
	for (i = 0; i < 2 * UH_LEAF_ENTRIES; i++)
		KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
					       i == UH_LEAF_ENTRIES + 9 ?
					       SPANHEAP_ALLOC_ROOTED : 0, &h), 0);
	keep = uh_handle(u, 2 * UH_LEAF_ENTRIES + 9, 0);
	KUNIT_EXPECT_NOT_NULL(test, u->tab.dir[1].leaf);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	mutex_lock(&u->lock);
	u->reclaim_at = 0;			/* the next ALLOC reclaims */
	mutex_unlock(&u->lock);
	set_cursor(u, 5 * UH_LEAF_ENTRIES);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
				       SPANHEAP_ALLOC_ROOTED, &h), 0);
	KUNIT_EXPECT_EQ(test, u->nentries, 2U);
	KUNIT_EXPECT_NULL(test, u->tab.dir[1].leaf);
	KUNIT_EXPECT_EQ(test, u->tab.dir[1].nused, 0);
	KUNIT_EXPECT_NOT_NULL(test, u->tab.dir[2].leaf);
	KUNIT_EXPECT_EQ(test, u->tab.dir[2].nused, 1);
	/* Two entries, two leaves (2 and 5), and the directory. */
	KUNIT_EXPECT_EQ(test, atomic_long_read(&u->charged) - before,
			(long)(2 * UH_TAB_LEAF_COST + uh_tab_dir_cost(u->tab.ndir)));
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, keep, 0), 0);
	check_books(test, u, 0);
}

/*
 * The root scan's walk (uh_tab_next_rooted()) yields exactly the rooted
 * entries, across bitmap words and at leaf edges, and a collection keeps
 * exactly their objects.
 */
static void root_scan_visits_exactly_rooted(struct kunit *test)
{
	static const u32 at[] = {
		1, UH_LEAF_ENTRIES - 1, UH_LEAF_ENTRIES,
		63 * UH_LEAF_ENTRIES + UH_LEAF_ENTRIES - 1, 64 * UH_LEAF_ENTRIES,
		64 * UH_LEAF_ENTRIES + 5, 128 * UH_LEAF_ENTRIES,
		130 * UH_LEAF_ENTRIES + UH_LEAF_ENTRIES - 1, 131 * UH_LEAF_ENTRIES,
	};
	/* Rooted at ALLOC, rooted by ROOT, unrooted, rooted then unrooted. */
	static const u8 how[] = { 0, 1, 2, 0, 1, 2, 1, 1, 3 };
	struct uheap *u = test->priv;
	u64 h[ARRAY_SIZE(at)];
	struct uh_entry *e;
	u32 i, idx, seen;

	for (i = 0; i < ARRAY_SIZE(at); i++) {
		set_cursor(u, at[i]);
		KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
					       how[i] ? 0 : SPANHEAP_ALLOC_ROOTED,
					       &h[i]), 0);
		KUNIT_ASSERT_EQ(test, idx_of(h[i]), at[i]);
		if (how[i] == 1 || how[i] == 3)
			KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_ROOT, h[i], 0), 0);
		if (how[i] == 3)
			KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_UNROOT, h[i], 0), 0);
	}
	mutex_lock(&u->lock);
	seen = 0;
	for (idx = 0; (e = uh_tab_next_rooted(&u->tab, &idx)); idx++) {
		while (seen < ARRAY_SIZE(at) && how[seen] >= 2)
			seen++;
		KUNIT_EXPECT_LT(test, seen, (u32)ARRAY_SIZE(at));
		if (seen < ARRAY_SIZE(at))
			KUNIT_EXPECT_EQ(test, idx, at[seen]);
		seen++;
	}
	while (seen < ARRAY_SIZE(at) && how[seen] >= 2)
		seen++;
	KUNIT_EXPECT_EQ(test, seen, (u32)ARRAY_SIZE(at));
	mutex_unlock(&u->lock);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	for (i = 0; i < ARRAY_SIZE(at); i++)
		KUNIT_EXPECT_EQ_MSG(test, do_cmd(u, SPANHEAP_IOC_ROOT, h[i], 0),
				    how[i] >= 2 ? -ESTALE : 0L, "index %u", at[i]);
	check_books(test, u, 0);
}

/* ---- the event record pool and read()'s runs (uheap_event.c) ---- */

static u32 list_len(struct list_head *head)
{
	struct list_head *p;
	u32 n = 0;

	list_for_each(p, head)
		n++;
	return n;
}

/*
 * The pool's books against a walk: full chunks, and only they, are on
 * ev_full; each other chunk's free list holds exactly the records it
 * does not count, all its own; at most one chunk is empty (the spare);
 * ev_nchunks counts the chunks, the charge covers them, and the records
 * in use are the ones on the event lists.  @base: u->charged without
 * the pool.
 */
static void check_pool(struct kunit *test, struct uheap *u, long base)
{
	u32 n = 0, used = 0, empty = 0, nfree;
	struct uh_evchunk *c;
	struct uh_event *ev;

	spin_lock(&u->ev_lock);
	list_for_each_entry(c, &u->ev_full, node) {
		n++;
		KUNIT_EXPECT_EQ(test, c->nused, UH_EVCHUNK_EVENTS);
		KUNIT_EXPECT_NULL(test, c->free);
		used += c->nused;
	}
	list_for_each_entry(c, &u->ev_partial, node) {
		n++;
		KUNIT_EXPECT_LT(test, c->nused, UH_EVCHUNK_EVENTS);
		nfree = 0;
		for (ev = c->free; ev && nfree <= UH_EVCHUNK_EVENTS; ev = ev->next_free) {
			KUNIT_EXPECT_TRUE(test, ev >= c->ev && ev < c->ev + UH_EVCHUNK_EVENTS);
			KUNIT_EXPECT_PTR_EQ(test, ev->chunk, c);
			nfree++;
		}
		KUNIT_EXPECT_EQ(test, nfree, UH_EVCHUNK_EVENTS - c->nused);
		empty += !c->nused;
		used += c->nused;
	}
	KUNIT_EXPECT_EQ(test, n, u->ev_nchunks);
	KUNIT_EXPECT_LE(test, empty, 1U);
	KUNIT_EXPECT_EQ(test, used, list_len(&u->armed) + list_len(&u->events) +
			list_len(&u->reading));
	spin_unlock(&u->ev_lock);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&u->charged) - base,
			(long)(n * UH_EVCHUNK_COST));
}

/* @n rooted objects into @h; u->charged after. */
static long rooted_objects(struct kunit *test, struct uheap *u, u64 *h, u32 n)
{
	u32 i;

	for (i = 0; i < n; i++)
		KUNIT_EXPECT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
					       SPANHEAP_ALLOC_ROOTED, &h[i]), 0);
	return atomic_long_read(&u->charged);
}

/*
 * Records come from chunks: the first FINALIZER charges a chunk, the
 * next UH_EVCHUNK_EVENTS - 1 nothing, the one after a second chunk.
 * Given back, emptied chunks are freed but one spare, which serves the
 * next chunk's worth of records without a new charge.
 */
static void event_pool_grows_and_shrinks(struct kunit *test)
{
	const u32 n = 2 * UH_EVCHUNK_EVENTS + 1;
	u64 *h = kunit_kcalloc(test, n, sizeof(*h), GFP_KERNEL);
	struct uheap *u = test->priv;
	long base;
	u32 i;

	KUNIT_ASSERT_NOT_NULL(test, h);
	base = rooted_objects(test, u, h, n);
	for (i = 0; i < n; i++) {
		KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, h[i], i + 1), 0);
		KUNIT_EXPECT_EQ(test, atomic_long_read(&u->charged) - base,
				(long)((i / UH_EVCHUNK_EVENTS + 1) * UH_EVCHUNK_COST));
	}
	KUNIT_EXPECT_EQ(test, u->ev_nchunks, 3U);
	KUNIT_EXPECT_EQ(test, list_len(&u->ev_full), 2U);
	KUNIT_EXPECT_EQ(test, list_len(&u->armed), n);
	check_pool(test, u, base);
	for (i = 0; i < n; i++) {
		KUNIT_ASSERT_EQ(test, do_fin_clear(u, h[i]), 0);
		check_pool(test, u, base);
	}
	KUNIT_EXPECT_EQ(test, u->ev_nchunks, 1U);
	KUNIT_EXPECT_TRUE(test, list_empty(&u->armed));
	for (i = 0; i < UH_EVCHUNK_EVENTS; i++)
		KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, h[i], i + 1), 0);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&u->charged) - base, (long)UH_EVCHUNK_COST);
	KUNIT_EXPECT_EQ(test, list_len(&u->ev_full), 1U);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, h[i], i + 1), 0);
	KUNIT_EXPECT_EQ(test, u->ev_nchunks, 2U);
	check_pool(test, u, base);
}

/*
 * At the limit: a FINALIZER needing a new chunk fails with -ENOMEM and
 * changes nothing; one that found a free record but not room for the
 * core's finalizer record gives the record back.  A FINALIZER on an
 * object that has one is -EEXIST either way.  With room, the same
 * FINALIZER succeeds, in the free record.
 */
static void event_pool_charge_failure_changes_nothing(struct kunit *test)
{
	const u32 n = UH_EVCHUNK_EVENTS + 1;
	u64 *h = kunit_kcalloc(test, n, sizeof(*h), GFP_KERNEL);
	struct uheap *u = test->priv;
	unsigned long filled;
	long base, charged;
	u64 fins;
	u32 i;

	KUNIT_ASSERT_NOT_NULL(test, h);
	base = rooted_objects(test, u, h, n);
	for (i = 0; i < UH_EVCHUNK_EVENTS; i++)
		KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, h[i], i + 1), 0);
	KUNIT_ASSERT_EQ(test, list_len(&u->ev_full), 1U);
	filled = leave_room(test, u, UH_EVCHUNK_COST - 8);
	charged = atomic_long_read(&u->charged);
	fins = stats(test, u)->finalizers_set;
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, h[n - 1], 99), -ENOMEM);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, h[1], 99), -EEXIST);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&u->charged), charged);
	KUNIT_EXPECT_EQ(test, u->ev_nchunks, 1U);
	KUNIT_EXPECT_EQ(test, list_len(&u->armed), UH_EVCHUNK_EVENTS);
	KUNIT_EXPECT_EQ(test, stats(test, u)->finalizers_set, fins);
	check_pool(test, u, base);
	/* A free record, and no room for the core's record. */
	KUNIT_ASSERT_EQ(test, do_fin_clear(u, h[0]), 0);
	while (!spanheap_charge(u->heap, 8))
		filled += 8;
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, h[n - 1], 99), -ENOMEM);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, h[1], 99), -EEXIST);
	KUNIT_EXPECT_EQ(test, list_len(&u->armed), UH_EVCHUNK_EVENTS - 1);
	KUNIT_EXPECT_EQ(test, stats(test, u)->finalizers_set, fins - 1);
	check_pool(test, u, base);
	spanheap_uncharge(u->heap, filled);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, h[n - 1], 99), 0);
	KUNIT_EXPECT_EQ(test, u->ev_nchunks, 1U);
	KUNIT_EXPECT_EQ(test, list_len(&u->ev_full), 1U);
	check_pool(test, u, base);
}

/*
 * A FINALIZER refused for its event record (no room for a chunk) on an
 * object whose span has no records yet leaves that span without a
 * records array: the check for an existing finalizer allocates nothing.
 */
static void event_pool_failure_makes_no_array(struct kunit *test)
{
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	const u32 n = UH_EVCHUNK_EVENTS;
	u64 *h = kunit_kcalloc(test, n, sizeof(*h), GFP_KERNEL);
	struct uheap *u = test->priv;
	unsigned long filled;
	u64 big, meta;
	long charged;
	u32 i;

	KUNIT_ASSERT_NOT_NULL(test, st);
	KUNIT_ASSERT_NOT_NULL(test, h);
	rooted_objects(test, u, h, n);
	/* A large object: its own span, no records array. */
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 2 * SPANHEAP_MAX_SMALL_SIZE,
				       SPANHEAP_ALLOC_ROOTED, &big), 0);
	for (i = 0; i < n; i++)
		KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, h[i], i + 1), 0);
	KUNIT_ASSERT_EQ(test, list_len(&u->ev_full), 1U);
	filled = leave_room(test, u, UH_EVCHUNK_COST - 8);
	charged = atomic_long_read(&u->charged);
	spanheap_read_stats(u->heap, st);
	meta = st->bytes_meta;
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, big, 99), -ENOMEM);
	spanheap_read_stats(u->heap, st);
	KUNIT_EXPECT_EQ(test, st->bytes_meta, meta);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&u->charged), charged);
	KUNIT_EXPECT_EQ(test, u->ev_nchunks, 1U);
	spanheap_uncharge(u->heap, filled);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, big, 99), 0);
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, big, 98), -EEXIST);
}

/* The seq numbers of u->events, oldest first, into @seq; how many. */
static u32 queued_seqs(struct uheap *u, u64 *seq, u32 max)
{
	struct uh_event *ev;
	u32 n = 0;

	spin_lock(&u->ev_lock);
	list_for_each_entry(ev, &u->events, node)
		if (n < max)
			seq[n++] = ev->ev.seq;
	spin_unlock(&u->ev_lock);
	return n;
}

/*
 * read()'s runs: two readers take runs of the queue; the second copies
 * one event out and the first none, so the queue is the first run, the
 * second's rest, then what neither took, in their order.  A read() into
 * an unwritable buffer takes nothing; reading all gives every record
 * back to the pool.
 */
static void event_runs_put_back_in_order(struct kunit *test)
{
	struct uheap *u = test->priv;
	u64 h[6], seq[8], now[8];
	struct uh_event *a, *b;
	long base;
	u32 i;

	for (i = 0; i < 6; i++)
		KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8, 0, &h[i]), 0);
	base = atomic_long_read(&u->charged);
	for (i = 0; i < 6; i++)
		KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, h[i], i + 1), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_ASSERT_EQ(test, u->nevents, 6U);
	KUNIT_ASSERT_EQ(test, queued_seqs(u, seq, 8), 6U);
	KUNIT_EXPECT_EQ(test, uheap_read(u, (char __user *)-PAGE_SIZE,
					 3 * sizeof(struct spanheap_event), true),
			(ssize_t)-EFAULT);
	KUNIT_ASSERT_EQ(test, queued_seqs(u, now, 8), 6U);
	for (i = 0; i < 6; i++)
		KUNIT_EXPECT_EQ(test, now[i], seq[i]);
	KUNIT_EXPECT_TRUE(test, list_empty(&u->reading));

	KUNIT_ASSERT_EQ(test, uheap_events_take(u, &a, 2), 2U);
	KUNIT_ASSERT_EQ(test, uheap_events_take(u, &b, 3), 3U);
	KUNIT_EXPECT_EQ(test, a->ev.seq, seq[0]);
	KUNIT_EXPECT_EQ(test, b->ev.seq, seq[2]);
	KUNIT_EXPECT_EQ(test, u->nevents, 1U);
	KUNIT_EXPECT_EQ(test, list_len(&u->reading), 5U);
	check_pool(test, u, base);
	uheap_events_done(u, b, 1, 3);
	KUNIT_EXPECT_EQ(test, u->nevents, 3U);
	KUNIT_EXPECT_EQ(test, u->nread, 1ULL);
	uheap_events_done(u, a, 0, 2);
	KUNIT_EXPECT_EQ(test, u->nevents, 5U);
	KUNIT_EXPECT_TRUE(test, list_empty(&u->reading));
	KUNIT_ASSERT_EQ(test, queued_seqs(u, now, 8), 5U);
	KUNIT_EXPECT_EQ(test, now[0], seq[0]);
	KUNIT_EXPECT_EQ(test, now[1], seq[1]);
	KUNIT_EXPECT_EQ(test, now[2], seq[3]);
	KUNIT_EXPECT_EQ(test, now[3], seq[4]);
	KUNIT_EXPECT_EQ(test, now[4], seq[5]);
	check_pool(test, u, base);

	KUNIT_ASSERT_EQ(test, uheap_events_take(u, &a, 8), 5U);
	uheap_events_done(u, a, 5, 5);
	KUNIT_EXPECT_EQ(test, u->nevents, 0U);
	KUNIT_EXPECT_EQ(test, u->nread, 6ULL);
	KUNIT_EXPECT_TRUE(test, list_empty(&u->events));
	KUNIT_EXPECT_TRUE(test, list_empty(&u->reading));
	KUNIT_EXPECT_EQ(test, u->ev_nchunks, 1U);	/* the spare */
	check_pool(test, u, base);
}

/* ---- user memory: argument structs and read() against faults ---- */

/*
 * Two pages of the test's user address space, the second unmapped, so
 * that a copy running into it faults; unmapped again by
 * user_pages_put().  The userspace build maps the process's own.  The
 * kernel's KUnit (6.1) runs each case in a kthread, which has no user
 * address space: there the case is skipped, and the VM tiers' ioctl
 * selftests and fuzzer cover these copies on the device.
 */
static char __user *user_pages(struct kunit *test)
{
	unsigned long addr;

#ifdef __KERNEL__
	if (!current->mm)
		kunit_skip(test, "no user address space");
#endif
	addr = vm_mmap(NULL, 0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_ANONYMOUS | MAP_PRIVATE, 0);
	if (IS_ERR_VALUE(addr))
		kunit_skip(test, "vm_mmap: %ld", (long)addr);
	KUNIT_ASSERT_EQ(test, vm_munmap(addr + PAGE_SIZE, PAGE_SIZE), 0);
	return (char __user *)addr;
}

static void user_pages_put(char __user *p)
{
	vm_munmap((unsigned long)p, PAGE_SIZE);
}

/* uheap_ioctl() of @cmd on a copy of @k (@n bytes) put at @p. */
static long user_ioctl(struct uheap *u, unsigned int cmd, char __user *p,
		       const void *k, size_t n)
{
	size_t room = PAGE_SIZE - ((unsigned long)p & (PAGE_SIZE - 1));

	if (copy_to_user(p, k, min(n, room)))
		return -EBADF;
	return uheap_ioctl(u, cmd, p);
}

/*
 * Argument structs and batch arrays in user memory, copied 8 bytes at a
 * time when aligned (the ordinary way when not): they come in and go
 * back whole; one running into an unmapped page fails with -EFAULT
 * and nothing runs.  A small batch's array is the file's spare page.
 */
static void ioctl_user_copies(struct kunit *test)
{
	struct spanheap_alloc a = {
		.size = sizeof(a), .kind = SPANHEAP_KIND_DATA, .length = 8,
		.flags = SPANHEAP_ALLOC_ROOTED,
	};
	struct spanheap_batch b = { .size = sizeof(b), .count = 2 };
	char __user *page = user_pages(test), *end = page + PAGE_SIZE;
	struct spanheap_finalizer f = { .size = sizeof(f), .token = 5 };
	struct uheap *u = test->priv;
	struct spanheap_op ops[2], *spare;
	struct spanheap_alloc out;
	u32 n = u->nentries, i;

	/* Aligned, and not: the same result, written back whole. */
	for (i = 0; i < 2; i++) {
		KUNIT_ASSERT_EQ(test, user_ioctl(u, SPANHEAP_IOC_ALLOC, page + 4 * i,
						 &a, sizeof(a)), 0);
		KUNIT_ASSERT_EQ(test, copy_from_user(&out, page + 4 * i, sizeof(out)), 0);
		KUNIT_EXPECT_EQ(test, out.size, (u32)sizeof(out));
		KUNIT_EXPECT_EQ(test, out.kind, (u32)SPANHEAP_KIND_DATA);
		KUNIT_EXPECT_EQ(test, out.length, 8ULL);
		KUNIT_EXPECT_EQ(test, idx_of(out.handle), n + 1 + i);
		KUNIT_EXPECT_NOT_NULL(test, entry_obj(u, out.handle));
	}
	f.handle = out.handle;
	KUNIT_EXPECT_EQ(test, user_ioctl(u, SPANHEAP_IOC_FINALIZER, page, &f, sizeof(f)), 0);
	/* The last 8 bytes in the unmapped page. */
	KUNIT_EXPECT_EQ(test, user_ioctl(u, SPANHEAP_IOC_ALLOC, end - sizeof(a) + 8,
					 &a, sizeof(a)), -EFAULT);
	KUNIT_EXPECT_EQ(test, u->nentries, n + 2);

	/* A batch of two ALLOCs: the array comes in and goes back whole. */
	ops[0] = bop(SPANHEAP_IOC_ALLOC, SPANHEAP_KIND_DATA, 8, 0, SPANHEAP_ALLOC_ROOTED);
	ops[1] = ops[0];
	KUNIT_ASSERT_EQ(test, copy_to_user(page + 512, ops, sizeof(ops)), 0);
	b.op_size = sizeof(ops[0]);
	b.ops = (u64)(unsigned long)(page + 512);
	KUNIT_ASSERT_EQ(test, user_ioctl(u, SPANHEAP_IOC_BATCH, page, &b, sizeof(b)), 0);
	KUNIT_ASSERT_EQ(test, copy_from_user(&b, page, sizeof(b)), 0);
	KUNIT_EXPECT_EQ(test, b.done, 2U);
	KUNIT_ASSERT_EQ(test, copy_from_user(ops, page + 512, sizeof(ops)), 0);
	KUNIT_EXPECT_EQ(test, idx_of(ops[0].alloc.handle), n + 3);
	KUNIT_EXPECT_EQ(test, idx_of(ops[1].alloc.handle), n + 4);
	KUNIT_EXPECT_EQ(test, u->nentries, n + 4);
	/* The array's page stays the file's spare, and is used again. */
	spare = u->batch_spare;
	KUNIT_EXPECT_NOT_NULL(test, spare);
	/* The array's last op running into the unmapped page: none runs. */
	ops[0] = bop(SPANHEAP_IOC_ALLOC, SPANHEAP_KIND_DATA, 8, 0, SPANHEAP_ALLOC_ROOTED);
	ops[1] = ops[0];
	KUNIT_ASSERT_EQ(test, copy_to_user(end - sizeof(ops) + 8, ops, sizeof(ops) - 8), 0);
	b = (struct spanheap_batch){ .size = sizeof(b), .count = 2, .op_size = sizeof(ops[0]),
				     .ops = (u64)(unsigned long)(end - sizeof(ops) + 8) };
	KUNIT_EXPECT_EQ(test, user_ioctl(u, SPANHEAP_IOC_BATCH, page, &b, sizeof(b)), -EFAULT);
	KUNIT_EXPECT_EQ(test, u->nentries, n + 4);
	KUNIT_EXPECT_PTR_EQ(test, u->batch_spare, spare);
	user_pages_put(page);
}

/*
 * BATCH of the @count ops at @arr, its struct at @bp; *@done as written
 * back.  Returns the call's result, -EBADF if the struct cannot be read.
 */
static long user_batch(struct uheap *u, char __user *bp, char __user *arr,
		       u32 count, u32 *done)
{
	struct spanheap_batch b = {
		.size = sizeof(b), .count = count,
		.op_size = sizeof(struct spanheap_op), .ops = (u64)(unsigned long)arr,
	};
	long ret = user_ioctl(u, SPANHEAP_IOC_BATCH, bp, &b, sizeof(b));

	if (!ret && copy_from_user(&b, bp, sizeof(b)))
		ret = -EBADF;
	*done = b.done;
	return ret;
}

/*
 * A small batch after a full page of ops, in the file's spare array: only
 * its own ops go back (up to the failed one), never a byte of the
 * earlier batch's left in the page past them.
 */
static void batch_spare_keeps_no_stale_ops(struct kunit *test)
{
	const u32 full = PAGE_SIZE / sizeof(struct spanheap_op);
	char __user *arr = user_pages(test), *bp = user_pages(test);
	struct spanheap_op ops[3], got[3];
	struct uheap *u = test->priv;
	u32 i, done;

	/* A page of ALLOCs fills the spare with handles and sizes. */
	ops[0] = bop(SPANHEAP_IOC_ALLOC, SPANHEAP_KIND_DATA, 8, 0, 0);
	for (i = 0; i < full; i++)
		KUNIT_ASSERT_EQ(test, copy_to_user(arr + i * sizeof(ops[0]), &ops[0],
						   sizeof(ops[0])), 0);
	KUNIT_ASSERT_EQ(test, user_batch(u, bp, arr, full, &done), 0);
	KUNIT_ASSERT_EQ(test, done, full);
	KUNIT_ASSERT_NOT_NULL(test, u->batch_spare);

	/* Two that succeed: the third op's place stays as it was. */
	memset(ops, 0x5a, sizeof(ops));
	ops[0] = bop(SPANHEAP_IOC_ALLOC, SPANHEAP_KIND_DATA, 8, 0, 0);
	ops[1] = ops[0];
	KUNIT_ASSERT_EQ(test, copy_to_user(arr, ops, sizeof(ops)), 0);
	KUNIT_ASSERT_EQ(test, user_batch(u, bp, arr, 2, &done), 0);
	KUNIT_EXPECT_EQ(test, done, 2U);
	KUNIT_ASSERT_EQ(test, copy_from_user(got, arr, sizeof(got)), 0);
	KUNIT_EXPECT_EQ(test, got[0].error, 0);
	KUNIT_EXPECT_NE(test, got[1].alloc.handle, got[0].alloc.handle);
	KUNIT_EXPECT_EQ(test, memcmp(&got[2], &ops[2], sizeof(ops[2])), 0);

	/* The first fails: it alone comes back, with its error. */
	ops[0] = bop(SPANHEAP_IOC_ROOT, 0, 0, 0, 0);
	ops[1] = bop(SPANHEAP_IOC_ALLOC, SPANHEAP_KIND_DATA, 8, 0, 0);
	KUNIT_ASSERT_EQ(test, copy_to_user(arr, ops, sizeof(ops)), 0);
	KUNIT_ASSERT_EQ(test, user_batch(u, bp, arr, 2, &done), 0);
	KUNIT_EXPECT_EQ(test, done, 0U);
	KUNIT_ASSERT_EQ(test, copy_from_user(got, arr, sizeof(got)), 0);
	KUNIT_EXPECT_NE(test, got[0].error, 0);
	KUNIT_EXPECT_EQ(test, memcmp(&got[1], &ops[1], 2 * sizeof(ops[1])), 0);
	user_pages_put(bp);
	user_pages_put(arr);
}

/*
 * read() into a buffer that runs into an unmapped page: the records
 * that fit whole are read, the next ones stay queued in their order;
 * a buffer that starts there is -EFAULT, with nothing taken.
 */
static void read_stops_at_the_fault(struct kunit *test)
{
	const size_t ev = sizeof(struct spanheap_event);
	char __user *page = user_pages(test), *end = page + PAGE_SIZE;
	struct uheap *u = test->priv;
	struct spanheap_event got[4];
	u64 h[4], seq[4], now[4];
	u32 i;

	for (i = 0; i < 4; i++) {
		KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8, 0, &h[i]), 0);
		KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, h[i], i + 1), 0);
	}
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	KUNIT_ASSERT_EQ(test, queued_seqs(u, seq, 4), 4U);
	KUNIT_EXPECT_EQ(test, uheap_read(u, end, 4 * ev, true), (ssize_t)-EFAULT);
	KUNIT_EXPECT_EQ(test, u->nevents, 4U);
	/* Two whole records, 8 bytes of the third. */
	KUNIT_EXPECT_EQ(test, uheap_read(u, end - 2 * ev - 8, 4 * ev, true),
			(ssize_t)(2 * ev));
	KUNIT_ASSERT_EQ(test, copy_from_user(got, end - 2 * ev - 8, 2 * ev), 0);
	for (i = 0; i < 2; i++) {
		KUNIT_EXPECT_EQ(test, got[i].seq, seq[i]);
		KUNIT_EXPECT_EQ(test, got[i].event_len, (u32)ev);
		KUNIT_EXPECT_EQ(test, got[i].type, SPANHEAP_EVENT_FINALIZER);
	}
	KUNIT_EXPECT_EQ(test, u->nread, 2ULL);
	KUNIT_ASSERT_EQ(test, queued_seqs(u, now, 4), 2U);
	KUNIT_EXPECT_EQ(test, now[0], seq[2]);
	KUNIT_EXPECT_EQ(test, now[1], seq[3]);
	KUNIT_EXPECT_EQ(test, uheap_read(u, page, 4 * ev, true), (ssize_t)(2 * ev));
	KUNIT_ASSERT_EQ(test, copy_from_user(got, page, 2 * ev), 0);
	KUNIT_EXPECT_EQ(test, got[0].seq, seq[2]);
	KUNIT_EXPECT_EQ(test, got[1].seq, seq[3]);
	KUNIT_EXPECT_TRUE(test, list_empty(&u->reading));
	user_pages_put(page);
}

static struct kunit_case uheap_cases[] = {
	KUNIT_CASE(token_is_never_scanned),
	KUNIT_CASE(handle_space_retires),
	KUNIT_CASE(root_count_overflows),
	KUNIT_CASE(full_queue_and_new_finalizer_lose_nothing),
	KUNIT_CASE(cleared_while_queued_is_not_rearmed),
	KUNIT_CASE(charges_at_the_limit_fail_cleanly),
	KUNIT_CASE(table_shrinks_after_collection),
	KUNIT_CASE(sparse_table_is_charged),
	KUNIT_CASE(reclaim_skips_only_fully_rooted_table),
	KUNIT_CASE(table_insert_cursor_and_leaf_charge),
	KUNIT_CASE(books_exact_under_random_ops),
	KUNIT_CASE(table_free_slot_is_no_entry),
	KUNIT_CASE(table_grows_across_leaves),
	KUNIT_CASE(table_index_wraps),
	KUNIT_CASE(table_leaf_failure_changes_nothing),
	KUNIT_CASE(table_frees_empty_leaves),
	KUNIT_CASE(root_scan_visits_exactly_rooted),
	KUNIT_CASE(event_pool_grows_and_shrinks),
	KUNIT_CASE(event_pool_charge_failure_changes_nothing),
	KUNIT_CASE(event_pool_failure_makes_no_array),
	KUNIT_CASE(event_runs_put_back_in_order),
	KUNIT_CASE(ioctl_user_copies),
	KUNIT_CASE(batch_spare_keeps_no_stale_ops),
	KUNIT_CASE(read_stops_at_the_fault),
	KUNIT_CASE(cleanup_event_comes_once),
	KUNIT_CASE(cleanup_cycle_is_collected),
	KUNIT_CASE(cleanup_stopped_never_comes),
	KUNIT_CASE(cleanup_stop_after_queueing),
	KUNIT_CASE(cleanup_event_past_the_cap),
	KUNIT_CASE(cleanup_token_keeps_nothing_alive),
	KUNIT_CASE(cleanup_and_weak_bad_input),
	KUNIT_CASE(weak_handle_is_canonical),
	KUNIT_CASE(weak_make_fails_cleanly),
	KUNIT_CASE(many_weak_handles_counted_and_freed),
	KUNIT_CASE(weak_stats_walk_races_commands_and_cycles),
	KUNIT_CASE(weak_stats_walk_gap_lets_commands_run),
	KUNIT_CASE(weak_reads_zero_after_death),
	KUNIT_CASE(weak_zero_while_resurrected),
	KUNIT_CASE(weak_get_root_keeps_alive),
	KUNIT_CASE(close_frees_cleanups_and_weak),
	KUNIT_CASE(batch_runs_every_op),
	KUNIT_CASE(batch_stops_at_first_error),
	KUNIT_CASE(batch_bad_input_runs_nothing),
	KUNIT_CASE(batch_op_errors_match_single),
	KUNIT_CASE(batch_undo_keeps_root_across_cycle),
	KUNIT_CASE(batch_undo_takes_back_cleanup_and_weak),
	KUNIT_CASE(rooted_entry_object_stays_live),
	{}
};

static struct kunit_suite uheap_suite = {
	.name = "spanheap_uheap",
	.init = uheap_init,
	.exit = uheap_exit,
	.test_cases = uheap_cases,
};

kunit_test_suites(&uheap_suite);
