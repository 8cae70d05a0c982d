// SPDX-License-Identifier: GPL-2.0
/*
 * Cleanups: registration, Stop, and the parallel workers that run them
 * (Go 1.24's AddCleanup and Cleanup.Stop; Go 1.25's cleanup goroutines).
 *
 * A cleanup is a special record of its own kind; an object may have any
 * number, each named by an id unique in its heap.  Unlike a finalizer it
 * never sees its object: the sweep that finds the object unreachable
 * queues the cleanup and frees the object at once, and the cleanup gets
 * its argument.  The argument is a root while the record exists, so a
 * cleanup whose argument reaches its own object never runs (reported by
 * spanheap_finalizer_cycles()).  An argument below PAGE_SIZE (NULL, a
 * small id) points to no object: the mark reads the cleanups of a span
 * only if one has another argument (shp_span.cleanup_roots), not one
 * record per object.  An object with a finalizer keeps its
 * cleanups until it was finalized and found unreachable again.
 *
 * Each heap has ncleanup_workers work items on the unbound
 * shp_cleanup_wq; shp_finq_wake() queues as many as there are queued
 * cleanups.  A worker takes up to SHP_CLEANUP_BATCH queued cleanups at
 * once into its running chain (one lock round for all) and calls them
 * one after the other outside any section: a slow cleanup holds up the
 * rest of its batch, but neither the other workers, the rest of the
 * queue nor collections, and each argument stays rooted through the
 * chain until its cleanup returns.
 */
#include <linux/err.h>
#include <linux/export.h>
#include <linux/prefetch.h>
#include <linux/sched.h>
#include <linux/workqueue.h>
#include "internal.h"
#include "trace/events/spanheap.h"

/*
 * A new cleanup id: unique in the heap and positive, but not in order
 * across CPUs.  Each CPU hands out ids from its own block of
 * SHP_CLEANUP_ID_BLOCK, reserved with one atomic, so adding cleanups on
 * several CPUs does not bounce one counter between them.
 */
static s64 next_cleanup_id(struct spanheap *heap)
{
	struct shp_cpu_cache *c = get_cpu_ptr(heap->cpu);
	s64 id;

	if (c->cleanup_id == c->cleanup_id_end) {
		c->cleanup_id_end = atomic64_add_return(SHP_CLEANUP_ID_BLOCK,
							&heap->cleanup_ids);
		c->cleanup_id = c->cleanup_id_end - SHP_CLEANUP_ID_BLOCK;
	}
	id = ++c->cleanup_id;
	put_cpu_ptr(heap->cpu);
	return id;
}

static void cleanup_workfn(struct work_struct *work)
{
	struct shp_cleanup_worker *w =
		container_of(work, struct shp_cleanup_worker, work);
	struct spanheap *heap = w->heap;
	struct mem_cgroup *memcg = shp_memcg_enter(heap);
	struct shp_special *batch = shp_cleanq_next(heap, w, NULL, 0);

	while (batch) {
		struct shp_special *sp;
		unsigned int n = 0;

		for (sp = batch; sp; sp = sp->next) {
			struct shp_special_cleanup *c =
				container_of(sp, struct shp_special_cleanup, sp);

			prefetch(sp->next);	/* while this one runs */
			trace_spanheap_cleanup_run(heap, c->fn);
			c->fn(heap, c->arg);
			/*
			 * Returned: its argument stops being a root.  Pairs
			 * with the acquire of shp_mark_finq().
			 */
			smp_store_release(&w->running, sp->next);
			n++;
			cond_resched();
		}
		batch = shp_cleanq_next(heap, w, batch, n);
	}
	shp_memcg_exit(memcg);
}

/**
 * shp_cleanup_workers_init() - set up a new heap's cleanup workers
 * @heap: heap being created
 *
 * Their number is the cleanup_workers module parameter when set, else
 * max(online CPUs / 4, 1), at most SHP_MAX_CLEANUP_WORKERS.
 *
 * Context: process context.
 */
void shp_cleanup_workers_init(struct spanheap *heap)
{
	unsigned int i, n = READ_ONCE(shp_cleanup_workers);

	if (!n)
		n = max(num_online_cpus() / 4, 1U);
	heap->ncleanup_workers = min_t(unsigned int, n, SHP_MAX_CLEANUP_WORKERS);
	for (i = 0; i < heap->ncleanup_workers; i++) {
		heap->cleanup_workers[i].heap = heap;
		INIT_WORK(&heap->cleanup_workers[i].work, cleanup_workfn);
	}
}

/**
 * shp_cleanup_workers_cancel() - stop a heap's cleanup workers
 * @heap: heap being destroyed; nothing queues cleanups any more
 *
 * Waits for running cleanups; queued ones are dropped with the queue.
 *
 * Context: process context outside any section of @heap.
 */
void shp_cleanup_workers_cancel(struct spanheap *heap)
{
	unsigned int i;

	for (i = 0; i < heap->ncleanup_workers; i++)
		cancel_work_sync(&heap->cleanup_workers[i].work);
}

/**
 * spanheap_add_cleanup() - run a function once an object is unreachable
 * @heap: heap
 * @ptr: any byte of an allocated object (Go's AddCleanup takes interior
 *	pointers too); the cleanup belongs to (object, offset)
 * @fn: cleanup, called with @arg after @ptr's object was freed
 * @arg: passed to @fn; a root until @fn returns, so if it reaches @ptr
 *	the cleanup never runs
 *
 * Any number of cleanups may be added to an object.  Ids are unique in
 * @heap and positive, but not ordered: each CPU hands them out from its
 * own block, so a later call may return a smaller id.  They run once the
 * object is found unreachable, on parallel workers, in no order, even
 * among the objects of a cycle (which, unlike finalizers, is collected).
 * If the object has a finalizer, its cleanups run only after it was
 * finalized and then found unreachable again.
 *
 * Context: process context, inside a mutator section; may sleep.
 * Return: the cleanup's id (positive), for spanheap_stop_cleanup(); or
 * -EINVAL if @fn is NULL, @arg == @ptr (it could never run) or @ptr is
 * not inside an allocated object; -EFAULT if @ptr is not in @heap;
 * -ENOMEM.  Nothing changes on error.
 */
s64 spanheap_add_cleanup(struct spanheap *heap, void *ptr,
			 spanheap_cleanup_t fn, void *arg)
{
	struct shp_special_cleanup *c;
	struct shp_special *sp;
	unsigned int idx, off;
	struct shp_span *s;
	int ret;

	shp_assert_in_section(heap);
	if (!fn || arg == ptr)
		return -EINVAL;
	s = shp_special_target(heap, ptr, &idx, &off, SHP_ANYWHERE);
	if (IS_ERR(s))
		return PTR_ERR(s);
	sp = shp_special_new(heap, SPANHEAP_SPECIAL_CLEANUP);
	if (!sp)
		return -ENOMEM;
	c = container_of(sp, struct shp_special_cleanup, sp);
	c->fn = fn;
	c->arg = arg;
	c->id = next_cleanup_id(heap);
	sp->offset = off;
	spin_lock(&s->speciallock);
	ret = shp_special_add(s, idx, sp);
	if (!ret && shp_cleanup_arg_may_point(arg))
		s->cleanup_roots = true;
	spin_unlock(&s->speciallock);
	if (WARN_ON_ONCE(ret)) {	/* cleanups never clash */
		shp_special_free(heap, sp);
		return ret;
	}
	return c->id;
}
EXPORT_SYMBOL_GPL(spanheap_add_cleanup);

/**
 * spanheap_stop_cleanup() - cancel a cleanup (Go's Cleanup.Stop)
 * @heap: heap
 * @ptr: the pointer the cleanup was added with
 * @id: what spanheap_add_cleanup() returned
 *
 * Has no effect once the cleanup is queued to run.
 *
 * Context: process context, inside a mutator section; does not allocate.
 * Return: 0 if the cleanup was cancelled; -ENOENT if @ptr has no such
 * cleanup (never added at that pointer, stopped, or already queued);
 * -EFAULT or -EINVAL for @ptr as spanheap_add_cleanup().
 */
int spanheap_stop_cleanup(struct spanheap *heap, void *ptr, s64 id)
{
	struct shp_special *sp;
	unsigned int idx, off;
	struct shp_span *s;

	shp_assert_in_section(heap);
	s = shp_find_swept(heap, ptr, &idx, &off, SHP_ANYWHERE);
	if (IS_ERR(s))
		return PTR_ERR(s);
	spin_lock(&s->speciallock);
	sp = shp_special_unlink_cleanup(s, idx, off, id);
	spin_unlock(&s->speciallock);
	if (!sp)
		return -ENOENT;
	shp_special_free(heap, sp);
	return 0;
}
EXPORT_SYMBOL_GPL(spanheap_stop_cleanup);

/**
 * spanheap_wait_cleanups() - wait until every queued cleanup has run
 * @heap: heap
 *
 * Returns once every cleanup queued before the call has returned.
 * Cleanups queued by a lazy sweep wait for the end of the sweep (the
 * background sweeper's or the next cycle's); this wakes them first.
 *
 * Context: process context outside any section of @heap; may sleep.
 */
void spanheap_wait_cleanups(struct spanheap *heap)
{
	unsigned int i;

	shp_finq_wake(heap);
	for (i = 0; i < heap->ncleanup_workers; i++)
		flush_work(&heap->cleanup_workers[i].work);
}
EXPORT_SYMBOL_GPL(spanheap_wait_cleanups);
