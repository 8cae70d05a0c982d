/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by spanheap's benchmarks and their peers. */
#ifndef _SPANHEAP_BENCH_UTIL_H
#define _SPANHEAP_BENCH_UTIL_H

#include <stdlib.h>
#include <time.h>

static inline double bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of @n figures (reorders @v). */
static inline double bench_median(double *v, int n)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
	return v[n / 2];
}

/* Make @p look used, so the compiler keeps the work that produced it. */
static inline void bench_keep(const void *p)
{
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

#ifndef noinline
#define noinline	__attribute__((__noinline__))
#endif

#define BENCH_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* gc_bench.c, for spanheap_bench.c */
void bench_gc(void);
void bench_gc_tree(void);
void bench_gc_register(void);
void bench_gc_list(void);
void bench_gc_weak(void);
void bench_gc_dead(void);
void bench_gc_scaling(void);

#endif
