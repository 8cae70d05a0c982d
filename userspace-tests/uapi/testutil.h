/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the guest test programs (fuzz.c, faultinj.c). */
#ifndef _SPANHEAP_TESTUTIL_H
#define _SPANHEAP_TESTUTIL_H

#include <stdint.h>

/* splitmix64's finaliser: a well-mixed 64-bit hash of @x. */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

#endif
