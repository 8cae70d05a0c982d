/* SPDX-License-Identifier: GPL-2.0 */
/*
 * local_t as on x86: a long that only its own CPU changes, in one
 * instruction without a lock prefix (so an interrupt cannot split it),
 * and that other CPUs may read.  Under TSan, relaxed atomics instead, so
 * that the race detector sees the writes.
 */
#ifndef _SHIM_ASM_LOCAL_H
#define _SHIM_ASM_LOCAL_H

typedef struct {
	long counter;
} local_t;

#define LOCAL_INIT(i)	{ (i) }
#define local_read(l)	__atomic_load_n(&(l)->counter, __ATOMIC_RELAXED)
#define local_set(l, i)	__atomic_store_n(&(l)->counter, (i), __ATOMIC_RELAXED)

static inline void local_inc(local_t *l)
{
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
	__asm__ __volatile__("incq %0" : "+m"(l->counter));
#else
	local_set(l, local_read(l) + 1);
#endif
}

#endif
