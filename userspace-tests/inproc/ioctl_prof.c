// SPDX-License-Identifier: GPL-2.0
/*
 * The ioctl path of ioctl_bench.c, in-process (uheap_ioctl() and
 * uheap_read() of the userspace build, -O2, no sanitizers), for
 * callgrind: instruction counts per object are stable where the TCG
 * figures of bench-vm are not.  Each phase is a function of its own, so
 * that callgrind can count it alone:
 *
 *   valgrind --tool=callgrind --collect-atstart=no \
 *	--toggle-collect=prof_alloc_fin build/user/ioctl-prof alloc_fin
 *
 * Phases (the argument; none: all three):
 *   alloc_fin    N ALLOC (ROOTED) + FINALIZER pairs, two calls each
 *   batch        the same N objects, 64 ALLOCs then 64 FINALIZERs per
 *                two BATCH calls
 *   events       N unrooted objects with finalizers (batched, untimed),
 *                a GC_WAIT, then read() of 4096 events at a time
 *                (prof_events_read only)
 * N is PROF_OBJECTS; per-object figures are the phase's instructions
 * divided by it.  Prints the phase's wall time per object as well.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "libspanheap.h"
#include "ioctl_loops.h"
#include "inproc.h"
#include "testutil.h"

#define PROF_OBJECTS	(1 << 14)
#define EV_BUF		4096

static void fail(const char *what, int err)
{
	fprintf(stderr, "ioctl-prof: %s: %d\n", what, err);
	exit(1);
}

static int open_heap(void)
{
	struct spanheap_params p = {
		.size = sizeof(p),
		.flags = SPANHEAP_PARAM_GC_PERCENT | SPANHEAP_PARAM_EVENT_QUEUE,
		.gc_percent = -1, .event_queue_max = PROF_OBJECTS,
	};
	int fd = shp_open(0), ret;

	if (fd < 0)
		fail("open", fd);
	ret = shp_set_params(fd, &p);
	if (ret)
		fail("SET_PARAMS", ret);
	return fd;
}

noinline void prof_alloc_fin(int fd, int n)
{
	const char *what;
	int ret = ioctl_loop_alloc_fin(fd, n, &what);

	if (ret)
		fail(what, ret);
}

noinline void prof_batch(int fd, int n, uint32_t flags)
{
	const char *what;
	int ret = ioctl_loop_alloc_fin_batched(fd, n, flags, &what);

	if (ret)
		fail(what, ret);
}

noinline long prof_events_read(int fd, struct spanheap_event *ev,
						long n)
{
	long got = 0;
	ssize_t r;

	while (got < n) {
		r = shp_read_bytes(fd, ev, EV_BUF * sizeof(*ev));
		if (r <= 0)
			fail("read", (int)r);
		got += r / sizeof(*ev);
	}
	return got;
}

static void phase(const char *name)
{
	static struct spanheap_event ev[EV_BUF];
	int fd = open_heap(), ret;
	double t = ioctl_now_ns();

	if (!strcmp(name, "alloc_fin")) {
		prof_alloc_fin(fd, PROF_OBJECTS);
	} else if (!strcmp(name, "batch")) {
		prof_batch(fd, PROF_OBJECTS, SPANHEAP_ALLOC_ROOTED);
	} else if (!strcmp(name, "events")) {
		prof_batch(fd, PROF_OBJECTS, 0);
		ret = shp_gc(fd, SPANHEAP_GC_WAIT, NULL);
		if (ret)
			fail("GC", ret);
		t = ioctl_now_ns();
		if (prof_events_read(fd, ev, PROF_OBJECTS) != PROF_OBJECTS)
			fail("events", 0);
	} else {
		fail(name, -1);
	}
	t = ioctl_now_ns() - t;
	printf("%s: %d objects, %.1f ns each\n", name, PROF_OBJECTS,
	       t / PROF_OBJECTS);
	shp_close(fd);
}

int main(int argc, char **argv)
{
	/* bench-vm.sh raises the module's parameter likewise. */
	shp_inproc_set_event_queue_max(PROF_OBJECTS);
	if (argc > 1) {
		phase(argv[1]);
	} else {
		phase("alloc_fin");
		phase("batch");
		phase("events");
	}
	return 0;
}
