// SPDX-License-Identifier: GPL-2.0
/*
 * Module-wide state made on first use: KUnit suites create heaps before
 * the module's init function runs, so nothing here may rely on it.
 *   shp_wq            workqueue of the finalizer workers, paced
 *                     collections and background sweepers
 *   record caches     one kmem_cache per special record kind (special.c)
 */
#include <linux/mutex.h>
#include <linux/workqueue.h>
#include "internal.h"

struct workqueue_struct *shp_wq;
static DEFINE_MUTEX(global_lock);

/**
 * shp_global_get() - make sure the module-wide state exists
 *
 * Context: process context, may sleep.
 * Return: 0 or -ENOMEM.
 */
int shp_global_get(void)
{
	int ret = 0;

	mutex_lock(&global_lock);
	if (!shp_wq)
		shp_wq = alloc_workqueue("spanheap", WQ_UNBOUND, 0);
	if (!shp_wq)
		ret = -ENOMEM;
	if (!ret)
		ret = shp_special_caches_get();
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

	mutex_lock(&global_lock);
	wq = shp_wq;
	shp_wq = NULL;
	shp_special_caches_put();
	mutex_unlock(&global_lock);
	/* Outside global_lock: flushing waits for workers that hold sections. */
	if (wq)
		destroy_workqueue(wq);
}
