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

struct spanheap;

/* spanheap_alloc() flags */
#define SPANHEAP_NOSCAN		0x1u	/* object never holds heap pointers */
#define SPANHEAP_ALLOC_FLAGS	(SPANHEAP_NOSCAN)

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

/**
 * struct spanheap_stats - snapshot of a heap's counters
 * @bytes_in_use: bytes of allocated objects, rounded to their class size
 * @bytes_reserved: bytes of spans held from the page allocator
 * @objects_in_use: allocated objects
 * @spans: spans held, small and large
 * @allocs: successful allocations since creation
 * @frees: successful explicit frees since creation
 * @bad_frees: frees rejected with an error
 * @limit: reservation cap in bytes (0: none)
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
size_t spanheap_class_size(size_t size);

#endif /* _SPANHEAP_H */
