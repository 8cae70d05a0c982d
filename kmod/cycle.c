// SPDX-License-Identifier: GPL-2.0
/*
 * Collection cycles: mutator sections, the cycle itself, pacing (GOGC)
 * and the gctrace line.
 *
 * A mutator section is a read hold of heap->sections; a cycle's mark
 * holds it for writing, so marking never overlaps code that keeps
 * unrooted heap pointers in locals.  A cycle:
 *
 *   1. stop the world (sections for writing)
 *   2. finish sweeping the previous cycle, drain CPU caches
 *   3. sweepgen++, every small span onto its unswept list, reset marks
 *   4. mark: roots (roots.c), queued finalizers (finq.c), pins and
 *      finalizers' referents, overflow (mark.c)
 *   5. set the pacer's next trigger, restart the world
 *   6. sweep: all now for spanheap_collect(), in the background for
 *      paced cycles (and lazily on demand either way)
 *
 * Objects allocated after step 5 live in spans that were swept before a
 * cache took them, so a cycle never frees what was allocated during it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/export.h>
#include <linux/err.h>
#include "internal.h"
#include "trace/events/spanheap.h"

bool shp_gctrace;
module_param_named(gctrace, shp_gctrace, bool, 0644);
MODULE_PARM_DESC(gctrace, "Print one line per collection cycle");

/**
 * spanheap_enter() - open a mutator section
 * @heap: heap
 *
 * Until spanheap_exit(), no collection marks @heap, so heap pointers held
 * only in locals stay valid.  Allocation, freeing and every call taking
 * an object pointer must happen inside a section.  Sections do not nest,
 * not even sections of two different heaps (two collectors could then
 * wait on each other), and no collection, finalizer wait or heap
 * destruction may be started from inside a section.
 *
 * Context: process context, may sleep.
 */
void spanheap_enter(struct spanheap *heap)
{
	percpu_down_read(&heap->sections);
}
EXPORT_SYMBOL_GPL(spanheap_enter);

/**
 * spanheap_exit() - close a mutator section
 * @heap: heap
 *
 * Context: process context, in a section opened by this task.
 */
void spanheap_exit(struct spanheap *heap)
{
	shp_assert_in_section(heap);
	percpu_up_read(&heap->sections);
}
EXPORT_SYMBOL_GPL(spanheap_exit);

static void set_next_gc(struct spanheap *heap)
{
	u64 live = READ_ONCE(heap->live_bytes);
	u64 goal = live + live * max(READ_ONCE(heap->gc_percent), 0) / 100;

	WRITE_ONCE(heap->next_gc, max_t(u64, goal, SHP_GC_MIN_HEAP));
}

/*
 * Stop the world: no sweeper, no section; then finish the previous
 * cycle's sweep and drain the caches, so every span is on a central
 * list or heap->large and swept.  @t_stopped is when the last section
 * ended; the wait for it began at @t_stopping.  The caller holds
 * gc_lock (one cycle at a time) and restarts the world whatever this
 * returns.  Return: the mark stack exists (else nothing may be marked).
 */
static bool stop_world(struct spanheap *heap, u64 *t_stopping, u64 *t_stopped)
{
	lockdep_assert_held(&heap->gc_lock);
	/* The sweeper must not sweep spans of the cycle being marked. */
	cancel_work_sync(&heap->sweep_work);
	*t_stopping = ktime_get_ns();
	percpu_down_write(&heap->sections);
	*t_stopped = ktime_get_ns();
	shp_central_world_stopped(heap, true);
	shp_finish_sweep(heap);
	spanheap_drain(heap);
	return shp_mark_stack_get(heap);
}

static void start_world(struct spanheap *heap)
{
	shp_central_world_stopped(heap, false);
	percpu_up_write(&heap->sections);
}

/**
 * shp_mark_heap() - step 4 of a cycle: mark everything reachable
 * @heap: heap, drained and fully swept, with a mark stack
 *
 * Leaves the marks in the spans' mark bits and sets heap->live_bytes.
 *
 * Context: the world stopped (heap->sections held for writing).
 */
void shp_mark_heap(struct spanheap *heap)
{
	shp_mark_workers_wake(heap);
	shp_mark_reset(heap);
	shp_mark_roots(heap);
	shp_mark_finq(heap);
	shp_mark_specials(heap);
	shp_mark_complete(heap);
	shp_mark_workers_release(heap);
}

/* Steps 3 to 5 of a cycle, with the world stopped. */
static void mark_cycle(struct spanheap *heap)
{
	WRITE_ONCE(heap->sweepgen, heap->sweepgen + 1);
	shp_central_unsweep_all(heap);
	shp_mark_heap(heap);
	set_next_gc(heap);
	atomic64_inc(&heap->collections);
}

/* Queue counters, for the gctrace line: finalizers, cleanups queued; run. */
static void queued_counts(struct spanheap *heap, u64 n[3])
{
	spin_lock(&heap->fin_lock);
	n[0] = heap->finq.queued;
	n[1] = heap->cleanq.queued;
	n[2] = heap->cleanq.executed;
	spin_unlock(&heap->fin_lock);
}

/* Readers (stats) see each field whole; only the cycle writes them. */
static void record_pause(struct spanheap *heap, u64 stop_ns, u64 pause_ns)
{
	struct shp_pause *p = &heap->pause;

	lockdep_assert_held(&heap->gc_lock);
	WRITE_ONCE(p->stop_last_ns, stop_ns);
	WRITE_ONCE(p->last_ns, pause_ns);
	WRITE_ONCE(p->total_ns, p->total_ns + pause_ns);
	if (pause_ns > p->max_ns)
		WRITE_ONCE(p->max_ns, pause_ns);
}

static void gctrace(struct spanheap *heap, u64 before, const u64 q0[3])
{
	u64 q[3];

	queued_counts(heap, q);
	pr_info_ratelimited("%s-%u: gc %llu: %llu -> %ld KiB reserved, %llu KiB live, next %llu KiB, %llu finalizers queued, %llu cleanups queued, %llu cleanups run so far, %llu weak handles at mark, %llu us pause, %llu us to stop\n",
			    heap->name, heap->id,
			    (u64)atomic64_read(&heap->collections), before >> 10,
			    atomic_long_read(&heap->reserved) >> 10,
			    heap->live_bytes >> 10, heap->next_gc >> 10,
			    q[0] - q0[0], q[1] - q0[1], q[2], heap->weak_at_mark,
			    heap->pause.last_ns / 1000,
			    heap->pause.stop_last_ns / 1000);
}

/* One cycle, as shp_collect() describes.  Context: heap->gc_lock held. */
static void collect_locked(struct spanheap *heap, bool sweep_now)
{
	struct mem_cgroup *memcg = shp_memcg_enter(heap);
	u64 t_stopping, t0, t_stw, before, queued[3] = { 0, 0, 0 };
	bool marked;

	/* This cycle answers every failure at the limit so far. */
	WRITE_ONCE(heap->gc_at_limit, false);
	marked = stop_world(heap, &t_stopping, &t0);
	before = atomic_long_read(&heap->reserved);
	if (marked) {
		trace_spanheap_cycle_start(heap, atomic64_read(&heap->collections) + 1,
					   t0 - t_stopping, sweep_now);
		queued_counts(heap, queued);
		mark_cycle(heap);
	}
	t_stw = ktime_get_ns() - t0;
	start_world(heap);
	if (marked) {
		record_pause(heap, t0 - t_stopping, t_stw);
		if (sweep_now)
			shp_finish_sweep(heap);
		else
			shp_heap_queue_work(heap, shp_wq, &heap->sweep_work);
		trace_spanheap_cycle_end(heap);
		if (READ_ONCE(shp_gctrace))
			gctrace(heap, before, queued);
	}
	shp_memcg_exit(memcg);
}

/**
 * shp_collect() - one collection cycle
 * @heap: heap
 * @sweep_now: sweep every span before returning, else leave it to the
 *	background sweeper and to lazy sweeping
 *
 * Without memory for a mark stack the cycle is skipped and nothing
 * changes.
 *
 * Context: process context outside any section of @heap; may sleep.
 */
void shp_collect(struct spanheap *heap, bool sweep_now)
{
	mutex_lock(&heap->gc_lock);
	collect_locked(heap, sweep_now);
	mutex_unlock(&heap->gc_lock);
}

/**
 * spanheap_collect() - run a full collection cycle
 * @heap: heap
 *
 * Marks from the roots, then sweeps every span before returning (as Go's
 * runtime.GC()), queueing the finalizers of unreachable objects; they run
 * later on the finalizer worker (see spanheap_wait_finalizers()).
 *
 * Context: process context outside any section of @heap (it waits for
 * all sections to close); may sleep.
 */
void spanheap_collect(struct spanheap *heap)
{
	shp_collect(heap, true);
}
EXPORT_SYMBOL_GPL(spanheap_collect);

/*
 * The pacer's trigger (Go's gcTrigger of kind heap): the heap grew past
 * its goal.  Past, not to: a sweep keeps empty spans up to the goal
 * (central_empty()), and a heap swept down to it needs no cycle.
 */
static bool pacer_trigger_met(struct spanheap *heap)
{
	return READ_ONCE(heap->gc_percent) >= 0 &&
	       shp_heap_in_use(heap) > (long)READ_ONCE(heap->next_gc);
}

/*
 * A paced cycle, run by heap->gc_work; its own sweep is left to the
 * sweeper.  As Go's gcStart does, if the trigger holds it first
 * finishes the last cycle's sweep (the world running; Go re-tests per
 * span), then tests the trigger again once no other cycle can start: a
 * cycle that ran since the work was queued (an explicit one, or this
 * work's previous run) has usually met the goal, and one more would
 * stop the world for nothing.  A cycle asked for by an allocation that
 * failed at the limit runs regardless.
 */
void shp_gc_workfn(struct work_struct *work)
{
	struct spanheap *heap = container_of(work, struct spanheap, gc_work);
	struct mem_cgroup *memcg = shp_memcg_enter(heap);	/* the sweep's too */
	bool at_limit;

	mutex_lock(&heap->gc_lock);
	at_limit = READ_ONCE(heap->gc_at_limit);	/* cleared by the cycle */
	if (!at_limit && pacer_trigger_met(heap))
		shp_finish_sweep(heap);
	if (at_limit || pacer_trigger_met(heap))
		collect_locked(heap, false);
	mutex_unlock(&heap->gc_lock);
	shp_memcg_exit(memcg);
}

/**
 * shp_gc_maybe_trigger() - start a paced cycle if the heap grew enough
 * @heap: heap
 *
 * Context: any; called when a new span is made.
 */
void shp_gc_maybe_trigger(struct spanheap *heap)
{
	if (pacer_trigger_met(heap))
		shp_heap_queue_work(heap, shp_wq, &heap->gc_work);
}

/**
 * spanheap_set_gc_percent() - set the pacing goal (GOGC)
 * @heap: heap
 * @percent: a cycle starts when the heap has grown by this much over the
 *	bytes found live by the last one; negative turns pacing off
 *
 * Context: any, sections included.
 * Return: the previous value.
 */
int spanheap_set_gc_percent(struct spanheap *heap, int percent)
{
	int old = xchg(&heap->gc_percent, percent < 0 ? -1 : percent);

	/* No gc_lock: callers may be inside a section, which a cycle waits on. */
	set_next_gc(heap);
	return old;
}
EXPORT_SYMBOL_GPL(spanheap_set_gc_percent);

/**
 * spanheap_finalizer_cycles() - list finalizable objects on cycles
 * @heap: heap
 * @report: called for each object with a finalizer that is reachable
 *	from itself (it will never be finalized), or NULL
 * @arg: passed to @report
 *
 * A diagnostic: stops the world for O(finalizers x heap) work (see
 * shp_mark_find_cycles()).  If the mark stack overflows during a check,
 * that object is not reported.
 *
 * Context: process context outside any section of @heap; may sleep.
 * @report runs with the world stopped and must not use @heap.
 * Return: the number of such objects, or -ENOMEM.
 */
int spanheap_finalizer_cycles(struct spanheap *heap,
			      void (*report)(void *arg, void *obj), void *arg)
{
	struct mem_cgroup *memcg = shp_memcg_enter(heap);
	int found = -ENOMEM;
	u64 t_stopping, t_stopped;	/* a diagnostic's stop is no cycle's pause */

	mutex_lock(&heap->gc_lock);
	if (stop_world(heap, &t_stopping, &t_stopped))
		found = shp_mark_find_cycles(heap, report, arg);
	start_world(heap);
	mutex_unlock(&heap->gc_lock);
	shp_memcg_exit(memcg);
	return found;
}
EXPORT_SYMBOL_GPL(spanheap_finalizer_cycles);

/*
 * spanheap_why() of @obj or, for debugfs (@obj NULL), of the object whose
 * hashed %p is @id.  The walk keeps its own queue: no mark stack needed,
 * only the world stopped.
 */
static int why_stopped(struct spanheap *heap, const void *obj, const char *id,
		       spanheap_path_report_t report, void *arg)
{
	struct mem_cgroup *memcg = shp_memcg_enter(heap);
	u64 t_stopping, t_stopped;
	int ret;

	mutex_lock(&heap->gc_lock);
	stop_world(heap, &t_stopping, &t_stopped);
	ret = obj ? shp_why_find(heap, obj, report, arg) :
		    shp_why_hashed(heap, id, report, arg);
	start_world(heap);
	mutex_unlock(&heap->gc_lock);
	shp_memcg_exit(memcg);
	return ret;
}

/**
 * spanheap_why() - why is an object alive?
 * @heap: heap
 * @obj: start of an allocated object of @heap
 * @report: called once, with the world stopped, with the path by which
 *	the collector reaches @obj: its root kind and each hop with the
 *	offset of the word followed (kind SPANHEAP_ROOT_NONE and no
 *	hops if nothing reaches it); see struct spanheap_path
 * @arg: passed to @report
 *
 * A diagnostic: stops the world for a breadth-first walk of the heap
 * from the roots by the mark's kinds of root, each walked to the end before
 * the next is added: the path comes from the first kind that reaches
 * @obj and is a shortest one among that kind's (see kmod/why.c).  A
 * finalizable object reachable only from its own finalizer's referents
 * is reported as SPANHEAP_ROOT_FIN_CYCLE, the cycle that keeps it from
 * ever being finalized.
 *
 * Context: process context outside any section of @heap; may sleep.
 * Return: 0 once @report was called, -EFAULT (@obj not in @heap),
 * -EINVAL (not an allocated object's start), -ENOMEM, or -E2BIG (the
 * heap has too many objects to search).  Nothing changes on error.
 */
int spanheap_why(struct spanheap *heap, const void *obj,
		 spanheap_path_report_t report, void *arg)
{
	return obj ? why_stopped(heap, obj, NULL, report, arg) : -EFAULT;
}
EXPORT_SYMBOL_GPL(spanheap_why);

/**
 * shp_why_id() - spanheap_why() of the object whose %p id is @id
 * @heap: heap
 * @id: as shp_why_hashed() takes it
 * @report: as for spanheap_why()
 * @arg: passed to @report
 *
 * For debugfs, which shows objects only by hashed pointers.
 *
 * Context: process context outside any section of @heap; may sleep.
 * Return: as spanheap_why(), or -ENOENT if no object prints as @id.
 */
int shp_why_id(struct spanheap *heap, const char *id,
	       spanheap_path_report_t report, void *arg)
{
	return why_stopped(heap, NULL, id, report, arg);
}
