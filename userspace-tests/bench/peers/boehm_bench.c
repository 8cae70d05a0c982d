// SPDX-License-Identifier: GPL-2.0
/*
 * Boehm GC peer benchmark (libgc 8.2, default configuration, ordered
 * finalizers via GC_register_finalizer).  This is a single-threaded client
 * (no GC_THREADS, no GC_start_mark_threads), so libgc marks on one thread,
 * as it does for any plain C program linked with -lgc.
 *
 * Figures (median of REPS runs after a warm-up):
 *   alloc_<N> boehm               ns per GC_MALLOC(N), GC enabled, garbage
 *   finalizer_register_1m boehm   ns per GC_register_finalizer (GC disabled)
 *   gc_live_list_1m boehm         ms per GC_gcollect(), 1M-node live list
 *   gc_live_fin_1m boehm          same, every node has a finalizer
 *   gc_live_{list,fin}_{100k,4m}  the same with 100k and 4M nodes, and
 *                                 gc_live_*_per_object: ns per node, for
 *                                 every size
 *   gc_dead_fin_1m boehm          ms to collect 1M dead finalizable objects
 *                                 and run all their finalizers
 *   weak_make_1m boehm            ns per GC_general_register_disappearing_link
 *                                 on 1M live objects (GC disabled)
 *   gc_live_tree_1m boehm         ms per GC_gcollect(), 1M live nodes in a
 *                                 wide tree (1024 binary subtrees); only
 *                                 with --tree, from the parallel build
 * The gc_live_* list lines come only from --lists, in a fresh process as
 * spanheap's do (bench-spanheap scaling): not after the allocation
 * benchmarks have grown the heap.
 *
 * Build: gcc -O2 -o boehm_bench boehm_bench.c -lgc
 * Parallel build: add -DBOEHM_PARALLEL_MARK; run with GC_MARKERS=2 and
 * --tree (libgc marks in parallel only for a client built with GC_THREADS).
 */
#ifdef BOEHM_PARALLEL_MARK
#define GC_THREADS
#endif
#define _GNU_SOURCE	/* environ */
#include <gc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../bench_util.h"

#define REPS	5
#define NOBJ	1000000L

struct node {			/* 32 bytes: one pointer + payload */
	struct node *next;
	long payload[3];
};

static struct node *list_head;	/* GC root (static data is scanned) */
static void **live_objs;	/* GC root for the registration objects */
static void **weak_links;	/* atomic (unscanned) array of the weak links */
static long fin_count;

static void fin_count_fn(void *obj, void *cd)
{
	(void)obj;
	(void)cd;
	fin_count++;
}

/* ---- alloc_N ------------------------------------------------------- */

static double alloc_run(size_t size, long iters)
{
	double t0, t1;
	long i;
	char *p = NULL;

	t0 = bench_now_ns();
	for (i = 0; i < iters; i++) {
		p = GC_MALLOC(size);
		p[0] = (char)i;		/* touch it; dropped next iteration */
		bench_keep(p);
	}
	t1 = bench_now_ns();
	return (t1 - t0) / iters;
}

static void bench_alloc(void)
{
	/*
	 * First the sizes of old, in their order and with their loop lengths
	 * (run-to-run comparison); then the sizes between, shorter loops.
	 */
	static const size_t sizes[] = { 8, 32, 256, 4096, 65536,
					16, 64, 128, 512, 1024, 16384 };
	static const long iters[] = { 10000000, 10000000, 2000000, 200000,
				      20000,
				      2500000, 2500000, 2000000, 500000,
				      250000, 50000 };
	double t[REPS];
	size_t s;
	int r;

	for (s = 0; s < BENCH_ARRAY_SIZE(sizes); s++) {
		alloc_run(sizes[s], iters[s] / 10);	/* warm-up */
		for (r = 0; r < REPS; r++)
			t[r] = alloc_run(sizes[s], iters[s]);
		printf("BENCH alloc_%zu boehm %.2f ns/op\n", sizes[s],
		       bench_median(t, REPS));
		fflush(stdout);
	}
	GC_gcollect();
}

/* ---- finalizer_register_1m ----------------------------------------- */

/*
 * 1M fresh 32-byte objects, kept reachable through live_objs, then time
 * registering a finalizer on each.  Registration runs with the collector
 * disabled (GC_disable/GC_enable) so only registration is timed, never a
 * collection it happens to trigger.
 */
static double register_run(void)
{
	double t0, t1;
	long i;

	live_objs = GC_MALLOC(NOBJ * sizeof(void *));
	for (i = 0; i < NOBJ; i++)
		live_objs[i] = GC_MALLOC(32);

	GC_disable();
	t0 = bench_now_ns();
	for (i = 0; i < NOBJ; i++)
		GC_register_finalizer(live_objs[i], fin_count_fn, NULL,
				      NULL, NULL);
	t1 = bench_now_ns();
	GC_enable();

	/* Unregister (fn == NULL) so dropped objects are not finalized. */
	for (i = 0; i < NOBJ; i++)
		GC_register_finalizer(live_objs[i], NULL, NULL, NULL, NULL);
	live_objs = NULL;
	return (t1 - t0) / NOBJ;
}

/*
 * weak_make_1m: the same shape as register_run() with Boehm's weak
 * pointers.  The 1M objects and the link array (GC_MALLOC_ATOMIC, so the
 * links are not scanned and stay weak) are allocated first; the timed
 * loop stores each pointer in its link and registers it, as
 * spanheap_weak_make() fills its handle's cell.
 */
static double weak_run(void)
{
	double t0, t1;
	long i;

	live_objs = GC_MALLOC(NOBJ * sizeof(void *));
	weak_links = GC_MALLOC_ATOMIC(NOBJ * sizeof(void *));
	for (i = 0; i < NOBJ; i++)
		live_objs[i] = GC_MALLOC(32);

	GC_disable();
	t0 = bench_now_ns();
	for (i = 0; i < NOBJ; i++) {
		weak_links[i] = live_objs[i];
		if (GC_general_register_disappearing_link(&weak_links[i],
							  live_objs[i]) != GC_SUCCESS) {
			fprintf(stderr, "boehm: disappearing link %ld failed\n", i);
			exit(1);
		}
	}
	t1 = bench_now_ns();
	GC_enable();

	for (i = 0; i < NOBJ; i++)
		GC_unregister_disappearing_link(&weak_links[i]);
	weak_links = NULL;
	live_objs = NULL;
	return (t1 - t0) / NOBJ;
}

/* Run "<self> <mode>" (--register-cold, --weak-cold) and read the ns/op it prints. */
static double register_cold_child(const char *self, const char *mode)
{
	char *const argv[] = { (char *)self, (char *)mode, NULL };
	posix_spawn_file_actions_t fa;
	double v = -1;
	int fd[2], st;
	pid_t pid;
	FILE *f;

	if (pipe(fd) || posix_spawn_file_actions_init(&fa) ||
	    posix_spawn_file_actions_adddup2(&fa, fd[1], 1) ||
	    posix_spawn(&pid, self, &fa, NULL, argv, environ)) {
		perror("boehm: spawn");
		exit(1);
	}
	posix_spawn_file_actions_destroy(&fa);
	close(fd[1]);
	f = fdopen(fd[0], "r");
	if (!f || fscanf(f, "%lf", &v) != 1 || waitpid(pid, &st, 0) < 0 ||
	    !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "boehm: register child failed\n");
		exit(1);
	}
	fclose(f);
	return v;
}


/*
 * The reported figure is the first 1M registrations of a fresh process
 * (finalizer hash table starts empty and must grow, as in real use):
 * median over REPS fresh processes.  Boehm's table never shrinks, so
 * repeating in one process measures a pre-grown table instead; that
 * warm figure goes to stderr only.
 */
static void bench_register(const char *self)
{
	double t[REPS];
	int r;

	for (r = 0; r < REPS; r++)
		t[r] = register_cold_child(self, "--register-cold");
	printf("BENCH finalizer_register_1m boehm %.2f ns/op\n",
	       bench_median(t, REPS));
	fflush(stdout);

	for (r = 0; r < REPS; r++)
		t[r] = register_run();
	fprintf(stderr, "boehm: finalizer_register_1m warm (pre-grown table) %.2f ns/op\n",
		bench_median(t, REPS));
	GC_gcollect();
}

/*
 * weak_make_1m, reported cold (fresh process, empty disappearing-link
 * table) as finalizer_register_1m is; the warm figure goes to stderr.
 * spanheap's figure is a fresh heap per run, so also an empty table.
 */
static void bench_weak(const char *self)
{
	double t[REPS];
	int r;

	for (r = 0; r < REPS; r++)
		t[r] = register_cold_child(self, "--weak-cold");
	printf("BENCH weak_make_1m boehm %.2f ns/op\n", bench_median(t, REPS));
	fflush(stdout);

	for (r = 0; r < REPS; r++)
		t[r] = weak_run();
	fprintf(stderr, "boehm: weak_make_1m warm (pre-grown table) %.2f ns/op\n",
		bench_median(t, REPS));
	GC_gcollect();
}

/* ---- gc_live_list_1m / gc_live_fin_1m ------------------------------ */

static double collect_ms(void)
{
	double t0 = bench_now_ns();

	GC_gcollect();
	return (bench_now_ns() - t0) / 1e6;
}

static double collect_median(void)
{
	double t[REPS];
	int r;

	collect_ms();		/* warm-up */
	for (r = 0; r < REPS; r++)
		t[r] = collect_ms();
	return bench_median(t, REPS);
}

/*
 * gc_live_list_<tag> and gc_live_fin_<tag> with @n nodes, and each per
 * node (gc_live_*_<tag>_per_object, ns), as spanheap's gc_bench.c does.
 */
static void bench_live(long n_nodes, const char *tag)
{
	struct node *n;
	double ms;
	long i;

	fin_count = 0;		/* bench_dead() may have run before */
	for (i = 0; i < n_nodes; i++) {
		n = GC_MALLOC(sizeof(*n));
		n->payload[0] = i;
		n->next = list_head;
		list_head = n;
	}
	ms = collect_median();
	printf("BENCH gc_live_list_%s boehm %.2f ms\n", tag, ms);
	printf("BENCH gc_live_list_%s_per_object boehm %.2f ns\n", tag, ms * 1e6 / n_nodes);
	fflush(stdout);

	for (n = list_head; n; n = n->next)
		GC_register_finalizer(n, fin_count_fn, NULL, NULL, NULL);
	ms = collect_median();
	printf("BENCH gc_live_fin_%s boehm %.2f ms\n", tag, ms);
	printf("BENCH gc_live_fin_%s_per_object boehm %.2f ns\n", tag, ms * 1e6 / n_nodes);
	fflush(stdout);

	/*
	 * Unregister before dropping: with ordered finalization a dead
	 * chain would only finalize one node per collection.
	 */
	for (n = list_head; n; n = n->next)
		GC_register_finalizer(n, NULL, NULL, NULL, NULL);
	list_head = NULL;
	GC_gcollect();
	if (fin_count != 0) {
		fprintf(stderr, "boehm: live finalizer ran (%ld)\n", fin_count);
		exit(1);
	}
}

/* ---- gc_live_tree_1m ----------------------------------------------- */

#define TREE_SUBTREES	1024

struct tnode {			/* 32 bytes: two pointers + payload */
	struct tnode *left, *right;
	long payload[2];
};

static struct tnode **tree_root;	/* GC root */

static void bench_tree(void)
{
	long per = (NOBJ - 1) / TREE_SUBTREES, i, t;
	struct tnode **nodes = malloc(per * sizeof(*nodes));

	tree_root = GC_MALLOC(TREE_SUBTREES * sizeof(*tree_root));
	for (t = 0; t < TREE_SUBTREES; t++) {
		for (i = 0; i < per; i++) {
			nodes[i] = GC_MALLOC(sizeof(struct tnode));
			nodes[i]->payload[0] = i;
			if (i)
				*(i & 1 ? &nodes[(i - 1) / 2]->left :
				  &nodes[(i - 1) / 2]->right) = nodes[i];
		}
		tree_root[t] = nodes[0];
	}
	memset(nodes, 0, per * sizeof(*nodes));	/* malloc is not a root, but be sure */
	free(nodes);
	printf("BENCH gc_live_tree_1m boehm %.2f ms\n", collect_median());
	fflush(stdout);
	tree_root = NULL;
}

/* ---- gc_dead_fin_1m ------------------------------------------------ */

/*
 * Allocate 1M independent finalizable objects and drop them.  Kept in a
 * separate noinline function so no stale pointer is left in our frame.
 */
static noinline void make_dead_finalizable(void)
{
	long i;

	live_objs = GC_MALLOC(NOBJ * sizeof(void *));
	for (i = 0; i < NOBJ; i++) {
		live_objs[i] = GC_MALLOC(32);
		GC_register_finalizer(live_objs[i], fin_count_fn, NULL,
				      NULL, NULL);
	}
	live_objs = NULL;
}

static double dead_run(void)
{
	double t0, t1;
	int rounds = 0;

	fin_count = 0;
	make_dead_finalizable();
	t0 = bench_now_ns();
	while (fin_count < NOBJ && rounds++ < 20) {
		GC_gcollect();
		GC_invoke_finalizers();
	}
	t1 = bench_now_ns();
	if (fin_count != NOBJ) {
		fprintf(stderr, "boehm: only %ld of %ld finalizers ran\n",
			fin_count, NOBJ);
		exit(1);
	}
	if (rounds > 1)
		fprintf(stderr, "boehm: dead_fin needed %d collections\n",
			rounds);
	return (t1 - t0) / 1e6;
}

static void bench_dead(void)
{
	double t[REPS];
	int r;

	dead_run();		/* warm-up */
	for (r = 0; r < REPS; r++)
		t[r] = dead_run();
	printf("BENCH gc_dead_fin_1m boehm %.2f ms\n", bench_median(t, REPS));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	char self[4096];
	ssize_t len;

	GC_INIT();
	/* Finalizers run only from our explicit GC_invoke_finalizers(). */
	GC_set_finalize_on_demand(1);

	if (argc > 1 && !strcmp(argv[1], "--register-cold")) {
		printf("%.2f\n", register_run());
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--tree")) {
#ifdef BOEHM_PARALLEL_MARK
		GC_start_mark_threads();	/* no-op if already started */
		fprintf(stderr, "boehm: gc_live_tree_1m: parallel mark %d (GC_MARKERS=%s)\n",
			GC_get_parallel(), getenv("GC_MARKERS") ? getenv("GC_MARKERS") : "unset");
#endif
		bench_tree();
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--weak-cold")) {
		printf("%.2f\n", weak_run());
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--lists")) {
		/* In a process of its own, as spanheap's are; 4M last. */
		bench_live(NOBJ, "1m");
		bench_live(NOBJ / 10, "100k");
		bench_live(4 * NOBJ, "4m");
		return 0;
	}
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0) {
		perror("boehm: readlink");
		return 1;
	}
	self[len] = '\0';
	fprintf(stderr, "boehm: GC %u.%u.%u\n", GC_VERSION_MAJOR,
		GC_VERSION_MINOR, GC_VERSION_MICRO);

	bench_alloc();
	bench_register(self);
	bench_weak(self);
	bench_dead();
	return 0;
}
