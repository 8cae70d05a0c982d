// SPDX-License-Identifier: GPL-2.0
/*
 * Module-wide state made on first use: KUnit suites create heaps before
 * the module's init function runs, so nothing here may rely on it.
 *   shp_wq            workqueue of the finalizer workers, paced
 *                     collections and background sweepers
 *   shp_cleanup_wq    unbound workqueue of the parallel cleanup workers
 *   shp_mark_wq       unbound workqueue of the parallel mark workers
 *   record caches     one kmem_cache per special record kind (special.c)
 */
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/workqueue.h>
#include "internal.h"

struct workqueue_struct *shp_wq;
struct workqueue_struct *shp_cleanup_wq;
struct workqueue_struct *shp_mark_wq;

/* 0: Go 1.25's rule, max(online CPUs / 4, 1), fixed when a heap is made. */
unsigned int shp_cleanup_workers;
module_param_named(cleanup_workers, shp_cleanup_workers, uint, 0644);
MODULE_PARM_DESC(cleanup_workers,
		 "Cleanups run at once per heap (0: max(CPUs / 4, 1); at most 16)");

/* 0: the online CPUs, fixed when a heap is made (as Boehm's GC_MARKERS). */
unsigned int shp_mark_workers;
module_param_named(mark_workers, shp_mark_workers, uint, 0644);
MODULE_PARM_DESC(mark_workers,
		 "Workers marking a heap in parallel (0: online CPUs; at most 16; 1: serial)");
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
	if (!shp_cleanup_wq)
		shp_cleanup_wq = alloc_workqueue("spanheap_cleanup", WQ_UNBOUND,
						 0);
	if (!shp_mark_wq)
		shp_mark_wq = alloc_workqueue("spanheap_mark", WQ_UNBOUND, 0);
	if (!shp_wq || !shp_cleanup_wq || !shp_mark_wq)
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
	struct workqueue_struct *wq, *cwq, *mwq;

	mutex_lock(&global_lock);
	wq = shp_wq;
	cwq = shp_cleanup_wq;
	mwq = shp_mark_wq;
	shp_wq = NULL;
	shp_cleanup_wq = NULL;
	shp_mark_wq = NULL;
	shp_special_caches_put();
	mutex_unlock(&global_lock);
	/* Outside global_lock: flushing waits for workers that hold sections. */
	if (wq)
		destroy_workqueue(wq);
	if (cwq)
		destroy_workqueue(cwq);
	if (mwq)
		destroy_workqueue(mwq);
}
