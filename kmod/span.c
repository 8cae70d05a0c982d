// SPDX-License-Identifier: GPL-2.0
/*
 * Spans: creation, release, and the allocation bitmap.
 *
 * alloc_bits has one bit per object, set while the object is allocated.
 * The owner of a cached span hands out objects from alloc_cache, a copy
 * of the free bits of one bitmap word (Go's allocCache, but not
 * inverted), advancing word by word with next_word; objects freed
 * behind that cursor are found again when the span runs dry and is
 * rescanned from word 0.
 */
#include <linux/cache.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/gfp.h>
#include <linux/jiffies.h>
#include <linux/prefetch.h>
#include <linux/slab.h>
#include <linux/string.h>
#include "internal.h"

/* Stands in for "no span" in cpu caches: never has a free object. */
struct shp_span shp_empty_span = { .state = SHP_SPAN_DEAD };

/*
 * Small spans come straight from the buddy allocator (their objects are
 * zeroed when allocated), large ones from the heap's page runs
 * (pageheap.c): a large object is the span, so a dirty run is zeroed.
 */
static void *span_pages_alloc(unsigned long bytes)
{
	struct page *page = alloc_pages(SHP_GFP, get_order(bytes));

	return page ? page_address(page) : NULL;
}

static void span_pages_free(void *addr, unsigned long bytes)
{
	free_pages((unsigned long)addr, get_order(bytes));
}

/**
 * shp_meta_charge() - count metadata against the heap's limit
 * @heap: heap
 * @bytes: size of what is being allocated for it
 * @force: charge even past the limit (fixed costs, undo paths)
 *
 * The bytes of wholly idle arenas do not count here: the next arena or
 * small span frees them first, and this cannot (it may run under a
 * spinlock).  Free runs of arenas in use do count: nothing frees them.
 *
 * Context: any.
 * Return: false, with nothing charged, if the limit would be passed or
 * the count would pass SHP_META_CHARGE_MAX (unless @force).
 */
bool shp_meta_charge(struct spanheap *heap, long bytes, bool force)
{
	long old, now;

	if (force) {
		atomic_long_add(bytes, &heap->meta);
		return true;
	}
	/*
	 * Added first, then checked (and undone), as shp_reserve() does, so
	 * that of two racing charges at least one sees both.  An owner may
	 * charge absurd sizes, concurrently: the add stops at
	 * SHP_META_CHARGE_MAX, which leaves the forced charges (bounded by
	 * memory) room to never wrap the count.
	 */
	old = atomic_long_read(&heap->meta);
	do {
		if (check_add_overflow(old, bytes, &now) || now > SHP_META_CHARGE_MAX)
			return false;
	} while (!atomic_long_try_cmpxchg(&heap->meta, &old, now));
	if (shp_over_limit(heap, now - READ_ONCE(heap->pages.idle_arena_bytes),
			   &heap->reserved)) {
		atomic_long_sub(bytes, &heap->meta);
		return false;
	}
	return true;
}

/**
 * shp_meta_charge_reclaim() - shp_meta_charge() that may give back idle memory
 * @heap: heap
 * @bytes: size of what is being allocated for it
 *
 * At the limit, the heap's kept large spans and idle arenas are given
 * back (shp_scavenge()) and the charge is tried once more: memory the
 * heap's page heap holds for reuse never stands in the way of its records
 * or of its owner's charges.  The empty small spans kept for reuse are
 * given back by the callers, above central.c in the map: spanheap_charge(),
 * shp_special_target() and shp_special_new().
 *
 * Context: process context, may sleep; no spinlock held.
 * Return: false, with nothing charged, if the limit would still be passed.
 */
bool shp_meta_charge_reclaim(struct spanheap *heap, long bytes)
{
	might_sleep();
	if (shp_meta_charge(heap, bytes, false))
		return true;
	shp_scavenge(heap, jiffies, true);
	return shp_meta_charge(heap, bytes, false);
}

/**
 * shp_meta_uncharge() - give back what shp_meta_charge() counted
 * @heap: heap
 * @bytes: same size
 *
 * Context: any.
 */
void shp_meta_uncharge(struct spanheap *heap, long bytes)
{
	atomic_long_sub(bytes, &heap->meta);
}

/* Keep [arena_lo, arena_hi) covering every span, for the mark's quick reject. */
static void widen_arena(struct spanheap *heap, struct shp_span *s)
{
	spin_lock(&heap->lock);
	if (!heap->arena_hi || s->base < heap->arena_lo)
		WRITE_ONCE(heap->arena_lo, s->base);
	if (s->base + s->bytes > heap->arena_hi)
		WRITE_ONCE(heap->arena_hi, s->base + s->bytes);
	spin_unlock(&heap->lock);
}

/**
 * shp_span_new() - allocate and publish a span
 * @heap: heap the span belongs to
 * @spc: span class; class 0 makes a large span
 * @large_size: object size for a large span, ignored otherwise
 * @zero: a large span's object must be zero (a small span's objects
 *	are zeroed when allocated)
 *
 * The span is published in the pagemap in state SHP_SPAN_DEAD with no
 * object allocated; the caller links it somewhere and sets its state.
 *
 * Context: process context, may sleep; no spinlock held.
 * Return: the span, or NULL when out of memory or over the heap's limit.
 */
struct shp_span *shp_span_new(struct spanheap *heap, unsigned int spc,
			      size_t large_size, bool zero)
{
	unsigned int class = SHP_SPC_CLASS(spc);
	const struct shp_size_class *sc = &shp_size_classes[class];
	unsigned long bytes;
	unsigned int nelems, nwords;
	struct shp_span *s;
	void *base;

	if (class) {
		bytes = PAGE_SIZE << sc->order;
		nelems = sc->nelems;
	} else {
		bytes = PAGE_ALIGN(large_size);
		nelems = 1;
	}
	nwords = BITS_TO_LONGS(nelems);
	if (class && !shp_reserve(heap, bytes)) {
		/* Idle arenas count against the limit too: give them back. */
		if (!shp_scavenge(heap, jiffies, true) || !shp_reserve(heap, bytes))
			return NULL;
	}

	s = kzalloc(struct_size(s, bits, SHP_SPAN_BITMAPS * nwords), SHP_GFP);
	if (!s)
		goto fail;
	if (class) {
		base = span_pages_alloc(bytes);
	} else {
		s->run = shp_run_alloc(heap, bytes >> PAGE_SHIFT);
		base = s->run ? (void *)shp_run_base(s->run) : NULL;
		if (base && zero && s->run->needzero)
			memset(base, 0, bytes);
	}
	if (!base)
		goto fail;
	s->heap = heap;
	s->base = (unsigned long)base;
	s->bytes = bytes;
	s->elemsize = class ? sc->size : bytes;
	s->divmul = class ? sc->divmul : 0;
	s->nelems = nelems;
	s->nwords = nwords;
	s->spc = spc;
	s->state = SHP_SPAN_DEAD;
	s->sweepgen = READ_ONCE(heap->sweepgen);	/* nothing to sweep yet */
	spin_lock_init(&s->speciallock);
	INIT_LIST_HEAD(&s->list);
	if (shp_pagemap_insert(s))
		goto fail_pages;
	widen_arena(heap, s);
	return s;

fail_pages:
	if (class) {
		span_pages_free(base, bytes);
	} else {
		spin_lock(&heap->lock);
		shp_run_free(heap, s->run);
		spin_unlock(&heap->lock);
	}
fail:
	kfree(s);
	if (class)
		atomic_long_sub(bytes, &heap->reserved);
	return NULL;
}

static void span_free_rcu(struct rcu_head *rcu)
{
	struct shp_span *s = container_of(rcu, struct shp_span, rcu);

	if (s->divmul)
		span_pages_free((void *)s->base, s->bytes);
	kfree(s->specials);
	kfree(s);
}

/**
 * shp_span_release() - return a span's pages
 * @s: span already unlinked from every list
 *
 * Lookups that found @s before it left the pagemap see state
 * SHP_SPAN_DEAD; the struct goes after a grace period, and so do a small
 * span's pages.  A large span's run goes back to the page heap at once
 * (the scavenger may free its arena soon after): no lookup reads an
 * object's memory through a dead span.
 *
 * Context: any; does not sleep.  heap->lock held for a large span.
 */
void shp_span_release(struct shp_span *s)
{
	WRITE_ONCE(s->state, SHP_SPAN_DEAD);
	shp_pagemap_remove(s);
	if (s->divmul) {
		atomic_long_sub(s->bytes, &s->heap->reserved);
	} else {
		shp_run_free(s->heap, s->run);
		s->run = NULL;
	}
	call_rcu(&s->rcu, span_free_rcu);
}

/* Free bits of bitmap word @w, ignoring bits past the last object. */
static inline u64 span_free_word(struct shp_span *s, unsigned int w)
{
	u64 free = ~(u64)shp_alloc_bits(s)[w];

	if ((w + 1) * 64 > s->nelems)
		free &= GENMASK_ULL((s->nelems - 1) % 64, 0);
	return free;
}

/**
 * shp_span_load_cache() - load the next word with free objects
 * @s: span owned by the caller's cache
 *
 * Context: owner of @s, preemption disabled.
 * Return: true if alloc_cache now holds a free object.
 */
bool shp_span_load_cache(struct shp_span *s)
{
	lockdep_assert_preemption_disabled();
	while (s->next_word < s->nwords) {
		unsigned int w = s->next_word++;
		u64 free = span_free_word(s, w);

		if (free) {
			s->cache_word = w;
			s->cache_base = s->base + w * 64 * s->elemsize;
			s->alloc_cache = free;
			return true;
		}
	}
	s->alloc_cache = 0;
	return false;
}

/**
 * shp_span_fold_remote() - apply frees posted by other CPUs
 * @s: span owned by the caller's cache, or being taken from it
 *
 * alloc_bits are cleared before remote_bits so that a racing second
 * free of the same object, which tests remote_bits first and then
 * alloc_bits, always sees one of them and is refused.
 *
 * Context: central lock of @s held.
 */
void shp_span_fold_remote(struct shp_span *s)
{
	unsigned long *alloc = shp_alloc_bits(s), *remote = shp_remote_bits(s);
	unsigned int w;

	lockdep_assert_held(&s->heap->central[s->spc].lock);
	if (!atomic_read(&s->nremote))
		return;
	for (w = 0; w < s->nwords; w++) {
		unsigned long r = READ_ONCE(remote[w]);

		if (!r)
			continue;
		WRITE_ONCE(alloc[w], alloc[w] & ~r);
		atomic_sub(hweight64(r), &s->nremote);
		for (; r; r &= r - 1)
			clear_bit(w * BITS_PER_LONG + __ffs(r), remote);
	}
}

/**
 * shp_span_count_alloc() - count allocated objects from the bitmap
 * @s: span
 *
 * Context: owner of @s or its central lock held.
 * Return: number of set bits in alloc_bits.
 */
unsigned int shp_span_count_alloc(struct shp_span *s)
{
	unsigned int w, n = 0;

	for (w = 0; w < s->nwords; w++)
		n += hweight64(READ_ONCE(shp_alloc_bits(s)[w]));
	return n;
}

/**
 * shp_find_object() - resolve a pointer to its span and object index
 * @heap: heap the pointer must belong to
 * @p: any address
 * @idx: object index, set on success
 *
 * Interior pointers resolve to their object; pointers into a span's
 * tail (past the last object) do not resolve.
 *
 * Context: rcu_read_lock() held; the span stays valid until it is dropped.
 * Return: the span, or NULL if @p is not inside an object slot of a
 * live span of @heap.
 */
struct shp_span *shp_find_object(struct spanheap *heap, const void *p,
				 unsigned int *idx)
{
	struct shp_span *s = shp_pagemap_lookup(p);
	unsigned long off;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "lookup without rcu_read_lock()");
	if (!s || s->heap != heap || READ_ONCE(s->state) == SHP_SPAN_DEAD)
		return NULL;
	off = (unsigned long)p - s->base;
	if (off >= s->nelems * s->elemsize)
		return NULL;
	*idx = s->divmul ? ((u64)off * s->divmul) >> 32 : 0;
	return s;
}

/*
 * Span structs are scattered, and a list walk misses the cache on each:
 * the next one's first line, its list node and the bitmaps after that
 * are fetched while @fn works on this one.
 */
static __always_inline void visit_list(struct spanheap *heap,
				       struct list_head *head,
				       shp_span_visitor_t fn, void *arg)
{
	struct shp_span *s, *n;

	list_for_each_entry(s, head, list) {
		n = list_next_entry(s, list);
		prefetch(n);
		prefetch(&n->list);
		prefetch((char *)&n->list + L1_CACHE_BYTES);
		fn(heap, s, arg);
	}
}

/**
 * shp_visit_spans() - call @fn on every span of a heap on a list
 * @heap: heap, its caches drained (cached spans are not visited)
 * @fn: called with @heap, a span and @arg
 * @arg: passed to @fn
 *
 * Visits the partial, full and unswept lists of every small span class,
 * then the large spans.  Takes no lock: the lists must not change, so
 * the world is stopped (no section, no sweeper, no cycle) and the central
 * lists know it (shp_central_world_stopped()).
 *
 * Context: heap->sections held for writing, heap->world_stopped set.
 */
void shp_visit_spans(struct spanheap *heap, shp_span_visitor_t fn, void *arg)
{
	unsigned int spc;

	shp_assert_world_stopped(heap);
	/* Else a charge outside any section could give spans back under us. */
	WARN_ON_ONCE(!READ_ONCE(heap->world_stopped));
	for_each_small_spc(spc) {
		struct shp_central *ct = &heap->central[spc];

		visit_list(heap, &ct->partial, fn, arg);
		visit_list(heap, &ct->full, fn, arg);
		visit_list(heap, &ct->unswept, fn, arg);
	}
	visit_list(heap, &heap->large, fn, arg);
}
