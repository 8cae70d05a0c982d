// SPDX-License-Identifier: GPL-2.0
/*
 * debugfs: /sys/kernel/debug/spanheap/<name>-<id>/ for every heap:
 *   stats             counters (see shp_stats_print())
 *   finalizer_cycles  finalizable objects reachable from themselves
 *   why               write an object's id (its hashed %p, as
 *                     finalizer_cycles prints it), read the path by
 *                     which the collector reaches it (spanheap_why())
 * The root directory is made by the first heap, since KUnit suites run
 * (and create heaps) before the module's init function.
 */
#include <linux/debugfs.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/uaccess.h>
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

static const char *const why_kinds[] = {
	[SPANHEAP_ROOT_NONE] = "unreachable",
	[SPANHEAP_ROOT_SLOT] = "root slot",
	[SPANHEAP_ROOT_OWNER] = "owner's root",
	[SPANHEAP_ROOT_FINQ] = "finalizer queued",
	[SPANHEAP_ROOT_CLEANUP_ARG] = "cleanup argument",
	[SPANHEAP_ROOT_PIN] = "pinned",
	[SPANHEAP_ROOT_FIN_REFERENT] = "finalizer referent",
	[SPANHEAP_ROOT_FIN_CYCLE] = "finalizer cycle",
};

/*
 * "ID (root slot 2) -> ID+8 -> ID+0 -> ID": each hop's id and the
 * offset of the word followed out of it.
 */
static void why_print(void *arg, const struct spanheap_path *p)
{
	struct seq_file *m = arg;
	unsigned int i;

	if (!p->nhops) {
		seq_puts(m, "unreachable\n");
		return;
	}
	if (p->kind == SPANHEAP_ROOT_FIN_CYCLE)
		seq_puts(m, "never finalized, on a cycle through its own finalizer: ");
	else
		seq_printf(m, "%p (%s %u) -> ", p->hops[0].obj, why_kinds[p->kind],
			   p->root_index);
	for (i = 0; i < p->nhops; i++) {
		if (p->hops[i].offset == SPANHEAP_PATH_END)
			seq_printf(m, "%p\n", p->hops[i].obj);
		else
			seq_printf(m, "%p+%u -> ", p->hops[i].obj, p->hops[i].offset);
	}
}

static int why_show(struct seq_file *m, void *v)
{
	struct spanheap *heap = m->private;
	char id[sizeof(heap->debugfs_why)];
	int ret;

	mutex_lock(&shp_debugfs_lock);
	memcpy(id, heap->debugfs_why, sizeof(id));
	mutex_unlock(&shp_debugfs_lock);
	if (!id[0]) {
		seq_puts(m, "write an object's id (as finalizer_cycles prints it) first\n");
		return 0;
	}
	seq_printf(m, "%s: ", id);
	ret = shp_why_id(heap, id, why_print, m);
	if (ret)
		seq_printf(m, "error %d\n", ret);
	return 0;
}

DEFINE_SHOW_ATTRIBUTE(why);

static ssize_t why_write(struct file *file, const char __user *ubuf,
			 size_t count, loff_t *ppos)
{
	struct spanheap *heap = ((struct seq_file *)file->private_data)->private;
	char buf[sizeof(heap->debugfs_why)];
	size_t n = min(count, sizeof(buf) - 1);

	if (copy_from_user(buf, ubuf, n))
		return -EFAULT;
	buf[n] = 0;
	mutex_lock(&shp_debugfs_lock);
	strscpy(heap->debugfs_why, strim(buf), sizeof(heap->debugfs_why));
	mutex_unlock(&shp_debugfs_lock);
	return count;
}

/* why_fops (DEFINE_SHOW_ATTRIBUTE's), writable. */
static const struct file_operations why_rw_fops = {
	.owner = THIS_MODULE,
	.open = why_open,
	.read = seq_read,
	.write = why_write,
	.llseek = seq_lseek,
	.release = single_release,
};

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
	debugfs_create_file("why", 0600, heap->debugfs, heap, &why_rw_fops);
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
