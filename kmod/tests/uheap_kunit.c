// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the /dev/spanheap layer (uheap) driven through uheap_do() with
 * kernel-side argument structs: the parts of issue 7 that take 2^32
 * calls or a precise interleaving to reach from userspace.
 */
#include <kunit/test.h>
#include <linux/err.h>
#include <linux/slab.h>
#include "../internal.h"
#include "../uheap.h"

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
	struct uh_entry *e = xa_load(&u->tab, h & (UH_MAX_ENTRIES - 1));

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
	KUNIT_ASSERT_FALSE(test, IS_ERR(s));
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
	e = xa_load(&u->tab, h & (UH_MAX_ENTRIES - 1));
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
	KUNIT_ASSERT_EQ(test, spanheap_take_finalizer(u->heap, ev->obj, &ctx), 0);
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
	/* Entries, plus the table's leaves: dense here, so about one per 64. */
	KUNIT_EXPECT_GE(test, atomic_long_read(&u->charged),
			(long)(u->nentries * sizeof(struct uh_entry) +
			       u->nentries / XA_CHUNK_SIZE * sizeof(struct xa_node)));
	KUNIT_EXPECT_LE(test, atomic_long_read(&u->charged),
			(long)(u->nentries * sizeof(struct uh_entry) +
			       (u->nentries / XA_CHUNK_SIZE + 2) * 2 * sizeof(struct xa_node)));
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

	for (i = 0; i < 64 * 64; i++)
		KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8,
					       i % 64 ? 0 : SPANHEAP_ALLOC_ROOTED, &h), 0);
	KUNIT_ASSERT_EQ(test, do_cmd(u, SPANHEAP_IOC_GC, 0, 0), 0);
	mutex_lock(&u->lock);
	u->reclaim_at = 0;			/* the next ALLOC reclaims */
	mutex_unlock(&u->lock);
	KUNIT_ASSERT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8, 0, &h), 0);
	KUNIT_EXPECT_LE(test, u->nentries, 64 + 1);
	KUNIT_EXPECT_GE(test, atomic_long_read(&u->charged) - before,
			(long)(64 * sizeof(struct xa_node)));
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
	KUNIT_EXPECT_EQ(test, list_last_entry(&u->events, struct uh_event, node), taken);
	/* Not set again: a new finalizer is accepted. */
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, taken->ev.handle, 3), 0);
}

/*
 * At the limit, what this layer charges fails cleanly: ALLOC (its table
 * entry) and FINALIZER (its event record) with -ENOMEM, nothing changed.
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
	KUNIT_EXPECT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8, 0, &h2), -ENOMEM);
	KUNIT_EXPECT_EQ(test, u->nentries, 1U);
	spanheap_uncharge(u->heap, n * 8);
	/* Room again: the same calls succeed, and the finalizer is a new one. */
	KUNIT_EXPECT_EQ(test, do_cmd(u, SPANHEAP_IOC_FINALIZER, h, 1), 0);
	KUNIT_EXPECT_EQ(test, do_alloc(u, SPANHEAP_KIND_DATA, 8, 0, &h2), 0);
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
	{}
};

static struct kunit_suite uheap_suite = {
	.name = "spanheap_uheap",
	.init = uheap_init,
	.exit = uheap_exit,
	.test_cases = uheap_cases,
};

kunit_test_suites(&uheap_suite);
