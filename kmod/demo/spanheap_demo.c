// SPDX-License-Identifier: GPL-2.0
/*
 * Demo: a heap named "demo" with objects of several classes, one large
 * object, some freed again, and the errors the API gives for bad frees.
 * The heap lives until the module is unloaded, so its debugfs stats can
 * be read: /sys/kernel/debug/spanheap/demo-<id>/stats.
 */
#include <linux/module.h>
#include <linux/err.h>
#include <linux/slab.h>
#include "../spanheap.h"

#define NR_OBJS	3000

static struct spanheap *heap;
static void *objs[NR_OBJS];

static int __init spanheap_demo_init(void)
{
	static const size_t sizes[] = { 8, 32, 100, 1024, 5000 };
	struct spanheap_stats *st;
	void *large;
	int i, freed = 0;

	heap = spanheap_create("demo", 64 << 20);
	if (IS_ERR(heap))
		return PTR_ERR(heap);
	for (i = 0; i < NR_OBJS; i++)
		objs[i] = spanheap_alloc(heap, sizes[i % ARRAY_SIZE(sizes)],
					 i & 1 ? SPANHEAP_NOSCAN : 0);
	for (i = 0; i < NR_OBJS; i += 2)
		freed += objs[i] && !spanheap_free(heap, objs[i]);
	large = spanheap_alloc(heap, 1 << 20, SPANHEAP_NOSCAN);
	pr_info("spanheap_demo: allocated %d objects of sizes 8..5000 and one of 1 MiB, freed %d\n",
		NR_OBJS, freed);
	pr_info("spanheap_demo: free(interior pointer) = %d, free(twice) = %d, free(foreign) = %d\n",
		spanheap_free(heap, (char *)objs[1] + 1), spanheap_free(heap, objs[0]),
		spanheap_free(heap, &i));

	st = kmalloc(sizeof(*st), GFP_KERNEL);
	if (st) {
		spanheap_read_stats(heap, st);
		pr_info("spanheap_demo: %llu objects (%llu bytes) in use in %llu spans holding %llu bytes; %llu bad frees\n",
			st->objects_in_use, st->bytes_in_use, st->spans,
			st->bytes_reserved, st->bad_frees);
		kfree(st);
	}
	return large ? 0 : -ENOMEM;
}

static void __exit spanheap_demo_exit(void)
{
	spanheap_destroy(heap);
	pr_info("spanheap_demo: heap destroyed\n");
}

module_init(spanheap_demo_init);
module_exit(spanheap_demo_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("spanheap demonstration module");
