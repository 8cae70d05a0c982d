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
 * drain) or on a dying heap takes them in turn.  The stopped world's
 * walkers (shp_visit_spans()) take none, so the one change made from
 * outside any section, shp_central_release_empty() for spanheap_charge(),
 * waits out heap->world_stopped.  Central lists and sweep.c call each other: a class with
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

/* Unlink @s, an empty central span, and give it back.  Context: ct->lock. */
static void central_release(struct shp_central *ct, struct shp_span *s)
{
	lockdep_assert_held(&ct->lock);
	list_del_init(&s->list);
	ct->nspans--;
	shp_special_free_all(s);
	shp_span_release(s);
}

/*
 * An empty central span is kept for reuse up to SHP_KEEP_EMPTY_SPANS per
 * class, or, after a sweep, while the heap is within the pacer's goal
 * (like Go's page heap: keep what the heap will reuse before the next
 * cycle); otherwise it is returned to the page allocator.  At the limit,
 * shp_central_release_empty() gives back what the pacer kept.
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
	central_release(ct, s);
}

/**
 * shp_central_release_empty() - give back the empty spans kept for reuse
 * @heap: heap that cannot grow
 *
 * Each class keeps SHP_KEEP_EMPTY_SPANS; the empty spans kept beyond
 * that for the pacer go back to the page allocator, so that other
 * classes, large objects and metadata may use the room.
 *
 * A caller outside any section may run while the world is stopped, and
 * then gives back nothing: the stopped world's walkers (shp_visit_spans())
 * read the lists without their locks.  Inside a section the world never
 * is.
 *
 * Context: process context, no spinlock held; may sleep.
 */
void shp_central_release_empty(struct spanheap *heap)
{
	unsigned int spc, n = 0;
	struct shp_span *s, *tmp;

	for_each_small_spc(spc) {
		struct shp_central *ct = &heap->central[spc];
again:
		spin_lock(&ct->lock);
		list_for_each_entry_safe(s, tmp, &ct->partial, list) {
			/* Acquire: the last walk's reads came before us. */
			if (smp_load_acquire(&heap->world_stopped) ||
			    ct->nempty <= SHP_KEEP_EMPTY_SPANS)
				break;
			if (s->nalloc)
				continue;
			ct->nempty--;
			central_release(ct, s);
			if (!(++n % 64)) {
				/* A goal's worth may be kept: let others in. */
				spin_unlock(&ct->lock);
				cond_resched();
				goto again;
			}
		}
		spin_unlock(&ct->lock);
	}
}

/**
 * shp_central_world_stopped() - tell the central lists the world stops or restarts
 * @heap: heap
 * @stopped: true once the last section has ended, false before the
 *	world restarts
 *
 * Once stopping returns, no shp_central_release_empty() by a task outside
 * any section is still changing a list, nor will one until the restart.
 *
 * Context: heap->gc_lock and heap->sections (for writing) held.
 */
void shp_central_world_stopped(struct spanheap *heap, bool stopped)
{
	unsigned int spc;

	lockdep_assert_held(&heap->gc_lock);
	if (!stopped) {
		/* Release: the walks' reads before any later give-back. */
		smp_store_release(&heap->world_stopped, false);
		return;
	}
	WRITE_ONCE(heap->world_stopped, true);
	/* A give-back that took a list's lock first has let it go. */
	for_each_small_spc(spc) {
		spin_lock(&heap->central[spc].lock);
		spin_unlock(&heap->central[spc].lock);
	}
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

/*
 * Make freed large span @s an allocated object of span class @spc.
 * Lookups that found it before its object was freed may read it still,
 * without a lock: marked stores, the alloc bit last.
 */
static void large_revive(struct shp_span *s, unsigned int spc)
{
	unsigned int i;

	/* Only a record added while its object was being freed (a caller's race). */
	shp_special_free_all(s);
	for (i = 0; i < SHP_SPAN_BITMAPS; i++)
		WRITE_ONCE(s->bits[i], 0);
	WRITE_ONCE(s->spc, spc);
	WRITE_ONCE(shp_alloc_bits(s)[0], 1UL);
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
		large_revive(s, spc);
		s->nalloc = 1;
		/* Pairs with shp_ensure_swept()'s acquire. */
		smp_store_release(&s->sweepgen, heap->sweepgen);
		large_link(heap, s);
	}
	spin_unlock(&heap->lock);
	return s;
}

/*
 * Large slots.  A CPU that frees a large object of at most
 * heap->large_slot_pages pages holds its span in its cache's @large:
 * still SHP_SPAN_LARGE on heap->large, swept, nalloc 1, but its alloc
 * bit clear, so that lookups, the API and a second free see the object
 * freed.  The CPU's next allocation of that length takes it back with no
 * lock, so a loop freeing and allocating one size pays one lock round
 * trip a pair: the free's, which also claims the object against a
 * racing second free and sweeps it first if need be.
 *
 * Only the owner touches its slot, with preemption disabled, inside a
 * section; anyone else only with the world stopped.  Slots are given
 * back (shp_large_release(), so to the kept spans) by every cycle and
 * spanheap_drain(), by their owner's allocation of another length, and
 * by the slot work when one was idle for a whole scavenger delay.  A
 * span in a slot counts as in use.  No slot is filled while the heap
 * has a limit: memory one CPU holds must never make another's
 * allocation or charge fail.
 */

/* Queue the slot work unless it is.  Context: heap->lock held. */
static void slot_arm(struct spanheap *heap)
{
	lockdep_assert_held(&heap->lock);
	if (heap->slot_armed)
		return;
	heap->slot_armed = true;
	spin_lock(&heap->fin_lock);
	if (!heap->dying)
		queue_delayed_work(shp_wq, &heap->slot_work, heap->pages.delay + 1);
	spin_unlock(&heap->fin_lock);
}

/**
 * shp_large_slot_put() - free a large object into this CPU's slot
 * @heap: heap
 * @c: this CPU's cache
 * @s: span on heap->large, swept, its object allocated
 *
 * Frees the object's records and clears its alloc bit; a span the slot
 * held already is released in its place.
 *
 * Context: heap->lock held, preemption disabled.
 * Return: false, with nothing done, if @s is too long for a slot or the
 * heap has a limit: the caller releases it.
 */
bool shp_large_slot_put(struct spanheap *heap, struct shp_cpu_cache *c,
			struct shp_span *s)
{
	struct shp_span *old = c->large;

	lockdep_assert_held(&heap->lock);
	if (s->bytes > (unsigned long)heap->large_slot_pages << PAGE_SHIFT ||
	    READ_ONCE(heap->limit))
		return false;
	shp_special_free_all(s);
	WRITE_ONCE(shp_alloc_bits(s)[0], 0);
	/* Marked: the slot work peeks at both. */
	WRITE_ONCE(c->large, s);
	WRITE_ONCE(c->large_puts, c->large_puts + 1);
	if (old)
		shp_large_release(heap, old);
	slot_arm(heap);
	return true;
}

/**
 * shp_large_slot_take() - allocate from this CPU's slot
 * @heap: heap
 * @bytes: span length (a page multiple)
 * @spc: span class 0, NOSCAN or not
 *
 * A slotted span of another length is released instead, so that the
 * heap never grows while its own CPU holds an idle span.
 *
 * Context: inside a section; takes heap->lock only to release.
 * Return: the span, its object allocated but not zeroed, or NULL.
 */
struct shp_span *shp_large_slot_take(struct spanheap *heap,
				     unsigned long bytes, unsigned int spc)
{
	struct shp_cpu_cache *c = get_cpu_ptr(heap->cpu);
	struct shp_span *s = c->large;

	if (s) {
		WRITE_ONCE(c->large, NULL);
		if (s->bytes == bytes) {
			large_revive(s, spc);
		} else {
			spin_lock(&heap->lock);
			shp_large_release(heap, s);
			spin_unlock(&heap->lock);
			s = NULL;
		}
	}
	put_cpu_ptr(heap->cpu);
	return s;
}

/* Release every CPU's slotted span.  Context: no allocation or free running. */
static void slots_release_all(struct spanheap *heap)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct shp_cpu_cache *c = per_cpu_ptr(heap->cpu, cpu);
		struct shp_span *s = c->large;

		if (!s)
			continue;
		WRITE_ONCE(c->large, NULL);
		spin_lock(&heap->lock);
		shp_large_release(heap, s);
		spin_unlock(&heap->lock);
	}
}

/**
 * shp_slot_workfn() - give back the large slots idle since the last run
 * @work: heap->slot_work
 *
 * A slot is idle if nothing was put in it since the last run, a
 * scavenger delay ago.  Giving one back stops the world for a moment;
 * a cycle in progress does it anyway.  The work comes back while any
 * slot holds a span, so a burst's last freed span is not held forever.
 *
 * Context: the heap's work, process context; takes heap->gc_lock and
 * heap->sections.
 */
void shp_slot_workfn(struct work_struct *work)
{
	struct spanheap *heap = container_of(to_delayed_work(work),
					     struct spanheap, slot_work);
	bool idle = false, held = false;
	int cpu;

	spin_lock(&heap->lock);
	heap->slot_armed = false;	/* a put from now on re-arms */
	spin_unlock(&heap->lock);
	for_each_possible_cpu(cpu) {
		struct shp_cpu_cache *c = per_cpu_ptr(heap->cpu, cpu);
		unsigned long puts = READ_ONCE(c->large_puts);

		/* With a limit set, every slot goes (shp_large_slots_revoke()). */
		if (READ_ONCE(c->large) &&
		    (puts == c->large_seen || READ_ONCE(heap->limit)))
			idle = true;
		c->large_seen = puts;
	}
	if (idle && mutex_trylock(&heap->gc_lock)) {
		percpu_down_write(&heap->sections);
		slots_release_all(heap);
		percpu_up_write(&heap->sections);
		mutex_unlock(&heap->gc_lock);
	}
	for_each_possible_cpu(cpu)
		held |= !!READ_ONCE(per_cpu_ptr(heap->cpu, cpu)->large);
	spin_lock(&heap->lock);
	if (held)
		slot_arm(heap);
	spin_unlock(&heap->lock);
}

/**
 * shp_large_slots_revoke() - have every large slot given back at once
 * @heap: heap that has just got a limit
 *
 * Queues the slot work without delay; with a limit set it gives back
 * every slot, idle or not.  No slot is filled from here on.
 *
 * Context: process context, does not sleep; takes heap->lock.
 */
void shp_large_slots_revoke(struct spanheap *heap)
{
	spin_lock(&heap->lock);
	heap->slot_armed = true;
	spin_lock(&heap->fin_lock);
	if (!heap->dying)
		mod_delayed_work(shp_wq, &heap->slot_work, 0);
	spin_unlock(&heap->fin_lock);
	spin_unlock(&heap->lock);
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
	/* Read by others under the lock (or with the heap quiescent). */
	WRITE_ONCE(c->alloc[s->spc], s);
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
 * beyond the keep limit are released, the large slots are empty and
 * counters are exact.
 *
 * Context: process context; no allocation or free on @heap may run
 * concurrently (the caches of other CPUs are touched), nor a cycle,
 * which drains too, nor spanheap_finalizer_cycles() or spanheap_why(),
 * which stop the world as a cycle does: inside a section none can
 * start; outside, pacing or a failure at the limit may have queued one.
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
			/* Under the lock: see count_class() in stats.c. */
			spin_lock(&heap->central[spc].lock);
			WRITE_ONCE(c->alloc[spc], &shp_empty_span);
			shp_central_uncache(heap, s);
			spin_unlock(&heap->central[spc].lock);
		}
		c->last = &shp_empty_span;
		/* Nothing roots the tiny block: the cycle may free it. */
		c->tiny = 0;
		c->tiny_off = 0;
	}
	slots_release_all(heap);
}
EXPORT_SYMBOL_GPL(spanheap_drain);
