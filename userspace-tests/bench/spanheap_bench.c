// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace benchmarks of the spanheap core (the same kmod/ code as the
 * module, built with -O2 over the shim).  Prints BENCH lines; run.sh
 * runs the peers (glibc, Boehm GC, Go) in the same run and compares.
 *   alloc_free_<n>  spanheap_alloc + spanheap_free of n bytes, ns per pair
 *   alloc_<n>       spanheap_alloc only, objects dropped, collector on
 *   large_burst_*   bytes_reserved around a burst of large objects: at its
 *                   peak, once they are freed (the page heap keeps the
 *                   runs), and once the scavenger has given the idle
 *                   arenas back; and how long that took
 *   alloc_free_<n> spanheap_nozero: the same with SPANHEAP_NOZERO, objects
 *                   not zeroed (as malloc's are not): what zeroing costs
 * "bench-spanheap alloc_free [impl [n]]" prints only the alloc_free lines
 * (of size n, else of all) of implementation <impl>, spanheap or
 * spanheap_nozero (both when not given): for run.sh --only alloc_free.
 * "bench-spanheap alloc n" prints only alloc_<n>, "bench-spanheap list"
 * only gc_live_list_1m, "bench-spanheap weak" only gc_live_weak_1m,
 * "bench-spanheap register" only the *_register_1m lines, "bench-spanheap
 * dead" only the gc_dead_*_1m lines: for profiling.  gc_live_tree_1m,
 * and the gc_live_{list,fin}_{100k,1m,4m} and gc_live_weak_1m lines, come
 * only from "bench-spanheap tree" and "bench-spanheap scaling", each in a
 * process of its own (gc_bench.c says why).
 */
#include <unistd.h>
#include <shim.h>
#include "spanheap.h"
#include "internal.h"
#include "bench_util.h"

#define ROUNDS	5
#define ALLOC_OBJS	10000000L

/*
 * Tiny objects (NOSCAN, at most 16 bytes) cannot be freed explicitly:
 * alloc+free of those sizes uses SCAN objects, the same size class path
 * (and has no NOZERO figure: NOZERO needs NOSCAN).
 */
static double alloc_free_round(struct spanheap *heap, size_t size, long n,
			       bool nozero)
{
	unsigned int flags = size > 16 ? SPANHEAP_NOSCAN : 0;
	u64 t0 = ktime_get_ns();
	long i;

	if (nozero)
		flags |= SPANHEAP_NOZERO;
	for (i = 0; i < n; i++) {
		char *p = spanheap_alloc(heap, size, flags);

		p[0] = 1;
		bench_keep(p);
		if (spanheap_free(heap, p))
			abort();
	}
	return (double)(ktime_get_ns() - t0) / n;
}

/*
 * Allocation only, GC allowed (the Boehm shape): objects are dropped at
 * once and the paced collector (GOGC 100) reclaims them.  The mutator
 * leaves its section every 256 allocations so cycles can run; their cost
 * (on the collector's worker and in lazy sweeping) is in the wall time.
 * Each size gets one heap for its warm-up and its rounds, as the Boehm
 * and Go peers get one process heap: a round measures the steady state,
 * not the first touch of a heap growing from nothing.
 */
static double alloc_round(struct spanheap *heap, size_t size, long n)
{
	u64 t0 = ktime_get_ns();
	long i;

	for (i = 0; i < n; i++) {
		char *p;

		if (!(i % 256))
			spanheap_enter(heap);
		p = spanheap_alloc(heap, size, SPANHEAP_NOSCAN);
		p[0] = 1;
		bench_keep(p);
		if (i % 256 == 255 || i == n - 1)
			spanheap_exit(heap);
	}
	return (double)(ktime_get_ns() - t0) / n;
}

#define BURST_OBJS	256
#define BURST_DELAY_MS	100

static u64 bytes_reserved(struct spanheap *heap)
{
	static struct spanheap_stats st;

	spanheap_read_stats(heap, &st);
	return st.bytes_reserved;
}

/*
 * 256 objects of 64 KiB (16 MiB) allocated and freed, then the real
 * scavenger (a delayed work item, delay BURST_DELAY_MS) is waited for,
 * polling every millisecond for at most 10 s.
 */
static void large_burst(void)
{
	unsigned int delay = shp_scavenge_delay_ms, i;
	static void *objs[BURST_OBJS];
	struct spanheap *heap;
	u64 peak, freed, t0;

	shp_scavenge_delay_ms = BURST_DELAY_MS;	/* read at creation */
	heap = spanheap_create("bench-burst", 0);
	shp_scavenge_delay_ms = delay;
	spanheap_set_gc_percent(heap, -1);
	spanheap_enter(heap);
	for (i = 0; i < BURST_OBJS; i++) {
		objs[i] = spanheap_alloc(heap, 65536, SPANHEAP_NOSCAN);
		if (!objs[i])
			abort();
	}
	peak = bytes_reserved(heap);
	for (i = 0; i < BURST_OBJS; i++)
		if (spanheap_free(heap, objs[i]))
			abort();
	spanheap_exit(heap);
	freed = bytes_reserved(heap);
	t0 = ktime_get_ns();
	while (bytes_reserved(heap) && ktime_get_ns() - t0 < 10000000000ull)
		usleep(1000);
	printf("BENCH large_burst_reserved_peak spanheap %.2f MiB\n", peak / 1048576.0);
	printf("BENCH large_burst_reserved_after_free spanheap %.2f MiB\n", freed / 1048576.0);
	printf("BENCH large_burst_reserved_after_scavenge spanheap %.2f MiB\n",
	       bytes_reserved(heap) / 1048576.0);
	printf("BENCH large_burst_scavenge_wait spanheap %.0f ms (delay %u ms)\n",
	       (ktime_get_ns() - t0) / 1e6, BURST_DELAY_MS);
	spanheap_destroy(heap);
}

/*
 * Sizes and loop lengths: first those the figures have always had, in
 * their old order and with their old loops (run-to-run comparison), then
 * the sizes between, for the report's cost-by-size plot, with shorter
 * loops.
 */
static const struct {
	size_t size;
	long pairs;	/* alloc_free_<n>: pairs per round */
	long allocs;	/* alloc_<n>: allocations per round */
} sizes[] = {
	{ 8,	20000000, ALLOC_OBJS },
	{ 32,	20000000, ALLOC_OBJS },
	{ 256,	20000000, (1L << 30) / 256 },
	{ 4096,	20000000, (1L << 30) / 4096 },
	{ 65536, 200000,  (1L << 30) / 65536 },
	{ 16,	5000000,  ALLOC_OBJS / 4 },
	{ 64,	5000000,  ALLOC_OBJS / 4 },
	{ 128,	5000000,  (1L << 28) / 128 },
	{ 512,	5000000,  (1L << 28) / 512 },
	{ 1024,	5000000,  (1L << 28) / 1024 },
	{ 16384, 1000000, (1L << 28) / 16384 },
};

/* Print alloc_free_<size> of spanheap or spanheap_nozero: warm-up, then ROUNDS. */
static void pairs(struct spanheap *heap, size_t size, long n, bool nozero)
{
	double v[ROUNDS];
	int r;

	alloc_free_round(heap, size, n / 10, nozero);
	for (r = 0; r < ROUNDS; r++)
		v[r] = alloc_free_round(heap, size, n, nozero);
	printf("BENCH alloc_free_%zu %s %.2f ns/op\n", size,
	       nozero ? "spanheap_nozero" : "spanheap", bench_median(v, ROUNDS));
}

/* The collector's benchmarks one group at a time, for profiling. */
static const struct {
	const char *name;
	void (*run)(void);
} gc_modes[] = {
	{ "tree", bench_gc_tree },
	{ "register", bench_gc_register },
	{ "list", bench_gc_list },
	{ "weak", bench_gc_weak },
	{ "scaling", bench_gc_scaling },
	{ "dead", bench_gc_dead },
};

int main(int argc, char **argv)
{
	bool only_pairs = argc > 1 && !strcmp(argv[1], "alloc_free");
	bool only_alloc = argc > 1 && !strcmp(argv[1], "alloc");
	size_t alloc_size = only_alloc && argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
	bool found = false;
	const char *impl = only_pairs && argc > 2 ? argv[2] : NULL;
	bool zeroed = !impl || !strcmp(impl, "spanheap");
	bool nozero = !impl || !strcmp(impl, "spanheap_nozero");
	size_t only_size = only_pairs && argc > 3 ? strtoul(argv[3], NULL, 10) : 0;
	struct spanheap *heap;
	double v[ROUNDS];
	unsigned int s;
	int r;

	for (s = 0; argc > 1 && s < ARRAY_SIZE(gc_modes); s++) {
		if (!strcmp(argv[1], gc_modes[s].name)) {
			gc_modes[s].run();
			return 0;
		}
	}
	if ((argc > 1 && !only_pairs && !only_alloc) || (only_alloc && !alloc_size) ||
	    (!zeroed && !nozero)) {
		fprintf(stderr, "usage: %s [alloc <n> | alloc_free [spanheap|spanheap_nozero [n]] | tree | list | scaling | weak | register | dead]\n",
			argv[0]);
		return 2;
	}
	heap = spanheap_create("bench", 0);

	/* Alloc+free pairs: explicit frees, no collector. */
	spanheap_set_gc_percent(heap, -1);
	spanheap_enter(heap);
	for (s = 0; s < ARRAY_SIZE(sizes) && !only_alloc; s++) {
		if (only_size && sizes[s].size != only_size)
			continue;
		if (zeroed)
			pairs(heap, sizes[s].size, sizes[s].pairs, false);
		if (nozero && sizes[s].size > SHP_TINY_SIZE)
			pairs(heap, sizes[s].size, sizes[s].pairs, true);
	}
	spanheap_exit(heap);
	spanheap_destroy(heap);
	if (only_pairs)
		return 0;
	for (s = 0; s < ARRAY_SIZE(sizes); s++) {
		if (only_alloc && sizes[s].size != alloc_size)
			continue;
		found = true;
		heap = spanheap_create("bench-gc", 0);
		alloc_round(heap, sizes[s].size, sizes[s].allocs / 10);
		for (r = 0; r < ROUNDS; r++)
			v[r] = alloc_round(heap, sizes[s].size, sizes[s].allocs);
		spanheap_destroy(heap);
		printf("BENCH alloc_%zu spanheap %.2f ns/op\n", sizes[s].size,
		       bench_median(v, ROUNDS));
	}
	if (only_alloc) {
		if (!found)
			fprintf(stderr, "alloc_%zu: no such size\n", alloc_size);
		return found ? 0 : 2;
	}
	large_burst();
	rcu_barrier();
	bench_gc();
	return 0;
}
