// SPDX-License-Identifier: GPL-2.0
/*
 * spanheap module entry points.  Heaps need no global set-up (the
 * pagemap root is static, the rest is made on first use, see global.c);
 * init makes the debugfs root and /dev/spanheap.  Exit frees the workqueue and the
 * record caches, waits for RCU frees of released spans and frees the
 * pagemap.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/rcupdate.h>
#include "internal.h"

static int __init spanheap_module_init(void)
{
	int ret;

	shp_debugfs_init();
	ret = shp_chardev_init();
	if (ret) {
		shp_debugfs_exit();
		return ret;
	}
	pr_info("loaded, %u size classes up to %u bytes\n",
		SHP_NR_CLASSES - 1, SPANHEAP_MAX_SMALL_SIZE);
	return 0;
}

static void __exit spanheap_module_exit(void)
{
	shp_chardev_exit();
	shp_debugfs_exit();
	shp_global_exit();	/* waits for queued work items */
	rcu_barrier();
	shp_pagemap_teardown();
}

module_init(spanheap_module_init);
module_exit(spanheap_module_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Garbage-collected span heap with Go object lifecycle semantics");
MODULE_VERSION(SPANHEAP_VERSION);	/* the top-level VERSION file, via Kbuild */
