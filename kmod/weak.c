// SPDX-License-Identifier: GPL-2.0
/*
 * Weak handles (Go 1.24's weak.Pointer).
 *
 * A handle is a cell outside the heap holding its target pointer,
 * allocated with the special record it belongs to on the target's
 * object: one record, so one handle, per (object, offset), which makes
 * handles canonical.  The collector never scans the cell.  The sweep
 * that first finds the object unreachable clears the cell and unlinks
 * the record, before a finalizer can resurrect the object; a handle made
 * afterwards is a new record and a new cell.  The record holds a
 * reference on the cell, and each spanheap_weak_make() one more; their
 * memory and charge go with the last reference, and a put that leaves
 * only the record's reference removes the record too, so handles nobody
 * holds do not accumulate on long-lived objects.
 *
 * Reading a handle sweeps the target's span first (Go's
 * makeStrongFromWeak): an object the last cycle found dead must read
 * NULL even before the sweeper reaches it.  Cells change only under the
 * target span's speciallock.
 */
#include <linux/err.h>
#include <linux/export.h>
#include "internal.h"

/*
 * The handle of (@s, @idx, @off) with one more reference: its record's,
 * or @fresh's, linked now.  NULL if it has none and @fresh is NULL.
 */
static struct spanheap_weak *weak_get(struct spanheap *heap, struct shp_span *s,
				      unsigned int idx, unsigned int off,
				      struct shp_special_weak *fresh)
{
	struct shp_special *sp;
	struct spanheap_weak *w = NULL;

	spin_lock(&s->speciallock);
	sp = shp_special_find(s, idx, off, SPANHEAP_SPECIAL_WEAK);
	if (sp) {
		w = &container_of(sp, struct shp_special_weak, sp)->cell;
	} else if (fresh) {
		fresh->sp.offset = off;
		/* Cannot clash: nothing was found under the same lock. */
		if (!WARN_ON_ONCE(shp_special_add(s, idx, &fresh->sp)))
			w = &fresh->cell;
	}
	if (w)
		refcount_inc(&w->ref);
	spin_unlock(&s->speciallock);
	return w;
}

/**
 * spanheap_weak_make() - get the weak handle of a pointer
 * @heap: heap
 * @ptr: any byte of an allocated object
 *
 * Making a handle of the same (object, offset) again returns the same
 * handle, with one more reference: every successful call is matched by
 * one spanheap_weak_put().  The handle keeps nothing alive.
 *
 * Context: process context, inside a mutator section; may sleep.
 * Return: the handle, or ERR_PTR(-EFAULT) if @ptr is not in @heap,
 * ERR_PTR(-EINVAL) if it is not inside an allocated object,
 * ERR_PTR(-ENOMEM).
 */
struct spanheap_weak *spanheap_weak_make(struct spanheap *heap, void *ptr)
{
	struct shp_special_weak *fresh;
	struct shp_special *sp;
	struct spanheap_weak *w;
	unsigned int idx, off;
	struct shp_span *s;

	shp_assert_in_section(heap);
	s = shp_special_target(heap, ptr, &idx, &off, SHP_ANYWHERE);
	if (IS_ERR(s))
		return ERR_CAST(s);
	/*
	 * An object without records has no handle: make one without looking
	 * first.  The bit is a hint; the locked find-or-add below decides.
	 */
	if (test_bit(idx, shp_special_bits(s))) {
		w = weak_get(heap, s, idx, off, NULL);
		if (w)
			return w;
	}
	sp = shp_special_new(heap, SPANHEAP_SPECIAL_WEAK);
	if (!sp)
		return ERR_PTR(-ENOMEM);
	fresh = container_of(sp, struct shp_special_weak, sp);
	fresh->cell.ptr = ptr;
	refcount_set(&fresh->cell.ref, 1);	/* the record's */
	w = weak_get(heap, s, idx, off, fresh);
	if (w != &fresh->cell)	/* another task made it meanwhile */
		shp_special_free(heap, sp);	/* seen by nobody */
	return w ?: ERR_PTR(-EEXIST);	/* never: see weak_get() */
}
EXPORT_SYMBOL_GPL(spanheap_weak_make);

/**
 * spanheap_weak_value() - the pointer a weak handle names, if still live
 * @heap: heap the handle was made in
 * @w: handle
 *
 * Context: inside a mutator section; does not sleep.  A non-NULL result
 * is a strong pointer until the section ends.
 * Return: the pointer given to spanheap_weak_make(), or NULL once its
 * object was found unreachable (even if a finalizer resurrected it) or
 * freed.
 */
void *spanheap_weak_value(struct spanheap *heap, struct spanheap_weak *w)
{
	unsigned int idx;
	struct shp_span *s;
	void *p;

	shp_assert_in_section(heap);
	p = READ_ONCE(w->ptr);
	if (!p)
		return NULL;
	/* The last cycle may have found it dead: sweep first, then trust it. */
	rcu_read_lock();
	s = shp_find_object(heap, p, &idx);
	if (!s) {		/* swept and released: cleared before that */
		rcu_read_unlock();
		return NULL;
	}
	shp_ensure_swept(heap, s);
	rcu_read_unlock();
	return READ_ONCE(w->ptr);
}
EXPORT_SYMBOL_GPL(spanheap_weak_value);

/**
 * spanheap_weak_put() - drop a reference got from spanheap_weak_make()
 * @heap: heap the handle was made in
 * @w: handle; not to be used by the caller afterwards
 *
 * Dropping the last reference to the handle of a live object removes
 * its record: a later spanheap_weak_make() makes a new handle.  Every
 * reference must be dropped before the heap is destroyed.
 *
 * Context: inside a mutator section; does not sleep.
 */
void spanheap_weak_put(struct spanheap *heap, struct spanheap_weak *w)
{
	struct shp_special *sp;
	unsigned int idx, off;
	struct shp_span *s;
	bool done = false;
	void *p;

	shp_assert_in_section(heap);
	p = spanheap_weak_value(heap, w);
	if (p) {
		rcu_read_lock();
		s = shp_find_object(heap, p, &idx);
		if (s) {
			spin_lock(&s->speciallock);
			/* Non-NULL under the lock: the record holds a reference. */
			if (READ_ONCE(w->ptr) && refcount_read(&w->ref) > 2) {
				refcount_dec(&w->ref);
				done = true;
			} else if (READ_ONCE(w->ptr)) {
				off = (unsigned long)p - (s->base + idx * s->elemsize);
				sp = shp_special_unlink(s, idx, off,
							SPANHEAP_SPECIAL_WEAK);
				if (!WARN_ON_ONCE(!sp))
					shp_special_free(heap, sp); /* one ref left */
			}
			spin_unlock(&s->speciallock);
		}
		rcu_read_unlock();
	}
	if (!done)
		shp_weak_cell_put(heap, w);
}
EXPORT_SYMBOL_GPL(spanheap_weak_put);
