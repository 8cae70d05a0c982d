/* SPDX-License-Identifier: GPL-2.0 */
/* Kernel header for the userspace build: refcount_t over the shim's atomics. */
#ifndef _SHIM_REFCOUNT_H
#define _SHIM_REFCOUNT_H
#include <shim.h>

/* Saturation is not emulated: a count going through zero is a bug, caught. */
typedef struct { atomic_t refs; } refcount_t;

static inline void refcount_set(refcount_t *r, int n) { atomic_set(&r->refs, n); }
static inline unsigned int refcount_read(const refcount_t *r) { return atomic_read(&r->refs); }
static inline void refcount_inc(refcount_t *r) { BUG_ON(atomic_fetch_add(1, &r->refs) <= 0); }
static inline void refcount_dec(refcount_t *r) { BUG_ON(atomic_dec_return(&r->refs) <= 0); }
static inline bool refcount_dec_and_test(refcount_t *r)
{
	int n = atomic_dec_return(&r->refs);

	BUG_ON(n < 0);
	return n == 0;
}
#endif
