/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel header for the userspace build: vm_mmap() and vm_munmap() map
 * and unmap this process's memory, the "user" memory of shim_user.h.
 */
#ifndef _SPANHEAP_SHIM_MMAN_H
#define _SPANHEAP_SHIM_MMAN_H

#include <shim.h>
#include <sys/mman.h>

struct file;

static inline unsigned long vm_mmap(struct file *file, unsigned long addr,
				    unsigned long len, unsigned long prot,
				    unsigned long flag, unsigned long offset)
{
	void *p = mmap((void *)addr, len, prot, flag, -1, offset);

	return p == MAP_FAILED ? (unsigned long)-ENOMEM : (unsigned long)p;
}

static inline int vm_munmap(unsigned long start, size_t len)
{
	return munmap((void *)start, len) ? -EINVAL : 0;
}

#endif
