// SPDX-License-Identifier: GPL-2.0
/*
 * spanheap random-operation fuzzer.  Keeps a model of the object graph
 * and, after every collection, checks the device against it:
 *   - every reachable DATA object holds exactly the bytes written to it;
 *   - every finalizable object the cycle should finalize produced exactly
 *     one event (Go's rule: unreachable from the roots and from the
 *     referents of other finalizable objects), and no other object did;
 *   - every object the cycle should free now has a stale handle.
 * Pacing is off, so cycles happen only when the fuzzer asks.
 *   fuzz [seconds] [seed]    (TAP: one test per round of checks)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "libspanheap.h"
#include "tap.h"

#ifndef FUZZ_SECONDS
#define FUZZ_SECONDS	20
#endif
#define MAX_OBJS	1500
#define SLOTS		3
#define DATA_LEN	48

struct mobj {
	uint64_t h;
	bool live, data, fin, rooted, marked;
	int slot[SLOTS];		/* REF: model indices, -1 empty */
	unsigned char bytes[DATA_LEN];
	uint64_t token;
};

static struct mobj m[MAX_OBJS];
static int nobj, fd;
static uint64_t next_token = 1;
static unsigned int seed;

static unsigned int rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 17;
	seed ^= seed << 5;
	return seed;
}

static int pick_live(void)
{
	int tries;

	for (tries = 0; tries < 16 && nobj; tries++) {
		int i = rnd() % nobj;

		if (m[i].live)
			return i;
	}
	return -1;
}

static void mark(int i)
{
	int s;

	if (i < 0 || m[i].marked)
		return;
	m[i].marked = true;
	if (!m[i].data)
		for (s = 0; s < SLOTS; s++)
			mark(m[i].slot[s]);
}

static bool op(void)
{
	int i = pick_live(), j, s;
	struct mobj *o;

	switch (rnd() % 10) {
	case 0 ... 2:
		if (nobj == MAX_OBJS)
			return true;
		o = &m[nobj];
		memset(o, 0, sizeof(*o));
		o->data = rnd() & 1;
		for (s = 0; s < SLOTS; s++)
			o->slot[s] = -1;
		if (shp_alloc(fd, o->data ? SPANHEAP_KIND_DATA : SPANHEAP_KIND_REF,
			      o->data ? DATA_LEN : SLOTS, &o->h))
			return false;
		o->live = true;
		nobj++;
		return true;
	case 3:
		if (i < 0 || !m[i].data)
			return true;
		s = rnd() % DATA_LEN;
		m[i].bytes[s] = rnd();
		return !shp_write(fd, m[i].h, s, &m[i].bytes[s], 1);
	case 4 ... 5:
		if (i < 0 || m[i].data)
			return true;
		s = rnd() % SLOTS;
		j = rnd() % 4 ? pick_live() : -1;
		m[i].slot[s] = j;
		return !shp_store(fd, m[i].h, s, j < 0 ? 0 : m[j].h);
	case 6:
		if (i < 0)
			return true;
		if (m[i].rooted) {
			m[i].rooted = false;
			return !shp_unroot(fd, m[i].h, NULL);
		}
		m[i].rooted = true;
		return !shp_root(fd, m[i].h, NULL);
	case 7:
		if (i < 0)
			return true;
		if (m[i].fin) {
			m[i].fin = false;
			return !shp_clear_finalizer(fd, m[i].h);
		}
		m[i].fin = true;
		m[i].token = next_token++;
		return !shp_set_finalizer(fd, m[i].h, m[i].token);
	default:
		/* drop a root we hold so garbage appears */
		if (i >= 0 && m[i].rooted && !(rnd() % 2)) {
			m[i].rooted = false;
			return !shp_unroot(fd, m[i].h, NULL);
		}
		return true;
	}
}

/* Collect, then compare the device with the model.  Returns failures. */
static int check_cycle(void)
{
	static char expect[MAX_OBJS], got[MAX_OBJS];
	struct spanheap_event ev[128];
	unsigned char buf[DATA_LEN];
	int i, s, bad = 0, nexp = 0, ngot = 0;
	ssize_t n;

	for (i = 0; i < nobj; i++)
		m[i].marked = false;
	for (i = 0; i < nobj; i++)
		if (m[i].live && m[i].rooted)
			mark(i);
	for (i = 0; i < nobj; i++)		/* finalizers root their referents */
		if (m[i].live && m[i].fin && !m[i].data)
			for (s = 0; s < SLOTS; s++)
				mark(m[i].slot[s]);
	memset(expect, 0, sizeof(expect));
	for (i = 0; i < nobj; i++)
		if (m[i].live && !m[i].marked && m[i].fin) {
			expect[i] = 1;
			nexp++;
		}
	if (shp_gc(fd, SPANHEAP_GC_WAIT, NULL))
		return 1;
	memset(got, 0, sizeof(got));
	while ((n = shp_events(fd, ev, 128)) > 0) {
		int k;

		for (k = 0; k < n; k++) {
			for (i = 0; i < nobj; i++)
				if (m[i].h == ev[k].handle)
					break;
			if (i == nobj || !expect[i] || ev[k].token != m[i].token || got[i]++) {
				tap_diag("unexpected event token %llu", (unsigned long long)ev[k].token);
				bad++;
			}
			ngot++;
		}
	}
	if (ngot != nexp) {
		tap_diag("%d events, %d expected", ngot, nexp);
		bad++;
	}
	for (i = 0; i < nobj; i++) {
		if (!m[i].live)
			continue;
		if (expect[i]) {	/* finalized: resurrected, no finalizer */
			m[i].fin = false;
			continue;
		}
		if (!m[i].marked) {	/* freed by this cycle */
			m[i].live = false;
			if (shp_read(fd, m[i].h, 0, buf, 1) != -ESTALE &&
			    shp_load(fd, m[i].h, 0, (uint64_t *)buf) != -ESTALE) {
				tap_diag("object %d should be gone", i);
				bad++;
			}
			continue;
		}
		if (m[i].data && (shp_read(fd, m[i].h, 0, buf, DATA_LEN) ||
				  memcmp(buf, m[i].bytes, DATA_LEN))) {
			tap_diag("object %d lost its bytes", i);
			bad++;
		}
	}
	return bad;
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : FUZZ_SECONDS, rounds = 0, failed = 0, k;
	struct spanheap_params p = { .flags = SPANHEAP_PARAM_GC_PERCENT, .gc_percent = -1 };
	time_t end = time(NULL) + seconds;

	seed = argc > 2 ? strtoul(argv[2], NULL, 0) : (unsigned int)time(NULL) | 1;
	fd = shp_open(O_NONBLOCK);
	if (fd < 0 || shp_set_params(fd, &p)) {
		printf("1..0 # SKIP /dev/spanheap unusable\n");
		return 1;
	}
	printf("TAP version 13\n1..1\n# seed %u, %d s\n", seed, seconds);
	while (time(NULL) < end) {
		bool ok = true;
		int bad;

		for (k = 0; k < 200 && ok; k++)
			ok = op();
		bad = ok ? check_cycle() : 1;
		rounds++;
		if (bad || !ok) {
			failed++;
			tap_diag("round %d: %s", rounds, ok ? "model mismatch" : "ioctl failed");
		}
		if (nobj > MAX_OBJS - 200) {	/* start a fresh heap */
			close(fd);
			fd = shp_open(O_NONBLOCK);
			if (fd < 0 || shp_set_params(fd, &p))
				return 1;
			nobj = 0;
		}
	}
	tap_ok(!failed && rounds > 0,
	       "fuzz: %d rounds of 200 random operations, each ending in a checked collection",
	       rounds);
	tap_exit();
}
