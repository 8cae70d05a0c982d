/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The heap behind one open file of /dev/spanheap: handles, objects,
 * finalizer and cleanup events, weak handles.  Kernel addresses never
 * leave this layer.
 *
 *   uheap.c        handle table, object operations, ioctl arguments
 *   uheap_event.c  finalizer and cleanup events: arming, delivery, read()
 *   uheap_weak.c   the weak handle table
 *   chardev.c      the misc device, module parameters, per-user cap
 *
 * Roots of the file's heap are reported by uheap_scan_roots() at every
 * mark: the entries with a ROOT count, and the objects of finalizer
 * events that were delivered but not yet read.  Neither needs a pin, so
 * ROOT, UNROOT and delivering an event cannot fail for lack of memory.
 * Weak entries and cleanup events hold nothing the collector sees.
 */
#ifndef _SPANHEAP_UHEAP_H
#define _SPANHEAP_UHEAP_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/wait.h>
#include <linux/xarray.h>
#include "internal.h"
#include "../uapi/linux/spanheap.h"

/*
 * Handle layout: bit 63 clear | bit 62 weak | tag | generation | table
 * index (uheap.c).  Object handles index u->tab (struct uh_table), weak
 * handles u->wtab (an xarray).
 */
#define UH_TAG_BITS	18
#define UH_GEN_BITS	20
#define UH_INDEX_BITS	24
#define UH_GEN_MASK	((1U << UH_GEN_BITS) - 1)
#define UH_MAX_ENTRIES	(1U << UH_INDEX_BITS)
#define UH_WEAK_BIT	(1ULL << 62)

/*
 * Every object starts with this header; user data or slots follow.  The
 * handle is how a slot's referent is named again on LOAD, and how an
 * entry is told from a later object at the same address.
 */
struct uh_header {
	u64 handle;
	u16 kind;
	u16 flags;
	u32 length;
};

/*
 * uh_header.flags, under uheap->lock: UH_FIN_CLEARED, set by FINALIZER
 * CLEAR and cleared by a FINALIZER set.  A finalizer the cycle had taken
 * when CLEAR came is delivered even past the cap (events_overcap), never
 * re-armed: the user cleared it.
 */
#define UH_FIN_CLEARED	0x1

/**
 * struct uh_entry - a handle table entry
 * @obj: the object the handle named when it was made
 * @handle: the handle; the entry is current while @obj's header still
 *	carries it and the object is allocated
 * @roots: SPANHEAP_IOC_ROOT count; non-zero entries are @rooted
 * @unroots: UNROOTs not settled yet (their write-back is pending); while
 *	non-zero the entry stays @rooted, so that each can be taken back
 *	even after a ROOT was taken back meanwhile
 * @weak: index in uheap->wtab of the last weak handle made of @obj, or
 *	0; that entry is still @obj's canonical one only if its cell is
 *	the one spanheap_weak_make() returns now (uheap_weak.c)
 * @pending: made by an ALLOC whose handle has not reached userspace yet
 *	(-ENOENT to others); a field, not an xarray mark, as nothing
 *	iterates over pending entries and a mark costs ALLOC two locked
 *	tree walks (set, then clear on settling).  Changed under
 *	uheap->lock, cleared possibly outside a section (uheap_settle()),
 *	so readers without the lock use READ_ONCE()
 * @rooted: the entry is a root (set while @roots or @unroots is
 *	non-zero); changed only by uh_tab_set_rooted(), which keeps the
 *	table's per-leaf counts, so that the root scan visits only the
 *	leaves holding such entries
 * @used: the slot holds an entry (uh_tab_insert() to uh_tab_erase());
 *	entries live inline in the table's leaves, a free slot all zero
 */
struct uh_entry {
	void *obj;
	u64 handle;
	u32 roots;
	u32 weak;
	u32 unroots;
	bool pending;
	bool rooted;
	bool used;
};

/*
 * The object handle table (uheap_table.c): index -> struct uh_entry, a
 * direct two-level array.  Index bits above UH_LEAF_SHIFT pick a slot
 * of the directory, the rest an entry of that slot's leaf, so a lookup
 * is two loads and no tree walk.  The entries are the leaf's own (4 KiB
 * of UH_LEAF_ENTRIES of them): making or dropping one allocates,
 * charges and frees nothing unless it is its leaf's first or last.  A
 * leaf exists while it holds an entry; the directory covers the leaves
 * up to the highest index handed out and grows by doubling.
 */
#define UH_LEAF_SHIFT	7
#define UH_LEAF_ENTRIES	(1U << UH_LEAF_SHIFT)
#define UH_LEAF_MASK	(UH_LEAF_ENTRIES - 1)
#define UH_NLEAVES	(UH_MAX_ENTRIES >> UH_LEAF_SHIFT)

struct uh_leaf {
	struct uh_entry ent[UH_LEAF_ENTRIES];
};
/* 4 KiB: a kmalloc() of its own size class, not a multi-page one. */
static_assert(sizeof(struct uh_leaf) == 4096);

/**
 * struct uh_dir - a directory slot of the handle table
 * @leaf: the leaf of UH_LEAF_ENTRIES indices, or NULL while none is used
 * @nused: entries in @leaf (at most UH_LEAF_ENTRIES)
 * @nrooted: entries of @leaf that are @rooted
 */
struct uh_dir {
	struct uh_leaf *leaf;
	u16 nused;
	u16 nrooted;
};

/**
 * struct uh_table - the object handle table, under uheap->lock
 * @dir: @ndir slots, then the bitmap @rooted points into (one allocation)
 * @rooted: bit i set iff dir[i].nrooted, for the root scan to skip
 *	the leaves without roots a word (64 leaves) at a time
 * @ndir: slots of @dir; 0 or a power of two up to UH_NLEAVES
 */
struct uh_table {
	struct uh_dir *dir;
	unsigned long *rooted;
	u32 ndir;
};

/**
 * struct uh_weak - a weak handle table entry
 * @cell: the core's weak handle; this entry holds one reference on it
 * @handle: the weak handle (UH_WEAK_BIT set)
 * @count: WEAK_MAKE calls not yet matched by WEAK_DROP; never 0 in the table
 */
struct uh_weak {
	struct spanheap_weak *cell;
	u64 handle;
	u32 count;
};

struct uh_evchunk;

/**
 * struct uh_event - an event, taken from the file's pool when its
 *	finalizer or cleanup is set (uheap_event.c)
 * @node: on uheap->armed (set, not yet run), ->events (delivered, unread)
 *	or ->reading (being copied out by read())
 * @next_free: while free: the next free record of @chunk
 * @obj: a finalizer's object, a root while on ->events or ->reading;
 *	NULL for a cleanup (its object is gone when it runs)
 * @id: a cleanup's id, its key in uheap->cleanups while armed; else 0
 * @chunk: the chunk the record is part of
 * @ev: the record read() hands out
 * @ev_words: @ev as read() copies it out, 8 bytes a store
 */
struct uh_event {
	union {
		struct list_head node;
		struct uh_event *next_free;
	};
	void *obj;
	s64 id;
	struct uh_evchunk *chunk;
	union {
		struct spanheap_event ev;
		u64 ev_words[4];
	};
};
static_assert(sizeof(struct spanheap_event) == 4 * sizeof(u64));

/*
 * Event records come from per-file chunks of UH_EVCHUNK_EVENTS, so that
 * setting a finalizer and reading its event allocate, charge and free
 * nothing but once per chunk.
 */
#define UH_EVCHUNK_EVENTS	56

/**
 * struct uh_evchunk - a chunk of event records, under uheap->ev_lock
 * @node: on uheap->ev_partial while some record is free, else ->ev_full
 * @free: the free records, linked through their @next_free
 * @nused: records taken (on one of the event lists)
 * @ev: the records
 *
 * Charged UH_EVCHUNK_COST while it exists.  A chunk whose last record
 * is given back is freed, unless no other chunk has a free record: then
 * it stays as the file's one spare, so that a file setting and reading
 * one event at a time does not allocate a chunk for each.
 */
struct uh_evchunk {
	struct list_head node;
	struct uh_event *free;
	u32 nused;
	struct uh_event ev[UH_EVCHUNK_EVENTS];
};
/* 4 KiB: a kmalloc() of its own size class, nearly all of it records. */
static_assert(sizeof(struct uh_evchunk) <= 4096 &&
	      sizeof(struct uh_evchunk) + sizeof(struct uh_event) > 4096);
#define UH_EVCHUNK_COST		sizeof(struct uh_evchunk)

/**
 * struct uheap - per-open-file state
 * @heap: the private heap
 * @uid: opener's effective uid, for the per-user cap (chardev.c)
 * @tag: unique among open files, part of every handle
 * @lock: protects the handle table and the fields up to @nrooted
 * @tab: index -> struct uh_entry; indices 1 .. 2^24 - 1, handed out
 *	cyclically so a freed index is reused as late as possible.  Changed
 *	only in a section under @lock; the root scan and WHY read it with
 *	the world stopped, without @lock
 * @next_idx: where the cyclic allocation resumes
 * @epoch: generation of the handles made now; bumped when indices wrap
 * @nentries: entries in @tab
 * @reclaim_at: @nentries at which ALLOC drops the entries of dead objects
 * @nroots: sum of the roots counts
 * @nrooted: entries with a non-zero roots count; table_reclaim() has
 *	nothing to drop when they are all of @nentries
 * @wtab: index -> struct uh_weak, allocated by uh_table_insert()
 * @wnext_idx: @next_idx of @wtab
 * @wepoch: @epoch of @wtab
 * @nweak: entries in @wtab
 * @weak_walk_gap: for tests, or NULL: called by uheap_weak_count() between
 *	its chunks, with no section or lock held
 * @weak_walk_arg: passed to @weak_walk_gap
 * @cleanups: cleanup id -> its armed struct uh_event; changed under @lock
 * @closing: set under @lock once uheap_destroy() gave back @charged;
 *	a cleanup still running then gives back nothing more
 * @charged: bytes this layer counted against the heap's limit
 * @ev_lock: protects the event lists, the record pool and the counters
 *	below
 * @armed: events of finalizers and cleanups that are set
 * @events: delivered events, oldest first
 * @reading: events taken by read() and not yet copied out, each read()'s
 *	a run of its own
 * @ev_partial: chunks of event records with a free record
 * @ev_full: chunks of event records without one
 * @ev_nchunks: chunks on @ev_partial and @ev_full
 * @nevents: entries on @events
 * @ev_max: cap on @nevents before finalizers are deferred
 * @seq: last sequence number given
 * @nread: events read
 * @ndeferred: finalizers re-armed because the queue was full
 * @novercap: events queued past @ev_max because re-arming was impossible
 * @nrun: events delivered by the finalizer worker
 * @ncleanrun: events delivered by cleanups
 * @wq: readers and pollers
 * @batch_spare: a free array of UH_BATCH_SPARE_OPS ops for BATCH, or
 *	NULL; taken and given back with xchg()/cmpxchg()
 */
struct uheap {
	struct spanheap *heap;
	kuid_t uid;
	u32 tag;
	struct mutex lock;
	struct uh_table tab;
	u32 next_idx;
	u32 epoch;
	u32 nentries;
	u32 reclaim_at;
	u64 nroots;
	u32 nrooted;
	struct xarray wtab;
	u32 wnext_idx;
	u32 wepoch;
	u32 nweak;
	void (*weak_walk_gap)(struct uheap *u, void *arg);
	void *weak_walk_arg;
	struct xarray cleanups;
	bool closing;
	atomic_long_t charged;
	spinlock_t ev_lock;
	struct list_head armed;
	struct list_head events;
	struct list_head reading;
	struct list_head ev_partial;
	struct list_head ev_full;
	u32 ev_nchunks;
	u32 nevents;
	u32 ev_max;
	u64 seq;
	u64 nread;
	u64 ndeferred;
	u64 novercap;
	u64 nrun;
	u64 ncleanrun;
	wait_queue_head_t wq;
	struct spanheap_op *batch_spare;
};

/* One SPANHEAP_IOC_* argument, copied in; every member starts with size. */
union uheap_args {
	u32 size;
	struct spanheap_alloc alloc;
	struct spanheap_rw rw;
	struct spanheap_ref ref;
	struct spanheap_root root;
	struct spanheap_finalizer fin;
	struct spanheap_gc gc;
	struct spanheap_stats_v1 stats;
	struct spanheap_params params;
	struct spanheap_cleanup cleanup;
	struct spanheap_weakref weak;
	struct spanheap_batch batch;
	struct spanheap_why why;
};

struct iov_iter;

extern unsigned long shp_dev_mem_limit;
extern unsigned int shp_dev_event_queue_max;

/* uheap.c */
struct uheap *uheap_create(void);
void uheap_destroy(struct uheap *u);
long uheap_ioctl(struct uheap *u, unsigned int cmd, void __user *arg);
long uheap_do(struct uheap *u, unsigned int cmd, union uheap_args *a,
	      struct iov_iter *data);
long uheap_batch_run(struct uheap *u, struct spanheap_op *ops, u32 count,
		     u32 *done);
void uheap_batch_settle(struct uheap *u, struct spanheap_op *ops, u32 done,
			bool ok);
long uheap_batch(struct uheap *u, struct spanheap_op *ops, u32 count,
		 u32 *done);

/* uheap_table.c */
struct uh_entry *uh_tab_insert(struct uheap *u, u32 *idx, bool *wrapped);
void uh_tab_erase(struct uheap *u, u32 idx, struct uh_entry *e);
void uh_tab_set_rooted(struct uheap *u, u32 idx, struct uh_entry *e,
		       bool rooted);
struct uh_entry *uh_tab_next(const struct uh_table *t, u32 *idx);
struct uh_entry *uh_tab_next_rooted(const struct uh_table *t, u32 *idx);
void uh_tab_free(struct uh_table *t);

/* uheap_event.c */
void uheap_finalizer(struct spanheap *heap, void *obj, void *ctx);
int uheap_fin_set(struct uheap *u, void *obj, u64 token);
int uheap_fin_clear(struct uheap *u, void *obj);
int uheap_cleanup_add(struct uheap *u, void *obj, u64 token, s64 *id);
int uheap_cleanup_stop(struct uheap *u, void *obj, s64 id);
void uheap_events_scan(struct uheap *u);
void uheap_events_free(struct uheap *u);
unsigned int uheap_events_take(struct uheap *u, struct uh_event **first,
			       unsigned int max);
void uheap_events_done(struct uheap *u, struct uh_event *first,
		       unsigned int ok, unsigned int n);
ssize_t uheap_read(struct uheap *u, char __user *buf, size_t count,
		   bool nonblock);
bool uheap_readable(struct uheap *u);

/* uheap_weak.c */
void uheap_weak_init(struct uheap *u);
int uheap_weak_make(struct uheap *u, struct uh_entry *e, u64 *weak, u64 *count);
int uheap_weak_get(struct uheap *u, u64 weak, void **obj, u64 *count);
int uheap_weak_drop(struct uheap *u, u64 weak, u64 *count);
void uheap_weak_count(struct uheap *u, u64 *handles, u64 *live);
void uheap_weak_free(struct uheap *u);

/* A handle of @u: bit 63 clear, no UH_WEAK_BIT. */
static inline u64 uh_handle(struct uheap *u, u32 idx, u32 gen)
{
	return (u64)u->tag << (UH_GEN_BITS + UH_INDEX_BITS) |
	       (u64)(gen & UH_GEN_MASK) << UH_INDEX_BITS | idx;
}

/*
 * Was @handle (UH_WEAK_BIT masked off) of @u handed out from a table
 * whose cyclic allocation stands at @next_idx in generation @epoch?
 */
static inline bool uh_handed_out(u64 handle, u32 epoch, u32 next_idx)
{
	u32 idx = handle & (UH_MAX_ENTRIES - 1);
	u32 gen = (handle >> UH_INDEX_BITS) & UH_GEN_MASK;

	return gen < epoch || (gen == epoch && idx < next_idx);
}

/*
 * The entry at @idx (below UH_MAX_ENTRIES) of @t, or NULL.  Context:
 * the table's lock, or the world stopped (no section changes @t).
 */
static inline struct uh_entry *uh_tab_get(const struct uh_table *t, u32 idx)
{
	u32 li = idx >> UH_LEAF_SHIFT;
	struct uh_leaf *l;

	if (li >= t->ndir)
		return NULL;
	l = t->dir[li].leaf;
	if (!l || !l->ent[idx & UH_LEAF_MASK].used)
		return NULL;
	return &l->ent[idx & UH_LEAF_MASK];
}

/* Is @idx the only index in use in its leaf of @xa?  Context: @xa's writers excluded. */
static inline bool uh_leaf_alone(struct xarray *xa, unsigned long idx)
{
	unsigned long first = idx & ~(XA_CHUNK_SIZE - 1UL), i = first;

	if (!xa_find(xa, &i, first + XA_CHUNK_SIZE - 1, XA_PRESENT) || i != idx)
		return false;
	return !xa_find_after(xa, &i, first + XA_CHUNK_SIZE - 1, XA_PRESENT);
}

/**
 * uheap_charge() - count memory of this layer against the file's limit
 * @u: state
 * @bytes: size of an entry or event record
 *
 * Context: process context, may sleep (spanheap_charge()).
 * Return: 0 or -ENOMEM.
 */
static inline int uheap_charge(struct uheap *u, size_t bytes)
{
	int ret = spanheap_charge(u->heap, bytes);

	if (!ret)
		atomic_long_add(bytes, &u->charged);
	return ret;
}

/**
 * uheap_uncharge() - give back what uheap_charge() counted
 * @u: state
 * @bytes: same size
 *
 * Context: any.
 */
static inline void uheap_uncharge(struct uheap *u, size_t bytes)
{
	atomic_long_sub(bytes, &u->charged);
	spanheap_uncharge(u->heap, bytes);
}

/*
 * What a table costs, counted against the file's limit: each entry,
 * and each leaf node of the xarray (XA_CHUNK_SIZE indices) while it holds
 * an entry, with a share for the nodes above it.  Charging nodes, not
 * just entries, bounds a table kept sparse on purpose (one live entry
 * per leaf across the whole index space).  The object handle table's
 * leaves and directory are charged as allocated instead: UH_TAB_LEAF_COST
 * per leaf (which covers its entries), uh_tab_dir_cost() for the
 * directory.
 */
#define UH_LEAF_COST	(sizeof(struct xa_node) + sizeof(struct xa_node) / 32)
#define UH_TAB_LEAF_COST	sizeof(struct uh_leaf)

/* Bytes of a directory of @n slots with its bitmap (struct uh_table). */
static inline size_t uh_tab_dir_cost(u32 n)
{
	return n * sizeof(struct uh_dir) + BITS_TO_LONGS(n) * sizeof(long);
}

/**
 * uh_table_insert() - a new zeroed entry at the next index of a table
 * @u: state
 * @xa: the weak handle table (u->wtab; u->tab is uheap_table.c's)
 * @size: bytes of the entry, charged to the file
 * @next_idx: where the table's cyclic allocation resumes
 * @idx: set to the entry's index
 * @wrapped: set if the indices wrapped (a new generation begins)
 *
 * Context: process context, the table's lock held.
 * Return: the entry, or ERR_PTR(-ENOMEM), or ERR_PTR(-ENOSPC) when no
 * index is free.
 */
static inline void *uh_table_insert(struct uheap *u, struct xarray *xa,
				    size_t size, u32 *next_idx, u32 *idx,
				    bool *wrapped)
{
	void *e;
	int ret;

	if (uheap_charge(u, size))
		return ERR_PTR(-ENOMEM);
	/*
	 * Zeroed here, not by kzalloc(): @size is a constant at each call,
	 * so this is a few stores instead of the allocator's memset() of a
	 * run-time size (a byte loop on CPUs with ERMS, and under emulation).
	 */
	e = kmalloc(size, SHP_GFP);
	if (!e) {
		uheap_uncharge(u, size);
		return ERR_PTR(-ENOMEM);
	}
	memset(e, 0, size);
	/*
	 * The cyclic cursor's index is nearly always free (it is taken only
	 * after the indices wrapped): storing there directly is what
	 * xa_alloc_cyclic() would do, without its search for a free index.
	 */
	ret = -EBUSY;
	if (*next_idx && *next_idx < UH_MAX_ENTRIES)
		ret = xa_insert(xa, *next_idx, e, SHP_GFP);
	if (!ret) {
		*idx = (*next_idx)++;
		*wrapped = false;
		return e;
	}
	if (ret == -EBUSY)
		ret = xa_alloc_cyclic(xa, idx, e,
				      XA_LIMIT(1, UH_MAX_ENTRIES - 1),
				      next_idx, SHP_GFP);
	if (ret < 0) {
		kfree(e);
		uheap_uncharge(u, size);
		return ERR_PTR(ret == -EBUSY ? -ENOSPC : ret);
	}
	*wrapped = ret == 1;
	return e;
}

#endif /* _SPANHEAP_UHEAP_H */
