/* SPDX-License-Identifier: GPL-2.0 */
/*
 * spanheap internals, shared by the core files and the KUnit suites.
 *
 * A heap is a set of spans.  A span is a power-of-two run of pages cut
 * into equal objects of one size class (or, for class 0, holding one
 * large object).  Each span records which objects are allocated in
 * alloc_bits; the collector will record reachability in mark_bits.
 *
 *   struct spanheap
 *     |-- cpu[NR_CPUS]          per-CPU cache: one owned span per span class
 *     |     alloc[spc] --------> span (SHP_SPAN_CACHED, owner = this cache)
 *     |-- central[spc]          spinlock, partial and full lists of
 *     |     partial/full ------> spans (SHP_SPAN_CENTRAL, owner = NULL)
 *     |-- large                 list of one-object spans (SHP_SPAN_LARGE)
 *     `-- pages                 arenas the large spans' page runs are cut
 *                               from; free runs kept for reuse (pageheap.c)
 *
 *   shp_pagemap (global, RCU):  page address -> span, for every page of
 *                               every live span of every heap.
 *
 * Ownership.  A cached span's alloc_bits, alloc_cache and words are
 * written only by its owner with preemption disabled, so the fast path
 * takes no lock and no atomic.  Frees from elsewhere post the object in
 * remote_bits (atomically, under the central lock, so the owner cannot
 * let go of the span meanwhile); the owner folds them into alloc_bits
 * when it runs dry.  A central span's bits and lists belong to the
 * central lock.  Moving a span between the two happens under that lock.
 *
 * Map of the core.  One job per file; a file calls only files on its own
 * line or below it (inline functions and macros of headers count as
 * their user's calls), except in the one loop below.  Callbacks are how
 * a lower file calls up and are not counted: span visitors, the owner's
 * root scan, finalizer functions, work functions.  scripts/callgraph.py
 * --ktap checks this in make check.
 *
 * Allowed loop: central.c sweep.c (a central list sweeps a span before
 *	handing it out, as Go's mcentral.cacheSpan; a swept span is filed
 *	on a central list)
 *
 *   module.c               module init and exit
 *   chardev.c              /dev/spanheap itself (kernel only), over
 *   uheap.c                its handles and objects, over
 *   uheap_event.c uheap_weak.c  its events, its weak handles,
 *   uheap_table.c          its handle table (index -> entry)
 *   heap.c                 the public API: create, destroy, alloc, free
 *   debugfs.c stats.c      beside it: files and counters
 *   finalizer.c cleanup.c  SetFinalizer, AddCleanup and their workers
 *   weak.c                 weak handles
 *   cycle.c                mutator sections, the cycle, pacing, gctrace
 *   roots.c                root slots, the owner's root scan, pins
 *   sweep.c                sweeping; lookups that sweep first; room for
 *                          the records of the objects they find
 *   central.c              central lists, drain, large spans
 *   finq.c                 the queues of finalizers and cleanups found dead
 *   mark.c                 marking (serial or parallel), the mark stack,
 *                          the cycle diagnostic
 *   why.c                  why is an object alive: its path from a root
 *   global.c               module-wide state (workqueues, record caches)
 *   special.c              special records of every kind, their caches
 *   check.c                the consistency check, test builds only
 *   span.c                 spans, bitmaps, metadata charges, span walks
 *   pageheap.c             page runs of a heap: reuse, split, coalesce,
 *                          scavenge
 *   pagemap.c              page address -> span
 *   sizeclass_table.c      the size classes (made by mksizeclasses.py)
 *   trace.c                the tracepoints of trace/events/spanheap.h (emitted
 *                          by the files above through its trace_*() inlines)
 *
 * Lock order (outermost first):
 *   heap->gc_lock (mutex)              one collection at a time
 *     heap->sections (percpu rwsem)    write: a cycle; read: a mutator section
 *       uheap->lock (mutex)            /dev/spanheap handle table (uheap.c)
 *         preempt_disable              (get_cpu_ptr of the heap's cache)
 *           central[spc].lock | heap->lock (large spans, page runs)
 *             span->speciallock
 *               heap->fin_lock         the finalizer and cleanup queues
 *   heap->roots_lock, uheap->ev_lock   leaves
 *   mark_par->lock (mark.c)            leaf: the parallel mark's buffer lists
 *   shp_pagemap_lock (mutex)           with no spinlock held
 * Sections of two heaps never nest, and no cycle, finalizer wait or heap
 * destruction starts inside a section (they wait for sections to end).
 */
#ifndef _SPANHEAP_INTERNAL_H
#define _SPANHEAP_INTERNAL_H

#include <linux/types.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/atomic.h>
#include <linux/rcupdate.h>
#include <linux/percpu.h>
#include <linux/bitops.h>
#include <linux/cache.h>
#include <linux/mutex.h>
#include <linux/workqueue.h>
#include <linux/percpu-rwsem.h>
#include <linux/lockdep.h>
#include <linux/sched/mm.h>
#include <linux/memcontrol.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <asm/local.h>
#include "spanheap.h"
#include "sizeclass.h"

/*
 * Every allocation made for a heap: charged to the memcg of the heap's
 * creator (see shp_memcg_enter()), and failing with NULL rather than
 * invoking the memcg OOM killer when that memcg is at memory.max.
 */
#define SHP_GFP		(GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)

/* A span class is a size class plus the NOSCAN bit, as in Go. */
#define SHP_NR_SPAN_CLASSES	(SHP_NR_CLASSES * 2)
#define SHP_SPC(class, noscan)	(((class) << 1) | (noscan))
#define SHP_SPC_CLASS(spc)	((spc) >> 1)
#define SHP_SPC_NOSCAN(spc)	((spc) & 1)

/*
 * The span classes with central lists; class 0 (large objects, a span
 * each) lives on heap->large instead.
 */
#define for_each_small_spc(spc)						\
	for ((spc) = SHP_SPC(1, 0); (spc) < SHP_NR_SPAN_CLASSES; (spc)++)

/*
 * The tiny allocator (Go's mallocgc tiny path): NOSCAN allocations of at
 * most SHP_TINY_SIZE bytes are packed into blocks of the 16-byte NOSCAN
 * span class, which holds nothing else.  A block is one object to the
 * collector: any member keeps all of them.
 */
#define SHP_TINY_SIZE		16
#define SHP_TINY_CLASS		2
#define SHP_TINY_SPC		SHP_SPC(SHP_TINY_CLASS, 1)

/*
 * Empty spans a class keeps for reuse when explicit frees empty them;
 * sweeping also keeps what the pacer expects to be reused (central.c).
 */
#define SHP_KEEP_EMPTY_SPANS	1
/*
 * The most that charges which may fail (owners', records') bring
 * heap->meta to: the forced ones (mark stack, queue blocks; bounded by
 * memory) go past it without wrapping the count.
 */
#define SHP_META_CHARGE_MAX	(LONG_MAX / 2)

enum shp_span_state {
	SHP_SPAN_DEAD,		/* not (or no longer) in the heap */
	SHP_SPAN_CENTRAL,	/* on a central list, owner == NULL */
	SHP_SPAN_CACHED,	/* owned by a CPU cache */
	SHP_SPAN_LARGE,		/* one large object, on heap->large */
};

struct shp_cpu_cache;

/**
 * struct shp_span - a run of pages holding objects of one span class
 * @heap: owning heap; immutable
 * @base: address of object 0; immutable
 * @bytes: length of the span; immutable
 * @elemsize: object size; immutable
 * @divmul: reciprocal of @elemsize (0 for large spans); immutable
 * @nelems: objects in the span; immutable
 * @nwords: bitmap words; immutable
 * @spc: span class; immutable
 * @state: enum shp_span_state; changes under the central (or heap) lock
 * @cleanup_roots: a cleanup of the span has an argument that may point
 *	into an object (shp_cleanup_arg_may_point(); a root for the mark);
 *	cleared with the span's last cleanup.  Under @speciallock
 * @mark_gen: the heap's mark generation that numbered @mark_off (0: none)
 * @mark_off: index of the mark byte of object 0 in the heap's parallel
 *	mark bytes (mark.c); both are written by shp_mark_reset()
 * @owner: cache owning the span when SHP_SPAN_CACHED
 * @alloc_cache: free objects of word @cache_word not yet handed out (owner)
 * @cache_base: address of the first object of @cache_word (owner)
 * @kept_since: a kept large span (pageheap.c): jiffies of the first
 *	scavenger pass that found it kept, if @kept_seen; under heap->lock.
 *	Large spans are never cached, so these share room with the two above
 * @kept_seen: @kept_since is set
 * @cache_word: bitmap word @alloc_cache mirrors (owner)
 * @next_word: next word to load into @alloc_cache (owner)
 * @nalloc: allocated objects; exact while central, refreshed on release
 * @nremote: objects posted in @remote_bits and not yet folded
 * @sweepgen: equals heap->sweepgen once swept in the current cycle
 * @speciallock: protects @specials and the records on it
 * @specials: per object, its special records sorted by (offset, kind);
 *	allocated on first use, NULL until then
 * @nspecials: records on the span
 * @nkind: records on the span by kind (enum spanheap_special_kind)
 * @list: central partial/full/unswept list, or heap->large
 * @run: a large span's page run (pageheap.c); NULL for small spans
 * @rcu: frees the span after lookups that may still see it are done
 * @bits: alloc_bits, remote_bits, mark_bits, special_bits (object has a
 *	record), fin_bits (object has a finalizer), @nwords words each;
 *	the last two change under @speciallock (but for large_revive())
 */
struct shp_span {
	struct spanheap *heap;
	unsigned long base;
	unsigned long bytes;
	unsigned long elemsize;
	u32 divmul;
	u16 nelems;
	u8 nwords;
	u8 spc;
	u8 state;
	bool cleanup_roots;
	u16 mark_gen;
	u32 mark_off;
	struct shp_cpu_cache *owner;
	union {
		struct {
			u64 alloc_cache;
			unsigned long cache_base;
		};
		struct {
			unsigned long kept_since;
			bool kept_seen;
		};
	};
	u16 cache_word;
	u16 next_word;
	u16 nalloc;
	atomic_t nremote;
	u32 sweepgen;
	spinlock_t speciallock;
	struct shp_special **specials;
	unsigned int nspecials;
	unsigned int nkind[SPANHEAP_NR_SPECIAL_KINDS];
	struct list_head list;
	struct shp_run *run;
	struct rcu_head rcu;
	unsigned long bits[];
};

/**
 * struct shp_special - a special record: per-object out-of-band state
 * @next: next record of the same object, in (offset, kind) order
 * @offset: offset of the target inside its object (tiny blocks, weak
 *	handles to interior pointers)
 * @kind: enum spanheap_special_kind
 */
struct shp_special {
	struct shp_special *next;
	u32 offset;
	u8 kind;
};

struct shp_special_finalizer {
	struct shp_special sp;
	spanheap_finalizer_t fn;
	void *ctx;
};

struct shp_special_pin {
	struct shp_special sp;
	unsigned long count;
};

/*
 * Several per (offset, kind), in the order they were added.  Once due,
 * the record itself is the queued cleanup (struct shp_cleanup_batches):
 * its offset and id are not needed any more.
 */
struct shp_special_cleanup {
	struct shp_special sp;
	spanheap_cleanup_t fn;
	void *arg;
	union {
		s64 id;		/* on its object */
		struct shp_special_cleanup *next_batch;	/* queued */
	};
};

/**
 * struct spanheap_weak - a weak handle (Go's weak.Pointer indirection cell)
 * @ptr: the target; set to NULL, under the span's speciallock once the
 *	record is linked, when its object is first found unreachable or is
 *	freed
 * @ref: one for the object's record while it is linked, one for each
 *	spanheap_weak_make() not yet matched by spanheap_weak_put()
 *
 * Not heap memory: the collector never scans it, so it keeps nothing
 * alive.  It lives in its record (struct shp_special_weak), whose memory
 * and charge outlast the record's unlinking until @ref reaches zero.
 */
struct spanheap_weak {
	void *ptr;
	refcount_t ref;
};

/* One allocation for record and cell: a weak make is one slab allocation. */
struct shp_special_weak {
	struct shp_special sp;
	struct spanheap_weak cell;
};

/*
 * A queued finalizer: its object and context stay roots until the
 * worker ran it.  (A queued cleanup is its record itself, see struct
 * shp_cleanq.)
 */
struct shp_queue_entry {
	void *obj;
	spanheap_finalizer_t fn;
	void *ctx;
};

#define SHP_FINBLOCK_ENTRIES	168
/* A chunk of a queue (Go's finblock); free ones are cached. */
struct shp_finblock {
	struct shp_finblock *next;
	unsigned int cnt;
	struct shp_queue_entry fin[SHP_FINBLOCK_ENTRIES];
};

/**
 * struct shp_runq - the queue of finalizer calls found due by sweeping
 * @q: queued entries, newest block first
 * @c: cache of empty blocks
 * @queued: entries ever queued
 * @executed: entries whose call returned
 * @dropped: entries dropped by heap destruction
 *
 * Protected by heap->fin_lock.
 */
struct shp_runq {
	struct shp_finblock *q, *c;
	u64 queued, executed, dropped;
};

/* Most cleanups a worker takes off the queue at once (see finq.c). */
#define SHP_CLEANUP_BATCH	16

/**
 * struct shp_cleanup_batches - cleanup records found due, cut in batches
 * @first: first record of the first batch, NULL if none
 * @last: first record of the last batch (while the sweep builds them;
 *	not kept for heap->cleanq.q, which is only taken from its head)
 * @n: records in all
 *
 * A batch is a chain of at most SHP_CLEANUP_BATCH records through sp.next
 * ending in NULL; its first record holds its length in sp.offset and the
 * first record of the next batch in next_batch.  A worker takes a batch
 * without walking it.
 */
struct shp_cleanup_batches {
	struct shp_special_cleanup *first, *last;
	unsigned long n;
};

/*
 * shp_cleanup_batches_push() - add an unlinked cleanup record to @b
 * @b: batches
 * @c: record, no longer counted on its span
 *
 * It joins the first batch, or starts a new one if that is full.
 */
static inline void shp_cleanup_batches_push(struct shp_cleanup_batches *b,
					    struct shp_special_cleanup *c)
{
	struct shp_special_cleanup *f = b->first;

	if (f && f->sp.offset < SHP_CLEANUP_BATCH) {
		c->sp.next = &f->sp;
		c->sp.offset = f->sp.offset + 1;
		c->next_batch = f->next_batch;
		if (b->last == f)
			b->last = c;
	} else {
		c->sp.next = NULL;
		c->sp.offset = 1;
		c->next_batch = f;
		if (!f)
			b->last = c;
	}
	b->first = c;
	b->n++;
}

/**
 * struct shp_cleanq - the queue of cleanups found due by sweeping
 * @q: their records, unlinked from their objects by the sweep; a record
 *	stays charged to the heap until its cleanup returned (or it was
 *	dropped)
 * @queued: cleanups ever queued
 * @executed: cleanups that returned
 * @dropped: cleanups dropped by heap destruction
 *
 * Protected by heap->fin_lock.  Queueing a record needs no memory, so
 * the sweep cannot fail to queue a cleanup.
 */
struct shp_cleanq {
	struct shp_cleanup_batches q;
	u64 queued, executed, dropped;
};

/* Most cleanup workers a heap runs at once (module parameter's cap). */
#define SHP_MAX_CLEANUP_WORKERS	16

/**
 * struct shp_cleanup_worker - one of a heap's parallel cleanup workers
 * @work: on shp_cleanup_wq
 * @heap: its heap
 * @running: the records of the batch it took whose cleanups have not
 *	returned yet, a NULL-terminated chain; their arguments are roots
 *	(finq.c).  Set under heap->fin_lock; advanced by the worker alone,
 *	with a release store after each cleanup returns.
 */
struct shp_cleanup_worker {
	struct work_struct work;
	struct spanheap *heap;
	struct shp_special *running;
};

/* One gray object: its start and length in bytes. */
struct shp_gray {
	unsigned long base;
	unsigned long len;
};

#define SHP_GRAY_ENTRIES	8192

/* Most mark workers a heap has (module parameter's cap). */
#define SHP_MAX_MARK_WORKERS	16

struct shp_mark_par;

static inline unsigned long *shp_alloc_bits(struct shp_span *s)
{
	return s->bits;
}

static inline unsigned long *shp_remote_bits(struct shp_span *s)
{
	return s->bits + s->nwords;
}

static inline unsigned long *shp_mark_bits(struct shp_span *s)
{
	return s->bits + 2 * s->nwords;
}

static inline unsigned long *shp_special_bits(struct shp_span *s)
{
	return s->bits + 3 * s->nwords;
}

static inline unsigned long *shp_fin_bits(struct shp_span *s)
{
	return s->bits + 4 * s->nwords;
}

#define SHP_SPAN_BITMAPS	5

/*
 * Set or clear bit @idx of @s's special or fin bits.  Some readers test
 * them without speciallock (finalizer_at(), spanheap_weak_make()), so
 * each word is stored whole; every writer holds the lock (large_revive()
 * zeroes a freed large span's words whole, WRITE_ONCE()), so the read
 * half needs no marking.
 */
static inline void shp_special_bit_assign(struct shp_span *s,
					  unsigned long *bits,
					  unsigned int idx, bool on)
{
	unsigned long *w = bits + BIT_WORD(idx);

	lockdep_assert_held(&s->speciallock);
	if (on)
		WRITE_ONCE(*w, *w | BIT_MASK(idx));
	else
		WRITE_ONCE(*w, *w & ~BIT_MASK(idx));
}

/**
 * struct shp_central - spans of one span class not owned by a cache
 * @lock: protects the lists and the spans on them
 * @partial: swept spans with at least one free object
 * @full: swept spans with none
 * @unswept: spans not yet swept in this cycle (all of them at its start)
 * @nspans: spans of the class, cached ones included
 * @nempty: spans on @partial with no object allocated
 * @nswept: objects freed by sweeping, since creation
 */
struct shp_central {
	spinlock_t lock;
	struct list_head partial;
	struct list_head full;
	struct list_head unswept;
	unsigned long nspans;
	unsigned int nempty;
	u64 nswept;
} ____cacheline_aligned_in_smp;

/**
 * struct shp_cpu_cache - per-CPU allocation cache (Go's mcache)
 * @alloc: owned span per span class, or &shp_empty_span
 * @last: span of the latest allocation, one of @alloc, never the tiny
 *	class's (whose members cannot be freed); lets a free that follows
 *	an allocation skip the pagemap
 * @allocs: allocations on this CPU
 * @frees: explicit frees on this CPU
 * @tiny: the tiny block being filled, 0 for none; forgotten by every
 *	cycle (spanheap_drain()), which may free it
 * @tiny_off: bytes of @tiny handed out
 * @tiny_shared: allocations served from an existing tiny block (counted
 *	in @allocs, but not objects of their own)
 * @cleanup_id: last cleanup id handed out from this CPU's block
 * @cleanup_id_end: last id of the block; @cleanup_id == @cleanup_id_end
 *	when it is used up (SHP_CLEANUP_ID_BLOCK ids from heap->cleanup_ids)
 * @large: a large span this CPU freed, held for its next allocation of
 *	the same length, or NULL (central.c, "Large slots")
 * @large_puts: spans put in @large, ever; the slot work's idleness test
 * @large_seen: @large_puts when the slot work last looked (its own)
 *
 * Objects per class are counted from the bitmaps when stats are read,
 * so the fast paths only bump two counters next to @last: local_t, one
 * unlocked increment that other CPUs may read.
 */
struct shp_cpu_cache {
	struct shp_span *last;
	local_t allocs;
	local_t frees;
	unsigned long tiny;
	unsigned int tiny_off;
	local_t tiny_shared;
	s64 cleanup_id;
	s64 cleanup_id_end;
	struct shp_span *large;
	unsigned long large_puts;
	unsigned long large_seen;
	struct shp_span *alloc[SHP_NR_SPAN_CLASSES];
} ____cacheline_aligned_in_smp;

/* The longest span, in pages, a CPU's large slot holds (256 KiB). */
#define SHP_LARGE_SLOT_PAGES	64

/* Cleanup ids a CPU reserves from heap->cleanup_ids at once. */
#define SHP_CLEANUP_ID_BLOCK	64

/*
 * The page heap (pageheap.c).  Large spans are page runs cut from arenas
 * of SHP_ARENA_BYTES (or one run's size, if bigger or if the heap's
 * limit leaves less room).  Free runs are kept on lists by length:
 * lengths below SHP_RUN_LISTS pages have a list each, longer ones share
 * the last.
 */
#define SHP_ARENA_BYTES		(1UL << 20)
#define SHP_RUN_LISTS		64

struct shp_arena;

/**
 * struct shp_run - a run of pages of an arena, in use or free
 * @list: on heap->pages.free[] while free
 * @arena: arena holding it
 * @first: index of its first page in @arena
 * @npages: length in pages
 * @free: on a free list (else a large span's)
 * @needzero: some page may hold nonzero bytes (Go's span.needzero):
 *	fresh arena memory is zero, a freed run is not
 */
struct shp_run {
	struct list_head list;
	struct shp_arena *arena;
	unsigned int first;
	unsigned int npages;
	bool free;
	bool needzero;
};

/**
 * struct shp_arena - pages a heap reserved at once, cut into runs
 * @list: on heap->pages.arenas
 * @base: address of its first page
 * @npages: length in pages
 * @nfree: pages in free runs; the arena is idle when it equals @npages
 * @idle_since: jiffies when it last became idle
 * @edge: per page, the free run that begins or ends there, else NULL;
 *	how a freed run finds its free neighbours
 */
struct shp_arena {
	struct list_head list;
	unsigned long base;
	unsigned int npages;
	unsigned int nfree;
	unsigned long idle_since;
	struct shp_run *edge[];
};

/**
 * struct shp_pageheap - a heap's arenas and free page runs
 * @arenas: every arena of the heap
 * @free: free runs by length (see SHP_RUN_LISTS)
 * @nonempty: bit i set when @free[i] is not empty
 * @spare: one unused run struct, so that a split rarely allocates
 * @narenas: entries on @arenas
 * @idle_bytes: bytes in free runs (counted in heap->reserved)
 * @idle_arena_bytes: of those, bytes of arenas wholly free: only these
 *	can be given back (the scavenger frees whole arenas)
 * @kept: freed large spans kept whole for reuse, by length as @free,
 *	newest first
 * @nkept: entries on @kept, at most @max_kept
 * @kept_bytes: bytes of the spans on @kept (counted in heap->reserved)
 * @max_kept: how many to keep, fixed at creation
 * @nreused: kept spans taken back by an allocation, ever
 * @scavenged: bytes of arenas given back by the scavenger, ever
 * @delay: jiffies an arena stays idle before the scavenger frees it
 * @armed: @scavenge_work is queued or about to be
 * @scavenge_work: the background scavenger
 *
 * Everything but @scavenge_work, @delay and @max_kept is protected by
 * heap->lock.
 */
struct shp_pageheap {
	struct list_head arenas;
	struct list_head free[SHP_RUN_LISTS];
	u64 nonempty;
	struct shp_run *spare;
	unsigned long narenas;
	unsigned long idle_bytes;
	unsigned long idle_arena_bytes;
	struct list_head kept[SHP_RUN_LISTS];
	unsigned int nkept;
	unsigned long kept_bytes;
	unsigned int max_kept;
	u64 nreused;
	u64 scavenged;
	unsigned long delay;
	bool armed;
	struct delayed_work scavenge_work;
};

/**
 * struct shp_pause - how long cycles held mutator sections off
 * @last_ns: the last cycle's pause: from the moment the world was stopped
 *	(the last section ended) until sections may start again
 * @max_ns: the longest pause
 * @total_ns: all pauses added up (Go's PauseTotalNs)
 * @stop_last_ns: the last cycle's wait to stop the world: the rwsem's
 *	switch of readers to its slow path, then running sections ending.
 *	New sections are held off only for the latter part of it, so it is
 *	kept apart from the pause.
 */
struct shp_pause {
	u64 last_ns;
	u64 max_ns;
	u64 total_ns;
	u64 stop_last_ns;
};

/**
 * struct spanheap - a heap
 * @name: for debugfs and messages
 * @id: unique number, part of the debugfs directory name
 * @limit: cap on @reserved in bytes, 0 for none
 * @reserved: bytes of small spans and of arenas held
 * @cpu: per-CPU caches
 * @central: per span class
 * @lock: protects @large, @nlarge, @large_bytes, @large_sweepgen, @pages
 * @large: large-object spans
 * @nlarge: entries on @large
 * @large_bytes: bytes of the spans on @large
 * @large_sweepgen: @sweepgen when every large span was last swept
 * @large_slot_pages: longest span a CPU's large slot holds, 0 for none
 *	(fixed at creation; no slot is filled while @limit is set)
 * @slot_armed: @slot_work is queued or about to be; under @lock
 * @slot_work: gives back the large slots left idle (central.c)
 * @pages: page runs of the large spans
 * @bad_frees: rejected frees
 * @debugfs: debugfs directory, if any
 * @debugfs_why: the object id last written to its why file (debugfs.c)
 * @sections: mutator sections hold it for reading, a collection for writing
 * @gc_lock: one collection at a time
 * @world_stopped: set by stop_world() (with @gc_lock, @sections held for
 *	writing) and cleared before the world restarts; read under a central
 *	lock by shp_central_release_empty()
 * @sweepgen: advanced by every cycle; spans with another value are unswept
 * @arena_lo: lowest span address ever, to reject non-pointers cheaply
 * @arena_hi: highest span end ever
 * @roots_lock: protects @roots, @nroots, @roots_cap
 * @roots: registered root slots
 * @nroots: entries in @roots
 * @roots_cap: room in @roots
 * @gray: mark stack, allocated on first collection
 * @ngray: entries on @gray
 * @gray_overflow: an object was marked but could not be pushed
 * @mark_hint: the span of the last pointer marked (this heap's, or the
 *	empty span).  One: eight indexed by page, for a tree's parents and
 *	children, measured slower for a list and no faster for the tree
 * @nmark_workers: workers of a parallel drain (1: serial), set at creation;
 *	tests and benchmarks change it only between cycles
 * @mark_par: parallel mark state (mark.c), made with @gray if
 *	@nmark_workers > 1 (NULL without memory: the mark is serial)
 * @mark_overflows: marks whose stack overflowed (for tests)
 * @mark_par_drains: drains done in parallel (for tests)
 * @mark_par_helped: of those, drains another worker joined
 * @mark_early_wakes: marks that woke their workers before the first drain
 * @mark_byte_drains: of those, drains that marked with mark bytes
 * @mark_bytes_made: times the mark bytes were (re)made (for tests)
 * @live_bytes: bytes marked by the last cycle
 * @live_objects: objects marked by the last cycle (tiny blocks count once)
 * @weak_at_mark: weak records when the last cycle marked (for gctrace)
 * @next_gc: the pacer's goal: a cycle starts once shp_heap_in_use() passes it
 * @gc_percent: GOGC; negative turns pacing off
 * @collections: completed cycles
 * @pause: the cycles' stop-the-world times, written under @gc_lock
 * @nswept_large: large objects freed by sweeping
 * @fin_lock: protects the two queues, the running cleanups and @dying
 * @dying: set by spanheap_destroy() before it cancels the workers: from
 *	then on no work item of the heap is queued (shp_heap_queue_work())
 * @finq: queued finalizers
 * @cleanq: queued cleanups
 * @fin_work: the finalizer worker (Go's fing)
 * @cleanup_ids: last cleanup id reserved by a CPU cache's block
 * @ncleanup_workers: entries of @cleanup_workers in use, fixed at creation
 * @cleanup_workers: the parallel cleanup workers
 * @gc_work: a paced background collection
 * @gc_at_limit: an allocation failed at the limit and queued @gc_work:
 *	that cycle runs whatever the pacer says (cleared under @gc_lock)
 * @sweep_work: the background sweeper
 * @owner: for the user of the heap (the /dev/spanheap file that owns it)
 * @root_scan: the owner's extra roots, called by every mark (may be NULL)
 * @root_scan_arg: its argument
 * @why: the search of spanheap_why() in progress, which the owner's root
 *	scan reports to instead of marking (why.c); NULL otherwise
 * @memcg: memcg of the heap's creator; workers charge their allocations to it
 * @meta: bytes of metadata charged to the heap (records, queue blocks, mark
 *	stack, the owner's tables); counted with @reserved against @limit
 */
struct spanheap {
	char name[32];
	unsigned int id;
	size_t limit;
	atomic_long_t reserved;
	struct shp_cpu_cache __percpu *cpu;
	struct shp_central central[SHP_NR_SPAN_CLASSES];
	spinlock_t lock;
	struct list_head large;
	unsigned long nlarge;
	unsigned long large_bytes;
	u32 large_sweepgen;
	unsigned int large_slot_pages;
	bool slot_armed;
	struct delayed_work slot_work;
	struct shp_pageheap pages;
	atomic_long_t bad_frees;
	struct dentry *debugfs;
	char debugfs_why[24];

	struct percpu_rw_semaphore sections;
	struct mutex gc_lock;
	bool world_stopped;
	u32 sweepgen;
	unsigned long arena_lo, arena_hi;
	spinlock_t roots_lock;
	void ***roots;
	unsigned int nroots, roots_cap;
	struct shp_gray *gray;
	unsigned int ngray;
	bool gray_overflow;
	struct shp_span *mark_hint;
	unsigned int nmark_workers;
	struct shp_mark_par *mark_par;
	u64 mark_overflows;
	u64 mark_par_drains;
	u64 mark_par_helped;
	u64 mark_early_wakes;
	u64 mark_byte_drains;
	u64 mark_bytes_made;
	u64 live_bytes;
	u64 live_objects;
	u64 weak_at_mark;
	u64 next_gc;
	int gc_percent;
	atomic64_t collections;
	struct shp_pause pause;
	u64 nswept_large;

	spinlock_t fin_lock;
	bool dying;
	struct shp_runq finq;
	struct shp_cleanq cleanq;
	struct work_struct fin_work;
	atomic64_t cleanup_ids;
	unsigned int ncleanup_workers;
	struct shp_cleanup_worker cleanup_workers[SHP_MAX_CLEANUP_WORKERS];
	struct work_struct gc_work;
	bool gc_at_limit;
	struct work_struct sweep_work;
	void *owner;
	spanheap_root_scan_t root_scan;
	void *root_scan_arg;
	struct shp_why *why;
	struct mem_cgroup *memcg;
	atomic_long_t meta;
};

/**
 * shp_memcg_enter() - charge allocations to the heap's creator from here on
 * @heap: heap
 *
 * Workers (paced cycles, the sweeper, the finalizer worker) and callers
 * acting for another task use this so that what a heap costs is charged
 * to whoever created it.
 *
 * Context: process context.
 * Return: the previous active memcg, for shp_memcg_exit().
 */
static inline struct mem_cgroup *shp_memcg_enter(struct spanheap *heap)
{
	return set_active_memcg(heap->memcg);
}

/* Checks (with lockdep) that the caller is inside a section of @heap. */
static inline void shp_assert_in_section(struct spanheap *heap)
{
	lockdep_assert_held_read(&heap->sections);
}

/* Checks (with lockdep) that the caller has stopped @heap's world. */
static inline void shp_assert_world_stopped(struct spanheap *heap)
{
	lockdep_assert_held_write(&heap->sections);
}

static inline void shp_memcg_exit(struct mem_cgroup *old)
{
	set_active_memcg(old);
}

/**
 * shp_heap_queue_work_locked() - queue one of a heap's work items
 * @heap: heap
 * @wq: workqueue
 * @work: a work item of @heap
 *
 * Nothing is queued once the heap is dying: a cleanup or finalizer that
 * allocates or collects while spanheap_destroy() waits for it must not
 * requeue work that destroy has already cancelled.
 *
 * Context: heap->fin_lock held.
 */
static inline void shp_heap_queue_work_locked(struct spanheap *heap,
					      struct workqueue_struct *wq,
					      struct work_struct *work)
{
	lockdep_assert_held(&heap->fin_lock);
	if (!heap->dying)
		queue_work(wq, work);
}

/*
 * shp_heap_queue_work_locked(), taking heap->fin_lock.  Context: process
 * context, no spinlock held that nests inside heap->fin_lock.
 */
static inline void shp_heap_queue_work(struct spanheap *heap,
				       struct workqueue_struct *wq,
				       struct work_struct *work)
{
	spin_lock(&heap->fin_lock);
	shp_heap_queue_work_locked(heap, wq, work);
	spin_unlock(&heap->fin_lock);
}

/* Go's heap minimum: no paced cycle before the heap holds this much. */
#define SHP_GC_MIN_HEAP		(4UL << 20)

extern struct shp_span shp_empty_span;

/*
 * May @arg, a cleanup's argument, point into an object?  Not if it is
 * below PAGE_SIZE (NULL, a small number): no object is ever there.  A
 * test against the heap's arena would need its bounds as of the
 * object's allocation, which a lockless read need not see.
 */
static inline bool shp_cleanup_arg_may_point(const void *arg)
{
	return (unsigned long)arg >= PAGE_SIZE;
}

/**
 * shp_over_limit() - would @now bytes of @counter pass the heap's limit?
 * @heap: heap
 * @now: new value of heap->reserved or heap->meta
 * @other: the other of the two counters
 *
 * Context: any.
 * Return: true if the limit is set and @now plus @other exceed it.
 */
static inline bool shp_over_limit(struct spanheap *heap, long now,
				  atomic_long_t *other)
{
	size_t limit = READ_ONCE(heap->limit);

	/* Above LONG_MAX a limit is no limit (the counts stay below it). */
	return limit && now + atomic_long_read(other) >
		(long)min_t(size_t, limit, LONG_MAX);
}

/**
 * shp_reserve() - count @bytes of pages against the heap's limit
 * @heap: heap
 * @bytes: size of the pages about to be allocated
 *
 * Context: any.
 * Return: false, with nothing counted, if the limit would be passed.
 */
static inline bool shp_reserve(struct spanheap *heap, unsigned long bytes)
{
	long now = atomic_long_add_return(bytes, &heap->reserved);

	if (shp_over_limit(heap, now, &heap->meta)) {
		atomic_long_sub(bytes, &heap->reserved);
		return false;
	}
	return true;
}

/*
 * Bytes of spans the heap holds, free page runs and kept spans left out:
 * what the pacer compares with its goal (both are reused before the
 * heap grows).
 */
static inline long shp_heap_in_use(struct spanheap *heap)
{
	return atomic_long_read(&heap->reserved) -
	       (long)READ_ONCE(heap->pages.idle_bytes) -
	       (long)READ_ONCE(heap->pages.kept_bytes);
}

/* pagemap.c */
struct shp_span *shp_pagemap_lookup(const void *p);
int shp_pagemap_insert(struct shp_span *s);
void shp_pagemap_remove(struct shp_span *s);
void shp_pagemap_teardown(void);

/* span.c */
typedef void (*shp_span_visitor_t)(struct spanheap *heap, struct shp_span *s,
				   void *arg);
struct shp_span *shp_span_new(struct spanheap *heap, unsigned int spc,
			      size_t large_size, bool zero);
void shp_span_release(struct shp_span *s);
bool shp_span_load_cache(struct shp_span *s);
void shp_span_fold_remote(struct shp_span *s);
unsigned int shp_span_count_alloc(struct shp_span *s);
struct shp_span *shp_find_object(struct spanheap *heap, const void *p,
				 unsigned int *idx);
bool shp_meta_charge(struct spanheap *heap, long bytes, bool force);
bool shp_meta_charge_reclaim(struct spanheap *heap, long bytes);
void shp_meta_uncharge(struct spanheap *heap, long bytes);
void shp_visit_spans(struct spanheap *heap, shp_span_visitor_t fn, void *arg);

/* pageheap.c */
extern unsigned int shp_scavenge_delay_ms;
extern unsigned int shp_kept_large_spans;
bool shp_span_keep(struct spanheap *heap, struct shp_span *s);
struct shp_span *shp_span_take_kept(struct spanheap *heap, unsigned long bytes);
void shp_pageheap_init(struct spanheap *heap);
struct shp_run *shp_run_alloc(struct spanheap *heap, unsigned long npages);
void shp_run_free(struct spanheap *heap, struct shp_run *r);
unsigned long shp_scavenge(struct spanheap *heap, unsigned long now,
			   bool force);
void shp_scavenge_workfn(struct work_struct *work);
void shp_pageheap_destroy(struct spanheap *heap);

/* Address of the first page of run @r. */
static inline unsigned long shp_run_base(struct shp_run *r)
{
	return r->arena->base + ((unsigned long)r->first << PAGE_SHIFT);
}

/* special.c */
int shp_special_caches_get(void);
void shp_special_caches_put(void);
struct shp_special *shp_special_alloc(struct spanheap *heap, unsigned int kind);
void shp_weak_cell_put(struct spanheap *heap, struct spanheap_weak *w);
void shp_special_free(struct spanheap *heap, struct shp_special *sp);
void shp_special_free_chain(struct spanheap *heap, struct shp_special *sp);
int shp_special_prepare(struct spanheap *heap, struct shp_span *s);
int shp_special_add(struct shp_span *s, unsigned int idx, struct shp_special *sp);
struct shp_special *shp_special_find(struct shp_span *s, unsigned int idx,
				     unsigned int offset, unsigned int kind);
struct shp_special *shp_special_unlink(struct shp_span *s, unsigned int idx,
				       unsigned int offset, unsigned int kind);
struct shp_special *shp_special_unlink_cleanup(struct shp_span *s,
					       unsigned int idx,
					       unsigned int offset, s64 id);
void shp_special_free_object(struct shp_span *s, unsigned int idx);
void shp_special_drop(struct shp_span *s, unsigned int idx);
void shp_special_update_bits(struct shp_span *s, unsigned int idx);
void shp_special_account(struct shp_span *s, struct shp_special *sp, int delta);
void shp_special_account_kind(struct shp_span *s, unsigned int kind, int delta);
void shp_special_free_all(struct shp_span *s);

/* mark.c */
bool shp_mark_stack_get(struct spanheap *heap);
void shp_mark_stack_put(struct spanheap *heap);
void shp_mark_reset(struct spanheap *heap);
void shp_scan_range(struct spanheap *heap, unsigned long base,
		    unsigned long len);
void shp_scan_cleanup_chain(struct spanheap *heap, struct shp_special *sp);
void shp_mark_drain(struct spanheap *heap);
void shp_mark_workers_wake(struct spanheap *heap);
void shp_mark_workers_release(struct spanheap *heap);
void shp_mark_workfn(struct work_struct *work);
struct work_struct *shp_mark_worker_work(struct spanheap *heap, unsigned int i);
int shp_mark_offer_late_item(struct spanheap *heap, unsigned int n,
			     unsigned int i);
int shp_mark_offer_early_item(struct spanheap *heap, unsigned int n,
			      unsigned int i);
unsigned int shp_mark_early_waiters(struct spanheap *heap);
void shp_mark_workers_init(struct spanheap *heap);
void shp_mark_specials(struct spanheap *heap);
void shp_mark_complete(struct spanheap *heap);
int shp_mark_find_cycles(struct spanheap *heap,
			 void (*report)(void *arg, void *obj), void *arg);

/* why.c */
struct shp_why;
extern unsigned int shp_why_max_nodes;
void shp_why_mark_root(struct shp_why *w, const void *ptr);
int shp_why_find(struct spanheap *heap, const void *obj,
		 spanheap_path_report_t report, void *arg);
int shp_why_hashed(struct spanheap *heap, const char *id,
		   spanheap_path_report_t report, void *arg);

/* finq.c */
bool shp_queue_finalizer(struct spanheap *heap, void *obj,
			 spanheap_finalizer_t fn, void *ctx);
void shp_queue_cleanups(struct spanheap *heap, struct shp_cleanup_batches *due);
void shp_mark_finq(struct spanheap *heap);
unsigned int shp_finq_pop(struct spanheap *heap, struct shp_queue_entry *e,
			  unsigned int max);
void shp_finq_done(struct spanheap *heap, unsigned int n);
struct shp_special *shp_cleanq_next(struct spanheap *heap,
				    struct shp_cleanup_worker *w,
				    struct shp_special *done, unsigned int n);
void shp_cleanq_wake(struct spanheap *heap);
void shp_finq_wake(struct spanheap *heap);
void shp_finq_destroy(struct spanheap *heap);

/* central.c */
struct shp_span *shp_central_grab(struct spanheap *heap,
				  struct shp_cpu_cache *c, unsigned int spc);
void shp_central_add(struct spanheap *heap, struct shp_span *s);
void shp_central_uncache(struct spanheap *heap, struct shp_span *s);
int shp_central_free(struct spanheap *heap, struct shp_span *s,
		     unsigned int idx);
void shp_central_file_swept(struct shp_span *s);
void shp_central_unsweep_all(struct spanheap *heap);
void shp_central_release_all(struct spanheap *heap);
void shp_central_release_empty(struct spanheap *heap);
void shp_central_world_stopped(struct spanheap *heap, bool stopped);
void shp_large_add(struct spanheap *heap, struct shp_span *s);
void shp_large_release(struct spanheap *heap, struct shp_span *s);
struct shp_span *shp_large_reuse(struct spanheap *heap, unsigned long bytes,
				 unsigned int spc);
bool shp_large_slot_put(struct spanheap *heap, struct shp_cpu_cache *c,
			struct shp_span *s);
struct shp_span *shp_large_slot_take(struct spanheap *heap,
				     unsigned long bytes, unsigned int spc);
void shp_slot_workfn(struct work_struct *work);
void shp_large_slots_revoke(struct spanheap *heap);

/* sweep.c */
void shp_sweep_span(struct spanheap *heap, struct shp_span *s);
void shp_sweep_large(struct spanheap *heap, struct shp_span *s);
void shp_sweep_large_all_slow(struct spanheap *heap);

/*
 * Sweep every large span left unswept: a no-op once done in this cycle.
 * Large allocations call it before taking pages (Go's mheap.reclaim), so
 * that the runs of dead large objects are reused before the heap grows.
 * Context: no spinlock held; inside a section or with the sweeper
 * excluded (heap->sweepgen does not change meanwhile).
 */
static inline void shp_sweep_large_all(struct spanheap *heap)
{
	if (READ_ONCE(heap->large_sweepgen) != READ_ONCE(heap->sweepgen))
		shp_sweep_large_all_slow(heap);
}
void shp_ensure_swept(struct spanheap *heap, struct shp_span *s);
/* Which pointers name an object for a special record (sweep.c). */
enum shp_interior {
	SHP_AT_START,		/* the start of the object only */
	SHP_IN_TINY,		/* or anywhere inside a tiny block */
	SHP_ANYWHERE,		/* anywhere inside the object */
};
struct shp_span *shp_find_swept(struct spanheap *heap, const void *p,
				unsigned int *idx, unsigned int *offset,
				enum shp_interior interior);
struct shp_span *shp_find_swept_object(struct spanheap *heap, const void *p,
				       unsigned int *idx);
struct shp_span *shp_special_target(struct spanheap *heap, const void *obj,
				    unsigned int *idx, unsigned int *offset,
				    enum shp_interior interior);
struct shp_special *shp_special_new(struct spanheap *heap, unsigned int kind);
int shp_finalizer_check(struct spanheap *heap, void *obj);
void shp_finish_sweep(struct spanheap *heap);
void shp_sweep_workfn(struct work_struct *work);

/* roots.c */
void shp_mark_roots(struct spanheap *heap);

/* cycle.c */
void shp_mark_heap(struct spanheap *heap);
void shp_collect(struct spanheap *heap, bool sweep_now);
void shp_gc_workfn(struct work_struct *work);
void shp_gc_maybe_trigger(struct spanheap *heap);
int shp_why_id(struct spanheap *heap, const char *id,
	       spanheap_path_report_t report, void *arg);
extern bool shp_gctrace;

/* finalizer.c */
void shp_fin_workfn(struct work_struct *work);

/* cleanup.c */
void shp_cleanup_workers_init(struct spanheap *heap);
void shp_cleanup_workers_cancel(struct spanheap *heap);

/* heap.c */
bool shp_object_live(struct spanheap *heap, void *obj);

/* global.c */
extern struct workqueue_struct *shp_wq;
extern struct workqueue_struct *shp_cleanup_wq;
extern unsigned int shp_cleanup_workers;
extern struct workqueue_struct *shp_mark_wq;
extern unsigned int shp_mark_workers;
int shp_global_get(void);
void shp_global_exit(void);

/* chardev.c (kernel only) */
int shp_chardev_init(void);
void shp_chardev_exit(void);

/* debugfs.c */
void shp_debugfs_add(struct spanheap *heap);
void shp_debugfs_remove(struct spanheap *heap);
void shp_debugfs_init(void);
void shp_debugfs_exit(void);

/* stats.c */
struct seq_file;
void shp_stats_print(struct seq_file *m, struct spanheap *heap);

/* check.c (test builds only) */
int shp_heap_check(struct spanheap *heap);

#endif /* _SPANHEAP_INTERNAL_H */
