// SPDX-License-Identifier: GPL-2.0
/*
 * spanheap ioctl selftests (kselftest harness, TAP): every command, Go's
 * finalizer ordering and resurrection through the device, and every kind
 * of bad input; regressions for issue 7 (a collected large object stored,
 * lost and doubled events, read() racing, read-only argument structs, ABI
 * edges); paced variants where cycles and the background sweeper run on
 * their own.  Runs in the QEMU guests of both the test kernel and Debian's
 * kernel, as a 64-bit and a 32-bit program.
 *
 * The harness runs each test in a child process of its own: the fixture
 * opens the test's heap there, and FIXTURE_TEARDOWN (which runs after a
 * failed ASSERT too) puts back what a test changes outside its process,
 * the module's parameters.  No ASSERT in a thread other than the test's
 * own, nor in a teardown: threads report through their own fields.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "libspanheap.h"
#include "kselftest/kselftest.h"
#include "testutil.h"

/*
 * Linux 6.1's harness reports a skipped test as "ok N # SKIP why", with
 * no name, which kunit.py parse (6.1) does not read as a result: name it.
 * (The harness makes this call in __run_test(), where f, variant and t
 * are the test's fixture, variant and metadata.)
 */
#define ksft_test_result_skip(fmt, why)	\
	skip_named(f->name, variant->name, t->name, why)

static void skip_named(const char *fixture, const char *variant, const char *test,
		       const char *why)
{
	char name[256];

	snprintf(name, sizeof(name), "%s%s%s.%s", fixture, *variant ? "." : "",
		 variant, test);
	ktap_skip(name, "%s\n", why);
}

/* (the harness's SIGALRM handler does not use all its parameters) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest/kselftest_harness.h"
#pragma GCC diagnostic pop

/* The 32-bit build is there for compat_ioctl: fewer rounds of the long loops. */
#ifdef __i386__
#define LOOPS(n)	((n) / 4)
#else
#define LOOPS(n)	(n)
#endif

/*
 * Seconds a test may run (the harness's default is 30): on the debug
 * kernel under TCG the longest take tens of seconds.
 */
#define TEST_TIMEOUT_S	300

/*
 * The running test's heap, for the helpers and the test's threads: set by
 * the fixture's setup in the test's own process, closed by its teardown.
 */
static int fd = -1;

/* An unrooted object may go at any time; if it is still there, it is intact. */
#define ASSERT_MAYGO(expr) do {						\
	int __m = (expr);						\
	ASSERT_TRUE(!__m || __m == -ESTALE)				\
		TH_LOG("%s = %d, want 0 or -ESTALE", #expr, __m);	\
	} while (0)

static uint64_t obj(uint32_t kind, uint64_t len)
{
	uint64_t h = 0;

	if (shp_alloc(fd, kind, len, &h))
		h = 0;
	return h;
}

static uint64_t fin_obj(uint64_t token)
{
	uint64_t h = obj(SPANHEAP_KIND_REF, 2);

	if (h && shp_set_finalizer(fd, h, token))
		h = 0;
	return h;
}

/*
 * GC with wait, then read every event; returns the tokens in order.  With
 * a @type, every event must be of it (-2 otherwise), and a cleanup event
 * must carry no handle.
 */
static int gc_events_of(uint16_t type, uint64_t *tokens, int max)
{
	struct spanheap_event ev[64];
	ssize_t n, i;
	int got = 0;

	if (shp_gc(fd, SPANHEAP_GC_WAIT, NULL))
		return -1;
	while ((n = shp_events(fd, ev, 64)) > 0)
		for (i = 0; i < n; i++) {
			if (type && (ev[i].type != type ||
				     (type == SPANHEAP_EVENT_CLEANUP && ev[i].handle)))
				return -2;
			if (got < max)
				tokens[got++] = ev[i].token;
		}
	return n < 0 ? -1 : got;
}

static int gc_events(uint64_t *tokens, int max)
{
	return gc_events_of(0, tokens, max);
}

static bool stats_v1(struct spanheap_stats_v1 *st)
{
	return !shp_stats(fd, st) && st->version == SPANHEAP_STATS_VERSION;
}

/* ---- fixtures: a fresh heap per test ---- */

#define PARAMS_DIR	"/sys/module/spanheap/parameters/"
static uint64_t collections_of(int f)
{
	struct spanheap_stats_v1 st;

	return shp_stats(f, &st) ? 0 : st.collections;
}

static int param_read(const char *name, char *buf, size_t len)
{
	char path[128];
	int f, n;

	snprintf(path, sizeof(path), PARAMS_DIR "%s", name);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -errno;
	n = read(f, buf, len - 1);
	close(f);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int param_write(const char *name, const char *val)
{
	char path[128];
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), PARAMS_DIR "%s", name);
	f = open(path, O_WRONLY | O_CLOEXEC);
	if (f < 0)
		return -errno;
	n = write(f, val, strlen(val));
	if (n < 0)
		n = -errno;
	close(f);
	return n < 0 ? (int)n : n == (ssize_t)strlen(val) ? 0 : -EIO;
}

static bool params_writable(void)
{
	return geteuid() == 0 && access(PARAMS_DIR "mem_limit", F_OK) == 0;
}

/*
 * SKIP() in a FIXTURE_SETUP: Linux 6.1's harness would still run the
 * test (it looks at _metadata->passed only), so end the test's process
 * with the status its parent reads as a skip; the reason is already in
 * the memory the two share.
 */
#define SETUP_SKIP(fmt, ...)	SKIP(_exit(255), fmt, ##__VA_ARGS__)

/* Open the test's heap (O_NONBLOCK) into fd; no device: skip the test. */
static void heap_open(struct __test_metadata *_metadata)
{
	fd = shp_open(O_NONBLOCK);
	if (fd == -ENOENT || fd == -ENODEV || fd == -ENXIO || fd == -EACCES ||
	    fd == -EPERM)
		SETUP_SKIP("/dev/spanheap: %s", strerror(-fd));
	ASSERT_LE(0, fd) TH_LOG("open /dev/spanheap: %s", strerror(-fd));
}

/* Pacing off: cycles come only when the test asks. */
static void heap_unpaced(struct __test_metadata *_metadata)
{
	struct spanheap_params p = { .flags = SPANHEAP_PARAM_GC_PERCENT, .gc_percent = -1 };

	heap_open(_metadata);
	ASSERT_EQ(0, shp_set_params(fd, &p));
}

/* The defaults, pacing on; *@c0: the cycles so far. */
static void heap_paced(struct __test_metadata *_metadata, uint64_t *c0)
{
	struct spanheap_stats_v1 st;

	heap_open(_metadata);
	ASSERT_TRUE(stats_v1(&st));
	ASSERT_EQ(100, st.gc_percent);
	*c0 = st.collections;
}

/*
 * A paced test must not call GC: paced cycles must have run by its end.
 * (No TH_LOG() handler after an EXPECT in a teardown: 6.1's harness leaves
 * the handler armed by a failed ASSERT, and it would run there.)
 */
static void heap_paced_done(struct __test_metadata *_metadata, uint64_t c0)
{
	struct spanheap_stats_v1 st;

	if (_metadata->passed && collections_of(fd) <= c0) {
		TH_LOG("no paced cycle ran");
		EXPECT_LT(c0, collections_of(fd));
	}
	/* Paced cycles count their pauses too (each is at least 1 ns). */
	if (_metadata->passed && stats_v1(&st) && st.gc_pause_total_ns < st.collections) {
		TH_LOG("pauses of %llu cycles: %llu ns",
		       (unsigned long long)st.collections,
		       (unsigned long long)st.gc_pause_total_ns);
		EXPECT_LE(st.collections, st.gc_pause_total_ns);
	}
	close(fd);
}

/* A fresh heap with pacing off. */
FIXTURE(heap) {
	int fd;		/* the same as fd */
};

FIXTURE_SETUP(heap)
{
	heap_unpaced(_metadata);
	self->fd = fd;
}

FIXTURE_TEARDOWN(heap)
{
	close(self->fd);
}

/*
 * A fresh heap with the defaults (pacing on, background sweeper).  The
 * test must not call GC; paced cycles must have run by its end.
 */
FIXTURE(paced) {
	uint64_t c0;
};

FIXTURE_SETUP(paced)
{
	heap_paced(_metadata, &self->c0);
}

FIXTURE_TEARDOWN(paced)
{
	heap_paced_done(_metadata, self->c0);
}

/* paced, for defect 1's test: the size and number of the dead objects */
FIXTURE(store_dead) {
	uint64_t c0;
};

FIXTURE_VARIANT(store_dead) {
	uint64_t len;
	int tries;
};

FIXTURE_VARIANT_ADD(store_dead, data_40000) {
	.len = 40000,
	.tries = LOOPS(300),
};

FIXTURE_VARIANT_ADD(store_dead, data_200000) {
	.len = 200000,
	.tries = LOOPS(100),
};

FIXTURE_VARIANT_ADD(store_dead, data_100) {
	.len = 100,
	.tries = LOOPS(40),
};

FIXTURE_SETUP(store_dead)
{
	heap_paced(_metadata, &self->c0);
}

FIXTURE_TEARDOWN(store_dead)
{
	heap_paced_done(_metadata, self->c0);
}

/*
 * Pacing off, as root with the module's parameters in sysfs (else
 * skipped); the teardown writes back any parameter the test changed.
 */
static const char *const params_kept[] = { "mem_limit", "event_queue_max", "max_user_heaps" };

FIXTURE(params) {
	char saved[ARRAY_SIZE(params_kept)][64];
};

FIXTURE_SETUP(params)
{
	size_t i;

	if (!params_writable())
		SETUP_SKIP("needs root and " PARAMS_DIR);
	for (i = 0; i < ARRAY_SIZE(params_kept); i++) {
		ASSERT_EQ(0, param_read(params_kept[i], self->saved[i], sizeof(self->saved[i])))
			TH_LOG("%s%s missing", PARAMS_DIR, params_kept[i]);
	}
	heap_unpaced(_metadata);
}

FIXTURE_TEARDOWN(params)
{
	char now[64];
	size_t i;
	int r;

	close(fd);
	for (i = 0; i < ARRAY_SIZE(params_kept); i++) {
		if (!param_read(params_kept[i], now, sizeof(now)) &&
		    !strcmp(now, self->saved[i]))
			continue;
		r = param_write(params_kept[i], self->saved[i]);
		if (r)
			TH_LOG("could not restore %s=%s: %d", params_kept[i], self->saved[i], r);
		EXPECT_EQ(0, r);	/* (no handler: see heap_paced_done()) */
	}
}

/* ---- the basics: every command, Go's order, bad input ---- */

/* DATA alloc, zeroed, write/read round trip */
TEST_F_TIMEOUT(heap, data_roundtrip, TEST_TIMEOUT_S)
{
	uint64_t h = obj(SPANHEAP_KIND_DATA, 100);
	char buf[100] = { 1 };

	ASSERT_NE(0ULL, h);
	ASSERT_EQ(0, shp_read(fd, h, 0, buf, 100));
	ASSERT_EQ(0, buf[0]);	/* zeroed */
	ASSERT_EQ(0, buf[99]);
	ASSERT_EQ(0, shp_write(fd, h, 10, "hello", 5));
	ASSERT_EQ(0, shp_read(fd, h, 8, buf, 9));
	ASSERT_EQ(0, memcmp(buf, "\0\0hello\0\0", 9));
	ASSERT_EQ(0ULL, h >> 63);	/* never an address */
}

/* REF store/load round trip, empty slots */
TEST_F_TIMEOUT(heap, ref_roundtrip, TEST_TIMEOUT_S)
{
	uint64_t r = obj(SPANHEAP_KIND_REF, 4), d = obj(SPANHEAP_KIND_DATA, 8), v = 1;

	ASSERT_NE(0ULL, r);
	ASSERT_NE(0ULL, d);
	ASSERT_EQ(0, shp_load(fd, r, 3, &v));
	ASSERT_EQ(0ULL, v);
	ASSERT_EQ(0, shp_store(fd, r, 3, d));
	ASSERT_EQ(0, shp_load(fd, r, 3, &v));
	ASSERT_EQ(d, v);
	ASSERT_EQ(0, shp_store(fd, r, 3, 0));
	ASSERT_EQ(0, shp_load(fd, r, 3, &v));
	ASSERT_EQ(0ULL, v);
}

/* root/unroot are counted; unrooted objects are collected */
TEST_F_TIMEOUT(heap, roots_counted, TEST_TIMEOUT_S)
{
	uint64_t h = obj(SPANHEAP_KIND_DATA, 8), c = 0;

	ASSERT_NE(0ULL, h);
	ASSERT_EQ(0, shp_root(fd, h, &c));
	ASSERT_EQ(1ULL, c);
	ASSERT_EQ(0, shp_root(fd, h, &c));
	ASSERT_EQ(2ULL, c);
	ASSERT_EQ(0, shp_gc(fd, 0, NULL));
	ASSERT_EQ(0, shp_unroot(fd, h, &c));
	ASSERT_EQ(1ULL, c);
	ASSERT_EQ(0, shp_gc(fd, 0, NULL));
	ASSERT_EQ(0, shp_write(fd, h, 0, "x", 1));	/* still rooted once */
	ASSERT_EQ(0, shp_unroot(fd, h, &c));
	ASSERT_EQ(0ULL, c);
	ASSERT_EQ(-EINVAL, shp_unroot(fd, h, NULL));
	ASSERT_EQ(0, shp_gc(fd, 0, NULL));
	ASSERT_EQ(-ESTALE, shp_write(fd, h, 0, "x", 1));
}

/* ALLOC_ROOTED objects survive cycles until unrooted */
TEST_F_TIMEOUT(heap, alloc_rooted, TEST_TIMEOUT_S)
{
	struct spanheap_stats_v1 st;
	uint64_t h, c;

	ASSERT_EQ(0, shp_alloc_flags(fd, SPANHEAP_KIND_DATA, 8, SPANHEAP_ALLOC_ROOTED, &h));
	ASSERT_TRUE(stats_v1(&st));
	ASSERT_EQ(1ULL, st.roots);
	ASSERT_EQ(0, shp_gc(fd, 0, NULL));
	ASSERT_EQ(0, shp_write(fd, h, 0, "x", 1));
	ASSERT_EQ(0, shp_unroot(fd, h, &c));
	ASSERT_EQ(0ULL, c);
	ASSERT_EQ(0, shp_gc(fd, 0, NULL));
	ASSERT_EQ(-ESTALE, shp_write(fd, h, 0, "x", 1));
	ASSERT_EQ(-EINVAL, shp_alloc_flags(fd, SPANHEAP_KIND_DATA, 8, 0x2, &h));
}

/* struct sizes: short, long with zero/non-zero tail, stats prefix, bad pointers */
TEST_F_TIMEOUT(heap, struct_sizes, TEST_TIMEOUT_S)
{
	struct {
		struct spanheap_alloc a;
		uint64_t extra;
	} big = { { .size = sizeof(big), .kind = SPANHEAP_KIND_DATA, .length = 8 }, 0 };
	struct spanheap_alloc a = { .size = sizeof(a) - 4, .kind = SPANHEAP_KIND_DATA, .length = 8 };
	struct spanheap_stats_v1 st;

	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_ALLOC, &a));	/* too small */
	ASSERT_EQ(0, shp_ioctl(fd, SPANHEAP_IOC_ALLOC, &big));		/* zero tail */
	ASSERT_EQ(sizeof(big.a), big.a.size);				/* kernel's size */
	big.a.size = sizeof(big);
	big.a.handle = 0;
	big.extra = 1;
	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_ALLOC, &big));	/* non-zero tail */
	memset(&st, 0xff, sizeof(st));
	st.size = 16;
	ASSERT_EQ(0, shp_ioctl(fd, SPANHEAP_IOC_STATS, &st));
	ASSERT_EQ(16U, st.size);
	ASSERT_EQ((uint32_t)SPANHEAP_STATS_VERSION, st.version);
	ASSERT_EQ(~0ULL, st.bytes_in_use);
	st.size = 4;
	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_STATS, &st));
	ASSERT_EQ(-EFAULT, shp_ioctl(fd, SPANHEAP_IOC_ALLOC, NULL));
	ASSERT_EQ(-EFAULT, shp_ioctl(fd, SPANHEAP_IOC_ALLOC, (void *)8));
}

/* reserved fields, unknown flags, unknown commands; nothing changes */
TEST_F_TIMEOUT(heap, reserved_flags_commands, TEST_TIMEOUT_S)
{
	struct spanheap_alloc a = { .size = sizeof(a), .kind = SPANHEAP_KIND_DATA, .length = 8 };
	struct spanheap_gc g = { .size = sizeof(g), .flags = 0x80 };
	struct spanheap_params p = { .size = sizeof(p), .flags = 0x100 };
	uint64_t h = obj(SPANHEAP_KIND_DATA, 8);
	struct spanheap_finalizer f = { .size = sizeof(f), .handle = h,
					.flags = SPANHEAP_FIN_CLEAR, .token = 1 };
	struct spanheap_stats_v1 before, after;

	ASSERT_NE(0ULL, h);
	ASSERT_TRUE(stats_v1(&before));
	a.reserved = 1;
	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_ALLOC, &a));
	a.reserved = 0;
	a.flags = 0x80;
	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_ALLOC, &a));
	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_GC, &g));
	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_SET_PARAMS, &p));
	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_FINALIZER, &f));
	f.flags = 2;
	f.token = 0;
	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_FINALIZER, &f));
	ASSERT_EQ(-ENOTTY, shp_ioctl(fd, _IOWR(SPANHEAP_IOC_MAGIC, 99, struct spanheap_gc), &g));
	ASSERT_EQ(-ENOTTY, shp_ioctl(fd, _IOWR('Z', 1, struct spanheap_gc), &g));
	ASSERT_TRUE(stats_v1(&after));
	ASSERT_EQ(before.objects, after.objects);		/* nothing changed */
}

/* huge/zero allocations, bad kinds, out-of-range offsets and slots */
TEST_F_TIMEOUT(heap, bad_sizes_and_ranges, TEST_TIMEOUT_S)
{
	uint64_t h = 0, d = obj(SPANHEAP_KIND_DATA, 16), r = obj(SPANHEAP_KIND_REF, 2), v;
	struct spanheap_rw rw = { .size = sizeof(rw), .flags = 1, .length = 4 };
	char buf[32];

	ASSERT_NE(0ULL, d);
	ASSERT_NE(0ULL, r);
	ASSERT_EQ(-EINVAL, shp_alloc(fd, SPANHEAP_KIND_DATA, 0, &h));
	ASSERT_EQ(-EINVAL, shp_alloc(fd, SPANHEAP_KIND_DATA, SPANHEAP_MAX_OBJECT + 1, &h));
	ASSERT_EQ(-EINVAL, shp_alloc(fd, SPANHEAP_KIND_DATA, 1ULL << 40, &h));
	ASSERT_EQ(-EINVAL, shp_alloc(fd, SPANHEAP_KIND_REF, SPANHEAP_MAX_SLOTS + 1, &h));
	ASSERT_EQ(-EINVAL, shp_alloc(fd, 7, 8, &h));
	ASSERT_EQ(-ERANGE, shp_write(fd, d, 10, buf, 7));
	ASSERT_EQ(-ERANGE, shp_read(fd, d, 16, buf, 1));
	ASSERT_EQ(-ERANGE, shp_read(fd, d, ~0ULL, buf, 2));	/* overflow */
	ASSERT_EQ(-EFAULT, shp_write(fd, d, 0, (void *)8, 4));
	ASSERT_EQ(-ERANGE, shp_load(fd, r, 2, &v));
	ASSERT_EQ(-ERANGE, shp_store(fd, r, ~0ULL, d));
	ASSERT_EQ(0, shp_write(fd, d, 0, buf, 0));			/* empty is fine */
	/* Unknown flags: refused, and nothing written or read. */
	memset(buf, 'z', sizeof(buf));
	rw.handle = d;
	rw.buf = (uintptr_t)buf;
	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_WRITE, &rw));
	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_READ, &rw));
	ASSERT_EQ('z', buf[0]);
	ASSERT_EQ(0, shp_read(fd, d, 0, buf, 4));
	ASSERT_EQ(0, buf[0]);
}

/* DATA/REF misuse */
TEST_F_TIMEOUT(heap, kind_misuse, TEST_TIMEOUT_S)
{
	uint64_t d = obj(SPANHEAP_KIND_DATA, 16), r = obj(SPANHEAP_KIND_REF, 2), v;
	char buf[8] = { 0 };

	ASSERT_NE(0ULL, d);
	ASSERT_NE(0ULL, r);
	ASSERT_EQ(-EINVAL, shp_write(fd, r, 0, buf, 8));
	ASSERT_EQ(-EINVAL, shp_read(fd, r, 0, buf, 8));
	ASSERT_EQ(-EINVAL, shp_store(fd, d, 0, r));
	ASSERT_EQ(-EINVAL, shp_load(fd, d, 0, &v));
}

/* stale, foreign and made-up handles */
TEST_F_TIMEOUT(heap, stale_foreign_madeup, TEST_TIMEOUT_S)
{
	uint64_t h = obj(SPANHEAP_KIND_DATA, 8), r = obj(SPANHEAP_KIND_REF, 1), oh = 0;
	int other = shp_open(0);
	char b;

	ASSERT_NE(0ULL, h);
	ASSERT_NE(0ULL, r);
	ASSERT_LE(0, other);
	ASSERT_EQ(0, shp_root(fd, r, NULL));
	ASSERT_EQ(0, shp_alloc(other, SPANHEAP_KIND_DATA, 8, &oh));
	ASSERT_EQ(-EINVAL, shp_write(fd, oh, 0, "x", 1));	/* other file's */
	ASSERT_EQ(-EINVAL, shp_write(other, h, 0, "x", 1));
	ASSERT_EQ(-EINVAL, shp_store(fd, r, 0, oh));
	ASSERT_EQ(-EINVAL, shp_read(fd, 0, 0, &b, 1));
	ASSERT_EQ(-ENOENT, shp_read(fd, h + 0xfffff, 0, &b, 1));	/* never issued */
	ASSERT_EQ(-ESTALE, shp_read(fd, h ^ (1ULL << 30), 0, &b, 1));	/* wrong generation */
	ASSERT_EQ(0, shp_gc(fd, 0, NULL));		/* h is unreachable: collected */
	ASSERT_EQ(-ESTALE, shp_read(fd, h, 0, &b, 1));
	ASSERT_EQ(-ESTALE, shp_store(fd, r, 0, h));
	ASSERT_EQ(-ESTALE, shp_set_finalizer(fd, h, 1));
	close(other);
	ASSERT_EQ(0, shp_unroot(fd, r, NULL));
}

/* finalizer set twice, clear, clear none */
TEST_F_TIMEOUT(heap, finalizer_errors, TEST_TIMEOUT_S)
{
	uint64_t h = obj(SPANHEAP_KIND_DATA, 8);

	ASSERT_NE(0ULL, h);
	ASSERT_EQ(0, shp_set_finalizer(fd, h, 5));
	ASSERT_EQ(-EEXIST, shp_set_finalizer(fd, h, 6));
	ASSERT_EQ(0, shp_clear_finalizer(fd, h));
	ASSERT_EQ(0, shp_clear_finalizer(fd, h));	/* removing none is fine */
	ASSERT_EQ(0, shp_set_finalizer(fd, h, 6));
}

/* chain A->B->C finalized over three cycles, in order */
TEST_F_TIMEOUT(heap, chain_order, TEST_TIMEOUT_S)
{
	uint64_t a = fin_obj(1), b = fin_obj(2), c = fin_obj(3), t[8];

	ASSERT_NE(0ULL, a);
	ASSERT_NE(0ULL, b);
	ASSERT_NE(0ULL, c);
	ASSERT_EQ(0, shp_store(fd, a, 0, b));
	ASSERT_EQ(0, shp_store(fd, b, 0, c));
	ASSERT_EQ(1, gc_events(t, 8));
	ASSERT_EQ(1ULL, t[0]);
	ASSERT_EQ(1, gc_events(t, 8));
	ASSERT_EQ(2ULL, t[0]);
	ASSERT_EQ(1, gc_events(t, 8));
	ASSERT_EQ(3ULL, t[0]);
	ASSERT_EQ(0, gc_events(t, 8));
}

/* diamond order; a cycle is never finalized nor freed */
TEST_F_TIMEOUT(heap, diamond_and_cycle, TEST_TIMEOUT_S)
{
	uint64_t a = fin_obj(1), b = fin_obj(2), c = fin_obj(3), d = fin_obj(4);
	uint64_t x = fin_obj(10), y = fin_obj(11), t[8], n, i;

	ASSERT_NE(0ULL, a);
	ASSERT_NE(0ULL, b);
	ASSERT_NE(0ULL, c);
	ASSERT_NE(0ULL, d);
	ASSERT_NE(0ULL, x);
	ASSERT_NE(0ULL, y);
	ASSERT_EQ(0, shp_store(fd, a, 0, b));
	ASSERT_EQ(0, shp_store(fd, a, 1, c));
	ASSERT_EQ(0, shp_store(fd, b, 0, d));
	ASSERT_EQ(0, shp_store(fd, c, 0, d));
	ASSERT_EQ(0, shp_store(fd, x, 0, y));
	ASSERT_EQ(0, shp_store(fd, y, 0, x));
	ASSERT_EQ(1, gc_events(t, 8));
	ASSERT_EQ(1ULL, t[0]);
	ASSERT_EQ(2, gc_events(t, 8));
	ASSERT_EQ(5ULL, t[0] + t[1]);
	ASSERT_EQ(1, gc_events(t, 8));
	ASSERT_EQ(4ULL, t[0]);
	for (i = 0; i < 3; i++) {
		n = gc_events(t, 8);
		ASSERT_EQ(0ULL, n);		/* the cycle is never finalized */
	}
	ASSERT_EQ(0, shp_load(fd, x, 0, &n));
	ASSERT_EQ(y, n);	/* ...nor freed */
}

/* pending event keeps the object; resurrection and re-registration */
TEST_F_TIMEOUT(heap, resurrection, TEST_TIMEOUT_S)
{
	uint64_t a = fin_obj(7), t[8], c;
	struct spanheap_event ev;

	ASSERT_NE(0ULL, a);
	ASSERT_EQ(0, shp_gc(fd, SPANHEAP_GC_WAIT, NULL));
	/* The event is pending: its object stays alive through more cycles. */
	ASSERT_EQ(0, shp_gc(fd, 0, NULL));
	ASSERT_EQ(0, shp_gc(fd, 0, NULL));
	ASSERT_EQ(0, shp_load(fd, a, 0, &c));
	ASSERT_EQ(1, shp_events(fd, &ev, 1));
	ASSERT_EQ(7ULL, ev.token);
	ASSERT_EQ(a, ev.handle);
	ASSERT_EQ(sizeof(ev), ev.event_len);
	ASSERT_EQ(1, ev.version);
	ASSERT_EQ(SPANHEAP_EVENT_FINALIZER, ev.type);
	ASSERT_TRUE(ev.seq > 0);
	ASSERT_EQ(0, shp_root(fd, a, NULL));		/* resurrect */
	ASSERT_EQ(0, shp_set_finalizer(fd, a, 8));	/* and re-register */
	ASSERT_EQ(0, gc_events(t, 8));
	ASSERT_EQ(0, shp_unroot(fd, a, NULL));
	ASSERT_EQ(1, gc_events(t, 8));
	ASSERT_EQ(8ULL, t[0]);
	ASSERT_EQ(0, gc_events(t, 8));
	ASSERT_EQ(-ESTALE, shp_load(fd, a, 0, &c));	/* read and dropped: gone */
}

/* poll/epoll readiness, O_NONBLOCK, short buffers, whole records */
TEST_F_TIMEOUT(heap, read_poll_nonblock, TEST_TIMEOUT_S)
{
	struct pollfd p = { .events = POLLIN };
	struct spanheap_event ev[2];
	char tiny[8];

	struct epoll_event ee = { .events = EPOLLIN }, out;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ee));
	p.fd = fd;
	ASSERT_EQ(0, poll(&p, 1, 0));
	ASSERT_EQ(0, epoll_wait(ep, &out, 1, 0));
	ASSERT_EQ(-1, read(fd, ev, sizeof(ev)));
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_NE(0ULL, fin_obj(42));
	ASSERT_NE(0ULL, fin_obj(43));
	ASSERT_EQ(0, shp_gc(fd, SPANHEAP_GC_WAIT, NULL));
	ASSERT_EQ(1, poll(&p, 1, 0));
	ASSERT_TRUE(p.revents & POLLIN);
	ASSERT_EQ(1, epoll_wait(ep, &out, 1, 0));
	ASSERT_NE(0U, out.events & EPOLLIN);
	close(ep);
	ASSERT_EQ(-1, read(fd, tiny, sizeof(tiny)));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ((ssize_t)sizeof(ev[0]), read(fd, ev, sizeof(ev[0]) + 3));	/* whole records */
	ASSERT_EQ((ssize_t)sizeof(ev[0]), read(fd, ev, sizeof(ev)));
	ASSERT_TRUE(ev[0].token == 42 || ev[0].token == 43);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* a signal interrupts a blocking read */
TEST_F_TIMEOUT(heap, signal_interrupts_read, TEST_TIMEOUT_S)
{
	struct sigaction sa = { .sa_handler = on_alarm }, old;	/* no SA_RESTART */
	int bfd = shp_open(0), err;	/* blocking */
	struct spanheap_event ev;
	ssize_t n;

	ASSERT_LE(0, bfd);
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, &old));
	alarm(1);
	n = read(bfd, &ev, sizeof(ev));
	err = errno;
	alarm(0);
	sigaction(SIGALRM, &old, NULL);
	close(bfd);
	ASSERT_EQ(-1, n);
	ASSERT_EQ(EINTR, err);
}

/* full event queue defers finalizers, none lost or doubled */
TEST_F_TIMEOUT(heap, queue_cap, TEST_TIMEOUT_S)
{
	struct spanheap_params p = { .flags = SPANHEAP_PARAM_EVENT_QUEUE, .event_queue_max = 4 };
	struct spanheap_event ev[16];
	struct spanheap_stats_v1 st;
	int seen[10] = { 0 }, i, round, total = 0;
	ssize_t n;

	ASSERT_EQ(0, shp_set_params(fd, &p));
	for (i = 0; i < 10; i++)
		ASSERT_NE(0ULL, fin_obj(100 + i));
	for (round = 0; round < 6 && total < 10; round++) {
		ASSERT_EQ(0, shp_gc(fd, SPANHEAP_GC_WAIT, NULL));
		ASSERT_TRUE(stats_v1(&st));
		ASSERT_GE(4ULL, st.events_pending);
		n = shp_events(fd, ev, 16);
		ASSERT_LE(0, n);
		ASSERT_GE(4, n);
		for (i = 0; i < n; i++) {
			ASSERT_LE(100ULL, ev[i].token);
			ASSERT_GT(110ULL, ev[i].token);
			seen[ev[i].token - 100]++;
		}
		total += n;
	}
	ASSERT_EQ(10, total);
	for (i = 0; i < 10; i++)
		ASSERT_EQ(1, seen[i]);		/* deferred, never lost or doubled */
	ASSERT_TRUE(stats_v1(&st));
	ASSERT_LE(6ULL, st.events_deferred);
	p.event_queue_max = 4096;
	ASSERT_EQ(0, shp_set_params(fd, &p));
}

/* parameters: limits checked, memory cap enforced and recovered */
TEST_F_TIMEOUT(heap, set_params, TEST_TIMEOUT_S)
{
	struct spanheap_params p = { .flags = SPANHEAP_PARAM_MEM_LIMIT, .mem_limit = 1ULL << 40 };
	struct spanheap_stats_v1 st;
	uint64_t h;
	int n = 0;

	ASSERT_EQ(-EINVAL, shp_set_params(fd, &p));	/* above the module's cap */
	p.mem_limit = 4096;
	ASSERT_EQ(-EINVAL, shp_set_params(fd, &p));
	p.flags = SPANHEAP_PARAM_EVENT_QUEUE;
	p.event_queue_max = 0;
	ASSERT_EQ(-EINVAL, shp_set_params(fd, &p));
	p.flags = SPANHEAP_PARAM_MEM_LIMIT | SPANHEAP_PARAM_GC_PERCENT;
	p.mem_limit = 1 << 20;
	p.gc_percent = -1;
	ASSERT_EQ(0, shp_set_params(fd, &p));
	ASSERT_TRUE(stats_v1(&st));
	ASSERT_EQ(1ULL << 20, st.mem_limit);
	ASSERT_EQ(-1, st.gc_percent);
	while (!shp_alloc(fd, SPANHEAP_KIND_DATA, 60000, &h) && n < 100)
		n++;
	ASSERT_TRUE(n > 0);
	ASSERT_TRUE(n < 100);
	ASSERT_EQ(-ENOMEM, shp_alloc(fd, SPANHEAP_KIND_DATA, 60000, &h));
	ASSERT_EQ(0, shp_gc(fd, 0, NULL));		/* all garbage */
	ASSERT_EQ(0, shp_alloc(fd, SPANHEAP_KIND_DATA, 60000, &h));
	p.mem_limit = 64 << 20;
	p.gc_percent = 100;
	ASSERT_EQ(0, shp_set_params(fd, &p));
}

struct thr {
	int id;
	bool ok;
};

static void *hammer(void *arg)
{
	struct thr *t = arg;
	char in[64], out[64];
	uint64_t h;
	int i;

	t->ok = true;
	for (i = 0; i < 500 && t->ok; i++) {
		memset(in, t->id * 31 + i, sizeof(in));
		/* Born rooted: another thread's collection may run any time. */
		if (shp_alloc_flags(fd, SPANHEAP_KIND_DATA, sizeof(in),
				    SPANHEAP_ALLOC_ROOTED, &h) ||
		    shp_write(fd, h, 0, in, sizeof(in)) ||
		    (i % 50 == 0 && shp_gc(fd, 0, NULL)) ||
		    shp_read(fd, h, 0, out, sizeof(out)) || memcmp(in, out, sizeof(in)) ||
		    shp_unroot(fd, h, NULL))
			t->ok = false;
	}
	return NULL;
}

/* concurrent ioctls from four threads on one fd */
TEST_F_TIMEOUT(heap, threads, TEST_TIMEOUT_S)
{
	pthread_t th[4];
	struct thr t[4];
	int i;

	for (i = 0; i < 4; i++) {
		t[i].id = i;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, hammer, &t[i]));
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 4; i++)
		ASSERT_TRUE(t[i].ok);
}

/* close while the worker delivers events */
TEST_F_TIMEOUT(heap, close_while_delivering, TEST_TIMEOUT_S)
{
	int i, round;

	for (round = 0; round < 3; round++) {
		int f = shp_open(0);
		uint64_t h;

		ASSERT_LE(0, f);
		for (i = 0; i < 3000; i++) {
			struct spanheap_finalizer a = { .size = sizeof(a), .token = i };

			ASSERT_EQ(0, shp_alloc(f, SPANHEAP_KIND_REF, 1, &h));
			a.handle = h;
			ASSERT_EQ(0, shp_ioctl(f, SPANHEAP_IOC_FINALIZER, &a));
		}
		ASSERT_EQ(0, shp_gc(f, 0, NULL));	/* the worker starts delivering */
		close(f);			/* ...and the file goes away */
	}
}

/* fork shares the heap; another open cannot see it */
TEST_F_TIMEOUT(heap, fork_and_isolation, TEST_TIMEOUT_S)
{
	uint64_t h = obj(SPANHEAP_KIND_DATA, 8);
	int status;
	pid_t pid;

	ASSERT_NE(0ULL, h);
	ASSERT_EQ(0, shp_root(fd, h, NULL));
	ASSERT_EQ(0, shp_write(fd, h, 0, "parent", 6));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char buf[6];
		int own = shp_open(0);

		/* The inherited fd is the same heap; a new open is another one. */
		_exit(shp_read(fd, h, 0, buf, 6) || memcmp(buf, "parent", 6) ||
		      own < 0 || shp_read(own, h, 0, buf, 6) != -EINVAL);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(0, shp_unroot(fd, h, NULL));
}

/* rmmod refused while a file is open */
TEST_F_TIMEOUT(heap, rmmod_refused, TEST_TIMEOUT_S)
{
	int ret = syscall(SYS_delete_module, "spanheap", O_NONBLOCK);

	ASSERT_EQ(-1, ret);
	ASSERT_TRUE(errno == EWOULDBLOCK || errno == EBUSY);
	ASSERT_EQ(0, access("/dev/spanheap", F_OK));
}

/* no kernel address in stats */
TEST_F_TIMEOUT(heap, stats_have_no_addresses, TEST_TIMEOUT_S)
{
	struct spanheap_stats_v1 st;
	uint64_t *w = (uint64_t *)&st;
	size_t i;

	ASSERT_TRUE(stats_v1(&st));
	for (i = 1; i < sizeof(st) / 8; i++)
		ASSERT_TRUE(w[i] < 0xffff800000000000ULL);
}

/* ---- issue 7: paced heaps, racing readers, read-only structs, ABI edges ---- */


static bool deadline_passed(const struct timespec *dl)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > dl->tv_sec ||
	       (now.tv_sec == dl->tv_sec && now.tv_nsec >= dl->tv_nsec);
}

static struct timespec deadline_in(int seconds, clockid_t clk)
{
	struct timespec t;

	clock_gettime(clk, &t);
	t.tv_sec += seconds;
	return t;
}

static void pause_ms(long ms)
{
	struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	nanosleep(&t, NULL);
}

/* Byte @i of an object filled with @seed. */
static char pat(uint64_t seed, size_t i)
{
	return (char)(seed * 131 + i * 7 + (i >> 9));
}

static int data_put(int f, uint64_t h, size_t len, uint64_t seed)
{
	char *b = malloc(len);
	size_t i;
	int r;

	if (!b)
		return -ENOMEM;
	for (i = 0; i < len; i++)
		b[i] = pat(seed, i);
	r = shp_write(f, h, 0, b, len);
	free(b);
	return r;
}

/* 0: the object holds its pattern; 1: it does not; else the READ error. */
static int data_check(int f, uint64_t h, size_t len, uint64_t seed)
{
	char *b = malloc(len);
	size_t i;
	int r;

	if (!b)
		return -ENOMEM;
	r = shp_read(f, h, 0, b, len);
	for (i = 0; !r && i < len; i++)
		if (b[i] != pat(seed, i))
			r = 1;
	free(b);
	return r;
}


/*
 * Allocate unrooted garbage of every size class (up to > 128 KiB) until
 * @cycles more paced cycles have completed; false if they do not within
 * @max_mib MiB.  -ENOMEM (the cap, a cycle is queued) is retried.
 */
static bool pressure(struct __test_metadata *_metadata, int f, unsigned int cycles, unsigned int max_mib)
{
	static const uint64_t sizes[] = { 64, 1000, 16384, 40000, 200000, 700, 8192 };
	uint64_t c0 = collections_of(f), h, bytes = 0;
	unsigned int i = 0;
	int r;

	while (collections_of(f) < c0 + cycles) {
		if (bytes > (uint64_t)max_mib << 20) {
			TH_LOG("%s: %u paced cycles not done after %u MiB (%llu -> %llu)",
				 __func__, cycles, max_mib, (unsigned long long)c0,
				 (unsigned long long)collections_of(f));
			return false;
		}
		for (r = 0; r < 8; r++, i++) {
			int ret = shp_alloc(f, SPANHEAP_KIND_DATA,
					    sizes[i % ARRAY_SIZE(sizes)], &h);

			if (ret && ret != -ENOMEM) {
				TH_LOG("%s: alloc %d", __func__, ret);
				return false;
			}
			bytes += sizes[i % ARRAY_SIZE(sizes)];
		}
	}
	return true;
}

/*
 * Defect 1: STORE of a large object a paced cycle found dead.  The STORE's
 * lookup used to sweep the span, release it and still call the object
 * live, leaving a dangling pointer in R[0].  Now -ESTALE, every time, for
 * each variant's size.
 */
TEST_F_TIMEOUT(store_dead, after_paced_cycle, TEST_TIMEOUT_S)
{
	uint64_t r, d, v, h, c0, len = variant->len;
	int i, j, ret, tries = variant->tries, stored = 0, badload = 0, written = 0;

	ASSERT_EQ(0, shp_alloc_flags(fd, SPANHEAP_KIND_REF, 1, SPANHEAP_ALLOC_ROOTED, &r));
	for (i = 0; i < tries; i++) {
		/* -ENOMEM: the cap is reached and a cycle queued; retry after it. */
		for (j = 0; (ret = shp_alloc(fd, SPANHEAP_KIND_DATA, len, &d)) == -ENOMEM; j++) {
			ASSERT_LT(j, 5000);
			pause_ms(1);
		}
		ASSERT_EQ(0, ret);
		/* Read after D exists: the cycle that moves it on marks without D. */
		c0 = collections_of(fd);
		for (j = 0; collections_of(fd) == c0; j += 4) {
			int k;

			ASSERT_LT(j, 8192);	/* 128 MiB of garbage and no paced cycle */
			for (k = 0; k < 4; k++) {
				ret = shp_alloc(fd, SPANHEAP_KIND_DATA, 16384, &h);
				ASSERT_TRUE(!ret || ret == -ENOMEM);
			}
		}
		ret = shp_store(fd, r, 0, d);
		ASSERT_TRUE(!ret || ret == -ESTALE);
		stored += !ret;
		ASSERT_EQ(0, shp_load(fd, r, 0, &v));
		badload += ret ? v != 0 : v != d;
		if (!ret)
			ASSERT_EQ(0, shp_store(fd, r, 0, 0));
		ret = shp_write(fd, d, 0, "x", 1);
		ASSERT_TRUE(!ret || ret == -ESTALE);
		written += !ret;
	}
	ASSERT_TRUE(!stored && !badload && !written)
		TH_LOG("%d-byte D: %d of %d STOREs of a collected object succeeded, %d WRITEs, %d LOADs wrong",
		       (int)len, stored, tries, written, badload);
}

/*
 * Defect 2: with the queue full the worker re-arms a due finalizer; if the
 * user set a new one meanwhile, the old token must still be delivered
 * (past the cap, events_overcap), then the new one, each exactly once.
 */
#define RQ_N	512
/* queue full, finalizer set again while queued: every token exactly once (events_overcap) */
TEST_F_TIMEOUT(heap, requeue_overcap, TEST_TIMEOUT_S)
{
	struct spanheap_params p = { .flags = SPANHEAP_PARAM_EVENT_QUEUE, .event_queue_max = 1 };
	static uint64_t x[RQ_N];
	static unsigned char reset[RQ_N], seen1[RQ_N], seen2[RQ_N];
	struct spanheap_event ev[64];
	struct spanheap_stats_v1 st;
	int i, r, round, quiet, nreset = 0, seenp = 0, other = 0, bad = 0;
	ssize_t n;

	memset(reset, 0, sizeof(reset));
	memset(seen1, 0, sizeof(seen1));
	memset(seen2, 0, sizeof(seen2));
	ASSERT_EQ(0, shp_set_params(fd, &p));
	ASSERT_NE(0ULL, fin_obj(1));
	ASSERT_EQ(0, shp_gc(fd, SPANHEAP_GC_WAIT, NULL));
	ASSERT_TRUE(stats_v1(&st));
	ASSERT_EQ(1ULL, st.events_pending);	/* the queue is full */
	for (i = 0; i < RQ_N; i++) {
		x[i] = fin_obj(1000 + i);
		ASSERT_NE(0ULL, x[i]);
	}
	/*
	 * Each cycle queues every due finalizer; the worker, finding the
	 * queue full, re-arms them, last queued first, while we set new
	 * finalizers on the ones it has not reached yet (-EEXIST: it had).
	 */
	for (round = 0; round < 8; round++) {
		ASSERT_EQ(0, shp_gc(fd, 0, NULL));
		for (i = 0; i < RQ_N; i++) {
			if (reset[i])
				continue;
			r = shp_set_finalizer(fd, x[i], 100000 + i);
			ASSERT_TRUE(!r || r == -EEXIST);
			if (!r) {
				reset[i] = 1;
				nreset++;
			}
		}
		ASSERT_EQ(0, shp_gc(fd, SPANHEAP_GC_WAIT, NULL));
	}
	ASSERT_TRUE(stats_v1(&st));
	TH_LOG("%d of %d finalizers set again while queued; events_overcap %llu, events_deferred %llu",
		 nreset, RQ_N, (unsigned long long)st.events_overcap,
		 (unsigned long long)st.events_deferred);
	ASSERT_TRUE(nreset > 0);		/* else the race was not produced */
	ASSERT_EQ((uint64_t)nreset, st.events_overcap);
	p.event_queue_max = 4096;
	ASSERT_EQ(0, shp_set_params(fd, &p));
	/* Drain: old tokens, then (a cycle after they are read) the new ones. */
	for (round = 0, quiet = 0; round < 20 && quiet < 2; round++) {
		int got = 0;

		while ((n = shp_events(fd, ev, 64)) > 0) {
			for (i = 0; i < n; i++) {
				uint64_t t = ev[i].token;

				if (t == 1)
					seenp++;
				else if (t >= 1000 && t < 1000 + RQ_N)
					seen1[t - 1000]++;
				else if (t >= 100000 && t < 100000 + RQ_N)
					seen2[t - 100000]++;
				else
					other++;
			}
			got += n;
		}
		ASSERT_EQ(0, n);
		ASSERT_EQ(0, shp_gc(fd, SPANHEAP_GC_WAIT, NULL));
		quiet = got ? 0 : quiet + 1;
	}
	for (i = 0; i < RQ_N; i++)
		if (seen1[i] != 1 || seen2[i] != reset[i])
			bad++;
	if (bad || seenp != 1 || other)
		TH_LOG("%d objects lost or doubled a token (first: old %d new %d, re-set %d), pending-event token seen %d, others %d",
			 bad, seen1[0], seen2[0], reset[0], seenp, other);
	ASSERT_TRUE(!bad);
	ASSERT_EQ(1, seenp);
	ASSERT_TRUE(!other);
	ASSERT_TRUE(stats_v1(&st));
	ASSERT_EQ(0ULL, st.finalizers_set);
	ASSERT_EQ(0ULL, st.events_pending);
}

/* ---- defect 6: read() racing for one event ---- */

/*
 * Two reader threads park spinning until the main thread releases a
 * round, then each calls read() for one record after a random short
 * delay, so that over many rounds their calls overlap in every way.
 * One event is pending: one reader gets it; the other blocks (or gets
 * -EAGAIN with O_NONBLOCK); neither may see 0.
 */
#define RD_ROUNDS	LOOPS(400)

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int go;		/* round released; RD_QUIT: exit */
	int total, zero, err, last_err;
	unsigned char seen[2 * RD_ROUNDS + 1];
} rd = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

#define RD_QUIT		(~0U)

struct reader {
	pthread_t th;
	int fd;
	unsigned int seed;
	pid_t tid;
	unsigned int done;		/* last round whose read() returned */
};

static void *reader_fn(void *arg)
{
	struct reader *r = arg;
	struct spanheap_event ev;
	unsigned int round = 0, k;
	ssize_t n;
	int err;

	__atomic_store_n(&r->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	for (;;) {
		while (__atomic_load_n(&rd.go, __ATOMIC_ACQUIRE) == round)
			sched_yield();
		round = __atomic_load_n(&rd.go, __ATOMIC_ACQUIRE);
		if (round == RD_QUIT)
			return NULL;
		for (k = rand_r(&r->seed) % 512; k; k--)
			asm volatile("" ::: "memory");
		n = read(r->fd, &ev, sizeof(ev));
		err = n < 0 ? errno : 0;
		pthread_mutex_lock(&rd.lock);
		if (n == (ssize_t)sizeof(ev)) {
			rd.total++;
			if (ev.token <= 2 * RD_ROUNDS)
				rd.seen[ev.token]++;
		} else if (n == 0) {
			rd.zero++;
		} else if (err != EAGAIN) {
			rd.err++;
			rd.last_err = err;
		}
		__atomic_store_n(&r->done, round, __ATOMIC_RELEASE);
		pthread_cond_broadcast(&rd.cond);
		pthread_mutex_unlock(&rd.lock);
	}
}

/* Is thread @tid asleep inside read()? */
static bool in_read(pid_t tid)
{
	char path[64], buf[128];
	int f, n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return false;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0 || buf[0] < '0' || buf[0] > '9')
		return false;		/* "running" */
	buf[n] = 0;
	return strtol(buf, NULL, 10) == SYS_read;
}

/* Run @th on CPU @i modulo the CPUs online, so that racing threads overlap. */
static void pin(pthread_t th, int i)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	if (n < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(i % n, &set);
	pthread_setaffinity_np(th, sizeof(set), &set);
}

/* Events @first.. @first + @n - 1 on file @f: finalizable garbage, one cycle. */
static bool emit_events(int f, uint64_t first, int n)
{
	uint64_t h;
	int i;

	for (i = 0; i < n; i++)
		if (shp_alloc(f, SPANHEAP_KIND_REF, 1, &h) ||
		    shp_set_finalizer(f, h, first + i))
			return false;
	return !shp_gc(f, SPANHEAP_GC_WAIT, NULL);
}

/* Wait (bounded) until reader @r has returned from round @round's read(). */
static bool wait_done(struct __test_metadata *_metadata, struct reader *r, unsigned int round)
{
	struct timespec dl = deadline_in(20, CLOCK_REALTIME);

	pthread_mutex_lock(&rd.lock);
	while (__atomic_load_n(&r->done, __ATOMIC_ACQUIRE) != round &&
	       pthread_cond_timedwait(&rd.cond, &rd.lock, &dl) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&rd.lock);
	if (__atomic_load_n(&r->done, __ATOMIC_ACQUIRE) == round)
		return true;
	TH_LOG("round %u: a reader's read() did not return", round);
	return false;
}

/* Wait until one of @r has returned from round @round; its index or -1. */
static int wait_first(struct __test_metadata *_metadata, struct reader *r, unsigned int round)
{
	struct timespec dl = deadline_in(20, CLOCK_REALTIME);
	int i = -1;

	pthread_mutex_lock(&rd.lock);
	for (;;) {
		if (__atomic_load_n(&r[0].done, __ATOMIC_ACQUIRE) == round)
			i = 0;
		else if (__atomic_load_n(&r[1].done, __ATOMIC_ACQUIRE) == round)
			i = 1;
		if (i >= 0 || pthread_cond_timedwait(&rd.cond, &rd.lock, &dl) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&rd.lock);
	if (i < 0)
		TH_LOG("round %u: no reader got the event", round);
	return i;
}

/* Until reader @r is asleep in read() or has returned from @round. */
static bool wait_blocked_or_done(struct __test_metadata *_metadata, struct reader *r, unsigned int round)
{
	struct timespec dl = deadline_in(20, CLOCK_MONOTONIC);

	while (__atomic_load_n(&r->done, __ATOMIC_ACQUIRE) != round &&
	       !in_read(__atomic_load_n(&r->tid, __ATOMIC_ACQUIRE))) {
		if (deadline_passed(&dl)) {
			TH_LOG("round %u: the other reader neither blocks nor returns", round);
			return false;
		}
		pause_ms(1);
	}
	return true;
}

static bool rd_clean(struct __test_metadata *_metadata, int round)
{
	bool ok;

	pthread_mutex_lock(&rd.lock);
	ok = !rd.zero && !rd.err;
	if (!ok)
		TH_LOG("round %d: read() returned 0 %d times, failed %d times (%s)",
			 round, rd.zero, rd.err, strerror(rd.last_err));
	pthread_mutex_unlock(&rd.lock);
	return ok;
}

static int readers_start(struct reader *r, int f)
{
	int i;

	pthread_mutex_lock(&rd.lock);
	rd.go = 0;
	rd.total = rd.zero = rd.err = rd.last_err = 0;
	memset(rd.seen, 0, sizeof(rd.seen));
	pthread_mutex_unlock(&rd.lock);
	for (i = 0; i < 2; i++) {
		r[i].fd = f;
		r[i].seed = i + 1;
		if (pthread_create(&r[i].th, NULL, reader_fn, &r[i]))
			break;
		pin(r[i].th, i);
	}
	return i;
}

/* Stop the readers; a reader still in read() gets one more event. */
static bool readers_stop(struct __test_metadata *_metadata, struct reader *r, int started, int f)
{
	struct timespec dl;
	int i;

	__atomic_store_n(&rd.go, RD_QUIT, __ATOMIC_RELEASE);
	for (i = 0; i < started; i++) {
		dl = deadline_in(20, CLOCK_REALTIME);
		if (pthread_timedjoin_np(r[i].th, NULL, &dl)) {
			emit_events(f, 1ULL << 40, 1);
			dl = deadline_in(20, CLOCK_REALTIME);
			if (pthread_timedjoin_np(r[i].th, NULL, &dl)) {
				TH_LOG("reader %d did not exit", i);
				return false;
			}
		}
	}
	return true;
}

static bool rd_tokens(struct __test_metadata *_metadata, int n)
{
	int i, bad = 0;

	for (i = 1; i <= n; i++)
		bad += rd.seen[i] != 1;
	if (bad || rd.total != n)
		TH_LOG("%d events read for %d, %d tokens not seen exactly once",
			 rd.total, n, bad);
	return !bad && rd.total == n;
}

/*
 * One pending event, two readers whose buffer faults: a read takes the
 * event and gives it back (-EFAULT), or finds it taken (-EAGAIN, or on
 * a blocking file it waits and is woken when it is given back).  Never
 * 0; afterwards the event is read once, whole.
 */
struct badreader {
	pthread_t th;
	int fd, efault, eagain, zero, other, last;
};

static char *bad_buf;

static void *bad_reader_fn(void *arg)
{
	struct badreader *b = arg;
	ssize_t n;
	int i;

	for (i = 0; i < 5000; i++) {
		n = read(b->fd, bad_buf, sizeof(struct spanheap_event));
		if (n == 0)
			b->zero++;
		else if (n < 0 && errno == EFAULT)
			b->efault++;
		else if (n < 0 && errno == EAGAIN)
			b->eagain++;
		else
			b->other++, b->last = n < 0 ? -errno : (int)n;
	}
	return NULL;
}

static void putback_race(struct __test_metadata *_metadata, int f)
{
	struct pollfd pf = { .fd = f, .events = POLLIN };
	struct badreader b[2] = { { .fd = f }, { .fd = f } };
	struct spanheap_event ev;
	struct timespec dl;
	int i, started;
	bool ok = true;

	if (!bad_buf) {
		bad_buf = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_TRUE(bad_buf != MAP_FAILED);
	}
	ASSERT_TRUE(emit_events(f, 77, 1));
	for (started = 0; started < 2; started++) {
		if (pthread_create(&b[started].th, NULL, bad_reader_fn, &b[started]))
			break;
		pin(b[started].th, started);
	}
	for (i = 0; i < started; i++) {
		dl = deadline_in(30, CLOCK_REALTIME);
		if (pthread_timedjoin_np(b[i].th, NULL, &dl)) {
			TH_LOG("a reader sleeps although the event is pending");
			/* The queue is not empty: wake it with another event. */
			emit_events(f, 78, 1);
			pthread_join(b[i].th, NULL);
			ok = false;
		}
	}
	for (i = 0; i < started; i++) {
		if (b[i].zero || b[i].other)
			TH_LOG("bad buffer: read() returned 0 %d times, %d other results (last %d); %d -EFAULT, %d -EAGAIN",
				 b[i].zero, b[i].other, b[i].last, b[i].efault, b[i].eagain);
		ok = ok && !b[i].zero && !b[i].other;
	}
	ASSERT_EQ(2, started);
	ASSERT_TRUE(ok);
	ASSERT_TRUE(b[0].efault + b[1].efault > 0);
	ASSERT_EQ((ssize_t)sizeof(ev), read(f, &ev, sizeof(ev)));
	ASSERT_EQ(77ULL, ev.token);
	ASSERT_EQ(0, poll(&pf, 1, 0));			/* given back, not copied */
}

/*
 * Two readers, one event: one gets it, the other blocks until the next
 * (it used to return 0); faulting buffers: never 0.
 */
TEST_F_TIMEOUT(heap, read_race_blocking, TEST_TIMEOUT_S)
{
	struct spanheap_params p = { .flags = SPANHEAP_PARAM_GC_PERCENT, .gc_percent = -1 };
	struct reader r[2] = { { 0 } };
	int bfd = shp_open(0), started, w;
	unsigned int k;
	bool ok;

	ASSERT_LE(0, bfd);
	ASSERT_EQ(0, shp_set_params(bfd, &p));
	started = readers_start(r, bfd);
	ok = started == 2;
	for (k = 1; ok && k <= RD_ROUNDS; k++) {
		ok = emit_events(bfd, 2 * k - 1, 1);
		__atomic_store_n(&rd.go, k, __ATOMIC_RELEASE);
		w = ok ? wait_first(_metadata, r, k) : -1;
		ok = w >= 0 && wait_blocked_or_done(_metadata, &r[!w], k) &&
		     emit_events(bfd, 2 * k, 1) && wait_done(_metadata, &r[!w], k) &&
		     rd_clean(_metadata, k);
	}
	ok = ok && rd_tokens(_metadata, 2 * RD_ROUNDS);
	ASSERT_TRUE(readers_stop(_metadata, r, started, bfd));
	ASSERT_TRUE(ok);
	putback_race(_metadata, bfd);
	close(bfd);
}

/*
 * O_NONBLOCK readers racing: a record or -EAGAIN (it used to be 0), never
 * 0; faulting buffers: -EFAULT or -EAGAIN.
 */
TEST_F_TIMEOUT(heap, read_race_nonblock, TEST_TIMEOUT_S)
{
	struct spanheap_params p = { .flags = SPANHEAP_PARAM_GC_PERCENT, .gc_percent = -1 };
	struct reader r[2] = { { 0 } };
	unsigned int k;
	int started;
	bool ok;

	ASSERT_EQ(0, shp_set_params(fd, &p));
	started = readers_start(r, fd);
	ok = started == 2;
	for (k = 1; ok && k <= RD_ROUNDS; k++) {
		ok = emit_events(fd, k, 1);
		__atomic_store_n(&rd.go, k, __ATOMIC_RELEASE);
		ok = ok && wait_done(_metadata, &r[0], k) && wait_done(_metadata, &r[1], k) &&
		     rd_clean(_metadata, k);
	}
	ok = ok && rd_tokens(_metadata, RD_ROUNDS);
	ASSERT_TRUE(readers_stop(_metadata, r, started, fd));
	ASSERT_TRUE(ok);
	putback_race(_metadata, fd);
}

/* ---- defect 7: argument structs that cannot be written back ---- */

static char *ro_page;

/* Run @cmd with its struct copied into a read-only page. */
static int ro_ioctl(unsigned long cmd, const void *arg, size_t len)
{
	int r;

	memcpy(ro_page, arg, len);
	if (mprotect(ro_page, 4096, PROT_READ))
		return -ENOTRECOVERABLE;
	r = shp_ioctl(fd, cmd, ro_page);
	mprotect(ro_page, 4096, PROT_READ | PROT_WRITE);
	return r;
}

#define RO(cmd, s)	ro_ioctl(cmd, &(s), sizeof(s))
/* STATS again: @field is as it was. */
#define SAME(field) do {						\
	ASSERT_TRUE(stats_v1(&now));					\
	ASSERT_EQ(before.field, now.field);				\
	} while (0)

/* read-only argument structs: -EFAULT and nothing changed, every command */
TEST_F_TIMEOUT(heap, readonly_args, TEST_TIMEOUT_S)
{
	struct spanheap_alloc a = { .size = sizeof(a), .kind = SPANHEAP_KIND_DATA, .length = 64 };
	struct spanheap_root rt = { .size = sizeof(rt) };
	struct spanheap_finalizer fz = { .size = sizeof(fz), .token = 9 };
	struct spanheap_gc g = { .size = sizeof(g), .flags = SPANHEAP_GC_WAIT };
	struct spanheap_params p = {
		.size = sizeof(p), .gc_percent = 50, .event_queue_max = 7,
		.mem_limit = 2 << 20, .flags = SPANHEAP_PARAM_GC_PERCENT |
		SPANHEAP_PARAM_MEM_LIMIT | SPANHEAP_PARAM_EVENT_QUEUE,
	};
	struct spanheap_ref ref = { .size = sizeof(ref) };
	struct spanheap_rw rw = { .size = sizeof(rw), .length = 8, .buf = (uintptr_t)"ABCDEFGH" };
	struct spanheap_stats_v1 before, now;
	uint64_t h, r, gb = obj(SPANHEAP_KIND_DATA, 8), c, v;
	char buf[8];

	if (!ro_page) {
		ro_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_TRUE(ro_page != MAP_FAILED);
	}
	ASSERT_NE(0ULL, gb);
	ASSERT_EQ(0, shp_alloc_flags(fd, SPANHEAP_KIND_DATA, 8, SPANHEAP_ALLOC_ROOTED, &h));
	ASSERT_EQ(0, shp_alloc_flags(fd, SPANHEAP_KIND_REF, 1, SPANHEAP_ALLOC_ROOTED, &r));
	ASSERT_TRUE(stats_v1(&before));

	ASSERT_EQ(-EFAULT, RO(SPANHEAP_IOC_GC, g));
	SAME(collections);
	ASSERT_EQ(0, shp_read(fd, gb, 0, buf, 1));		/* no cycle ran */

	ASSERT_EQ(-EFAULT, RO(SPANHEAP_IOC_ALLOC, a));
	SAME(objects);
	a.flags = SPANHEAP_ALLOC_ROOTED;
	ASSERT_EQ(-EFAULT, RO(SPANHEAP_IOC_ALLOC, a));
	SAME(objects);
	SAME(roots);

	rt.handle = h;
	ASSERT_EQ(-EFAULT, RO(SPANHEAP_IOC_ROOT, rt));
	SAME(roots);
	ASSERT_EQ(-EFAULT, RO(SPANHEAP_IOC_UNROOT, rt));
	SAME(roots);
	ASSERT_EQ(0, shp_gc(fd, 0, NULL));
	ASSERT_EQ(0, shp_read(fd, h, 0, buf, 1));		/* still rooted */
	ASSERT_EQ(0, shp_root(fd, h, &c));
	ASSERT_EQ(2ULL, c);		/* exactly once */
	ASSERT_EQ(0, shp_unroot(fd, h, &c));
	ASSERT_EQ(1ULL, c);

	fz.handle = h;
	ASSERT_EQ(-EFAULT, RO(SPANHEAP_IOC_FINALIZER, fz));
	SAME(finalizers_set);
	ASSERT_EQ(0, shp_set_finalizer(fd, h, 9));		/* not -EEXIST */
	ASSERT_TRUE(stats_v1(&before));
	fz.flags = SPANHEAP_FIN_CLEAR;
	fz.token = 0;
	ASSERT_EQ(-EFAULT, RO(SPANHEAP_IOC_FINALIZER, fz));
	SAME(finalizers_set);
	ASSERT_EQ(-EEXIST, shp_set_finalizer(fd, h, 10));

	ASSERT_EQ(-EFAULT, RO(SPANHEAP_IOC_SET_PARAMS, p));
	SAME(gc_percent);
	SAME(mem_limit);
	SAME(event_queue_max);

	rw.handle = h;
	ASSERT_EQ(-EFAULT, RO(SPANHEAP_IOC_WRITE, rw));
	ASSERT_EQ(0, shp_read(fd, h, 0, buf, 8));
	ASSERT_EQ(0, memcmp(buf, "\0\0\0\0\0\0\0\0", 8));	/* nothing written */
	rw.buf = (uintptr_t)buf;
	ASSERT_EQ(-EFAULT, RO(SPANHEAP_IOC_READ, rw));

	ref.handle = r;
	ref.value = h;
	ASSERT_EQ(-EFAULT, RO(SPANHEAP_IOC_STORE, ref));
	ASSERT_EQ(0, shp_load(fd, r, 0, &v));
	ASSERT_EQ(0ULL, v);	/* nothing stored */
	ref.value = 0;
	ASSERT_EQ(-EFAULT, RO(SPANHEAP_IOC_LOAD, ref));
	now.size = sizeof(now);
	ASSERT_EQ(-EFAULT, RO(SPANHEAP_IOC_STATS, now));

	/* No rooted object nobody can name was left behind. */
	ASSERT_EQ(0, shp_gc(fd, 0, NULL));
	ASSERT_TRUE(stats_v1(&now));
	ASSERT_EQ(2ULL, now.objects);
	ASSERT_EQ(2ULL, now.roots);
}

/*
 * A struct or batch array that straddles a writable page and a read-only
 * one is as unwritable as a read-only one: -EFAULT before anything runs,
 * whichever page is the read-only one (writability is checked per page).
 */
TEST_F_TIMEOUT(heap, readonly_second_page, TEST_TIMEOUT_S)
{
	struct spanheap_alloc a = { .size = sizeof(a), .kind = SPANHEAP_KIND_DATA,
				    .length = 8, .flags = SPANHEAP_ALLOC_ROOTED };
	struct spanheap_batch b = { .size = sizeof(b), .count = 4 };
	struct spanheap_stats_v1 before, now;
	struct spanheap_op ops[4];
	size_t back;
	char *m, *p;
	int ro, i;

	m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(m != MAP_FAILED);
	for (i = 0; i < 4; i++)
		shp_op_alloc(&ops[i], SPANHEAP_KIND_DATA, 8, SPANHEAP_ALLOC_ROOTED);
	b.op_size = sizeof(ops[0]);
	ASSERT_TRUE(stats_v1(&before));
	for (ro = 0; ro < 2; ro++) {
		for (back = 1; back < sizeof(a); back += 7) {
			p = m + 4096 - back;
			memcpy(p, &a, sizeof(a));
			ASSERT_EQ(0, mprotect(m + ro * 4096, 4096, PROT_READ));
			ASSERT_EQ(-EFAULT, shp_ioctl(fd, SPANHEAP_IOC_ALLOC, p))
				TH_LOG("ALLOC, %zu bytes before page %d", back, ro);
			ASSERT_EQ(0, mprotect(m + ro * 4096, 4096, PROT_READ | PROT_WRITE));
		}
		for (back = 8; back < sizeof(ops); back += 40) {
			p = m + 4096 - back;
			memcpy(p, ops, sizeof(ops));
			b.ops = (uintptr_t)p;
			ASSERT_EQ(0, mprotect(m + ro * 4096, 4096, PROT_READ));
			ASSERT_EQ(-EFAULT, shp_ioctl(fd, SPANHEAP_IOC_BATCH, &b))
				TH_LOG("BATCH, %zu bytes before page %d", back, ro);
			ASSERT_EQ(0, mprotect(m + ro * 4096, 4096, PROT_READ | PROT_WRITE));
		}
	}
	ASSERT_TRUE(stats_v1(&now));
	ASSERT_EQ(before.objects, now.objects);		/* nothing ran */
	ASSERT_EQ(before.roots, now.roots);
	/* Both pages writable: the same calls succeed. */
	p = m + 4096 - 13;
	memcpy(p, &a, sizeof(a));
	ASSERT_EQ(0, shp_ioctl(fd, SPANHEAP_IOC_ALLOC, p));
	ASSERT_NE(0ULL, ((struct spanheap_alloc *)p)->handle);
	p = m + 4096 - 100;
	memcpy(p, ops, sizeof(ops));
	b.ops = (uintptr_t)p;
	ASSERT_EQ(0, shp_ioctl(fd, SPANHEAP_IOC_BATCH, &b));
	ASSERT_EQ(4U, b.done);
	munmap(m, 8192);
}

/* ---- cleanups and weak handles ---- */

/* cleanups: an event per cleanup, once, token only; STOP cancels */
TEST_F_TIMEOUT(heap, cleanup_events, TEST_TIMEOUT_S)
{
	uint64_t h = obj(SPANHEAP_KIND_DATA, 8), k = obj(SPANHEAP_KIND_REF, 1);
	uint64_t id1 = 0, id2 = 0, id3 = 0, t[8];
	struct spanheap_stats_v1 st;

	ASSERT_NE(0ULL, h);
	ASSERT_NE(0ULL, k);
	ASSERT_EQ(0, shp_root(fd, k, NULL));
	ASSERT_EQ(0, shp_add_cleanup(fd, h, 11, &id1));
	ASSERT_EQ(0, shp_add_cleanup(fd, h, 12, &id2));
	ASSERT_EQ(0, shp_add_cleanup(fd, h, 13, &id3));
	ASSERT_LT(0ULL, id1);
	ASSERT_NE(id1, id2);
	ASSERT_EQ(0, shp_add_cleanup(fd, k, 14, NULL));	/* rooted: stays */
	ASSERT_EQ(0, shp_stop_cleanup(fd, h, id3));
	ASSERT_EQ(-ENOENT, shp_stop_cleanup(fd, h, id3));
	ASSERT_TRUE(stats_v1(&st));
	ASSERT_EQ(3ULL, st.cleanups_set);
	ASSERT_EQ(2, gc_events_of(SPANHEAP_EVENT_CLEANUP, t, 8));
	ASSERT_EQ(23ULL, t[0] + t[1]);			/* 11 and 12, any order */
	ASSERT_EQ(0, shp_load(fd, k, 0, &t[2]));
	ASSERT_EQ(-ESTALE, shp_root(fd, h, NULL));
	ASSERT_EQ(-ENOENT, shp_stop_cleanup(fd, h, id1));	/* ran: too late */
	ASSERT_EQ(0, gc_events_of(SPANHEAP_EVENT_CLEANUP, t, 8));	/* once */
	ASSERT_TRUE(stats_v1(&st));
	ASSERT_EQ(1ULL, st.cleanups_set);
	ASSERT_EQ(2ULL, st.cleanups_run);
	ASSERT_EQ(0ULL, st.cleanups_queued);
	ASSERT_EQ(0, shp_unroot(fd, k, NULL));
	ASSERT_EQ(1, gc_events_of(SPANHEAP_EVENT_CLEANUP, t, 8));
	ASSERT_EQ(14ULL, t[0]);
}

/* a cycle of objects with cleanups is collected; tokens keep nothing */
TEST_F_TIMEOUT(heap, cleanup_cycle, TEST_TIMEOUT_S)
{
	uint64_t a = obj(SPANHEAP_KIND_REF, 1), b = obj(SPANHEAP_KIND_REF, 1), t[8];

	ASSERT_NE(0ULL, a);
	ASSERT_NE(0ULL, b);
	ASSERT_EQ(0, shp_store(fd, a, 0, b));
	ASSERT_EQ(0, shp_store(fd, b, 0, a));
	ASSERT_EQ(0, shp_add_cleanup(fd, a, b, NULL));	/* a token that is a handle */
	ASSERT_EQ(0, shp_add_cleanup(fd, b, a, NULL));
	ASSERT_EQ(2, gc_events_of(SPANHEAP_EVENT_CLEANUP, t, 8));
	ASSERT_EQ(a + b, t[0] + t[1]);
	ASSERT_EQ(-ESTALE, shp_root(fd, a, NULL));
	ASSERT_EQ(-ESTALE, shp_root(fd, b, NULL));
}

/* cleanup arguments that are wrong: -EINVAL/-ENOENT/-ESTALE, nothing changed */
TEST_F_TIMEOUT(heap, cleanup_errors, TEST_TIMEOUT_S)
{
	uint64_t h = obj(SPANHEAP_KIND_DATA, 8), h2 = obj(SPANHEAP_KIND_DATA, 8);
	uint64_t dead = obj(SPANHEAP_KIND_DATA, 8), id = 0, w = 0, oh = 0, t[4];
	struct spanheap_cleanup c = { .size = sizeof(c) };
	struct spanheap_stats_v1 before, now;
	int other = shp_open(0);

	ASSERT_NE(0ULL, h);
	ASSERT_NE(0ULL, h2);
	ASSERT_NE(0ULL, dead);
	ASSERT_LE(0, other);
	ASSERT_EQ(0, shp_alloc(other, SPANHEAP_KIND_DATA, 8, &oh));
	ASSERT_EQ(0, shp_root(fd, h, NULL));
	ASSERT_EQ(0, shp_root(fd, h2, NULL));
	ASSERT_EQ(0, shp_gc(fd, 0, NULL));			/* dead is collected */
	ASSERT_EQ(-ESTALE, shp_root(fd, dead, NULL));	/* its entry goes now */
	ASSERT_EQ(0, shp_add_cleanup(fd, h, 1, &id));
	ASSERT_EQ(0, shp_weak_make(fd, h, &w, NULL));
	ASSERT_TRUE(stats_v1(&before));
	c.handle = h;
	c.flags = 1;
	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_CLEANUP, &c));
	c.flags = 0;
	c.id = 5;					/* out field */
	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_CLEANUP, &c));
	c.id = id;
	c.token = 1;					/* STOP takes no token */
	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_CLEANUP_STOP, &c));
	c.token = 0;
	c.flags = 0x80;
	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_CLEANUP_STOP, &c));
	ASSERT_EQ(-EINVAL, shp_add_cleanup(fd, w, 1, NULL));	/* weak handle */
	ASSERT_EQ(-EINVAL, shp_add_cleanup(fd, oh, 1, NULL));	/* other file's */
	ASSERT_EQ(-EINVAL, shp_add_cleanup(fd, 0, 1, NULL));
	ASSERT_EQ(-ENOENT, shp_add_cleanup(fd, h + 0xfffff, 1, NULL));
	ASSERT_EQ(-ESTALE, shp_add_cleanup(fd, dead, 1, NULL));
	ASSERT_EQ(-ENOENT, shp_stop_cleanup(fd, h2, id));	/* not h2's */
	ASSERT_EQ(-ENOENT, shp_stop_cleanup(fd, h, id + 100));
	ASSERT_EQ(-ENOENT, shp_stop_cleanup(fd, h, 0));
	ASSERT_EQ(-ENOENT, shp_stop_cleanup(fd, h, ~0ULL));
	ASSERT_EQ(-EINVAL, shp_stop_cleanup(fd, w, id));
	ASSERT_EQ(-EINVAL, shp_stop_cleanup(fd, oh, id));
	ASSERT_EQ(-ENOENT, shp_stop_cleanup(fd, dead, id));	/* collected */
	SAME(cleanups_set);
	SAME(objects);
	SAME(bytes_meta);
	ASSERT_EQ(0, gc_events_of(SPANHEAP_EVENT_CLEANUP, t, 4));
	ASSERT_EQ(0, shp_stop_cleanup(fd, h, id));		/* still armed */
	close(other);
}

/* weak handles: canonical, counted, bit 62; 0 after death; ROOT keeps */
TEST_F_TIMEOUT(heap, weak_handles, TEST_TIMEOUT_S)
{
	uint64_t h = 0, g = 0, w = 0, w2 = 0, wg = 0, c = 0, x = 0;
	struct spanheap_stats_v1 st;

	ASSERT_EQ(0, shp_alloc_flags(fd, SPANHEAP_KIND_DATA, 8, SPANHEAP_ALLOC_ROOTED, &h));
	ASSERT_EQ(0, shp_alloc_flags(fd, SPANHEAP_KIND_REF, 1, SPANHEAP_ALLOC_ROOTED, &g));
	ASSERT_EQ(0, shp_weak_make(fd, h, &w, &c));
	ASSERT_EQ(1ULL, c);
	ASSERT_EQ(1ULL, w >> 62);			/* bit 62, bit 63 clear */
	ASSERT_EQ(0, shp_weak_make(fd, h, &w2, &c));
	ASSERT_EQ(w, w2);
	ASSERT_EQ(2ULL, c);
	ASSERT_EQ(0, shp_weak_make(fd, g, &wg, NULL));
	ASSERT_NE(w, wg);
	ASSERT_EQ(0, shp_weak_get(fd, w, 0, &x, &c));
	ASSERT_EQ(h, x);
	ASSERT_EQ(2ULL, c);
	ASSERT_TRUE(stats_v1(&st));
	ASSERT_EQ(2ULL, st.weak_handles);
	ASSERT_EQ(2ULL, st.weak_live);
	/* GET with ROOT: a strong reference again, in one call. */
	ASSERT_EQ(0, shp_unroot(fd, g, NULL));
	ASSERT_EQ(0, shp_weak_get(fd, wg, SPANHEAP_WEAK_ROOT, &x, NULL));
	ASSERT_EQ(g, x);
	ASSERT_EQ(0, shp_gc(fd, 0, NULL));
	ASSERT_EQ(0, shp_unroot(fd, g, &c));		/* it was rooted once */
	ASSERT_EQ(0ULL, c);
	ASSERT_EQ(0, shp_gc(fd, 0, NULL));
	/* Dead: reads 0, even with ROOT; the handle itself stays valid. */
	ASSERT_EQ(0, shp_weak_get(fd, wg, SPANHEAP_WEAK_ROOT, &x, &c));
	ASSERT_EQ(0ULL, x);
	ASSERT_EQ(1ULL, c);
	ASSERT_TRUE(stats_v1(&st));
	ASSERT_EQ(2ULL, st.weak_handles);
	ASSERT_EQ(1ULL, st.weak_live);
	ASSERT_EQ(1ULL, st.roots);
	/* Dropped to 0: stale, and the next MAKE is a new handle. */
	ASSERT_EQ(0, shp_weak_drop(fd, w, &c));
	ASSERT_EQ(1ULL, c);
	ASSERT_EQ(0, shp_weak_drop(fd, w, &c));
	ASSERT_EQ(0ULL, c);
	ASSERT_EQ(-ESTALE, shp_weak_get(fd, w, 0, &x, NULL));
	ASSERT_EQ(-ESTALE, shp_weak_drop(fd, w, NULL));
	ASSERT_EQ(0, shp_weak_make(fd, h, &w2, &c));
	ASSERT_NE(w, w2);
	ASSERT_EQ(1ULL, c);
	ASSERT_EQ(0, shp_weak_drop(fd, wg, NULL));
}

/* a finalizer event resurrects the object, but its weak handle reads 0 */
TEST_F_TIMEOUT(heap, weak_and_resurrection, TEST_TIMEOUT_S)
{
	uint64_t a = fin_obj(7), w = 0, w2 = 0, x = 1;
	struct spanheap_event ev;

	ASSERT_NE(0ULL, a);
	ASSERT_EQ(0, shp_weak_make(fd, a, &w, NULL));
	ASSERT_EQ(0, shp_gc(fd, SPANHEAP_GC_WAIT, NULL));
	ASSERT_EQ(0, shp_weak_get(fd, w, 0, &x, NULL));
	ASSERT_EQ(0ULL, x);				/* found dead */
	ASSERT_EQ(0, shp_load(fd, a, 0, &x));		/* but alive: the event holds it */
	ASSERT_EQ(1, shp_events(fd, &ev, 1));
	ASSERT_EQ(a, ev.handle);
	ASSERT_EQ(0, shp_root(fd, a, NULL));		/* resurrected */
	ASSERT_EQ(0, shp_gc(fd, 0, NULL));
	ASSERT_EQ(0, shp_weak_get(fd, w, 0, &x, NULL));
	ASSERT_EQ(0ULL, x);				/* for good */
	ASSERT_EQ(0, shp_weak_make(fd, a, &w2, NULL));
	ASSERT_NE(w, w2);				/* a new one */
	ASSERT_EQ(0, shp_weak_get(fd, w2, 0, &x, NULL));
	ASSERT_EQ(a, x);
}

/* weak arguments that are wrong: -EINVAL/-ENOENT/-ESTALE, nothing changed */
TEST_F_TIMEOUT(heap, weak_errors, TEST_TIMEOUT_S)
{
	uint64_t h = 0, dead = obj(SPANHEAP_KIND_DATA, 8), w = 0, ow = 0, oh = 0, x = 0;
	struct spanheap_weakref r = { .size = sizeof(r) };
	struct spanheap_stats_v1 before, now;
	int other = shp_open(0);

	ASSERT_NE(0ULL, dead);
	ASSERT_LE(0, other);
	ASSERT_EQ(0, shp_alloc_flags(other, SPANHEAP_KIND_DATA, 8, SPANHEAP_ALLOC_ROOTED, &oh));
	ASSERT_EQ(0, shp_weak_make(other, oh, &ow, NULL));
	ASSERT_EQ(0, shp_alloc_flags(fd, SPANHEAP_KIND_DATA, 8, SPANHEAP_ALLOC_ROOTED, &h));
	ASSERT_EQ(0, shp_gc(fd, 0, NULL));			/* dead is collected */
	ASSERT_EQ(-ESTALE, shp_weak_make(fd, dead, &x, NULL));
	ASSERT_EQ(0, shp_weak_make(fd, h, &w, NULL));
	ASSERT_TRUE(stats_v1(&before));
	r.handle = h;
	r.flags = SPANHEAP_WEAK_ROOT;			/* GET's only */
	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_WEAK_MAKE, &r));
	r.flags = 0;
	r.weak = w;					/* out field */
	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_WEAK_MAKE, &r));
	r.weak = 0;
	r.count = 1;
	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_WEAK_MAKE, &r));
	r.count = 0;
	r.weak = w;					/* GET: handle is out */
	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_WEAK_GET, &r));
	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_WEAK_DROP, &r));
	r.handle = 0;
	r.flags = 2;
	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_WEAK_GET, &r));
	r.flags = SPANHEAP_WEAK_ROOT;
	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_WEAK_DROP, &r));
	ASSERT_EQ(-EINVAL, shp_weak_make(fd, w, &x, NULL));	/* weak as object */
	ASSERT_EQ(-EINVAL, shp_weak_make(fd, oh, &x, NULL));
	ASSERT_EQ(-EINVAL, shp_weak_get(fd, h, 0, &x, NULL));	/* object as weak */
	ASSERT_EQ(-EINVAL, shp_weak_drop(fd, h, NULL));
	ASSERT_EQ(-EINVAL, shp_weak_get(fd, ow, 0, &x, NULL));	/* other file's */
	ASSERT_EQ(-EINVAL, shp_weak_drop(fd, ow, NULL));
	ASSERT_EQ(-EINVAL, shp_weak_get(fd, 0, 0, &x, NULL));
	ASSERT_EQ(-EINVAL, shp_weak_get(fd, w | 1ULL << 63, 0, &x, NULL));
	ASSERT_EQ(-ENOENT, shp_weak_get(fd, w + 0xfffff, 0, &x, NULL));
	ASSERT_EQ(-EINVAL, shp_root(fd, w, NULL));		/* nowhere an object */
	ASSERT_EQ(-EINVAL, shp_read(fd, w, 0, &x, 1));
	ASSERT_EQ(-EINVAL, shp_set_finalizer(fd, w, 1));
	SAME(weak_handles);
	SAME(roots);
	SAME(bytes_meta);
	ASSERT_EQ(0, shp_weak_get(fd, w, 0, &x, NULL));
	ASSERT_EQ(h, x);
	close(other);
}

/* read-only structs of the new commands: -EFAULT, nothing changed */
TEST_F_TIMEOUT(heap, readonly_cleanup_weak, TEST_TIMEOUT_S)
{
	struct spanheap_cleanup c = { .size = sizeof(c), .token = 3 };
	struct spanheap_weakref r = { .size = sizeof(r) };
	struct spanheap_stats_v1 before, now;
	uint64_t h = 0, w = 0, id = 0, cnt = 0, x = 0;

	if (!ro_page) {
		ro_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_TRUE(ro_page != MAP_FAILED);
	}
	ASSERT_EQ(0, shp_alloc(fd, SPANHEAP_KIND_DATA, 8, &h));
	ASSERT_EQ(0, shp_root(fd, h, NULL));
	ASSERT_EQ(0, shp_add_cleanup(fd, h, 1, &id));
	ASSERT_EQ(0, shp_weak_make(fd, h, &w, NULL));
	ASSERT_TRUE(stats_v1(&before));
	c.handle = h;
	ASSERT_EQ(-EFAULT, RO(SPANHEAP_IOC_CLEANUP, c));
	SAME(cleanups_set);
	c.token = 0;
	c.id = id;
	ASSERT_EQ(-EFAULT, RO(SPANHEAP_IOC_CLEANUP_STOP, c));
	SAME(cleanups_set);
	r.handle = h;
	ASSERT_EQ(-EFAULT, RO(SPANHEAP_IOC_WEAK_MAKE, r));
	r.handle = 0;
	r.weak = w;
	r.flags = SPANHEAP_WEAK_ROOT;
	ASSERT_EQ(-EFAULT, RO(SPANHEAP_IOC_WEAK_GET, r));
	SAME(roots);
	r.flags = 0;
	ASSERT_EQ(-EFAULT, RO(SPANHEAP_IOC_WEAK_DROP, r));
	SAME(weak_handles);
	ASSERT_EQ(0, shp_weak_get(fd, w, 0, &x, &cnt));
	ASSERT_EQ(h, x);
	ASSERT_EQ(1ULL, cnt);				/* MAKE counted nothing */
	ASSERT_EQ(0, shp_stop_cleanup(fd, h, id));	/* still armed */
}

/* STATS from older userspace: version 1's size and command number */
TEST_F_TIMEOUT(heap, stats_v1_abi, TEST_TIMEOUT_S)
{
	const size_t v1 = offsetof(struct spanheap_stats_v1, cleanups_set);
	const unsigned long old_cmd = _IOC(_IOC_READ | _IOC_WRITE, SPANHEAP_IOC_MAGIC,
					   _IOC_NR(SPANHEAP_IOC_STATS), v1);
	struct spanheap_stats_v1 st;

	memset(&st, 0xff, sizeof(st));
	st.size = v1;
	ASSERT_EQ(0, shp_ioctl(fd, old_cmd, &st));
	ASSERT_EQ(v1, st.size);
	ASSERT_EQ((uint32_t)SPANHEAP_STATS_VERSION, st.version);
	ASSERT_EQ(~0ULL, st.cleanups_set);		/* not written */
	memset(&st, 0xff, sizeof(st));
	st.size = v1;
	ASSERT_EQ(0, shp_ioctl(fd, SPANHEAP_IOC_STATS, &st));
	ASSERT_EQ(v1, st.size);
	ASSERT_EQ(~0ULL, st.cleanups_set);
	ASSERT_TRUE(stats_v1(&st));
	ASSERT_EQ(sizeof(st), st.size);
	ASSERT_EQ(0ULL, st.cleanups_set);
	ASSERT_EQ(0ULL, st.pins);
	/* The first version's first size too; other sizes or directions are not STATS. */
	st.size = offsetof(struct spanheap_stats_v1, events_overcap);
	ASSERT_EQ(0, shp_ioctl(fd, _IOC(_IOC_READ | _IOC_WRITE, SPANHEAP_IOC_MAGIC,
					_IOC_NR(SPANHEAP_IOC_STATS), st.size), &st));
	ASSERT_EQ(offsetof(struct spanheap_stats_v1, events_overcap), st.size);
	ASSERT_EQ(-ENOTTY, shp_ioctl(fd, _IOC(_IOC_READ | _IOC_WRITE, SPANHEAP_IOC_MAGIC,
					      _IOC_NR(SPANHEAP_IOC_STATS), v1 + 8), &st));
	ASSERT_EQ(-ENOTTY, shp_ioctl(fd, _IOC(_IOC_READ, SPANHEAP_IOC_MAGIC,
					      _IOC_NR(SPANHEAP_IOC_STATS), v1), &st));
}

/* STATS version 2's size and command number (up to pins) */
TEST_F_TIMEOUT(heap, stats_v2_abi, TEST_TIMEOUT_S)
{
	const size_t v2 = offsetof(struct spanheap_stats_v1, gc_pause_last_ns);
	struct spanheap_stats_v1 st;

	memset(&st, 0xff, sizeof(st));
	st.size = v2;
	ASSERT_EQ(0, shp_ioctl(fd, _IOC(_IOC_READ | _IOC_WRITE, SPANHEAP_IOC_MAGIC,
					_IOC_NR(SPANHEAP_IOC_STATS), v2), &st));
	ASSERT_EQ(v2, st.size);
	ASSERT_EQ(0ULL, st.pins);
	ASSERT_EQ(~0ULL, st.gc_pause_last_ns);		/* not written */
}

/* Each cycle's pause: the last, the longest, their sum. */
TEST_F_TIMEOUT(heap, stats_gc_pause, TEST_TIMEOUT_S)
{
	struct spanheap_stats_v1 st;
	uint64_t total = 0, max = 0;
	int i;

	ASSERT_TRUE(stats_v1(&st));
	ASSERT_EQ(0ULL, st.gc_pause_total_ns);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, shp_gc(fd, 0, NULL));
		ASSERT_TRUE(stats_v1(&st));
		ASSERT_LT(0ULL, st.gc_pause_last_ns);
		total += st.gc_pause_last_ns;
		if (st.gc_pause_last_ns > max)
			max = st.gc_pause_last_ns;
		ASSERT_EQ(total, st.gc_pause_total_ns);
		ASSERT_EQ(max, st.gc_pause_max_ns);
	}
}

/* ---- defect 8: ABI edges ---- */

static const unsigned long all_cmds[] = {
	SPANHEAP_IOC_ALLOC, SPANHEAP_IOC_WRITE, SPANHEAP_IOC_READ,
	SPANHEAP_IOC_STORE, SPANHEAP_IOC_LOAD, SPANHEAP_IOC_ROOT,
	SPANHEAP_IOC_UNROOT, SPANHEAP_IOC_FINALIZER, SPANHEAP_IOC_GC,
	SPANHEAP_IOC_STATS, SPANHEAP_IOC_SET_PARAMS, SPANHEAP_IOC_CLEANUP,
	SPANHEAP_IOC_WEAK_MAKE, SPANHEAP_IOC_BATCH, SPANHEAP_IOC_WHY,
};

/* Two pages of zeroes, one valid struct for @cmd at the start. */
static union {
	uint32_t size;
	struct spanheap_alloc alloc;
	struct spanheap_rw rw;
	struct spanheap_ref ref;
	struct spanheap_root root;
	struct spanheap_finalizer fin;
	struct spanheap_cleanup cleanup;
	struct spanheap_weakref weak;
	struct spanheap_batch batch;
	struct spanheap_why why;
	uint64_t raw[8192 / 8];
} big_arg;
static struct spanheap_op big_arg_op;

static void *arg_for(unsigned long cmd, uint32_t size, uint64_t h, uint64_t r)
{
	memset(&big_arg, 0, sizeof(big_arg));
	switch (cmd) {
	case SPANHEAP_IOC_ALLOC:
		big_arg.alloc.kind = SPANHEAP_KIND_DATA;
		big_arg.alloc.length = 8;
		break;
	case SPANHEAP_IOC_WRITE:
	case SPANHEAP_IOC_READ:
		big_arg.rw.handle = h;
		big_arg.rw.length = 4;
		big_arg.rw.buf = (uintptr_t)&big_arg.raw[1000];
		break;
	case SPANHEAP_IOC_STORE:
	case SPANHEAP_IOC_LOAD:
		big_arg.ref.handle = r;
		big_arg.ref.value = cmd == SPANHEAP_IOC_STORE ? h : 0;
		break;
	case SPANHEAP_IOC_FINALIZER:	/* clearing: repeatable */
		big_arg.fin.flags = SPANHEAP_FIN_CLEAR;
		big_arg.fin.handle = h;
		break;
	case SPANHEAP_IOC_ROOT:
	case SPANHEAP_IOC_UNROOT:
		big_arg.root.handle = h;
		break;
	case SPANHEAP_IOC_CLEANUP:	/* a cleanup more each time */
		big_arg.cleanup.handle = h;
		break;
	case SPANHEAP_IOC_WEAK_MAKE:	/* a reference more each time */
		big_arg.weak.handle = h;
		break;
	case SPANHEAP_IOC_WHY:		/* changes nothing */
		big_arg.why.handle = h;
		break;
	case SPANHEAP_IOC_BATCH:	/* a FINALIZER clear: repeatable */
		shp_op_finalizer(&big_arg_op, h, 0, SPANHEAP_FIN_CLEAR);
		big_arg.batch.count = 1;
		big_arg.batch.op_size = sizeof(big_arg_op);
		big_arg.batch.ops = (uintptr_t)&big_arg_op;
		break;
	}
	big_arg.size = size;
	return &big_arg;
}

static size_t cmd_size(unsigned long cmd)
{
	return _IOC_SIZE(cmd);
}

/* size > 4096 is -E2BIG for every command; 4096 with a zero tail works */
TEST_F_TIMEOUT(heap, e2big, TEST_TIMEOUT_S)
{
	static const uint32_t sizes[] = { SPANHEAP_MAX_ARG_SIZE + 1, 8000, 1U << 31, ~0U };
	uint64_t h = obj(SPANHEAP_KIND_DATA, 8), r = obj(SPANHEAP_KIND_REF, 1);
	struct spanheap_stats_v1 before, now;
	size_t i, j;
	int ret;

	ASSERT_NE(0ULL, h);
	ASSERT_NE(0ULL, r);
	ASSERT_EQ(0, shp_root(fd, h, NULL));
	ASSERT_EQ(0, shp_root(fd, r, NULL));
	ASSERT_TRUE(stats_v1(&before));
	for (i = 0; i < ARRAY_SIZE(all_cmds); i++) {
		for (j = 0; j < ARRAY_SIZE(sizes); j++) {
			ret = shp_ioctl(fd, all_cmds[i], arg_for(all_cmds[i], sizes[j], h, r));
			ASSERT_EQ(-E2BIG, ret)
				TH_LOG("cmd %d size %u: %d (%s), want -E2BIG",
				       (int)_IOC_NR(all_cmds[i]), sizes[j], ret,
				       strerror(-ret));
		}
		/* The largest size allowed works (zero tail). */
		ret = shp_ioctl(fd, all_cmds[i],
				arg_for(all_cmds[i], SPANHEAP_MAX_ARG_SIZE, h, r));
		ASSERT_EQ(0, ret)
			TH_LOG("cmd %d size %u: %d (%s), want 0", (int)_IOC_NR(all_cmds[i]),
			       SPANHEAP_MAX_ARG_SIZE, ret, strerror(-ret));
		/* Drop what ALLOC made; CLEANUP's record holds a small object. */
		if (all_cmds[i] == SPANHEAP_IOC_ALLOC || all_cmds[i] == SPANHEAP_IOC_CLEANUP) {
			ASSERT_EQ(0, shp_gc(fd, 0, NULL));
			ASSERT_TRUE(stats_v1(&before));
		}
	}
	SAME(objects);
	SAME(roots);
}

/* The kernel writes its own struct size back, whatever the caller's. */
TEST_F_TIMEOUT(heap, size_writeback, TEST_TIMEOUT_S)
{
	static const uint32_t sizes[] = { 0, 8, 64, SPANHEAP_MAX_ARG_SIZE };
	uint64_t h = obj(SPANHEAP_KIND_DATA, 8), r = obj(SPANHEAP_KIND_REF, 1);
	size_t i, j, want;
	int ret;

	ASSERT_NE(0ULL, h);
	ASSERT_NE(0ULL, r);
	ASSERT_EQ(0, shp_root(fd, h, NULL));
	ASSERT_EQ(0, shp_root(fd, r, NULL));
	for (i = 0; i < ARRAY_SIZE(all_cmds); i++) {
		want = cmd_size(all_cmds[i]);
		for (j = 0; j < ARRAY_SIZE(sizes); j++) {
			uint32_t size = want + sizes[j];

			if (size > SPANHEAP_MAX_ARG_SIZE)
				size = SPANHEAP_MAX_ARG_SIZE;
			ret = shp_ioctl(fd, all_cmds[i], arg_for(all_cmds[i], size, h, r));
			ASSERT_TRUE(!ret && big_arg.size == want)
				TH_LOG("cmd %d size %u: %d, size written back %u, want %u",
				       (int)_IOC_NR(all_cmds[i]), size, ret,
				       big_arg.size, (unsigned int)want);
		}
	}
}

/* LOAD with value != 0 is -EINVAL */
TEST_F_TIMEOUT(heap, load_value_reserved, TEST_TIMEOUT_S)
{
	struct spanheap_ref a = { .size = sizeof(a), .value = 123 };
	uint64_t r = obj(SPANHEAP_KIND_REF, 1), d = obj(SPANHEAP_KIND_DATA, 1);

	ASSERT_NE(0ULL, r);
	ASSERT_NE(0ULL, d);
	ASSERT_EQ(0, shp_store(fd, r, 0, d));
	a.handle = r;
	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_LOAD, &a));
	a.value = 0;
	ASSERT_EQ(0, shp_ioctl(fd, SPANHEAP_IOC_LOAD, &a));
	ASSERT_EQ(d, a.value);
	a.value = d;				/* even the right answer */
	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_LOAD, &a));
}

/*
 * Writing each of @bad to module parameter @name fails with -EINVAL and
 * changes nothing; a value that does not parse as the parameter's type
 * (marked by a leading '!') may also give -ERANGE.
 */
static bool param_rejects(struct __test_metadata *_metadata, const char *name, const char *const *bad, int nbad)
{
	char old[64], now[64];
	bool ok = true;
	int i, r;

	if (param_read(name, old, sizeof(old))) {
		TH_LOG("%s%s missing", PARAMS_DIR, name);
		return false;
	}
	for (i = 0; i < nbad; i++) {
		const char *val = bad[i] + (bad[i][0] == '!');

		r = param_write(name, val);
		if (r == -ERANGE && val != bad[i])
			r = -EINVAL;
		if (param_read(name, now, sizeof(now)) || strcmp(now, old) || r != -EINVAL) {
			TH_LOG("%s=%s: write %d, value %s -> %s", name, val, r, old, now);
			param_write(name, old);
			ok = false;
		}
	}
	return ok;
}

/* module parameters reject 0 and out-of-range writes, unchanged */
TEST_F_TIMEOUT(params, module_params, TEST_TIMEOUT_S)
{
	static const char *const mem[] = { "0", "1048575", "1099511627777", "-1", "x" };
	static const char *const evq[] = { "0", "1048577", "!4294967296" };
	static const char *const heaps[] = { "0", "65537" };

	EXPECT_TRUE(param_rejects(_metadata, "mem_limit", mem, ARRAY_SIZE(mem)));
	EXPECT_TRUE(param_rejects(_metadata, "event_queue_max", evq, ARRAY_SIZE(evq)));
	EXPECT_TRUE(param_rejects(_metadata, "max_user_heaps", heaps, ARRAY_SIZE(heaps)));
}

/*
 * max_user_heaps: the next open is -EMFILE until one closes (4: the
 * fixture's file and three more).
 */
TEST_F_TIMEOUT(params, max_user_heaps, TEST_TIMEOUT_S)
{
	char old[32];
	int fds[8], n, r, r2 = -1;
	bool ok;

	ASSERT_EQ(0, param_read("max_user_heaps", old, sizeof(old)));
	ASSERT_EQ(0, param_write("max_user_heaps", "4"));
	for (n = 0; n < 8; n++) {
		r = shp_open(O_NONBLOCK);
		if (r < 0)
			break;
		fds[n] = r;
	}
	ok = n == 3 && r == -EMFILE;
	if (!ok)
		TH_LOG("opened %d more files (want 3), then %d (want -EMFILE)", n, r);
	if (ok && n) {
		close(fds[--n]);
		r = shp_open(O_NONBLOCK);	/* a close makes room */
		if (r >= 0)
			fds[n++] = r;
		r2 = shp_open(O_NONBLOCK);
		if (r2 >= 0)
			close(r2);
		ok = r >= 0 && r2 == -EMFILE;
		if (!ok)
			TH_LOG("after a close: open %d, then %d (want -EMFILE)", r, r2);
	}
	while (n)
		close(fds[--n]);
	/* (the teardown restores it too, after a failed ASSERT) */
	EXPECT_EQ(0, param_write("max_user_heaps", old))
		TH_LOG("could not restore max_user_heaps=%s", old);
	ASSERT_TRUE(ok);
}

/* ---- paced variants: cycles come on their own (rule 9) ---- */

static const uint64_t paced_sizes[] = { 8, 100, 5000, 32768, 40000, 150000, 1 << 20 };
#define NPS	ARRAY_SIZE(paced_sizes)

/* ALLOC, then ROOT: a paced cycle may take the object in between. */
static int alloc_then_root(int f, uint32_t kind, uint64_t len, uint64_t *h)
{
	int i, r = -ESTALE;

	for (i = 0; i < 100 && (r == -ESTALE || r == -ENOMEM); i++) {
		r = shp_alloc(f, kind, len, h);
		if (!r)
			r = shp_root(f, *h, NULL);
	}
	return r;
}

/* ALLOC a DATA child and STORE it in @parent[@slot], retrying -ESTALE. */
static int alloc_stored(int f, uint64_t parent, uint64_t slot, uint64_t len,
			uint64_t *h)
{
	int i, r = -ESTALE;

	for (i = 0; i < 100 && (r == -ESTALE || r == -ENOMEM); i++) {
		r = shp_alloc(f, SPANHEAP_KIND_DATA, len, h);
		if (!r)
			r = shp_store(f, parent, slot, *h);
	}
	return r;
}

/* counted roots keep objects of every size through paced cycles */
TEST_F_TIMEOUT(paced, roots, TEST_TIMEOUT_S)
{
	struct spanheap_stats_v1 st;
	uint64_t h[NPS], c;
	size_t i;

	for (i = 0; i < NPS; i++) {
		ASSERT_EQ(0, alloc_then_root(fd, SPANHEAP_KIND_DATA, paced_sizes[i], &h[i]));
		ASSERT_EQ(0, data_put(fd, h[i], paced_sizes[i], i));
		if (i & 1) {
			ASSERT_EQ(0, shp_root(fd, h[i], &c));
			ASSERT_EQ(2ULL, c);
		}
	}
	ASSERT_TRUE(pressure(_metadata, fd, 3, 512));
	for (i = 0; i < NPS; i++)
		ASSERT_EQ(0, data_check(fd, h[i], paced_sizes[i], i));
	for (i = 0; i < NPS; i++) {
		ASSERT_EQ(0, shp_unroot(fd, h[i], &c));
		ASSERT_EQ(i & 1, c);
	}
	ASSERT_TRUE(stats_v1(&st));
	ASSERT_EQ(NPS / 2, st.roots);
	ASSERT_TRUE(pressure(_metadata, fd, 3, 512));
	for (i = 0; i < NPS; i++) {
		if (!(i & 1))
			ASSERT_MAYGO(data_check(fd, h[i], paced_sizes[i], i));
		else
			ASSERT_EQ(0, data_check(fd, h[i], paced_sizes[i], i));
	}
	for (i = 1; i < NPS; i += 2) {
		ASSERT_EQ(0, shp_unroot(fd, h[i], &c));
		ASSERT_EQ(0ULL, c);
	}
	ASSERT_TRUE(pressure(_metadata, fd, 2, 512));
	for (i = 0; i < NPS; i++)
		ASSERT_MAYGO(data_check(fd, h[i], paced_sizes[i], i));
}

/* ALLOC_ROOTED objects and a rooted REF's children survive paced cycles. */
TEST_F_TIMEOUT(paced, alloc_rooted, TEST_TIMEOUT_S)
{
	uint64_t h[NPS], kid[NPS], ref, v, c;
	size_t i;

	ASSERT_EQ(0, shp_alloc_flags(fd, SPANHEAP_KIND_REF, NPS, SPANHEAP_ALLOC_ROOTED, &ref));
	for (i = 0; i < NPS; i++) {
		ASSERT_EQ(0, shp_alloc_flags(fd, SPANHEAP_KIND_DATA, paced_sizes[i],
				       SPANHEAP_ALLOC_ROOTED, &h[i]));
		ASSERT_EQ(0, data_put(fd, h[i], paced_sizes[i], i));
		ASSERT_EQ(0, alloc_stored(fd, ref, i, paced_sizes[NPS - 1 - i], &kid[i]));
		ASSERT_EQ(0, data_put(fd, kid[i], paced_sizes[NPS - 1 - i], 100 + i));
	}
	ASSERT_TRUE(pressure(_metadata, fd, 4, 512));
	for (i = 0; i < NPS; i++) {
		ASSERT_EQ(0, data_check(fd, h[i], paced_sizes[i], i));
		ASSERT_EQ(0, shp_load(fd, ref, i, &v));
		ASSERT_EQ(kid[i], v);
		ASSERT_EQ(0, data_check(fd, kid[i], paced_sizes[NPS - 1 - i], 100 + i));
	}
	ASSERT_EQ(0, shp_unroot(fd, ref, &c));
	ASSERT_EQ(0ULL, c);
	for (i = 0; i < NPS; i += 2) {
		ASSERT_EQ(0, shp_unroot(fd, h[i], &c));
		ASSERT_EQ(0ULL, c);
	}
	ASSERT_TRUE(pressure(_metadata, fd, 3, 512));
	for (i = 0; i < NPS; i++) {
		if (!(i & 1))
			ASSERT_MAYGO(data_check(fd, h[i], paced_sizes[i], i));
		else
			ASSERT_EQ(0, data_check(fd, h[i], paced_sizes[i], i));
		ASSERT_MAYGO(data_check(fd, kid[i], paced_sizes[NPS - 1 - i], 100 + i));
	}
}

/*
 * A rooted list of REF nodes, each with a DATA leaf, survives; then cut in
 * half, its tail may go.
 */
#define CHAIN_N	40
TEST_F_TIMEOUT(paced, chain, TEST_TIMEOUT_S)
{
	uint64_t node[CHAIN_N], leaf[CHAIN_N], head, v;
	int i, r;

	ASSERT_EQ(0, shp_alloc_flags(fd, SPANHEAP_KIND_REF, 1, SPANHEAP_ALLOC_ROOTED, &head));
	for (i = 0; i < CHAIN_N; i++) {
		uint64_t parent = i ? node[i - 1] : head, len = paced_sizes[i % NPS];
		int j;

		/* A fresh node is garbage until stored: retry if a cycle took it. */
		for (j = 0, r = -ESTALE; j < 100 && r == -ESTALE; j++) {
			r = shp_alloc(fd, SPANHEAP_KIND_REF, 2, &node[i]);
			if (!r)
				r = shp_store(fd, parent, 0, node[i]);
		}
		ASSERT_TRUE(!r);
		ASSERT_EQ(0, alloc_stored(fd, node[i], 1, len, &leaf[i]));
		ASSERT_EQ(0, data_put(fd, leaf[i], len, i));
		if (i % 8 == 0)
			ASSERT_TRUE(pressure(_metadata, fd, 1, 512));
	}
	ASSERT_TRUE(pressure(_metadata, fd, 3, 512));
	for (i = 0, v = head; i < CHAIN_N; i++) {
		ASSERT_EQ(0, shp_load(fd, v, 0, &v));
		ASSERT_EQ(node[i], v);
		ASSERT_EQ(0, shp_load(fd, v, 1, &v));
		ASSERT_EQ(leaf[i], v);
		ASSERT_EQ(0, data_check(fd, leaf[i], paced_sizes[i % NPS], i));
		v = node[i];
	}
	ASSERT_EQ(0, shp_load(fd, node[CHAIN_N - 1], 0, &v));
	ASSERT_EQ(0ULL, v);
	ASSERT_EQ(0, shp_store(fd, node[CHAIN_N / 2 - 1], 0, 0));	/* cut */
	ASSERT_TRUE(pressure(_metadata, fd, 3, 512));
	for (i = 0; i < CHAIN_N; i++) {
		if (i < CHAIN_N / 2) {
			ASSERT_EQ(0, shp_load(fd, node[i], 1, &v));
			ASSERT_EQ(leaf[i], v);
			ASSERT_EQ(0, data_check(fd, leaf[i], paced_sizes[i % NPS], i));
			continue;
		}
		/* Unreachable: gone, or still whole and unchanged. */
		r = shp_load(fd, node[i], 1, &v);
		ASSERT_MAYGO(r);
		ASSERT_TRUE(r || v == leaf[i]);
		ASSERT_MAYGO(data_check(fd, leaf[i], paced_sizes[i % NPS], i));
	}
}

/* A rooted REF with the finalizer @token, unrooted once set; 0 on failure. */
static uint64_t paced_fin_obj(uint64_t token)
{
	uint64_t h;

	if (shp_alloc_flags(fd, SPANHEAP_KIND_REF, 2, SPANHEAP_ALLOC_ROOTED, &h) ||
	    shp_set_finalizer(fd, h, token))
		return 0;
	return h;
}

/*
 * Go's order with paced cycles: A -> B -> C, each a cycle after the last
 * is read; finalizable objects stay.
 */
TEST_F_TIMEOUT(paced, fin_chain, TEST_TIMEOUT_S)
{
	uint64_t hs[3], leaf, v;
	struct spanheap_event ev[8];
	int i, got = 0, cycles;
	ssize_t n;

	for (i = 0; i < 3; i++) {
		hs[i] = paced_fin_obj(i + 1);
		ASSERT_NE(0ULL, hs[i]);
	}
	ASSERT_EQ(0, shp_store(fd, hs[0], 0, hs[1]));
	ASSERT_EQ(0, shp_store(fd, hs[1], 0, hs[2]));
	ASSERT_EQ(0, shp_alloc_flags(fd, SPANHEAP_KIND_DATA, 40000, SPANHEAP_ALLOC_ROOTED, &leaf));
	ASSERT_EQ(0, data_put(fd, leaf, 40000, 5));
	ASSERT_EQ(0, shp_store(fd, hs[2], 1, leaf));
	ASSERT_EQ(0, shp_unroot(fd, leaf, NULL));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, shp_unroot(fd, hs[i], NULL));
	for (cycles = 0; got < 3; cycles++) {
		ASSERT_TRUE(cycles < 100);
		ASSERT_TRUE(pressure(_metadata, fd, 1, 256));
		/* Finalizable or with an unread event: all of it stays. */
		for (i = got; i < 3; i++) {
			ASSERT_EQ(0, shp_load(fd, hs[i], 0, &v));
			ASSERT_EQ(i < 2 ? hs[i + 1] : 0, v);
		}
		ASSERT_EQ(0, data_check(fd, leaf, 40000, 5));
		n = shp_events(fd, ev, 8);
		ASSERT_LE(0, n);
		ASSERT_GE(3, got + n);
		for (i = 0; i < n; i++, got++) {
			ASSERT_EQ((uint64_t)got + 1, ev[i].token)
				TH_LOG("event %d: token %llu, want %d", got,
				       (unsigned long long)ev[i].token, got + 1);
			ASSERT_EQ(hs[got], ev[i].handle);
		}
	}
	ASSERT_TRUE(pressure(_metadata, fd, 2, 256));
	ASSERT_EQ(0, shp_events(fd, ev, 8));		/* no fourth, no duplicate */
}

/* Pressure until an event is pending (poll), at most 100 paced cycles. */
static bool paced_wait_event(struct __test_metadata *_metadata)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	int i;

	for (i = 0; i < 100; i++) {
		if (poll(&pf, 1, 0) == 1)
			return true;
		if (!pressure(_metadata, fd, 1, 256))
			return false;
	}
	TH_LOG("no event after 100 paced cycles");
	return false;
}

/*
 * Wait for @a's finalizer event: pending, the object and its 200000-byte
 * child stay, intact, and the event carries @token and @a.
 */
static void expect_pending_event(struct __test_metadata *_metadata,
				 uint64_t a, uint64_t kid, uint64_t token)
{
	struct spanheap_event ev;
	uint64_t v;

	ASSERT_TRUE(paced_wait_event(_metadata));
	ASSERT_EQ(0, shp_load(fd, a, 0, &v));
	ASSERT_EQ(kid, v);
	ASSERT_EQ(0, data_check(fd, kid, 200000, 3));
	ASSERT_EQ(1, shp_events(fd, &ev, 1));
	ASSERT_EQ(token, ev.token);
	ASSERT_EQ(a, ev.handle);
}

/*
 * Finalizer, event (it keeps the object), resurrection, second finalizer
 * (once).  Reading the first event makes the object garbage until ROOT: a
 * paced cycle in between may take it (-ESTALE), so that case starts over.
 */
TEST_F_TIMEOUT(paced, resurrection, TEST_TIMEOUT_S)
{
	struct spanheap_event ev;
	uint64_t a, kid, v;
	int tries, r;

	for (tries = 0; tries < 5; tries++) {
		a = paced_fin_obj(7);
		ASSERT_NE(0ULL, a);
		ASSERT_EQ(0, alloc_stored(fd, a, 0, 200000, &kid));
		ASSERT_EQ(0, data_put(fd, kid, 200000, 3));
		ASSERT_EQ(0, shp_unroot(fd, a, NULL));
		expect_pending_event(_metadata, a, kid, 7);
		r = shp_root(fd, a, NULL);		/* resurrect */
		if (r != -ESTALE)
			break;
	}
	ASSERT_EQ(0, r);
	ASSERT_EQ(0, shp_set_finalizer(fd, a, 8));
	ASSERT_TRUE(pressure(_metadata, fd, 3, 512));
	ASSERT_EQ(0, shp_events(fd, &ev, 1));		/* rooted: not due */
	ASSERT_EQ(0, shp_load(fd, a, 0, &v));
	ASSERT_EQ(kid, v);
	ASSERT_EQ(0, data_check(fd, kid, 200000, 3));
	ASSERT_EQ(0, shp_unroot(fd, a, NULL));
	expect_pending_event(_metadata, a, kid, 8);
	ASSERT_TRUE(pressure(_metadata, fd, 2, 512));
	ASSERT_EQ(0, shp_events(fd, &ev, 1));		/* once only */
	ASSERT_MAYGO(data_check(fd, kid, 200000, 3));
}

struct pthr {
	int id;
	bool ok;
	char diag[128];
};

/* A rooted REF holding a fresh 40000-byte DATA object; dropped again. */
static int paced_ref_once(void)
{
	uint64_t ref, kid, v;
	int r;

	r = shp_alloc_flags(fd, SPANHEAP_KIND_REF, 1, SPANHEAP_ALLOC_ROOTED, &ref);
	if (!r)
		r = alloc_stored(fd, ref, 0, 40000, &kid);
	if (!r)
		r = shp_load(fd, ref, 0, &v);
	if (!r && v != kid)
		r = -EBADMSG;
	if (!r)
		r = shp_unroot(fd, ref, NULL);
	return r;
}

/* One iteration: a rooted object amid garbage, checked, dropped. */
static int paced_iteration(int id, int i)
{
	static const uint64_t sizes[] = { 64, 3000, 40000, 200000 };
	uint64_t len = sizes[(i + id) % 4], seed = id * 1000 + i, h, g;
	int r;

	r = shp_alloc_flags(fd, SPANHEAP_KIND_DATA, len, SPANHEAP_ALLOC_ROOTED, &h);
	if (!r)
		r = data_put(fd, h, len, seed);
	if (r)
		return r;
	/* Garbage; -ENOMEM (cap reached, a cycle queued) is fine. */
	r = shp_alloc(fd, SPANHEAP_KIND_DATA, 150000, &g);
	if (!r || r == -ENOMEM)
		r = shp_alloc(fd, SPANHEAP_KIND_DATA, 16000, &g);
	if (r == -ENOMEM)
		r = 0;
	if (!r)
		r = data_check(fd, h, len, seed);
	if (!r && i % 6 == 0)
		r = paced_ref_once();
	if (!r)
		r = shp_unroot(fd, h, NULL);
	return r;
}

static void *paced_hammer(void *arg)
{
	struct pthr *t = arg;
	int i, r = 0;

	for (i = 0; i < 60 && !r; i++)
		r = paced_iteration(t->id, i);
	if (r)
		snprintf(t->diag, sizeof(t->diag), "iteration %d: %d", i - 1, r);
	t->ok = !r;
	return NULL;
}

/* four threads, rooted objects of every size amid garbage */
TEST_F_TIMEOUT(paced, threads, TEST_TIMEOUT_S)
{
	pthread_t th[4];
	struct pthr t[4];
	int i;

	for (i = 0; i < 4; i++) {
		t[i].id = i;
		t[i].diag[0] = 0;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, paced_hammer, &t[i]));
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 4; i++) {
		if (!t[i].ok)
			TH_LOG("thread %d: %s", i, t[i].diag);
		ASSERT_TRUE(t[i].ok);
	}
}

/* ---- SPANHEAP_IOC_BATCH ---- */

/* A graph built in batches: the results single commands give */
TEST_F_TIMEOUT(heap, batch_builds_graph, TEST_TIMEOUT_S)
{
	enum { N = 1000 };
	static struct spanheap_op ops[N];
	struct spanheap_event ev[64];
	struct spanheap_stats_v1 st;
	uint64_t h[N], seen = 0, v;
	uint32_t done;
	ssize_t n;
	int i, got = 0;

	/* N objects, the first a REF root, then the edges and finalizers. */
	shp_op_alloc(&ops[0], SPANHEAP_KIND_REF, N, SPANHEAP_ALLOC_ROOTED);
	for (i = 1; i < N; i++)
		shp_op_alloc(&ops[i], SPANHEAP_KIND_DATA, 8 + i % 50, 0);
	ASSERT_EQ(0, shp_batch(fd, ops, N, &done));
	ASSERT_EQ((uint32_t)N, done);
	for (i = 0; i < N; i++) {
		ASSERT_EQ(0, ops[i].error);
		ASSERT_EQ((uint32_t)sizeof(ops[i].alloc), ops[i].size);
		h[i] = ops[i].alloc.handle;
		ASSERT_NE(0ULL, h[i]);
	}
	for (i = 1; i < N; i++)
		shp_op_ref(&ops[i - 1], SPANHEAP_IOC_STORE, h[0], i, h[i]);
	ASSERT_EQ(0, shp_batch(fd, ops, N - 1, &done));
	ASSERT_EQ((uint32_t)N - 1, done);
	for (i = 1; i < N; i++)
		shp_op_finalizer(&ops[i - 1], h[i], 1000 + i, 0);
	ASSERT_EQ(0, shp_batch(fd, ops, N - 1, &done));
	ASSERT_EQ((uint32_t)N - 1, done);
	ASSERT_EQ(0, shp_load(fd, h[0], 7, &v));
	ASSERT_EQ(h[7], v);
	ASSERT_EQ(-EEXIST, shp_set_finalizer(fd, h[7], 1));
	ASSERT_EQ(0, shp_gc(fd, SPANHEAP_GC_WAIT, NULL));
	ASSERT_TRUE(stats_v1(&st));
	ASSERT_EQ((uint64_t)N, st.objects);
	ASSERT_EQ(0ULL, st.events_pending);
	/* Cut the odd edges: their finalizers run, once each. */
	for (i = 1; i < N; i += 2)
		shp_op_ref(&ops[i / 2], SPANHEAP_IOC_STORE, h[0], i, 0);
	ASSERT_EQ(0, shp_batch(fd, ops, N / 2, &done));
	ASSERT_EQ((uint32_t)N / 2, done);
	ASSERT_EQ(0, shp_gc(fd, SPANHEAP_GC_WAIT, NULL));
	while (got < N / 2) {
		n = shp_events(fd, ev, 64);
		ASSERT_GT(n, 0);
		for (i = 0; i < n; i++) {
			ASSERT_EQ(1, (int)(ev[i].token - 1000) % 2);
			seen += ev[i].token;
		}
		got += n;
	}
	ASSERT_EQ(N / 2, got);
	ASSERT_EQ((uint64_t)(N / 2) * 1000 + (uint64_t)(N / 2) * (N / 2), seen);
}

/* The first failed op stops the batch; the ones before it stand */
TEST_F_TIMEOUT(heap, batch_partial, TEST_TIMEOUT_S)
{
	struct spanheap_op ops[4];
	struct spanheap_stats_v1 before, now;
	uint64_t h = obj(SPANHEAP_KIND_DATA, 8), c;
	uint32_t done = 99;

	ASSERT_NE(0ULL, h);
	ASSERT_EQ(0, shp_root(fd, h, NULL));
	ASSERT_TRUE(stats_v1(&before));
	shp_op_root(&ops[0], SPANHEAP_IOC_ROOT, h);
	shp_op_finalizer(&ops[1], h, 5, 0);
	shp_op_finalizer(&ops[2], h, 6, 0);		/* -EEXIST */
	shp_op_root(&ops[3], SPANHEAP_IOC_ROOT, h);
	ASSERT_EQ(0, shp_batch(fd, ops, 4, &done));
	ASSERT_EQ(2U, done);
	ASSERT_EQ(0, ops[0].error);
	ASSERT_EQ(2ULL, ops[0].root.count);
	ASSERT_EQ(0, ops[1].error);
	ASSERT_EQ(-EEXIST, ops[2].error);
	ASSERT_EQ(0, ops[3].error);		/* not run, not written */
	ASSERT_EQ(0ULL, ops[3].root.count);
	ASSERT_EQ(0, shp_root(fd, h, &c));
	ASSERT_EQ(3ULL, c);			/* ops[3] did not run */
	ASSERT_TRUE(stats_v1(&now));
	ASSERT_EQ(before.finalizers_set + 1, now.finalizers_set);
	ASSERT_EQ(-EEXIST, shp_set_finalizer(fd, h, 7));
	/* An op's own bad input is its error, as alone. */
	shp_op_alloc(&ops[0], SPANHEAP_KIND_DATA, 0, 0);
	ASSERT_EQ(0, shp_batch(fd, ops, 1, &done));
	ASSERT_EQ(0U, done);
	ASSERT_EQ(-EINVAL, ops[0].error);
	shp_op_root(&ops[0], SPANHEAP_IOC_ROOT, h + 12345);
	ASSERT_EQ(0, shp_batch(fd, ops, 1, &done));
	ASSERT_EQ(-ENOENT, ops[0].error);
}

static int batch_raw(struct spanheap_batch *b)
{
	return shp_ioctl(fd, SPANHEAP_IOC_BATCH, b);
}

/* What the batch checks itself fails the call: nothing runs */
TEST_F_TIMEOUT(heap, batch_bad_input, TEST_TIMEOUT_S)
{
	static const unsigned long not_ops[] = {
		0, SPANHEAP_IOC_BATCH, SPANHEAP_IOC_GC, SPANHEAP_IOC_READ,
		SPANHEAP_IOC_WRITE, SPANHEAP_IOC_STATS, SPANHEAP_IOC_SET_PARAMS,
		_IOWR(SPANHEAP_IOC_MAGIC, 99, struct spanheap_alloc),
	};
	static struct spanheap_op ops[SPANHEAP_BATCH_MAX + 1];
	struct spanheap_stats_v1 before, now;
	struct spanheap_batch b;
	struct {
		struct spanheap_batch b;
		uint64_t tail;
	} big;
	unsigned int i;
	char *ro;

	for (i = 0; i <= SPANHEAP_BATCH_MAX; i++)
		shp_op_alloc(&ops[i], SPANHEAP_KIND_DATA, 8, SPANHEAP_ALLOC_ROOTED);
	ASSERT_TRUE(stats_v1(&before));
#define BATCH(n) ((struct spanheap_batch){ .size = sizeof(b), .count = (n), \
		.op_size = sizeof(ops[0]), .ops = (uintptr_t)ops })
	b = BATCH(0);
	ASSERT_EQ(-EINVAL, batch_raw(&b));
	b = BATCH(SPANHEAP_BATCH_MAX + 1);
	ASSERT_EQ(-E2BIG, batch_raw(&b));
	b = BATCH(~0U);
	ASSERT_EQ(-E2BIG, batch_raw(&b));
	b = BATCH(2);
	b.flags = 1;
	ASSERT_EQ(-EINVAL, batch_raw(&b));
	b = BATCH(2);
	b.reserved = 1;
	ASSERT_EQ(-EINVAL, batch_raw(&b));
	b = BATCH(2);
	b.done = 1;
	ASSERT_EQ(-EINVAL, batch_raw(&b));
	b = BATCH(2);
	b.op_size = sizeof(ops[0]) + 8;
	ASSERT_EQ(-EINVAL, batch_raw(&b));
	b = BATCH(2);
	b.op_size = sizeof(ops[0]) - 8;
	ASSERT_EQ(-EINVAL, batch_raw(&b));
	b = BATCH(2);
	b.ops = 0;
	ASSERT_EQ(-EFAULT, batch_raw(&b));
	b = BATCH(2);
	b.ops = ~0ULL << 12;
	ASSERT_EQ(-EFAULT, batch_raw(&b));
	big.b = BATCH(2);
	big.b.size = sizeof(big);
	big.tail = 1;
	ASSERT_EQ(-EINVAL, batch_raw(&big.b));
	/* The second op is bad in each way the batch checks. */
	for (i = 0; i < ARRAY_SIZE(not_ops) + 5; i++) {
		shp_op_alloc(&ops[1], SPANHEAP_KIND_DATA, 8, SPANHEAP_ALLOC_ROOTED);
		if (i < ARRAY_SIZE(not_ops)) {	/* with that command's size */
			ops[1].cmd = (uint32_t)not_ops[i];
			ops[1].size = _IOC_SIZE(not_ops[i]);
		} else if (i == ARRAY_SIZE(not_ops)) {
			ops[1].flags = 1;
		} else if (i == ARRAY_SIZE(not_ops) + 1) {
			ops[1].reserved = 1;
		} else if (i == ARRAY_SIZE(not_ops) + 2) {
			ops[1].error = -1;
		} else if (i == ARRAY_SIZE(not_ops) + 3) {
			ops[1].size = sizeof(ops[1].alloc) + 8;
		} else {
			ops[1].size = 8;
		}
		b = BATCH(2);
		ASSERT_EQ(-EINVAL, batch_raw(&b)) TH_LOG("case %u", i);
		ASSERT_EQ(0ULL, ops[0].alloc.handle);
	}
	shp_op_alloc(&ops[1], SPANHEAP_KIND_DATA, 8, SPANHEAP_ALLOC_ROOTED);
	/* A read-only array: -EFAULT before anything runs. */
	ro = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(ro != MAP_FAILED);
	ASSERT_EQ(0, munmap(ro + 4096, 4096));		/* nothing after the page */
	memcpy(ro, ops, 2 * sizeof(ops[0]));
	ASSERT_EQ(0, mprotect(ro, 4096, PROT_READ));
	b = BATCH(2);
	b.ops = (uintptr_t)ro;
	ASSERT_EQ(-EFAULT, batch_raw(&b));
	/* ... or an array that runs past the mapping. */
	ASSERT_EQ(0, mprotect(ro, 4096, PROT_READ | PROT_WRITE));
	memcpy(ro + 4096 - sizeof(ops[0]), ops, sizeof(ops[0]));
	b.ops = (uintptr_t)(ro + 4096 - sizeof(ops[0]));
	ASSERT_EQ(-EFAULT, batch_raw(&b));
	munmap(ro, 4096);
	/* A read-only batch struct. */
	if (!ro_page) {
		ro_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_TRUE(ro_page != MAP_FAILED);
	}
	b = BATCH(2);
	ASSERT_EQ(-EFAULT, RO(SPANHEAP_IOC_BATCH, b));
	ASSERT_EQ(0ULL, ops[0].alloc.handle);
	ASSERT_EQ(0ULL, ops[1].alloc.handle);
	ASSERT_TRUE(stats_v1(&now));
	ASSERT_EQ(before.objects, now.objects);
	ASSERT_EQ(before.roots, now.roots);
	/* The most there may be, with a zero tail on the struct. */
	big.b = BATCH(SPANHEAP_BATCH_MAX);
	big.b.size = sizeof(big);
	big.tail = 0;
	ASSERT_EQ(0, batch_raw(&big.b));
	ASSERT_EQ((uint32_t)sizeof(b), big.b.size);
	ASSERT_EQ((uint32_t)SPANHEAP_BATCH_MAX, big.b.done);
	ASSERT_TRUE(stats_v1(&now));
	ASSERT_EQ(before.roots + SPANHEAP_BATCH_MAX, now.roots);
#undef BATCH
}

/* ---- SPANHEAP_IOC_WHY ---- */

static int why_raw(struct spanheap_why *w)
{
	return shp_ioctl(fd, SPANHEAP_IOC_WHY, w);
}

/* The layout is the same for 32- and 64-bit programs (selftest32). */
TEST_F_TIMEOUT(heap, why_layout, TEST_TIMEOUT_S)
{
	ASSERT_EQ(40U, sizeof(struct spanheap_why));
	ASSERT_EQ(16U, sizeof(struct spanheap_why_hop));
	ASSERT_EQ(8U, offsetof(struct spanheap_why, handle));
	ASSERT_EQ(16U, offsetof(struct spanheap_why, root_kind));
	ASSERT_EQ(20U, offsetof(struct spanheap_why, capacity));
	ASSERT_EQ(24U, offsetof(struct spanheap_why, nhops));
	ASSERT_EQ(32U, offsetof(struct spanheap_why, hops));
	ASSERT_EQ(18U, _IOC_NR(SPANHEAP_IOC_WHY));
	ASSERT_EQ(40U, _IOC_SIZE(SPANHEAP_IOC_WHY));
}

/* R rooted, R[1] -> A, A[0] -> B: B's path is R[1], A[0], B. */
TEST_F_TIMEOUT(heap, why_path, TEST_TIMEOUT_S)
{
	uint64_t r = obj(SPANHEAP_KIND_REF, 2), a = obj(SPANHEAP_KIND_REF, 1);
	uint64_t b = obj(SPANHEAP_KIND_DATA, 8);
	struct spanheap_why_hop hops[SPANHEAP_WHY_MAX_HOPS];
	uint32_t kind, n;

	ASSERT_NE(0ULL, r);
	ASSERT_NE(0ULL, a);
	ASSERT_NE(0ULL, b);
	ASSERT_EQ(0, shp_root(fd, r, NULL));
	ASSERT_EQ(0, shp_store(fd, r, 1, a));
	ASSERT_EQ(0, shp_store(fd, a, 0, b));
	memset(hops, 0xff, sizeof(hops));
	ASSERT_EQ(0, shp_why(fd, b, hops, SPANHEAP_WHY_MAX_HOPS, &kind, &n));
	ASSERT_EQ((uint32_t)SPANHEAP_WHY_ROOTED, kind);
	ASSERT_EQ(3U, n);
	ASSERT_EQ(r, hops[0].handle);
	ASSERT_EQ(1ULL, hops[0].slot);
	ASSERT_EQ(a, hops[1].handle);
	ASSERT_EQ(0ULL, hops[1].slot);
	ASSERT_EQ(b, hops[2].handle);
	ASSERT_EQ(SPANHEAP_WHY_NO_SLOT, hops[2].slot);
	ASSERT_EQ(~0ULL, hops[3].handle);		/* nothing past the path */
	/* The root itself. */
	ASSERT_EQ(0, shp_why(fd, r, hops, SPANHEAP_WHY_MAX_HOPS, &kind, &n));
	ASSERT_EQ((uint32_t)SPANHEAP_WHY_ROOTED, kind);
	ASSERT_EQ(1U, n);
	ASSERT_EQ(r, hops[0].handle);
	/* Cut the link: unreachable, no hops, and a cycle collects it. */
	ASSERT_EQ(0, shp_store(fd, r, 1, 0));
	ASSERT_EQ(0, shp_why(fd, b, hops, SPANHEAP_WHY_MAX_HOPS, &kind, &n));
	ASSERT_EQ((uint32_t)SPANHEAP_WHY_UNREACHABLE, kind);
	ASSERT_EQ(0U, n);
	ASSERT_EQ(0, shp_gc(fd, 0, NULL));
	ASSERT_EQ(-ESTALE, shp_why(fd, b, hops, SPANHEAP_WHY_MAX_HOPS, &kind, &n));
}

/* A chain longer than the capacity: the first hops, the full length. */
TEST_F_TIMEOUT(heap, why_truncated, TEST_TIMEOUT_S)
{
	struct spanheap_why_hop hops[SPANHEAP_WHY_MAX_HOPS + 1];
	uint64_t h[100];
	uint32_t kind, n;
	int i;

	for (i = 0; i < 100; i++) {
		h[i] = obj(SPANHEAP_KIND_REF, 1);
		ASSERT_NE(0ULL, h[i]);
		if (i)
			ASSERT_EQ(0, shp_store(fd, h[i - 1], 0, h[i]));
	}
	ASSERT_EQ(0, shp_root(fd, h[0], NULL));
	memset(hops, 0xff, sizeof(hops));
	ASSERT_EQ(0, shp_why(fd, h[99], hops, 5, &kind, &n));
	ASSERT_EQ((uint32_t)SPANHEAP_WHY_ROOTED, kind);
	ASSERT_EQ(100U, n);
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(h[i], hops[i].handle);
		ASSERT_EQ(0ULL, hops[i].slot);
	}
	ASSERT_EQ(~0ULL, hops[5].handle);		/* capacity respected */
	ASSERT_EQ(0, shp_why(fd, h[99], hops, SPANHEAP_WHY_MAX_HOPS, &kind, &n));
	ASSERT_EQ(100U, n);
	ASSERT_EQ(h[63], hops[63].handle);
	ASSERT_EQ(~0ULL, hops[64].handle);
	/* Capacity 0: only the kind and the length. */
	ASSERT_EQ(0, shp_why(fd, h[99], NULL, 0, &kind, &n));
	ASSERT_EQ(100U, n);
}

/* X <-> Y with finalizers: never finalized, and WHY says so. */
TEST_F_TIMEOUT(heap, why_finalizer_cycle, TEST_TIMEOUT_S)
{
	uint64_t x = fin_obj(1), y = fin_obj(2), f = fin_obj(3), g = obj(SPANHEAP_KIND_DATA, 8);
	struct spanheap_why_hop hops[4];
	uint32_t kind, n;

	ASSERT_NE(0ULL, x);
	ASSERT_NE(0ULL, y);
	ASSERT_NE(0ULL, f);
	ASSERT_NE(0ULL, g);
	ASSERT_EQ(0, shp_store(fd, x, 1, y));
	ASSERT_EQ(0, shp_store(fd, y, 0, x));
	ASSERT_EQ(0, shp_store(fd, f, 0, g));
	ASSERT_EQ(0, shp_why(fd, x, hops, 4, &kind, &n));
	ASSERT_EQ((uint32_t)SPANHEAP_WHY_FIN_CYCLE, kind);
	ASSERT_EQ(3U, n);
	ASSERT_EQ(x, hops[0].handle);
	ASSERT_EQ(1ULL, hops[0].slot);
	ASSERT_EQ(y, hops[1].handle);
	ASSERT_EQ(0ULL, hops[1].slot);
	ASSERT_EQ(x, hops[2].handle);
	ASSERT_EQ(SPANHEAP_WHY_NO_SLOT, hops[2].slot);
	/* G is kept by F's finalizer until it has run. */
	ASSERT_EQ(0, shp_why(fd, g, hops, 4, &kind, &n));
	ASSERT_EQ((uint32_t)SPANHEAP_WHY_FIN_REFERENT, kind);
	ASSERT_EQ(2U, n);
	ASSERT_EQ(f, hops[0].handle);
	ASSERT_EQ(g, hops[1].handle);
	/* F itself is unreachable: the next cycle queues its finalizer. */
	ASSERT_EQ(0, shp_why(fd, f, hops, 4, &kind, &n));
	ASSERT_EQ((uint32_t)SPANHEAP_WHY_UNREACHABLE, kind);
	/* Its event delivered and unread, F is a root. */
	ASSERT_EQ(0, shp_gc(fd, SPANHEAP_GC_WAIT, NULL));
	ASSERT_EQ(0, shp_why(fd, g, hops, 4, &kind, &n));
	ASSERT_EQ((uint32_t)SPANHEAP_WHY_EVENT, kind);
	ASSERT_EQ(2U, n);
	ASSERT_EQ(f, hops[0].handle);
}

/* Bad input: an errno, and nothing written. */
TEST_F_TIMEOUT(heap, why_bad_input, TEST_TIMEOUT_S)
{
	struct spanheap_why_hop hops[2] = { { 7, 7 }, { 7, 7 } };
	uint64_t h = obj(SPANHEAP_KIND_DATA, 8), p, g;
	struct spanheap_op op = { .cmd = SPANHEAP_IOC_WHY };
	struct spanheap_batch b = { .size = sizeof(b), .count = 1,
				    .op_size = sizeof(op), .ops = (uintptr_t)&op };
	struct spanheap_why w;
	char *ro;

#define WHY(field, value) (w = (struct spanheap_why){ .size = sizeof(w),	\
		.handle = h, .capacity = 2, .hops = (uintptr_t)hops }, w.field = (value))
	ASSERT_NE(0ULL, h);
	ASSERT_EQ(0, shp_root(fd, h, NULL));
	WHY(flags, 1);
	ASSERT_EQ(-EINVAL, why_raw(&w));
	WHY(reserved, 1);
	ASSERT_EQ(-EINVAL, why_raw(&w));
	WHY(root_kind, 1);
	ASSERT_EQ(-EINVAL, why_raw(&w));
	WHY(nhops, 1);
	ASSERT_EQ(-EINVAL, why_raw(&w));
	WHY(capacity, SPANHEAP_WHY_MAX_HOPS + 1);
	ASSERT_EQ(-EINVAL, why_raw(&w));
	WHY(handle, 0);
	ASSERT_EQ(-EINVAL, why_raw(&w));
	WHY(handle, h + 0xfffff);		/* never issued */
	ASSERT_EQ(-ENOENT, why_raw(&w));
	WHY(handle, h ^ (1ULL << 30));		/* wrong generation */
	ASSERT_EQ(-ESTALE, why_raw(&w));
	WHY(handle, 0x1234);		/* not this file's */
	ASSERT_EQ(-EINVAL, why_raw(&w));
	WHY(size, sizeof(w) - 8);
	ASSERT_EQ(-EINVAL, why_raw(&w));
	ASSERT_EQ(7ULL, hops[0].handle);		/* nothing written */
	/* Unwritable hops: -EFAULT. */
	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(ro != MAP_FAILED);
	WHY(hops, (uintptr_t)ro);
	ASSERT_EQ(-EFAULT, why_raw(&w));
	WHY(hops, 8);
	ASSERT_EQ(-EFAULT, why_raw(&w));
	munmap(ro, 4096);
	/*
	 * A two-hop path (P rooted, P[0] -> G) and only the first hop
	 * writable: -EFAULT before the walk, nothing written.
	 */
	p = obj(SPANHEAP_KIND_REF, 1);
	g = obj(SPANHEAP_KIND_DATA, 8);
	ASSERT_NE(0ULL, p);
	ASSERT_NE(0ULL, g);
	ASSERT_EQ(0, shp_root(fd, p, NULL));
	ASSERT_EQ(0, shp_store(fd, p, 0, g));
	ro = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(ro != MAP_FAILED);
	ASSERT_EQ(0, mprotect(ro + 4096, 4096, PROT_READ));
	memset(ro, 0x5a, 4096);
	WHY(hops, (uintptr_t)(ro + 4096 - sizeof(hops[0])));
	w.handle = g;
	ASSERT_EQ(-EFAULT, why_raw(&w));
	ASSERT_EQ(0x5a5a5a5a5a5a5a5aULL,
		  ((struct spanheap_why_hop *)(ro + 4096) - 1)->handle);
	munmap(ro, 8192);
	/* Capacity 0 never touches hops. */
	WHY(capacity, 0);
	w.hops = 8;
	ASSERT_EQ(0, why_raw(&w));
	ASSERT_EQ((uint32_t)SPANHEAP_WHY_ROOTED, w.root_kind);
	ASSERT_EQ(1U, w.nhops);
	ASSERT_EQ((uint32_t)sizeof(w), w.size);
	/* Not a BATCH op. */
	op.size = sizeof(struct spanheap_why);
	ASSERT_EQ(-EINVAL, shp_ioctl(fd, SPANHEAP_IOC_BATCH, &b));
#undef WHY
}

TEST_HARNESS_MAIN
