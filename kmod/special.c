// SPDX-License-Identifier: GPL-2.0
/*
 * Special records (Go's mspan.specials): out-of-band per-object state,
 * such as finalizers, cleanups, weak handles and pin counts, kept on the
 * object's span.
 *
 * Go keeps one list per span sorted by (offset, kind) and walks it on
 * every insert, which is quadratic when every object of a span gets a
 * finalizer.  Here a span has an array, indexed by object, of short
 * lists sorted by (offset in the object, kind): the order over the span
 * is the same (object by object), and finding an object's records or
 * adding one is O(1) plus the handful of records the object has.  One
 * record per (offset, kind), except cleanups: any number, kept in the
 * order they were added and told apart by their ids.
 *
 * Records come from one kmem_cache per kind, made on first use (see
 * shp_special_caches_get()) and charged to their heap's limit.  A weak
 * record holds its handle's cell, and its memory (still charged)
 * outlives its unlinking until the handle's last reference.
 *
 * Lists change only under s->speciallock and on a swept span (callers
 * resolve the object with shp_find_swept_object() first), so a sweep
 * never sees a record added for the previous cycle's marks.
 */
#include <linux/slab.h>
#include <linux/mm.h>
#include "internal.h"

static struct kmem_cache *special_cache[SPANHEAP_NR_SPECIAL_KINDS];

static const struct {
	const char *name;
	unsigned int size;
} special_kinds[SPANHEAP_NR_SPECIAL_KINDS] = {
	[SPANHEAP_SPECIAL_FINALIZER] = { "spanheap_special_finalizer",
					 sizeof(struct shp_special_finalizer) },
	[SPANHEAP_SPECIAL_PIN] = { "spanheap_special_pin",
				   sizeof(struct shp_special_pin) },
	[SPANHEAP_SPECIAL_CLEANUP] = { "spanheap_special_cleanup",
				       sizeof(struct shp_special_cleanup) },
	[SPANHEAP_SPECIAL_WEAK] = { "spanheap_special_weak",
				    sizeof(struct shp_special_weak) },
};

/**
 * shp_special_caches_get() - make the record caches that do not exist yet
 *
 * Context: process context, the module-wide lock held (global.c).
 * Return: 0 or -ENOMEM.
 */
int shp_special_caches_get(void)
{
	unsigned int k;

	for (k = 1; k < SPANHEAP_NR_SPECIAL_KINDS; k++) {
		if (!special_cache[k])
			special_cache[k] = kmem_cache_create(special_kinds[k].name,
							     special_kinds[k].size, 0,
							     SLAB_ACCOUNT, NULL);
		if (!special_cache[k])
			return -ENOMEM;
	}
	return 0;
}

/**
 * shp_special_caches_put() - destroy the record caches
 *
 * Context: module exit, every heap destroyed.
 */
void shp_special_caches_put(void)
{
	unsigned int k;

	for (k = 1; k < SPANHEAP_NR_SPECIAL_KINDS; k++) {
		kmem_cache_destroy(special_cache[k]);
		special_cache[k] = NULL;
	}
}

/**
 * shp_weak_cell_put() - drop a reference to a weak handle's cell
 * @heap: heap its record was charged to
 * @w: cell
 *
 * The last reference frees the record the cell lives in, and its charge.
 *
 * Context: any.
 */
void shp_weak_cell_put(struct spanheap *heap, struct spanheap_weak *w)
{
	if (!refcount_dec_and_test(&w->ref))
		return;
	kmem_cache_free(special_cache[SPANHEAP_SPECIAL_WEAK],
			container_of(w, struct shp_special_weak, cell));
	shp_meta_uncharge(heap, special_kinds[SPANHEAP_SPECIAL_WEAK].size);
}

/**
 * shp_special_alloc() - allocate a zeroed special record for a heap
 * @heap: heap the record is charged to (shp_meta_charge())
 * @kind: enum spanheap_special_kind
 *
 * Context: process context, may sleep.
 * Return: the record with @kind set, or NULL (no memory, or over the
 * heap's limit).
 */
struct shp_special *shp_special_alloc(struct spanheap *heap, unsigned int kind)
{
	struct shp_special *sp;

	if (!shp_meta_charge_reclaim(heap, special_kinds[kind].size))
		return NULL;
	sp = kmem_cache_zalloc(special_cache[kind], SHP_GFP);
	if (!sp) {
		shp_meta_uncharge(heap, special_kinds[kind].size);
		return NULL;
	}
	sp->kind = kind;
	return sp;
}

/**
 * shp_special_free() - free a special record
 * @heap: heap it was charged to
 * @sp: record, unlinked
 *
 * A weak record's handle is cleared and loses the record's reference:
 * the memory, the cell's too, and its charge go with the handle's last
 * reference.
 *
 * Context: any; for a weak record that was linked, the speciallock it
 * was linked under is still held (cells change only under it, weak.c).
 */
void shp_special_free(struct spanheap *heap, struct shp_special *sp)
{
	if (sp->kind == SPANHEAP_SPECIAL_WEAK) {
		struct spanheap_weak *w =
			&container_of(sp, struct shp_special_weak, sp)->cell;

		WRITE_ONCE(w->ptr, NULL);	/* reads NULL from now on */
		shp_weak_cell_put(heap, w);
		return;
	}
	shp_meta_uncharge(heap, special_kinds[sp->kind].size);
	kmem_cache_free(special_cache[sp->kind], sp);
}

/**
 * shp_special_free_chain() - free a chain of unlinked cleanup records
 * @heap: heap they were charged to
 * @sp: first record, the chain linked through @sp->next and ending in NULL
 *
 * shp_special_free() for each, the charge given back at once.
 *
 * Context: any.
 */
void shp_special_free_chain(struct spanheap *heap, struct shp_special *sp)
{
	struct shp_special *next;
	long bytes = 0;

	for (; sp; sp = next) {
		next = sp->next;
		if (WARN_ON_ONCE(sp->kind != SPANHEAP_SPECIAL_CLEANUP)) {
			shp_special_free(heap, sp);
			continue;
		}
		bytes += special_kinds[sp->kind].size;
		kmem_cache_free(special_cache[sp->kind], sp);
	}
	shp_meta_uncharge(heap, bytes);
}

static struct shp_special **obj_head(struct shp_span *s, unsigned int idx)
{
	return &s->specials[idx];
}

/* A span's specials array: at most 1024 objects, so a kmalloc'ed 8 KiB. */
static size_t specials_bytes(struct shp_span *s)
{
	return s->nelems * sizeof(*s->specials);
}

/**
 * shp_special_update_bits() - recompute an object's summary bits
 * @s: span
 * @idx: object index
 *
 * Keeps special_bits and fin_bits in step with the object's list.
 *
 * Context: s->speciallock held.
 */
void shp_special_update_bits(struct shp_span *s, unsigned int idx)
{
	struct shp_special *cur = *obj_head(s, idx);
	bool fin = false;

	lockdep_assert_held(&s->speciallock);
	for (; cur; cur = cur->next)
		fin |= cur->kind == SPANHEAP_SPECIAL_FINALIZER;
	shp_special_bit_assign(s, shp_special_bits(s), idx, *obj_head(s, idx));
	shp_special_bit_assign(s, shp_fin_bits(s), idx, fin);
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
	shp_special_account_kind(s, sp->kind, delta);
}

/**
 * shp_special_account_kind() - count records of one kind in or out of a span
 * @s: span
 * @kind: their kind
 * @delta: how many, negative for out
 *
 * Context: s->speciallock held.
 */
void shp_special_account_kind(struct shp_span *s, unsigned int kind, int delta)
{
	lockdep_assert_held(&s->speciallock);
	WRITE_ONCE(s->nspecials, s->nspecials + delta);
	WRITE_ONCE(s->nkind[kind], s->nkind[kind] + delta);
	if (kind == SPANHEAP_SPECIAL_CLEANUP && !s->nkind[kind])
		s->cleanup_roots = false;
}

/**
 * shp_special_add() - link a record into an object's list
 * @s: span, its specials array allocated
 * @idx: object index
 * @sp: record with offset and kind set
 *
 * Context: s->speciallock held.
 * Return: 0, or -EEXIST if the object already has a record of that
 * (offset, kind) and the kind is not a cleanup; @sp is then not linked.
 */
int shp_special_add(struct shp_span *s, unsigned int idx, struct shp_special *sp)
{
	struct shp_special **link = obj_head(s, idx), *cur;

	lockdep_assert_held(&s->speciallock);
	for (; (cur = *link); link = &cur->next) {
		if (cur->offset > sp->offset ||
		    (cur->offset == sp->offset && cur->kind > sp->kind))
			break;
		if (cur->offset == sp->offset && cur->kind == sp->kind &&
		    sp->kind != SPANHEAP_SPECIAL_CLEANUP)
			return -EEXIST;
	}
	sp->next = *link;
	*link = sp;
	shp_special_account(s, sp, 1);
	/* shp_special_update_bits() without the walk: one record more. */
	shp_special_bit_assign(s, shp_special_bits(s), idx, true);
	if (sp->kind == SPANHEAP_SPECIAL_FINALIZER)
		shp_special_bit_assign(s, shp_fin_bits(s), idx, true);
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
 * shp_special_unlink_cleanup() - remove one cleanup record of an object
 * @s: span
 * @idx: object index
 * @offset: offset inside the object
 * @id: the cleanup's id
 *
 * Context: s->speciallock held.
 * Return: the record, now the caller's to free, or NULL if none.
 */
struct shp_special *shp_special_unlink_cleanup(struct shp_span *s,
					       unsigned int idx,
					       unsigned int offset, s64 id)
{
	struct shp_special **link, *cur;

	lockdep_assert_held(&s->speciallock);
	if (!s->specials)
		return NULL;
	for (link = obj_head(s, idx); (cur = *link); link = &cur->next) {
		if (cur->offset == offset && cur->kind == SPANHEAP_SPECIAL_CLEANUP &&
		    container_of(cur, struct shp_special_cleanup, sp)->id == id) {
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
 * shp_special_drop() - free the records of an object being freed
 * @s: span
 * @idx: object index
 *
 * An explicitly freed object's finalizer and cleanups never run; its
 * weak handles read NULL.
 *
 * Context: the caller owns the object's slot (owner or central lock).
 */
void shp_special_drop(struct shp_span *s, unsigned int idx)
{
	if (!READ_ONCE(s->specials))
		return;
	spin_lock(&s->speciallock);
	shp_special_free_object(s, idx);
	spin_unlock(&s->speciallock);
}

/**
 * shp_special_prepare() - give a span its specials array if it has none
 * @heap: heap of @s
 * @s: span of an object about to get a record
 *
 * Context: process context, rcu_read_lock() NOT held (the array is
 * allocated with GFP_KERNEL).
 * Return: 0, or -ENOMEM.
 */
int shp_special_prepare(struct spanheap *heap, struct shp_span *s)
{
	struct shp_special **arr;

	if (READ_ONCE(s->specials))
		return 0;
	if (!shp_meta_charge_reclaim(heap, specials_bytes(s)))
		return -ENOMEM;
	arr = kcalloc(s->nelems, sizeof(*arr), SHP_GFP);
	if (!arr) {
		shp_meta_uncharge(heap, specials_bytes(s));
		return -ENOMEM;
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
	return 0;
}
