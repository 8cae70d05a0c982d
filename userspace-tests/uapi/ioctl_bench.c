// SPDX-License-Identifier: GPL-2.0
/*
 * The /dev/spanheap ioctl path against the syscall floor (issue 10 part
 * 5), run by bench-vm.sh in the guest right after spanheap_bench.ko, on
 * the same boot.  Prints, per object or event, the best of REPS runs:
 *
 *   BENCH ioctl_noop spanheap <ns> ns          an unknown command: -ENOTTY
 *   BENCH ioctl_alloc_fin spanheap <ns> ns     ALLOC + FINALIZER, 2 calls
 *   BENCH ioctl_alloc_fin_batch64 spanheap <ns> ns
 *	the same ops, 64 objects per 2 BATCH calls (64 ALLOCs, then the 64
 *	FINALIZERs of their handles)
 *   BENCH events_read_1m spanheap <ns> ns      per event, read() of 4096
 *
 * The alloc benches allocate 8-byte DATA objects with ALLOC_ROOTED, so no
 * collection can take one between its two ops and none is freed during
 * the run, and turn pacing off (gc_percent -1): the figure is the ioctl
 * path's, not the collector's.  OBJECTS objects per run (about 10 MiB of
 * the 64 MiB mem_limit); each run has a new file, closed untimed.
 *
 * events_read_1m: 16 rounds of 2^16 unrooted objects with finalizers, a
 * GC_WAIT queues their 2^16 events, then only the read() calls draining
 * them are timed.  A round's events exceed the default event_queue_max
 * (4096): bench-vm.sh loads spanheap.ko with event_queue_max=1048576.
 *
 * Usage: spanheap_ioctl_bench [BENCH] (exit 1 and a "SPANHEAP-FAIL" line
 * on error): all four, or only the one named (its BENCH name, or "none"
 * for none; for tcg-prof.sh, which counts what one of them executes).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "libspanheap.h"
#include "ioctl_loops.h"
#include "testutil.h"

#define REPS		5
#define NOOPS		(1 << 18)
#define OBJECTS		(1 << 16)
#define EV_ROUND	(1 << 16)
#define EV_ROUNDS	16
#define EV_BUF		4096

static _Noreturn __printf(1, 2) void fail(const char *fmt, ...)
{
	va_list ap;

	printf("SPANHEAP-FAIL ioctl_bench: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(1);
}

static int open_heap(void)
{
	struct spanheap_params p = {
		.size = sizeof(p), .flags = SPANHEAP_PARAM_GC_PERCENT,
		.gc_percent = -1,
	};
	int fd = shp_open(0), ret;

	if (fd < 0)
		fail("open: %d", fd);
	ret = shp_set_params(fd, &p);
	if (ret)
		fail("SET_PARAMS: %d", ret);
	return fd;
}

static double bench_noop(void)
{
	struct spanheap_alloc a = { .size = sizeof(a) };
	int fd = open_heap(), i;
	double t;

	/* Command 0 of the magic: arg_size() knows it not, -ENOTTY. */
	if (ioctl(fd, _IOWR(SPANHEAP_IOC_MAGIC, 0, struct spanheap_alloc), &a) != -1 ||
	    errno != ENOTTY)
		fail("noop: not ENOTTY (%d)", errno);
	t = ioctl_now_ns();
	for (i = 0; i < NOOPS; i++)
		ioctl(fd, _IOWR(SPANHEAP_IOC_MAGIC, 0, struct spanheap_alloc), &a);
	t = ioctl_now_ns() - t;
	close(fd);
	return t / NOOPS;
}

static double bench_alloc_fin(void)
{
	int fd = open_heap(), ret;
	const char *what;
	double t;

	t = ioctl_now_ns();
	ret = ioctl_loop_alloc_fin(fd, OBJECTS, &what);
	t = ioctl_now_ns() - t;
	if (ret)
		fail("%s: %d", what, ret);
	close(fd);
	return t / OBJECTS;
}

/* @n objects with finalizers in batches (ioctl_loop_alloc_fin_batched()). */
static void alloc_fin_batched(int fd, int n, uint32_t flags)
{
	const char *what;
	int ret = ioctl_loop_alloc_fin_batched(fd, n, flags, &what);

	if (ret)
		fail("%s: %d", what, ret);
}

static double bench_alloc_fin_batch(void)
{
	int fd = open_heap();
	double t;

	t = ioctl_now_ns();
	alloc_fin_batched(fd, OBJECTS, SPANHEAP_ALLOC_ROOTED);
	t = ioctl_now_ns() - t;
	close(fd);
	return t / OBJECTS;
}

static double bench_events(struct spanheap_event *ev)
{
	int fd = open_heap(), r, ret;
	double t = 0, t0;
	ssize_t n;
	long got;

	for (r = 0; r < EV_ROUNDS; r++) {
		alloc_fin_batched(fd, EV_ROUND, 0);
		ret = shp_gc(fd, SPANHEAP_GC_WAIT, NULL);
		if (ret)
			fail("GC: %d", ret);
		for (got = 0; got < EV_ROUND; got += n / sizeof(*ev)) {
			t0 = ioctl_now_ns();
			n = read(fd, ev, EV_BUF * sizeof(*ev));
			t += ioctl_now_ns() - t0;
			if (n <= 0)
				fail("read: %zd (%d) after %ld events", n, errno, got);
		}
		if (got != EV_ROUND)
			fail("round %d: %ld events, not %d", r, got, EV_ROUND);
	}
	close(fd);
	return t / ((double)EV_ROUND * EV_ROUNDS);
}

static void report(const char *name, double (*fn)(void), int reps)
{
	double best = 0, x;
	int i;

	for (i = 0; i < reps; i++) {
		x = fn();
		if (!i || x < best)
			best = x;
	}
	printf("BENCH %s spanheap %.1f ns\n", name, best);
	fflush(stdout);
}

static struct spanheap_event *evbuf;

static double bench_events_rep(void)
{
	return bench_events(evbuf);
}

static const struct {
	const char *name;
	double (*fn)(void);
	int reps;	/* events_read_1m: 2^20 events per run, one run */
} benches[] = {
	{ "ioctl_noop",			bench_noop,		REPS },
	{ "ioctl_alloc_fin",		bench_alloc_fin,	REPS },
	{ "ioctl_alloc_fin_batch64",	bench_alloc_fin_batch,	REPS },
	{ "events_read_1m",		bench_events_rep,	1 },
};

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	size_t i;

	evbuf = malloc(EV_BUF * sizeof(*evbuf));
	if (!evbuf)
		fail("malloc");
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < sizeof(benches) / sizeof(benches[0]); i++)
		if (!only || !strcmp(only, benches[i].name))
			report(benches[i].name, benches[i].fn, benches[i].reps);
	free(evbuf);
	return 0;
}
