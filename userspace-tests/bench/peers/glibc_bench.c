// SPDX-License-Identifier: GPL-2.0
/*
 * glibc peer benchmark: cost of one malloc+free pair of N bytes.
 *
 * Prints "BENCH alloc_free_<N> <impl> <ns> ns/op", median of REPS runs;
 * <impl> is argv[1], "glibc" by default, and argv[2], if given, the only
 * N to run.  run-peers.sh runs it again with jemalloc, tcmalloc and
 * mimalloc in LD_PRELOAD, naming each.
 * Run as glibc with no size, it also prints the same for calloc as
 * "glibc_calloc".
 * Build: gcc -O2 -o glibc_bench glibc_bench.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../bench_util.h"

#define REPS 5

/*
 * One timed run: ns per malloc+free pair, or calloc+free with @zero
 * (spanheap's objects come zeroed: calloc is the like-for-like peer).
 */
static double run(size_t size, long iters, int zero)
{
	double t0, t1;
	long i;

	t0 = bench_now_ns();
	for (i = 0; i < iters; i++) {
		char *p = zero ? calloc(1, size) : malloc(size);

		*p = (char)i;
		bench_keep(p);		/* keeps gcc from eliding the pair */
		free(p);
	}
	t1 = bench_now_ns();
	return (t1 - t0) / iters;
}

int main(int argc, char **argv)
{
	const char *impl = argc > 1 ? argv[1] : "glibc";
	size_t only = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
	/*
	 * First the sizes of old, in their order and with their loop lengths
	 * (run-to-run comparison); then the sizes between, shorter loops.
	 */
	static const struct {
		size_t size;
		long iters;
	} sizes[] = {
		{ 8, 10000000 }, { 32, 10000000 }, { 256, 10000000 },
		{ 4096, 10000000 }, { 65536, 2000000 },
		{ 16, 2000000 }, { 64, 2000000 }, { 128, 2000000 },
		{ 512, 2000000 }, { 1024, 2000000 }, { 16384, 500000 },
	};
	double t[REPS];
	size_t s;
	int r;

	for (s = 0; s < BENCH_ARRAY_SIZE(sizes); s++) {
		size_t size = sizes[s].size;
		long iters = sizes[s].iters;

		if (only && size != only)
			continue;
		run(size, iters / 10, 0);	/* warm-up */
		for (r = 0; r < REPS; r++)
			t[r] = run(size, iters, 0);
		bench_median(t, REPS);
		printf("BENCH alloc_free_%zu %s %.2f ns/op\n", size, impl,
		       t[REPS / 2]);
		if (!only && !strcmp(impl, "glibc")) {
			for (r = 0; r < REPS; r++)
				t[r] = run(size, iters, 1);
			bench_median(t, REPS);
			printf("BENCH alloc_free_%zu glibc_calloc %.2f ns/op\n",
			       size, t[REPS / 2]);
		}
		fflush(stdout);
	}
	return 0;
}
