// SPDX-License-Identifier: GPL-2.0
/*
 * Sweep: free what the last mark did not reach, queue finalizers.
 *
 * A cycle moves every small span to its class's unswept list and bumps
 * heap->sweepgen; a span is swept when its sweepgen catches up.  Spans
 * are swept lazily, as in Go: before a CPU cache takes one (the central
 * lists hold only swept spans besides "unswept"), before any of its
 * specials change or an object of it is freed explicitly
 * (shp_ensure_swept), by the background sweeper, and all at once before
 * the next mark.  Small spans are swept under their central lock, large
 * ones under heap->lock.
 *
 * The specials pass is Go's (sweep_object_specials()): an unmarked
 * object with a finalizer gets all its finalizers queued, its weak
 * handles cleared, and is marked again so it survives this cycle
 * (resurrection: the finalizer will see it); an unmarked object without
 * one gets its cleanups queued and loses all its records.  Then the
 * allocation bits become the mark bits.
 */
#include <linux/mm.h>
#include <linux/prefetch.h>
#include <linux/sched.h>
#include "internal.h"
#include "trace/events/spanheap.h"

/*
 * A span's sweep: cleanup records found due, queued at once, and the
 * records unlinked, by kind, counted out of the span at once.
 * @fin_locked: heap->fin_lock taken, by the first finalizer due; held
 * to the end of the span, so the finalizer worker cannot run a
 * finalizer before the sweep has cleared its object's weak handles.
 */
struct sweep_due {
	struct shp_cleanup_batches cleanups;
	unsigned int gone[SPANHEAP_NR_SPECIAL_KINDS];
	bool fin_locked;
};

static void due_fin_lock(struct spanheap *heap, struct sweep_due *due)
{
	if (due->fin_locked)
		return;
	spin_lock(&heap->fin_lock);
	due->fin_locked = true;
}

/* Unlinked @sp: a cleanup goes on @due's batches, anything else is freed. */
static void sweep_unlinked(struct spanheap *heap, struct shp_special *sp,
			   struct sweep_due *due)
{
	struct shp_special_cleanup *c;

	due->gone[sp->kind]++;
	if (sp->kind == SPANHEAP_SPECIAL_CLEANUP) {
		c = container_of(sp, struct shp_special_cleanup, sp);
		trace_spanheap_cleanup_queued(heap, c->id, c->fn);
		shp_cleanup_batches_push(&due->cleanups, c);
	} else {
		shp_special_free(heap, sp);
	}
}

/*
 * An unmarked object's records, Go's sweep.  Without a finalizer, the
 * object is freed and loses every record: cleanups are queued (their
 * records move to @due), weak handles cleared, the rest freed.  With a
 * finalizer, every finalizer is queued, weak handles are cleared (before
 * the finalizer can resurrect the object) and cleanups stay for a later
 * cycle; the object is kept for one more cycle.  A finalizer that cannot
 * be queued (no memory) keeps its record.  Returns true if the object
 * stays.
 */
static bool sweep_object_specials(struct spanheap *heap, struct shp_span *s,
				  unsigned int idx, struct sweep_due *due)
{
	unsigned long base = s->base + idx * s->elemsize;
	struct shp_special *sp, *next, **link;

	if (!test_bit(idx, shp_fin_bits(s))) {
		sp = s->specials[idx];
		s->specials[idx] = NULL;
		for (; sp; sp = next) {
			next = sp->next;
			sweep_unlinked(heap, sp, due);
		}
		/* No record left (and there was no finalizer). */
		shp_special_bit_assign(s, shp_special_bits(s), idx, false);
		return false;
	}
	for (link = &s->specials[idx]; (sp = *link);) {
		if (sp->kind == SPANHEAP_SPECIAL_FINALIZER) {
			struct shp_special_finalizer *f =
				container_of(sp, struct shp_special_finalizer, sp);

			due_fin_lock(heap, due);
			if (!shp_queue_finalizer(heap, (void *)(base + sp->offset),
						 f->fn, f->ctx)) {
				link = &sp->next;
				continue;
			}
		} else if (sp->kind == SPANHEAP_SPECIAL_CLEANUP) {
			link = &sp->next;
			continue;
		}
		*link = sp->next;
		sweep_unlinked(heap, sp, due);
	}
	shp_special_update_bits(s, idx);
	__set_bit(idx, shp_mark_bits(s));	/* resurrect for one cycle */
	return true;
}

/* Start fetching the first record of each object of word @w in @todo. */
static void prefetch_word_specials(struct shp_span *s, unsigned int w,
				   unsigned long todo)
{
	for (; todo; todo &= todo - 1)
		prefetchw(s->specials[w * BITS_PER_LONG + __ffs(todo)]);
}

/*
 * heap->fin_lock is taken only if the span has a finalizer to queue or
 * cleanups due: a span whose objects with records all live (most of
 * them, in a heap that keeps its objects) takes its own lock only.
 * Cleanup records are gathered and queued with one lock round.
 */
static void sweep_specials(struct spanheap *heap, struct shp_span *s)
{
	unsigned long *mark = shp_mark_bits(s), *special = shp_special_bits(s);
	struct sweep_due due = { };
	unsigned long todo;
	unsigned int w, k;

	if (!s->nspecials)
		return;
	spin_lock(&s->speciallock);
	/*
	 * Only unmarked objects with records need work.  Their first records
	 * are fetched before they are read: each is a cache miss otherwise.
	 */
	for (w = 0; w < s->nwords; w++) {
		todo = special[w] & ~mark[w];
		prefetch_word_specials(s, w, todo);
		for (; todo; todo &= todo - 1)
			sweep_object_specials(heap, s, w * BITS_PER_LONG + __ffs(todo),
					      &due);
	}
	for (k = 0; k < SPANHEAP_NR_SPECIAL_KINDS; k++)
		if (due.gone[k])
			shp_special_account_kind(s, k, -due.gone[k]);
	if (due.cleanups.n) {
		due_fin_lock(heap, &due);
		shp_queue_cleanups(heap, &due.cleanups);
	}
	if (due.fin_locked)
		spin_unlock(&heap->fin_lock);
	spin_unlock(&s->speciallock);
}

/**
 * shp_sweep_span() - sweep a small span and file it
 * @heap: heap
 * @s: a span on its class's unswept list
 *
 * The span ends on the partial or full list, or is released if empty
 * (see shp_central_file_swept()).
 *
 * Context: central lock of @s held.
 */
void shp_sweep_span(struct spanheap *heap, struct shp_span *s)
{
	struct shp_central *ct = &heap->central[s->spc];
	unsigned long *alloc = shp_alloc_bits(s), *mark = shp_mark_bits(s);
	unsigned int w, before = s->nalloc;

	lockdep_assert_held(&ct->lock);
	sweep_specials(heap, s);
	for (w = 0; w < s->nwords; w++)
		WRITE_ONCE(alloc[w], alloc[w] & mark[w]);
	s->nalloc = shp_span_count_alloc(s);
	ct->nswept += before - s->nalloc;
	trace_spanheap_sweep_span(heap, s, before - s->nalloc, s->nalloc);
	/* Published last: shp_ensure_swept() trusts it without the lock. */
	smp_store_release(&s->sweepgen, heap->sweepgen);
	shp_central_file_swept(s);
}

/**
 * shp_sweep_large() - sweep a large span
 * @heap: heap
 * @s: a large span not yet swept
 *
 * Context: heap->lock held.
 */
void shp_sweep_large(struct spanheap *heap, struct shp_span *s)
{
	bool live;

	lockdep_assert_held(&heap->lock);
	sweep_specials(heap, s);
	if (!test_bit(0, shp_mark_bits(s)))
		clear_bit(0, shp_alloc_bits(s));
	/*
	 * The object reads free before sweepgen says "swept": a lookup that
	 * sees the new sweepgen without the lock must not see it allocated.
	 */
	smp_store_release(&s->sweepgen, heap->sweepgen);
	live = test_bit(0, shp_alloc_bits(s));
	trace_spanheap_sweep_span(heap, s, !live, live);
	if (live)
		return;
	s->nalloc = 0;
	heap->nswept_large++;
	shp_large_release(heap, s);
}

/**
 * shp_ensure_swept() - sweep a span now if this cycle has not yet
 * @heap: heap
 * @s: span found by a lookup under RCU
 *
 * Sweeping may release @s: callers check its state before using it, and
 * hold rcu_read_lock() across the call if they do.
 *
 * Context: process context, no spinlock held; rcu_read_lock() allowed.
 */
void shp_ensure_swept(struct spanheap *heap, struct shp_span *s)
{
	/* Pairs with the sweeps' release: a swept span's bits are final. */
	if (smp_load_acquire(&s->sweepgen) == READ_ONCE(heap->sweepgen))
		return;
	if (!s->divmul) {
		spin_lock(&heap->lock);
		if (s->state == SHP_SPAN_LARGE && s->sweepgen != heap->sweepgen)
			shp_sweep_large(heap, s);
		spin_unlock(&heap->lock);
		return;
	}
	spin_lock(&heap->central[s->spc].lock);
	if (s->state == SHP_SPAN_CENTRAL && s->sweepgen != heap->sweepgen)
		shp_sweep_span(heap, s);
	spin_unlock(&heap->central[s->spc].lock);
}

/**
 * shp_find_swept() - resolve a pointer to an object, sweeping its span first
 * @heap: heap
 * @p: pointer
 * @idx: object index, set on success
 * @offset: if not NULL, set to @p's offset inside the object
 * @interior: which pointers other than an object's start are accepted
 *
 * Sweeping may free the object and release its span; the span is only
 * looked at under RCU until it is known to hold the object allocated
 * and swept.  From then on no sweep can free it before the next cycle,
 * which waits for the caller's section, so the span stays valid until
 * it ends (unless the caller frees the object itself).
 *
 * Context: inside a mutator section, no spinlock held.
 * Return: the span, or ERR_PTR(-EFAULT) if @p is not in a live span of
 * @heap, ERR_PTR(-EINVAL) if it is not an accepted pointer into an
 * allocated object.
 */
struct shp_span *shp_find_swept(struct spanheap *heap, const void *p,
				unsigned int *idx, unsigned int *offset,
				enum shp_interior interior)
{
	unsigned long off;
	struct shp_span *s;

	rcu_read_lock();
	s = shp_find_object(heap, p, idx);
	if (!s) {
		s = ERR_PTR(-EFAULT);
		goto out;
	}
	off = (unsigned long)p - (s->base + *idx * s->elemsize);
	if (off && !(interior == SHP_ANYWHERE ||
		     (interior == SHP_IN_TINY && READ_ONCE(s->spc) == SHP_TINY_SPC))) {
		s = ERR_PTR(-EINVAL);
		goto out;
	}
	shp_ensure_swept(heap, s);
	if (READ_ONCE(s->state) == SHP_SPAN_DEAD ||
	    !test_bit(*idx, shp_alloc_bits(s)) ||
	    test_bit(*idx, shp_remote_bits(s)))
		s = ERR_PTR(-EINVAL);
	else if (offset)
		*offset = off;
out:
	rcu_read_unlock();
	return s;
}

/**
 * shp_find_swept_object() - resolve an object's start, sweeping its span first
 * @heap: heap
 * @p: candidate object start
 * @idx: object index, set on success
 *
 * shp_find_swept() accepting only the start of an object.
 *
 * Context: inside a mutator section, no spinlock held.
 * Return: the span, or ERR_PTR(-EFAULT) or ERR_PTR(-EINVAL).
 */
struct shp_span *shp_find_swept_object(struct spanheap *heap, const void *p,
				       unsigned int *idx)
{
	return shp_find_swept(heap, p, idx, NULL, SHP_AT_START);
}

/**
 * shp_special_target() - resolve an object that is to get a special record
 * @heap: heap
 * @obj: pointer into an allocated object of @heap
 * @idx: object index, set on success
 * @offset: if not NULL, set to @obj's offset inside the object
 * @interior: as for shp_find_swept()
 *
 * shp_find_swept(), then makes sure the span has a specials array.  As
 * for spanheap_charge(), memory held for reuse never stands in the way:
 * refused at the limit, the array is tried again once the empty spans
 * kept for reuse are given back (shp_central_release_empty()).
 *
 * Context: process context, inside a mutator section, no spinlock held.
 * Return: the span, or an ERR_PTR: -EFAULT outside the heap, -EINVAL not
 * an accepted pointer into an allocated object, -ENOMEM.
 */
struct shp_span *shp_special_target(struct spanheap *heap, const void *obj,
				    unsigned int *idx, unsigned int *offset,
				    enum shp_interior interior)
{
	struct shp_span *s = shp_find_swept(heap, obj, idx, offset, interior);
	int ret;

	if (IS_ERR(s))
		return s;
	ret = shp_special_prepare(heap, s);
	if (ret == -ENOMEM) {
		/* Another task's release may have made the room: try anyway. */
		shp_central_release_empty(heap);
		ret = shp_special_prepare(heap, s);
	}
	return ret ? ERR_PTR(ret) : s;
}

/**
 * shp_special_new() - a special record for an object shp_special_target() found
 * @heap: heap
 * @kind: enum spanheap_special_kind
 *
 * shp_special_alloc(), tried again, if it fails, once the empty spans
 * kept for reuse are given back, as shp_special_target() does.
 *
 * Context: process context, no spinlock held; may sleep.
 * Return: the record with @kind set, or NULL.
 */
struct shp_special *shp_special_new(struct spanheap *heap, unsigned int kind)
{
	struct shp_special *sp = shp_special_alloc(heap, kind);

	if (!sp) {
		shp_central_release_empty(heap);
		sp = shp_special_alloc(heap, kind);
	}
	return sp;
}

/* Sweep one span of @spc; returns false when none was left unswept. */
static bool sweep_one(struct spanheap *heap, unsigned int spc)
{
	struct shp_central *ct = &heap->central[spc];
	struct shp_span *s;

	spin_lock(&ct->lock);
	s = list_first_entry_or_null(&ct->unswept, struct shp_span, list);
	if (s)
		shp_sweep_span(heap, s);
	spin_unlock(&ct->lock);
	return s;
}

/**
 * shp_sweep_large_all_slow() - sweep every large span left unswept
 * @heap: heap
 *
 * shp_sweep_large_all() once it has found that not done in this cycle.
 *
 * Context: no spinlock held; inside a section or with the sweeper
 * excluded (heap->sweepgen does not change meanwhile).
 */
void shp_sweep_large_all_slow(struct spanheap *heap)
{
	struct shp_span *s, *tmp;

	spin_lock(&heap->lock);
	list_for_each_entry_safe(s, tmp, &heap->large, list)
		if (s->sweepgen != heap->sweepgen)
			shp_sweep_large(heap, s);
	WRITE_ONCE(heap->large_sweepgen, heap->sweepgen);
	spin_unlock(&heap->lock);
}

/**
 * shp_finish_sweep() - sweep every span left unswept
 * @heap: heap
 *
 * Queues the finalizer worker and cleanup workers if sweeping queued
 * finalizers or cleanups; cleanup workers every 64 spans already.
 *
 * Context: process context, may sleep.
 */
void shp_finish_sweep(struct spanheap *heap)
{
	unsigned int spc, n = 0;

	for_each_small_spc(spc) {
		while (sweep_one(heap, spc)) {
			if (++n % 64)
				continue;
			/* Cleanups run while sweeping goes on. */
			shp_cleanq_wake(heap);
			cond_resched();
		}
	}
	shp_sweep_large_all(heap);
	shp_finq_wake(heap);
}

/* The background sweeper (Go's bgsweep). */
void shp_sweep_workfn(struct work_struct *work)
{
	struct spanheap *heap = container_of(work, struct spanheap, sweep_work);
	struct mem_cgroup *memcg = shp_memcg_enter(heap);

	shp_finish_sweep(heap);
	shp_memcg_exit(memcg);
}
