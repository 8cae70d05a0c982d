// SPDX-License-Identifier: GPL-2.0
/*
 * spanheap ioctl selftests (TAP): every command, Go's finalizer ordering
 * and resurrection through the device, and every kind of bad input.
 * Runs in the QEMU guests of both the test kernel and Debian's kernel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
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

static int fd;

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

int main(void)
{
	fd = shp_open(O_NONBLOCK);
	if (fd < 0) {
		printf("1..0 # SKIP /dev/spanheap: %s\n", strerror(-fd));
		return 1;
	}
	close(fd);
	tap_plan(22);
	run(t_data_roundtrip, "DATA alloc, zeroed, write/read round trip");
	run(t_ref_roundtrip, "REF store/load round trip, empty slots");
	run(t_roots_counted, "root/unroot are counted; unrooted objects are collected");
	run(t_alloc_rooted, "ALLOC_ROOTED objects survive cycles until unrooted");
	run(t_struct_sizes, "struct sizes: short, long with zero/non-zero tail, stats prefix, bad pointers");
	run(t_reserved_flags_commands, "reserved fields, unknown flags, unknown commands; nothing changes");
	run(t_bad_sizes_and_ranges, "huge/zero allocations, bad kinds, out-of-range offsets and slots");
	run(t_kind_misuse, "DATA/REF misuse");
	run(t_stale_foreign_madeup, "stale, foreign and made-up handles");
	run(t_finalizer_errors, "finalizer set twice, clear, clear none");
	run(t_chain_order, "chain A->B->C finalized over three cycles, in order");
	run(t_diamond_and_cycle, "diamond order; a cycle is never finalized nor freed");
	run(t_resurrection, "pending event keeps the object; resurrection and re-registration");
	run(t_read_poll_nonblock, "poll/epoll readiness, O_NONBLOCK, short buffers, whole records");
	run(t_signal_interrupts_read, "a signal interrupts a blocking read");
	run(t_queue_cap, "full event queue defers finalizers, none lost or doubled");
	run(t_params, "parameters: limits checked, memory cap enforced and recovered");
	run(t_threads, "concurrent ioctls from four threads on one fd");
	run(t_close_while_delivering, "close while the worker delivers events");
	run(t_fork_and_isolation, "fork shares the heap; another open cannot see it");
	run(t_rmmod_refused, "rmmod refused while a file is open");
	run(t_stats_have_no_addresses, "no kernel address in stats");
	tap_exit();
}
