// SPDX-License-Identifier: GPL-2.0
/*
 * debugfs: /sys/kernel/debug/spanheap/<name>-<id>/ for every heap:
 *   stats             counters (see shp_stats_print())
 *   finalizer_cycles  finalizable objects reachable from themselves
 * The root directory is made by the first heap, since KUnit suites run
 * (and create heaps) before the module's init function.
 */
#include <linux/debugfs.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include "internal.h"

static struct dentry *shp_debugfs_root;
static DEFINE_MUTEX(shp_debugfs_lock);

static int stats_show(struct seq_file *m, void *v)
{
	shp_stats_print(m, m->private);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

static void cycle_report(void *arg, void *obj)
{
	seq_printf(arg, "%p\n", obj);	/* hashed: no kernel address leaks */
}

/* Finalizable objects reachable from themselves: they never run. */
static int finalizer_cycles_show(struct seq_file *m, void *v)
{
	int n = spanheap_finalizer_cycles(m->private, cycle_report, m);

	seq_printf(m, "%d finalizable objects on cycles\n", n);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(finalizer_cycles);

static void make_root(void)
{
	mutex_lock(&shp_debugfs_lock);
	if (!shp_debugfs_root)
		shp_debugfs_root = debugfs_create_dir("spanheap", NULL);
	mutex_unlock(&shp_debugfs_lock);
}

/**
 * shp_debugfs_init() - create /sys/kernel/debug/spanheap at module init
 *
 * Context: module init.
 */
void shp_debugfs_init(void)
{
	make_root();
}

/**
 * shp_debugfs_add() - create a heap's debugfs directory
 * @heap: new heap
 *
 * Failure is not an error: the heap just has no debugfs files.
 *
 * Context: process context.
 */
void shp_debugfs_add(struct spanheap *heap)
{
	char name[48];

	make_root();
	mutex_lock(&shp_debugfs_lock);
	snprintf(name, sizeof(name), "%s-%u", heap->name, heap->id);
	heap->debugfs = debugfs_create_dir(name, shp_debugfs_root);
	debugfs_create_file("stats", 0400, heap->debugfs, heap, &stats_fops);
	debugfs_create_file("finalizer_cycles", 0400, heap->debugfs, heap,
			    &finalizer_cycles_fops);
	mutex_unlock(&shp_debugfs_lock);
}

/**
 * shp_debugfs_remove() - remove a heap's debugfs directory
 * @heap: heap being destroyed; its files are gone (and no reader is
 *	inside them) when this returns
 *
 * Context: process context.
 */
void shp_debugfs_remove(struct spanheap *heap)
{
	debugfs_remove_recursive(heap->debugfs);
	heap->debugfs = NULL;
}

/**
 * shp_debugfs_exit() - remove the root directory
 *
 * Context: module exit.
 */
void shp_debugfs_exit(void)
{
	mutex_lock(&shp_debugfs_lock);
	debugfs_remove_recursive(shp_debugfs_root);
	shp_debugfs_root = NULL;
	mutex_unlock(&shp_debugfs_lock);
}
