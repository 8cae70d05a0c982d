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

/* A cleanup record whose argument the mark must read? */
static bool cleanup_is_root(struct shp_special *sp)
{
	return sp->kind == SPANHEAP_SPECIAL_CLEANUP &&
	       shp_cleanup_arg_may_point(container_of(sp, struct shp_special_cleanup,
						      sp)->arg);
}

/*
 * Each object's summary bits (special: it has records; fin: one is a
 * finalizer) and the span's counts agree with the records on its lists;
 * cleanup_roots is set if a cleanup's argument may point into an object,
 * and clear without cleanups.
 */
static bool specials_bad(struct shp_span *s)
{
	unsigned int idx, k, n = 0, nkind[SPANHEAP_NR_SPECIAL_KINDS] = { 0 };
	bool fin, bad = false, roots = false;
	struct shp_special *sp;

	spin_lock(&s->speciallock);
	for (idx = 0; idx < s->nelems && !bad; idx++) {
		fin = false;
		for (sp = s->specials ? s->specials[idx] : NULL; sp; sp = sp->next) {
			nkind[sp->kind]++;
			n++;
			fin |= sp->kind == SPANHEAP_SPECIAL_FINALIZER;
			roots |= cleanup_is_root(sp);
		}
		bad = span_bad(s, test_bit(idx, shp_special_bits(s)) !=
				  (s->specials && s->specials[idx]),
			       "special bit not in step with the records") ||
		      span_bad(s, test_bit(idx, shp_fin_bits(s)) != fin,
			       "finalizer bit not in step with the records");
	}
	bad = bad || span_bad(s, n != s->nspecials, "records miscounted") ||
	      span_bad(s, roots && !s->cleanup_roots,
		       "a cleanup argument may point into an object, cleanup_roots clear") ||
	      span_bad(s, !nkind[SPANHEAP_SPECIAL_CLEANUP] && s->cleanup_roots,
		       "cleanup_roots set without cleanups");
	for (k = 0; k < SPANHEAP_NR_SPECIAL_KINDS && !bad; k++)
		bad = span_bad(s, nkind[k] != s->nkind[k], "records of a kind miscounted");
	spin_unlock(&s->speciallock);
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
	if (specials_bad(s))
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

/*
 * The page heap: every free run is on the list of its length, its edges
 * name it and it lies inside its arena; each arena's free pages are
 * what its free runs hold; arenas hold the large spans' bytes and the
 * free runs' (which adds the arenas to @bytes).  Context: heap->lock.
 */
static int check_pages(struct spanheap *heap, long large_bytes, long *bytes)
{
	struct shp_pageheap *ph = &heap->pages;
	unsigned long arenas = 0, free_pages = 0, arena_pages = 0, idle_pages = 0, n;
	struct shp_arena *a;
	struct shp_run *r;
	unsigned int i;

	lockdep_assert_held(&heap->lock);
	list_for_each_entry(a, &ph->arenas, list) {
		arenas++;
		arena_pages += a->npages;
		n = 0;
		for (i = 0; i < a->npages; i++) {
			r = a->edge[i];
			if (!r)
				continue;
			if (r->arena != a || !r->free ||
			    (r->first != i && r->first + r->npages - 1 != i))
				return -EUCLEAN;
			if (r->first == i)
				n += r->npages;
		}
		if (n != a->nfree)
			return -EUCLEAN;
		free_pages += n;
		if (n == a->npages)
			idle_pages += n;
	}
	n = 0;
	for (i = 0; i < SHP_RUN_LISTS; i++) {
		if (list_empty(&ph->free[i]) == !!(ph->nonempty & BIT_ULL(i)))
			return -EUCLEAN;
		list_for_each_entry(r, &ph->free[i], list) {
			if (!r->free || min_t(unsigned int, r->npages, SHP_RUN_LISTS) - 1 != i ||
			    r->first + r->npages > r->arena->npages ||
			    r->arena->edge[r->first] != r ||
			    r->arena->edge[r->first + r->npages - 1] != r)
				return -EUCLEAN;
			n += r->npages;
		}
	}
	if (n != free_pages || arenas != ph->narenas ||
	    (free_pages << PAGE_SHIFT) != ph->idle_bytes ||
	    (idle_pages << PAGE_SHIFT) != ph->idle_arena_bytes ||
	    ((arena_pages - free_pages) << PAGE_SHIFT) != large_bytes) {
		pr_err("%s: page heap: %lu free pages listed, %lu in arenas of %lu pages, idle %lu, large %ld\n",
		       heap->name, n, free_pages, arena_pages, ph->idle_bytes,
		       large_bytes);
		return -EUCLEAN;
	}
	*bytes += arena_pages << PAGE_SHIFT;
	return 0;
}

/*
 * Kept large spans are dead to lookups but whole: still in the pagemap,
 * their runs in use, no record, on the list of their length.
 */
static bool kept_span_ok(struct shp_span *s, unsigned int list)
{
	return min_t(unsigned long, s->bytes >> PAGE_SHIFT, SHP_RUN_LISTS) - 1 == list &&
	       s->state == SHP_SPAN_DEAD && !SHP_SPC_CLASS(s->spc) &&
	       !test_bit(0, shp_alloc_bits(s)) &&
	       !s->specials && s->run && !s->run->free &&
	       shp_run_base(s->run) == s->base &&
	       (unsigned long)s->run->npages << PAGE_SHIFT == s->bytes &&
	       shp_pagemap_lookup((void *)(s->base + s->bytes - 1)) == s;
}

/* @s is held by exactly one CPU's large slot. */
static bool in_one_large_slot(struct spanheap *heap, struct shp_span *s)
{
	unsigned int n = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		n += per_cpu_ptr(heap->cpu, cpu)->large == s;
	return n == 1;
}

/*
 * Check the kept spans and their count; add their runs' bytes to
 * @span_bytes.  Context: heap->lock, rcu_read_lock().
 */
static int check_kept(struct spanheap *heap, long *span_bytes)
{
	struct shp_pageheap *ph = &heap->pages;
	unsigned long n = 0, bytes = 0;
	struct shp_span *s;
	unsigned int i;

	lockdep_assert_held(&heap->lock);
	for (i = 0; i < SHP_RUN_LISTS; i++) {
		list_for_each_entry(s, &ph->kept[i], list) {
			if (!kept_span_ok(s, i)) {
				pr_err("%s: a kept span of %lu bytes is broken\n",
				       heap->name, s->bytes);
				return -EUCLEAN;
			}
			n++;
			bytes += s->bytes;
		}
	}
	if (n != ph->nkept || n > ph->max_kept || bytes != ph->kept_bytes) {
		pr_err("%s: %lu kept spans of %lu bytes, recorded %u of %lu\n",
		       heap->name, n, bytes, ph->nkept, ph->kept_bytes);
		return -EUCLEAN;
	}
	*span_bytes += bytes;
	return 0;
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
	long bytes = 0, large_bytes = 0, reserved;
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
		/* An allocated object, or a freed one in a large slot. */
		n = ret || SHP_SPC_CLASS(s->spc) ? -1 :
			check_span(heap, s, s->spc, &objects[0], &large_bytes);
		if ((n != 1 && !(n == 0 && in_one_large_slot(heap, s))) ||
		    s->nalloc != 1 ||
		    s->state != SHP_SPAN_LARGE || !s->run || s->run->free ||
		    shp_run_base(s->run) != s->base ||
		    (unsigned long)s->run->npages << PAGE_SHIFT != s->bytes)
			ret = -EUCLEAN;
		nspans++;
	}
	if (nspans != heap->nlarge || large_bytes != heap->large_bytes)
		ret = -EUCLEAN;
	if (!ret)
		ret = check_kept(heap, &large_bytes);
	if (!ret)
		ret = check_pages(heap, large_bytes, &bytes);
	/* The scavenger frees arenas and their bytes under heap->lock. */
	reserved = atomic_long_read(&heap->reserved);
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
	if (bytes != reserved) {
		pr_err("%s: spans hold %ld bytes, reserved says %ld\n",
		       heap->name, bytes, reserved);
		return -EUCLEAN;
	}
	return 0;
}
