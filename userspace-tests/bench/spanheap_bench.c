// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace benchmarks of the spanheap core (the same kmod/ code as the
 * module, built with -O2 over the shim).  Prints BENCH lines; run.sh
 * runs the peers (glibc, Boehm GC, Go) in the same run and compares.
 *   alloc_free_<n>  spanheap_alloc + spanheap_free of n bytes, ns per pair
 *   alloc_<n>       spanheap_alloc only, on a warm heap (see alloc_round)
 */
#include <shim.h>
#include "spanheap.h"

#define ROUNDS	5
#define ALLOC_OBJS	2000000L

static void *volatile sink;

static double best_of(double *v)
{
	double b = v[0];
	int i;

	for (i = 1; i < ROUNDS; i++)
		b = v[i] < b ? v[i] : b;
	return b;
}

static double alloc_free_round(struct spanheap *heap, size_t size, long n)
{
	u64 t0 = ktime_get_ns();
	long i;

	for (i = 0; i < n; i++) {
		char *p = spanheap_alloc(heap, size, SPANHEAP_NOSCAN);

		p[0] = 1;
		sink = p;
		spanheap_free(heap, p);
	}
	return (double)(ktime_get_ns() - t0) / n;
}

/*
 * Allocation only, on a warm heap: objects are allocated in batches of
 * BATCH_BYTES; each batch is freed (and the caches drained) outside the
 * timed region, so spans and pages are reused as they would be after a
 * collection, and the working set stays cache-sized as a collected
 * heap's does.
 */
#define BATCH_BYTES	(4L << 20)
static double alloc_round(struct spanheap *heap, size_t size, long n, void **objs)
{
	long batch = max(BATCH_BYTES / (long)size, 16L), done, i;
	u64 t = 0, t0;

	for (done = 0; done < n; done += batch) {
		t0 = ktime_get_ns();
		for (i = 0; i < batch; i++) {
			char *p = spanheap_alloc(heap, size, SPANHEAP_NOSCAN);

			p[0] = 1;
			objs[i] = p;
		}
		t += ktime_get_ns() - t0;
		for (i = 0; i < batch; i++)
			spanheap_free(heap, objs[i]);
		spanheap_drain(heap);
		rcu_barrier();	/* released spans' pages are back for reuse */
	}
	return (double)t / done;
}

void bench_gc(void);

int main(void)
{
	static const size_t sizes[] = { 8, 32, 256, 4096, 65536 };
	struct spanheap *heap = spanheap_create("bench", 0);
	void **objs = malloc(BATCH_BYTES / 8 * sizeof(*objs));
	double v[ROUNDS];
	unsigned int s;
	int r;

	for (s = 0; s < ARRAY_SIZE(sizes); s++) {
		long n = sizes[s] > SPANHEAP_MAX_SMALL_SIZE ? 200000 : 20000000;

		alloc_free_round(heap, sizes[s], n / 10);
		for (r = 0; r < ROUNDS; r++)
			v[r] = alloc_free_round(heap, sizes[s], n);
		printf("BENCH alloc_free_%zu spanheap %.2f ns/op\n", sizes[s], best_of(v));
	}
	for (s = 0; s < ARRAY_SIZE(sizes); s++) {
		long n = min(ALLOC_OBJS, (256L << 20) / (long)sizes[s]);

		alloc_round(heap, sizes[s], n, objs);
		for (r = 0; r < ROUNDS; r++)
			v[r] = alloc_round(heap, sizes[s], n, objs);
		printf("BENCH alloc_%zu spanheap %.2f ns/op\n", sizes[s], best_of(v));
	}
	spanheap_destroy(heap);
	free(objs);
	bench_gc();
	rcu_barrier();
	return 0;
}
