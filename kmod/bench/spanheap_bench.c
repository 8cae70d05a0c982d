// SPDX-License-Identifier: GPL-2.0
/*
 * In-kernel benchmark: 32-byte alloc+free pairs on a spanheap heap and on
 * a SLUB cache of the same size, timed in the same boot; then
 * pagemap_lookup, spanheap's pagemap against an xarray and a maple tree
 * (pagemap_bench.c).  Prints "BENCH <name> <impl> <value> <unit>" lines
 * when loaded; unload it after.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/ktime.h>
#include <linux/sched.h>
#include <linux/err.h>
#include "../spanheap.h"
#include "bench.h"

#define PAIRS	2000000
#define ROUNDS	5

static void *sink;

static u64 bench_spanheap(struct spanheap *heap)
{
	u64 t0 = ktime_get_ns();
	unsigned int i;

	spanheap_enter(heap);	/* allocation and free belong in a section */
	for (i = 0; i < PAIRS; i++) {
		void *p = spanheap_alloc(heap, 32, SPANHEAP_NOSCAN);

		WRITE_ONCE(sink, p);
		spanheap_free(heap, p);
	}
	spanheap_exit(heap);
	return ktime_get_ns() - t0;
}

static u64 bench_slub(struct kmem_cache *cache)
{
	u64 t0 = ktime_get_ns();
	unsigned int i;

	for (i = 0; i < PAIRS; i++) {
		void *p = kmem_cache_alloc(cache, GFP_KERNEL);

		WRITE_ONCE(sink, p);
		kmem_cache_free(cache, p);
	}
	return ktime_get_ns() - t0;
}

/* Best of ROUNDS, in hundredths of a nanosecond per pair. */
static void report(const char *impl, u64 best_ns)
{
	u64 centi = best_ns * 100 / PAIRS;

	pr_info("BENCH kalloc_free_32 %s %llu.%02llu ns/op\n", impl,
		centi / 100, centi % 100);
}

static int __init spanheap_bench_init(void)
{
	struct spanheap *heap = spanheap_create("bench", 0);
	struct kmem_cache *cache;
	u64 best_shp = U64_MAX, best_slub = U64_MAX;
	int r;

	if (IS_ERR(heap))
		return PTR_ERR(heap);
	cache = kmem_cache_create("spanheap_bench32", 32, 0, 0, NULL);
	if (!cache) {
		spanheap_destroy(heap);
		return -ENOMEM;
	}
	migrate_disable();
	bench_spanheap(heap);		/* warm up */
	bench_slub(cache);
	for (r = 0; r < ROUNDS; r++) {
		best_shp = min(best_shp, bench_spanheap(heap));
		best_slub = min(best_slub, bench_slub(cache));
		cond_resched();
	}
	migrate_enable();
	report("spanheap", best_shp);
	report("slub", best_slub);
	kmem_cache_destroy(cache);
	spanheap_destroy(heap);
	return spanheap_bench_pagemap();
}

static void __exit spanheap_bench_exit(void)
{
}

module_init(spanheap_bench_init);
module_exit(spanheap_bench_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("spanheap in-kernel benchmark against SLUB, xarray and maple tree");
