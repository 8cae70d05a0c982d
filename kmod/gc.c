// SPDX-License-Identifier: GPL-2.0
/*
 * Collection cycles: mutator sections, roots and pins, the cycle itself,
 * pacing (GOGC) and the gctrace line.
 *
 * A mutator section is a read hold of heap->sections; a cycle's mark
 * holds it for writing, so marking never overlaps code that keeps
 * unrooted heap pointers in locals.  A cycle:
 *
 *   1. stop the world (sections for writing)
 *   2. finish sweeping the previous cycle, drain CPU caches
 *   3. sweepgen++, every small span onto its unswept list, clear marks
 *   4. mark (mark.c)
 *   5. set the pacer's next trigger, restart the world
 *   6. sweep: all now for spanheap_collect(), in the background for
 *      paced cycles (and lazily on demand either way)
 *
 * Objects allocated after step 5 live in spans that were swept before a
 * cache took them, so a cycle never frees what was allocated during it.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/sched.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/export.h>
#include <linux/err.h>
#include "internal.h"

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
	percpu_up_read(&heap->sections);
}
EXPORT_SYMBOL_GPL(spanheap_exit);

/**
 * spanheap_root_add() - register a root slot
 * @heap: heap
 * @slot: a pointer variable outside the heap; whatever heap object it
 *	points into when a cycle marks is live
 *
 * Context: process context, may sleep.
 * Return: 0, -EEXIST if already registered, -ENOMEM.
 */
int spanheap_root_add(struct spanheap *heap, void **slot)
{
	void ***grown = NULL;
	unsigned int i, cap = 0;

	for (;;) {
		spin_lock(&heap->roots_lock);
		for (i = 0; i < heap->nroots; i++) {
			if (heap->roots[i] == slot) {
				spin_unlock(&heap->roots_lock);
				kvfree(grown);
				return -EEXIST;
			}
		}
		if (heap->nroots < heap->roots_cap)
			break;
		if (grown && cap > heap->roots_cap) {
			if (heap->nroots)
				memcpy(grown, heap->roots, heap->nroots * sizeof(*grown));
			swap(grown, heap->roots);
			heap->roots_cap = cap;
			break;
		}
		cap = max(16u, heap->roots_cap * 2);
		spin_unlock(&heap->roots_lock);
		kvfree(grown);
		grown = kvmalloc_array(cap, sizeof(*grown), GFP_KERNEL);
		if (!grown)
			return -ENOMEM;
	}
	heap->roots[heap->nroots++] = slot;
	spin_unlock(&heap->roots_lock);
	kvfree(grown);
	return 0;
}
EXPORT_SYMBOL_GPL(spanheap_root_add);

/**
 * spanheap_root_remove() - unregister a root slot
 * @heap: heap
 * @slot: slot given to spanheap_root_add()
 *
 * Context: any context that may take a spinlock.
 * Return: 0, or -ENOENT if @slot is not registered.
 */
int spanheap_root_remove(struct spanheap *heap, void **slot)
{
	unsigned int i;
	int ret = -ENOENT;

	spin_lock(&heap->roots_lock);
	for (i = 0; i < heap->nroots; i++) {
		if (heap->roots[i] == slot) {
			heap->roots[i] = heap->roots[--heap->nroots];
			ret = 0;
			break;
		}
	}
	spin_unlock(&heap->roots_lock);
	return ret;
}
EXPORT_SYMBOL_GPL(spanheap_root_remove);

/**
 * spanheap_set_root_scan() - let the heap's owner report roots of its own
 * @heap: heap
 * @fn: called by every mark (see spanheap_root_scan_t), or NULL
 * @arg: passed to @fn
 *
 * For owners whose roots are many and change often (a handle table):
 * cheaper than a pin per root, and it cannot fail.
 *
 * Context: process context outside any section of @heap; may sleep.
 */
void spanheap_set_root_scan(struct spanheap *heap, spanheap_root_scan_t fn,
			    void *arg)
{
	mutex_lock(&heap->gc_lock);
	heap->root_scan = fn;
	heap->root_scan_arg = arg;
	mutex_unlock(&heap->gc_lock);
}
EXPORT_SYMBOL_GPL(spanheap_set_root_scan);

/**
 * spanheap_pin() - make an object a root until unpinned
 * @heap: heap
 * @obj: start of an allocated object
 *
 * Pins are counted: each spanheap_pin() needs its spanheap_unpin().
 *
 * Context: process context, inside a mutator section; may sleep.
 * Return: 0, -EFAULT (not in @heap), -EINVAL (not an allocated object's
 * start), -ENOMEM.
 */
int spanheap_pin(struct spanheap *heap, void *obj)
{
	struct shp_special_pin *pin, *fresh = NULL;
	struct shp_special *sp;
	struct shp_span *s;
	unsigned int idx;

	s = shp_special_target(heap, obj, &idx);
	if (IS_ERR(s))
		return PTR_ERR(s);
	for (;;) {
		spin_lock(&s->speciallock);
		sp = shp_special_find(s, idx, 0, SPANHEAP_SPECIAL_PIN);
		if (sp || fresh)
			break;
		spin_unlock(&s->speciallock);
		sp = shp_special_alloc(heap, SPANHEAP_SPECIAL_PIN);
		if (!sp)
			return -ENOMEM;
		fresh = container_of(sp, struct shp_special_pin, sp);
	}
	if (sp) {
		pin = container_of(sp, struct shp_special_pin, sp);
	} else {
		pin = fresh;
		fresh = NULL;
		shp_special_add(s, idx, &pin->sp);
	}
	pin->count++;
	spin_unlock(&s->speciallock);
	if (fresh)
		shp_special_free(heap, &fresh->sp);
	return 0;
}
EXPORT_SYMBOL_GPL(spanheap_pin);

/**
 * spanheap_unpin() - drop one pin
 * @heap: heap
 * @obj: a pinned object
 *
 * Context: process context, inside a mutator section.
 * Return: 0, -EFAULT, -EINVAL (not an object start, or not pinned).
 */
int spanheap_unpin(struct spanheap *heap, void *obj)
{
	struct shp_special *sp = NULL;
	struct shp_span *s;
	unsigned int idx;
	int ret = -EINVAL;

	s = shp_special_target(heap, obj, &idx);
	if (IS_ERR(s))
		return PTR_ERR(s);
	spin_lock(&s->speciallock);
	sp = shp_special_find(s, idx, 0, SPANHEAP_SPECIAL_PIN);
	if (sp) {
		ret = 0;
		if (--container_of(sp, struct shp_special_pin, sp)->count)
			sp = NULL;
		else
			shp_special_unlink(s, idx, 0, SPANHEAP_SPECIAL_PIN);
	}
	spin_unlock(&s->speciallock);
	if (sp)
		shp_special_free(heap, sp);
	return ret;
}
EXPORT_SYMBOL_GPL(spanheap_unpin);

/* Move every swept small span onto the unswept lists for a new cycle. */
static void start_sweep_cycle(struct spanheap *heap)
{
	unsigned int spc;

	WRITE_ONCE(heap->sweepgen, heap->sweepgen + 1);
	for (spc = 2; spc < SHP_NR_SPAN_CLASSES; spc++) {
		struct shp_central *ct = &heap->central[spc];

		spin_lock(&ct->lock);
		list_splice_init(&ct->partial, &ct->unswept);
		list_splice_init(&ct->full, &ct->unswept);
		ct->nempty = 0;
		spin_unlock(&ct->lock);
	}
}

static void set_next_gc(struct spanheap *heap)
{
	u64 live = READ_ONCE(heap->live_bytes);
	u64 goal = live + live * max(READ_ONCE(heap->gc_percent), 0) / 100;

	WRITE_ONCE(heap->next_gc, max_t(u64, goal, SHP_GC_MIN_HEAP));
}

#define SHP_GRAY_BYTES	(SHP_GRAY_ENTRIES * sizeof(struct shp_gray))

/*
 * The mark stack, made on first use and kept.  It is charged past the
 * limit: a heap at its limit must still be able to collect.
 * Context: gc_lock held.
 */
static bool gray_get(struct spanheap *heap)
{
	if (heap->gray)
		return true;
	heap->gray = kvmalloc(SHP_GRAY_BYTES, SHP_GFP);
	if (heap->gray)
		shp_meta_charge(heap, SHP_GRAY_BYTES, true);
	return heap->gray;
}

/**
 * shp_gray_put() - free the mark stack
 * @heap: heap being destroyed
 */
void shp_gray_put(struct spanheap *heap)
{
	if (!heap->gray)
		return;
	kvfree(heap->gray);
	heap->gray = NULL;
	shp_meta_uncharge(heap, SHP_GRAY_BYTES);
}

/**
 * shp_collect() - one collection cycle
 * @heap: heap
 * @sweep_now: sweep every span before returning, else leave it to the
 *	background sweeper and to lazy sweeping
 *
 * Context: process context outside any section of @heap; may sleep.
 */
void shp_collect(struct spanheap *heap, bool sweep_now)
{
	struct mem_cgroup *memcg;
	u64 t0, t_stw, before;
	unsigned long queued = 0;

	mutex_lock(&heap->gc_lock);
	memcg = shp_memcg_enter(heap);
	/* The sweeper must not sweep spans of the cycle being marked. */
	cancel_work_sync(&heap->sweep_work);
	percpu_down_write(&heap->sections);
	t0 = ktime_get_ns();
	shp_finish_sweep(heap);
	spanheap_drain(heap);
	before = atomic_long_read(&heap->reserved);
	if (gray_get(heap)) {
		spin_lock(&heap->fin_lock);
		queued = heap->fin_queued;
		spin_unlock(&heap->fin_lock);
		start_sweep_cycle(heap);
		shp_clear_marks(heap);
		shp_mark(heap);
		set_next_gc(heap);
		atomic64_inc(&heap->collections);
	}
	t_stw = ktime_get_ns() - t0;
	percpu_up_write(&heap->sections);
	if (!heap->gray) {
		/* No mark stack: skip the cycle, nothing was changed. */
		shp_memcg_exit(memcg);
		mutex_unlock(&heap->gc_lock);
		return;
	}
	if (sweep_now)
		shp_finish_sweep(heap);
	else
		queue_work(shp_wq, &heap->sweep_work);
	if (READ_ONCE(shp_gctrace)) {
		spin_lock(&heap->fin_lock);
		queued = heap->fin_queued - queued;
		spin_unlock(&heap->fin_lock);
		pr_info_ratelimited("spanheap %s-%u: gc %llu: %llu -> %ld KiB reserved, %llu KiB live, next %llu KiB, %lu finalizers queued, %llu us stw\n",
			heap->name, heap->id, (u64)atomic64_read(&heap->collections),
			before >> 10, atomic_long_read(&heap->reserved) >> 10,
			heap->live_bytes >> 10, heap->next_gc >> 10, queued,
			t_stw / 1000);
	}
	shp_memcg_exit(memcg);
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

/* A paced cycle, run by heap->gc_work; sweeping is left to the sweeper. */
void shp_gc_workfn(struct work_struct *work)
{
	shp_collect(container_of(work, struct spanheap, gc_work), false);
}

/**
 * shp_gc_maybe_trigger() - start a paced cycle if the heap grew enough
 * @heap: heap
 *
 * Context: any; called when a new span is made.
 */
void shp_gc_maybe_trigger(struct spanheap *heap)
{
	if (READ_ONCE(heap->gc_percent) >= 0 &&
	    atomic_long_read(&heap->reserved) >= (long)READ_ONCE(heap->next_gc))
		queue_work(shp_wq, &heap->gc_work);
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

struct cycle_walk {
	void (*report)(void *arg, void *obj);
	void *arg;
	int found;
};

static void find_cycles_in_span(struct spanheap *heap, struct shp_span *s,
				struct cycle_walk *cw)
{
	struct shp_special *sp;
	unsigned int idx, spc;
	struct shp_span *t;

	if (!s->nspecials || SHP_SPC_NOSCAN(s->spc))
		return;
	for (idx = 0; idx < s->nelems; idx++) {
		for (sp = s->specials[idx]; sp; sp = sp->next)
			if (sp->kind == SPANHEAP_SPECIAL_FINALIZER)
				break;
		if (!sp)
			continue;
		/* Mark from the object's referents only; did we come back? */
		for (spc = 2; spc < SHP_NR_SPAN_CLASSES; spc++)
			list_for_each_entry(t, &heap->central[spc].partial, list)
				memset(shp_mark_bits(t), 0, t->nwords * sizeof(long));
		for (spc = 2; spc < SHP_NR_SPAN_CLASSES; spc++)
			list_for_each_entry(t, &heap->central[spc].full, list)
				memset(shp_mark_bits(t), 0, t->nwords * sizeof(long));
		list_for_each_entry(t, &heap->large, list)
			memset(shp_mark_bits(t), 0, t->nwords * sizeof(long));
		heap->ngray = 0;
		heap->gray_overflow = false;
		heap->mark_hint = &shp_empty_span;
		rcu_read_lock();
		shp_scan_range(heap, s->base + idx * s->elemsize, s->elemsize);
		rcu_read_unlock();
		shp_mark_drain(heap);
		if (test_bit(idx, shp_mark_bits(s))) {
			cw->found++;
			if (cw->report)
				cw->report(cw->arg, (void *)(s->base + idx * s->elemsize));
		}
	}
}

/**
 * spanheap_finalizer_cycles() - list finalizable objects on cycles
 * @heap: heap
 * @report: called for each object with a finalizer that is reachable
 *	from itself (it will never be finalized), or NULL
 * @arg: passed to @report
 *
 * A diagnostic: stops the world for O(finalizers x heap) work.  If the
 * mark stack overflows during a check, that object is not reported.
 *
 * Context: process context outside any section of @heap; may sleep.
 * @report runs with the world stopped and must not use @heap.
 * Return: the number of such objects, or -ENOMEM.
 */
int spanheap_finalizer_cycles(struct spanheap *heap,
			      void (*report)(void *arg, void *obj), void *arg)
{
	struct cycle_walk cw = { .report = report, .arg = arg };
	unsigned int spc;
	struct shp_span *s;

	mutex_lock(&heap->gc_lock);
	cancel_work_sync(&heap->sweep_work);
	percpu_down_write(&heap->sections);
	shp_finish_sweep(heap);
	spanheap_drain(heap);
	if (!gray_get(heap)) {
		cw.found = -ENOMEM;
		goto out;
	}
	for (spc = 2; spc < SHP_NR_SPAN_CLASSES; spc++) {
		list_for_each_entry(s, &heap->central[spc].partial, list)
			find_cycles_in_span(heap, s, &cw);
		list_for_each_entry(s, &heap->central[spc].full, list)
			find_cycles_in_span(heap, s, &cw);
	}
	list_for_each_entry(s, &heap->large, list)
		find_cycles_in_span(heap, s, &cw);
out:
	percpu_up_write(&heap->sections);
	mutex_unlock(&heap->gc_lock);
	return cw.found;
}
EXPORT_SYMBOL_GPL(spanheap_finalizer_cycles);
