// SPDX-License-Identifier: GPL-2.0
/*
 * A private copy of spanheap's pagemap for the pagemap_lookup benchmark:
 * spanheap.ko exports none of shp_pagemap_*(), and the copy keeps the
 * spans the bench makes up out of the real module's map.  It is its own
 * translation unit so that the bench calls shp_pagemap_lookup() out of
 * line, as span.c and mark.c do, and as it calls xa_load() and
 * mtree_load().
 */
#include "../pagemap.c"
#include "bench.h"

static unsigned long pm_count_nodes(struct pm_node *n, int level)
{
	unsigned long i, nodes = 1;

	if (level == PM_LEVELS - 1)
		return nodes;
	for (i = 0; i < PM_FANOUT; i++) {
		struct pm_node *child = rcu_dereference_protected(n->slot[i], true);

		if (child)
			nodes += pm_count_nodes(child, level + 1);
	}
	return nodes;
}

/**
 * bench_pagemap_bytes() - memory held by the copy's radix tree
 *
 * Context: process context, no concurrent insert.
 * Return: bytes of its nodes, the static root included.
 */
unsigned long bench_pagemap_bytes(void)
{
	unsigned long nodes;

	mutex_lock(&shp_pagemap_lock);
	nodes = pm_count_nodes(&pm_root, 0);
	mutex_unlock(&shp_pagemap_lock);
	return nodes * sizeof(struct pm_node);
}
