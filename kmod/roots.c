// SPDX-License-Identifier: GPL-2.0
/*
 * Roots: what a cycle's mark starts from, besides the finalizer queue
 * and the objects' special records.
 *
 *   root slots   pointer variables outside the heap (heap->roots)
 *   root scan    the heap owner's callback, reporting roots of its own
 *   pins         counted special records making an object a root
 *
 * heap->roots_lock protects the slot array; a pin is a record on its
 * object's span (special.c), marked by shp_mark_specials().
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/export.h>
#include <linux/err.h>
#include "internal.h"

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

	shp_assert_in_section(heap);
	s = shp_special_target(heap, obj, &idx, NULL, SHP_AT_START);
	if (IS_ERR(s))
		return PTR_ERR(s);
	for (;;) {
		spin_lock(&s->speciallock);
		sp = shp_special_find(s, idx, 0, SPANHEAP_SPECIAL_PIN);
		if (sp || fresh)
			break;
		spin_unlock(&s->speciallock);
		sp = shp_special_new(heap, SPANHEAP_SPECIAL_PIN);
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

	shp_assert_in_section(heap);
	s = shp_find_swept(heap, obj, &idx, NULL, SHP_AT_START);
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

/**
 * shp_mark_roots() - mark from the root slots and the owner's roots
 * @heap: heap being marked, mark reset
 *
 * Context: heap->sections held for writing.
 */
void shp_mark_roots(struct spanheap *heap)
{
	unsigned int i;

	shp_assert_world_stopped(heap);
	spin_lock(&heap->roots_lock);
	for (i = 0; i < heap->nroots; i++)
		spanheap_mark_root(heap, READ_ONCE(*heap->roots[i]));
	spin_unlock(&heap->roots_lock);
	shp_mark_drain(heap);
	if (heap->root_scan) {
		heap->root_scan(heap, heap->root_scan_arg);
		shp_mark_drain(heap);
	}
}
