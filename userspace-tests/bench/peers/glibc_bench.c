// SPDX-License-Identifier: GPL-2.0
/*
 * glibc peer benchmark: cost of one malloc+free pair of N bytes.
 *
 * Prints "BENCH alloc_free_<N> glibc <ns> ns/op", median of REPS runs.
 * Build: gcc -O2 -o glibc_bench glibc_bench.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define REPS 5

static volatile unsigned long sink;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* One timed run: ns per malloc+free pair. */
static double run(size_t size, long iters)
{
	unsigned long sum = 0;
	double t0, t1;
	long i;

	t0 = now_ns();
	for (i = 0; i < iters; i++) {
		char *p = malloc(size);

		/* The volatile store keeps gcc from eliding the pair. */
		*(volatile char *)p = (char)i;
		sum += (unsigned long)p & 0xff;
		free(p);
	}
	t1 = now_ns();
	sink += sum;
	return (t1 - t0) / iters;
}

int main(void)
{
	static const size_t sizes[] = { 8, 32, 256, 4096, 65536 };
	double t[REPS];
	size_t s;
	int r;

	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		long iters = sizes[s] <= 4096 ? 10000000 : 2000000;

		run(sizes[s], iters / 10);	/* warm-up */
		for (r = 0; r < REPS; r++)
			t[r] = run(sizes[s], iters);
		qsort(t, REPS, sizeof(t[0]), cmp_double);
		printf("BENCH alloc_free_%zu glibc %.2f ns/op\n", sizes[s],
		       t[REPS / 2]);
		fflush(stdout);
	}
	return 0;
}
