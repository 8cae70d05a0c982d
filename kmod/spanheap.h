/* SPDX-License-Identifier: GPL-2.0 */
/*
 * spanheap - a garbage-collected, slab-like span heap with Go object
 * lifecycle semantics.  In-kernel API.
 *
 * A heap hands out zeroed objects from size-classed spans.  Every
 * pointer handed to the API is validated: pointers that do not point
 * into a live span of *this* heap are rejected with -EFAULT, pointers
 * into the heap that are not the start of an allocated object with
 * -EINVAL.  Nothing is changed on error.
 */
#ifndef _SPANHEAP_H
#define _SPANHEAP_H

#include <linux/types.h>
#include <linux/compiler.h>

struct spanheap;

/**
 * typedef spanheap_finalizer_t - a finalizer
 * @heap: heap of the object
 * @obj: the object, reachable again for the duration of the call; the
 *	finalizer may store it somewhere reachable (resurrection) or set a
 *	new finalizer on it
 * @ctx: the context given to spanheap_set_finalizer()
 *
 * Runs on the heap's finalizer worker, in process context, inside a
 * mutator section: it may sleep and allocate, but must not enter another
 * section or call spanheap_collect().
 */
typedef void (*spanheap_finalizer_t)(struct spanheap *heap, void *obj,
				     void *ctx);

/**
 * typedef spanheap_cleanup_t - a cleanup (Go's AddCleanup function)
 * @heap: heap the object was allocated from
 * @arg: the argument given to spanheap_add_cleanup(); the object itself
 *	is already freed
 *
 * Runs on one of the heap's cleanup workers, in process context, outside
 * any section: it may sleep, allocate and enter a section of @heap (it
 * must, to use heap pointers other than @arg).  @arg stays reachable
 * until the call returns.  Cleanups run in parallel and in no order.
 */
typedef void (*spanheap_cleanup_t)(struct spanheap *heap, void *arg);

/* A weak handle: see spanheap_weak_make(). */
struct spanheap_weak;

/**
 * typedef spanheap_root_scan_t - a heap owner's extra roots
 * @heap: heap being marked
 * @arg: the argument given to spanheap_set_root_scan()
 *
 * Called by every collection's mark with the world stopped (no section
 * of @heap is open); it reports each root with spanheap_mark_root().  It
 * may take spinlocks that are never held across spanheap_enter(), and
 * must not sleep, allocate or use @heap otherwise.
 */
typedef void (*spanheap_root_scan_t)(struct spanheap *heap, void *arg);

/* spanheap_alloc() flags */
#define SPANHEAP_NOSCAN		0x1u	/* object never holds heap pointers */
#define SPANHEAP_NOZERO		0x2u	/* contents undefined; NOSCAN only */
#define SPANHEAP_ALLOC_FLAGS	(SPANHEAP_NOSCAN | SPANHEAP_NOZERO)

/* Largest size served from a size class; bigger objects get a span each. */
#define SPANHEAP_MAX_SMALL_SIZE	32768
/* Number of size classes, class 0 being the large-object class. */
#define SPANHEAP_NR_CLASSES	66

/**
 * struct spanheap_class_stats - occupancy of one size class
 * @size: object size of the class in bytes (0 for the large class)
 * @span_bytes: bytes per span (0 for the large class)
 * @spans: spans currently held by the class
 * @objects: objects currently allocated
 */
struct spanheap_class_stats {
	u32 size;
	u32 span_bytes;
	u64 spans;
	u64 objects;
};

/* Special record kinds, in their sort order on a span. */
enum spanheap_special_kind {
	SPANHEAP_SPECIAL_FINALIZER = 1,
	SPANHEAP_SPECIAL_PIN = 2,
	SPANHEAP_SPECIAL_CLEANUP = 3,
	SPANHEAP_SPECIAL_WEAK = 4,
	SPANHEAP_NR_SPECIAL_KINDS
};

/**
 * struct spanheap_stats - snapshot of a heap's counters
 * @bytes_in_use: bytes of allocated objects, rounded to their class size
 * @bytes_reserved: bytes of spans held from the page allocator
 * @objects_in_use: allocated objects
 * @spans: spans held, small and large
 * @allocs: successful allocations since creation
 * @frees: objects freed since creation, explicitly or by sweeping
 * @bad_frees: frees rejected with an error
 * @limit: cap on @bytes_reserved + @bytes_meta in bytes (0: none)
 * @bytes_meta: metadata charged to the heap (special records, queue
 *	blocks, mark stack, the owner's tables)
 * @collections: completed collection cycles
 * @pause_last_ns: the last cycle's stop-the-world pause: from the end of
 *	the last mutator section to the restart of the world
 * @pause_max_ns: the longest such pause
 * @pause_total_ns: all cycles' pauses added up
 * @stop_last_ns: how long the last cycle waited to stop the world
 *	(running sections ending; the rwsem's switch before that)
 * @live_bytes: bytes found reachable by the last mark
 * @next_gc: reserved bytes at which the pacer starts the next cycle
 * @gc_percent: pacing goal, as GOGC (-1: off)
 * @fin_queued: finalizers queued by sweeps since creation
 * @fin_executed: finalizers that ran
 * @fin_pending: finalizers queued and not yet run
 * @cleanups_queued: cleanups queued by sweeps since creation
 * @cleanups_executed: cleanups that ran, counted when their worker ends
 *	its batch (at most 16 cleanups)
 * @cleanups_pending: cleanups queued and not yet run
 * @specials: special records by kind (index 0 unused): finalizers set,
 *	pinned objects, cleanups set, weak handles whose object is live
 * @classes: per size class; index 0 is the large-object class
 *
 * Counters of objects owned by CPU caches are exact once the heap is
 * quiescent; while allocations run they are a racy but monotone view.
 */
struct spanheap_stats {
	u64 bytes_in_use;
	u64 bytes_reserved;
	u64 objects_in_use;
	u64 spans;
	u64 allocs;
	u64 frees;
	u64 bad_frees;
	u64 limit;
	u64 bytes_meta;
	u64 collections;
	u64 pause_last_ns;
	u64 pause_max_ns;
	u64 pause_total_ns;
	u64 stop_last_ns;
	u64 live_bytes;
	u64 next_gc;
	s64 gc_percent;
	u64 fin_queued;
	u64 fin_executed;
	u64 fin_pending;
	u64 cleanups_queued;
	u64 cleanups_executed;
	u64 cleanups_pending;
	u64 specials[SPANHEAP_NR_SPECIAL_KINDS];
	struct spanheap_class_stats classes[SPANHEAP_NR_CLASSES];
};

struct spanheap *spanheap_create(const char *name, size_t limit);
void spanheap_destroy(struct spanheap *heap);
void *spanheap_alloc(struct spanheap *heap, size_t size, unsigned int flags);
int spanheap_free(struct spanheap *heap, void *ptr);
void *spanheap_object_base(struct spanheap *heap, const void *ptr,
			   size_t *size);
void spanheap_drain(struct spanheap *heap);
void spanheap_read_stats(struct spanheap *heap, struct spanheap_stats *st);
void spanheap_set_limit(struct spanheap *heap, size_t limit);
size_t spanheap_class_size(size_t size);

/* Collector: sections, roots, finalizers (see Documentation/spanheap/collector.rst) */
void spanheap_enter(struct spanheap *heap);
void spanheap_exit(struct spanheap *heap);
int spanheap_root_add(struct spanheap *heap, void **slot);
int spanheap_root_remove(struct spanheap *heap, void **slot);
int spanheap_pin(struct spanheap *heap, void *obj);
int spanheap_unpin(struct spanheap *heap, void *obj);
int spanheap_set_finalizer(struct spanheap *heap, void *obj,
			   spanheap_finalizer_t fn, void *ctx);
int spanheap_take_finalizer(struct spanheap *heap, void *obj, void **ctx);
void spanheap_set_root_scan(struct spanheap *heap, spanheap_root_scan_t fn,
			    void *arg);
void spanheap_mark_root(struct spanheap *heap, const void *ptr);
int spanheap_charge(struct spanheap *heap, size_t bytes);
void spanheap_uncharge(struct spanheap *heap, size_t bytes);
void spanheap_collect(struct spanheap *heap);
void spanheap_wait_finalizers(struct spanheap *heap);
int spanheap_set_gc_percent(struct spanheap *heap, int percent);
int spanheap_finalizer_cycles(struct spanheap *heap,
			      void (*report)(void *arg, void *obj), void *arg);

/**
 * enum spanheap_root_kind - what keeps an object alive (spanheap_why())
 * @SPANHEAP_ROOT_NONE: nothing: the next cycle finds it unreachable
 * @SPANHEAP_ROOT_SLOT: a root slot (spanheap_root_add()) points to
 *	the first hop
 * @SPANHEAP_ROOT_OWNER: the heap owner's root scan reported it
 *	(/dev/spanheap: a rooted handle, or an unread finalizer event)
 * @SPANHEAP_ROOT_FINQ: its finalizer is queued and has not run yet (the
 *	queued object, or the finalizer's context, is the first hop)
 * @SPANHEAP_ROOT_CLEANUP_ARG: it is the argument of a cleanup, set on an
 *	object, queued or running
 * @SPANHEAP_ROOT_PIN: it is pinned
 * @SPANHEAP_ROOT_FIN_REFERENT: nothing but the finalizer of the first hop,
 *	an unreachable object whose referents are kept until it has run
 * @SPANHEAP_ROOT_FIN_CYCLE: the object has a finalizer and its own
 *	referents reach it (first hop == last hop): it is never finalized
 */
enum spanheap_root_kind {
	SPANHEAP_ROOT_NONE,
	SPANHEAP_ROOT_SLOT,
	SPANHEAP_ROOT_OWNER,
	SPANHEAP_ROOT_FINQ,
	SPANHEAP_ROOT_CLEANUP_ARG,
	SPANHEAP_ROOT_PIN,
	SPANHEAP_ROOT_FIN_REFERENT,
	SPANHEAP_ROOT_FIN_CYCLE,
};

/* The offset of a path's last hop: no word is followed out of it. */
#define SPANHEAP_PATH_END	0xffffffffU

/**
 * struct spanheap_path_hop - one object of a path
 * @obj: the object's start
 * @offset: byte offset in @obj of the word that points into the next
 *	hop, or SPANHEAP_PATH_END for the last one
 */
struct spanheap_path_hop {
	void *obj;
	u32 offset;
};

/**
 * struct spanheap_path - how the collector reaches an object
 * @kind: the root kind
 * @root_index: ROOT_SLOT, OWNER_ROOT, FINQ, CLEANUP_ARG, PIN: index of
 *	the root among those of its kind, in the order the mark takes them
 *	(a root slot's position in the heap's slot table); else 0
 * @nhops: entries of @hops, 0 when unreachable
 * @hops: the path, from the object the root names (or whose finalizer
 *	keeps the rest) to the object asked about
 */
struct spanheap_path {
	enum spanheap_root_kind kind;
	unsigned int root_index;
	unsigned int nhops;
	struct spanheap_path_hop *hops;
};

/**
 * typedef spanheap_path_report_t - receives the result of spanheap_why()
 * @arg: the argument given to spanheap_why()
 * @path: the path; valid during the call only
 *
 * Runs with the world stopped: it must not use the heap, sleep on
 * anything a mutator section may hold, or keep the hops' addresses for
 * use after the next cycle.
 */
typedef void (*spanheap_path_report_t)(void *arg,
				      const struct spanheap_path *path);

int spanheap_why(struct spanheap *heap, const void *obj,
		 spanheap_path_report_t report, void *arg);

/* Cleanups and weak handles (Go 1.24's AddCleanup and weak.Pointer) */
s64 spanheap_add_cleanup(struct spanheap *heap, void *ptr,
			 spanheap_cleanup_t fn, void *arg);
int spanheap_stop_cleanup(struct spanheap *heap, void *ptr, s64 id);
void spanheap_wait_cleanups(struct spanheap *heap);
struct spanheap_weak *spanheap_weak_make(struct spanheap *heap, void *ptr);
void *spanheap_weak_value(struct spanheap *heap, struct spanheap_weak *w);
void spanheap_weak_put(struct spanheap *heap, struct spanheap_weak *w);

/**
 * spanheap_keep_alive() - keep an object reachable up to this point
 * @obj: object
 *
 * Collections run only while no mutator section is open, so a pointer
 * held in a local is safe until the section ends; this marks, for the
 * reader and the compiler, the last point where @obj must still be
 * alive (Go's runtime.KeepAlive).  It has no run-time cost.  An object
 * that must outlive the section has to be rooted or pinned.
 *
 * Context: inside a mutator section.
 */
static inline void spanheap_keep_alive(const void *obj)
{
	barrier_data(obj);
}

#endif /* _SPANHEAP_H */
