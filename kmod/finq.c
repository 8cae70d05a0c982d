// SPDX-License-Identifier: GPL-2.0
/*
 * The queues of finalizers and cleanups found due (Go's finq/finc and
 * the cleanup queue of mcleanup.go).
 *
 * Sweeping appends an entry to heap->finq or heap->cleanq, each a list
 * of fixed-size blocks; empty blocks are kept for reuse.  A queue only
 * grows during sweep and only shrinks in its workers (finalizer.c,
 * cleanup.c).  Queued objects and contexts are roots (shp_mark_finq()),
 * so a finalizer's object stays allocated at least until the finalizer
 * has run and a later cycle finds it unreachable again; a cleanup's
 * argument stays a root until the cleanup has returned, the cleanup
 * running outside any section.
 *
 * heap->fin_lock protects both queues, their counters and the workers'
 * running entries.
 */
#include <linux/slab.h>
#include <linux/workqueue.h>
#include "internal.h"

/* Append @e to @q; false if no block could be had. */
static bool runq_push(struct spanheap *heap, struct shp_runq *q,
		      const struct shp_queue_entry *e)
{
	struct shp_finblock *b;

	lockdep_assert_held(&heap->fin_lock);
	b = q->q;
	if (!b || b->cnt == SHP_FINBLOCK_ENTRIES) {
		b = q->c;
		if (b) {
			q->c = b->next;
		} else {
			/*
			 * Charged past the limit, as the mark stack is: a heap
			 * at its limit must still queue what it found dead, or
			 * its garbage would wait for a cycle that finds room.
			 * Each entry stands for a charged record.
			 */
			shp_meta_charge(heap, sizeof(*b), true);
			b = kmalloc(sizeof(*b), GFP_ATOMIC | __GFP_ACCOUNT | __GFP_NOWARN);
			if (!b) {
				shp_meta_uncharge(heap, sizeof(*b));
				return false;
			}
		}
		b->cnt = 0;
		b->next = q->q;
		q->q = b;
	}
	b->fin[b->cnt++] = *e;
	q->queued++;
	return true;
}

/* Take the newest entry of @q; false if it is empty. */
static bool runq_pop(struct shp_runq *q, struct shp_queue_entry *e)
{
	struct shp_finblock *b = q->q;

	if (!b)
		return false;
	*e = b->fin[--b->cnt];
	if (!b->cnt) {
		q->q = b->next;
		b->next = q->c;
		q->c = b;
	}
	return true;
}

/**
 * shp_queue_finalizer() - queue a finalizer call
 * @heap: heap
 * @obj: object (or interior target) to pass
 * @fn: finalizer
 * @ctx: its context
 *
 * Context: sweeping, heap->fin_lock held; allocates with GFP_ATOMIC.
 * Return: false if no queue block could be allocated (the object then
 * survives the cycle and is queued by a later one).
 */
bool shp_queue_finalizer(struct spanheap *heap, void *obj,
			 spanheap_finalizer_t fn, void *ctx)
{
	struct shp_queue_entry e = { .obj = obj, .fn.fin = fn, .ctx = ctx };

	return runq_push(heap, &heap->finq, &e);
}

/**
 * shp_queue_cleanup() - queue a cleanup call
 * @heap: heap
 * @fn: cleanup
 * @arg: its argument
 *
 * Context: sweeping, heap->fin_lock held; allocates with GFP_ATOMIC.
 * Return: false if no queue block could be allocated (the object then
 * survives the cycle, its cleanup still set).
 */
bool shp_queue_cleanup(struct spanheap *heap, spanheap_cleanup_t fn, void *arg)
{
	struct shp_queue_entry e = { .fn.cleanup = fn, .ctx = arg };

	return runq_push(heap, &heap->cleanq, &e);
}

/* An entry's object and context are roots; its function is not scanned. */
static void mark_entry(struct spanheap *heap, struct shp_queue_entry *e)
{
	shp_scan_range(heap, (unsigned long)&e->obj, sizeof(e->obj));
	shp_scan_range(heap, (unsigned long)&e->ctx, sizeof(e->ctx));
}

static void mark_runq(struct spanheap *heap, struct shp_runq *q)
{
	struct shp_finblock *b;
	unsigned int i;

	for (b = q->q; b; b = b->next)
		for (i = 0; i < b->cnt; i++)
			mark_entry(heap, &b->fin[i]);
}

/**
 * shp_mark_finq() - mark what queued finalizers and cleanups hold
 * @heap: heap
 *
 * Queued finalizers' objects and contexts (the finalizer's closure, as
 * in Go), queued cleanups' arguments and those of cleanups running now.
 *
 * Context: collection, sections held for writing.
 */
void shp_mark_finq(struct spanheap *heap)
{
	unsigned int i;

	shp_assert_world_stopped(heap);
	spin_lock(&heap->fin_lock);
	rcu_read_lock();
	mark_runq(heap, &heap->finq);
	mark_runq(heap, &heap->cleanq);
	for (i = 0; i < heap->ncleanup_workers; i++)
		mark_entry(heap, &heap->cleanup_workers[i].running);
	rcu_read_unlock();
	spin_unlock(&heap->fin_lock);
	shp_mark_drain(heap);
}

/**
 * shp_finq_pop() - take queued finalizers off the queue
 * @heap: heap
 * @e: filled with up to @max entries, newest first
 * @max: room in @e
 *
 * The entries' objects stop being roots: the caller holds a section
 * until it is done with them.
 *
 * Context: the finalizer worker, inside a section of @heap.
 * Return: the number of entries taken.
 */
unsigned int shp_finq_pop(struct spanheap *heap, struct shp_queue_entry *e,
			  unsigned int max)
{
	unsigned int n = 0;

	shp_assert_in_section(heap);
	spin_lock(&heap->fin_lock);
	while (n < max && runq_pop(&heap->finq, &e[n]))
		n++;
	spin_unlock(&heap->fin_lock);
	return n;
}

/**
 * shp_finq_done() - count finalizers that have run
 * @heap: heap
 * @n: entries taken by shp_finq_pop() whose finalizers returned
 *
 * Context: process context.
 */
void shp_finq_done(struct spanheap *heap, unsigned int n)
{
	spin_lock(&heap->fin_lock);
	heap->finq.executed += n;
	spin_unlock(&heap->fin_lock);
}

/**
 * shp_cleanq_take() - move the next queued cleanup into a worker's slot
 * @heap: heap
 * @slot: the worker's running entry, empty
 *
 * The entry moves under heap->fin_lock, so a mark sees it in one place
 * or the other: its argument stays a root while the cleanup runs.
 *
 * Context: a cleanup worker, outside any section.
 * Return: false if no cleanup is queued.
 */
bool shp_cleanq_take(struct spanheap *heap, struct shp_queue_entry *slot)
{
	bool taken;

	spin_lock(&heap->fin_lock);
	taken = runq_pop(&heap->cleanq, slot);
	spin_unlock(&heap->fin_lock);
	return taken;
}

/**
 * shp_cleanq_done() - a worker's cleanup returned
 * @heap: heap
 * @slot: its running entry, emptied here
 *
 * Context: a cleanup worker.
 */
void shp_cleanq_done(struct spanheap *heap, struct shp_queue_entry *slot)
{
	spin_lock(&heap->fin_lock);
	memset(slot, 0, sizeof(*slot));
	heap->cleanq.executed++;
	spin_unlock(&heap->fin_lock);
}

/*
 * shp_finq_wake_locked() - start the workers that have something queued
 * @heap: heap
 *
 * The finalizer worker, and as many cleanup workers as there are queued
 * cleanups, up to the heap's count.  Queueing a work item while it runs
 * makes it run again, so calling this after every sweep that queued
 * something loses no wake-up.
 *
 * Context: heap->fin_lock held.
 */
static void shp_finq_wake_locked(struct spanheap *heap)
{
	unsigned int i, n;
	u64 pending;

	lockdep_assert_held(&heap->fin_lock);
	if (heap->finq.q)
		shp_heap_queue_work_locked(heap, shp_wq, &heap->fin_work);
	pending = heap->cleanq.queued - heap->cleanq.executed;
	n = min_t(u64, pending, heap->ncleanup_workers);
	for (i = 0; i < n; i++)
		shp_heap_queue_work_locked(heap, shp_cleanup_wq,
					   &heap->cleanup_workers[i].work);
}

/**
 * shp_finq_wake() - shp_finq_wake_locked(), taking heap->fin_lock
 * @heap: heap
 *
 * Context: any context that may take a spinlock.
 */
void shp_finq_wake(struct spanheap *heap)
{
	spin_lock(&heap->fin_lock);
	shp_finq_wake_locked(heap);
	spin_unlock(&heap->fin_lock);
}

static void runq_destroy(struct spanheap *heap, struct shp_runq *q)
{
	struct shp_finblock *b, *next;

	for (b = q->q; b; b = next) {
		next = b->next;
		q->dropped += b->cnt;
		kfree(b);
		shp_meta_uncharge(heap, sizeof(*b));
	}
	for (b = q->c; b; b = next) {
		next = b->next;
		kfree(b);
		shp_meta_uncharge(heap, sizeof(*b));
	}
	q->q = q->c = NULL;
}

/**
 * shp_finq_destroy() - drop queued finalizers and cleanups, free the queues
 * @heap: heap being destroyed, its workers cancelled
 *
 * Finalizers and cleanups still queued when a heap is destroyed do not
 * run: their objects are freed with the heap.
 */
void shp_finq_destroy(struct spanheap *heap)
{
	runq_destroy(heap, &heap->finq);
	runq_destroy(heap, &heap->cleanq);
}
