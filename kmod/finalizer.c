// SPDX-License-Identifier: GPL-2.0
/*
 * Finalizers: registration and the worker that runs them (Go's
 * SetFinalizer and the fing goroutine); the queue is finq.c.
 *
 * The worker is heap->fin_work on shp_wq.  A work item is never run by
 * two workers at once and queueing it while it runs makes it run again,
 * so "wake the worker" is queue_work() after every sweep that queued
 * something, with no lost wake-up (Go's fingwait/fingwake handshake).
 * It takes a batch of entries inside a mutator section and calls the
 * finalizers there: finalizers run serially, in process context, and a
 * slow one delays the others (and collections, which wait for sections).
 */
#include <linux/slab.h>
#include <linux/sched.h>
#include <linux/err.h>
#include <linux/export.h>
#include "internal.h"
#include "trace/events/spanheap.h"

#define FIN_BATCH	32

/*
 * The finalizer worker: run queued finalizers until none is left.  A
 * batch is taken off the queue and run inside one section; the objects
 * stay safe because no collection can mark until the section ends.
 */
void shp_fin_workfn(struct work_struct *work)
{
	struct spanheap *heap = container_of(work, struct spanheap, fin_work);
	struct shp_queue_entry e[FIN_BATCH];
	struct mem_cgroup *memcg = shp_memcg_enter(heap);
	unsigned int n, i;

	for (;;) {
		spanheap_enter(heap);
		n = shp_finq_pop(heap, e, FIN_BATCH);
		for (i = 0; i < n; i++) {
			trace_spanheap_finalizer_run(heap, e[i].fn, n - i - 1);
			e[i].fn(heap, e[i].obj, e[i].ctx);
		}
		spanheap_exit(heap);
		if (!n)
			break;
		shp_finq_done(heap, n);
		cond_resched();
	}
	shp_memcg_exit(memcg);
}

/*
 * Has object @idx of @s a finalizer at @off?  The fin bit summarises
 * the object's records at any offset, so a clear bit answers without
 * the lock.  Checked before a new record is allocated, so that a second
 * finalizer is refused with -EEXIST however little memory is left; one
 * set meanwhile is still refused by shp_special_add().
 */
static bool finalizer_at(struct shp_span *s, unsigned int idx,
			 unsigned int off)
{
	bool found;

	if (!test_bit(idx, shp_fin_bits(s)))
		return false;
	spin_lock(&s->speciallock);
	found = shp_special_find(s, idx, off, SPANHEAP_SPECIAL_FINALIZER);
	spin_unlock(&s->speciallock);
	return found;
}

/**
 * shp_finalizer_check() - may a finalizer be set at an object?
 * @heap: heap
 * @obj: as for spanheap_set_finalizer()
 *
 * For callers that allocate before spanheap_set_finalizer() (the ioctl
 * path arms its event record first): the errors it would return
 * whatever memory is left.  Allocates nothing, not even the span's
 * records array (an object without one has no finalizer), so a caller
 * failing next has changed nothing.
 *
 * Context: inside a mutator section, no spinlock held.
 * Return: 0; -EFAULT, -EINVAL or -EEXIST as spanheap_set_finalizer().
 */
int shp_finalizer_check(struct spanheap *heap, void *obj)
{
	unsigned int idx, off;
	struct shp_span *s;

	shp_assert_in_section(heap);
	/* Allocates nothing: a span without a specials array has no finalizer. */
	s = shp_find_swept(heap, obj, &idx, &off, SHP_IN_TINY);
	if (IS_ERR(s))
		return PTR_ERR(s);
	return finalizer_at(s, idx, off) ? -EEXIST : 0;
}

/**
 * spanheap_set_finalizer() - set or remove an object's finalizer
 * @heap: heap
 * @obj: start of an allocated object, or any byte of a tiny block (a
 *	NOSCAN object of at most 16 bytes: see spanheap_alloc())
 * @fn: finalizer to run once @obj is found unreachable, or NULL to
 *	remove the one set
 * @ctx: passed to @fn
 *
 * When a collection finds @obj unreachable, the finalizer is queued and
 * removed, and @obj is kept for one more cycle: @fn receives it and may
 * make it reachable again.  If A references B and both have finalizers,
 * only A's runs in that cycle; an object reachable from itself through
 * SCAN objects is never finalized (see spanheap_finalizer_cycles()).
 *
 * Context: process context, inside a mutator section; may sleep.
 * Return: 0; -EFAULT if @obj is not in @heap; -EINVAL if it is not the
 * start of an allocated object or a byte of a tiny block; -EEXIST if a
 * finalizer is already set at @obj (found before anything is allocated);
 * -ENOMEM.  Removing when none is set returns 0.  Nothing changes on
 * error.
 */
int spanheap_set_finalizer(struct spanheap *heap, void *obj,
			   spanheap_finalizer_t fn, void *ctx)
{
	struct shp_special_finalizer *f = NULL;
	struct shp_special *sp;
	unsigned int idx, off;
	struct shp_span *s;
	int ret = 0;

	shp_assert_in_section(heap);
	/* A removal needs no specials array: none means nothing to remove. */
	s = fn ? shp_special_target(heap, obj, &idx, &off, SHP_IN_TINY) :
		 shp_find_swept(heap, obj, &idx, &off, SHP_IN_TINY);
	if (IS_ERR(s))
		return PTR_ERR(s);
	if (fn) {
		if (finalizer_at(s, idx, off))
			return -EEXIST;
		sp = shp_special_new(heap, SPANHEAP_SPECIAL_FINALIZER);
		if (!sp)
			return -ENOMEM;
		f = container_of(sp, struct shp_special_finalizer, sp);
		f->fn = fn;
		f->ctx = ctx;
		sp->offset = off;
	}
	spin_lock(&s->speciallock);
	if (f) {
		ret = shp_special_add(s, idx, &f->sp);
		if (!ret)
			f = NULL;
	} else {
		f = (struct shp_special_finalizer *)shp_special_unlink(s, idx, off,
						SPANHEAP_SPECIAL_FINALIZER);
	}
	spin_unlock(&s->speciallock);
	if (f)
		shp_special_free(heap, &f->sp);
	return ret;
}
EXPORT_SYMBOL_GPL(spanheap_set_finalizer);

/**
 * spanheap_take_finalizer() - remove an object's finalizer, returning its context
 * @heap: heap
 * @obj: as for spanheap_set_finalizer()
 * @ctx: set to the removed finalizer's context
 *
 * Like spanheap_set_finalizer() with a NULL @fn, for callers that own
 * what the context points to: exactly one of this call and the
 * finalizer's run sees each context.
 *
 * Context: process context, inside a mutator section; does not allocate.
 * Return: 0; -ENOENT if @obj has no finalizer (none set, or already
 * queued to run); -EFAULT or -EINVAL as spanheap_set_finalizer().
 */
int spanheap_take_finalizer(struct spanheap *heap, void *obj, void **ctx)
{
	struct shp_special *sp;
	unsigned int idx, off;
	struct shp_span *s;

	shp_assert_in_section(heap);
	s = shp_find_swept(heap, obj, &idx, &off, SHP_IN_TINY);
	if (IS_ERR(s))
		return PTR_ERR(s);
	spin_lock(&s->speciallock);
	sp = shp_special_unlink(s, idx, off, SPANHEAP_SPECIAL_FINALIZER);
	spin_unlock(&s->speciallock);
	if (!sp)
		return -ENOENT;
	*ctx = container_of(sp, struct shp_special_finalizer, sp)->ctx;
	shp_special_free(heap, sp);
	return 0;
}
EXPORT_SYMBOL_GPL(spanheap_take_finalizer);

/**
 * spanheap_wait_finalizers() - wait until the finalizer queue is empty
 * @heap: heap
 *
 * Returns once every finalizer queued before the call has run.
 * Finalizers queued by a lazy sweep wait for the end of the sweep (the
 * background sweeper's or the next cycle's); this wakes them first.
 *
 * Context: process context outside any section of @heap; may sleep.
 */
void spanheap_wait_finalizers(struct spanheap *heap)
{
	shp_finq_wake(heap);
	flush_work(&heap->fin_work);
}
EXPORT_SYMBOL_GPL(spanheap_wait_finalizers);
