// SPDX-License-Identifier: GPL-2.0
/*
 * spanheap ioctl selftests (TAP): every command, Go's finalizer ordering
 * and resurrection through the device, and every kind of bad input;
 * regressions for issue 7 (a collected large object stored, lost and
 * doubled events, read() racing, read-only argument structs, ABI edges);
 * paced variants where cycles and the background sweeper run on their
 * own.  Runs in the QEMU guests of both the test kernel and Debian's
 * kernel, as a 64-bit and a 32-bit program.
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
#include "tap.h"

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		tap_diag("%s:%d: %s", __FILE__, __LINE__, #cond);	\
		return false;						\
	}								\
	} while (0)
#define CHECK_ERR(expr, err) do {					\
	int __r = (expr);						\
	if (__r != -(err)) {						\
		tap_diag("%s:%d: %s = %d (%s), want -%s", __FILE__,	\
			 __LINE__, #expr, __r, strerror(-__r), #err);	\
		return false;						\
	}								\
	} while (0)

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
/* The 32-bit build is there for compat_ioctl: fewer rounds of the long loops. */
#ifdef __i386__
#define LOOPS(n)	((n) / 4)
#else
#define LOOPS(n)	(n)
#endif

static int fd;

#define CHECK0(expr) CHECK_ERR(expr, 0)

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

/* GC with wait, then read every event; returns the tokens in order. */
static int gc_events(uint64_t *tokens, int max)
{
	struct spanheap_event ev[64];
	ssize_t n, i;
	int got = 0;

	if (shp_gc(fd, SPANHEAP_GC_WAIT, NULL))
		return -1;
	while ((n = shp_events(fd, ev, 64)) > 0)
		for (i = 0; i < n; i++)
			if (got < max)
				tokens[got++] = ev[i].token;
	return n < 0 ? -1 : got;
}

static bool stats_v1(struct spanheap_stats_v1 *st)
{
	return !shp_stats(fd, st) && st->version == SPANHEAP_STATS_VERSION;
}

static bool t_data_roundtrip(void)
{
	uint64_t h = obj(SPANHEAP_KIND_DATA, 100);
	char buf[100] = { 1 };

	CHECK(h);
	CHECK(!shp_read(fd, h, 0, buf, 100));
	CHECK(buf[0] == 0 && buf[99] == 0);	/* zeroed */
	CHECK(!shp_write(fd, h, 10, "hello", 5));
	CHECK(!shp_read(fd, h, 8, buf, 9));
	CHECK(!memcmp(buf, "\0\0hello\0\0", 9));
	CHECK(!(h >> 63));			/* never an address */
	return true;
}

static bool t_ref_roundtrip(void)
{
	uint64_t r = obj(SPANHEAP_KIND_REF, 4), d = obj(SPANHEAP_KIND_DATA, 8), v = 1;

	CHECK(r && d);
	CHECK(!shp_load(fd, r, 3, &v) && v == 0);
	CHECK(!shp_store(fd, r, 3, d));
	CHECK(!shp_load(fd, r, 3, &v) && v == d);
	CHECK(!shp_store(fd, r, 3, 0));
	CHECK(!shp_load(fd, r, 3, &v) && v == 0);
	return true;
}

static bool t_roots_counted(void)
{
	uint64_t h = obj(SPANHEAP_KIND_DATA, 8), c = 0;

	CHECK(h);
	CHECK(!shp_root(fd, h, &c) && c == 1);
	CHECK(!shp_root(fd, h, &c) && c == 2);
	CHECK(!shp_gc(fd, 0, NULL));
	CHECK(!shp_unroot(fd, h, &c) && c == 1);
	CHECK(!shp_gc(fd, 0, NULL));
	CHECK(!shp_write(fd, h, 0, "x", 1));	/* still rooted once */
	CHECK(!shp_unroot(fd, h, &c) && c == 0);
	CHECK_ERR(shp_unroot(fd, h, NULL), EINVAL);
	CHECK(!shp_gc(fd, 0, NULL));
	CHECK_ERR(shp_write(fd, h, 0, "x", 1), ESTALE);
	return true;
}

static bool t_alloc_rooted(void)
{
	struct spanheap_stats_v1 st;
	uint64_t h, c;

	CHECK(!shp_alloc_flags(fd, SPANHEAP_KIND_DATA, 8, SPANHEAP_ALLOC_ROOTED, &h));
	CHECK(stats_v1(&st) && st.roots == 1);
	CHECK(!shp_gc(fd, 0, NULL) && !shp_write(fd, h, 0, "x", 1));
	CHECK(!shp_unroot(fd, h, &c) && c == 0);
	CHECK(!shp_gc(fd, 0, NULL));
	CHECK_ERR(shp_write(fd, h, 0, "x", 1), ESTALE);
	CHECK_ERR(shp_alloc_flags(fd, SPANHEAP_KIND_DATA, 8, 0x2, &h), EINVAL);
	return true;
}

static bool t_struct_sizes(void)
{
	struct {
		struct spanheap_alloc a;
		uint64_t extra;
	} big = { { .size = sizeof(big), .kind = SPANHEAP_KIND_DATA, .length = 8 }, 0 };
	struct spanheap_alloc a = { .size = sizeof(a) - 4, .kind = SPANHEAP_KIND_DATA, .length = 8 };
	struct spanheap_stats_v1 st;

	CHECK_ERR(shp_ioctl(fd, SPANHEAP_IOC_ALLOC, &a), EINVAL);	/* too small */
	CHECK(!shp_ioctl(fd, SPANHEAP_IOC_ALLOC, &big));		/* zero tail */
	CHECK(big.a.size == sizeof(big.a));				/* kernel's size */
	big.a.size = sizeof(big);
	big.a.handle = 0;
	big.extra = 1;
	CHECK_ERR(shp_ioctl(fd, SPANHEAP_IOC_ALLOC, &big), EINVAL);	/* non-zero tail */
	memset(&st, 0xff, sizeof(st));
	st.size = 16;
	CHECK(!shp_ioctl(fd, SPANHEAP_IOC_STATS, &st));
	CHECK(st.size == 16 && st.version == 1 && st.bytes_in_use == ~0ULL);
	st.size = 4;
	CHECK_ERR(shp_ioctl(fd, SPANHEAP_IOC_STATS, &st), EINVAL);
	CHECK_ERR(shp_ioctl(fd, SPANHEAP_IOC_ALLOC, NULL), EFAULT);
	CHECK_ERR(shp_ioctl(fd, SPANHEAP_IOC_ALLOC, (void *)8), EFAULT);
	return true;
}

static bool t_reserved_flags_commands(void)
{
	struct spanheap_alloc a = { .size = sizeof(a), .kind = SPANHEAP_KIND_DATA, .length = 8 };
	struct spanheap_gc g = { .size = sizeof(g), .flags = 0x80 };
	struct spanheap_params p = { .size = sizeof(p), .flags = 0x100 };
	uint64_t h = obj(SPANHEAP_KIND_DATA, 8);
	struct spanheap_finalizer f = { .size = sizeof(f), .handle = h,
					.flags = SPANHEAP_FIN_CLEAR, .token = 1 };
	struct spanheap_stats_v1 before, after;

	CHECK(h && stats_v1(&before));
	a.reserved = 1;
	CHECK_ERR(shp_ioctl(fd, SPANHEAP_IOC_ALLOC, &a), EINVAL);
	a.reserved = 0;
	a.flags = 0x80;
	CHECK_ERR(shp_ioctl(fd, SPANHEAP_IOC_ALLOC, &a), EINVAL);
	CHECK_ERR(shp_ioctl(fd, SPANHEAP_IOC_GC, &g), EINVAL);
	CHECK_ERR(shp_ioctl(fd, SPANHEAP_IOC_SET_PARAMS, &p), EINVAL);
	CHECK_ERR(shp_ioctl(fd, SPANHEAP_IOC_FINALIZER, &f), EINVAL);
	f.flags = 2;
	f.token = 0;
	CHECK_ERR(shp_ioctl(fd, SPANHEAP_IOC_FINALIZER, &f), EINVAL);
	CHECK_ERR(shp_ioctl(fd, _IOWR(SPANHEAP_IOC_MAGIC, 99, struct spanheap_gc), &g), ENOTTY);
	CHECK_ERR(shp_ioctl(fd, _IOWR('Z', 1, struct spanheap_gc), &g), ENOTTY);
	CHECK(stats_v1(&after));
	CHECK(after.objects == before.objects);		/* nothing changed */
	return true;
}

static bool t_bad_sizes_and_ranges(void)
{
	uint64_t h = 0, d = obj(SPANHEAP_KIND_DATA, 16), r = obj(SPANHEAP_KIND_REF, 2), v;
	char buf[32];

	CHECK(d && r);
	CHECK_ERR(shp_alloc(fd, SPANHEAP_KIND_DATA, 0, &h), EINVAL);
	CHECK_ERR(shp_alloc(fd, SPANHEAP_KIND_DATA, SPANHEAP_MAX_OBJECT + 1, &h), EINVAL);
	CHECK_ERR(shp_alloc(fd, SPANHEAP_KIND_DATA, 1ULL << 40, &h), EINVAL);
	CHECK_ERR(shp_alloc(fd, SPANHEAP_KIND_REF, SPANHEAP_MAX_SLOTS + 1, &h), EINVAL);
	CHECK_ERR(shp_alloc(fd, 7, 8, &h), EINVAL);
	CHECK_ERR(shp_write(fd, d, 10, buf, 7), ERANGE);
	CHECK_ERR(shp_read(fd, d, 16, buf, 1), ERANGE);
	CHECK_ERR(shp_read(fd, d, ~0ULL, buf, 2), ERANGE);	/* overflow */
	CHECK_ERR(shp_write(fd, d, 0, (void *)8, 4), EFAULT);
	CHECK_ERR(shp_load(fd, r, 2, &v), ERANGE);
	CHECK_ERR(shp_store(fd, r, ~0ULL, d), ERANGE);
	CHECK(!shp_write(fd, d, 0, buf, 0));			/* empty is fine */
	return true;
}

static bool t_kind_misuse(void)
{
	uint64_t d = obj(SPANHEAP_KIND_DATA, 16), r = obj(SPANHEAP_KIND_REF, 2), v;
	char buf[8] = { 0 };

	CHECK(d && r);
	CHECK_ERR(shp_write(fd, r, 0, buf, 8), EINVAL);
	CHECK_ERR(shp_read(fd, r, 0, buf, 8), EINVAL);
	CHECK_ERR(shp_store(fd, d, 0, r), EINVAL);
	CHECK_ERR(shp_load(fd, d, 0, &v), EINVAL);
	return true;
}

static bool t_stale_foreign_madeup(void)
{
	uint64_t h = obj(SPANHEAP_KIND_DATA, 8), r = obj(SPANHEAP_KIND_REF, 1), oh = 0;
	int other = shp_open(0);
	char b;

	CHECK(h && r && other >= 0);
	CHECK(!shp_root(fd, r, NULL));
	CHECK(!shp_alloc(other, SPANHEAP_KIND_DATA, 8, &oh));
	CHECK_ERR(shp_write(fd, oh, 0, "x", 1), EINVAL);	/* other file's */
	CHECK_ERR(shp_write(other, h, 0, "x", 1), EINVAL);
	CHECK_ERR(shp_store(fd, r, 0, oh), EINVAL);
	CHECK_ERR(shp_read(fd, 0, 0, &b, 1), EINVAL);
	CHECK_ERR(shp_read(fd, h + 0xfffff, 0, &b, 1), ENOENT);	/* never issued */
	CHECK_ERR(shp_read(fd, h ^ (1ULL << 30), 0, &b, 1), ESTALE);	/* wrong generation */
	CHECK(!shp_gc(fd, 0, NULL));		/* h is unreachable: collected */
	CHECK_ERR(shp_read(fd, h, 0, &b, 1), ESTALE);
	CHECK_ERR(shp_store(fd, r, 0, h), ESTALE);
	CHECK_ERR(shp_set_finalizer(fd, h, 1), ESTALE);
	close(other);
	CHECK(!shp_unroot(fd, r, NULL));
	return true;
}

static bool t_finalizer_errors(void)
{
	uint64_t h = obj(SPANHEAP_KIND_DATA, 8);

	CHECK(h);
	CHECK(!shp_set_finalizer(fd, h, 5));
	CHECK_ERR(shp_set_finalizer(fd, h, 6), EEXIST);
	CHECK(!shp_clear_finalizer(fd, h));
	CHECK(!shp_clear_finalizer(fd, h));	/* removing none is fine */
	CHECK(!shp_set_finalizer(fd, h, 6));
	return true;
}

static bool t_chain_order(void)
{
	uint64_t a = fin_obj(1), b = fin_obj(2), c = fin_obj(3), t[8];

	CHECK(a && b && c);
	CHECK(!shp_store(fd, a, 0, b) && !shp_store(fd, b, 0, c));
	CHECK(gc_events(t, 8) == 1 && t[0] == 1);
	CHECK(gc_events(t, 8) == 1 && t[0] == 2);
	CHECK(gc_events(t, 8) == 1 && t[0] == 3);
	CHECK(gc_events(t, 8) == 0);
	return true;
}

static bool t_diamond_and_cycle(void)
{
	uint64_t a = fin_obj(1), b = fin_obj(2), c = fin_obj(3), d = fin_obj(4);
	uint64_t x = fin_obj(10), y = fin_obj(11), t[8], n, i;

	CHECK(a && b && c && d && x && y);
	CHECK(!shp_store(fd, a, 0, b) && !shp_store(fd, a, 1, c));
	CHECK(!shp_store(fd, b, 0, d) && !shp_store(fd, c, 0, d));
	CHECK(!shp_store(fd, x, 0, y) && !shp_store(fd, y, 0, x));
	CHECK(gc_events(t, 8) == 1 && t[0] == 1);
	CHECK(gc_events(t, 8) == 2 && t[0] + t[1] == 5);
	CHECK(gc_events(t, 8) == 1 && t[0] == 4);
	for (i = 0; i < 3; i++) {
		n = gc_events(t, 8);
		CHECK(n == 0);		/* the cycle is never finalized */
	}
	CHECK(!shp_load(fd, x, 0, &n) && n == y);	/* ...nor freed */
	return true;
}

static bool t_resurrection(void)
{
	uint64_t a = fin_obj(7), t[8], c;
	struct spanheap_event ev;

	CHECK(a);
	CHECK(!shp_gc(fd, SPANHEAP_GC_WAIT, NULL));
	/* The event is pending: its object stays alive through more cycles. */
	CHECK(!shp_gc(fd, 0, NULL) && !shp_gc(fd, 0, NULL));
	CHECK(!shp_load(fd, a, 0, &c));
	CHECK(shp_events(fd, &ev, 1) == 1 && ev.token == 7 && ev.handle == a);
	CHECK(ev.event_len == sizeof(ev) && ev.version == 1 &&
	      ev.type == SPANHEAP_EVENT_FINALIZER && ev.seq > 0);
	CHECK(!shp_root(fd, a, NULL));		/* resurrect */
	CHECK(!shp_set_finalizer(fd, a, 8));	/* and re-register */
	CHECK(gc_events(t, 8) == 0);
	CHECK(!shp_unroot(fd, a, NULL));
	CHECK(gc_events(t, 8) == 1 && t[0] == 8);
	CHECK(gc_events(t, 8) == 0);
	CHECK_ERR(shp_load(fd, a, 0, &c), ESTALE);	/* read and dropped: gone */
	return true;
}

static bool t_read_poll_nonblock(void)
{
	struct pollfd p = { .events = POLLIN };
	struct spanheap_event ev[2];
	char tiny[8];

	struct epoll_event ee = { .events = EPOLLIN }, out;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	CHECK(ep >= 0 && !epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ee));
	p.fd = fd;
	CHECK(poll(&p, 1, 0) == 0);
	CHECK(epoll_wait(ep, &out, 1, 0) == 0);
	CHECK(read(fd, ev, sizeof(ev)) == -1 && errno == EAGAIN);
	CHECK(fin_obj(42));
	CHECK(fin_obj(43));
	CHECK(!shp_gc(fd, SPANHEAP_GC_WAIT, NULL));
	CHECK(poll(&p, 1, 0) == 1 && (p.revents & POLLIN));
	CHECK(epoll_wait(ep, &out, 1, 0) == 1 && (out.events & EPOLLIN));
	close(ep);
	CHECK(read(fd, tiny, sizeof(tiny)) == -1 && errno == EINVAL);
	CHECK(read(fd, ev, sizeof(ev[0]) + 3) == sizeof(ev[0]));	/* whole records */
	CHECK(read(fd, ev, sizeof(ev)) == sizeof(ev[0]));
	CHECK(ev[0].token == 42 || ev[0].token == 43);
	return true;
}

static void on_alarm(int sig)
{
	(void)sig;
}

static bool t_signal_interrupts_read(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	int bfd = shp_open(0);		/* blocking */
	struct spanheap_event ev;
	ssize_t n;

	CHECK(bfd >= 0);
	sigaction(SIGALRM, &sa, NULL);
	alarm(1);
	n = read(bfd, &ev, sizeof(ev));
	CHECK(n == -1 && errno == EINTR);
	close(bfd);
	return true;
}

static bool t_queue_cap(void)
{
	struct spanheap_params p = { .flags = SPANHEAP_PARAM_EVENT_QUEUE, .event_queue_max = 4 };
	struct spanheap_event ev[16];
	struct spanheap_stats_v1 st;
	int seen[10] = { 0 }, i, round, total = 0;
	ssize_t n;

	CHECK(!shp_set_params(fd, &p));
	for (i = 0; i < 10; i++)
		CHECK(fin_obj(100 + i));
	for (round = 0; round < 6 && total < 10; round++) {
		CHECK(!shp_gc(fd, SPANHEAP_GC_WAIT, NULL));
		CHECK(stats_v1(&st) && st.events_pending <= 4);
		n = shp_events(fd, ev, 16);
		CHECK(n >= 0 && n <= 4);
		for (i = 0; i < n; i++) {
			CHECK(ev[i].token >= 100 && ev[i].token < 110);
			seen[ev[i].token - 100]++;
		}
		total += n;
	}
	CHECK(total == 10);
	for (i = 0; i < 10; i++)
		CHECK(seen[i] == 1);		/* deferred, never lost or doubled */
	CHECK(stats_v1(&st) && st.events_deferred >= 6);
	p.event_queue_max = 4096;
	CHECK(!shp_set_params(fd, &p));
	return true;
}

static bool t_params(void)
{
	struct spanheap_params p = { .flags = SPANHEAP_PARAM_MEM_LIMIT, .mem_limit = 1ULL << 40 };
	struct spanheap_stats_v1 st;
	uint64_t h;
	int n = 0;

	CHECK_ERR(shp_set_params(fd, &p), EINVAL);	/* above the module's cap */
	p.mem_limit = 4096;
	CHECK_ERR(shp_set_params(fd, &p), EINVAL);
	p.flags = SPANHEAP_PARAM_EVENT_QUEUE;
	p.event_queue_max = 0;
	CHECK_ERR(shp_set_params(fd, &p), EINVAL);
	p.flags = SPANHEAP_PARAM_MEM_LIMIT | SPANHEAP_PARAM_GC_PERCENT;
	p.mem_limit = 1 << 20;
	p.gc_percent = -1;
	CHECK(!shp_set_params(fd, &p));
	CHECK(stats_v1(&st) && st.mem_limit == 1 << 20 && st.gc_percent == -1);
	while (!shp_alloc(fd, SPANHEAP_KIND_DATA, 60000, &h) && n < 100)
		n++;
	CHECK(n > 0 && n < 100);
	CHECK_ERR(shp_alloc(fd, SPANHEAP_KIND_DATA, 60000, &h), ENOMEM);
	CHECK(!shp_gc(fd, 0, NULL));		/* all garbage */
	CHECK(!shp_alloc(fd, SPANHEAP_KIND_DATA, 60000, &h));
	p.mem_limit = 64 << 20;
	p.gc_percent = 100;
	CHECK(!shp_set_params(fd, &p));
	return true;
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

static bool t_threads(void)
{
	pthread_t th[4];
	struct thr t[4];
	int i;

	for (i = 0; i < 4; i++) {
		t[i].id = i;
		CHECK(!pthread_create(&th[i], NULL, hammer, &t[i]));
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 4; i++)
		CHECK(t[i].ok);
	return true;
}

static bool t_close_while_delivering(void)
{
	int i, round;

	for (round = 0; round < 3; round++) {
		int f = shp_open(0);
		uint64_t h;

		CHECK(f >= 0);
		for (i = 0; i < 3000; i++) {
			struct spanheap_finalizer a = { .size = sizeof(a), .token = i };

			CHECK(!shp_alloc(f, SPANHEAP_KIND_REF, 1, &h));
			a.handle = h;
			CHECK(!shp_ioctl(f, SPANHEAP_IOC_FINALIZER, &a));
		}
		CHECK(!shp_gc(f, 0, NULL));	/* the worker starts delivering */
		close(f);			/* ...and the file goes away */
	}
	return true;
}

static bool t_fork_and_isolation(void)
{
	uint64_t h = obj(SPANHEAP_KIND_DATA, 8);
	int status;
	pid_t pid;

	CHECK(h && !shp_root(fd, h, NULL) && !shp_write(fd, h, 0, "parent", 6));
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		char buf[6];
		int own = shp_open(0);

		/* The inherited fd is the same heap; a new open is another one. */
		_exit(shp_read(fd, h, 0, buf, 6) || memcmp(buf, "parent", 6) ||
		      own < 0 || shp_read(own, h, 0, buf, 6) != -EINVAL);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(!shp_unroot(fd, h, NULL));
	return true;
}

static bool t_rmmod_refused(void)
{
	int ret = syscall(SYS_delete_module, "spanheap", O_NONBLOCK);

	CHECK(ret == -1 && (errno == EWOULDBLOCK || errno == EBUSY));
	CHECK(access("/dev/spanheap", F_OK) == 0);
	return true;
}

static bool t_stats_have_no_addresses(void)
{
	struct spanheap_stats_v1 st;
	uint64_t *w = (uint64_t *)&st;
	size_t i;

	CHECK(stats_v1(&st));
	for (i = 1; i < sizeof(st) / 8; i++)
		CHECK(w[i] < 0xffff800000000000ULL);
	return true;
}

/* ---- issue 7: paced heaps, racing readers, read-only structs, ABI edges ---- */

#define PARAMS_DIR	"/sys/module/spanheap/parameters/"

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

static uint64_t collections_of(int f)
{
	struct spanheap_stats_v1 st;

	return shp_stats(f, &st) ? 0 : st.collections;
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

/* An unrooted object may go at any time; if it is still there, it is intact. */
#define CHECK_MAYGO(expr) do {						\
	int __m = (expr);						\
	if (__m && __m != -ESTALE) {					\
		tap_diag("%s:%d: %s = %d, want 0 or -ESTALE", __FILE__,	\
			 __LINE__, #expr, __m);				\
		return false;						\
	}								\
	} while (0)

/*
 * Allocate unrooted garbage of every size class (up to > 128 KiB) until
 * @cycles more paced cycles have completed; false if they do not within
 * @max_mib MiB.  -ENOMEM (the cap, a cycle is queued) is retried.
 */
static bool pressure(int f, unsigned int cycles, unsigned int max_mib)
{
	static const uint64_t sizes[] = { 64, 1000, 16384, 40000, 200000, 700, 8192 };
	uint64_t c0 = collections_of(f), h, bytes = 0;
	unsigned int i = 0;
	int r;

	while (collections_of(f) < c0 + cycles) {
		if (bytes > (uint64_t)max_mib << 20) {
			tap_diag("%s: %u paced cycles not done after %u MiB (%llu -> %llu)",
				 __func__, cycles, max_mib, (unsigned long long)c0,
				 (unsigned long long)collections_of(f));
			return false;
		}
		for (r = 0; r < 8; r++, i++) {
			int ret = shp_alloc(f, SPANHEAP_KIND_DATA,
					    sizes[i % ARRAY_SIZE(sizes)], &h);

			if (ret && ret != -ENOMEM) {
				tap_diag("%s: alloc %d", __func__, ret);
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
 * live, leaving a dangling pointer in R[0].
 */
static bool store_after_paced_cycle(uint64_t len, int tries)
{
	uint64_t r, d, v, h, c0;
	int i, j, ret, stored = 0, badload = 0, written = 0;

	CHECK(!shp_alloc_flags(fd, SPANHEAP_KIND_REF, 1, SPANHEAP_ALLOC_ROOTED, &r));
	for (i = 0; i < tries; i++) {
		/* -ENOMEM: the cap is reached and a cycle queued; retry after it. */
		for (j = 0; (ret = shp_alloc(fd, SPANHEAP_KIND_DATA, len, &d)) == -ENOMEM; j++) {
			CHECK(j < 5000);
			pause_ms(1);
		}
		CHECK(!ret);
		/* Read after D exists: the cycle that moves it on marks without D. */
		c0 = collections_of(fd);
		for (j = 0; collections_of(fd) == c0; j += 4) {
			int k;

			CHECK(j < 8192);	/* 128 MiB of garbage and no paced cycle */
			for (k = 0; k < 4; k++) {
				ret = shp_alloc(fd, SPANHEAP_KIND_DATA, 16384, &h);
				CHECK(!ret || ret == -ENOMEM);
			}
		}
		ret = shp_store(fd, r, 0, d);
		CHECK(!ret || ret == -ESTALE);
		stored += !ret;
		CHECK(!shp_load(fd, r, 0, &v));
		badload += ret ? v != 0 : v != d;
		if (!ret)
			CHECK(!shp_store(fd, r, 0, 0));
		ret = shp_write(fd, d, 0, "x", 1);
		CHECK(!ret || ret == -ESTALE);
		written += !ret;
	}
	if (stored || badload || written)
		tap_diag("%d-byte D: %d of %d STOREs of a collected object succeeded, %d WRITEs, %d LOADs wrong",
			 (int)len, stored, tries, written, badload);
	return !stored && !badload && !written;
}

static bool t_store_collected_40000(void)
{
	return store_after_paced_cycle(40000, LOOPS(300));
}

static bool t_store_collected_200000(void)
{
	return store_after_paced_cycle(200000, LOOPS(100));
}

static bool t_store_collected_small(void)
{
	return store_after_paced_cycle(100, LOOPS(40));
}

/*
 * Defect 2: with the queue full the worker re-arms a due finalizer; if the
 * user set a new one meanwhile, the old token must still be delivered
 * (past the cap, events_overcap), then the new one, each exactly once.
 */
#define RQ_N	512
static bool t_requeue_overcap(void)
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
	CHECK(!shp_set_params(fd, &p));
	CHECK(fin_obj(1));
	CHECK(!shp_gc(fd, SPANHEAP_GC_WAIT, NULL));
	CHECK(stats_v1(&st) && st.events_pending == 1);	/* the queue is full */
	for (i = 0; i < RQ_N; i++)
		CHECK((x[i] = fin_obj(1000 + i)));
	/*
	 * Each cycle queues every due finalizer; the worker, finding the
	 * queue full, re-arms them, last queued first, while we set new
	 * finalizers on the ones it has not reached yet (-EEXIST: it had).
	 */
	for (round = 0; round < 8; round++) {
		CHECK(!shp_gc(fd, 0, NULL));
		for (i = 0; i < RQ_N; i++) {
			if (reset[i])
				continue;
			r = shp_set_finalizer(fd, x[i], 100000 + i);
			CHECK(!r || r == -EEXIST);
			if (!r) {
				reset[i] = 1;
				nreset++;
			}
		}
		CHECK(!shp_gc(fd, SPANHEAP_GC_WAIT, NULL));
	}
	CHECK(stats_v1(&st));
	tap_diag("%d of %d finalizers set again while queued; events_overcap %llu, events_deferred %llu",
		 nreset, RQ_N, (unsigned long long)st.events_overcap,
		 (unsigned long long)st.events_deferred);
	CHECK(nreset > 0);		/* else the race was not produced */
	CHECK(st.events_overcap == (uint64_t)nreset);
	p.event_queue_max = 4096;
	CHECK(!shp_set_params(fd, &p));
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
		CHECK(n == 0);
		CHECK(!shp_gc(fd, SPANHEAP_GC_WAIT, NULL));
		quiet = got ? 0 : quiet + 1;
	}
	for (i = 0; i < RQ_N; i++)
		if (seen1[i] != 1 || seen2[i] != reset[i])
			bad++;
	if (bad || seenp != 1 || other)
		tap_diag("%d objects lost or doubled a token (first: old %d new %d, re-set %d), pending-event token seen %d, others %d",
			 bad, seen1[0], seen2[0], reset[0], seenp, other);
	CHECK(!bad && seenp == 1 && !other);
	CHECK(stats_v1(&st) && st.finalizers_set == 0 && st.events_pending == 0);
	return true;
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
static bool wait_done(struct reader *r, unsigned int round)
{
	struct timespec dl = deadline_in(20, CLOCK_REALTIME);

	pthread_mutex_lock(&rd.lock);
	while (__atomic_load_n(&r->done, __ATOMIC_ACQUIRE) != round &&
	       pthread_cond_timedwait(&rd.cond, &rd.lock, &dl) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&rd.lock);
	if (__atomic_load_n(&r->done, __ATOMIC_ACQUIRE) == round)
		return true;
	tap_diag("round %u: a reader's read() did not return", round);
	return false;
}

/* Wait until one of @r has returned from round @round; its index or -1. */
static int wait_first(struct reader *r, unsigned int round)
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
		tap_diag("round %u: no reader got the event", round);
	return i;
}

/* Until reader @r is asleep in read() or has returned from @round. */
static bool wait_blocked_or_done(struct reader *r, unsigned int round)
{
	struct timespec dl = deadline_in(20, CLOCK_MONOTONIC);

	while (__atomic_load_n(&r->done, __ATOMIC_ACQUIRE) != round &&
	       !in_read(__atomic_load_n(&r->tid, __ATOMIC_ACQUIRE))) {
		if (deadline_passed(&dl)) {
			tap_diag("round %u: the other reader neither blocks nor returns", round);
			return false;
		}
		pause_ms(1);
	}
	return true;
}

static bool rd_clean(int round)
{
	bool ok;

	pthread_mutex_lock(&rd.lock);
	ok = !rd.zero && !rd.err;
	if (!ok)
		tap_diag("round %d: read() returned 0 %d times, failed %d times (%s)",
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
static bool readers_stop(struct reader *r, int started, int f)
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
				tap_diag("reader %d did not exit", i);
				return false;
			}
		}
	}
	return true;
}

static bool rd_tokens(int n)
{
	int i, bad = 0;

	for (i = 1; i <= n; i++)
		bad += rd.seen[i] != 1;
	if (bad || rd.total != n)
		tap_diag("%d events read for %d, %d tokens not seen exactly once",
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

static bool putback_race(int f)
{
	struct pollfd pf = { .fd = f, .events = POLLIN };
	struct badreader b[2] = { { .fd = f }, { .fd = f } };
	struct spanheap_event ev;
	struct timespec dl;
	int i, started;
	bool ok = true;

	if (!bad_buf) {
		bad_buf = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CHECK(bad_buf != MAP_FAILED);
	}
	CHECK(emit_events(f, 77, 1));
	for (started = 0; started < 2; started++) {
		if (pthread_create(&b[started].th, NULL, bad_reader_fn, &b[started]))
			break;
		pin(b[started].th, started);
	}
	for (i = 0; i < started; i++) {
		dl = deadline_in(30, CLOCK_REALTIME);
		if (pthread_timedjoin_np(b[i].th, NULL, &dl)) {
			tap_diag("a reader sleeps although the event is pending");
			/* The queue is not empty: wake it with another event. */
			emit_events(f, 78, 1);
			pthread_join(b[i].th, NULL);
			ok = false;
		}
	}
	for (i = 0; i < started; i++) {
		if (b[i].zero || b[i].other)
			tap_diag("bad buffer: read() returned 0 %d times, %d other results (last %d); %d -EFAULT, %d -EAGAIN",
				 b[i].zero, b[i].other, b[i].last, b[i].efault, b[i].eagain);
		ok = ok && !b[i].zero && !b[i].other;
	}
	CHECK(started == 2 && ok);
	CHECK(b[0].efault + b[1].efault > 0);
	CHECK(read(f, &ev, sizeof(ev)) == sizeof(ev) && ev.token == 77);
	CHECK(poll(&pf, 1, 0) == 0);			/* given back, not copied */
	return true;
}

/*
 * Blocking readers: the loser of each round blocks (it used to return
 * 0) until a second event comes for it.
 */
static bool t_read_race_blocking(void)
{
	struct spanheap_params p = { .flags = SPANHEAP_PARAM_GC_PERCENT, .gc_percent = -1 };
	struct reader r[2] = { { 0 } };
	int bfd = shp_open(0), started = 0, w;
	bool ok = bfd >= 0 && !shp_set_params(bfd, &p);
	unsigned int k;

	if (ok)
		started = readers_start(r, bfd);
	ok = ok && started == 2;
	for (k = 1; ok && k <= RD_ROUNDS; k++) {
		ok = emit_events(bfd, 2 * k - 1, 1);
		__atomic_store_n(&rd.go, k, __ATOMIC_RELEASE);
		w = ok ? wait_first(r, k) : -1;
		ok = w >= 0 && wait_blocked_or_done(&r[!w], k) &&
		     emit_events(bfd, 2 * k, 1) && wait_done(&r[!w], k) &&
		     rd_clean(k);
	}
	ok = ok && rd_tokens(2 * RD_ROUNDS);
	if (!readers_stop(r, started, bfd))
		return false;		/* leaves bfd open: a thread still reads it */
	ok = ok && putback_race(bfd);
	if (bfd >= 0)
		close(bfd);
	return ok;
}

/* O_NONBLOCK readers: the loser gets -EAGAIN (it used to get 0). */
static bool t_read_race_nonblock(void)
{
	struct spanheap_params p = { .flags = SPANHEAP_PARAM_GC_PERCENT, .gc_percent = -1 };
	struct reader r[2] = { { 0 } };
	bool ok = !shp_set_params(fd, &p);
	int started = 0;
	unsigned int k;

	if (ok)
		started = readers_start(r, fd);
	ok = ok && started == 2;
	for (k = 1; ok && k <= RD_ROUNDS; k++) {
		ok = emit_events(fd, k, 1);
		__atomic_store_n(&rd.go, k, __ATOMIC_RELEASE);
		ok = ok && wait_done(&r[0], k) && wait_done(&r[1], k) && rd_clean(k);
	}
	ok = ok && rd_tokens(RD_ROUNDS);
	return readers_stop(r, started, fd) && ok && putback_race(fd);
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
#define SAME(field) do {						\
	CHECK(stats_v1(&now));						\
	if (now.field != before.field) {				\
		tap_diag("%s:%d: %s %lld -> %lld", __FILE__, __LINE__,	\
			 #field, (long long)before.field,		\
			 (long long)now.field);				\
		return false;						\
	}								\
	} while (0)

static bool t_readonly_args(void)
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
		CHECK(ro_page != MAP_FAILED);
	}
	CHECK(gb);
	CHECK(!shp_alloc_flags(fd, SPANHEAP_KIND_DATA, 8, SPANHEAP_ALLOC_ROOTED, &h));
	CHECK(!shp_alloc_flags(fd, SPANHEAP_KIND_REF, 1, SPANHEAP_ALLOC_ROOTED, &r));
	CHECK(stats_v1(&before));

	CHECK_ERR(RO(SPANHEAP_IOC_GC, g), EFAULT);
	SAME(collections);
	CHECK(!shp_read(fd, gb, 0, buf, 1));		/* no cycle ran */

	CHECK_ERR(RO(SPANHEAP_IOC_ALLOC, a), EFAULT);
	SAME(objects);
	a.flags = SPANHEAP_ALLOC_ROOTED;
	CHECK_ERR(RO(SPANHEAP_IOC_ALLOC, a), EFAULT);
	SAME(objects);
	SAME(roots);

	rt.handle = h;
	CHECK_ERR(RO(SPANHEAP_IOC_ROOT, rt), EFAULT);
	SAME(roots);
	CHECK_ERR(RO(SPANHEAP_IOC_UNROOT, rt), EFAULT);
	SAME(roots);
	CHECK(!shp_gc(fd, 0, NULL));
	CHECK(!shp_read(fd, h, 0, buf, 1));		/* still rooted */
	CHECK(!shp_root(fd, h, &c) && c == 2);		/* exactly once */
	CHECK(!shp_unroot(fd, h, &c) && c == 1);

	fz.handle = h;
	CHECK_ERR(RO(SPANHEAP_IOC_FINALIZER, fz), EFAULT);
	SAME(finalizers_set);
	CHECK(!shp_set_finalizer(fd, h, 9));		/* not -EEXIST */
	CHECK(stats_v1(&before));
	fz.flags = SPANHEAP_FIN_CLEAR;
	fz.token = 0;
	CHECK_ERR(RO(SPANHEAP_IOC_FINALIZER, fz), EFAULT);
	SAME(finalizers_set);
	CHECK_ERR(shp_set_finalizer(fd, h, 10), EEXIST);

	CHECK_ERR(RO(SPANHEAP_IOC_SET_PARAMS, p), EFAULT);
	SAME(gc_percent);
	SAME(mem_limit);
	SAME(event_queue_max);

	rw.handle = h;
	CHECK_ERR(RO(SPANHEAP_IOC_WRITE, rw), EFAULT);
	CHECK(!shp_read(fd, h, 0, buf, 8));
	CHECK(!memcmp(buf, "\0\0\0\0\0\0\0\0", 8));	/* nothing written */
	rw.buf = (uintptr_t)buf;
	CHECK_ERR(RO(SPANHEAP_IOC_READ, rw), EFAULT);

	ref.handle = r;
	ref.value = h;
	CHECK_ERR(RO(SPANHEAP_IOC_STORE, ref), EFAULT);
	CHECK(!shp_load(fd, r, 0, &v) && v == 0);	/* nothing stored */
	ref.value = 0;
	CHECK_ERR(RO(SPANHEAP_IOC_LOAD, ref), EFAULT);
	now.size = sizeof(now);
	CHECK_ERR(RO(SPANHEAP_IOC_STATS, now), EFAULT);

	/* No rooted object nobody can name was left behind. */
	CHECK(!shp_gc(fd, 0, NULL) && stats_v1(&now));
	CHECK(now.objects == 2 && now.roots == 2);
	return true;
}

/* ---- defect 8: ABI edges ---- */

static const unsigned long all_cmds[] = {
	SPANHEAP_IOC_ALLOC, SPANHEAP_IOC_WRITE, SPANHEAP_IOC_READ,
	SPANHEAP_IOC_STORE, SPANHEAP_IOC_LOAD, SPANHEAP_IOC_ROOT,
	SPANHEAP_IOC_UNROOT, SPANHEAP_IOC_FINALIZER, SPANHEAP_IOC_GC,
	SPANHEAP_IOC_STATS, SPANHEAP_IOC_SET_PARAMS,
};

/* Two pages of zeroes, one valid struct for @cmd at the start. */
static union {
	uint32_t size;
	struct spanheap_alloc alloc;
	struct spanheap_rw rw;
	struct spanheap_ref ref;
	struct spanheap_root root;
	struct spanheap_finalizer fin;
	uint64_t raw[8192 / 8];
} big_arg;

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
	}
	big_arg.size = size;
	return &big_arg;
}

static size_t cmd_size(unsigned long cmd)
{
	return _IOC_SIZE(cmd);
}

static bool t_e2big(void)
{
	static const uint32_t sizes[] = { SPANHEAP_MAX_ARG_SIZE + 1, 8000, 1U << 31, ~0U };
	uint64_t h = obj(SPANHEAP_KIND_DATA, 8), r = obj(SPANHEAP_KIND_REF, 1);
	struct spanheap_stats_v1 before, now;
	size_t i, j;
	int ret;

	CHECK(h && r && !shp_root(fd, h, NULL) && !shp_root(fd, r, NULL));
	CHECK(stats_v1(&before));
	for (i = 0; i < ARRAY_SIZE(all_cmds); i++) {
		for (j = 0; j < ARRAY_SIZE(sizes); j++) {
			ret = shp_ioctl(fd, all_cmds[i], arg_for(all_cmds[i], sizes[j], h, r));
			if (ret != -E2BIG) {
				tap_diag("cmd %d size %u: %d (%s), want -E2BIG",
					 (int)_IOC_NR(all_cmds[i]), sizes[j], ret,
					 strerror(-ret));
				return false;
			}
		}
		/* The largest size allowed works (zero tail). */
		ret = shp_ioctl(fd, all_cmds[i],
				arg_for(all_cmds[i], SPANHEAP_MAX_ARG_SIZE, h, r));
		if (ret) {
			tap_diag("cmd %d size %u: %d (%s), want 0", (int)_IOC_NR(all_cmds[i]),
				 SPANHEAP_MAX_ARG_SIZE, ret, strerror(-ret));
			return false;
		}
		if (all_cmds[i] == SPANHEAP_IOC_ALLOC) {
			CHECK(!shp_gc(fd, 0, NULL));	/* drop what that made */
			CHECK(stats_v1(&before));
		}
	}
	SAME(objects);
	SAME(roots);
	return true;
}

/* The kernel writes its own size back, whatever the caller's. */
static bool t_size_writeback(void)
{
	static const uint32_t sizes[] = { 0, 8, 64, SPANHEAP_MAX_ARG_SIZE };
	uint64_t h = obj(SPANHEAP_KIND_DATA, 8), r = obj(SPANHEAP_KIND_REF, 1);
	size_t i, j, want;
	int ret;

	CHECK(h && r && !shp_root(fd, h, NULL) && !shp_root(fd, r, NULL));
	for (i = 0; i < ARRAY_SIZE(all_cmds); i++) {
		want = cmd_size(all_cmds[i]);
		for (j = 0; j < ARRAY_SIZE(sizes); j++) {
			uint32_t size = want + sizes[j];

			if (size > SPANHEAP_MAX_ARG_SIZE)
				size = SPANHEAP_MAX_ARG_SIZE;
			ret = shp_ioctl(fd, all_cmds[i], arg_for(all_cmds[i], size, h, r));
			if (ret || big_arg.size != want) {
				tap_diag("cmd %d size %u: %d, size written back %u, want %u",
					 (int)_IOC_NR(all_cmds[i]), size, ret,
					 big_arg.size, (unsigned int)want);
				return false;
			}
		}
	}
	return true;
}

static bool t_load_value_reserved(void)
{
	struct spanheap_ref a = { .size = sizeof(a), .value = 123 };
	uint64_t r = obj(SPANHEAP_KIND_REF, 1), d = obj(SPANHEAP_KIND_DATA, 1);

	CHECK(r && d && !shp_store(fd, r, 0, d));
	a.handle = r;
	CHECK_ERR(shp_ioctl(fd, SPANHEAP_IOC_LOAD, &a), EINVAL);
	a.value = 0;
	CHECK(!shp_ioctl(fd, SPANHEAP_IOC_LOAD, &a) && a.value == d);
	a.value = d;				/* even the right answer */
	CHECK_ERR(shp_ioctl(fd, SPANHEAP_IOC_LOAD, &a), EINVAL);
	return true;
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

static void tap_skip(const char *desc, const char *why)
{
	printf("ok %d - %s # SKIP %s\n", ++tap_n, desc, why);
	fflush(stdout);
}

/*
 * Writing each of @bad to module parameter @name fails with -EINVAL and
 * changes nothing; a value that does not parse as the parameter's type
 * (marked by a leading '!') may also give -ERANGE.
 */
static bool param_rejects(const char *name, const char *const *bad, int nbad)
{
	char old[64], now[64];
	bool ok = true;
	int i, r;

	if (param_read(name, old, sizeof(old))) {
		tap_diag("%s%s missing", PARAMS_DIR, name);
		return false;
	}
	for (i = 0; i < nbad; i++) {
		const char *val = bad[i] + (bad[i][0] == '!');

		r = param_write(name, val);
		if (r == -ERANGE && val != bad[i])
			r = -EINVAL;
		if (param_read(name, now, sizeof(now)) || strcmp(now, old) || r != -EINVAL) {
			tap_diag("%s=%s: write %d, value %s -> %s", name, val, r, old, now);
			param_write(name, old);
			ok = false;
		}
	}
	return ok;
}

static bool t_module_params(void)
{
	static const char *const mem[] = { "0", "1048575", "1099511627777", "-1", "x" };
	static const char *const evq[] = { "0", "1048577", "!4294967296" };
	static const char *const heaps[] = { "0", "65537" };
	bool ok;

	ok = param_rejects("mem_limit", mem, ARRAY_SIZE(mem));
	ok &= param_rejects("event_queue_max", evq, ARRAY_SIZE(evq));
	ok &= param_rejects("max_user_heaps", heaps, ARRAY_SIZE(heaps));
	return ok;
}

/* max_user_heaps=4: run()'s file and three more, then -EMFILE. */
static bool t_max_user_heaps(void)
{
	char old[32];
	int fds[8], n, r, r2 = -1;
	bool ok;

	CHECK(!param_read("max_user_heaps", old, sizeof(old)));
	CHECK(!param_write("max_user_heaps", "4"));
	for (n = 0; n < 8; n++) {
		r = shp_open(O_NONBLOCK);
		if (r < 0)
			break;
		fds[n] = r;
	}
	ok = n == 3 && r == -EMFILE;
	if (!ok)
		tap_diag("opened %d more files (want 3), then %d (want -EMFILE)", n, r);
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
			tap_diag("after a close: open %d, then %d (want -EMFILE)", r, r2);
	}
	while (n)
		close(fds[--n]);
	if (param_write("max_user_heaps", old)) {
		tap_diag("could not restore max_user_heaps=%s", old);
		ok = false;
	}
	return ok;
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

static bool t_paced_roots(void)
{
	struct spanheap_stats_v1 st;
	uint64_t h[NPS], c;
	size_t i;

	for (i = 0; i < NPS; i++) {
		CHECK0(alloc_then_root(fd, SPANHEAP_KIND_DATA, paced_sizes[i], &h[i]));
		CHECK0(data_put(fd, h[i], paced_sizes[i], i));
		if (i & 1)
			CHECK(!shp_root(fd, h[i], &c) && c == 2);
	}
	CHECK(pressure(fd, 3, 512));
	for (i = 0; i < NPS; i++)
		CHECK0(data_check(fd, h[i], paced_sizes[i], i));
	for (i = 0; i < NPS; i++)
		CHECK(!shp_unroot(fd, h[i], &c) && c == (i & 1));
	CHECK(stats_v1(&st) && st.roots == NPS / 2);
	CHECK(pressure(fd, 3, 512));
	for (i = 0; i < NPS; i++) {
		if (i & 1)
			CHECK0(data_check(fd, h[i], paced_sizes[i], i));
		else
			CHECK_MAYGO(data_check(fd, h[i], paced_sizes[i], i));
	}
	for (i = 1; i < NPS; i += 2)
		CHECK(!shp_unroot(fd, h[i], &c) && c == 0);
	CHECK(pressure(fd, 2, 512));
	for (i = 0; i < NPS; i++)
		CHECK_MAYGO(data_check(fd, h[i], paced_sizes[i], i));
	return true;
}

/* ALLOC_ROOTED objects and the children stored in a rooted REF. */
static bool t_paced_alloc_rooted(void)
{
	uint64_t h[NPS], kid[NPS], ref, v, c;
	size_t i;

	CHECK(!shp_alloc_flags(fd, SPANHEAP_KIND_REF, NPS, SPANHEAP_ALLOC_ROOTED, &ref));
	for (i = 0; i < NPS; i++) {
		CHECK(!shp_alloc_flags(fd, SPANHEAP_KIND_DATA, paced_sizes[i],
				       SPANHEAP_ALLOC_ROOTED, &h[i]));
		CHECK0(data_put(fd, h[i], paced_sizes[i], i));
		CHECK0(alloc_stored(fd, ref, i, paced_sizes[NPS - 1 - i], &kid[i]));
		CHECK0(data_put(fd, kid[i], paced_sizes[NPS - 1 - i], 100 + i));
	}
	CHECK(pressure(fd, 4, 512));
	for (i = 0; i < NPS; i++) {
		CHECK0(data_check(fd, h[i], paced_sizes[i], i));
		CHECK(!shp_load(fd, ref, i, &v) && v == kid[i]);
		CHECK0(data_check(fd, kid[i], paced_sizes[NPS - 1 - i], 100 + i));
	}
	CHECK(!shp_unroot(fd, ref, &c) && c == 0);
	for (i = 0; i < NPS; i += 2)
		CHECK(!shp_unroot(fd, h[i], &c) && c == 0);
	CHECK(pressure(fd, 3, 512));
	for (i = 0; i < NPS; i++) {
		if (i & 1)
			CHECK0(data_check(fd, h[i], paced_sizes[i], i));
		else
			CHECK_MAYGO(data_check(fd, h[i], paced_sizes[i], i));
		CHECK_MAYGO(data_check(fd, kid[i], paced_sizes[NPS - 1 - i], 100 + i));
	}
	return true;
}

/* A rooted list of REF nodes, each with a DATA leaf; then cut in half. */
#define CHAIN_N	40
static bool t_paced_chain(void)
{
	uint64_t node[CHAIN_N], leaf[CHAIN_N], head, v;
	int i, r;

	CHECK(!shp_alloc_flags(fd, SPANHEAP_KIND_REF, 1, SPANHEAP_ALLOC_ROOTED, &head));
	for (i = 0; i < CHAIN_N; i++) {
		uint64_t parent = i ? node[i - 1] : head, len = paced_sizes[i % NPS];
		int j;

		/* A fresh node is garbage until stored: retry if a cycle took it. */
		for (j = 0, r = -ESTALE; j < 100 && r == -ESTALE; j++) {
			r = shp_alloc(fd, SPANHEAP_KIND_REF, 2, &node[i]);
			if (!r)
				r = shp_store(fd, parent, 0, node[i]);
		}
		CHECK(!r);
		CHECK0(alloc_stored(fd, node[i], 1, len, &leaf[i]));
		CHECK0(data_put(fd, leaf[i], len, i));
		if (i % 8 == 0)
			CHECK(pressure(fd, 1, 512));
	}
	CHECK(pressure(fd, 3, 512));
	for (i = 0, v = head; i < CHAIN_N; i++) {
		CHECK(!shp_load(fd, v, 0, &v) && v == node[i]);
		CHECK(!shp_load(fd, v, 1, &v) && v == leaf[i]);
		CHECK0(data_check(fd, leaf[i], paced_sizes[i % NPS], i));
		v = node[i];
	}
	CHECK(!shp_load(fd, node[CHAIN_N - 1], 0, &v) && v == 0);
	CHECK(!shp_store(fd, node[CHAIN_N / 2 - 1], 0, 0));	/* cut */
	CHECK(pressure(fd, 3, 512));
	for (i = 0; i < CHAIN_N; i++) {
		if (i < CHAIN_N / 2) {
			CHECK(!shp_load(fd, node[i], 1, &v) && v == leaf[i]);
			CHECK0(data_check(fd, leaf[i], paced_sizes[i % NPS], i));
			continue;
		}
		/* Unreachable: gone, or still whole and unchanged. */
		r = shp_load(fd, node[i], 1, &v);
		CHECK_MAYGO(r);
		CHECK(r || v == leaf[i]);
		CHECK_MAYGO(data_check(fd, leaf[i], paced_sizes[i % NPS], i));
	}
	return true;
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

/* Go's order with paced cycles: A -> B -> C, each a cycle after the last is read. */
static bool t_paced_fin_chain(void)
{
	uint64_t hs[3], leaf, v;
	struct spanheap_event ev[8];
	int i, got = 0, cycles;
	ssize_t n;

	for (i = 0; i < 3; i++)
		CHECK((hs[i] = paced_fin_obj(i + 1)));
	CHECK(!shp_store(fd, hs[0], 0, hs[1]) && !shp_store(fd, hs[1], 0, hs[2]));
	CHECK(!shp_alloc_flags(fd, SPANHEAP_KIND_DATA, 40000, SPANHEAP_ALLOC_ROOTED, &leaf));
	CHECK0(data_put(fd, leaf, 40000, 5));
	CHECK0(shp_store(fd, hs[2], 1, leaf));
	CHECK(!shp_unroot(fd, leaf, NULL));
	for (i = 0; i < 3; i++)
		CHECK(!shp_unroot(fd, hs[i], NULL));
	for (cycles = 0; got < 3; cycles++) {
		CHECK(cycles < 100);
		CHECK(pressure(fd, 1, 256));
		/* Finalizable or with an unread event: all of it stays. */
		for (i = got; i < 3; i++)
			CHECK(!shp_load(fd, hs[i], 0, &v) && v == (i < 2 ? hs[i + 1] : 0));
		CHECK0(data_check(fd, leaf, 40000, 5));
		n = shp_events(fd, ev, 8);
		CHECK(n >= 0 && got + n <= 3);
		for (i = 0; i < n; i++, got++) {
			if (ev[i].token != (uint64_t)got + 1 || ev[i].handle != hs[got]) {
				tap_diag("event %d: token %llu, want %d", got,
					 (unsigned long long)ev[i].token, got + 1);
				return false;
			}
		}
	}
	CHECK(pressure(fd, 2, 256));
	CHECK(shp_events(fd, ev, 8) == 0);		/* no fourth, no duplicate */
	return true;
}

/* Pressure until an event is pending (poll), at most 100 paced cycles. */
static bool paced_wait_event(void)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	int i;

	for (i = 0; i < 100; i++) {
		if (poll(&pf, 1, 0) == 1)
			return true;
		if (!pressure(fd, 1, 256))
			return false;
	}
	tap_diag("no event after 100 paced cycles");
	return false;
}

/*
 * Finalizer, event, resurrection, second finalizer.  Reading the first
 * event makes the object garbage until ROOT: a paced cycle in between
 * may take it (-ESTALE), so that case starts over.
 */
static bool t_paced_resurrection(void)
{
	struct spanheap_event ev;
	uint64_t a, kid, v;
	int tries, r;

	for (tries = 0; tries < 5; tries++) {
		CHECK((a = paced_fin_obj(7)));
		CHECK0(alloc_stored(fd, a, 0, 200000, &kid));
		CHECK0(data_put(fd, kid, 200000, 3));
		CHECK(!shp_unroot(fd, a, NULL));
		CHECK(paced_wait_event());
		/* Pending: the object and its child stay, intact. */
		CHECK(!shp_load(fd, a, 0, &v) && v == kid);
		CHECK0(data_check(fd, kid, 200000, 3));
		CHECK(shp_events(fd, &ev, 1) == 1 && ev.token == 7 && ev.handle == a);
		r = shp_root(fd, a, NULL);		/* resurrect */
		if (r != -ESTALE)
			break;
	}
	CHECK_ERR(r, 0);
	CHECK(!shp_set_finalizer(fd, a, 8));
	CHECK(pressure(fd, 3, 512));
	CHECK(shp_events(fd, &ev, 1) == 0);		/* rooted: not due */
	CHECK(!shp_load(fd, a, 0, &v) && v == kid);
	CHECK0(data_check(fd, kid, 200000, 3));
	CHECK(!shp_unroot(fd, a, NULL));
	CHECK(paced_wait_event());
	CHECK(!shp_load(fd, a, 0, &v) && v == kid);
	CHECK0(data_check(fd, kid, 200000, 3));
	CHECK(shp_events(fd, &ev, 1) == 1 && ev.token == 8 && ev.handle == a);
	CHECK(pressure(fd, 2, 512));
	CHECK(shp_events(fd, &ev, 1) == 0);		/* once only */
	CHECK_MAYGO(data_check(fd, kid, 200000, 3));
	return true;
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

static bool t_paced_threads(void)
{
	pthread_t th[4];
	struct pthr t[4];
	int i;

	for (i = 0; i < 4; i++) {
		t[i].id = i;
		t[i].diag[0] = 0;
		CHECK(!pthread_create(&th[i], NULL, paced_hammer, &t[i]));
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 4; i++) {
		if (!t[i].ok)
			tap_diag("thread %d: %s", i, t[i].diag);
		CHECK(t[i].ok);
	}
	return true;
}

/* Each test gets a fresh heap, with pacing off so cycles come only when asked. */
static void run(bool (*test)(void), const char *desc)
{
	struct spanheap_params p = { .flags = SPANHEAP_PARAM_GC_PERCENT, .gc_percent = -1 };
	bool ok;

	fd = shp_open(O_NONBLOCK);
	ok = fd >= 0 && !shp_set_params(fd, &p) && test();
	tap_ok(ok, "%s", desc);
	if (fd >= 0)
		close(fd);
}

/*
 * Paced: a fresh heap with the defaults (pacing on, background sweeper).
 * The test must not call GC; paced cycles must have run by its end.
 */
static void run_paced(bool (*test)(void), const char *desc)
{
	struct spanheap_stats_v1 st;
	uint64_t c0 = 0;
	bool ok;

	fd = shp_open(O_NONBLOCK);
	ok = fd >= 0 && stats_v1(&st) && st.gc_percent == 100;
	c0 = ok ? st.collections : 0;
	ok = ok && test();
	if (ok && collections_of(fd) <= c0) {
		tap_diag("no paced cycle ran");
		ok = false;
	}
	tap_ok(ok, "paced: %s", desc);
	if (fd >= 0)
		close(fd);
}

/* As root with the module's parameters in sysfs; else skipped. */
static void run_params(bool (*test)(void), const char *desc)
{
	if (!params_writable()) {
		tap_skip(desc, "needs root and " PARAMS_DIR);
		return;
	}
	run(test, desc);
}

static const struct {
	bool (*fn)(void);
	void (*runner)(bool (*test)(void), const char *desc);
	const char *desc;
} tests[] = {
	{ t_data_roundtrip, run, "DATA alloc, zeroed, write/read round trip" },
	{ t_ref_roundtrip, run, "REF store/load round trip, empty slots" },
	{ t_roots_counted, run, "root/unroot are counted; unrooted objects are collected" },
	{ t_alloc_rooted, run, "ALLOC_ROOTED objects survive cycles until unrooted" },
	{ t_struct_sizes, run, "struct sizes: short, long with zero/non-zero tail, stats prefix, bad pointers" },
	{ t_reserved_flags_commands, run, "reserved fields, unknown flags, unknown commands; nothing changes" },
	{ t_bad_sizes_and_ranges, run, "huge/zero allocations, bad kinds, out-of-range offsets and slots" },
	{ t_kind_misuse, run, "DATA/REF misuse" },
	{ t_stale_foreign_madeup, run, "stale, foreign and made-up handles" },
	{ t_finalizer_errors, run, "finalizer set twice, clear, clear none" },
	{ t_chain_order, run, "chain A->B->C finalized over three cycles, in order" },
	{ t_diamond_and_cycle, run, "diamond order; a cycle is never finalized nor freed" },
	{ t_resurrection, run, "pending event keeps the object; resurrection and re-registration" },
	{ t_read_poll_nonblock, run, "poll/epoll readiness, O_NONBLOCK, short buffers, whole records" },
	{ t_signal_interrupts_read, run, "a signal interrupts a blocking read" },
	{ t_queue_cap, run, "full event queue defers finalizers, none lost or doubled" },
	{ t_params, run, "parameters: limits checked, memory cap enforced and recovered" },
	{ t_threads, run, "concurrent ioctls from four threads on one fd" },
	{ t_close_while_delivering, run, "close while the worker delivers events" },
	{ t_fork_and_isolation, run, "fork shares the heap; another open cannot see it" },
	{ t_rmmod_refused, run, "rmmod refused while a file is open" },
	{ t_stats_have_no_addresses, run, "no kernel address in stats" },
	/* issue 7 regressions */
	{ t_store_collected_40000, run_paced, "STORE of a 40000-byte object a paced cycle found dead: -ESTALE, every time" },
	{ t_store_collected_200000, run_paced, "STORE of a 200000-byte object a paced cycle found dead: -ESTALE, every time" },
	{ t_store_collected_small, run_paced, "STORE of a 100-byte object a paced cycle found dead: -ESTALE, every time" },
	{ t_requeue_overcap, run, "queue full, finalizer set again while queued: every token exactly once (events_overcap)" },
	{ t_read_race_blocking, run, "two readers, one event: one gets it, the other blocks until the next; faulting buffers: never 0" },
	{ t_read_race_nonblock, run, "O_NONBLOCK readers racing: a record or -EAGAIN, never 0; faulting buffers: -EFAULT or -EAGAIN" },
	{ t_readonly_args, run, "read-only argument structs: -EFAULT and nothing changed, every command" },
	{ t_e2big, run, "size > 4096 is -E2BIG for every command; 4096 with a zero tail works" },
	{ t_size_writeback, run, "the kernel writes its own struct size back" },
	{ t_load_value_reserved, run, "LOAD with value != 0 is -EINVAL" },
	{ t_module_params, run_params, "module parameters reject 0 and out-of-range writes, unchanged" },
	{ t_max_user_heaps, run_params, "max_user_heaps: the next open is -EMFILE until one closes" },
	/* paced siblings (rule 9) */
	{ t_paced_roots, run_paced, "counted roots keep objects of every size through paced cycles" },
	{ t_paced_alloc_rooted, run_paced, "ALLOC_ROOTED objects and a rooted REF's children survive paced cycles" },
	{ t_paced_chain, run_paced, "a rooted REF chain survives; its cut tail may go" },
	{ t_paced_fin_chain, run_paced, "finalizer chain A->B->C in order; finalizable objects stay" },
	{ t_paced_resurrection, run_paced, "event keeps the object; resurrection; second finalizer once" },
	{ t_paced_threads, run_paced, "four threads, rooted objects of every size amid garbage" },
};

int main(void)
{
	size_t i;

	fd = shp_open(O_NONBLOCK);
	if (fd < 0) {
		printf("1..0 # SKIP /dev/spanheap: %s\n", strerror(-fd));
		return 1;
	}
	close(fd);
	tap_plan((int)ARRAY_SIZE(tests));
	for (i = 0; i < ARRAY_SIZE(tests); i++)
		tests[i].runner(tests[i].fn, tests[i].desc);
	tap_exit();
}
