// SPDX-License-Identifier: GPL-2.0
/*
 * The finalizer queue (Go's finq and finc).
 *
 * Sweeping queues a finalizer by appending an entry to heap->finq, a
 * list of fixed-size blocks; empty blocks are kept on heap->finc for
 * reuse.  The queue only grows during sweep and only shrinks in the
 * finalizer worker (finalizer.c).  Queued objects and contexts are roots
 * (shp_mark_finq()), so an object stays allocated at least until its
 * finalizer has run and a later cycle finds it unreachable again.
 *
 * heap->fin_lock protects the queue and its counters.
 */
#include <linux/slab.h>
#include <linux/workqueue.h>
#include "internal.h"

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
	struct shp_finblock *b;

	lockdep_assert_held(&heap->fin_lock);
	b = heap->finq;
	if (!b || b->cnt == SHP_FINBLOCK_ENTRIES) {
		b = heap->finc;
		if (b) {
			heap->finc = b->next;
		} else {
			/*
			 * Charged past the limit, as the mark stack is: a heap
			 * at its limit must still queue what it found dead, or
			 * its finalizable garbage would wait for a cycle that
			 * finds room.  Each entry stands for a charged record.
			 */
			shp_meta_charge(heap, sizeof(*b), true);
			b = kmalloc(sizeof(*b), GFP_ATOMIC | __GFP_ACCOUNT | __GFP_NOWARN);
			if (!b) {
				shp_meta_uncharge(heap, sizeof(*b));
				return false;
			}
		}
		b->cnt = 0;
		b->next = heap->finq;
		heap->finq = b;
	}
	b->fin[b->cnt].obj = obj;
	b->fin[b->cnt].fn = fn;
	b->fin[b->cnt].ctx = ctx;
	b->cnt++;
	heap->fin_queued++;
	return true;
}

/**
 * shp_mark_finq() - mark the objects of queued finalizers
 * @heap: heap
 *
 * An entry's object and context are roots (the context is the
 * finalizer's closure, as in Go); its function pointer is not scanned.
 *
 * Context: collection, sections held for writing.
 */
void shp_mark_finq(struct spanheap *heap)
{
	struct shp_finblock *b;
	unsigned int i;

	shp_assert_world_stopped(heap);
	spin_lock(&heap->fin_lock);
	rcu_read_lock();
	for (b = heap->finq; b; b = b->next) {
		for (i = 0; i < b->cnt; i++) {
			shp_scan_range(heap, (unsigned long)&b->fin[i].obj,
				       sizeof(b->fin[i].obj));
			shp_scan_range(heap, (unsigned long)&b->fin[i].ctx,
				       sizeof(b->fin[i].ctx));
		}
	}
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
unsigned int shp_finq_pop(struct spanheap *heap, struct shp_finalizer_entry *e,
			  unsigned int max)
{
	struct shp_finblock *b;
	unsigned int n = 0;

	shp_assert_in_section(heap);
	spin_lock(&heap->fin_lock);
	while (n < max && (b = heap->finq)) {
		e[n++] = b->fin[--b->cnt];
		if (!b->cnt) {
			heap->finq = b->next;
			b->next = heap->finc;
			heap->finc = b;
		}
	}
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
	heap->fin_executed += n;
	spin_unlock(&heap->fin_lock);
}

/**
 * shp_finq_wake() - start the finalizer worker if anything is queued
 * @heap: heap
 *
 * Queueing the work while it runs makes it run again, so calling this
 * after every sweep that may have queued something loses no wake-up.
 *
 * Context: any context that may take a spinlock.
 */
void shp_finq_wake(struct spanheap *heap)
{
	spin_lock(&heap->fin_lock);
	if (heap->finq)
		queue_work(shp_wq, &heap->fin_work);
	spin_unlock(&heap->fin_lock);
}

/**
 * shp_finq_destroy() - drop queued finalizers and free the queue
 * @heap: heap being destroyed, its worker cancelled
 *
 * Finalizers still queued when a heap is destroyed do not run: their
 * objects are freed with the heap.
 */
void shp_finq_destroy(struct spanheap *heap)
{
	struct shp_finblock *b, *next;

	for (b = heap->finq; b; b = next) {
		next = b->next;
		heap->fin_dropped += b->cnt;
		kfree(b);
		shp_meta_uncharge(heap, sizeof(*b));
	}
	for (b = heap->finc; b; b = next) {
		next = b->next;
		kfree(b);
		shp_meta_uncharge(heap, sizeof(*b));
	}
	heap->finq = heap->finc = NULL;
}
