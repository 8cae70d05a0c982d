/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The heap behind one open file of /dev/spanheap: handles, objects and
 * finalizer events.  Kernel addresses never leave this layer.
 */
#ifndef _SPANHEAP_UHEAP_H
#define _SPANHEAP_UHEAP_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include "spanheap.h"
#include "../uapi/linux/spanheap.h"

/*
 * Every object starts with this header; user data or slots follow.  The
 * handle is how a slot's referent is named again on LOAD, and how a
 * reused slot of the table is told from the object it used to name.
 */
struct uh_header {
	u64 handle;
	u32 kind;
	u32 length;
};

/**
 * struct uh_entry - a handle table slot
 * @obj: the object, or NULL if the slot is free
 * @gen: bumped whenever the slot is freed: old handles go stale
 * @roots: SPANHEAP_IOC_ROOT count (each one is a pin)
 * @next_free: free list link
 */
struct uh_entry {
	void *obj;
	u32 gen;
	u32 roots;
	u32 next_free;
};

/* A finalizer event waiting for read(); its object is pinned until then. */
struct uh_event {
	struct list_head node;
	void *obj;
	struct spanheap_event ev;
};

/**
 * struct uheap - per-open-file state
 * @heap: the private heap
 * @tag: unique among open files, part of every handle
 * @lock: protects the handle table and root counts
 * @tab: handle table; index 0 is never used
 * @cap: entries in @tab
 * @free_head: first free entry, 0 if none
 * @nroots: sum of the roots counts
 * @ev_lock: protects the event fields below
 * @events: queued events, oldest first
 * @nevents: entries on @events
 * @ev_max: queue cap
 * @seq: last sequence number given
 * @nread: events read
 * @ndeferred: finalizers re-armed because the queue was full
 * @nrun: events queued by the finalizer
 * @wq: readers and pollers
 */
struct uheap {
	struct spanheap *heap;
	u32 tag;
	struct mutex lock;
	struct uh_entry *tab;
	u32 cap;
	u32 free_head;
	u64 nroots;
	spinlock_t ev_lock;
	struct list_head events;
	u32 nevents;
	u32 ev_max;
	u64 seq;
	u64 nread;
	u64 ndeferred;
	u64 nrun;
	wait_queue_head_t wq;
};

extern unsigned long shp_dev_mem_limit;
extern unsigned int shp_dev_event_queue_max;

struct uheap *uheap_create(void);
void uheap_destroy(struct uheap *u);
long uheap_ioctl(struct uheap *u, unsigned int cmd, void __user *arg);
ssize_t uheap_read(struct uheap *u, char __user *buf, size_t count,
		   bool nonblock);
bool uheap_readable(struct uheap *u);

#endif /* _SPANHEAP_UHEAP_H */
