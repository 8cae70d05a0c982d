// SPDX-License-Identifier: GPL-2.0
/*
 * Central lists: spans of one span class that no CPU cache owns
 * (Go's mcentral), and the heap's list of large spans.  A cache that
 * runs dry hands its span back here and takes a partial one; frees from
 * CPUs that do not own the span land here too.  Sweeping files the
 * spans it swept here, and a new cycle moves every span to its class's
 * unswept list.
 *
 * Small spans' lists change under central[spc].lock, large spans' under
 * heap->lock; what runs with the world stopped (shp_central_unsweep_all(),
 * drain) or on a dying heap takes them in turn.  Central lists and sweep.c call each other: a class with
 * no swept partial span sweeps one before handing it out (Go's
 * mcentral.cacheSpan), and a swept span is filed here.
 */
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/percpu.h>
#include <linux/export.h>
#include "internal.h"

static struct shp_central *span_central(struct shp_span *s)
{
	return &s->heap->central[s->spc];
}

/* Put a central span on the list its occupancy calls for. */
static void central_file(struct shp_central *ct, struct shp_span *s)
{
	lockdep_assert_held(&ct->lock);
	if (s->nalloc == s->nelems)
		list_move(&s->list, &ct->full);
	else
		list_move(&s->list, &ct->partial);
}

/*
 * An empty central span is kept for reuse up to SHP_KEEP_EMPTY_SPANS per
 * class, or, after a sweep, while the heap is within the pacer's goal
 * (like Go's page heap: keep what the heap will reuse before the next
 * cycle); otherwise it is returned to the page allocator.
 */
static void central_empty(struct shp_central *ct, struct shp_span *s,
			  bool keep_for_pacer)
{
	struct spanheap *heap = s->heap;

	lockdep_assert_held(&ct->lock);
	if (ct->nempty < SHP_KEEP_EMPTY_SPANS ||
	    (keep_for_pacer &&
	     atomic_long_read(&heap->reserved) <= (long)READ_ONCE(heap->next_gc))) {
		ct->nempty++;
		return;
	}
	list_del_init(&s->list);
	ct->nspans--;
	shp_special_free_all(s);
	shp_span_release(s);
}

/**
 * shp_central_file_swept() - file a span sweeping has just counted
 * @s: span taken off its unswept list, s->nalloc exact
 *
 * The span goes to the partial or full list.  An empty one is kept
 * while its class keeps fewer than SHP_KEEP_EMPTY_SPANS or the heap is
 * within the pacer's goal, and released otherwise.
 *
 * Context: central lock of @s held.
 */
void shp_central_file_swept(struct shp_span *s)
{
	struct shp_central *ct = span_central(s);

	central_file(ct, s);
	if (!s->nalloc)
		central_empty(ct, s, true);
}

/**
 * shp_central_unsweep_all() - move every swept small span to its unswept list
 * @heap: heap whose sweepgen has just advanced
 *
 * Context: heap->sections held for writing, caches drained.
 */
void shp_central_unsweep_all(struct spanheap *heap)
{
	unsigned int spc;

	shp_assert_world_stopped(heap);
	for_each_small_spc(spc) {
		struct shp_central *ct = &heap->central[spc];

		spin_lock(&ct->lock);
		list_splice_init(&ct->partial, &ct->unswept);
		list_splice_init(&ct->full, &ct->unswept);
		ct->nempty = 0;
		spin_unlock(&ct->lock);
	}
}

static void release_list(struct list_head *head)
{
	struct shp_span *s, *tmp;

	list_for_each_entry_safe(s, tmp, head, list) {
		list_del_init(&s->list);
		shp_special_free_all(s);
		shp_span_release(s);
	}
}

/* Put large span @s, its object allocated, on heap->large.  Context: heap->lock. */
static void large_link(struct spanheap *heap, struct shp_span *s)
{
	lockdep_assert_held(&heap->lock);
	WRITE_ONCE(s->state, SHP_SPAN_LARGE);
	list_add(&s->list, &heap->large);
	heap->nlarge++;
	heap->large_bytes += s->bytes;
}

/**
 * shp_large_add() - put a new large span, its object allocated, on the heap
 * @heap: heap
 * @s: span from shp_span_new() of class 0
 *
 * Context: any; takes heap->lock.
 */
void shp_large_add(struct spanheap *heap, struct shp_span *s)
{
	spin_lock(&heap->lock);
	large_link(heap, s);
	spin_unlock(&heap->lock);
}

/**
 * shp_large_release() - release a large span: its object is freed
 * @heap: heap
 * @s: span on heap->large
 *
 * Context: heap->lock held.
 */
void shp_large_release(struct spanheap *heap, struct shp_span *s)
{
	lockdep_assert_held(&heap->lock);
	list_del_init(&s->list);
	heap->nlarge--;
	heap->large_bytes -= s->bytes;
	shp_special_free_all(s);
	if (!shp_span_keep(heap, s))
		shp_span_release(s);
}

/**
 * shp_large_reuse() - make a kept large span of @bytes an object again
 * @heap: heap
 * @bytes: span length (a page multiple)
 * @spc: span class 0, NOSCAN or not
 *
 * The span comes back swept, unmarked, with no record, its object
 * allocated but not zeroed, on heap->large.
 *
 * Context: any; takes heap->lock.
 * Return: the span, or NULL if none of that length is kept.
 */
struct shp_span *shp_large_reuse(struct spanheap *heap, unsigned long bytes,
				 unsigned int spc)
{
	struct shp_span *s;

	spin_lock(&heap->lock);
	s = shp_span_take_kept(heap, bytes);
	if (s) {
		unsigned int i;

		/* Only a record added while its object was being freed (a caller's race). */
		shp_special_free_all(s);
		/*
		 * Lookups that found the span before its object was freed
		 * may read it still, without the lock: marked stores, the
		 * bitmaps (one word each) before sweepgen says "swept".
		 */
		for (i = 0; i < SHP_SPAN_BITMAPS; i++)
			WRITE_ONCE(s->bits[i], 0);
		WRITE_ONCE(shp_alloc_bits(s)[0], 1UL);
		s->nalloc = 1;
		WRITE_ONCE(s->spc, spc);
		/* Pairs with shp_ensure_swept()'s acquire. */
		smp_store_release(&s->sweepgen, heap->sweepgen);
		large_link(heap, s);
	}
	spin_unlock(&heap->lock);
	return s;
}

/**
 * shp_central_release_all() - release every span of a dying heap
 * @heap: heap being destroyed, drained, no worker left
 *
 * Context: process context.
 */
void shp_central_release_all(struct spanheap *heap)
{
	struct shp_span *s, *tmp;
	unsigned int spc;

	for (spc = 0; spc < SHP_NR_SPAN_CLASSES; spc++) {
		struct shp_central *ct = &heap->central[spc];

		spin_lock(&ct->lock);
		release_list(&ct->partial);
		release_list(&ct->full);
		release_list(&ct->unswept);
		ct->nspans = 0;
		spin_unlock(&ct->lock);
	}
	spin_lock(&heap->lock);
	list_for_each_entry_safe(s, tmp, &heap->large, list)
		shp_large_release(heap, s);
	spin_unlock(&heap->lock);
}

/**
 * shp_central_uncache() - take a span away from its owning cache
 * @heap: heap of @s
 * @s: a cached span
 *
 * Folds posted remote frees, recounts and files the span centrally.
 *
 * Context: central lock of @s held; the owner is the caller or quiescent.
 */
void shp_central_uncache(struct spanheap *heap, struct shp_span *s)
{
	struct shp_central *ct = &heap->central[s->spc];

	lockdep_assert_held(&ct->lock);
	shp_span_fold_remote(s);
	s->nalloc = shp_span_count_alloc(s);
	WRITE_ONCE(s->owner, NULL);
	s->alloc_cache = 0;
	WRITE_ONCE(s->state, SHP_SPAN_CENTRAL);
	central_file(ct, s);
	if (!s->nalloc)
		central_empty(ct, s, false);
}

/* Make @s the cache's span for its class and load its first free word. */
static void central_cache(struct shp_cpu_cache *c, struct shp_span *s)
{
	lockdep_assert_held(&span_central(s)->lock);
	WRITE_ONCE(s->owner, c);
	WRITE_ONCE(s->state, SHP_SPAN_CACHED);
	list_del_init(&s->list);
	s->next_word = 0;
	shp_span_load_cache(s);
	/* Release: spanheap_read_stats() reads the span without a lock. */
	smp_store_release(&c->alloc[s->spc], s);
}

/**
 * shp_central_grab() - refill a cache's span for one span class
 * @heap: heap
 * @c: the calling CPU's cache
 * @spc: span class whose span ran dry
 *
 * First folds remote frees into the current span and keeps it if that
 * freed something; else files it centrally and takes a partial span.
 *
 * Context: preemption disabled (@c is this CPU's cache).
 * Return: a span with a loaded alloc_cache, or NULL if the class has no
 * partial span (the cache's slot is then &shp_empty_span).
 */
struct shp_span *shp_central_grab(struct spanheap *heap,
				  struct shp_cpu_cache *c, unsigned int spc)
{
	struct shp_central *ct = &heap->central[spc];
	struct shp_span *s = c->alloc[spc];

	lockdep_assert_preemption_disabled();
	spin_lock(&ct->lock);
	if (s != &shp_empty_span) {
		shp_span_fold_remote(s);
		s->next_word = 0;
		if (shp_span_load_cache(s))
			goto out;
		shp_central_uncache(heap, s);
		if (c->last == s)
			c->last = &shp_empty_span;
	}
	/* Sweep unswept spans (Go's partialUnswept) until one has room. */
	while (!(s = list_first_entry_or_null(&ct->partial, struct shp_span, list)) &&
	       !list_empty(&ct->unswept))
		shp_sweep_span(heap, list_first_entry(&ct->unswept,
						      struct shp_span, list));
	if (s) {
		if (!s->nalloc)
			ct->nempty--;
		central_cache(c, s);
	} else {
		WRITE_ONCE(c->alloc[spc], &shp_empty_span);
	}
out:
	spin_unlock(&ct->lock);
	return s;
}

/**
 * shp_central_add() - give a new, empty span to its class
 * @heap: heap
 * @s: span from shp_span_new()
 *
 * Context: any; takes the central lock.
 */
void shp_central_add(struct spanheap *heap, struct shp_span *s)
{
	struct shp_central *ct = &heap->central[s->spc];

	spin_lock(&ct->lock);
	s->state = SHP_SPAN_CENTRAL;
	list_add(&s->list, &ct->partial);
	ct->nspans++;
	ct->nempty++;
	spin_unlock(&ct->lock);
}

/**
 * shp_central_free() - free an object of a span the caller does not own
 * @heap: heap
 * @s: span found by shp_find_object()
 * @idx: object index in @s
 *
 * A span owned by another cache gets the object posted in remote_bits;
 * a central span has it cleared directly and may become empty.
 *
 * Context: rcu_read_lock() held (keeps @s valid); takes the central lock.
 * Return: 0, or -EINVAL if the object is not allocated (double free) or
 * @s is no longer live.
 */
int shp_central_free(struct spanheap *heap, struct shp_span *s,
		     unsigned int idx)
{
	struct shp_central *ct = span_central(s);
	unsigned long *alloc = shp_alloc_bits(s);
	int ret = 0;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "free without rcu_read_lock()");
	spin_lock(&ct->lock);
	if (s->state == SHP_SPAN_CENTRAL && s->sweepgen != heap->sweepgen)
		shp_sweep_span(heap, s);	/* may release it: state is DEAD then */
	switch (READ_ONCE(s->state)) {
	case SHP_SPAN_CACHED:
		if (test_and_set_bit(idx, shp_remote_bits(s))) {
			ret = -EINVAL;
			break;
		}
		/* Pairs with the alloc-then-remote order in fold_remote. */
		if (!test_bit(idx, alloc)) {
			clear_bit(idx, shp_remote_bits(s));
			ret = -EINVAL;
			break;
		}
		atomic_inc(&s->nremote);
		/* Now, as a local free does: the owner may reuse the slot at fold. */
		shp_special_drop(s, idx);
		break;
	case SHP_SPAN_CENTRAL:
		if (!test_bit(idx, alloc)) {
			ret = -EINVAL;
			break;
		}
		shp_special_drop(s, idx);
		clear_bit(idx, alloc);
		if (s->nalloc-- == s->nelems)
			central_file(ct, s);
		if (!s->nalloc)
			central_empty(ct, s, false);
		break;
	default:
		ret = -EINVAL;
	}
	spin_unlock(&ct->lock);
	return ret;
}

/**
 * spanheap_drain() - hand every cached span back to the central lists
 * @heap: heap
 *
 * Afterwards every span is central, remote frees are folded, empty spans
 * beyond the keep limit are released and counters are exact.
 *
 * Context: process context; no allocation or free on @heap may run
 * concurrently (the caches of other CPUs are touched).
 */
void spanheap_drain(struct spanheap *heap)
{
	unsigned int spc;
	int cpu;

	for_each_possible_cpu(cpu) {
		struct shp_cpu_cache *c = per_cpu_ptr(heap->cpu, cpu);

		for (spc = 0; spc < SHP_NR_SPAN_CLASSES; spc++) {
			struct shp_span *s = c->alloc[spc];

			if (s == &shp_empty_span)
				continue;
			WRITE_ONCE(c->alloc[spc], &shp_empty_span);
			spin_lock(&heap->central[spc].lock);
			shp_central_uncache(heap, s);
			spin_unlock(&heap->central[spc].lock);
		}
		c->last = &shp_empty_span;
		/* Nothing roots the tiny block: the cycle may free it. */
		c->tiny = 0;
		c->tiny_off = 0;
	}
}
EXPORT_SYMBOL_GPL(spanheap_drain);
