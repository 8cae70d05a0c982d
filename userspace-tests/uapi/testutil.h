/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the guest test programs. */
#ifndef _SPANHEAP_TESTUTIL_H
#define _SPANHEAP_TESTUTIL_H

#include <stdint.h>

/* The kernel's spellings of two attributes. */
#ifndef __printf
#define __printf(a, b)	__attribute__((format(printf, a, b)))
#endif
#ifndef noinline
#define noinline	__attribute__((noinline))
#endif

/* splitmix64's finaliser: a well-mixed 64-bit hash of @x. */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

#ifdef __KSELFTEST_H
#include <stdarg.h>
#include <stdio.h>

/*
 * A skipped test, by name: kselftest.h's ksft_test_result_skip() prints
 * "ok N # SKIP why" without one, a line that kunit.py parse (Linux 6.1)
 * does not take for a result.
 */
static inline __printf(2, 3) void ktap_skip(const char *name, const char *fmt, ...)
{
	va_list ap;

	ksft_inc_xskip_cnt();
	printf("ok %u %s # SKIP ", ksft_test_num(), name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}
#endif

#endif
