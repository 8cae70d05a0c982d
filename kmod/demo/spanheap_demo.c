// SPDX-License-Identifier: GPL-2.0
/*
 * Demo: Go's finalizer ordering in a kernel heap.  Builds a chain
 * A -> B -> C, a cycle X <-> Y and a rooted object R, all with
 * finalizers, then collects a few times and logs which finalizers ran
 * in which cycle.  The heap ("demo") lives until the module is unloaded,
 * so /sys/kernel/debug/spanheap/demo-<id>/ can be read meanwhile.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/err.h>
#include "../spanheap.h"

struct demo_node {
	struct demo_node *next;
	char name;
};

static struct spanheap *heap;
static void *root;
static int cycle;

static void demo_finalizer(struct spanheap *h, void *obj, void *ctx)
{
	pr_info("spanheap_demo: cycle %d: finalizer of %c ran\n", cycle,
		((struct demo_node *)obj)->name);
}

static struct demo_node *demo_node(char name)
{
	struct demo_node *n = spanheap_alloc(heap, sizeof(*n), 0);

	if (n) {
		n->name = name;
		spanheap_set_finalizer(heap, n, demo_finalizer, NULL);
	}
	return n;
}

static void demo_collect(void)
{
	cycle++;
	spanheap_collect(heap);
	spanheap_wait_finalizers(heap);
}

static int __init spanheap_demo_init(void)
{
	struct demo_node *a, *b, *c, *x, *y, *r;
	struct spanheap_stats *st;
	int i, err = -ENOMEM;

	heap = spanheap_create("demo", 64 << 20);
	if (IS_ERR(heap))
		return PTR_ERR(heap);
	if (spanheap_root_add(heap, &root))
		goto fail;
	spanheap_enter(heap);
	a = demo_node('A');
	b = demo_node('B');
	c = demo_node('C');
	x = demo_node('X');
	y = demo_node('Y');
	r = demo_node('R');
	if (!a || !b || !c || !x || !y || !r) {
		spanheap_exit(heap);
		goto fail;
	}
	a->next = b;
	b->next = c;
	x->next = y;
	y->next = x;
	root = r;
	pr_info("spanheap_demo: chain A->B->C, cycle X<->Y, R rooted; all finalizable\n");
	pr_info("spanheap_demo: free(interior) = %d, free(foreign) = %d, set_finalizer(twice) = %d\n",
		spanheap_free(heap, (char *)a + 1), spanheap_free(heap, &i),
		spanheap_set_finalizer(heap, a, demo_finalizer, NULL));
	spanheap_exit(heap);

	for (i = 0; i < 4; i++)
		demo_collect();
	pr_info("spanheap_demo: %d finalizable objects on cycles (never finalized)\n",
		spanheap_finalizer_cycles(heap, NULL, NULL));
	root = NULL;
	pr_info("spanheap_demo: R unrooted\n");
	demo_collect();

	st = kmalloc(sizeof(*st), GFP_KERNEL);
	if (st) {
		spanheap_read_stats(heap, st);
		pr_info("spanheap_demo: %llu collections, %llu finalizers run, %llu objects (%llu bytes) in use, %llu bytes reserved\n",
			st->collections, st->fin_executed, st->objects_in_use,
			st->bytes_in_use, st->bytes_reserved);
		kfree(st);
	}
	return 0;
fail:
	spanheap_destroy(heap);
	return err;
}

static void __exit spanheap_demo_exit(void)
{
	spanheap_root_remove(heap, &root);
	spanheap_destroy(heap);
	pr_info("spanheap_demo: heap destroyed\n");
}

module_init(spanheap_demo_init);
module_exit(spanheap_demo_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("spanheap demonstration: Go finalizer ordering in a kernel heap");
