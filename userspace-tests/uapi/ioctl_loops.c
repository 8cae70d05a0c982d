// SPDX-License-Identifier: GPL-2.0
/*
 * The ioctl loops of ioctl_loops.h.  Each returns 0, or the negative
 * errno of the first call that failed (or -EIO for a short batch) with
 * *what naming it; 8-byte DATA objects, finalizer tokens 1..n.
 */
#include <errno.h>
#include <time.h>
#include "libspanheap.h"
#include "ioctl_loops.h"

double ioctl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* @n ALLOC (ROOTED) + FINALIZER pairs, two calls each. */
int ioctl_loop_alloc_fin(int fd, int n, const char **what)
{
	int i, ret;

	for (i = 0; i < n; i++) {
		struct spanheap_alloc a = {
			.size = sizeof(a), .flags = SPANHEAP_ALLOC_ROOTED,
			.kind = SPANHEAP_KIND_DATA, .length = 8,
		};
		struct spanheap_finalizer f = { .size = sizeof(f), .token = i + 1 };

		*what = "ALLOC";
		ret = shp_ioctl(fd, SPANHEAP_IOC_ALLOC, &a);
		if (ret)
			return ret;
		f.handle = a.handle;
		*what = "FINALIZER";
		ret = shp_ioctl(fd, SPANHEAP_IOC_FINALIZER, &f);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * @n objects (a multiple of IOCTL_LOOP_BATCH) with finalizers, two BATCH
 * calls per IOCTL_LOOP_BATCH: their ALLOCs (@flags), then their
 * FINALIZERs.
 */
int ioctl_loop_alloc_fin_batched(int fd, int n, uint32_t flags,
				 const char **what)
{
	struct spanheap_op ops[IOCTL_LOOP_BATCH];
	uint32_t done;
	int i, j, ret;

	for (i = 0; i < n; i += IOCTL_LOOP_BATCH) {
		for (j = 0; j < IOCTL_LOOP_BATCH; j++)
			shp_op_alloc(&ops[j], SPANHEAP_KIND_DATA, 8, flags);
		*what = "BATCH ALLOC";
		ret = shp_batch(fd, ops, IOCTL_LOOP_BATCH, &done);
		if (ret || done != IOCTL_LOOP_BATCH)
			return ret ?: -EIO;
		for (j = 0; j < IOCTL_LOOP_BATCH; j++)
			shp_op_finalizer(&ops[j], ops[j].alloc.handle, i + j + 1, 0);
		*what = "BATCH FINALIZER";
		ret = shp_batch(fd, ops, IOCTL_LOOP_BATCH, &done);
		if (ret || done != IOCTL_LOOP_BATCH)
			return ret ?: -EIO;
	}
	return 0;
}
