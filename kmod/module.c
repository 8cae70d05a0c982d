// SPDX-License-Identifier: GPL-2.0
/*
 * spanheap module entry points.  Heaps need no global set-up (the
 * pagemap root is static, debugfs is made on demand), so init is empty;
 * exit waits for RCU frees of released spans and frees the pagemap.
 */
#include <linux/module.h>
#include <linux/rcupdate.h>
#include "internal.h"

static int __init spanheap_init(void)
{
	pr_info("spanheap: loaded, %u size classes up to %u bytes\n",
		SHP_NR_CLASSES - 1, SPANHEAP_MAX_SMALL_SIZE);
	return 0;
}

static void __exit spanheap_exit(void)
{
	shp_debugfs_exit();
	rcu_barrier();
	shp_pagemap_teardown();
}

module_init(spanheap_init);
module_exit(spanheap_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Garbage-collected span heap with Go object lifecycle semantics");
