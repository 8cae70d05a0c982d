// SPDX-License-Identifier: GPL-2.0
/*
 * The pagemap: page address -> span, for every page of every live span.
 *
 * A four-level radix tree over all 64 - PAGE_SHIFT bits of the page
 * number, so any address at all can be looked up and a miss is cheap
 * and certain.  Interior nodes are created under shp_pagemap_lock and
 * published with rcu_assign_pointer(); they are never freed before
 * module exit.  A leaf slot is written only by the span that owns the
 * page, when the span is created and when it is released; a released
 * span's struct is freed after a grace period, so a lookup under
 * rcu_read_lock() returns either NULL or a span whose memory is valid
 * (whose state may already be SHP_SPAN_DEAD).  A large span kept for
 * reuse (pageheap.c) stays mapped while SHP_SPAN_DEAD, and may come
 * back to life with a new object at the same address.
 *
 * Why not an xarray or a maple tree: the pagemap_lookup bench (make
 * bench-vm) puts the same 4096 spans in all three.  A hit here takes
 * 0.22 of xas_load()'s time and less than mas_walk()'s (QEMU/TCG,
 * 2026-11): four dependent loads, where the xarray is nine levels deep
 * for a 52-bit page number and the maple tree scans pivots at each
 * level.  The price is memory: 64 KiB nodes kept until module exit,
 * about 2x the xarray's and 10x the maple tree's per span (0.7% of the
 * spans' bytes), paid once for the module, while the lookup is on the
 * path of marking and of every free.
 */
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include "internal.h"

#define PM_BITS		13
#define PM_LEVELS	4
#define PM_FANOUT	(1UL << PM_BITS)

static_assert(PM_BITS * PM_LEVELS + PAGE_SHIFT >= BITS_PER_LONG);

struct pm_node {
	void __rcu *slot[PM_FANOUT];
};

static struct pm_node pm_root;
static DEFINE_MUTEX(shp_pagemap_lock);

static inline unsigned long pm_index(unsigned long pfn, int level)
{
	return (pfn >> (PM_BITS * (PM_LEVELS - 1 - level))) & (PM_FANOUT - 1);
}

/**
 * shp_pagemap_lookup() - find the span holding a page
 * @p: any address
 *
 * Context: rcu_read_lock() held.
 * Return: the span whose pages contain @p, or NULL.
 */
struct shp_span *shp_pagemap_lookup(const void *p)
{
	unsigned long pfn = (unsigned long)p >> PAGE_SHIFT;
	struct pm_node *n = &pm_root;
	int level;

	for (level = 0; level < PM_LEVELS - 1; level++) {
		n = rcu_dereference(n->slot[pm_index(pfn, level)]);
		if (!n)
			return NULL;
	}
	return rcu_dereference(n->slot[pm_index(pfn, PM_LEVELS - 1)]);
}

/* Leaf node for @pfn if its path exists, else NULL.  Context: RCU or lock. */
static struct pm_node *pm_leaf_lookup(unsigned long pfn)
{
	struct pm_node *n = &pm_root;
	int level;

	for (level = 0; level < PM_LEVELS - 1 && n; level++)
		n = rcu_dereference_check(n->slot[pm_index(pfn, level)], true);
	return n;
}

/* Leaf node for @pfn, creating the path as needed.  Context: lock held. */
static struct pm_node *pm_leaf_make(unsigned long pfn)
{
	struct pm_node *n = &pm_root, *child;
	int level;

	lockdep_assert_held(&shp_pagemap_lock);
	for (level = 0; level < PM_LEVELS - 1; level++) {
		void __rcu **slot = &n->slot[pm_index(pfn, level)];

		child = rcu_dereference_protected(*slot,
				lockdep_is_held(&shp_pagemap_lock));
		if (!child) {
			child = kvzalloc(sizeof(*child), GFP_KERNEL);
			if (!child)
				return NULL;
			rcu_assign_pointer(*slot, child);
		}
		n = child;
	}
	return n;
}

/* First page number past @pfn's leaf. */
static inline unsigned long pm_leaf_end(unsigned long pfn)
{
	return (pfn | (PM_FANOUT - 1)) + 1;
}

/*
 * Set the slots of @s's pages to @val, one leaf walk per leaf (a span
 * rarely crosses one: a leaf covers PM_FANOUT pages).  Only @s writes
 * its own slots, so no lock is needed once the leaves exist.
 * Return: false, with nothing written, if a leaf is missing.
 */
static bool pm_set_range(struct shp_span *s, struct shp_span *val)
{
	unsigned long pfn = s->base >> PAGE_SHIFT;
	unsigned long end = (s->base + s->bytes) >> PAGE_SHIFT;
	unsigned long next;
	struct pm_node *leaf;

	for (next = pfn; next < end; next = pm_leaf_end(next))
		if (!pm_leaf_lookup(next))
			return false;
	while (pfn < end) {
		leaf = pm_leaf_lookup(pfn);
		next = min(end, pm_leaf_end(pfn));
		for (; pfn < next; pfn++)
			rcu_assign_pointer(leaf->slot[pm_index(pfn, PM_LEVELS - 1)],
					   val);
	}
	return true;
}

/**
 * shp_pagemap_insert() - publish a new span's pages
 * @s: span, not yet visible to anyone
 *
 * Takes shp_pagemap_lock only when an interior node must be made.
 *
 * Context: process context, may sleep.
 * Return: 0, or -ENOMEM if an interior node could not be allocated
 * (nothing is published then).
 */
int shp_pagemap_insert(struct shp_span *s)
{
	unsigned long pfn = s->base >> PAGE_SHIFT;
	unsigned long end = (s->base + s->bytes) >> PAGE_SHIFT;
	int ret = 0;

	if (pm_set_range(s, s))
		return 0;
	mutex_lock(&shp_pagemap_lock);
	for (; pfn < end; pfn = pm_leaf_end(pfn)) {
		if (!pm_leaf_make(pfn)) {
			ret = -ENOMEM;
			break;
		}
	}
	mutex_unlock(&shp_pagemap_lock);
	if (!ret)
		pm_set_range(s, s);
	return ret;
}

/**
 * shp_pagemap_remove() - unpublish a span's pages
 * @s: span being released
 *
 * Interior nodes exist (insert made them) and are never freed, so no
 * lock is needed: only @s writes its own leaf slots.
 *
 * Context: any; does not sleep.
 */
void shp_pagemap_remove(struct shp_span *s)
{
	WARN_ON_ONCE(!pm_set_range(s, NULL));
}

static void pm_free_node(struct pm_node *n, int level)
{
	unsigned long i;

	if (level < PM_LEVELS - 1) {
		for (i = 0; i < PM_FANOUT; i++) {
			struct pm_node *child = rcu_dereference_protected(n->slot[i], true);

			if (child)
				pm_free_node(child, level + 1);
		}
	}
	if (n != &pm_root)
		kvfree(n);
}

/**
 * shp_pagemap_teardown() - free every interior node
 *
 * Context: module exit, after every heap is gone and an rcu_barrier().
 */
void shp_pagemap_teardown(void)
{
	mutex_lock(&shp_pagemap_lock);
	pm_free_node(&pm_root, 0);
	memset(&pm_root, 0, sizeof(pm_root));
	mutex_unlock(&shp_pagemap_lock);
}
