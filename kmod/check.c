// SPDX-License-Identifier: GPL-2.0
/*
 * Heap consistency check, for tests: every span's metadata, bitmaps,
 * list membership and pagemap entries, and the counters, must agree.
 * Built into test builds only (see Kbuild).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/percpu.h>
#include <linux/printk.h>
#include <linux/mm.h>
#include "internal.h"

static bool span_bad(struct shp_span *s, bool bad, const char *what)
{
	if (bad)
		pr_err("%s: span of class %u: %s\n", s->heap->name,
		       s->spc, what);
	return bad;
}

/* Returns the span's allocated objects, or -EUCLEAN. */
static int check_span(struct spanheap *heap, struct shp_span *s,
		      unsigned int spc, u64 *objects, long *bytes)
{
	unsigned int w, nalloc = shp_span_count_alloc(s);
	unsigned long a, *alloc = shp_alloc_bits(s);

	if (span_bad(s, s->heap != heap || s->spc != spc, "wrong heap or class") ||
	    span_bad(s, s->nelems * s->elemsize > s->bytes, "objects overflow span"))
		return -EUCLEAN;
	for (a = s->base; a < s->base + s->bytes; a += PAGE_SIZE)
		if (span_bad(s, shp_pagemap_lookup((void *)a) != s, "pagemap mismatch"))
			return -EUCLEAN;
	for (w = 0; w < s->nwords; w++)
		if (span_bad(s, shp_remote_bits(s)[w] & ~alloc[w],
			     "remote free of an unallocated object"))
			return -EUCLEAN;
	if (s->nelems % 64 &&
	    span_bad(s, alloc[s->nwords - 1] & ~GENMASK_ULL(s->nelems % 64 - 1, 0),
		     "allocation bit past the last object"))
		return -EUCLEAN;
	*objects += nalloc - atomic_read(&s->nremote);
	*bytes += s->bytes;
	return nalloc;
}

/* A cached span's alloc_cache: free objects of its word, at cache_base. */
static bool cache_bad(struct shp_span *s)
{
	return s->alloc_cache &&
	       (span_bad(s, s->alloc_cache & shp_alloc_bits(s)[s->cache_word],
			 "allocated object in alloc_cache") ||
		span_bad(s, s->cache_base != s->base + s->cache_word * 64 * s->elemsize,
			 "cache_base is not the cached word's first object"));
}

/**
 * shp_heap_check() - verify a quiescent heap
 * @heap: heap with no allocation or free running
 *
 * Context: process context.
 * Return: 0 if consistent, -EUCLEAN (after a pr_err naming the broken
 * invariant) otherwise.
 */
int shp_heap_check(struct spanheap *heap)
{
	u64 objects[SHP_NR_CLASSES] = { 0 }, allocs, frees, total = 0;
	long bytes = 0;
	unsigned int spc, class, nempty;
	unsigned long nspans;
	struct shp_span *s;
	int cpu, n, ret = 0;

	rcu_read_lock();
	for_each_small_spc(spc) {
		struct shp_central *ct = &heap->central[spc];

		if (ret)
			break;
		nspans = 0;
		nempty = 0;
		spin_lock(&ct->lock);
		list_for_each_entry(s, &ct->partial, list) {
			n = check_span(heap, s, spc, &objects[spc >> 1], &bytes);
			if (n < 0 || s->state != SHP_SPAN_CENTRAL ||
			    n != s->nalloc || n == s->nelems) {
				ret = -EUCLEAN;
				break;
			}
			nempty += !n;
			nspans++;
		}
		list_for_each_entry(s, &ct->unswept, list) {
			n = check_span(heap, s, spc, &objects[spc >> 1], &bytes);
			if (n < 0 || s->state != SHP_SPAN_CENTRAL || n != s->nalloc) {
				ret = -EUCLEAN;
				break;
			}
			nspans++;
		}
		list_for_each_entry(s, &ct->full, list) {
			n = check_span(heap, s, spc, &objects[spc >> 1], &bytes);
			if (n < 0 || s->state != SHP_SPAN_CENTRAL ||
			    n != s->nelems || s->nalloc != s->nelems) {
				ret = -EUCLEAN;
				break;
			}
			nspans++;
		}
		for_each_possible_cpu(cpu) {
			struct shp_cpu_cache *c = per_cpu_ptr(heap->cpu, cpu);

			s = c->alloc[spc];
			if (s == &shp_empty_span || ret)
				continue;
			if (check_span(heap, s, spc, &objects[spc >> 1], &bytes) < 0 ||
			    s->state != SHP_SPAN_CACHED || s->owner != c || cache_bad(s))
				ret = -EUCLEAN;
			nspans++;
		}
		if (!ret && (nspans != ct->nspans || nempty != ct->nempty)) {
			pr_err("%s: class %u: %lu spans counted, %lu recorded; %u empty, %u recorded\n",
			       heap->name, spc, nspans, ct->nspans, nempty,
			       ct->nempty);
			ret = -EUCLEAN;
		}
		spin_unlock(&ct->lock);
	}
	spin_lock(&heap->lock);
	nspans = 0;
	list_for_each_entry(s, &heap->large, list) {
		if (ret || SHP_SPC_CLASS(s->spc) ||
		    check_span(heap, s, s->spc, &objects[0], &bytes) != 1 ||
		    s->state != SHP_SPAN_LARGE)
			ret = -EUCLEAN;
		nspans++;
	}
	if (nspans != heap->nlarge)
		ret = -EUCLEAN;
	spin_unlock(&heap->lock);
	rcu_read_unlock();
	if (ret)
		return ret;

	allocs = 0;
	frees = heap->nswept_large;
	for_each_possible_cpu(cpu) {
		struct shp_cpu_cache *c = per_cpu_ptr(heap->cpu, cpu);

		/* The fast free trusts c->last: one of its own, never tiny. */
		if (c->last != &shp_empty_span &&
		    (c->alloc[c->last->spc] != c->last || c->last->spc == SHP_TINY_SPC)) {
			pr_err("%s: cpu %u: last span not an owned non-tiny span\n",
			       heap->name, cpu);
			return -EUCLEAN;
		}
		allocs += local_read(&c->allocs) - local_read(&c->tiny_shared);
		frees += local_read(&c->frees);
	}
	for (spc = 0; spc < SHP_NR_SPAN_CLASSES; spc++)
		frees += heap->central[spc].nswept;
	for (class = 0; class < SHP_NR_CLASSES; class++)
		total += objects[class];
	if (allocs - frees != total) {
		pr_err("%s: %llu objects in bitmaps, counters say %llu\n",
		       heap->name, total, allocs - frees);
		return -EUCLEAN;
	}
	if (bytes != atomic_long_read(&heap->reserved)) {
		pr_err("%s: spans hold %ld bytes, reserved says %ld\n",
		       heap->name, bytes, atomic_long_read(&heap->reserved));
		return -EUCLEAN;
	}
	return 0;
}
