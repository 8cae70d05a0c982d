// SPDX-License-Identifier: GPL-2.0
/*
 * Central lists: spans of one span class that no CPU cache owns
 * (Go's mcentral).  A cache that runs dry hands its span back here and
 * takes a partial one; frees from CPUs that do not own the span land
 * here too.  Everything in this file runs under central[spc].lock.
 */
#include <linux/list.h>
#include <linux/spinlock.h>
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
 * class, otherwise returned to the page allocator.
 */
static void central_empty(struct shp_central *ct, struct shp_span *s)
{
	lockdep_assert_held(&ct->lock);
	if (ct->nempty < SHP_KEEP_EMPTY_SPANS) {
		ct->nempty++;
		return;
	}
	list_del_init(&s->list);
	ct->nspans--;
	shp_special_free_all(s);
	shp_span_release(s);
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
		central_empty(ct, s);
}

/**
 * shp_drop_specials() - free the records of an object being freed
 * @s: span
 * @idx: object index
 *
 * An explicitly freed object's finalizer never runs.
 *
 * Context: the caller owns the object's slot (owner or central lock).
 */
void shp_drop_specials(struct shp_span *s, unsigned int idx)
{
	if (!READ_ONCE(s->specials))
		return;
	spin_lock(&s->speciallock);
	shp_special_free_object(s, idx);
	spin_unlock(&s->speciallock);
}

/* Make @s the cache's span for its class and load its first free word. */
static void central_cache(struct shp_cpu_cache *c, struct shp_span *s)
{
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
		shp_drop_specials(s, idx);
		break;
	case SHP_SPAN_CENTRAL:
		if (!test_bit(idx, alloc)) {
			ret = -EINVAL;
			break;
		}
		shp_drop_specials(s, idx);
		clear_bit(idx, alloc);
		if (s->nalloc-- == s->nelems)
			central_file(ct, s);
		if (!s->nalloc)
			central_empty(ct, s);
		break;
	default:
		ret = -EINVAL;
	}
	spin_unlock(&ct->lock);
	return ret;
}
