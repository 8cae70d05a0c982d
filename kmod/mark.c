// SPDX-License-Identifier: GPL-2.0
/*
 * Mark: a stop-the-world conservative mark of one heap.
 *
 * Every aligned word of a SCAN object that points into an allocated
 * object of this heap (interior pointers included) marks that object;
 * NOSCAN objects are never read.  Gray objects wait on a bounded stack;
 * when it is full the object is marked but not pushed and
 * gray_overflow is set; once the stack drains, marked SCAN objects are
 * rescanned until no overflow happens (each pass marks more, so this
 * ends).  Nothing is allocated and nothing recurses while marking.
 *
 * Roots, in order: root slots, pinned objects, queued finalizers (their
 * objects must survive until they run), then the referents, but not the
 * objects themselves, of every object with a finalizer (Go's
 * markrootSpans).  That last step is what orders finalizers: if A -> B
 * and both have one, B is marked through A and only A is finalized this
 * cycle; and an object on a cycle through itself marks itself, so it
 * is never finalized.
 *
 * Context for all of this file: heap->sections held for writing.
 */
#include <linux/mm.h>
#include <linux/sched.h>
#include "internal.h"

/* Lookups of foreign pointers may see spans of other heaps being freed. */
#define MARK_RCU_BATCH	1024

static void gray_push(struct spanheap *heap, unsigned long base, unsigned long len)
{
	if (heap->ngray == SHP_GRAY_ENTRIES) {
		heap->gray_overflow = true;
		return;
	}
	heap->gray[heap->ngray].base = base;
	heap->gray[heap->ngray].len = len;
	heap->ngray++;
}

/* Mark object @idx of @s and queue it for scanning if it may hold pointers. */
static __always_inline void mark_push(struct spanheap *heap, struct shp_span *s,
				      unsigned int idx)
{
	if (__test_and_set_bit(idx, shp_mark_bits(s)))
		return;
	if (!SHP_SPC_NOSCAN(s->spc))
		gray_push(heap, s->base + idx * s->elemsize, s->elemsize);
}

/*
 * Mark the object @v points into, if it is an allocated object of @heap.
 * The span of the last hit is remembered: objects tend to point near
 * each other, and our own spans cannot go away while the world is
 * stopped, so a hit skips the pagemap.
 */
static __always_inline void mark_word(struct spanheap *heap, unsigned long v)
{
	struct shp_span *s = heap->mark_hint;
	unsigned long off = v - s->base;
	unsigned int idx;

	if (unlikely(off >= s->bytes)) {
		if (v - heap->arena_lo >= heap->arena_hi - heap->arena_lo)
			return;
		s = shp_pagemap_lookup((void *)v);
		if (!s || s->heap != heap)
			return;
		heap->mark_hint = s;
		off = v - s->base;
	}
	if (off >= s->nelems * s->elemsize)
		return;
	idx = s->divmul ? ((u64)off * s->divmul) >> 32 : 0;
	if (test_bit(idx, shp_alloc_bits(s)))
		mark_push(heap, s, idx);
}

/**
 * shp_scan_range() - mark from every aligned word of a range
 * @heap: heap
 * @base: start, word aligned
 * @len: bytes
 *
 * Context: rcu_read_lock() held.
 */
void shp_scan_range(struct spanheap *heap, unsigned long base,
		    unsigned long len)
{
	const unsigned long *w = (const unsigned long *)base;
	unsigned long i, n = len / sizeof(long);

	for (i = 0; i < n; i++)
		mark_word(heap, w[i]);
}

/**
 * shp_mark_drain() - scan gray objects until none is left
 * @heap: heap
 *
 * Context: rcu_read_lock() NOT held; may cond_resched().
 */
void shp_mark_drain(struct spanheap *heap)
{
	unsigned int batch;

	while (heap->ngray) {
		rcu_read_lock();
		for (batch = 0; heap->ngray && batch < MARK_RCU_BATCH; batch++) {
			struct shp_gray g = heap->gray[--heap->ngray];

			shp_scan_range(heap, g.base, g.len);
		}
		rcu_read_unlock();
		cond_resched();
	}
}

/* Apply @fn to every live span of the heap (all central while marking). */
static void visit_spans(struct spanheap *heap,
			  void (*fn)(struct spanheap *heap, struct shp_span *s))
{
	struct shp_span *s;
	unsigned int spc;

	for (spc = 2; spc < SHP_NR_SPAN_CLASSES; spc++) {
		struct shp_central *ct = &heap->central[spc];

		list_for_each_entry(s, &ct->partial, list)
			fn(heap, s);
		list_for_each_entry(s, &ct->full, list)
			fn(heap, s);
		list_for_each_entry(s, &ct->unswept, list)
			fn(heap, s);
	}
	list_for_each_entry(s, &heap->large, list)
		fn(heap, s);
}

static void clear_span_marks(struct spanheap *heap, struct shp_span *s)
{
	memset(shp_mark_bits(s), 0, s->nwords * sizeof(long));
}

/**
 * shp_clear_marks() - clear the mark bits of every span
 * @heap: heap, drained and fully swept
 */
void shp_clear_marks(struct spanheap *heap)
{
	visit_spans(heap, clear_span_marks);
}

/* Pinned objects are roots. */
static void mark_span_pins(struct spanheap *heap, struct shp_span *s)
{
	struct shp_special *sp;
	unsigned long todo;
	unsigned int w, idx;

	if (!s->npins)
		return;
	for (w = 0; w < s->nwords; w++) {
		for (todo = shp_special_bits(s)[w]; todo; todo &= todo - 1) {
			idx = w * BITS_PER_LONG + __ffs(todo);
			for (sp = s->specials[idx]; sp; sp = sp->next)
				if (sp->kind == SPANHEAP_SPECIAL_PIN)
					mark_push(heap, s, idx);
		}
		if (heap->ngray > SHP_GRAY_ENTRIES / 2)
			shp_mark_drain(heap);
	}
}

/*
 * Objects with finalizers root their referents.  A marked object is or
 * was gray, so its referents are covered: only unmarked ones are scanned
 * here, and a fully live heap costs one bitmap pass per span.
 */
static void mark_span_finalizer_referents(struct spanheap *heap,
					  struct shp_span *s)
{
	unsigned long *fin = shp_fin_bits(s), *mark = shp_mark_bits(s), todo;
	unsigned int w, idx;

	if (!s->nspecials || SHP_SPC_NOSCAN(s->spc))
		return;
	for (w = 0; w < s->nwords; w++) {
		todo = fin[w] & ~mark[w];
		if (!todo)
			continue;
		rcu_read_lock();
		for (; todo; todo &= todo - 1) {
			idx = w * BITS_PER_LONG + __ffs(todo);
			shp_scan_range(heap, s->base + idx * s->elemsize, s->elemsize);
		}
		rcu_read_unlock();
		if (heap->ngray > SHP_GRAY_ENTRIES / 2)
			shp_mark_drain(heap);
	}
}

/**
 * spanheap_mark_root() - report a root from a root-scan callback
 * @heap: heap being marked
 * @ptr: any value; if it points into an allocated object of @heap, that
 *	object (and what it references) is live
 *
 * Never drains the mark stack itself: a full stack is handled by the
 * overflow rescan, so the callback may hold a spinlock.
 *
 * Context: only from a spanheap_root_scan_t callback.
 */
void spanheap_mark_root(struct spanheap *heap, const void *ptr)
{
	rcu_read_lock();
	mark_word(heap, (unsigned long)ptr);
	rcu_read_unlock();
}
EXPORT_SYMBOL_GPL(spanheap_mark_root);

static void mark_roots(struct spanheap *heap)
{
	unsigned int i;

	spin_lock(&heap->roots_lock);
	rcu_read_lock();
	for (i = 0; i < heap->nroots; i++)
		mark_word(heap, (unsigned long)READ_ONCE(*heap->roots[i]));
	rcu_read_unlock();
	spin_unlock(&heap->roots_lock);
	shp_mark_drain(heap);
	if (heap->root_scan) {
		heap->root_scan(heap, heap->root_scan_arg);
		shp_mark_drain(heap);
	}
	shp_mark_finq(heap);
	shp_mark_drain(heap);
	visit_spans(heap, mark_span_pins);
	shp_mark_drain(heap);
	visit_spans(heap, mark_span_finalizer_referents);
	shp_mark_drain(heap);
}

static void rescan_span(struct spanheap *heap, struct shp_span *s)
{
	unsigned long *mark = shp_mark_bits(s);
	unsigned int idx;

	if (SHP_SPC_NOSCAN(s->spc))
		return;
	for (idx = 0; idx < s->nelems; idx++) {
		if (!test_bit(idx, mark))
			continue;
		rcu_read_lock();
		shp_scan_range(heap, s->base + idx * s->elemsize, s->elemsize);
		rcu_read_unlock();
		if (heap->ngray > SHP_GRAY_ENTRIES / 2)
			shp_mark_drain(heap);
	}
}

static void count_live(struct spanheap *heap, struct shp_span *s)
{
	unsigned int w, n = 0;

	for (w = 0; w < s->nwords; w++)
		n += hweight64(shp_mark_bits(s)[w]);
	WRITE_ONCE(heap->live_bytes, heap->live_bytes + (u64)n * s->elemsize);
}

/**
 * shp_mark() - mark everything reachable
 * @heap: heap, drained, fully swept, marks cleared
 *
 * Sets heap->live_bytes.
 */
void shp_mark(struct spanheap *heap)
{
	heap->mark_hint = &shp_empty_span;
	heap->ngray = 0;
	heap->gray_overflow = false;
	mark_roots(heap);
	while (heap->gray_overflow) {
		heap->gray_overflow = false;
		visit_spans(heap, rescan_span);
		shp_mark_drain(heap);
	}
	WRITE_ONCE(heap->live_bytes, 0);
	visit_spans(heap, count_live);
}
