// SPDX-License-Identifier: GPL-2.0
/*
 * Weak handles of an open /dev/spanheap (Go's weak.Pointer).
 *
 * A weak handle names an entry of u->wtab, laid out as an object handle
 * with UH_WEAK_BIT set, so that neither kind is ever taken for the
 * other.  The entry holds one reference on the core's weak cell of the
 * object, whatever its count of WEAK_MAKE calls: that keeps the cell
 * canonical for as long as the entry exists.  The object's handle entry
 * remembers the last weak entry made of it; a WEAK_MAKE that gets the
 * same cell from the core counts one more there, one that gets another
 * cell (the object was found unreachable and resurrected by a finalizer
 * event since) makes a new entry.  The old one reads 0 for good.
 *
 * Entries are charged to the file like handle entries, leaves included,
 * and a dropped index is reused as late as possible; a generation that
 * would wrap retires the table (WEAK_MAKE fails with -ENOSPC).
 */
#include <linux/err.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include "internal.h"
#include "uheap.h"

#define UH_WEAK_COST	sizeof(struct uh_weak)

/**
 * uheap_weak_init() - set up an empty weak handle table
 * @u: state being created
 *
 * Context: process context.
 */
void uheap_weak_init(struct uheap *u)
{
	xa_init_flags(&u->wtab, XA_FLAGS_ALLOC1 | XA_FLAGS_ACCOUNT);
	u->wnext_idx = 1;
}

/* Resolve a weak handle.  Context: u->lock.  Returns entry or ERR_PTR. */
static struct uh_weak *weak_lookup(struct uheap *u, u64 weak)
{
	u64 handle = weak & ~UH_WEAK_BIT;
	u32 idx = handle & (UH_MAX_ENTRIES - 1);
	struct uh_weak *w;

	lockdep_assert_held(&u->lock);
	if (!(weak & UH_WEAK_BIT) ||
	    handle >> (UH_GEN_BITS + UH_INDEX_BITS) != u->tag)
		return ERR_PTR(-EINVAL);	/* an object's, another file's */
	if (!idx)
		return ERR_PTR(-ENOENT);
	w = xa_load(&u->wtab, idx);
	if (w && w->handle == weak)
		return w;
	if (w || uh_handed_out(handle, u->wepoch, u->wnext_idx))
		return ERR_PTR(-ESTALE);	/* dropped */
	return ERR_PTR(-ENOENT);
}

/* Remove an entry and its reference on the cell.  Context: section, u->lock. */
static void weak_erase(struct uheap *u, u32 idx, struct uh_weak *w)
{
	shp_assert_in_section(u->heap);
	lockdep_assert_held(&u->lock);
	if (uh_leaf_alone(&u->wtab, idx))
		uheap_uncharge(u, UH_LEAF_COST);
	xa_erase(&u->wtab, idx);
	u->nweak--;
	spanheap_weak_put(u->heap, w->cell);
	kfree(w);
	uheap_uncharge(u, UH_WEAK_COST);
}

/* A new entry for @cell, which it takes over; its index, or -errno. */
static long weak_new(struct uheap *u, struct spanheap_weak *cell)
{
	u32 idx, next = u->wnext_idx, epoch = u->wepoch;
	struct uh_weak *w;
	bool wrapped = false;
	long ret;

	if (u->wepoch > UH_GEN_MASK)
		return -ENOSPC;			/* retired: every weak handle used */
	w = uh_table_insert(u, &u->wtab, UH_WEAK_COST, &u->wnext_idx, &idx,
			    &wrapped);
	if (IS_ERR(w))
		return PTR_ERR(w);
	w->cell = cell;
	w->count = 1;
	u->nweak++;
	if ((wrapped && ++u->wepoch > UH_GEN_MASK) ||
	    (uh_leaf_alone(&u->wtab, idx) && uheap_charge(u, UH_LEAF_COST))) {
		ret = u->wepoch > UH_GEN_MASK ? -ENOSPC : -ENOMEM;
		if (ret == -ENOMEM) {
			/* Cursor and generation as before; retiring stays. */
			u->wnext_idx = next;
			u->wepoch = epoch;
		}
		xa_erase(&u->wtab, idx);
		u->nweak--;
		kfree(w);
		uheap_uncharge(u, UH_WEAK_COST);
		return ret;			/* the caller still holds @cell */
	}
	w->handle = UH_WEAK_BIT | uh_handle(u, idx, u->wepoch);
	return idx;
}

/**
 * uheap_weak_make() - the weak handle of an object, one more reference
 * @u: state
 * @e: the object's handle entry, looked up
 * @weak: set to the weak handle
 * @count: set to its references
 *
 * Context: inside a section, u->lock held.
 * Return: 0, -EOVERFLOW (U32_MAX references), -ENOSPC (weak handles
 * used up), -ENOMEM; nothing changes on error.
 */
int uheap_weak_make(struct uheap *u, struct uh_entry *e, u64 *weak, u64 *count)
{
	struct spanheap_weak *cell;
	struct uh_weak *w;
	long idx;

	shp_assert_in_section(u->heap);
	lockdep_assert_held(&u->lock);
	cell = spanheap_weak_make(u->heap, e->obj);
	if (IS_ERR(cell))
		return PTR_ERR(cell);
	w = e->weak ? xa_load(&u->wtab, e->weak) : NULL;
	if (w && w->cell == cell) {
		/* The entry holds the cell: the core's new reference goes. */
		spanheap_weak_put(u->heap, cell);
		if (w->count == U32_MAX)
			return -EOVERFLOW;
		w->count++;
	} else {
		idx = weak_new(u, cell);
		if (idx < 0) {
			spanheap_weak_put(u->heap, cell);
			return idx;
		}
		e->weak = idx;
		w = xa_load(&u->wtab, idx);
	}
	*weak = w->handle;
	*count = w->count;
	return 0;
}

/**
 * uheap_weak_get() - the object a weak handle names, if not found dead
 * @u: state
 * @weak: weak handle
 * @obj: set to the object, or NULL once a cycle found it unreachable
 * @count: set to the weak handle's references
 *
 * Context: inside a section, u->lock held.  A non-NULL *@obj is live
 * until the section ends.
 * Return: 0, or -EINVAL, -ENOENT, -ESTALE for @weak.
 */
int uheap_weak_get(struct uheap *u, u64 weak, void **obj, u64 *count)
{
	struct uh_weak *w = weak_lookup(u, weak);

	shp_assert_in_section(u->heap);
	if (IS_ERR(w))
		return PTR_ERR(w);
	*obj = spanheap_weak_value(u->heap, w->cell);
	*count = w->count;
	return 0;
}

/**
 * uheap_weak_drop() - drop one reference of a weak handle
 * @u: state
 * @weak: weak handle
 * @count: set to the references left; at 0 the handle is stale
 *
 * Context: inside a section, u->lock held.
 * Return: 0, or -EINVAL, -ENOENT, -ESTALE for @weak.
 */
int uheap_weak_drop(struct uheap *u, u64 weak, u64 *count)
{
	struct uh_weak *w = weak_lookup(u, weak);

	shp_assert_in_section(u->heap);
	if (IS_ERR(w))
		return PTR_ERR(w);
	*count = --w->count;
	if (!w->count)
		weak_erase(u, weak & (UH_MAX_ENTRIES - 1), w);
	return 0;
}

/* Weak handles STATS looks at per section: a cycle waits for at most that. */
#define UH_WEAK_COUNT_CHUNK	1024

/**
 * uheap_weak_count() - count weak handles for STATS
 * @u: state
 * @handles: set to the weak handles with references
 * @live: set to those whose object was not found unreachable
 *
 * A walk of the table, UH_WEAK_COUNT_CHUNK handles per section and hold
 * of u->lock, so that a large table keeps neither a collection nor the
 * file's other commands waiting for all of it.  Under concurrent
 * commands or cycles both counts are of the handles the walk saw, each
 * read as it was then: *@live <= *@handles always; with nothing running
 * meanwhile, they are exact.
 *
 * Context: process context, no section held; may sleep.
 */
void uheap_weak_count(struct uheap *u, u64 *handles, u64 *live)
{
	unsigned long idx = 0;
	struct uh_weak *w;
	unsigned int n;

	*handles = 0;
	*live = 0;
	do {
		spanheap_enter(u->heap);
		mutex_lock(&u->lock);
		for (n = 0; n < UH_WEAK_COUNT_CHUNK; n++, idx++) {
			w = xa_find(&u->wtab, &idx, ULONG_MAX, XA_PRESENT);
			if (!w)
				break;
			(*handles)++;
			*live += !!spanheap_weak_value(u->heap, w->cell);
		}
		mutex_unlock(&u->lock);
		spanheap_exit(u->heap);
		if (w && u->weak_walk_gap)
			u->weak_walk_gap(u, u->weak_walk_arg);
		cond_resched();
	} while (w);
}

/**
 * uheap_weak_free() - drop every weak handle of a closing file
 * @u: state; no ioctl can run any more, the heap is not destroyed yet
 *
 * Gives the core back its references, as it requires before the heap
 * is destroyed; the charges go with the rest of the file's.
 *
 * Context: process context, outside any section.
 */
void uheap_weak_free(struct uheap *u)
{
	unsigned long idx, n = 0;
	struct uh_weak *w;

	spanheap_enter(u->heap);
	xa_for_each(&u->wtab, idx, w) {
		spanheap_weak_put(u->heap, w->cell);
		kfree(w);
		if (!(++n % 1024))
			cond_resched();
	}
	spanheap_exit(u->heap);
	xa_destroy(&u->wtab);
}
