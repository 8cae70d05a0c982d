// SPDX-License-Identifier: GPL-2.0
/*
 * Page runs of a heap: reuse, split, coalesce, scavenge (Go's mheap page
 * allocator and its scavenger, at arena granularity).
 *
 * A large span is a run of pages cut from an arena: SHP_ARENA_BYTES of
 * zeroed vmalloc memory reserved at once (a bigger object gets an arena
 * of its own size; so does any object when the heap's limit leaves no
 * room for a whole arena).  A freed run is kept on a free list by
 * length and merged with the free runs on either side of it in the same
 * arena; an allocation takes the shortest list with a long enough run
 * and splits off the rest.  Runs of different arenas never merge: their
 * addresses need not be adjacent.
 *
 * Zeroing.  Arena memory comes zeroed, so a run never used since is
 * handed out as is; a freed run is dirty (needzero) and the span that
 * takes it zeroes it, as Go's needzero does.
 *
 * Scavenging.  An arena all of whose pages are free is idle; once it has
 * been idle for longer than the heap's delay (module parameter
 * scavenge_delay_ms), the scavenger (a delayed work item armed when an
 * arena becomes idle) frees it and heap->reserved falls.  Pages of a
 * partly used arena stay reserved: vmalloc memory cannot give back single
 * pages cheaply, so the unit of return is the arena, where Go madvises
 * 64 KiB chunks away.  When a new arena would pass the heap's limit,
 * idle arenas are freed at once, whatever their age.
 *
 * Kept spans.  A freed large span is first kept whole, its run, struct
 * and pagemap entries untouched, for the next allocation of the same
 * length: an object freed and made again, the common case for buffers,
 * then costs no pagemap writes, no struct and no grace period.  Kept
 * spans are in state SHP_SPAN_DEAD, so no lookup resolves into them.  At
 * most max_kept (module parameter kept_large_spans) are kept, on lists
 * by length as the free runs; they become free runs again when the heap
 * would otherwise grow (all of them), and when the scavenger, which
 * keeping arms, finds them kept for longer than the delay (before it
 * looks for idle arenas; a pass stamps the spans kept since the last
 * one, so that keeping reads no clock).  For the pacer they are idle
 * memory.
 *
 * heap->reserved counts small spans and arenas (free runs included): it
 * is what the heap holds from the kernel.  The page heap is protected
 * by heap->lock, which frees of large spans already hold.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/module.h>
#include <linux/workqueue.h>
#include <linux/jiffies.h>
#include "internal.h"

unsigned int shp_scavenge_delay_ms = 1000;
module_param_named(scavenge_delay_ms, shp_scavenge_delay_ms, uint, 0644);
MODULE_PARM_DESC(scavenge_delay_ms,
		 "Idle time after which a heap's free arena is given back (ms; read when a heap is created)");

unsigned int shp_kept_large_spans = 256;
module_param_named(kept_large_spans, shp_kept_large_spans, uint, 0644);
MODULE_PARM_DESC(kept_large_spans,
		 "Freed large spans a heap keeps whole for reuse (read when a heap is created)");

static void kept_release_all(struct spanheap *heap);

static unsigned int run_list(unsigned long npages)
{
	return min_t(unsigned long, npages, SHP_RUN_LISTS) - 1;
}

/* Put free run @r on its list and mark its edges.  Context: heap->lock. */
static void run_link(struct shp_pageheap *ph, struct shp_run *r)
{
	unsigned int i = run_list(r->npages);
	unsigned long bytes = (unsigned long)r->npages << PAGE_SHIFT;

	r->free = true;
	list_add(&r->list, &ph->free[i]);
	ph->nonempty |= BIT_ULL(i);
	r->arena->edge[r->first] = r;
	r->arena->edge[r->first + r->npages - 1] = r;
	/* Read without the lock by shp_heap_in_use(). */
	WRITE_ONCE(ph->idle_bytes, ph->idle_bytes + bytes);
}

/* Take free run @r off its list and clear its edges.  Context: heap->lock. */
static void run_unlink(struct shp_pageheap *ph, struct shp_run *r)
{
	unsigned int i = run_list(r->npages);
	unsigned long bytes = (unsigned long)r->npages << PAGE_SHIFT;

	list_del(&r->list);
	if (list_empty(&ph->free[i]))
		ph->nonempty &= ~BIT_ULL(i);
	r->arena->edge[r->first] = NULL;
	r->arena->edge[r->first + r->npages - 1] = NULL;
	r->free = false;
	WRITE_ONCE(ph->idle_bytes, ph->idle_bytes - bytes);
}

/* Bytes of arena @a if it is wholly free, else 0.  Context: heap->lock. */
static unsigned long arena_idle_bytes(struct shp_arena *a)
{
	return a->nfree == a->npages ? (unsigned long)a->npages << PAGE_SHIFT : 0;
}

/*
 * A free run of at least @npages pages, or NULL: the shortest that fits
 * (runs longer than the lists' are looked through), but never part of
 * an idle arena bigger than SHP_ARENA_BYTES (made for one big object):
 * a smaller object would keep all of it from the scavenger.
 * Context: heap->lock.
 */
static struct shp_run *run_find(struct shp_pageheap *ph, unsigned long npages)
{
	unsigned int i = run_list(npages);
	u64 lists = ph->nonempty & GENMASK_ULL(SHP_RUN_LISTS - 1, i);
	struct shp_run *r, *best = NULL;

	if (!lists)
		return NULL;
	i = __ffs64(lists);
	if (i < SHP_RUN_LISTS - 1)
		return list_first_entry(&ph->free[i], struct shp_run, list);
	list_for_each_entry(r, &ph->free[i], list) {
		if (r->npages < npages || (best && best->npages <= r->npages) ||
		    (r->npages > npages && arena_idle_bytes(r->arena) > SHP_ARENA_BYTES))
			continue;
		best = r;
	}
	return best;
}

/*
 * Take @npages pages from the free runs: the first pages of the run
 * found, the rest staying free in *@spare (which is then used up).
 * Returns NULL if no run is long enough, or if it is longer and there is
 * no spare.  Context: heap->lock.
 */
static struct shp_run *run_take(struct spanheap *heap, unsigned long npages,
				struct shp_run **spare)
{
	struct shp_pageheap *ph = &heap->pages;
	struct shp_run *r = run_find(ph, npages), *rest;

	lockdep_assert_held(&heap->lock);
	if (!r || (r->npages > npages && !*spare))
		return NULL;
	run_unlink(ph, r);
	if (r->npages > npages) {
		rest = *spare;
		*spare = NULL;
		rest->arena = r->arena;
		rest->first = r->first + npages;
		rest->npages = r->npages - npages;
		rest->needzero = r->needzero;
		r->npages = npages;
		run_link(ph, rest);
	}
	WRITE_ONCE(ph->idle_arena_bytes, ph->idle_arena_bytes -
		   arena_idle_bytes(r->arena));
	r->arena->nfree -= npages;
	return r;
}

/* Make an arena for at least @npages pages, reserved and zeroed. */
static struct shp_arena *arena_new(struct spanheap *heap, unsigned long npages)
{
	unsigned long bytes = max(npages << PAGE_SHIFT, SHP_ARENA_BYTES);
	size_t limit = READ_ONCE(heap->limit);
	struct shp_arena *a;
	void *base;

	/* Near the limit, an arena of the run's own size. */
	if (limit && atomic_long_read(&heap->reserved) +
	    atomic_long_read(&heap->meta) + bytes > limit)
		bytes = npages << PAGE_SHIFT;
	if (!shp_reserve(heap, bytes)) {
		/* Idle arenas count against the limit too: give them back. */
		shp_scavenge(heap, jiffies, true);
		if (!shp_reserve(heap, bytes))
			return NULL;
	}
	a = kvzalloc(struct_size(a, edge, bytes >> PAGE_SHIFT), SHP_GFP);
	base = a ? __vmalloc(bytes, SHP_GFP | __GFP_ZERO) : NULL;
	if (!base) {
		kvfree(a);
		atomic_long_sub(bytes, &heap->reserved);
		return NULL;
	}
	a->base = (unsigned long)base;
	a->npages = bytes >> PAGE_SHIFT;
	a->nfree = a->npages;
	return a;
}

static void arena_release(struct shp_arena *a)
{
	vfree((void *)a->base);
	kvfree(a);
}

static void arena_free(struct spanheap *heap, struct shp_arena *a)
{
	atomic_long_sub((long)a->npages << PAGE_SHIFT, &heap->reserved);
	arena_release(a);
}

/**
 * shp_run_alloc() - take a run of pages for a large span
 * @heap: heap
 * @npages: length in pages
 *
 * A free run is reused (split if longer) before a new arena is made; a
 * new arena is counted in heap->reserved and may not pass the limit.
 * The run's pages are zero unless r->needzero is set.
 *
 * Context: process context, may sleep; no spinlock held.
 * Return: the run, or NULL when out of memory or over the limit.
 */
struct shp_run *shp_run_alloc(struct spanheap *heap, unsigned long npages)
{
	struct shp_pageheap *ph = &heap->pages;
	struct shp_run *r, *spare;
	struct shp_arena *a;

	spin_lock(&heap->lock);
	spare = ph->spare;
	ph->spare = NULL;
	spin_unlock(&heap->lock);
	if (!spare) {
		spare = kmalloc(sizeof(*spare), SHP_GFP);
		if (!spare)
			return NULL;
	}
	spin_lock(&heap->lock);
	r = run_take(heap, npages, &spare);
	if (!r && ph->nkept) {
		/* Kept spans of other lengths are cut up before the heap grows. */
		kept_release_all(heap);
		r = run_take(heap, npages, &spare);
	}
	spin_unlock(&heap->lock);
	if (r)
		goto out;

	/* Grow: our run is the arena's first pages, the rest a free run. */
	a = arena_new(heap, npages);
	if (!a)
		goto out;
	r = spare;
	spare = NULL;
	if (a->npages > npages) {
		spare = kmalloc(sizeof(*spare), SHP_GFP);
		if (!spare) {
			spare = r;
			r = NULL;
			arena_free(heap, a);
			goto out;
		}
	}
	r->arena = a;
	r->first = 0;
	r->npages = npages;
	r->free = false;
	r->needzero = false;
	spin_lock(&heap->lock);
	list_add(&a->list, &ph->arenas);
	ph->narenas++;
	a->nfree = a->npages - npages;
	if (a->nfree) {
		spare->arena = a;
		spare->first = npages;
		spare->npages = a->nfree;
		spare->needzero = false;
		run_link(ph, spare);
		spare = NULL;
	}
	spin_unlock(&heap->lock);
out:
	if (spare) {
		spin_lock(&heap->lock);
		if (!ph->spare) {
			ph->spare = spare;
			spare = NULL;
		}
		spin_unlock(&heap->lock);
		kfree(spare);
	}
	return r;
}

/* Arm the scavenger, unless armed already or the heap is dying. */
static void scavenge_arm(struct spanheap *heap, unsigned long delay)
{
	struct shp_pageheap *ph = &heap->pages;

	lockdep_assert_held(&heap->lock);
	if (ph->armed)
		return;
	ph->armed = true;
	spin_lock(&heap->fin_lock);
	if (!heap->dying)
		queue_delayed_work(shp_wq, &ph->scavenge_work, delay + 1);
	spin_unlock(&heap->fin_lock);
}

/**
 * shp_run_free() - give a large span's run back to the page heap
 * @heap: heap
 * @r: run from shp_run_alloc(), no longer in any span
 *
 * The run is merged with the free runs beside it and becomes dirty.  If
 * its arena is now idle, the scavenger is armed.
 *
 * Context: heap->lock held; does not sleep.
 */
void shp_run_free(struct spanheap *heap, struct shp_run *r)
{
	struct shp_pageheap *ph = &heap->pages;
	struct shp_arena *a = r->arena;
	struct shp_run *n;

	lockdep_assert_held(&heap->lock);
	a->nfree += r->npages;
	r->needzero = true;
	/* The free run ending just before us, and the one starting after. */
	n = r->first ? a->edge[r->first - 1] : NULL;
	if (n && n->first + n->npages == r->first) {
		run_unlink(ph, n);
		r->first = n->first;
		r->npages += n->npages;
		kfree(n);
	}
	n = r->first + r->npages < a->npages ? a->edge[r->first + r->npages] : NULL;
	if (n && n->first == r->first + r->npages) {
		run_unlink(ph, n);
		r->npages += n->npages;
		kfree(n);
	}
	run_link(ph, r);
	if (a->nfree == a->npages) {
		WRITE_ONCE(ph->idle_arena_bytes, ph->idle_arena_bytes +
			   arena_idle_bytes(a));
		a->idle_since = jiffies;
		scavenge_arm(heap, ph->delay);
	}
}

static void kept_free_rcu(struct rcu_head *rcu)
{
	struct shp_span *s = container_of(rcu, struct shp_span, rcu);

	kfree(s->specials);
	kfree(s);
}

/*
 * Release kept span @s, as shp_span_release() would have when it was
 * freed: lookups that found it see it dead until the grace period ends.
 * Context: heap->lock held.
 */
static void kept_release(struct spanheap *heap, struct shp_span *s)
{
	struct shp_pageheap *ph = &heap->pages;

	/* A record added while its object was being freed. */
	WARN_ON_ONCE(s->specials && s->nspecials);
	list_del_init(&s->list);
	ph->nkept--;
	WRITE_ONCE(ph->kept_bytes, ph->kept_bytes - s->bytes);
	shp_pagemap_remove(s);
	shp_run_free(heap, s->run);
	s->run = NULL;
	call_rcu(&s->rcu, kept_free_rcu);
}

/*
 * Release the kept spans that an earlier pass found kept at least the
 * heap's delay before @now (all of them if @force); stamp with @now those
 * no pass has seen yet.  Keeping reads no clock (in the userspace build
 * a clock read costs as much as the whole reuse), so a span is released
 * one to two delays after it was kept.
 * Context: heap->lock held.
 */
static void kept_release_idle(struct spanheap *heap, unsigned long now,
			      bool force)
{
	struct shp_pageheap *ph = &heap->pages;
	struct shp_span *s, *tmp;
	unsigned int i;

	lockdep_assert_held(&heap->lock);
	for (i = 0; i < SHP_RUN_LISTS && ph->nkept; i++) {
		list_for_each_entry_safe(s, tmp, &ph->kept[i], list) {
			if (force || (s->kept_seen &&
				      !time_before(now, s->kept_since + ph->delay))) {
				kept_release(heap, s);
			} else if (!s->kept_seen) {
				s->kept_since = now;
				s->kept_seen = true;
			}
		}
	}
}

/* Release every kept span.  Context: heap->lock held. */
static void kept_release_all(struct spanheap *heap)
{
	kept_release_idle(heap, 0, true);
}

/**
 * shp_span_keep() - keep a freed large span whole for reuse
 * @heap: heap
 * @s: large span, off heap->large, its records freed
 *
 * @s becomes SHP_SPAN_DEAD at once, as if released, and the scavenger is
 * armed to release it if it is not reused meanwhile.
 *
 * Context: heap->lock held.
 * Return: true if kept; false if the heap keeps enough already, and the
 * caller releases @s.
 */
bool shp_span_keep(struct spanheap *heap, struct shp_span *s)
{
	struct shp_pageheap *ph = &heap->pages;

	lockdep_assert_held(&heap->lock);
	if (ph->nkept >= ph->max_kept || s->specials)
		return false;
	WRITE_ONCE(s->state, SHP_SPAN_DEAD);
	/*
	 * The mark trusts alloc_bits, not the state: a stale pointer to it.
	 * One object, one word; a marked store, not a locked one: lookups
	 * read it without a lock, and a CPU taking back its large slot's
	 * span sets it without one (never this span's: kept, it is in no slot).
	 */
	WRITE_ONCE(shp_alloc_bits(s)[0], 0);
	s->nalloc = 0;
	list_add(&s->list, &ph->kept[run_list(s->bytes >> PAGE_SHIFT)]);
	s->kept_seen = false;
	ph->nkept++;
	WRITE_ONCE(ph->kept_bytes, ph->kept_bytes + s->bytes);
	scavenge_arm(heap, ph->delay);
	return true;
}

/**
 * shp_span_take_kept() - take back a kept span of a given length
 * @heap: heap
 * @bytes: span length (a page multiple)
 *
 * The most recently kept span of that length is taken, still
 * SHP_SPAN_DEAD and in the pagemap; the caller makes it an object again.
 * Its pages hold the old object's bytes.
 *
 * Context: heap->lock held.
 * Return: the span, or NULL if none of that length is kept.
 */
struct shp_span *shp_span_take_kept(struct spanheap *heap, unsigned long bytes)
{
	struct shp_pageheap *ph = &heap->pages;
	struct shp_span *s;

	lockdep_assert_held(&heap->lock);
	/* Below SHP_RUN_LISTS pages, every span of a list has the length. */
	list_for_each_entry(s, &ph->kept[run_list(bytes >> PAGE_SHIFT)], list) {
		if (s->bytes != bytes)
			continue;
		list_del_init(&s->list);
		ph->nkept--;
		ph->nreused++;
		WRITE_ONCE(ph->kept_bytes, ph->kept_bytes - bytes);
		return s;
	}
	return NULL;
}

/**
 * shp_scavenge() - give back what has been idle long enough
 * @heap: heap
 * @now: the time in jiffies (tests pass a made-up clock)
 * @force: release every kept span and free every idle arena, whatever
 *	their age
 *
 * Kept spans go first, back to the free runs; arenas they leave idle
 * are idle from now on.
 *
 * Context: process context, may sleep; no spinlock held.
 * Return: bytes given back.
 */
unsigned long shp_scavenge(struct spanheap *heap, unsigned long now,
			   bool force)
{
	struct shp_pageheap *ph = &heap->pages;
	struct shp_arena *a, *tmp;
	unsigned long bytes = 0;
	LIST_HEAD(gone);

	spin_lock(&heap->lock);
	kept_release_idle(heap, now, force);
	list_for_each_entry_safe(a, tmp, &ph->arenas, list) {
		struct shp_run *r = a->edge[0];

		if (a->nfree != a->npages ||
		    (!force && time_before(now, a->idle_since + ph->delay)))
			continue;
		/* Idle: one free run covers it. */
		run_unlink(ph, r);
		kfree(r);
		list_move(&a->list, &gone);
		ph->narenas--;
		bytes += (unsigned long)a->npages << PAGE_SHIFT;
	}
	/* Under the lock: the arenas and reserved agree for shp_heap_check(). */
	atomic_long_sub(bytes, &heap->reserved);
	WRITE_ONCE(ph->idle_arena_bytes, ph->idle_arena_bytes - bytes);
	ph->scavenged += bytes;
	spin_unlock(&heap->lock);
	list_for_each_entry_safe(a, tmp, &gone, list)
		arena_release(a);
	return bytes;
}

/*
 * The background scavenger: releases what has been idle long enough and
 * comes back for the kept spans and idle arenas not yet idle for so long.
 */
void shp_scavenge_workfn(struct work_struct *work)
{
	struct spanheap *heap = container_of(to_delayed_work(work),
					     struct spanheap,
					     pages.scavenge_work);
	struct shp_pageheap *ph = &heap->pages;
	unsigned long now = jiffies, next = 0, due;
	struct shp_arena *a;
	unsigned int i;

	spin_lock(&heap->lock);
	ph->armed = false;	/* a run freed or a span kept from now on re-arms */
	spin_unlock(&heap->lock);
	shp_scavenge(heap, now, false);
	spin_lock(&heap->lock);
	list_for_each_entry(a, &ph->arenas, list) {
		due = a->idle_since + ph->delay;
		if (a->nfree == a->npages && (!next || time_before(due, next)))
			next = due;
	}
	/* Every kept span has been seen by the pass above. */
	for (i = 0; i < SHP_RUN_LISTS && ph->nkept; i++) {
		if (list_empty(&ph->kept[i]))
			continue;
		due = list_last_entry(&ph->kept[i], struct shp_span, list)->kept_since +
		      ph->delay;
		if (!next || time_before(due, next))
			next = due;
	}
	if (next)
		scavenge_arm(heap, time_after(next, now) ? next - now : 0);
	spin_unlock(&heap->lock);
}

/**
 * shp_pageheap_init() - set up a new heap's page heap
 * @heap: heap being created
 *
 * Context: process context.
 */
void shp_pageheap_init(struct spanheap *heap)
{
	struct shp_pageheap *ph = &heap->pages;
	unsigned int i;

	INIT_LIST_HEAD(&ph->arenas);
	ph->max_kept = READ_ONCE(shp_kept_large_spans);
	for (i = 0; i < SHP_RUN_LISTS; i++) {
		INIT_LIST_HEAD(&ph->free[i]);
		INIT_LIST_HEAD(&ph->kept[i]);
	}
	ph->delay = msecs_to_jiffies(READ_ONCE(shp_scavenge_delay_ms));
	INIT_DELAYED_WORK(&ph->scavenge_work, shp_scavenge_workfn);
}

/**
 * shp_pageheap_destroy() - free every arena of a dying heap
 * @heap: heap being destroyed: no span left, dying set
 *
 * Context: process context, may sleep.
 */
void shp_pageheap_destroy(struct spanheap *heap)
{
	struct shp_pageheap *ph = &heap->pages;

	cancel_delayed_work_sync(&ph->scavenge_work);
	shp_scavenge(heap, jiffies, true);
	WARN_ON(ph->narenas || ph->idle_bytes || ph->nkept);
	kfree(ph->spare);
	ph->spare = NULL;
}
