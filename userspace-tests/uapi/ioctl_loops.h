/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ioctl loops that ioctl_bench.c times in the guest and
 * inproc/ioctl_prof.c counts in-process under callgrind: one source, so
 * that both measure the same calls.
 */
#ifndef SPANHEAP_IOCTL_LOOPS_H
#define SPANHEAP_IOCTL_LOOPS_H

#include <stdint.h>

#define IOCTL_LOOP_BATCH	64

double ioctl_now_ns(void);
int ioctl_loop_alloc_fin(int fd, int n, const char **what);
int ioctl_loop_alloc_fin_batched(int fd, int n, uint32_t flags,
				 const char **what);

#endif /* SPANHEAP_IOCTL_LOOPS_H */
