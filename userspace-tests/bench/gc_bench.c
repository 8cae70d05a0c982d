// SPDX-License-Identifier: GPL-2.0
/*
 * Collector benchmarks, same shapes as the Go and Boehm peers:
 *   finalizer_register_1m  ns per spanheap_set_finalizer on 1M live 32 B objects
 *   gc_live_list_1m        ms per full collection of a rooted 1M-node list
 *   gc_live_fin_1m         the same with a finalizer on every node
 *   gc_dead_fin_1m         ms for the cycle finding 1M dead finalizable
 *                          objects plus running all their finalizers
 */
#include <shim.h>
#include "spanheap.h"
#include "bench_util.h"

#define N	1000000
#define RUNS	5

struct lnode {
	struct lnode *next;
	unsigned long payload[3];
};

static unsigned long fin_count;

static void count_fin(struct spanheap *heap, void *obj, void *ctx)
{
	__atomic_add_fetch(&fin_count, 1, __ATOMIC_RELAXED);
}

static double ms_since(u64 t0)
{
	return (ktime_get_ns() - t0) / 1e6;
}

static void bench_register(void)
{
	void **objs = malloc(N * sizeof(*objs));
	double v[RUNS];
	int r, i;

	for (r = 0; r < RUNS; r++) {
		struct spanheap *heap = spanheap_create("bench-fin", 0);
		u64 t0;

		spanheap_set_gc_percent(heap, -1);
		spanheap_enter(heap);
		for (i = 0; i < N; i++)
			objs[i] = spanheap_alloc(heap, 32, SPANHEAP_NOSCAN);
		t0 = ktime_get_ns();
		for (i = 0; i < N; i++)
			spanheap_set_finalizer(heap, objs[i], count_fin, NULL);
		v[r] = (double)(ktime_get_ns() - t0) / N;
		spanheap_exit(heap);
		spanheap_destroy(heap);
	}
	printf("BENCH finalizer_register_1m spanheap %.2f ns/op\n", bench_median(v, RUNS));
	free(objs);
}

/* Builds a rooted list of N nodes, optionally each with a finalizer. */
static struct spanheap *make_list(void **root, bool fin)
{
	struct spanheap *heap = spanheap_create("bench-list", 0);
	struct lnode *head = NULL, *n;
	int i;

	spanheap_set_gc_percent(heap, -1);
	spanheap_root_add(heap, root);
	spanheap_enter(heap);
	for (i = 0; i < N; i++) {
		n = spanheap_alloc(heap, sizeof(*n), 0);
		n->next = head;
		n->payload[0] = i;
		head = n;
		if (fin)
			spanheap_set_finalizer(heap, n, count_fin, NULL);
	}
	*root = head;
	spanheap_exit(heap);
	return heap;
}

static void bench_live(const char *name, bool fin)
{
	void *root = NULL;
	struct spanheap *heap = make_list(&root, fin);
	double v[RUNS];
	int r;

	spanheap_collect(heap);		/* warm up */
	for (r = 0; r < RUNS; r++) {
		u64 t0 = ktime_get_ns();

		spanheap_collect(heap);
		v[r] = ms_since(t0);
	}
	printf("BENCH %s spanheap %.2f ms\n", name, bench_median(v, RUNS));
	if (__atomic_load_n(&fin_count, __ATOMIC_RELAXED))
		fprintf(stderr, "gc_bench: a live object was finalized\n");
	spanheap_root_remove(heap, &root);
	spanheap_destroy(heap);
}

static void bench_dead_fin(void)
{
	double v[RUNS];
	int r, i;

	for (r = 0; r < RUNS; r++) {
		struct spanheap *heap = spanheap_create("bench-dead", 0);
		u64 t0;

		spanheap_set_gc_percent(heap, -1);
		spanheap_enter(heap);
		for (i = 0; i < N; i++)
			spanheap_set_finalizer(heap, spanheap_alloc(heap, 32, 0),
					       count_fin, NULL);
		spanheap_exit(heap);
		__atomic_store_n(&fin_count, 0, __ATOMIC_RELAXED);
		t0 = ktime_get_ns();
		spanheap_collect(heap);
		spanheap_wait_finalizers(heap);
		v[r] = ms_since(t0);
		if (__atomic_load_n(&fin_count, __ATOMIC_RELAXED) != N) {
			fprintf(stderr, "gc_bench: %lu of %d finalizers ran\n",
				fin_count, N);
			exit(1);
		}
		spanheap_destroy(heap);
	}
	printf("BENCH gc_dead_fin_1m spanheap %.2f ms\n", bench_median(v, RUNS));
}

void bench_gc(void)
{
	bench_register();
	bench_live("gc_live_list_1m", false);
	bench_live("gc_live_fin_1m", true);
	bench_dead_fin();
}
