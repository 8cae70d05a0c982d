/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The heap behind one open file of /dev/spanheap: handles, objects and
 * finalizer events.  Kernel addresses never leave this layer.
 *
 *   uheap.c        handle table, object operations, ioctl arguments
 *   uheap_event.c  finalizer events: arming, delivery, read()
 *   chardev.c      the misc device, module parameters, per-user cap
 *
 * Roots of the file's heap are reported by uheap_scan_roots() at every
 * mark: the entries with a ROOT count, and the objects of events that
 * were delivered but not yet read.  Neither needs a pin, so ROOT,
 * UNROOT and delivering an event cannot fail for lack of memory.
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
#include "spanheap.h"
#include "../uapi/linux/spanheap.h"

/* Handle layout: tag | generation | table index (uheap.c). */
#define UH_TAG_BITS	19
#define UH_GEN_BITS	20
#define UH_INDEX_BITS	24
#define UH_GEN_MASK	((1U << UH_GEN_BITS) - 1)
#define UH_MAX_ENTRIES	(1U << UH_INDEX_BITS)

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
 * @roots: SPANHEAP_IOC_ROOT count; non-zero entries carry UH_ROOTED
 *
 * Marks: UH_ROOTED, the entry is a root (set while @roots is non-zero,
 * and until an UNROOT to zero is committed); UH_PENDING, made by an
 * ALLOC whose handle has not reached userspace yet (-ENOENT to others).
 */
struct uh_entry {
	void *obj;
	u64 handle;
	u32 roots;
};

#define UH_ROOTED	XA_MARK_1
#define UH_PENDING	XA_MARK_2

/**
 * struct uh_event - a finalizer's event, allocated when the finalizer is set
 * @node: on uheap->armed (set, not yet run), ->events (delivered, unread)
 *	or ->reading (being copied out by read())
 * @obj: its object; a root while on ->events or ->reading
 * @ev: the record read() hands out
 */
struct uh_event {
	struct list_head node;
	void *obj;
	struct spanheap_event ev;
};

/**
 * struct uheap - per-open-file state
 * @heap: the private heap
 * @uid: opener's effective uid, for the per-user cap (chardev.c)
 * @tag: unique among open files, part of every handle
 * @lock: protects the handle table and the fields up to @nroots
 * @tab: index -> struct uh_entry; indices 1 .. 2^24 - 1, handed out
 *	cyclically so a freed index is reused as late as possible
 * @next_idx: where the cyclic allocation resumes
 * @epoch: generation of the handles made now; bumped when indices wrap
 * @nentries: entries in @tab
 * @reclaim_at: @nentries at which ALLOC drops the entries of dead objects
 * @nroots: sum of the roots counts
 * @charged: bytes this layer counted against the heap's limit
 * @ev_lock: protects the event lists and the counters below
 * @armed: events of finalizers that are set
 * @events: delivered events, oldest first
 * @reading: events taken by read() and not yet copied out
 * @nevents: entries on @events
 * @ev_max: cap on @nevents before finalizers are deferred
 * @seq: last sequence number given
 * @nread: events read
 * @ndeferred: finalizers re-armed because the queue was full
 * @novercap: events queued past @ev_max because re-arming was impossible
 * @nrun: events delivered by the finalizer worker
 * @wq: readers and pollers
 */
struct uheap {
	struct spanheap *heap;
	kuid_t uid;
	u32 tag;
	struct mutex lock;
	struct xarray tab;
	u32 next_idx;
	u32 epoch;
	u32 nentries;
	u32 reclaim_at;
	u64 nroots;
	atomic_long_t charged;
	spinlock_t ev_lock;
	struct list_head armed;
	struct list_head events;
	struct list_head reading;
	u32 nevents;
	u32 ev_max;
	u64 seq;
	u64 nread;
	u64 ndeferred;
	u64 novercap;
	u64 nrun;
	wait_queue_head_t wq;
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

/* uheap_event.c */
void uheap_finalizer(struct spanheap *heap, void *obj, void *ctx);
int uheap_fin_set(struct uheap *u, void *obj, u64 token);
int uheap_fin_clear(struct uheap *u, void *obj);
void uheap_events_scan(struct uheap *u);
void uheap_events_free(struct uheap *u);
ssize_t uheap_read(struct uheap *u, char __user *buf, size_t count,
		   bool nonblock);
bool uheap_readable(struct uheap *u);

/**
 * uheap_charge() - count memory of this layer against the file's limit
 * @u: state
 * @bytes: size of an entry or event record
 *
 * Context: any.
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

#endif /* _SPANHEAP_UHEAP_H */
