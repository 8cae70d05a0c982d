// SPDX-License-Identifier: GPL-2.0
/*
 * The queues of finalizers and cleanups found due (Go's finq/finc and
 * the cleanup queue of mcleanup.go).
 *
 * Sweeping appends an entry to heap->finq, a list of fixed-size blocks
 * (empty blocks are kept for reuse), and moves the records of cleanups
 * it finds due onto heap->cleanq: a queued cleanup is its record, so
 * queueing one allocates nothing and copies nothing.  A queue only grows
 * during sweep and only shrinks in its workers (finalizer.c, cleanup.c).
 * Queued objects and contexts are roots (shp_mark_finq()), so a
 * finalizer's object stays allocated at least until the finalizer has
 * run and a later cycle finds it unreachable again; a cleanup's argument
 * stays a root until the cleanup has returned, the cleanup running
 * outside any section.
 *
 * The sweep cuts the records into batches of up to SHP_CLEANUP_BATCH
 * (struct shp_cleanup_batches) while it has them in cache.  A cleanup
 * worker takes a batch, or its share of one when few are queued, into
 * its running chain under heap->fin_lock without walking it, and
 * advances the chain past each cleanup once it returned; the records it
 * ran are freed when it next takes heap->fin_lock (a mark walking the
 * chain holds that lock).
 *
 * heap->fin_lock protects both queues, their counters and the workers'
 * running chains (their heads are advanced by their workers alone).
 */
#include <linux/slab.h>
#include <linux/workqueue.h>
#include "internal.h"
#include "trace/events/spanheap.h"

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
	struct shp_queue_entry e = { .obj = obj, .fn = fn, .ctx = ctx };

	if (!runq_push(heap, &heap->finq, &e))
		return false;
	trace_spanheap_finalizer_queued(heap, fn, heap->finq.queued -
					heap->finq.executed);
	return true;
}

/**
 * shp_queue_cleanups() - queue the records of cleanups found due
 * @heap: heap
 * @due: their batches, not empty; emptied here
 *
 * The records are freed once their cleanups returned (or dropped by heap
 * destruction); until then each still holds its charge on the heap.
 *
 * Context: sweeping, heap->fin_lock held.
 */
void shp_queue_cleanups(struct spanheap *heap, struct shp_cleanup_batches *due)
{
	struct shp_cleanup_batches *q = &heap->cleanq.q;

	lockdep_assert_held(&heap->fin_lock);
	/* The heap's queue is only ever taken from its head: no last kept. */
	due->last->next_batch = q->first;
	q->first = due->first;
	q->n += due->n;
	heap->cleanq.queued += due->n;
	memset(due, 0, sizeof(*due));
}

/*
 * Each entry's object and context are roots.  A block's entries are
 * scanned as one range: the function between them is code, whose
 * address is never inside one of the heap's arenas.
 */
static void mark_runq(struct spanheap *heap, struct shp_runq *q)
{
	struct shp_finblock *b;

	for (b = q->q; b; b = b->next)
		shp_scan_range(heap, (unsigned long)b->fin,
			       b->cnt * sizeof(b->fin[0]));
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
	struct shp_special_cleanup *b;
	unsigned int i;

	shp_assert_world_stopped(heap);
	spin_lock(&heap->fin_lock);
	rcu_read_lock();
	mark_runq(heap, &heap->finq);
	for (b = heap->cleanq.q.first; b; b = b->next_batch)
		shp_scan_cleanup_chain(heap, &b->sp);
	for (i = 0; i < heap->ncleanup_workers; i++) {
		struct shp_cleanup_worker *w = &heap->cleanup_workers[i];

		/* Pairs with the worker's release once a cleanup returned. */
		shp_scan_cleanup_chain(heap, smp_load_acquire(&w->running));
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
 * until it is done with them.  A dying heap's queue gives nothing: its
 * finalizers are dropped, not run (spanheap_destroy()).
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
	while (n < max && !heap->dying && runq_pop(&heap->finq, &e[n]))
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
 * shp_cleanq_next() - finish a worker's batch and take the next one
 * @heap: heap
 * @w: the worker; its running chain is empty (NULL)
 * @done: the records of its last batch, all of whose cleanups returned,
 *	or NULL for none; freed here
 * @n: records on @done
 *
 * The worker's share of the queue, at least one record and at most
 * SHP_CLEANUP_BATCH, moves from the queue to @w->running under
 * heap->fin_lock: with few cleanups queued, each worker gets some, so
 * as many run in parallel as there are workers.  A mark sees each record
 * in one place or the other: its argument stays a root until its cleanup
 * returns.  @done is freed only after heap->fin_lock was taken, so no
 * mark still walks it.
 *
 * Context: a cleanup worker, outside any section.
 * Return: the new batch (the same chain as @w->running), or NULL if no
 * cleanup is queued.
 */
struct shp_special *shp_cleanq_next(struct spanheap *heap,
				    struct shp_cleanup_worker *w,
				    struct shp_special *done, unsigned int n)
{
	struct shp_cleanup_batches *q = &heap->cleanq.q;
	struct shp_special_cleanup *b, *rest;
	struct shp_special *first = NULL, *last;
	unsigned long i, share;

	spin_lock(&heap->fin_lock);
	heap->cleanq.executed += n;
	/*
	 * Rounded down: a worker never takes two while another would get
	 * none, so with few queued, each runs in parallel with the others.
	 */
	share = clamp_t(unsigned long, q->n / heap->ncleanup_workers, 1,
			SHP_CLEANUP_BATCH);
	/* A dying heap's queued cleanups are dropped, not run (destroy). */
	b = heap->dying ? NULL : q->first;
	if (b && b->sp.offset <= share) {
		/* The whole batch, without walking it. */
		first = &b->sp;
		q->first = b->next_batch;
		q->n -= b->sp.offset;
	} else if (b) {
		/* Its first @share records; the rest stays a batch. */
		first = &b->sp;
		for (i = 1, last = first; i < share; i++)
			last = last->next;
		rest = container_of(last->next, struct shp_special_cleanup, sp);
		last->next = NULL;
		rest->sp.offset = b->sp.offset - share;
		rest->next_batch = b->next_batch;
		q->first = rest;
		q->n -= share;
	}
	WRITE_ONCE(w->running, first);
	spin_unlock(&heap->fin_lock);
	if (done)
		shp_special_free_chain(heap, done);
	return first;
}

/* The cleanup part of shp_finq_wake_locked(). */
static void cleanq_wake_locked(struct spanheap *heap)
{
	unsigned int i, n;
	u64 pending;

	lockdep_assert_held(&heap->fin_lock);
	pending = heap->cleanq.queued - heap->cleanq.executed;
	n = min_t(u64, pending, heap->ncleanup_workers);
	for (i = 0; i < n; i++)
		shp_heap_queue_work_locked(heap, shp_cleanup_wq,
					   &heap->cleanup_workers[i].work);
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
	lockdep_assert_held(&heap->fin_lock);
	if (heap->finq.q)
		shp_heap_queue_work_locked(heap, shp_wq, &heap->fin_work);
	cleanq_wake_locked(heap);
}

/**
 * shp_cleanq_wake() - start the cleanup workers that have something queued
 * @heap: heap
 *
 * As shp_finq_wake(), but leaves the finalizer worker alone: the sweep
 * calls this as it goes, and the finalizer worker would contend with it
 * for heap->fin_lock (held from a span's first finalizer due to the end
 * of the span), while the sweep queues a span's cleanups with one short
 * hold of the lock.
 *
 * Context: any context that may take a spinlock.
 */
void shp_cleanq_wake(struct spanheap *heap)
{
	spin_lock(&heap->fin_lock);
	cleanq_wake_locked(heap);
	spin_unlock(&heap->fin_lock);
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
 * run: their objects are freed with the heap, their cleanup records here.
 */
void shp_finq_destroy(struct spanheap *heap)
{
	struct shp_special_cleanup *b, *next;

	runq_destroy(heap, &heap->finq);
	heap->cleanq.dropped += heap->cleanq.queued - heap->cleanq.executed;
	for (b = heap->cleanq.q.first; b; b = next) {
		next = b->next_batch;
		shp_special_free_chain(heap, &b->sp);
	}
	memset(&heap->cleanq.q, 0, sizeof(heap->cleanq.q));
}
