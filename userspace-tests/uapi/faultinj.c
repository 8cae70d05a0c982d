// SPDX-License-Identifier: GPL-2.0
/*
 * spanheap systematic fault injection, as syzkaller does it.
 *
 * For each call below: build a fresh state (a file with rooted DATA
 * objects of three size classes, a REF object referring to two of them, a
 * rooted object with a finalizer, one unread finalizer event, a cleanup
 * and a weak handle), then
 * for n = 1, 2, ...: write n to /proc/thread-self/fail-nth, make the
 * call, read fail-nth back.  Non-zero means the n-th fault point was not
 * reached: the call ran clean and the loop ends.  Otherwise, if the call
 * failed, it must have failed with an errno of its row in calls[], and
 * left everything as it was: STATS (objects, roots, finalizers_set,
 * cleanups_set, weak_handles, events_pending, events_read, parameters;
 * collections too except for
 * GC), every handle's bytes and slots, and the pending event; a retry
 * without injection then succeeds.  n stops at MAX_NTH.
 *
 * The n-th fault point is the n-th slab or page allocation (failslab,
 * fail_page_alloc) or user copy (fail_usercopy) of this thread; the
 * debugfs knobs are set here too if writable (probability 0: nothing
 * fails except through fail-nth).  Kernel warnings printed during a call
 * (read from /dev/kmsg) fail it.
 *
 * TAP (kselftest.h): one test per call.  Without /proc/thread-self/fail-nth
 * (Debian's kernel has no fault injection) one skipped test: "# SKIP no
 * fail-nth".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "libspanheap.h"
#include "kselftest/kselftest.h"
#include "testutil.h"

#define MAX_NTH		200
#define BUDGET_S	900	/* the whole program; the rest is skipped */
#define D1_LEN		100
#define D2_LEN		40000	/* > 32 KiB */
#define D3_LEN		200000	/* > 128 KiB */
#define F_LEN		16
#define E_LEN		64
#define T_F		0x7001	/* armed token of F (rooted: never runs) */
#define T_E		0x7002	/* token of E's pending event */
#define T_NEW		0x7003
#define T_C		0x7004	/* D2's cleanup (D2 is reachable: never runs) */

/* The state each injected call starts from. */
struct state {
	int fd;
	uint64_t r, d1, d2, d3, fo, e;
	uint64_t cid, w;		/* D2's cleanup, D1's weak handle */
	struct spanheap_stats_v1 snap;
};

static struct state S;
static int nth_fd = -1, kmsg_fd = -1;
static unsigned char b_old[D3_LEN], b_new[D3_LEN], b_rd[D3_LEN];
static struct spanheap_event ev_buf[4];
static int fails;		/* failures in the current call's test */
static int cur_n, cur_ret;	/* the fault point, and what the call returned */
static bool read_gave_event;	/* the read() row's call returned E's event */

static void pattern(unsigned char *b, uint64_t gen, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = mix64(gen * 0x9e3779b97f4a7c15ULL + i / 8) >> (8 * (i % 8));
}

static const char *errname(int ret)
{
	static char buf[16];

	switch (-ret) {
	case 0: return "0";
	case ENOMEM: return "ENOMEM";
	case EFAULT: return "EFAULT";
	case ENFILE: return "ENFILE";
	case EMFILE: return "EMFILE";
	case EINVAL: return "EINVAL";
	case ESTALE: return "ESTALE";
	case ENOENT: return "ENOENT";
	case EEXIST: return "EEXIST";
	case EAGAIN: return "EAGAIN";
	case E2BIG: return "E2BIG";
	case EINTR: return "EINTR";
	}
	snprintf(buf, sizeof(buf), "%d", ret);
	return buf;
}

static void __printf(1, 2) bad(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (fails++ < 8) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		ksft_print_msg("n=%d (returned %s): %s\n", cur_n, errname(cur_ret), msg);
	}
}

/* ---- fail-nth ---- */

static void nth_set(int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d", n);

	/* with 2 left after the call, the read took one and this copy the last */
	if (pwrite(nth_fd, buf, len, 0) != len && (n || errno != EFAULT ||
						   pwrite(nth_fd, buf, len, 0) != len)) {
		ksft_exit_fail_msg("writing %d to fail-nth: %s\n", n, strerror(errno));
	}
}

/*
 * What is left of the count: 0 if the fault was injected.  The read's own
 * copy to user is a fault point: if it fails, 1 was left.
 */
static int nth_get(void)
{
	char buf[16] = "";
	ssize_t n = pread(nth_fd, buf, sizeof(buf) - 1, 0);

	if (n < 0 && errno == EFAULT)
		return 1;
	if (n <= 0)
		ksft_exit_fail_msg("reading fail-nth: %s\n", n ? strerror(errno) : "EOF");
	return atoi(buf);
}

/* The knobs syzkaller sets; harmless if the guest script did it. */
static void setup_knobs(void)
{
	static const char *const dirs[] = { "failslab", "fail_page_alloc", "fail_usercopy" };
	static const char *const kv[][2] = {
		{ "probability", "0" }, { "interval", "1" }, { "times", "-1" },
		{ "space", "0" }, { "verbose", "0" }, { "task-filter", "N" },
		{ "ignore-gfp-wait", "N" }, { "ignore-gfp-highmem", "N" },
		{ "min-order", "0" },
	};
	char path[128];
	unsigned int d, k;
	int fd;

	for (d = 0; d < 3; d++)
		for (k = 0; k < ARRAY_SIZE(kv); k++) {
			snprintf(path, sizeof(path), "/sys/kernel/debug/%s/%s", dirs[d], kv[k][0]);
			fd = open(path, O_WRONLY);
			if (fd < 0)
				continue;
			if (write(fd, kv[k][1], strlen(kv[k][1])) < 0)
				ksft_print_msg("%s: %s\n", path, strerror(errno));
			close(fd);
		}
}

/* ---- kernel log: warnings during a call fail it ---- */

static void kmsg_open(void)
{
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg_fd >= 0)
		lseek(kmsg_fd, 0, SEEK_END);
}

static void kmsg_scan(const char *what)
{
	static const char *const pat[] = {
		"WARNING:", "BUG:", "KASAN:", "UBSAN:", "general protection", "Oops",
		"INFO: ", "possible circular locking", "list_add corruption",
		"list_del corruption", "DEBUG_LOCKS_WARN_ON", "ODEBUG:",
	};
	char rec[2048];
	ssize_t n;
	unsigned int k;

	if (kmsg_fd < 0)
		return;
	for (;;) {
		n = read(kmsg_fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)	/* overwritten records */
			continue;
		if (n <= 0)
			return;
		rec[n] = 0;
		for (k = 0; k < ARRAY_SIZE(pat); k++) {
			char *msg = strchr(rec, ';');

			if (msg && strstr(msg, pat[k])) {
				msg[strcspn(msg, "\n")] = 0;
				bad("%s: kernel log: %s", what, msg + 1);
				break;
			}
		}
	}
}

/* ---- the state ---- */

static int must(int ret, const char *what)
{
	if (ret < 0)
		ksft_exit_fail_msg("building the state: %s: %s\n", what, errname(ret));
	return ret;
}

static void fill(uint64_t h, uint64_t gen, size_t len)
{
	pattern(b_old, gen, len);
	must(shp_write(S.fd, h, 0, b_old, len), "WRITE");
}

/*
 * R (REF 4, rooted): [0] = D1, [1] = D2.  D1 (100 bytes) rooted twice,
 * D2 (40000) only through R, D3 (200000) rooted, F (16) rooted with
 * finalizer T_F, E (64) unreachable with its event (T_E) unread; D2 has
 * cleanup T_C (its token object is the seventh object), D1 weak handle W.
 */
static void build(void)
{
	struct timespec ts = { 0, 10000000 };
	int tries;

	S.fd = must(shp_open(O_NONBLOCK), "open");
	must(shp_alloc_flags(S.fd, SPANHEAP_KIND_REF, 4, SPANHEAP_ALLOC_ROOTED, &S.r), "ALLOC R");
	must(shp_alloc_flags(S.fd, SPANHEAP_KIND_DATA, D1_LEN, SPANHEAP_ALLOC_ROOTED, &S.d1), "ALLOC D1");
	must(shp_root(S.fd, S.d1, NULL), "ROOT D1");
	must(shp_alloc_flags(S.fd, SPANHEAP_KIND_DATA, D2_LEN, SPANHEAP_ALLOC_ROOTED, &S.d2), "ALLOC D2");
	must(shp_store(S.fd, S.r, 0, S.d1), "STORE");
	must(shp_store(S.fd, S.r, 1, S.d2), "STORE");
	must(shp_unroot(S.fd, S.d2, NULL), "UNROOT D2");
	must(shp_alloc_flags(S.fd, SPANHEAP_KIND_DATA, D3_LEN, SPANHEAP_ALLOC_ROOTED, &S.d3), "ALLOC D3");
	must(shp_alloc_flags(S.fd, SPANHEAP_KIND_DATA, F_LEN, SPANHEAP_ALLOC_ROOTED, &S.fo), "ALLOC F");
	must(shp_set_finalizer(S.fd, S.fo, T_F), "FINALIZER F");
	must(shp_alloc_flags(S.fd, SPANHEAP_KIND_DATA, E_LEN, SPANHEAP_ALLOC_ROOTED, &S.e), "ALLOC E");
	must(shp_set_finalizer(S.fd, S.e, T_E), "FINALIZER E");
	fill(S.d1, 1, D1_LEN);
	fill(S.d2, 2, D2_LEN);
	fill(S.d3, 3, D3_LEN);
	fill(S.fo, 4, F_LEN);
	fill(S.e, 5, E_LEN);
	must(shp_add_cleanup(S.fd, S.d2, T_C, &S.cid), "CLEANUP D2");
	must(shp_weak_make(S.fd, S.d1, &S.w, NULL), "WEAK_MAKE D1");
	must(shp_unroot(S.fd, S.e, NULL), "UNROOT E");
	/* E's event: one GC_WAIT queues it; a bounded loop, not a sleep */
	for (tries = 0; tries < 100; tries++) {
		must(shp_gc(S.fd, SPANHEAP_GC_WAIT, NULL), "GC");
		must(shp_stats(S.fd, &S.snap), "STATS");
		if (S.snap.events_pending == 1)
			break;
		nanosleep(&ts, NULL);
	}
	if (S.snap.events_pending != 1 || S.snap.objects != 7 || S.snap.roots != 5 ||
	    S.snap.finalizers_set != 1 || S.snap.cleanups_set != 1 ||
	    S.snap.weak_handles != 1) {
		ksft_exit_fail_msg("state: events_pending %llu objects %llu roots %llu finalizers_set %llu cleanups_set %llu weak_handles %llu\n",
				   (unsigned long long)S.snap.events_pending,
				   (unsigned long long)S.snap.objects,
				   (unsigned long long)S.snap.roots,
				   (unsigned long long)S.snap.finalizers_set,
				   (unsigned long long)S.snap.cleanups_set,
				   (unsigned long long)S.snap.weak_handles);
	}
}

/*
 * @what's bytes are as built; with @prefix, a prefix of b_new may have
 * landed (a copy of more than a page is not atomic, see uapi.rst).
 */
static void check_bytes(const char *what, uint64_t h, uint64_t gen, size_t len, bool prefix)
{
	int ret = shp_read(S.fd, h, 0, b_rd, len);
	size_t k = 0, j;

	pattern(b_old, gen, len);
	if (ret) {
		bad("%s: READ of %s afterwards: %s", what, what, errname(ret));
		return;
	}
	if (prefix)
		while (k < len && b_rd[k] == b_new[k])
			k++;
	for (j = k; j < len && b_rd[j] == b_old[j]; j++)
		;
	if (j < len)
		bad("after the failed call, byte %zu of %s (%zu bytes) changed%s", j, what, len,
		    prefix ? " (past the written prefix)" : "");
	else if (k >= 4096)
		ksft_print_msg("n=%d: the failed WRITE left its first %zu bytes written\n", cur_n, k);
}

/* Everything as built, but collections after a GC and D2 after a WRITE. */
static void check_unchanged(const char *what, bool gc, bool write)
{
	struct spanheap_stats_v1 st, st2;
	uint64_t v;
	int ret;

	ret = shp_stats(S.fd, &st);
	if (ret) {
		bad("STATS afterwards: %s", errname(ret));
		return;
	}
#define SAME(field) do {							\
	if (st.field != S.snap.field)						\
		bad("%s failed, but STATS " #field " went %lld -> %lld", what,	\
		    (long long)S.snap.field, (long long)st.field);		\
	} while (0)
	SAME(roots);
	SAME(finalizers_set);
	SAME(cleanups_set);
	SAME(weak_handles);
	SAME(events_pending);
	SAME(events_read);
	SAME(gc_percent);
	SAME(event_queue_max);
	SAME(mem_limit);
	if (!gc)
		SAME(collections);
	if (st.objects != S.snap.objects) {
		/* garbage of the failed call is fine if the next cycle takes it */
		shp_gc(S.fd, 0, NULL);
		shp_stats(S.fd, &st2);
		if (st2.objects != S.snap.objects)
			bad("%s failed, but STATS objects went %llu -> %llu (%llu after a GC)", what,
			    (unsigned long long)S.snap.objects, (unsigned long long)st.objects,
			    (unsigned long long)st2.objects);
	}
#undef SAME
	check_bytes("D1", S.d1, 1, D1_LEN, false);
	check_bytes("D2", S.d2, 2, D2_LEN, write);
	check_bytes("D3", S.d3, 3, D3_LEN, false);
	check_bytes("F", S.fo, 4, F_LEN, false);
	check_bytes("E", S.e, 5, E_LEN, false);
	if (shp_load(S.fd, S.r, 0, &v) || v != S.d1)
		bad("%s failed, but R[0] is now %#llx", what, (unsigned long long)v);
	if (shp_load(S.fd, S.r, 1, &v) || v != S.d2)
		bad("%s failed, but R[1] is now %#llx", what, (unsigned long long)v);
	if (shp_load(S.fd, S.r, 2, &v) || v)
		bad("%s failed, but R[2] is now %#llx", what, (unsigned long long)v);
}

/* The unread event is still there, once (or was the read() row's). */
static void check_events(const char *what)
{
	struct spanheap_event ev[4];
	ssize_t n = shp_events(S.fd, ev, 4);
	int want = read_gave_event ? 0 : 1;

	if (n != want || (n == 1 && (ev[0].token != T_E || ev[0].handle != S.e)))
		bad("%s: %zd events pending at the end (token %#llx), want %d (token %#x)", what, n,
		    n > 0 ? (unsigned long long)ev[0].token : 0ULL, want, T_E);
}

/* ---- the calls ---- */

static int open_fd = -1;	/* the open() row's file, closed after the check */

static int c_open(void)
{
	open_fd = shp_open(0);
	return open_fd < 0 ? open_fd : 0;
}

static int c_alloc_small(void)
{
	uint64_t h;

	return shp_alloc(S.fd, SPANHEAP_KIND_DATA, 64, &h);
}

static int c_alloc_large(void)
{
	uint64_t h;

	return shp_alloc(S.fd, SPANHEAP_KIND_DATA, 40000, &h);
}

static int c_alloc_huge(void)
{
	uint64_t h;

	return shp_alloc(S.fd, SPANHEAP_KIND_DATA, 300000, &h);
}

static int c_alloc_ref(void)
{
	uint64_t h;

	return shp_alloc(S.fd, SPANHEAP_KIND_REF, 8, &h);
}

static int c_alloc_big_ref(void)
{
	uint64_t h;

	return shp_alloc(S.fd, SPANHEAP_KIND_REF, 20000, &h);
}

static int c_alloc_rooted(void)
{
	uint64_t h;

	return shp_alloc_flags(S.fd, SPANHEAP_KIND_DATA, 64, SPANHEAP_ALLOC_ROOTED, &h);
}

static int c_write(void)
{
	return shp_write(S.fd, S.d2, 0, b_new, D2_LEN);
}

static int c_read(void)
{
	return shp_read(S.fd, S.d3, 0, b_rd, D3_LEN);
}

static int c_store(void)
{
	return shp_store(S.fd, S.r, 2, S.d3);
}

static int c_load(void)
{
	uint64_t v;

	return shp_load(S.fd, S.r, 0, &v);
}

static int c_root(void)
{
	return shp_root(S.fd, S.d3, NULL);
}

static int c_unroot(void)
{
	return shp_unroot(S.fd, S.d1, NULL);
}

static int c_fin_set(void)
{
	return shp_set_finalizer(S.fd, S.d3, T_NEW);
}

static int c_fin_clear(void)
{
	return shp_clear_finalizer(S.fd, S.fo);
}

static int c_cleanup(void)
{
	uint64_t id;

	return shp_add_cleanup(S.fd, S.d3, T_NEW, &id);
}

static int c_cleanup_stop(void)
{
	return shp_stop_cleanup(S.fd, S.d2, S.cid);
}

static int c_weak_make(void)
{
	uint64_t w;

	return shp_weak_make(S.fd, S.d3, &w, NULL);
}

static int c_weak_get_root(void)
{
	uint64_t h;

	return shp_weak_get(S.fd, S.w, SPANHEAP_WEAK_ROOT, &h, NULL);
}

static int c_gc(void)
{
	return shp_gc(S.fd, 0, NULL);
}

static int c_gc_wait(void)
{
	return shp_gc(S.fd, SPANHEAP_GC_WAIT, NULL);
}

static int c_stats(void)
{
	struct spanheap_stats_v1 st;

	return shp_stats(S.fd, &st);
}

static int c_params(void)
{
	struct spanheap_params p = {
		.flags = SPANHEAP_PARAM_GC_PERCENT | SPANHEAP_PARAM_EVENT_QUEUE |
			 SPANHEAP_PARAM_MEM_LIMIT,
		.gc_percent = 50, .event_queue_max = 100, .mem_limit = 32 << 20,
	};

	return shp_set_params(S.fd, &p);
}

static int c_read_event(void)
{
	ssize_t n = read(S.fd, ev_buf, sizeof(ev_buf));

	if (n < 0)
		return -errno;
	if (n != sizeof(ev_buf[0]) || ev_buf[0].token != T_E || ev_buf[0].handle != S.e) {
		bad("read() returned %zd bytes, token %#llx", n, (unsigned long long)ev_buf[0].token);
		return 0;
	}
	read_gave_event = true;
	return 0;
}

/* WHY D2: R (rooted) -> R[1] -> D2; a fault fails it, and it changes nothing. */
static int c_why(void)
{
	struct spanheap_why_hop hops[4];
	uint32_t kind, n;
	int ret = shp_why(S.fd, S.d2, hops, 4, &kind, &n);

	if (!ret && (kind != SPANHEAP_WHY_ROOTED || n != 2 || hops[0].handle != S.r ||
		     hops[0].slot != 1 || hops[1].handle != S.d2 ||
		     hops[1].slot != SPANHEAP_WHY_NO_SLOT))
		bad("WHY D2: kind %u, %u hops, %#llx[%llu]", kind, n,
		    (unsigned long long)hops[0].handle, (unsigned long long)hops[0].slot);
	return ret;
}

/*
 * A BATCH of ROOT D3, STORE R[2] = D3, FINALIZER D3, CLEANUP D3, WEAK_MAKE
 * D3 and ALLOC.  A fault either fails the call (nothing ran; or, a
 * failed write-back, -EFAULT with only STORE and FINALIZER standing) or
 * stops the batch at op k with ops[k].error set; the ops before k stand
 * (uapi.rst).  Then this checks each of them had its effect, takes them
 * back, and returns op k's error: run_call() checks that the failed op
 * and the ones after it changed nothing.
 */
static int c_batch(void)
{
	enum { NOPS = 6 };
	struct spanheap_op ops[NOPS], orig[NOPS];
	uint64_t v, c;
	uint32_t done;
	int ret, k;

	shp_op_root(&ops[0], SPANHEAP_IOC_ROOT, S.d3);
	shp_op_ref(&ops[1], SPANHEAP_IOC_STORE, S.r, 2, S.d3);
	shp_op_finalizer(&ops[2], S.d3, T_NEW, 0);
	shp_op_cleanup(&ops[3], SPANHEAP_IOC_CLEANUP, S.d3, T_NEW, 0);
	shp_op_weak(&ops[4], SPANHEAP_IOC_WEAK_MAKE, 0, S.d3, 0);
	shp_op_alloc(&ops[5], SPANHEAP_KIND_DATA, 64, 0);
	memcpy(orig, ops, sizeof(ops));
	ret = shp_batch(S.fd, ops, NOPS, &done);
	if (ret == -EFAULT && !shp_load(S.fd, S.r, 2, &v) && v == S.d3) {
		/*
		 * The ops ran and the write-back failed: as for single
		 * commands, STORE and FINALIZER stand and the others were
		 * taken back (uapi.rst).  Take those two back here.
		 */
		if (shp_set_finalizer(S.fd, S.d3, T_NEW) != -EEXIST)
			bad("BATCH: EFAULT at write-back, but no FINALIZER on D3");
		if (shp_store(S.fd, S.r, 2, 0) || shp_clear_finalizer(S.fd, S.d3))
			bad("BATCH: taking back STORE and FINALIZER failed");
		return ret;
	}
	if (ret)
		return ret;
	if (done == NOPS)
		return 0;
	if (done > NOPS || !ops[done].error) {
		bad("BATCH: done %u of %d, error %d", done, NOPS, done < NOPS ? ops[done].error : 0);
		return 0;
	}
	for (k = done + 1; k < NOPS; k++)
		if (memcmp(&ops[k], &orig[k], sizeof(ops[k])))
			bad("BATCH stopped at op %u, but op %d was written", done, k);
	/* Newest first, as the kernel would. */
	for (k = done - 1; k >= 0; k--) {
		switch (k) {
		case 0:
			if (ops[0].root.count != 2 || shp_unroot(S.fd, S.d3, &c) || c != 1)
				bad("BATCH op ROOT: count %llu", (unsigned long long)ops[0].root.count);
			break;
		case 1:
			if (shp_load(S.fd, S.r, 2, &v) || v != S.d3 || shp_store(S.fd, S.r, 2, 0))
				bad("BATCH op STORE: R[2] is %#llx", (unsigned long long)v);
			break;
		case 2:
			if (shp_set_finalizer(S.fd, S.d3, T_NEW) != -EEXIST ||
			    shp_clear_finalizer(S.fd, S.d3))
				bad("BATCH op FINALIZER: not set");
			break;
		case 3:
			if (shp_stop_cleanup(S.fd, S.d3, ops[3].cleanup.id))
				bad("BATCH op CLEANUP: id %llu not armed",
				    (unsigned long long)ops[3].cleanup.id);
			break;
		case 4:
			if (shp_weak_drop(S.fd, ops[4].weak.weak, &c) || c)
				bad("BATCH op WEAK_MAKE: drop of %#llx",
				    (unsigned long long)ops[4].weak.weak);
			break;
		}
	}
	return ops[done].error;
}

/* Documented errnos of each call when an allocation or a user copy fails. */
struct call {
	const char *name;
	int (*fn)(void);
	int errs[3];
	bool gc;		/* collections may move */
};

static const struct call calls[] = {
	{ "open(/dev/spanheap)",		c_open,		{ ENOMEM, ENFILE, EFAULT }, false },
	{ "ALLOC DATA 64",			c_alloc_small,	{ ENOMEM, EFAULT }, false },
	{ "ALLOC DATA 40000 (> 32 KiB)",	c_alloc_large,	{ ENOMEM, EFAULT }, false },
	{ "ALLOC DATA 300000 (> 128 KiB)",	c_alloc_huge,	{ ENOMEM, EFAULT }, false },
	{ "ALLOC REF 8",			c_alloc_ref,	{ ENOMEM, EFAULT }, false },
	{ "ALLOC REF 20000",			c_alloc_big_ref, { ENOMEM, EFAULT }, false },
	{ "ALLOC DATA 64 ROOTED",		c_alloc_rooted,	{ ENOMEM, EFAULT }, false },
	{ "WRITE 40000 bytes",			c_write,	{ ENOMEM, EFAULT }, false },
	{ "READ 200000 bytes",			c_read,		{ ENOMEM, EFAULT }, false },
	{ "STORE",				c_store,	{ ENOMEM, EFAULT }, false },
	{ "LOAD",				c_load,		{ ENOMEM, EFAULT }, false },
	{ "ROOT",				c_root,		{ ENOMEM, EFAULT }, false },
	{ "UNROOT",				c_unroot,	{ ENOMEM, EFAULT }, false },
	{ "FINALIZER set",			c_fin_set,	{ ENOMEM, EFAULT }, false },
	{ "FINALIZER clear",			c_fin_clear,	{ ENOMEM, EFAULT }, false },
	{ "CLEANUP",				c_cleanup,	{ ENOMEM, EFAULT }, false },
	{ "CLEANUP_STOP",			c_cleanup_stop,	{ ENOMEM, EFAULT }, false },
	{ "WEAK_MAKE",				c_weak_make,	{ ENOMEM, EFAULT }, false },
	{ "WEAK_GET with ROOT",			c_weak_get_root, { ENOMEM, EFAULT }, false },
	{ "GC",					c_gc,		{ ENOMEM, EFAULT }, true },
	{ "GC_WAIT",				c_gc_wait,	{ ENOMEM, EFAULT }, true },
	{ "STATS",				c_stats,	{ ENOMEM, EFAULT }, false },
	{ "SET_PARAMS",				c_params,	{ ENOMEM, EFAULT }, false },
	{ "read() of an event",			c_read_event,	{ EFAULT }, false },
	{ "BATCH of six object ops",		c_batch,	{ ENOMEM, EFAULT }, false },
	{ "WHY",				c_why,		{ ENOMEM, EFAULT }, false },
};

#define NCALLS	ARRAY_SIZE(calls)

static bool documented(const struct call *c, int ret)
{
	int k;

	for (k = 0; k < 3 && c->errs[k]; k++)
		if (ret == -c->errs[k])
			return true;
	return false;
}

/* Entries of the spanheap debugfs directory (one per heap), or -1. */
static int heap_dirs(void)
{
	DIR *d = opendir("/sys/kernel/debug/spanheap");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void run_call(const struct call *c)
{
	int n, ret, left, nfail = 0, absorbed = 0, nenomem = 0, nefault = 0, dirs0 = -1;
	bool clean = false;

	fails = 0;
	if (c->fn == c_open)
		dirs0 = heap_dirs();
	for (n = 1; n <= MAX_NTH; n++) {
		cur_n = n;
		read_gave_event = false;
		build();
		kmsg_scan("building the state");
		nth_set(n);
		ret = c->fn();
		left = nth_get();
		cur_ret = ret;
		nth_set(0);
		if (open_fd >= 0) {
			close(open_fd);
			open_fd = -1;
		}
		kmsg_scan(c->name);
		if (left) {		/* the n-th fault point was not reached */
			if (ret)
				bad("%s ran clean but returned %s", c->name, errname(ret));
			clean = true;
		} else if (!ret) {
			absorbed++;	/* the fault was handled inside */
		} else {
			nfail++;
			nenomem += ret == -ENOMEM;
			nefault += ret == -EFAULT;
			if (!documented(c, ret))
				bad("%s: fault %d gave %s, not a documented errno", c->name, n,
				    errname(ret));
			check_unchanged(c->name, c->gc, c->fn == c_write);
			ret = c->fn();		/* retry, no injection */
			if (ret)
				bad("%s: the retry without a fault failed: %s", c->name, errname(ret));
			if (open_fd >= 0) {
				close(open_fd);
				open_fd = -1;
			}
		}
		check_events(c->name);
		close(S.fd);
		kmsg_scan(c->name);
		if (clean)
			break;
	}
	cur_n = cur_ret = 0;
	if (dirs0 >= 0 && heap_dirs() != dirs0)
		bad("%d heap directories in debugfs before, %d after", dirs0, heap_dirs());
	if (!clean)
		ksft_print_msg("%s: still injecting at n=%d, stopped\n", c->name, MAX_NTH);
	ksft_test_result(!fails,
			 "faultinj %s: %d fault points, %d failed calls (ENOMEM %d, EFAULT %d), %d absorbed\n",
			 c->name, n - 1 - !clean, nfail, nenomem, nefault, absorbed);
}

/* After all that, the per-user count of open heaps is back to zero. */
static void check_user_heaps(void)
{
	static int fds[65537];
	int max, n, ret = 0;
	char buf[32] = "";
	int pfd = open("/sys/module/spanheap/parameters/max_user_heaps", O_RDONLY);

	if (pfd < 0 || read(pfd, buf, sizeof(buf) - 1) <= 0) {
		if (pfd >= 0)
			close(pfd);
		ktap_skip("faultinj: max_user_heaps accounting", "no max_user_heaps parameter\n");
		return;
	}
	close(pfd);
	max = atoi(buf);
	if (max < 1 || max > 65536) {
		ksft_test_result_fail("faultinj: max_user_heaps reads %s\n", buf);
		return;
	}
	for (n = 0; n <= max; n++) {
		fds[n] = shp_open(0);
		if (fds[n] < 0) {
			ret = fds[n];
			break;
		}
	}
	if (n < max)
		ksft_print_msg("open %d of max_user_heaps=%d: %s (a failed open leaked a count?)\n",
			       n + 1, max, errname(ret));
	else if (n > max)
		ksft_print_msg("%d opens succeeded, max_user_heaps=%d (no cap for root?)\n", n, max);
	ksft_test_result((n == max && ret == -EMFILE) || n > max,
			 "faultinj: after the failed opens, %d of max_user_heaps=%d opens succeed, then %s\n",
			 n, max, n > max ? "none refused" : errname(ret));
	while (n-- > 0)
		close(fds[n]);
}

int main(void)
{
	time_t end = time(NULL) + BUDGET_S;
	unsigned int k;

	setvbuf(stdout, NULL, _IOLBF, 0);
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	/* one skipped result: the tiers count a bare "1..0" plan as a failure */
	ksft_print_header();
	if (nth_fd < 0) {
		ksft_set_plan(1);
		ktap_skip("fault injection", "no fail-nth\n");
		ksft_finished();
	}
	if (access("/dev/spanheap", R_OK | W_OK)) {
		ksft_set_plan(1);
		ksft_test_result_fail("fault injection: no /dev/spanheap\n");
		ksft_finished();
	}
	setup_knobs();
	kmsg_open();
	/* fault no pages in during a call: those would be injected faults too */
	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		ksft_print_msg("mlockall: %s\n", strerror(errno));
	pattern(b_new, 9, sizeof(b_new));
	memset(b_rd, 0, sizeof(b_rd));
	ksft_set_plan(NCALLS + 1);
	for (k = 0; k < NCALLS; k++) {
		if (time(NULL) > end) {
			char name[64];

			snprintf(name, sizeof(name), "faultinj %s", calls[k].name);
			ktap_skip(name, "time budget (%d s) spent\n", BUDGET_S);
			continue;
		}
		run_call(&calls[k]);
	}
	check_user_heaps();
	ksft_finished();
}
