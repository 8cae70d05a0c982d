/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * /dev/spanheap: a private garbage-collected heap per open file.
 *
 * Objects are named by opaque 64-bit handles, never by addresses.  DATA
 * objects hold bytes; REF objects hold slots, each empty or referring to
 * another object of the same heap.  Objects reachable from a rooted
 * object, or from an object whose finalizer event is pending, are live;
 * the rest are collected by the next cycle, after which their handles
 * are stale (-ESTALE).  A finalizer is a 64-bit token: when a cycle finds
 * its object unreachable, a struct spanheap_event carrying the token and
 * the handle is queued for read(); the object stays alive until the
 * event has been read, and is collected at a later cycle unless the
 * reader roots it again.
 *
 * Cleanups (Go's AddCleanup) are tokens too, any number per object: when
 * a cycle finds the object unreachable it is freed at once and a
 * SPANHEAP_EVENT_CLEANUP event carries the token (and no handle).  Weak
 * handles (Go's weak.Pointer) name an object without keeping it alive;
 * they have bit 62 set, so they are never taken for object handles.
 *
 * Every argument struct starts with its own size (copy_struct_from_user
 * rules: a bigger struct from newer userspace is accepted if the extra
 * bytes are zero; more than SPANHEAP_MAX_ARG_SIZE is -E2BIG).  The
 * kernel writes its own size back.  Reserved fields, unknown flags and
 * "out" fields must be zero on input.  A call that fails changes
 * nothing, and one whose struct cannot be written back fails with
 * -EFAULT before it takes effect.  See Documentation/spanheap/uapi.rst.
 */
#ifndef _UAPI_LINUX_SPANHEAP_H
#define _UAPI_LINUX_SPANHEAP_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define SPANHEAP_IOC_MAGIC	'J'

/* Object kinds */
#define SPANHEAP_KIND_DATA	1	/* bytes; never scanned */
#define SPANHEAP_KIND_REF	2	/* slots of references */

/* Limits */
#define SPANHEAP_MAX_OBJECT	(1U << 20)	/* bytes of a DATA object */
#define SPANHEAP_MAX_SLOTS	(1U << 17)	/* slots of a REF object */
#define SPANHEAP_MAX_ARG_SIZE	4096		/* of any argument struct */

/*
 * SPANHEAP_IOC_ALLOC: allocate a zeroed object.  A new object is garbage
 * until something roots it or refers to it, and any cycle may collect it;
 * SPANHEAP_ALLOC_ROOTED hands it out already rooted once, so concurrent
 * collections cannot take it between the two calls.
 */
#define SPANHEAP_ALLOC_ROOTED	0x1
struct spanheap_alloc {
	__u32 size;		/* sizeof(struct spanheap_alloc) */
	__u32 flags;		/* 0 or SPANHEAP_ALLOC_ROOTED */
	__u32 kind;		/* SPANHEAP_KIND_* */
	__u32 reserved;		/* 0 */
	__u64 length;		/* DATA: bytes (1..MAX_OBJECT); REF: slots */
	__u64 handle;		/* out */
};

/* SPANHEAP_IOC_WRITE / SPANHEAP_IOC_READ: bytes of a DATA object. */
struct spanheap_rw {
	__u32 size;
	__u32 flags;		/* 0 */
	__u64 handle;
	__u64 offset;
	__u64 length;		/* offset + length <= object length */
	__u64 buf;		/* user address */
};

/* SPANHEAP_IOC_STORE / SPANHEAP_IOC_LOAD: slot @slot of a REF object. */
struct spanheap_ref {
	__u32 size;
	__u32 flags;		/* 0 */
	__u64 handle;		/* the REF object */
	__u64 slot;
	/* STORE: handle or 0 to clear; LOAD: out (must be 0 on input) */
	__u64 value;
};

/* SPANHEAP_IOC_ROOT / SPANHEAP_IOC_UNROOT: counted roots. */
struct spanheap_root {
	__u32 size;
	__u32 flags;		/* 0 */
	__u64 handle;
	/* out: roots held after the call; ROOT past U32_MAX is -EOVERFLOW */
	__u64 count;
};

/* SPANHEAP_IOC_FINALIZER: set (or with SPANHEAP_FIN_CLEAR, remove). */
#define SPANHEAP_FIN_CLEAR	0x1
struct spanheap_finalizer {
	__u32 size;
	__u32 flags;		/* 0 or SPANHEAP_FIN_CLEAR */
	__u64 handle;
	__u64 token;		/* delivered in the event */
};

/* SPANHEAP_IOC_GC: run a full collection cycle. */
#define SPANHEAP_GC_WAIT	0x1	/* also wait until finalizers and cleanups have run */
struct spanheap_gc {
	__u32 size;
	__u32 flags;
	__u64 collections;	/* out: cycles completed so far */
};

/*
 * SPANHEAP_IOC_CLEANUP: add a cleanup to an object; @id is set to a
 * number unique in this file.  SPANHEAP_IOC_CLEANUP_STOP: cancel the
 * cleanup @id of @handle (Go's Cleanup.Stop): -ENOENT once it was queued
 * (its event will come; also when @handle's object was collected),
 * stopped, or if it is not @handle's.  The token is kept where the
 * collector never looks: it keeps nothing alive.  A cleanup's event may
 * exceed event_queue_max (events_overcap): it cannot be deferred.
 */
struct spanheap_cleanup {
	__u32 size;
	__u32 flags;		/* 0 */
	__u64 handle;		/* the object */
	__u64 token;		/* CLEANUP: delivered in the event; STOP: 0 */
	__u64 id;		/* CLEANUP: out (0 on input); STOP: in */
};

/*
 * SPANHEAP_IOC_WEAK_MAKE: the weak handle of @handle into @weak.  While
 * the object lives, every MAKE returns the same weak handle and counts
 * one more reference in @count.  SPANHEAP_IOC_WEAK_GET: @handle is set
 * to the object, or to 0 once a cycle found it unreachable (even if a
 * finalizer event resurrects it: a weak handle made afterwards is a new
 * one); with SPANHEAP_WEAK_ROOT a non-zero result is also rooted once,
 * in the same call.  SPANHEAP_IOC_WEAK_DROP: drop one reference; at zero
 * the weak handle is stale (-ESTALE).
 */
#define SPANHEAP_WEAK_ROOT	0x1
struct spanheap_weakref {
	__u32 size;
	__u32 flags;		/* GET: 0 or SPANHEAP_WEAK_ROOT; else 0 */
	__u64 weak;		/* MAKE: out (0 on input); GET, DROP: in */
	__u64 handle;		/* MAKE: in; GET: out (0 on input); DROP: 0 */
	__u64 count;		/* out: references held after the call */
};

/*
 * SPANHEAP_IOC_STATS: counters; fields are only ever appended.  The
 * command numbers of the earlier struct sizes (112 bytes, up to
 * event_queue_max; 128, up to bytes_meta; 176, up to pins) are accepted
 * too, so that programs built with an older header keep working.
 */
#define SPANHEAP_STATS_VERSION	3
struct spanheap_stats_v1 {
	__u32 size;		/* in: room; out: bytes written */
	__u32 version;		/* out: SPANHEAP_STATS_VERSION */
	__u64 objects;		/* live handles' objects in use */
	__u64 bytes_in_use;
	__u64 bytes_reserved;
	__u64 mem_limit;
	__u64 collections;
	__u64 finalizers_set;	/* finalizer records */
	__u64 finalizers_queued;
	__u64 finalizers_run;	/* events queued by the worker */
	__u64 events_pending;
	__u64 events_read;
	__u64 events_deferred;	/* queue full: finalizer re-armed */
	__u64 roots;
	__s32 gc_percent;
	__u32 event_queue_max;
	/* appended 2026-11: */
	/* queued past event_queue_max: re-arming was impossible */
	__u64 events_overcap;
	/* handle table, event and special records: with bytes_reserved, capped by mem_limit */
	__u64 bytes_meta;
	/* appended with version 2: */
	__u64 cleanups_set;	/* cleanup records */
	__u64 cleanups_queued;
	__u64 cleanups_run;	/* cleanup events queued */
	__u64 weak_handles;	/* weak handles with references */
	__u64 weak_live;	/* of those, whose object was not found dead */
	__u64 pins;		/* pinned objects (in-kernel users only) */
	/* appended with version 3: stop-the-world pauses of the cycles, ns */
	__u64 gc_pause_last_ns;
	__u64 gc_pause_max_ns;
	__u64 gc_pause_total_ns;
};

/* SPANHEAP_IOC_SET_PARAMS */
#define SPANHEAP_PARAM_GC_PERCENT	0x1
#define SPANHEAP_PARAM_MEM_LIMIT	0x2
#define SPANHEAP_PARAM_EVENT_QUEUE	0x4
struct spanheap_params {
	__u32 size;
	__u32 flags;		/* which fields to apply */
	__s32 gc_percent;	/* GOGC; negative turns pacing off */
	__u32 event_queue_max;	/* 1..module's event_queue_max */
	__u64 mem_limit;	/* bytes, 1 MiB .. module's mem_limit */
};

/* read(): whole records of this layout. */
#define SPANHEAP_EVENT_VERSION		1
#define SPANHEAP_EVENT_FINALIZER	1
#define SPANHEAP_EVENT_CLEANUP		2
struct spanheap_event {
	__u32 event_len;	/* sizeof(struct spanheap_event) */
	__u16 version;		/* SPANHEAP_EVENT_VERSION */
	__u16 type;		/* SPANHEAP_EVENT_* */
	__u64 token;
	__u64 handle;		/* FINALIZER: the object; CLEANUP: 0 (it is gone) */
	__u64 seq;		/* 1, 2, ... per open file */
};

/*
 * SPANHEAP_IOC_BATCH: run @count object commands in one call, in order.
 * Each struct spanheap_op holds one command's struct, exactly as that
 * ioctl takes it (its size field set to that struct's size), and is
 * validated and run like it.  Commands: ALLOC, STORE, LOAD, ROOT,
 * UNROOT, FINALIZER, CLEANUP, CLEANUP_STOP, WEAK_MAKE, WEAK_GET and
 * WEAK_DROP (not READ, WRITE, GC, STATS, SET_PARAMS nor BATCH).  An op
 * whose cmd, flags, reserved, error or size field is wrong, or with a
 * non-zero byte past its command's struct, fails the call with -EINVAL
 * before anything runs.  Otherwise the batch stops at the first op that
 * fails: @done counts the ops that succeeded, their results
 * and the failed op's @error are written back, the ops before it stay
 * done, the ops after it are neither run nor written, and the call
 * returns 0.  See Documentation/spanheap/uapi.rst.
 */
#define SPANHEAP_BATCH_MAX	1024	/* ops per call; more is -E2BIG */
struct spanheap_op {
	__u32 cmd;		/* SPANHEAP_IOC_* of an object command */
	__s32 error;		/* out: 0, or the op's negative errno (0 on input) */
	__u32 flags;		/* 0 */
	__u32 reserved;		/* 0 */
	union {			/* the command's struct */
		__u32 size;	/* sizeof that struct */
		struct spanheap_alloc alloc;
		struct spanheap_ref ref;
		struct spanheap_root root;
		struct spanheap_finalizer fin;
		struct spanheap_cleanup cleanup;
		struct spanheap_weakref weak;
		__u64 raw[5];
	};
};

struct spanheap_batch {
	__u32 size;
	__u32 flags;		/* 0 */
	__u32 count;		/* ops: 1..SPANHEAP_BATCH_MAX */
	__u32 op_size;		/* sizeof(struct spanheap_op) */
	__u64 ops;		/* user address of struct spanheap_op[count] */
	__u32 done;		/* out: ops that succeeded (0 on input) */
	__u32 reserved;		/* 0 */
};

/*
 * SPANHEAP_IOC_WHY: why is @handle's object alive?  The path by which
 * the collector reaches it, found with the world stopped: @root_kind
 * and @nhops hops, each an object and the slot of it followed to the
 * next (the last hop is @handle itself, slot SPANHEAP_WHY_NO_SLOT).
 * The first @capacity hops (at most SPANHEAP_WHY_MAX_HOPS) are written
 * to @hops; @nhops is the whole path's length, so @nhops > @capacity
 * means the path was cut.  Unreachable: SPANHEAP_WHY_UNREACHABLE and no
 * hops.  An object on the path that has no handle in this file has
 * handle 0.  Changes nothing.  Not a BATCH op.
 */
#define SPANHEAP_WHY_UNREACHABLE	0	/* the next cycle collects it */
#define SPANHEAP_WHY_ROOTED		1	/* hops[0] is rooted (ROOT) */
#define SPANHEAP_WHY_EVENT		2	/* hops[0]'s finalizer event is unread */
#define SPANHEAP_WHY_FIN_QUEUED		3	/* hops[0]'s finalizer is queued */
#define SPANHEAP_WHY_FIN_REFERENT	4	/* kept by hops[0]'s finalizer */
#define SPANHEAP_WHY_FIN_CYCLE		5	/* never finalized: see uapi.rst */
#define SPANHEAP_WHY_KERNEL		6	/* a root of an in-kernel user */
#define SPANHEAP_WHY_MAX_HOPS		64
#define SPANHEAP_WHY_NO_SLOT		(~0ULL)
struct spanheap_why_hop {
	__u64 handle;		/* 0: no handle in this file */
	__u64 slot;		/* slot followed to the next hop */
};

struct spanheap_why {
	__u32 size;
	__u32 flags;		/* 0 */
	__u64 handle;		/* the object asked about */
	__u32 root_kind;	/* out: SPANHEAP_WHY_* (0 on input) */
	__u32 capacity;		/* entries of @hops: 0..SPANHEAP_WHY_MAX_HOPS */
	__u32 nhops;		/* out: hops of the whole path (0 on input) */
	__u32 reserved;		/* 0 */
	__u64 hops;		/* user address of struct spanheap_why_hop[capacity] */
};

#define SPANHEAP_IOC_ALLOC	_IOWR(SPANHEAP_IOC_MAGIC, 1, struct spanheap_alloc)
#define SPANHEAP_IOC_WRITE	_IOWR(SPANHEAP_IOC_MAGIC, 2, struct spanheap_rw)
#define SPANHEAP_IOC_READ	_IOWR(SPANHEAP_IOC_MAGIC, 3, struct spanheap_rw)
#define SPANHEAP_IOC_STORE	_IOWR(SPANHEAP_IOC_MAGIC, 4, struct spanheap_ref)
#define SPANHEAP_IOC_LOAD	_IOWR(SPANHEAP_IOC_MAGIC, 5, struct spanheap_ref)
#define SPANHEAP_IOC_ROOT	_IOWR(SPANHEAP_IOC_MAGIC, 6, struct spanheap_root)
#define SPANHEAP_IOC_UNROOT	_IOWR(SPANHEAP_IOC_MAGIC, 7, struct spanheap_root)
#define SPANHEAP_IOC_FINALIZER	_IOWR(SPANHEAP_IOC_MAGIC, 8, struct spanheap_finalizer)
#define SPANHEAP_IOC_GC		_IOWR(SPANHEAP_IOC_MAGIC, 9, struct spanheap_gc)
#define SPANHEAP_IOC_STATS	_IOWR(SPANHEAP_IOC_MAGIC, 10, struct spanheap_stats_v1)
#define SPANHEAP_IOC_SET_PARAMS	_IOWR(SPANHEAP_IOC_MAGIC, 11, struct spanheap_params)
#define SPANHEAP_IOC_CLEANUP	_IOWR(SPANHEAP_IOC_MAGIC, 12, struct spanheap_cleanup)
#define SPANHEAP_IOC_CLEANUP_STOP _IOWR(SPANHEAP_IOC_MAGIC, 13, struct spanheap_cleanup)
#define SPANHEAP_IOC_WEAK_MAKE	_IOWR(SPANHEAP_IOC_MAGIC, 14, struct spanheap_weakref)
#define SPANHEAP_IOC_WEAK_GET	_IOWR(SPANHEAP_IOC_MAGIC, 15, struct spanheap_weakref)
#define SPANHEAP_IOC_WEAK_DROP	_IOWR(SPANHEAP_IOC_MAGIC, 16, struct spanheap_weakref)
#define SPANHEAP_IOC_BATCH	_IOWR(SPANHEAP_IOC_MAGIC, 17, struct spanheap_batch)
#define SPANHEAP_IOC_WHY	_IOWR(SPANHEAP_IOC_MAGIC, 18, struct spanheap_why)

#endif /* _UAPI_LINUX_SPANHEAP_H */
