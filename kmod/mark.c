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
 * ends).  Nothing recurses while marking, and nothing is allocated but
 * the mark bytes of a parallel drain (below), without which it marks
 * all the same.
 *
 * The cycle (cycle.c) marks roots in this order: root slots and the
 * owner's roots (roots.c), queued finalizers (finq.c: their objects must
 * survive until they run), then, span by span in one pass
 * (shp_mark_specials(), Go's markrootSpans), pinned objects, cleanup
 * arguments and the referents, but not the objects themselves, of every
 * object with a finalizer.  That last step
 * is what orders finalizers: if A -> B and both have one, B is marked
 * through A and only A is finalized this cycle; and an object on a
 * cycle through itself marks itself, so it is never finalized
 * (shp_mark_find_cycles() lists those).
 *
 * Parallel drain.  With heap->nmark_workers > 1, a drain that finds
 * SHP_MARK_PAR_MIN or more gray objects on its stack hands them
 * to the workers (Go's gcWork, Boehm's parallel marker): the cycle's
 * task is worker 0 and queues the others on shp_mark_wq.  Each worker
 * keeps two work buffers (Go's wbuf1/wbuf2) and worker 0 also the rest
 * of the gray stack (its seed); a worker whose buffers are full
 * publishes one on the shared full list in exchange for an empty one,
 * and whenever that list is empty, a worker with work to spare publishes
 * its spare buffer, a share of the seed or half of its buffer
 * (balance()), so work waits there before anyone needs it.  Workers
 * mark with mark bytes (Boehm's, under parallel marking): a plain byte
 * store instead of test_and_set_bit(), whose
 * locked operation bounded two workers.  Two workers may both find an
 * object unmarked and both scan it, which costs time only.  Every span
 * numbered by shp_mark_reset() (mark_off, mark_gen) has a byte per
 * object in one array of the heap's, sized for them by the first
 * parallel drain after that reset (a mark that stays serial makes none);
 * the drain folds the bytes into the mark bits and zeroes them before it
 * returns, so nothing else ever reads them.  A span not numbered, or a
 * heap without memory (or limit) for the bytes, is marked with
 * test_and_set_bit(), tested first.  The buffers are preallocated (struct
 * shp_mark_par): with none free, a worker marks without pushing and
 * sets the overflow flag, which the rescan of shp_mark_complete() covers
 * as it does for the serial stack.  Termination (Go's work.nwait): a
 * worker with no work waits on the full list (polling, then sleeping
 * between polls, as Go's getfull); when every worker that
 * joined waits, nothing is gray anywhere and the drain is done.  Worker
 * 0 then waits only for the workers that joined to leave (@nexited), and
 * cancels the items not yet picked up (cancel_work(), which does not
 * wait): a workqueue thread slow to come, or one that took an item but
 * has not joined, costs the cycle nothing.  Such a late item finds the
 * drain done and leaves, or joins a later drain, whose set-up is
 * published under the lock that joining takes; the state it touches
 * lives until the heap is destroyed, which waits for every item
 * (shp_mark_stack_put()).  A drain with fewer gray objects (a list,
 * short phases) stays serial, with plain bit ops.
 *
 * Early wake.  A mark after one that drained in parallel queues its
 * workers before its reset (shp_mark_workers_wake()): a workqueue
 * thread takes 100-150 us to start on a vCPU, which worker 0 would
 * otherwise mark alone.  They wait for a drain to admit them while
 * par->opening is set, and leave once the mark clears it.
 *
 * Context for all of this file: heap->sections held for writing (by
 * the cycle's task, on behalf of the mark workers it waits for).
 */
#include <asm/byteorder.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/prefetch.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include "internal.h"

/* Lookups of foreign pointers may see spans of other heaps being freed. */
#define MARK_RCU_BATCH	1024

/* A worker's buffer with no more gray objects than this is not shared. */
#define MARK_BALANCE_MIN	4

/*
 * The span of the last pointer that hit (heap->mark_hint, or a worker's
 * hint), with the immutable fields a scan needs copied out, so the scan
 * loops keep them in registers: the pushes' stores would otherwise make
 * the compiler reload them for every word.  @limit is 0 for
 * shp_empty_span, which then never hits.
 *
 * @prev holds earlier hints, tried before the pagemap, each replaced in
 * turn: a tree's levels sit in different spans, so near its leaves a
 * depth-first walk's targets cycle through three or four spans (the
 * levels of a subtree).  They are held for as long as the hint, by the
 * same argument (mark_lookup()).
 *
 * @scan_len is the object size, or 0 for a NOSCAN span, whose objects
 * are marked but never pushed: one register for both.
 */
#define MARK_PREV_HINTS	3

struct mark_hint {
	struct shp_span *s;
	unsigned long base, limit, scan_len;
	unsigned long *alloc, *mark;
	u8 *bytes;
	u32 divmul;
	unsigned int victim;
	struct {
		struct shp_span *s;
		unsigned long base, limit;
	} prev[MARK_PREV_HINTS];
};

static u8 *span_mark_bytes(struct shp_mark_par *par, struct shp_span *s);

/* @par: NULL for the serial mark, else the parallel state (@h->bytes). */
static __always_inline void hint_set(struct mark_hint *h, struct shp_span *s,
				     struct shp_mark_par *par)
{
	h->bytes = par ? span_mark_bytes(par, s) : NULL;
	h->s = s;
	h->base = s->base;
	h->limit = (unsigned long)s->nelems * s->elemsize;
	h->scan_len = SHP_SPC_NOSCAN(s->spc) ? 0 : s->elemsize;
	h->alloc = shp_alloc_bits(s);
	h->mark = shp_mark_bits(s);
	h->divmul = s->divmul;
}

/* Start scanning with @s as the hint and no previous ones. */
static __always_inline void hint_init(struct mark_hint *h, struct shp_span *s,
				      struct shp_mark_par *par)
{
	unsigned int i;

	hint_set(h, s, par);
	h->victim = 0;
	for (i = 0; i < MARK_PREV_HINTS; i++) {
		h->prev[i].s = &shp_empty_span;
		h->prev[i].base = 0;
		h->prev[i].limit = 0;
	}
}

/*
 * The span of @heap holding @v, a value in the heap's arena that is not
 * in the hint's objects; or NULL.  Our own spans on lists cannot go away
 * while the world is stopped, so the span found may become the hint.
 */
static noinline struct shp_span *mark_lookup(struct spanheap *heap,
					     unsigned long v)
{
	struct shp_span *s = shp_pagemap_lookup((void *)v);

	/*
	 * A dead span (a kept one) is not cached: the scavenger may
	 * release it while the world is stopped, and the hint outlives
	 * this RCU section.
	 */
	if (!s || s->heap != heap || READ_ONCE(s->state) == SHP_SPAN_DEAD)
		return NULL;
	return s;
}

/*
 * @v missed the hint: make the span holding it the hint, from @h->prev
 * or the pagemap, the old hint taking its place in @h->prev.
 * Return: false if @v is in no span of @heap.
 */
static __always_inline bool hint_move(struct spanheap *heap,
				      struct shp_mark_par *par,
				      struct mark_hint *h, unsigned long v)
{
	struct shp_span *s;
	unsigned int i;

	for (i = 0; i < MARK_PREV_HINTS; i++)
		if (v - h->prev[i].base < h->prev[i].limit)
			break;
	if (i < MARK_PREV_HINTS) {
		s = h->prev[i].s;
	} else {
		s = mark_lookup(heap, v);
		if (!s)
			return false;
		i = h->victim;
		h->victim = (i + 1) % MARK_PREV_HINTS;
	}
	h->prev[i].s = h->s;
	h->prev[i].base = h->base;
	h->prev[i].limit = h->limit;
	hint_set(h, s, par);
	return true;
}

/*
 * Is @v a pointer into an allocated object of @heap?  If so, Return:
 * true, with the object's span made the hint @h and its index in *@idx.
 * Objects tend to point near each other (a list to the next object, a
 * tree's nodes to their siblings), so the pagemap is rarely needed; and
 * words outside [@lo, @lo + @extent) are rejected before it.  Large
 * spans have divmul 0: index 0 for any offset below their limit.
 */
static __always_inline bool mark_find(struct spanheap *heap,
				      struct shp_mark_par *par,
				      struct mark_hint *h, unsigned long v,
				      unsigned long lo, unsigned long extent,
				      unsigned int *idx)
{
	unsigned long off;

	if (v - lo >= extent)
		return false;
	off = v - h->base;
	if (unlikely(off >= h->limit)) {
		if (!hint_move(heap, par, h, v))
			return false;
		off = v - h->base;
		if (off >= h->limit)
			return false;
	}
	*idx = ((u64)off * h->divmul) >> 32;
	return test_bit(*idx, h->alloc);
}

/* The serial gray stack, in locals while a drain runs (heap->gray). */
struct mark_stack {
	struct shp_gray *g;
	unsigned int n;
	bool overflow;
};

/*
 * A pushed object's first line is prefetched at once (Boehm's mark_from
 * prefetches each candidate it pushes): the last pushed is scanned next,
 * after the rest of the current object, and its siblings soon after
 * when near the leaves of a tree.  gc_live_tree_1m with one worker went
 * from 14.5-15.6 to 12.5-13.7 ms on an idle machine; the list, whose
 * one push is taken at once, did not move.  Popping objects a few scans
 * ahead, fetched again meanwhile, made both slower: the drains pop and
 * scan at once.
 */
static __always_inline void gray_push(struct mark_stack *st,
				      unsigned long base, unsigned long len)
{
	if (unlikely(st->n == SHP_GRAY_ENTRIES)) {
		st->overflow = true;
		return;
	}
	prefetch((void *)base);
	st->g[st->n].base = base;
	st->g[st->n].len = len;
	st->n++;
}

/* Mark object @idx of the hint's span and queue it if it may hold pointers. */
static __always_inline void mark_push(struct mark_stack *st,
				      struct mark_hint *h, unsigned int idx)
{
	if (__test_and_set_bit(idx, h->mark))
		return;
	if (h->scan_len)
		gray_push(st, h->base + idx * h->scan_len, h->scan_len);
}

/* Mark from every aligned word of [@base, @base + @len). */
static __always_inline void scan_serial(struct spanheap *heap,
					struct mark_hint *h,
					struct mark_stack *st,
					unsigned long base, unsigned long len,
					unsigned long lo, unsigned long extent)
{
	const unsigned long *w = (const unsigned long *)base;
	const unsigned long *end = w + len / sizeof(long);
	unsigned int idx;

	for (; w < end; w++)
		if (mark_find(heap, NULL, h, *w, lo, extent, &idx))
			mark_push(st, h, idx);
}

/* scan_serial() against the whole arena range of @heap. */
static __always_inline void scan_arena(struct spanheap *heap,
				       struct mark_hint *h,
				       struct mark_stack *st,
				       unsigned long base, unsigned long len)
{
	scan_serial(heap, h, st, base, len, heap->arena_lo,
		    heap->arena_hi - heap->arena_lo);
}

/* Load the serial marker's state from @heap. */
static __always_inline void serial_get(struct spanheap *heap,
				       struct mark_hint *h,
				       struct mark_stack *st)
{
	hint_init(h, heap->mark_hint, NULL);
	st->g = heap->gray;
	st->n = heap->ngray;
	st->overflow = false;
}

/* Store it back. */
static __always_inline void serial_put(struct spanheap *heap,
				       struct mark_hint *h,
				       struct mark_stack *st)
{
	heap->mark_hint = h->s;
	heap->ngray = st->n;
	if (st->overflow)
		heap->gray_overflow = true;
}

/* Mark the object @v points into, if it is an allocated object of @heap. */
static void mark_word(struct spanheap *heap, unsigned long v)
{
	struct mark_stack st;
	struct mark_hint h;

	serial_get(heap, &h, &st);
	scan_serial(heap, &h, &st, (unsigned long)&v, sizeof(v),
		    heap->arena_lo, heap->arena_hi - heap->arena_lo);
	serial_put(heap, &h, &st);
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
	struct mark_stack st;
	struct mark_hint h;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "scan without rcu_read_lock()");
	serial_get(heap, &h, &st);
	scan_arena(heap, &h, &st, base, len);
	serial_put(heap, &h, &st);
}

/* Gray objects worth handing to other workers (see the top of the file). */
#define SHP_MARK_PAR_MIN	64
/* Gray objects a work buffer holds (Go's workbuf). */
#define SHP_WBUF_ENTRIES	128
/* Polls of the full list before a waiting worker sleeps between them (Go's getfull). */
#define MARK_SPINS		256
/*
 * A worker woken early polls for a drain this many times, then sleeps
 * between polls, 10-15 us at first, twice as long after each, up to
 * 80-120 us: a mark that stays serial for long (a big reset, a list)
 * costs it fewer wake-ups, and a drain opening then waits at most that.
 */
#define MARK_EARLY_SPINS	4096
#define MARK_EARLY_SLEEP_MAX_US	80
/* Buffers to share, beyond the two each worker holds. */
#define SHP_MARK_SHARED_WBUFS	32

/* A work buffer: owned by one worker, or on a list of struct shp_mark_par. */
struct shp_wbuf {
	struct shp_wbuf *next;
	unsigned int n;
	struct shp_gray g[SHP_WBUF_ENTRIES];
} ____cacheline_aligned_in_smp;

/**
 * struct shp_mark_worker - one parallel mark worker's own state
 * @work: on shp_mark_wq (unused for worker 0, the cycle's task)
 * @heap: its heap
 * @hint: span of its last pointer marked (as heap->mark_hint)
 * @b1: buffer pushed to and popped from; never NULL
 * @b2: spare buffer, swapped with @b1 when that fills or empties
 * @seed: worker 0 only: the gray stack the drain started with
 * @nseed: entries left on @seed
 */
struct shp_mark_worker {
	struct work_struct work;
	struct spanheap *heap;
	struct shp_span *hint;
	struct shp_wbuf *b1, *b2;
	struct shp_gray *seed;
	unsigned int nseed;
} ____cacheline_aligned_in_smp;	/* written at every object it scans */

/**
 * struct shp_mark_par - a heap's parallel mark state, made with its mark stack
 * @lock: protects the fields up to @overflow; a leaf
 * @full: non-empty buffers any worker may take (read unlocked to wait)
 * @nwait: workers waiting for a buffer (read unlocked by par_drain())
 * @done: set when every joined worker waits: the drain is over (written
 *	with WRITE_ONCE, polled unlocked)
 * @opening: a mark woke its workers before its first drain
 *	(shp_mark_workers_wake()); they wait for a drain to admit them
 *	until shp_mark_workers_release() clears it
 * @wake_early: a drain ran in parallel since the last wake: the next mark
 *	wakes its workers before its first drain
 * @nwait_open: items of workers woken early waiting for a drain (for tests)
 * @free: empty buffers
 * @nworkers: workers this drain has buffers for (w[0] to w[@nworkers - 1];
 *	written with WRITE_ONCE, polled unlocked)
 * @njoined: workers that joined this drain, worker 0 included
 * @nexited: of those, workers other than 0 that have left it (written
 *	with release under @lock, read with acquire by worker 0)
 * @overflow: a worker marked an object it could not push (written once)
 * @gen: mark generation of the last shp_mark_reset(), never 0; this and
 *	the @bytes fields are written with the world stopped and no worker
 *	joined (workers woken early read them only once admitted), and
 *	read-only during a drain
 * @bytes: the mark bytes, all zero outside a parallel drain; or NULL
 * @bytes_len: size of @bytes (charged)
 * @bytes_need: bytes the spans numbered by the last shp_mark_reset() take
 * @bytes_used: of which numbered by the last shp_mark_reset(); 0 until
 *	the first parallel drain after it makes them (mark_bytes_ready()),
 *	and if they did not fit (then no span has mark bytes)
 * @bytes_failed: making them failed since the world stopped: not tried
 *	again before the next stop (shp_mark_find_cycles() calls
 *	shp_mark_reset() per record); cleared by shp_mark_stack_get()
 * @max_workers: workers it has buffers for
 * @nbufs: entries of @bufs
 * @w: the workers
 * @bufs: the buffers; worker i starts each drain with 2i and 2i + 1
 */
struct shp_mark_par {
	spinlock_t lock ____cacheline_aligned_in_smp;
	struct shp_wbuf *full;
	unsigned int nwait;
	bool done;
	bool opening;
	bool wake_early;
	unsigned int nwait_open;
	struct shp_wbuf *free;
	unsigned int nworkers, njoined, nexited;
	bool overflow;
	u16 gen;
	u8 *bytes;
	unsigned long bytes_len, bytes_need, bytes_used;
	bool bytes_failed;
	unsigned int max_workers, nbufs;
	struct shp_mark_worker w[SHP_MAX_MARK_WORKERS];
	struct shp_wbuf bufs[];
};

/*
 * One poll of a waiting worker: spin for the first @spin polls, then
 * sleep between them, so that the worker with work, or the cycle's task,
 * may have this CPU.
 */
static void poll_pause(unsigned int polls, unsigned int spin)
{
	if (polls < spin)
		cpu_relax();
	else
		usleep_range(10, 20);
}

/*
 * Put @b (full) on the full list; Return: an empty buffer to use
 * instead, or NULL if there is none (then @b stays with the caller).
 */
static struct shp_wbuf *wbuf_trade_full(struct shp_mark_par *par,
					struct shp_wbuf *b)
{
	struct shp_wbuf *e;

	spin_lock(&par->lock);
	e = par->free;
	if (e) {
		par->free = e->next;
		b->next = par->full;
		WRITE_ONCE(par->full, b);
	}
	spin_unlock(&par->lock);
	return e;
}

static noinline void wbuf_push_slow(struct shp_mark_worker *w,
				    unsigned long base, unsigned long len)
{
	struct shp_wbuf *e;

	swap(w->b1, w->b2);
	if (w->b1->n == SHP_WBUF_ENTRIES) {
		e = wbuf_trade_full(w->heap->mark_par, w->b1);
		if (!e) {
			WRITE_ONCE(w->heap->mark_par->overflow, true);
			return;
		}
		w->b1 = e;
	}
	w->b1->g[w->b1->n].base = base;
	w->b1->g[w->b1->n].len = len;
	w->b1->n++;
}

/*
 * A worker's @b1 and its count, in locals while it scans: the mark
 * bytes' stores are char stores, which would otherwise make the
 * compiler reload both for every push.  Only the worker touches its own
 * buffers; @b1's count in memory is stale until top_put(), which every
 * function taking @w's buffers (the slow paths, balance(), get_full())
 * is preceded by.
 */
struct wbuf_top {
	struct shp_wbuf *b;
	unsigned int n;
};

static __always_inline void top_get(struct shp_mark_worker *w,
				    struct wbuf_top *t)
{
	t->b = w->b1;
	t->n = t->b->n;
}

static __always_inline void top_put(struct shp_mark_worker *w,
				    struct wbuf_top *t)
{
	t->b->n = t->n;
}

static __always_inline void wbuf_push(struct shp_mark_worker *w,
				      struct wbuf_top *t,
				      unsigned long base, unsigned long len)
{
	prefetch((void *)base);	/* as gray_push() */
	if (unlikely(t->n == SHP_WBUF_ENTRIES)) {
		top_put(w, t);
		wbuf_push_slow(w, base, len);
		top_get(w, t);
		return;
	}
	t->b->g[t->n].base = base;
	t->b->g[t->n].len = len;
	t->n++;
}

/* Return: a gray object from @b2 or the seed, or len 0 if none. */
static noinline struct shp_gray wbuf_pop_slow(struct shp_mark_worker *w)
{
	struct shp_gray none = { .base = 0, .len = 0 };

	if (w->b2->n) {
		swap(w->b1, w->b2);
		return w->b1->g[--w->b1->n];
	}
	if (w->nseed)
		return w->seed[--w->nseed];
	return none;
}

/*
 * The gray object is returned in registers, never through memory: a
 * 16-byte copy stored and read back as two words stalls on the
 * store-to-load forwarding (a third of the time of a worker's scan).
 */
static __always_inline bool wbuf_pop(struct shp_mark_worker *w,
				     struct wbuf_top *t, struct shp_gray *g)
{
	if (likely(t->n)) {
		t->n--;
		g->base = t->b->g[t->n].base;
		g->len = t->b->g[t->n].len;
		return true;
	}
	top_put(w, t);
	*g = wbuf_pop_slow(w);
	top_get(w, t);
	return g->len;
}

/*
 * scan_serial() for worker @w: other workers mark the same spans.  Set
 * bits are from serial drains, which the bytes do not repeat; without
 * bytes the bit is tested before the atomic (an object reached twice
 * costs a load).
 */
static __always_inline void scan_par(struct shp_mark_worker *w,
				     struct wbuf_top *t,
				     struct spanheap *heap,
				     struct shp_mark_par *par,
				     struct mark_hint *h,
				     unsigned long base, unsigned long len,
				     unsigned long lo, unsigned long extent)
{
	const unsigned long *p = (const unsigned long *)base;
	const unsigned long *end = p + len / sizeof(long);
	unsigned int idx;

	for (; p < end; p++) {
		if (!mark_find(heap, par, h, *p, lo, extent, &idx))
			continue;
		if (test_bit(idx, h->mark))
			continue;
		if (likely(h->bytes)) {
			if (READ_ONCE(h->bytes[idx]))
				continue;
			WRITE_ONCE(h->bytes[idx], 1);
		} else if (test_and_set_bit(idx, h->mark)) {
			continue;
		}
		if (h->scan_len)
			wbuf_push(w, t, h->base + idx * h->scan_len, h->scan_len);
	}
}

/*
 * Publish the spare buffer (if full), else a share of the seed, else the
 * older half of @b1 (the larger subtrees of a depth-first walk) if it
 * has more than MARK_BALANCE_MIN, as Go's gcWork.balance().  par_drain()
 * calls it when the full list looks empty and @b1 has that many (Go's
 * gcDrain: "if work.full == 0 { gcw.balance() }"), or a worker waits: a
 * worker that runs out then finds work at once, even while the one that
 * has it is off its vCPU.  A share is published only if the list is
 * still empty under the lock, or a worker waits; a full spare buffer
 * always is (it would be traded at the next push anyway).
 */
static noinline void balance(struct shp_mark_worker *w)
{
	struct shp_mark_par *par = w->heap->mark_par;
	struct shp_wbuf *e, *b1 = w->b1;
	unsigned int k;

	if (w->b2->n) {
		e = wbuf_trade_full(par, w->b2);
		if (e)
			w->b2 = e;
		return;
	}
	if (!w->nseed && b1->n <= MARK_BALANCE_MIN)
		return;
	spin_lock(&par->lock);
	/* Another worker published first: keep the free buffers for overflow. */
	e = par->full && !par->nwait ? NULL : par->free;
	if (e) {
		par->free = e->next;
		if (w->nseed) {
			k = min_t(unsigned int, (w->nseed + 1) / 2, SHP_WBUF_ENTRIES);
			w->nseed -= k;
			memcpy(e->g, w->seed + w->nseed, k * sizeof(e->g[0]));
		} else {
			k = b1->n / 2;
			memcpy(e->g, b1->g, k * sizeof(e->g[0]));
			memmove(b1->g, b1->g + k, (b1->n - k) * sizeof(b1->g[0]));
			b1->n -= k;
		}
		e->n = k;
		e->next = par->full;
		WRITE_ONCE(par->full, e);
	}
	spin_unlock(&par->lock);
}

/*
 * Take a buffer off the full list for @w, whose own are empty, waiting
 * until there is one or every joined worker waits.  Return: false when
 * the drain is done.
 */
static bool get_full(struct shp_mark_worker *w)
{
	struct shp_mark_par *par = w->heap->mark_par;
	bool waiting = false;
	struct shp_wbuf *f;
	unsigned int spins;

	spin_lock(&par->lock);
	for (;;) {
		f = par->full;
		if (f) {
			WRITE_ONCE(par->full, f->next);
			w->b1->next = par->free;
			par->free = w->b1;
			w->b1 = f;
			if (waiting)
				WRITE_ONCE(par->nwait, par->nwait - 1);
			spin_unlock(&par->lock);
			return true;
		}
		if (!waiting) {
			waiting = true;
			WRITE_ONCE(par->nwait, par->nwait + 1);
			if (par->nwait == par->njoined)
				WRITE_ONCE(par->done, true);
		}
		if (par->done) {
			spin_unlock(&par->lock);
			return false;
		}
		spin_unlock(&par->lock);
		for (spins = 0; !READ_ONCE(par->full) && !READ_ONCE(par->done); spins++)
			poll_pause(spins, MARK_SPINS);
		spin_lock(&par->lock);
	}
}

/* Scan gray objects until this drain is done.  Context: may cond_resched(). */
static void par_drain(struct shp_mark_worker *w)
{
	struct spanheap *heap = w->heap;
	struct shp_mark_par *par = heap->mark_par;
	unsigned long lo, extent;
	struct wbuf_top top;
	struct mark_hint h;
	unsigned int batch;
	struct shp_gray g;
	bool more;

	hint_init(&h, w->hint, par);
	top_get(w, &top);
	for (;;) {
		lo = heap->arena_lo;
		extent = heap->arena_hi - lo;
		rcu_read_lock();
		for (batch = 0; batch < MARK_RCU_BATCH && wbuf_pop(w, &top, &g); batch++) {
			if (unlikely(!READ_ONCE(par->full)) &&
			    (top.n > MARK_BALANCE_MIN || READ_ONCE(par->nwait))) {
				top_put(w, &top);
				balance(w);
				top_get(w, &top);
			}
			scan_par(w, &top, heap, par, &h, g.base, g.len, lo, extent);
		}
		rcu_read_unlock();
		if (batch == MARK_RCU_BATCH) {
			cond_resched();
			continue;
		}
		top_put(w, &top);
		more = get_full(w);
		top_get(w, &top);
		if (!more)
			break;
	}
	top_put(w, &top);
	w->hint = h.s;
}

/*
 * Does the open drain admit worker @i?  Not when done, nor a later
 * drain with fewer workers, whose buffers are not @i's.  Read unlocked
 * to poll, under @par->lock to join.
 */
static bool drain_admits(struct shp_mark_par *par, unsigned int i)
{
	return !READ_ONCE(par->done) && i < READ_ONCE(par->nworkers);
}

/*
 * Worker @i, woken early: wait, unlocked, until a drain admits it or the
 * mark clears @par->opening.  Context: @par->lock held; dropped meanwhile.
 */
static void wait_drain_open(struct shp_mark_par *par, unsigned int i)
{
	unsigned int polls = 0, us = 10;

	lockdep_assert_held(&par->lock);
	par->nwait_open++;
	while (!drain_admits(par, i) && par->opening) {
		spin_unlock(&par->lock);
		for (; READ_ONCE(par->opening) && !drain_admits(par, i); polls++) {
			if (polls < MARK_EARLY_SPINS) {
				cpu_relax();
				continue;
			}
			usleep_range(us, us + us / 2);
			us = min(2 * us, MARK_EARLY_SLEEP_MAX_US);
		}
		spin_lock(&par->lock);
	}
	par->nwait_open--;
}

/**
 * shp_mark_workfn() - a parallel mark worker: join the open drain, if any
 * @work: &shp_mark_worker.work of a heap's parallel state
 *
 * Woken early by a mark (shp_mark_workers_wake()), it waits for a drain
 * to admit it, or for the wake to end (shp_mark_workers_release()); a
 * waiter yet to see a release may carry on into the next mark's wake.
 *
 * Context: a workqueue thread (shp_mark_wq).
 */
void shp_mark_workfn(struct work_struct *work)
{
	struct shp_mark_worker *w = container_of(work, struct shp_mark_worker, work);
	struct shp_mark_par *par = w->heap->mark_par;
	unsigned int i = w - par->w;

	spin_lock(&par->lock);
	if (!drain_admits(par, i) && par->opening)
		wait_drain_open(par, i);
	if (!drain_admits(par, i)) {
		spin_unlock(&par->lock);
		return;
	}
	par->njoined++;
	spin_unlock(&par->lock);
	par_drain(w);
	spin_lock(&par->lock);
	/*
	 * Release, for wait_workers_left(): the last touch of the drain's
	 * state by this worker; worker 0 may reset it next.
	 */
	smp_store_release(&par->nexited, par->nexited + 1);
	spin_unlock(&par->lock);
}

/*
 * Worker 0, the drain done: wait until the other workers that joined
 * have left it.  They have seen @done or are about to (polling, as in
 * get_full()).
 */
static void wait_workers_left(struct shp_mark_par *par)
{
	unsigned int spins;

	/* Acquire: pairs with shp_mark_workfn()'s release of @nexited. */
	for (spins = 0; smp_load_acquire(&par->nexited) + 1 != par->njoined; spins++)
		poll_pause(spins, MARK_SPINS);
}

/*
 * The mark bytes of @s, if the last shp_mark_reset() numbered it; else
 * NULL.  @s is a span of the heap, not dead.
 */
static u8 *span_mark_bytes(struct shp_mark_par *par, struct shp_span *s)
{
	if (s->mark_gen != par->gen || s->mark_off >= par->bytes_used)
		return NULL;
	return par->bytes + s->mark_off;
}

/*
 * Mark bytes a span takes: a multiple of 8, so that each span's start
 * at an aligned u64 and fold_span_bytes() reads 8 at a time.
 */
static unsigned long span_nbytes(struct shp_span *s)
{
	return ALIGN((unsigned long)s->nelems, 8);
}

/*
 * Each byte of @x is 0 or 1: gather them into bits 0 to 7.  Byte k,
 * at bit 8k, times 2^(56 - 7k) lands on bit 56 + k; the other products
 * fall on distinct bits below 56 or past 63, so nothing carries.
 */
static inline unsigned long gather_bytes(u64 x)
{
	return (x * 0x0102040810204080ULL) >> 56;
}

/*
 * 64 mark bytes, each 0 or 1, as the bits of one u64.  Or-ing their
 * k'th 8 shifted by k puts object 8k + j's byte at bit 8j + k: an 8x8
 * bit matrix, whose transpose (three delta swaps, Hacker's Delight 7-3)
 * puts it at bit 8k + j.  Half the instructions of gather_bytes() per
 * 8 bytes, which the fold of a 1M-object tree spent 130-245 us in.
 */
static inline u64 gather_64_bytes(const __le64 *w)
{
	u64 x = le64_to_cpu(w[0]) | le64_to_cpu(w[1]) << 1 |
		le64_to_cpu(w[2]) << 2 | le64_to_cpu(w[3]) << 3 |
		le64_to_cpu(w[4]) << 4 | le64_to_cpu(w[5]) << 5 |
		le64_to_cpu(w[6]) << 6 | le64_to_cpu(w[7]) << 7;
	u64 t;

	t = (x ^ (x >> 7)) & 0x00AA00AA00AA00AAULL;
	x ^= t ^ (t << 7);
	t = (x ^ (x >> 14)) & 0x0000CCCC0000CCCCULL;
	x ^= t ^ (t << 14);
	t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0ULL;
	return x ^ t ^ (t << 28);
}

/*
 * Fold @s's mark bytes into its mark bits and zero them, for the next
 * drain (all numbered spans are folded, so every byte in use is zeroed;
 * the rest were never written).  After the workers are done, so the bytes
 * are read plainly, 8 at a time as little-endian words (byte 0 the
 * lowest, whatever the CPU).  A mark word is gathered in a register and
 * stored once: an OR into memory per 8 bytes chained each load on the
 * store before it.
 */
static void fold_span_bytes(struct spanheap *heap, struct shp_span *s,
			    void *unused)
{
	u8 *b = span_mark_bytes(heap->mark_par, s);
	unsigned long *mark = shp_mark_bits(s), bits;
	unsigned int i, j, n;

	if (!b)
		return;
	n = span_nbytes(s);
	for (i = 0; i < n; i += BITS_PER_LONG) {
		if (BITS_PER_LONG == 64 && i + 64 <= n) {
			bits = gather_64_bytes((const __le64 *)(b + i));
		} else {
			bits = 0;
			for (j = i; j < min(i + BITS_PER_LONG, n); j += 8)
				bits |= gather_bytes(le64_to_cpu(*(const __le64 *)(b + j))) << (j - i);
		}
		if (bits)
			mark[i / BITS_PER_LONG] |= bits;
	}
	memset(b, 0, n);	/* while in cache: a pass over all cost more */
}

/*
 * Give workers 0 to @n - 1 their two empty buffers, the rest to the free
 * list, and open a drain of @n workers that worker 0 (the caller) has
 * joined, with heap->gray as worker 0's seed and @nwait workers waiting
 * (1 for the offer functions' worker 0, which has nothing gray).
 */
static void drain_open(struct spanheap *heap, unsigned int n,
		       unsigned int nwait)
{
	struct shp_mark_par *par = heap->mark_par;
	struct shp_mark_worker *w;
	unsigned int i;

	par->full = NULL;
	par->free = NULL;
	for (i = 2 * n; i < par->nbufs; i++) {
		par->bufs[i].n = 0;
		par->bufs[i].next = par->free;
		par->free = &par->bufs[i];
	}
	for (i = 0; i < n; i++) {
		w = &par->w[i];
		w->b1 = &par->bufs[2 * i];
		w->b2 = &par->bufs[2 * i + 1];
		w->b1->n = 0;
		w->b2->n = 0;
		w->hint = &shp_empty_span;
		w->nseed = 0;
	}
	w = &par->w[0];
	w->hint = heap->mark_hint;
	w->seed = heap->gray;
	w->nseed = heap->ngray;
	heap->ngray = 0;
	par->overflow = false;
	/* Open the drain: a late item of an earlier one may join it now. */
	spin_lock(&par->lock);
	WRITE_ONCE(par->nwait, nwait);
	WRITE_ONCE(par->nworkers, n);
	par->njoined = 1;
	par->nexited = 0;
	WRITE_ONCE(par->done, false);
	spin_unlock(&par->lock);
}

static void mark_bytes_ready(struct spanheap *heap);

/* Drain heap->gray with @n workers. */
static void mark_drain_par(struct spanheap *heap, unsigned int n)
{
	struct shp_mark_par *par = heap->mark_par;
	struct shp_mark_worker *w = &par->w[0];
	unsigned int i;

	if (!par->bytes_used)
		mark_bytes_ready(heap);
	drain_open(heap, n, 0);
	for (i = 1; i < n; i++)
		queue_work(shp_mark_wq, &par->w[i].work);
	par_drain(w);
	for (i = 1; i < n; i++)
		cancel_work(&par->w[i].work);
	wait_workers_left(par);
	heap->mark_hint = w->hint;
	heap->mark_par_drains++;
	heap->mark_par_helped += par->njoined > 1;
	par->wake_early = true;
	if (par->bytes_used) {
		shp_visit_spans(heap, fold_span_bytes, NULL);
		heap->mark_byte_drains++;
	}
	if (par->overflow)
		heap->gray_overflow = true;
}

/**
 * shp_mark_drain() - scan gray objects until none is left
 * @heap: heap
 *
 * In parallel once there are enough of them (see the top of the file).
 *
 * Context: rcu_read_lock() NOT held; may allocate and sleep (a parallel
 * drain makes its mark bytes and waits for its workers).
 */
void shp_mark_drain(struct spanheap *heap)
{
	unsigned int batch, n = 1, par_min = UINT_MAX;
	unsigned long lo, extent;
	struct mark_stack st;
	struct mark_hint h;
	struct shp_gray g;

	if (heap->mark_par)
		n = min(heap->nmark_workers, heap->mark_par->max_workers);
	if (n > 1)
		par_min = SHP_MARK_PAR_MIN;
	serial_get(heap, &h, &st);
	while (st.n) {
		lo = heap->arena_lo;
		extent = heap->arena_hi - lo;
		rcu_read_lock();
		/* st.n - 1 < par_min - 1: gray objects, but not enough to share */
		for (batch = 0; batch < MARK_RCU_BATCH && st.n - 1 < par_min - 1; batch++) {
			g = st.g[--st.n];
			scan_serial(heap, &h, &st, g.base, g.len, lo, extent);
		}
		rcu_read_unlock();
		if (st.n >= par_min) {
			serial_put(heap, &h, &st);
			mark_drain_par(heap, n);
			return;
		}
		cond_resched();
	}
	serial_put(heap, &h, &st);
}

/* Set or clear @par->opening, which waiters poll unlocked. */
static void opening_set(struct shp_mark_par *par, bool on)
{
	spin_lock(&par->lock);
	WRITE_ONCE(par->opening, on);
	spin_unlock(&par->lock);
}

/**
 * shp_mark_workers_wake() - queue the mark workers before a mark's first drain
 * @heap: heap about to be marked
 *
 * If a drain ran in parallel since the last wake, this mark is likely to
 * have one too: its workers are queued now, before the mark's set-up
 * (reset, roots), and wait for the drain to open (shp_mark_workfn()),
 * instead of being queued when it opens.  A workqueue thread took
 * 100-150 us to start on this machine's vCPUs, a twentieth of a
 * two-worker cycle of gc_live_tree_1m.  shp_mark_workers_release() must
 * follow before the world restarts.
 *
 * Context: the world stopped, heap->gc_lock held.
 */
void shp_mark_workers_wake(struct spanheap *heap)
{
	struct shp_mark_par *par = heap->mark_par;
	unsigned int i, n;

	lockdep_assert_held(&heap->gc_lock);
	if (!par || !par->wake_early)
		return;
	n = min(heap->nmark_workers, par->max_workers);
	if (n < 2)
		return;
	par->wake_early = false;
	opening_set(par, true);
	for (i = 1; i < n; i++)
		queue_work(shp_mark_wq, &par->w[i].work);
	heap->mark_early_wakes++;
}

/**
 * shp_mark_workers_release() - let workers woken early go
 * @heap: heap whose mark is complete
 *
 * A worker still waiting for a drain leaves; one not yet started is
 * cancelled (without waiting, as after a drain).
 *
 * Context: the world stopped, heap->gc_lock held.
 */
void shp_mark_workers_release(struct spanheap *heap)
{
	struct shp_mark_par *par = heap->mark_par;
	unsigned int i;

	lockdep_assert_held(&heap->gc_lock);
	if (!par || !READ_ONCE(par->opening))
		return;
	opening_set(par, false);
	for (i = 1; i < par->max_workers; i++)
		cancel_work(&par->w[i].work);
}

/**
 * shp_mark_workers_init() - set a new heap's number of mark workers
 * @heap: heap being created
 *
 * The mark_workers module parameter when set, else the online CPUs; at
 * most SHP_MAX_MARK_WORKERS.
 *
 * Context: any.
 */
void shp_mark_workers_init(struct spanheap *heap)
{
	unsigned int n = READ_ONCE(shp_mark_workers);

	if (!n)
		n = num_online_cpus();
	heap->nmark_workers = clamp(n, 1U, (unsigned int)SHP_MAX_MARK_WORKERS);
}

#define SHP_GRAY_BYTES	(SHP_GRAY_ENTRIES * sizeof(struct shp_gray))

static size_t mark_par_bytes(unsigned int nbufs)
{
	return struct_size((struct shp_mark_par *)NULL, bufs, nbufs);
}

/* Make the parallel state; without memory for it the mark stays serial. */
static void mark_par_get(struct spanheap *heap)
{
	unsigned int i, nbufs = 2 * heap->nmark_workers + SHP_MARK_SHARED_WBUFS;
	struct shp_mark_par *par;

	par = kvzalloc(mark_par_bytes(nbufs), SHP_GFP);
	if (!par)
		return;
	shp_meta_charge(heap, mark_par_bytes(nbufs), true);
	spin_lock_init(&par->lock);
	par->max_workers = heap->nmark_workers;
	par->nbufs = nbufs;
	for (i = 0; i < SHP_MAX_MARK_WORKERS; i++) {
		par->w[i].heap = heap;
		INIT_WORK(&par->w[i].work, shp_mark_workfn);
	}
	heap->mark_par = par;
}

static void mark_bytes_put(struct spanheap *heap)
{
	struct shp_mark_par *par = heap->mark_par;

	if (!par->bytes)
		return;
	kvfree(par->bytes);
	shp_meta_uncharge(heap, par->bytes_len);
	par->bytes = NULL;
	par->bytes_len = 0;
	par->bytes_used = 0;
}

/* Would the mark bytes made do for @need of them? */
static bool mark_bytes_fit(struct shp_mark_par *par, unsigned long need)
{
	return need <= par->bytes_len && need >= par->bytes_len / 4;
}

/*
 * Size the mark bytes for @need of them, a quarter more for growth:
 * remade when they do not fit or are over 4 times too large.  Charged
 * within the limit: without them, parallel drains use test_and_set_bit().
 * A failure is not retried before the next stop (@bytes_failed).
 */
static void mark_bytes_get(struct spanheap *heap, unsigned long need)
{
	struct shp_mark_par *par = heap->mark_par;
	unsigned long len;

	if (par->bytes_failed || mark_bytes_fit(par, need))
		return;
	mark_bytes_put(heap);
	len = need + need / 4;
	if (!len || len > U32_MAX)
		return;
	if (!shp_meta_charge(heap, len, false)) {
		par->bytes_failed = true;
		return;
	}
	par->bytes = kvzalloc(len, SHP_GFP);
	if (!par->bytes) {
		shp_meta_uncharge(heap, len);
		par->bytes_failed = true;
		return;
	}
	heap->mark_bytes_made++;
	par->bytes_len = len;
}

/*
 * Make the mark bytes of the spans the last shp_mark_reset() numbered,
 * before the first parallel drain after it opens: a mark of a list or of
 * a dead heap, which stays serial, neither charges nor clears them.
 */
static void mark_bytes_ready(struct spanheap *heap)
{
	struct shp_mark_par *par = heap->mark_par;

	mark_bytes_get(heap, par->bytes_need);
	par->bytes_used = par->bytes && par->bytes_need <= par->bytes_len ?
			  par->bytes_need : 0;
}

/**
 * shp_mark_stack_get() - make the mark stack if the heap has none yet
 * @heap: heap
 *
 * Made on first use and kept, with the parallel mark state if the heap
 * has several mark workers.  They are charged past the limit: a heap at
 * its limit must still be able to collect.  The parallel state's mark
 * bytes are sized for the heap's spans by the first parallel drain after
 * each shp_mark_reset(); a stop of the world begins here, so a failure to
 * make them may be retried.
 *
 * Context: process context, heap->gc_lock held, the world stopped.
 * Return: false if there is no memory for the stack.
 */
bool shp_mark_stack_get(struct spanheap *heap)
{
	lockdep_assert_held(&heap->gc_lock);
	if (!heap->gray) {
		heap->gray = kvmalloc(SHP_GRAY_BYTES, SHP_GFP);
		if (!heap->gray)
			return false;
		shp_meta_charge(heap, SHP_GRAY_BYTES, true);
	}
	if (heap->nmark_workers > 1 && !heap->mark_par)
		mark_par_get(heap);
	if (heap->mark_par)
		heap->mark_par->bytes_failed = false;
	return true;
}

/**
 * shp_mark_worker_work() - the work item of a parallel mark worker, for tests
 * @heap: heap
 * @i: worker, 1 to SHP_MAX_MARK_WORKERS - 1 (0 is the cycle's task)
 *
 * Context: any; the heap's parallel state exists (a parallel mark ran).
 * Return: the item, or NULL if @i is out of range or there is no state.
 */
struct work_struct *shp_mark_worker_work(struct spanheap *heap, unsigned int i)
{
	if (!heap->mark_par || !i || i >= SHP_MAX_MARK_WORKERS)
		return NULL;
	return &heap->mark_par->w[i].work;
}

/*
 * For the offer functions: take gc_lock and, if @n and @i fit @heap's
 * parallel state, cancel every item and stop the world.  Return: the
 * state, or NULL (gc_lock not held) if they do not fit.
 */
static struct shp_mark_par *offer_begin(struct spanheap *heap, unsigned int n,
					unsigned int i)
{
	struct shp_mark_par *par;
	unsigned int k;

	mutex_lock(&heap->gc_lock);
	par = heap->mark_par;
	if (!par || n < 2 || n > par->max_workers || !i ||
	    i >= SHP_MAX_MARK_WORKERS || heap->ngray) {
		mutex_unlock(&heap->gc_lock);
		return NULL;
	}
	for (k = 0; k < SHP_MAX_MARK_WORKERS; k++)
		cancel_work_sync(&par->w[k].work);
	percpu_down_write(&heap->sections);	/* a drain reads the arena bounds */
	heap->mark_hint = &shp_empty_span;	/* may be gone since the last mark */
	return par;
}


/* End it; Return: whether an item joined it. */
static bool offer_drain_end(struct shp_mark_par *par)
{
	bool joined;

	spin_lock(&par->lock);
	joined = par->njoined > 1;
	WRITE_ONCE(par->done, true);
	par->nwait = 0;
	spin_unlock(&par->lock);
	return joined;
}

/* Restart the world and drop gc_lock, after offer_begin(). */
static void offer_end(struct spanheap *heap)
{
	percpu_up_write(&heap->sections);
	mutex_unlock(&heap->gc_lock);
}

/**
 * shp_mark_offer_late_item() - for tests: does a drain admit a late item?
 * @heap: heap whose parallel state exists (a parallel mark ran)
 * @n: workers of the drain, 2 to the workers the state has buffers for
 * @i: worker whose item comes late, 1 to SHP_MAX_MARK_WORKERS - 1
 *
 * Opens a drain of @n workers as mark_drain_par() does, with nothing
 * gray and worker 0 waiting (as it is once its own work is gone), runs
 * worker @i's item function in this task, and closes the drain.  An
 * item admitted finds no work, ends the drain and leaves; one refused
 * leaves at once.  Every item is cancelled first, so no real one joins.
 *
 * Context: process context, outside any section of @heap; may sleep.
 * Takes heap->gc_lock and stops the world, as a cycle does.
 * Return: 1 if the item joined, 0 if it was refused, -EINVAL if @heap
 * has no parallel state or @n or @i is out of range.
 */
int shp_mark_offer_late_item(struct spanheap *heap, unsigned int n,
			     unsigned int i)
{
	struct shp_mark_par *par = offer_begin(heap, n, i);
	int joined;

	if (!par)
		return -EINVAL;
	drain_open(heap, n, 1);	/* nothing gray, worker 0 waiting */
	shp_mark_workfn(&par->w[i].work);
	joined = offer_drain_end(par);
	offer_end(heap);
	return joined;
}

/* Poll, at most @ms, until @cond holds; Return: whether it did. */
#define mark_poll_until(cond, ms) ({					\
	unsigned long __deadline = jiffies + msecs_to_jiffies(ms);	\
	bool __ok;							\
									\
	while (!(__ok = (cond)) && time_before(jiffies, __deadline))	\
		usleep_range(1000, 2000);				\
	__ok;								\
})

/* *@v, one of @par's counts, read under @par->lock. */
static unsigned int par_count(struct shp_mark_par *par, unsigned int *v)
{
	unsigned int n;

	spin_lock(&par->lock);
	n = *v;
	spin_unlock(&par->lock);
	return n;
}

/**
 * shp_mark_early_waiters() - for tests: items woken early now waiting for a drain
 * @heap: heap
 *
 * Context: any, the heap not being destroyed.
 * Return: the count, 0 without parallel state.
 */
unsigned int shp_mark_early_waiters(struct spanheap *heap)
{
	return heap->mark_par ? par_count(heap->mark_par, &heap->mark_par->nwait_open) : 0;
}

/**
 * shp_mark_offer_early_item() - for tests: does a drain admit an item woken early?
 * @heap: heap whose parallel state exists (a parallel mark ran)
 * @n: workers of the drain, 2 to the workers the state has buffers for
 * @i: worker whose item is woken early, 1 to SHP_MAX_MARK_WORKERS - 1
 *
 * Wakes worker @i's item as shp_mark_workers_wake() does, waits until it
 * waits for a drain, then opens one of @n workers as
 * shp_mark_offer_late_item() does (nothing gray, worker 0 waiting).
 * Where the drain has buffers for @i, waits up to 10 s for the item to
 * join; where it has not, 20 ms for the item to leave, which it must
 * not.  Then ends the drain and the wake (shp_mark_workers_release())
 * at once, and waits until the item has left.  An item admitted finds
 * no work and ends the drain; one refused leaves with the wake.
 *
 * Context: process context, outside any section of @heap; may sleep.
 * Takes heap->gc_lock and stops the world, as a cycle does.
 * Return: 1 if the item joined, 0 if it did not, -EAGAIN if refused it
 * left before the wake ended, -EINVAL as shp_mark_offer_late_item(),
 * -ETIMEDOUT if within 10 s it did not start waiting, or did not leave.
 */
int shp_mark_offer_early_item(struct spanheap *heap, unsigned int n,
			      unsigned int i)
{
	struct shp_mark_par *par = offer_begin(heap, n, i);
	struct work_struct *work;
	bool waited, left = false;
	int ret;

	if (!par)
		return -EINVAL;
	work = &par->w[i].work;
	opening_set(par, true);
	queue_work(shp_mark_wq, work);
	waited = mark_poll_until(par_count(par, &par->nwait_open) == 1, 10000);
	if (waited) {
		drain_open(heap, n, 1);
		if (i < n)
			mark_poll_until(par_count(par, &par->njoined) > 1, 10000);
		else
			left = mark_poll_until(par_count(par, &par->nwait_open) == 0, 20);
	}
	/* End the drain, then the wake: a waiter left now joins nothing. */
	ret = offer_drain_end(par);
	if (left)
		ret = -EAGAIN;
	shp_mark_workers_release(heap);
	if (!waited || !mark_poll_until(!work_busy(work), 10000))
		ret = -ETIMEDOUT;
	offer_end(heap);
	return ret;
}

/**
 * shp_mark_stack_put() - free the mark stack
 * @heap: heap being destroyed
 *
 * Context: process context; sleeps until no mark work item of the heap runs.
 */
void shp_mark_stack_put(struct spanheap *heap)
{
	unsigned int i;

	if (heap->mark_par) {
		/* Every mark ends its wake: an item waiting on would hang this. */
		if (WARN_ON_ONCE(READ_ONCE(heap->mark_par->opening)))
			opening_set(heap->mark_par, false);
		/* A late item of the last drain may still be on its way out. */
		for (i = 0; i < SHP_MAX_MARK_WORKERS; i++)
			cancel_work_sync(&heap->mark_par->w[i].work);
		mark_bytes_put(heap);
		shp_meta_uncharge(heap, mark_par_bytes(heap->mark_par->nbufs));
		kvfree(heap->mark_par);
		heap->mark_par = NULL;
	}
	if (!heap->gray)
		return;
	kvfree(heap->gray);
	heap->gray = NULL;
	shp_meta_uncharge(heap, SHP_GRAY_BYTES);
}

/* Clear @s's marks; number its mark bytes from *@next, if not NULL. */
static void clear_span_marks(struct spanheap *heap, struct shp_span *s,
			     void *next)
{
	memset(shp_mark_bits(s), 0, s->nwords * sizeof(long));
	if (!next)
		return;
	s->mark_gen = heap->mark_par->gen;
	s->mark_off = *(unsigned long *)next;
	*(unsigned long *)next += span_nbytes(s);
}

/**
 * shp_mark_reset() - start a mark: no object marked, the stack empty
 * @heap: heap, drained and fully swept, with a mark stack
 *
 * With the parallel state, the same pass over the spans numbers their
 * mark bytes.  The bytes are made by the first parallel drain that
 * follows (a mark of a list, or of nothing, has none); bytes that would
 * not do for these spans are freed here.
 *
 * Context: process context, the world stopped.
 */
void shp_mark_reset(struct spanheap *heap)
{
	struct shp_mark_par *par = heap->mark_par;
	unsigned long next = 0;

	shp_assert_world_stopped(heap);
	if (!par) {
		shp_visit_spans(heap, clear_span_marks, NULL);
	} else {
		/* Spans numbered by an older reset have another generation. */
		if (!++par->gen)
			par->gen = 1;
		shp_visit_spans(heap, clear_span_marks, &next);
		par->bytes_need = next;
		par->bytes_used = 0;
		if (!mark_bytes_fit(par, next))
			mark_bytes_put(heap);
	}
	heap->mark_hint = &shp_empty_span;
	heap->ngray = 0;
	heap->gray_overflow = false;
}

/* Mark object @idx of @s and queue it for scanning if it may hold pointers. */
static void mark_obj(struct spanheap *heap, struct shp_span *s, unsigned int idx)
{
	struct mark_stack st = { .g = heap->gray, .n = heap->ngray };

	if (__test_and_set_bit(idx, shp_mark_bits(s)) || SHP_SPC_NOSCAN(s->spc))
		return;
	gray_push(&st, s->base + idx * s->elemsize, s->elemsize);
	heap->ngray = st.n;
	if (st.overflow)
		heap->gray_overflow = true;
}

/* Pinned objects are roots. */
static void mark_span_pins(struct spanheap *heap, struct shp_span *s)
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
					mark_obj(heap, s, idx);
		}
		if (heap->ngray > SHP_GRAY_ENTRIES / 2)
			shp_mark_drain(heap);
	}
}

/*
 * Scan the arguments of the cleanups on a chain of records: they are
 * roots.  Context: rcu_read_lock() held, the serial marker's state in
 * @h and @st.
 */
static void scan_cleanup_chain(struct spanheap *heap, struct mark_hint *h,
			       struct mark_stack *st, struct shp_special *sp)
{
	for (; sp; sp = sp->next)
		if (sp->kind == SPANHEAP_SPECIAL_CLEANUP)
			scan_arena(heap, h, st, (unsigned long)
				   &container_of(sp, struct shp_special_cleanup, sp)->arg,
				   sizeof(void *));
}

/* The same for an object's records. */
static void scan_cleanup_args(struct spanheap *heap, struct mark_hint *h,
			      struct mark_stack *st, struct shp_span *s,
			      unsigned int idx)
{
	scan_cleanup_chain(heap, h, st, s->specials[idx]);
}

/**
 * shp_scan_cleanup_chain() - mark from the arguments of chained cleanups
 * @heap: heap
 * @sp: first record of a chain (linked by ->next) on the heap's cleanup
 *	queue or a worker's running chain; records of other kinds on it
 *	are skipped
 *
 * Context: heap->fin_lock held (no record of the chain is freed while
 * it is walked) and rcu_read_lock() held.
 */
void shp_scan_cleanup_chain(struct spanheap *heap, struct shp_special *sp)
{
	struct mark_stack st;
	struct mark_hint h;

	lockdep_assert_held(&heap->fin_lock);
	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "scan without rcu_read_lock()");
	serial_get(heap, &h, &st);
	scan_cleanup_chain(heap, &h, &st, sp);
	serial_put(heap, &h, &st);
}

/*
 * Cleanup arguments are roots (Go marks the cleanup's closure), unless
 * none of the span's may point into an object (cleanup_roots).  The first
 * records of a word's objects are fetched before they are read: each is
 * a cache miss otherwise.
 */
static void mark_span_cleanup_args(struct spanheap *heap, struct shp_span *s)
{
	struct mark_stack st;
	struct mark_hint h;
	unsigned long todo;
	unsigned int w;

	if (!s->cleanup_roots)
		return;
	for (w = 0; w < s->nwords; w++) {
		todo = shp_special_bits(s)[w];
		if (!todo)
			continue;
		for (; todo; todo &= todo - 1)
			prefetch(s->specials[w * BITS_PER_LONG + __ffs(todo)]);
		rcu_read_lock();
		serial_get(heap, &h, &st);
		for (todo = shp_special_bits(s)[w]; todo; todo &= todo - 1)
			scan_cleanup_args(heap, &h, &st, s,
					  w * BITS_PER_LONG + __ffs(todo));
		serial_put(heap, &h, &st);
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
					  struct shp_span *s)
{
	unsigned long *fin = shp_fin_bits(s), *mark = shp_mark_bits(s), todo;
	struct mark_stack st;
	struct mark_hint h;
	unsigned int w, idx;

	if (!s->nkind[SPANHEAP_SPECIAL_FINALIZER] || SHP_SPC_NOSCAN(s->spc))
		return;
	for (w = 0; w < s->nwords; w++) {
		todo = fin[w] & ~mark[w];
		if (!todo)
			continue;
		rcu_read_lock();
		serial_get(heap, &h, &st);
		for (; todo; todo &= todo - 1) {
			idx = w * BITS_PER_LONG + __ffs(todo);
			scan_arena(heap, &h, &st, s->base + idx * s->elemsize,
				   s->elemsize);
		}
		serial_put(heap, &h, &st);
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
	if (unlikely(heap->why)) {
		shp_why_mark_root(heap->why, ptr);	/* spanheap_why() asks */
		return;
	}
	rcu_read_lock();
	mark_word(heap, (unsigned long)ptr);
	rcu_read_unlock();
}
EXPORT_SYMBOL_GPL(spanheap_mark_root);

/*
 * One span's records, in one visit: each pass over the spans misses the
 * cache on every span struct once they are scattered.  Nothing is
 * drained between the kinds of record, so a finalizable object that a
 * pin or cleanup argument reaches (through objects not yet scanned, or
 * from a later span) may have its referents scanned before it is
 * marked and scanned again: time only, the marked set is the same.
 */
static void mark_span_specials(struct spanheap *heap, struct shp_span *s,
			       void *unused)
{
	if (!s->nspecials)
		return;
	mark_span_pins(heap, s);
	mark_span_cleanup_args(heap, s);
	mark_span_finalizer_referents(heap, s);
}

/**
 * shp_mark_specials() - mark from the special records
 * @heap: heap whose other roots are marked and drained
 *
 * Pinned objects and cleanup arguments are roots; objects with a
 * finalizer root their referents but not themselves.  Weak handles mark
 * nothing.
 *
 * Context: the world stopped; may sleep (shp_mark_drain()).
 */
void shp_mark_specials(struct spanheap *heap)
{
	shp_assert_world_stopped(heap);
	shp_visit_spans(heap, mark_span_specials, NULL);
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
	WRITE_ONCE(heap->live_objects, heap->live_objects + n);
	heap->weak_at_mark += s->nkind[SPANHEAP_SPECIAL_WEAK];
}

/**
 * shp_mark_complete() - finish a mark once every root is marked
 * @heap: heap
 *
 * Rescans marked objects while the stack overflowed, then sets
 * heap->live_bytes, heap->live_objects and heap->weak_at_mark.
 */
void shp_mark_complete(struct spanheap *heap)
{
	shp_assert_world_stopped(heap);
	if (heap->gray_overflow)
		heap->mark_overflows++;
	while (heap->gray_overflow) {
		heap->gray_overflow = false;
		shp_visit_spans(heap, rescan_span, NULL);
		shp_mark_drain(heap);
	}
	WRITE_ONCE(heap->live_bytes, 0);
	WRITE_ONCE(heap->live_objects, 0);
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
	struct mark_stack st;
	struct mark_hint h;
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
		serial_get(heap, &h, &st);
		if (fin)
			scan_arena(heap, &h, &st, s->base + idx * s->elemsize,
				   s->elemsize);
		scan_cleanup_args(heap, &h, &st, s, idx);
		serial_put(heap, &h, &st);
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
