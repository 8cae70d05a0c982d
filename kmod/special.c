// SPDX-License-Identifier: GPL-2.0
/*
 * Special records (Go's mspan.specials): out-of-band per-object state,
 * such as finalizers and pin counts, kept on the object's span.
 *
 * Go keeps one list per span sorted by (offset, kind) and walks it on
 * every insert, which is quadratic when every object of a span gets a
 * finalizer.  Here a span has an array, indexed by object, of short
 * lists sorted by (offset in the object, kind): the order over the span
 * is the same (object by object), and finding an object's records or
 * adding one is O(1) plus the handful of records the object has.  New
 * kinds need no change here: uniqueness per (offset, kind) is the only
 * rule, and kinds that allow several records per object (cleanups) can
 * be added with a flag.
 *
 * Every function here runs under s->speciallock and on a swept span
 * (callers use shp_ensure_swept() first), so a sweep never sees a
 * record added for the previous cycle's marks.
 */
#include <linux/slab.h>
#include <linux/mm.h>
#include "internal.h"

static struct shp_special **obj_head(struct shp_span *s, unsigned int idx)
{
	return &s->specials[idx];
}

/* A span's specials array: at most 1024 objects, so a kmalloc'ed 8 KiB. */
static size_t specials_bytes(struct shp_span *s)
{
	return s->nelems * sizeof(*s->specials);
}

/* Keep special_bits, fin_bits and npins in step with object @idx's list. */
/**
 * shp_special_update_bits() - recompute an object's summary bits
 * @s: span
 * @idx: object index
 *
 * Context: s->speciallock held.
 */
void shp_special_update_bits(struct shp_span *s, unsigned int idx)
{
	struct shp_special *cur = *obj_head(s, idx);
	bool fin = false;

	for (; cur; cur = cur->next)
		fin |= cur->kind == SPANHEAP_SPECIAL_FINALIZER;
	if (*obj_head(s, idx))
		__set_bit(idx, shp_special_bits(s));
	else
		__clear_bit(idx, shp_special_bits(s));
	if (fin)
		__set_bit(idx, shp_fin_bits(s));
	else
		__clear_bit(idx, shp_fin_bits(s));
}

/**
 * shp_special_account() - count a record in or out of its span
 * @s: span
 * @sp: record
 * @delta: 1 or -1
 *
 * Per-span counts, summed by spanheap_read_stats(): no shared counter
 * to bounce between CPUs on every registration.
 *
 * Context: s->speciallock held.
 */
void shp_special_account(struct shp_span *s, struct shp_special *sp, int delta)
{
	WRITE_ONCE(s->nspecials, s->nspecials + delta);
	if (sp->kind == SPANHEAP_SPECIAL_PIN)
		WRITE_ONCE(s->npins, s->npins + delta);
	else if (sp->kind == SPANHEAP_SPECIAL_FINALIZER)
		WRITE_ONCE(s->nfins, s->nfins + delta);
}

/**
 * shp_special_add() - link a record into an object's list
 * @s: span, its specials array allocated
 * @idx: object index
 * @sp: record with offset and kind set
 *
 * Context: s->speciallock held.
 * Return: 0, or -EEXIST if the object already has a record of that
 * (offset, kind); @sp is then not linked.
 */
int shp_special_add(struct shp_span *s, unsigned int idx, struct shp_special *sp)
{
	struct shp_special **link = obj_head(s, idx), *cur;

	lockdep_assert_held(&s->speciallock);
	for (; (cur = *link); link = &cur->next) {
		if (cur->offset > sp->offset ||
		    (cur->offset == sp->offset && cur->kind > sp->kind))
			break;
		if (cur->offset == sp->offset && cur->kind == sp->kind)
			return -EEXIST;
	}
	sp->next = *link;
	*link = sp;
	shp_special_account(s, sp, 1);
	shp_special_update_bits(s, idx);
	return 0;
}

/**
 * shp_special_find() - find an object's record
 * @s: span
 * @idx: object index
 * @offset: offset inside the object
 * @kind: kind
 *
 * Context: s->speciallock held.
 * Return: the record or NULL.
 */
struct shp_special *shp_special_find(struct shp_span *s, unsigned int idx,
				     unsigned int offset, unsigned int kind)
{
	struct shp_special *cur;

	lockdep_assert_held(&s->speciallock);
	if (!s->specials)
		return NULL;
	for (cur = *obj_head(s, idx); cur; cur = cur->next)
		if (cur->offset == offset && cur->kind == kind)
			return cur;
	return NULL;
}

/**
 * shp_special_unlink() - remove an object's record from its list
 * @s: span
 * @idx: object index
 * @offset: offset inside the object
 * @kind: kind
 *
 * Context: s->speciallock held.
 * Return: the record, now the caller's to free, or NULL if none.
 */
struct shp_special *shp_special_unlink(struct shp_span *s, unsigned int idx,
				       unsigned int offset, unsigned int kind)
{
	struct shp_special **link, *cur;

	lockdep_assert_held(&s->speciallock);
	if (!s->specials)
		return NULL;
	for (link = obj_head(s, idx); (cur = *link); link = &cur->next) {
		if (cur->offset == offset && cur->kind == kind) {
			*link = cur->next;
			shp_special_account(s, cur, -1);
			shp_special_update_bits(s, idx);
			return cur;
		}
	}
	return NULL;
}

/**
 * shp_special_free_object() - free every record of an object
 * @s: span
 * @idx: object index
 *
 * Context: s->speciallock held.
 */
void shp_special_free_object(struct shp_span *s, unsigned int idx)
{
	struct shp_special *cur, *next;

	lockdep_assert_held(&s->speciallock);
	if (!s->specials)
		return;
	for (cur = *obj_head(s, idx); cur; cur = next) {
		next = cur->next;
		shp_special_account(s, cur, -1);
		shp_special_free(s->heap, cur);
	}
	*obj_head(s, idx) = NULL;
	shp_special_update_bits(s, idx);
}

/**
 * shp_special_free_all() - free every record of a span and its array
 * @s: span being released; nobody else can reach it
 *
 * Context: any.
 */
void shp_special_free_all(struct shp_span *s)
{
	unsigned int idx;

	if (!s->specials)
		return;
	spin_lock(&s->speciallock);
	for (idx = 0; idx < s->nelems && s->nspecials; idx++)
		shp_special_free_object(s, idx);
	spin_unlock(&s->speciallock);
	kfree(s->specials);
	s->specials = NULL;
	shp_meta_uncharge(s->heap, specials_bytes(s));
}

/**
 * shp_special_target() - validate an object for a special operation
 * @heap: heap
 * @obj: must be the start of an allocated object of @heap
 * @idx: object index, set on success
 *
 * Sweeps the span if needed and makes sure it has a specials array.
 *
 * Context: process context, inside a mutator section; rcu_read_lock()
 * must NOT be held (the array is allocated with GFP_KERNEL).
 * Return: the span, or an ERR_PTR: -EFAULT outside the heap, -EINVAL not
 * the start of an allocated object, -ENOMEM.
 */
struct shp_span *shp_special_target(struct spanheap *heap, const void *obj,
				    unsigned int *idx)
{
	struct shp_special **arr;
	struct shp_span *s;

	s = shp_find_swept_object(heap, obj, idx);
	if (IS_ERR(s) || READ_ONCE(s->specials))
		return s;
	if (!shp_meta_charge(heap, specials_bytes(s), false))
		return ERR_PTR(-ENOMEM);
	arr = kcalloc(s->nelems, sizeof(*arr), SHP_GFP);
	if (!arr) {
		shp_meta_uncharge(heap, specials_bytes(s));
		return ERR_PTR(-ENOMEM);
	}
	spin_lock(&s->speciallock);
	if (!s->specials) {
		WRITE_ONCE(s->specials, arr);
		arr = NULL;
	}
	spin_unlock(&s->speciallock);
	if (arr) {	/* another task made the array first */
		shp_meta_uncharge(heap, specials_bytes(s));
		kfree(arr);
	}
	return s;
}
