/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace shim: the xarray and IDA subset of kmod/uheap.c.
 *
 * A radix tree of 64-way nodes like lib/xarray.c, fixed at six levels
 * (indices below 2^36).  Each node keeps, per mark and for presence, a
 * bitmap of the slots whose subtree holds such an entry, so a search
 * for the next present or marked index skips empty subtrees.  One mutex
 * serialises every operation; like the kernel's, an iteration may see
 * entries come and go between steps.  Nodes come from shim_alloc(), so
 * injected allocation failures reach xa_alloc_cyclic() as -ENOMEM.
 */
#ifndef _SPANHEAP_SHIM_XARRAY_H
#define _SPANHEAP_SHIM_XARRAY_H

#include <shim.h>

#define XA_CHUNK_SHIFT		6
#define XA_CHUNK_SIZE		(1UL << XA_CHUNK_SHIFT)
#define XA_SHIM_LEVELS		6
#define XA_SHIM_MAX_INDEX	((1UL << (XA_CHUNK_SHIFT * XA_SHIM_LEVELS)) - 1)

typedef unsigned int xa_mark_t;
#define XA_MARK_0		0U
#define XA_MARK_1		1U
#define XA_MARK_2		2U
#define XA_PRESENT		3U	/* a search filter, not a mark */
#define XA_SHIM_FULL		4U	/* interior: the child's subtree is full */
#define XA_SHIM_BITMAPS		5

#define XA_FLAGS_ACCOUNT	0x1U
#define XA_FLAGS_ALLOC1		0x2U
#define XA_FLAGS_ALLOC_WRAPPED	0x4U

#define xa_init(xa)		xa_init_flags(xa, 0)

struct xa_node {
	void *slots[XA_CHUNK_SIZE];
	unsigned long bits[XA_SHIM_BITMAPS];	/* per mark, presence, fullness */
};

struct xarray {
	pthread_mutex_t lock;
	unsigned int flags;
	struct xa_node *root;
};

struct xa_limit {
	u32 min, max;
};
#define XA_LIMIT(lo, hi)	((struct xa_limit){ .min = (lo), .max = (hi) })

void xa_init_flags(struct xarray *xa, unsigned int flags);
void *xa_load(struct xarray *xa, unsigned long index);
void *xa_erase(struct xarray *xa, unsigned long index);
int xa_insert(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp);
void xa_destroy(struct xarray *xa);
int xa_alloc_cyclic(struct xarray *xa, u32 *id, void *entry, struct xa_limit limit,
		    u32 *next, gfp_t gfp);
void xa_set_mark(struct xarray *xa, unsigned long index, xa_mark_t mark);
void xa_clear_mark(struct xarray *xa, unsigned long index, xa_mark_t mark);
bool xa_get_mark(struct xarray *xa, unsigned long index, xa_mark_t mark);
void *xa_find(struct xarray *xa, unsigned long *index, unsigned long max, xa_mark_t filter);
void *xa_find_after(struct xarray *xa, unsigned long *index, unsigned long max,
		    xa_mark_t filter);

#define xa_for_each_marked(xa, index, entry, filter)			\
	for ((index) = 0, (entry) = xa_find(xa, &(index), ULONG_MAX, filter); \
	     (entry); (entry) = xa_find_after(xa, &(index), ULONG_MAX, filter))
#define xa_for_each(xa, index, entry)					\
	xa_for_each_marked(xa, index, entry, XA_PRESENT)

/* IDA: a bitmap under a mutex. */
struct ida {
	pthread_mutex_t lock;
	unsigned long *bits;
	unsigned int nbits;
};
#define DEFINE_IDA(name)	struct ida name = { PTHREAD_MUTEX_INITIALIZER, NULL, 0 }
int ida_alloc_range(struct ida *ida, unsigned int min, unsigned int max, gfp_t gfp);
void ida_free(struct ida *ida, unsigned int id);

#endif /* _SPANHEAP_SHIM_XARRAY_H */
