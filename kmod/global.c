// SPDX-License-Identifier: GPL-2.0
/*
 * Module-wide state made on first use: KUnit suites create heaps before
 * the module's init function runs, so nothing here may rely on it.
 *   shp_wq            workqueue of the finalizer workers, paced
 *                     collections and background sweepers
 *   special caches    one kmem_cache per special record kind
 */
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include "internal.h"

struct workqueue_struct *shp_wq;
static struct kmem_cache *special_cache[SPANHEAP_NR_SPECIAL_KINDS];
static DEFINE_MUTEX(global_lock);

static const struct {
	const char *name;
	unsigned int size;
} special_kinds[SPANHEAP_NR_SPECIAL_KINDS] = {
	[SPANHEAP_SPECIAL_FINALIZER] = { "spanheap_special_finalizer",
					 sizeof(struct shp_special_finalizer) },
	[SPANHEAP_SPECIAL_PIN] = { "spanheap_special_pin",
				   sizeof(struct shp_special_pin) },
};

/**
 * shp_global_get() - make sure the module-wide state exists
 *
 * Context: process context, may sleep.
 * Return: 0 or -ENOMEM.
 */
int shp_global_get(void)
{
	unsigned int k;
	int ret = 0;

	mutex_lock(&global_lock);
	if (!shp_wq)
		shp_wq = alloc_workqueue("spanheap", WQ_UNBOUND, 0);
	if (!shp_wq)
		ret = -ENOMEM;
	for (k = 1; k < SPANHEAP_NR_SPECIAL_KINDS && !ret; k++) {
		if (!special_cache[k])
			special_cache[k] = kmem_cache_create(special_kinds[k].name,
							     special_kinds[k].size, 0,
							     SLAB_ACCOUNT, NULL);
		if (!special_cache[k])
			ret = -ENOMEM;
	}
	mutex_unlock(&global_lock);
	return ret;
}

/**
 * shp_global_exit() - free the module-wide state
 *
 * Context: module exit, every heap destroyed.
 */
void shp_global_exit(void)
{
	struct workqueue_struct *wq;
	unsigned int k;

	mutex_lock(&global_lock);
	wq = shp_wq;
	shp_wq = NULL;
	for (k = 1; k < SPANHEAP_NR_SPECIAL_KINDS; k++) {
		kmem_cache_destroy(special_cache[k]);
		special_cache[k] = NULL;
	}
	mutex_unlock(&global_lock);
	/* Outside global_lock: flushing waits for workers that hold sections. */
	if (wq)
		destroy_workqueue(wq);
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

	if (!shp_meta_charge(heap, special_kinds[kind].size, false))
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
 * Context: any.
 */
void shp_special_free(struct spanheap *heap, struct shp_special *sp)
{
	shp_meta_uncharge(heap, special_kinds[sp->kind].size);
	kmem_cache_free(special_cache[sp->kind], sp);
}
