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
 * The cycle (cycle.c) marks roots in this order: root slots and the
 * owner's roots (roots.c), queued finalizers (finq.c: their objects must
 * survive until they run), pinned objects, then the referents, but not
 * the objects themselves, of every object with a finalizer (Go's
 * markrootSpans; the last two are shp_mark_specials(), which also marks
 * from cleanup arguments).  That last step
 * is what orders finalizers: if A -> B and both have one, B is marked
 * through A and only A is finalized this cycle; and an object on a
 * cycle through itself marks itself, so it is never finalized
 * (shp_mark_find_cycles() lists those).
 *
 * Context for all of this file: heap->sections held for writing.
 */
#include <linux/mm.h>
#include <linux/prefetch.h>
#include <linux/sched.h>
#include <linux/slab.h>
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

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "scan without rcu_read_lock()");
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

#define SHP_GRAY_BYTES	(SHP_GRAY_ENTRIES * sizeof(struct shp_gray))

/**
 * shp_mark_stack_get() - make the mark stack if the heap has none yet
 * @heap: heap
 *
 * Made on first use and kept.  It is charged past the limit: a heap at
 * its limit must still be able to collect.
 *
 * Context: process context, heap->gc_lock held.
 * Return: false if there is no memory for it.
 */
bool shp_mark_stack_get(struct spanheap *heap)
{
	lockdep_assert_held(&heap->gc_lock);
	if (heap->gray)
		return true;
	heap->gray = kvmalloc(SHP_GRAY_BYTES, SHP_GFP);
	if (heap->gray)
		shp_meta_charge(heap, SHP_GRAY_BYTES, true);
	return heap->gray;
}

/**
 * shp_mark_stack_put() - free the mark stack
 * @heap: heap being destroyed
 *
 * Context: process context.
 */
void shp_mark_stack_put(struct spanheap *heap)
{
	if (!heap->gray)
		return;
	kvfree(heap->gray);
	heap->gray = NULL;
	shp_meta_uncharge(heap, SHP_GRAY_BYTES);
}

static void clear_span_marks(struct spanheap *heap, struct shp_span *s,
			     void *unused)
{
	memset(shp_mark_bits(s), 0, s->nwords * sizeof(long));
}

/**
 * shp_mark_reset() - start a mark: no object marked, the stack empty
 * @heap: heap, drained and fully swept, with a mark stack
 */
void shp_mark_reset(struct spanheap *heap)
{
	shp_assert_world_stopped(heap);
	shp_visit_spans(heap, clear_span_marks, NULL);
	heap->mark_hint = &shp_empty_span;
	heap->ngray = 0;
	heap->gray_overflow = false;
}

/* Pinned objects are roots. */
static void mark_span_pins(struct spanheap *heap, struct shp_span *s,
			   void *unused)
{
	struct shp_special *sp;
	unsigned long todo;
	unsigned int w, idx;

	if (!s->nkind[SPANHEAP_SPECIAL_PIN])
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
 * Scan the arguments of an object's cleanups: they are roots.  Context:
 * rcu_read_lock() held.
 */
static void scan_cleanup_args(struct spanheap *heap, struct shp_span *s,
			      unsigned int idx)
{
	struct shp_special *sp;

	for (sp = s->specials[idx]; sp; sp = sp->next)
		if (sp->kind == SPANHEAP_SPECIAL_CLEANUP)
			shp_scan_range(heap, (unsigned long)
				       &container_of(sp, struct shp_special_cleanup, sp)->arg,
				       sizeof(void *));
}

/*
 * Cleanup arguments are roots (Go marks the cleanup's closure).  The
 * first records of a word's objects are fetched before they are read:
 * each is a cache miss otherwise.
 */
static void mark_span_cleanup_args(struct spanheap *heap, struct shp_span *s,
				   void *unused)
{
	unsigned long todo;
	unsigned int w;

	if (!s->nkind[SPANHEAP_SPECIAL_CLEANUP])
		return;
	for (w = 0; w < s->nwords; w++) {
		todo = shp_special_bits(s)[w];
		if (!todo)
			continue;
		for (; todo; todo &= todo - 1)
			prefetch(s->specials[w * BITS_PER_LONG + __ffs(todo)]);
		rcu_read_lock();
		for (todo = shp_special_bits(s)[w]; todo; todo &= todo - 1)
			scan_cleanup_args(heap, s, w * BITS_PER_LONG + __ffs(todo));
		rcu_read_unlock();
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
					  struct shp_span *s, void *unused)
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

/**
 * shp_mark_specials() - mark from the special records
 * @heap: heap whose other roots are marked and drained
 *
 * Pinned objects and cleanup arguments are roots; then objects with a
 * finalizer root their referents but not themselves.  Weak handles mark
 * nothing.
 */
void shp_mark_specials(struct spanheap *heap)
{
	shp_assert_world_stopped(heap);
	shp_visit_spans(heap, mark_span_pins, NULL);
	shp_visit_spans(heap, mark_span_cleanup_args, NULL);
	shp_mark_drain(heap);
	shp_visit_spans(heap, mark_span_finalizer_referents, NULL);
	shp_mark_drain(heap);
}

static void rescan_span(struct spanheap *heap, struct shp_span *s, void *unused)
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

static void count_live(struct spanheap *heap, struct shp_span *s, void *unused)
{
	unsigned int w, n = 0;

	for (w = 0; w < s->nwords; w++)
		n += hweight64(shp_mark_bits(s)[w]);
	WRITE_ONCE(heap->live_bytes, heap->live_bytes + (u64)n * s->elemsize);
	heap->weak_at_mark += s->nkind[SPANHEAP_SPECIAL_WEAK];
}

/**
 * shp_mark_complete() - finish a mark once every root is marked
 * @heap: heap
 *
 * Rescans marked objects while the stack overflowed, then sets
 * heap->live_bytes and heap->weak_at_mark.
 */
void shp_mark_complete(struct spanheap *heap)
{
	shp_assert_world_stopped(heap);
	while (heap->gray_overflow) {
		heap->gray_overflow = false;
		shp_visit_spans(heap, rescan_span, NULL);
		shp_mark_drain(heap);
	}
	WRITE_ONCE(heap->live_bytes, 0);
	heap->weak_at_mark = 0;
	shp_visit_spans(heap, count_live, NULL);
}

struct cycle_walk {
	void (*report)(void *arg, void *obj);
	void *arg;
	int found;
};

/*
 * Does marking from each finalizable object's referents, or from the
 * arguments of its cleanups, come back to it?
 */
static void find_cycles_in_span(struct spanheap *heap, struct shp_span *s,
				void *arg)
{
	bool scan = !SHP_SPC_NOSCAN(s->spc);
	struct cycle_walk *cw = arg;
	unsigned int idx;
	bool fin;

	if (!s->nkind[SPANHEAP_SPECIAL_CLEANUP] &&
	    (!s->nkind[SPANHEAP_SPECIAL_FINALIZER] || !scan))
		return;
	for (idx = 0; idx < s->nelems; idx++) {
		if (!test_bit(idx, shp_special_bits(s)))
			continue;
		fin = scan && test_bit(idx, shp_fin_bits(s));
		shp_mark_reset(heap);
		rcu_read_lock();
		if (fin)
			shp_scan_range(heap, s->base + idx * s->elemsize, s->elemsize);
		scan_cleanup_args(heap, s, idx);
		rcu_read_unlock();
		shp_mark_drain(heap);
		if (test_bit(idx, shp_mark_bits(s))) {
			cw->found++;
			if (cw->report)
				cw->report(cw->arg, (void *)(s->base + idx * s->elemsize));
		}
	}
}

/**
 * shp_mark_find_cycles() - report objects whose records keep them forever
 * @heap: heap, drained and fully swept, with a mark stack
 * @report: called for each such object, or NULL
 * @arg: passed to @report
 *
 * An object with a finalizer that is reachable from itself, or with a
 * cleanup whose argument reaches it, is never found unreachable.
 * O(records x heap).  Leaves the mark bits meaningless: only the next
 * cycle reads them again, after shp_mark_reset().  If the mark stack
 * overflows during a check, that object is not reported.
 *
 * Return: the number of such objects.
 */
int shp_mark_find_cycles(struct spanheap *heap,
			 void (*report)(void *arg, void *obj), void *arg)
{
	struct cycle_walk cw = { .report = report, .arg = arg };

	shp_assert_world_stopped(heap);
	shp_visit_spans(heap, find_cycles_in_span, &cw);
	return cw.found;
}
