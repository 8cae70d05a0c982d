// SPDX-License-Identifier: GPL-2.0
/*
 * Collector benchmarks, same shapes as the Go and Boehm peers:
 *   finalizer_register_1m  ns per spanheap_set_finalizer on 1M live 32 B objects
 *   gc_live_list_1m        ms per full collection of a rooted 1M-node list
 *   gc_live_fin_1m         the same with a finalizer on every node
 *   gc_live_{list,fin}_{100k,4m}  the same with 100k and 4M nodes, and
 *                          gc_live_*_per_object: ns per node, for every size
 *   gc_live_list_1m_reused gc_live_list_1m in a process whose earlier
 *                          heaps were destroyed (see bench_gc())
 *   gc_live_tree_1m        ms per full collection of 1M live nodes in a
 *                          wide tree (1024 binary subtrees), marked by one
 *                          worker (spanheap_1w_cpu<n> on CPU n, spanheap_1w
 *                          at their mean rate) and by two (spanheap_2w)
 *   gc_dead_fin_1m         ms for the cycle finding 1M dead finalizable
 *                          objects plus running all their finalizers
 *   cleanup_register_1m    ns per spanheap_add_cleanup on 1M live 32 B objects
 *   gc_dead_cleanup_1m     ms for the cycle finding 1M dead objects with a
 *                          cleanup each plus running all the cleanups
 *                          (spanheap_collect + spanheap_wait_cleanups)
 *   weak_make_1m           ns per spanheap_weak_make on 1M live 32 B objects
 *   gc_live_weak_1m        gc_live_list_1m with a weak handle on every node
 *   gc_pause_live_1m       us the world is stopped by a cycle of that list
 */
#define _GNU_SOURCE		/* sched_setaffinity() */
#include <sched.h>
#include <shim.h>
#include "spanheap.h"
#include "internal.h"	/* shp_mark_workers, the mark_workers parameter */
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

static unsigned long cleanup_count;

static void count_cleanup(struct spanheap *heap, void *arg)
{
	__atomic_add_fetch(&cleanup_count, 1, __ATOMIC_RELAXED);
}

static double ms_since(u64 t0)
{
	return (ktime_get_ns() - t0) / 1e6;
}

enum reg_kind { REG_FINALIZER, REG_CLEANUP, REG_WEAK };

/*
 * Fresh heap per run, 1M live 32 B objects allocated first; only the
 * registration loop is timed.  Weak handles are put (untimed) before the
 * heap goes.
 */
static void bench_register(const char *name, enum reg_kind kind)
{
	void **objs = malloc(N * sizeof(*objs));
	struct spanheap_weak **weak = malloc(N * sizeof(*weak));
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
		switch (kind) {
		case REG_FINALIZER:
			for (i = 0; i < N; i++)
				spanheap_set_finalizer(heap, objs[i], count_fin, NULL);
			break;
		case REG_CLEANUP:
			for (i = 0; i < N; i++)
				spanheap_add_cleanup(heap, objs[i], count_cleanup, NULL);
			break;
		case REG_WEAK:
			for (i = 0; i < N; i++)
				weak[i] = spanheap_weak_make(heap, objs[i]);
			break;
		}
		v[r] = (double)(ktime_get_ns() - t0) / N;
		if (kind == REG_WEAK)
			for (i = 0; i < N; i++) {
				if (IS_ERR(weak[i])) {
					fprintf(stderr, "gc_bench: weak_make: %ld\n",
						PTR_ERR(weak[i]));
					exit(1);
				}
				spanheap_weak_put(heap, weak[i]);
			}
		spanheap_exit(heap);
		spanheap_destroy(heap);
	}
	printf("BENCH %s spanheap %.2f ns/op\n", name, bench_median(v, RUNS));
	free(weak);
	free(objs);
}

/*
 * Builds a rooted list of @n nodes, optionally each with a finalizer, or
 * with a weak handle stored in @weak[i] (outside the heap, never scanned).
 */
static struct spanheap *make_list(void **root, long n, bool fin,
				  struct spanheap_weak **weak)
{
	struct spanheap *heap = spanheap_create("bench-list", 0);
	struct lnode *head = NULL, *node;
	long i;

	spanheap_set_gc_percent(heap, -1);
	spanheap_root_add(heap, root);
	spanheap_enter(heap);
	for (i = 0; i < n; i++) {
		node = spanheap_alloc(heap, sizeof(*node), 0);
		node->next = head;
		node->payload[0] = i;
		head = node;
		if (fin)
			spanheap_set_finalizer(heap, node, count_fin, NULL);
		if (weak)
			weak[i] = spanheap_weak_make(heap, node);
	}
	*root = head;
	spanheap_exit(heap);
	return heap;
}

/* Median ms of RUNS collections of @heap, after a warm-up. */
static double collect_median(struct spanheap *heap)
{
	double v[RUNS];
	int r;

	spanheap_collect(heap);		/* warm up */
	for (r = 0; r < RUNS; r++) {
		u64 t0 = ktime_get_ns();

		spanheap_collect(heap);
		v[r] = ms_since(t0);
	}
	return bench_median(v, RUNS);
}

/* The per-node line of @name's @ms for @n nodes. */
static void print_per_object(const char *name, double ms, long n)
{
	printf("BENCH %s_per_object spanheap %.2f ns\n", name, ms * 1e6 / n);
}

/*
 * Done with a heap of make_list(): no node may have been finalized, and
 * every node's weak handle in @weak (NULL if none; freed) still works.
 */
static void list_done(struct spanheap *heap, void **root,
		      struct spanheap_weak **weak, long n)
{
	long i;

	if (__atomic_load_n(&fin_count, __ATOMIC_RELAXED)) {
		fprintf(stderr, "gc_bench: a live object was finalized\n");
		exit(1);
	}
	if (weak) {
		spanheap_enter(heap);
		for (i = 0; i < n; i++) {
			if (IS_ERR_OR_NULL(weak[i]) || !spanheap_weak_value(heap, weak[i])) {
				fprintf(stderr, "gc_bench: weak handle %ld of a live node is gone\n", i);
				exit(1);
			}
			spanheap_weak_put(heap, weak[i]);
		}
		spanheap_exit(heap);
		free(weak);
	}
	spanheap_root_remove(heap, root);
	spanheap_destroy(heap);
}

/* @name with @n nodes: the ms line, and (without weak handles) ns per node. */
static void bench_live(const char *name, long n, bool fin, bool with_weak)
{
	struct spanheap_weak **weak = with_weak ? malloc(n * sizeof(*weak)) : NULL;
	struct spanheap *heap;
	void *root = NULL;
	double ms;

	if (with_weak && !weak) {
		fprintf(stderr, "gc_bench: no memory for the weak handles\n");
		exit(1);
	}
	heap = make_list(&root, n, fin, weak);
	ms = collect_median(heap);

	printf("BENCH %s spanheap %.2f ms\n", name, ms);
	if (!with_weak)
		print_per_object(name, ms, n);
	list_done(heap, &root, weak, n);
}

/* The live lists compared with each other; weak ones have no per-node line. */
static const struct {
	const char *name;
	long n;
	bool fin, weak;
} live_lists[] = {
	{ "gc_live_list_100k", 100000, false, false },
	{ "gc_live_list_1m", N, false, false },
	{ "gc_live_list_4m", 4 * N, false, false },
	{ "gc_live_fin_100k", 100000, true, false },
	{ "gc_live_fin_1m", N, true, false },
	{ "gc_live_fin_4m", 4 * N, true, false },
	{ "gc_live_weak_1m", N, false, true },
};

#define NLISTS	BENCH_ARRAY_SIZE(live_lists)

/*
 * gc_live_{list,fin}_{100k,1m,4m} and gc_live_weak_1m: the seven lists
 * made first and live at once, their cycles taken in turns (the order
 * rotating), each timed cycle right after an untimed one of the same
 * heap, as in collect_median().  The ratios between them (4m/100k, fin
 * and weak against the list) then compare cycles timed within the same
 * second, on memory in the same state: timed one list after the other,
 * each heap made after the last was destroyed, they were drift apart
 * (4m/100k from 1.04 to 1.52 on one afternoon) and the later heaps got
 * the pages the earlier ones freed.  Run in a process of its own
 * (run.sh), so that no earlier benchmark's heaps left pages either.
 */
void bench_gc_scaling(void)
{
	struct spanheap_weak **weak[NLISTS];
	struct spanheap *heap[NLISTS];
	double v[NLISTS][RUNS], ms;
	void *root[NLISTS] = { };
	unsigned int k, j;
	u64 t0;
	int r;

	for (k = 0; k < NLISTS; k++) {
		weak[k] = live_lists[k].weak ?
			  malloc(live_lists[k].n * sizeof(*weak[k])) : NULL;
		if (live_lists[k].weak && !weak[k]) {
			fprintf(stderr, "gc_bench: no memory for the weak handles\n");
			exit(1);
		}
		heap[k] = make_list(&root[k], live_lists[k].n, live_lists[k].fin,
				    weak[k]);
	}
	for (r = 0; r < RUNS; r++)
		for (j = 0; j < NLISTS; j++) {
			k = (j + r) % NLISTS;
			spanheap_collect(heap[k]);	/* warm up */
			t0 = ktime_get_ns();
			spanheap_collect(heap[k]);
			v[k][r] = ms_since(t0);
		}
	for (k = 0; k < NLISTS; k++) {
		ms = bench_median(v[k], RUNS);
		printf("BENCH %s spanheap %.2f ms\n", live_lists[k].name, ms);
		if (!live_lists[k].weak)
			print_per_object(live_lists[k].name, ms, live_lists[k].n);
		list_done(heap[k], &root[k], weak[k], live_lists[k].n);
	}
}

/*
 * gc_pause_live_1m: the pause (world stopped to world restarted, from
 * spanheap_read_stats()) of a full cycle of the rooted 1M-node list.
 */
static void bench_pause(void)
{
	struct spanheap_stats *st = malloc(sizeof(*st));
	void *root = NULL;
	struct spanheap *heap = make_list(&root, N, false, NULL);
	double v[RUNS];
	int r;

	spanheap_collect(heap);		/* warm up */
	for (r = 0; r < RUNS; r++) {
		spanheap_collect(heap);
		spanheap_read_stats(heap, st);
		v[r] = st->pause_last_ns / 1e3;
	}
	printf("BENCH gc_pause_live_1m spanheap %.1f us\n", bench_median(v, RUNS));
	spanheap_root_remove(heap, &root);
	spanheap_destroy(heap);
	free(st);
}

#define TREE_SUBTREES	1024
#define TREE_RUNS	8	/* even: worker 0 starts on each CPU as often */
#define TREE_CPUS	2

struct tnode {
	struct tnode *left, *right;
	unsigned long payload[2];
};

/* One timed collection of @heap, marked by @workers (1: serial). */
static double collect_with(struct spanheap *heap, unsigned int workers)
{
	u64 t0;

	/* Between cycles, nothing else running: the count a drain reads. */
	heap->nmark_workers = workers;
	t0 = ktime_get_ns();
	spanheap_collect(heap);
	return ms_since(t0);
}

static void set_affinity(const cpu_set_t *set)
{
	if (sched_setaffinity(0, sizeof(*set), set)) {
		perror("gc_bench: sched_setaffinity");
		exit(1);
	}
}

/* Run this thread on @cpu alone. */
static void pin_to(int cpu)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	set_affinity(&one);
}

/*
 * Confine this thread to the first TREE_CPUS CPUs it may use, put in
 * @cpus (the same one twice on a machine with one), and its mask before
 * in @all.  Called before the process's first spanheap_create(), which
 * makes the mark workers' threads: they inherit the set, so two workers
 * run on the CPUs the one-worker cycles are timed on, not on others.
 */
static void tree_cpus_get(int *cpus, cpu_set_t *pair, cpu_set_t *all)
{
	int n = 0, cpu;

	if (sched_getaffinity(0, sizeof(*all), all)) {
		perror("gc_bench: sched_getaffinity");
		exit(1);
	}
	CPU_ZERO(pair);
	for (cpu = 0; cpu < CPU_SETSIZE && n < TREE_CPUS; cpu++)
		if (CPU_ISSET(cpu, all)) {
			cpus[n++] = cpu;
			CPU_SET(cpu, pair);
		}
	for (; n < TREE_CPUS; n++)
		cpus[n] = cpus[0];
	set_affinity(pair);
}

/*
 * The tree's cycles, TREE_RUNS turns: one worker pinned to each of
 * @cpus, the order rotating, then two workers free on @pair.  Worker 0
 * (this thread) starts where it was last pinned, which the rotation
 * alternates (on each CPU TREE_RUNS / 2 times); pinned there for the whole cycle, two workers took 0.59
 * of one against 0.55 free, the other worker's wake-up queued behind it.
 * @v[0] gets the one-worker times (those on @cpus[k] from @v[0] + k *
 * TREE_RUNS), @v[1] the two-worker ones.
 */
static void tree_cycles(struct spanheap *heap, double **v, const int *cpus,
			const cpu_set_t *pair)
{
	int r, j, k;

	collect_with(heap, 1);		/* warm up both */
	collect_with(heap, 2);
	for (r = 0; r < TREE_RUNS; r++) {
		for (j = 0; j < TREE_CPUS; j++) {
			k = (j + r) % TREE_CPUS;
			pin_to(cpus[k]);
			v[0][k * TREE_RUNS + r] = collect_with(heap, 1);
		}
		set_affinity(pair);
		v[1][r] = collect_with(heap, 2);
	}
}

/*
 * gc_live_tree_1m: N live nodes, a root array of TREE_SUBTREES pointers,
 * each to a complete binary tree allocated breadth first.  One heap made
 * for two mark workers, its cycles marked by one and by two in turn, so
 * that both figures come from the same minutes of this machine, whose
 * speed drifts.  The two CPUs' speeds differ too (by up to 1.6 times in
 * a minute): one worker is timed on each (spanheap_1w_cpu<n>), and
 * spanheap_1w is the harmonic mean of their medians, the time of one
 * worker at the two CPUs' mean rate.  Two workers on those two CPUs at
 * best halve that time, whatever their speeds; timed on the faster CPU
 * alone, the bar (0.6) was out of reach when the other was 1.5 times
 * slower, and on the slower one it was met by any code.
 */
void bench_gc_tree(void)
{
	long per = (N - 1) / TREE_SUBTREES, i, t;
	struct tnode **nodes = malloc(per * sizeof(*nodes));
	double one[TREE_CPUS * TREE_RUNS], two[TREE_RUNS];
	double *v[2] = { one, two }, rate = 0, med;
	unsigned int old = shp_mark_workers;
	int cpus[TREE_CPUS], k;
	struct spanheap *heap;
	void *root = NULL;
	cpu_set_t pair, all;
	void **fan;

	if (!nodes) {
		fprintf(stderr, "gc_bench: no memory for the tree\n");
		exit(1);
	}
	tree_cpus_get(cpus, &pair, &all);
	shp_mark_workers = 2;
	heap = spanheap_create("bench-tree", 0);
	shp_mark_workers = old;
	spanheap_set_gc_percent(heap, -1);
	spanheap_root_add(heap, &root);
	spanheap_enter(heap);
	fan = spanheap_alloc(heap, TREE_SUBTREES * sizeof(void *), 0);
	for (t = 0; t < TREE_SUBTREES; t++) {
		for (i = 0; i < per; i++) {
			nodes[i] = spanheap_alloc(heap, sizeof(struct tnode), 0);
			nodes[i]->payload[0] = i;
			if (i)
				*(i & 1 ? &nodes[(i - 1) / 2]->left :
				  &nodes[(i - 1) / 2]->right) = nodes[i];
		}
		fan[t] = nodes[0];
	}
	root = fan;
	spanheap_exit(heap);
	tree_cycles(heap, v, cpus, &pair);
	for (k = 0; k < TREE_CPUS; k++) {
		med = bench_median(one + k * TREE_RUNS, TREE_RUNS);
		if (k && cpus[k] == cpus[0])
			continue;	/* one CPU: its line once */
		printf("BENCH gc_live_tree_1m spanheap_1w_cpu%d %.2f ms\n", cpus[k], med);
	}
	for (k = 0; k < TREE_CPUS; k++)
		rate += 1 / bench_median(one + k * TREE_RUNS, TREE_RUNS);
	printf("BENCH gc_live_tree_1m spanheap_1w %.2f ms\n", TREE_CPUS / rate);
	printf("BENCH gc_live_tree_1m spanheap_2w %.2f ms\n", bench_median(two, TREE_RUNS));
	spanheap_root_remove(heap, &root);
	spanheap_destroy(heap);
	set_affinity(&all);
	free(nodes);
}

/* The cycle finding N dead 32 B objects, each with a finalizer or a cleanup. */
static void bench_dead(const char *name, bool cleanup)
{
	unsigned long *count = cleanup ? &cleanup_count : &fin_count;
	double v[RUNS];
	int r, i;

	for (r = 0; r < RUNS; r++) {
		struct spanheap *heap = spanheap_create("bench-dead", 0);
		u64 t0;

		spanheap_set_gc_percent(heap, -1);
		spanheap_enter(heap);
		for (i = 0; i < N; i++) {
			void *p = spanheap_alloc(heap, 32, 0);

			if (cleanup)
				spanheap_add_cleanup(heap, p, count_cleanup, NULL);
			else
				spanheap_set_finalizer(heap, p, count_fin, NULL);
		}
		spanheap_exit(heap);
		__atomic_store_n(count, 0, __ATOMIC_RELAXED);
		t0 = ktime_get_ns();
		spanheap_collect(heap);
		if (cleanup)
			spanheap_wait_cleanups(heap);
		else
			spanheap_wait_finalizers(heap);
		v[r] = ms_since(t0);
		if (__atomic_load_n(count, __ATOMIC_RELAXED) != N) {
			fprintf(stderr, "gc_bench: %s: %lu of %d ran\n",
				name, *count, N);
			exit(1);
		}
		spanheap_destroy(heap);
	}
	printf("BENCH %s spanheap %.2f ms\n", name, bench_median(v, RUNS));
}

/* gc_live_list_1m alone ("bench-spanheap list"), for profiling. */
void bench_gc_list(void)
{
	bench_live("gc_live_list_1m", N, false, false);
}

/* gc_live_weak_1m alone ("bench-spanheap weak"), for profiling. */
void bench_gc_weak(void)
{
	bench_live("gc_live_weak_1m", N, false, true);
}

/* The gc_dead_*_1m lines alone ("bench-spanheap dead"), for profiling. */
void bench_gc_dead(void)
{
	bench_dead("gc_dead_fin_1m", false);
	bench_dead("gc_dead_cleanup_1m", true);
}

/* The *_register_1m and weak_make_1m lines alone ("bench-spanheap register"). */
void bench_gc_register(void)
{
	bench_register("finalizer_register_1m", REG_FINALIZER);
	bench_register("cleanup_register_1m", REG_CLEANUP);
	bench_register("weak_make_1m", REG_WEAK);
}

/*
 * All but the tree and the live lists, which run.sh times in processes
 * of their own ("bench-spanheap tree", "bench-spanheap scaling").
 * gc_live_list_1m_reused is the list made after the earlier benchmarks'
 * heaps were destroyed (the pairs', each allocation size's, the large
 * burst's and the register benchmarks' fifteen of 1M objects), as a heap
 * of a long-lived module is: no bar, for comparison with the fresh list.
 */
void bench_gc(void)
{
	bench_gc_register();
	bench_live("gc_live_list_1m_reused", N, false, false);
	bench_pause();
	bench_gc_dead();
}
