// SPDX-License-Identifier: GPL-2.0
/*
 * Stalled user copies (issue 7, defect 5): a WRITE or READ whose buffer
 * spans a userfaultfd page that nobody serves blocks its own thread only.
 * Meanwhile GC with SPANHEAP_GC_WAIT and other ioctls on the same file,
 * and a second file, must complete; once the page is served the copy
 * finishes (0, or -ESTALE if its unreachable object was collected).
 *
 * Every wait is bounded (WAIT_MS); a wedged module makes the waits time
 * out, then serving the page lets the stuck calls finish.  The cases run
 * in a child process: should it still hang, the parent kills it after a
 * deadline and the missing TAP results count as failures.  TAP through
 * kselftest.h: the parent prints the plan, the child the results.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "libspanheap.h"
#include "kselftest/kselftest.h"
#include "testutil.h"

#define WAIT_MS		20000
#define CHILD_SECS	600
#define OBJ_LEN		40000	/* a large object: its own span */
#define OFF		100
#define NCASES		3
#define PER_CASE	6

static long pg;
static int uffd;

/* An ioctl sequence run on its own thread; @done is signalled at the end. */
struct job {
	int (*fn)(struct job *j);
	int fd, ret, done;
	uint64_t h, r;
	void *buf;
	size_t len;
};

static void *job_thread(void *arg)
{
	struct job *j = arg;

	j->ret = j->fn(j);
	eventfd_write(j->done, 1);
	return NULL;
}

static bool job_start(struct job *j)
{
	pthread_t th;

	j->ret = -EINPROGRESS;
	j->done = eventfd(0, EFD_CLOEXEC);
	if (j->done < 0 || pthread_create(&th, NULL, job_thread, j))
		return false;
	pthread_detach(th);
	return true;
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/* Wait until @j is done or @deadline (ms) passes. */
static bool job_wait(struct job *j, long long deadline)
{
	struct pollfd p = { .fd = j->done, .events = POLLIN };
	long long left;

	for (;;) {
		left = deadline - now_ms();
		if (poll(&p, 1, left > 0 ? (int)left : 0) == 1)
			return true;
		if (left <= 0)
			return false;
	}
}

static int job_write(struct job *j)
{
	return shp_write(j->fd, j->h, OFF, j->buf, j->len);
}

static int job_read(struct job *j)
{
	return shp_read(j->fd, j->h, OFF, j->buf, j->len);
}

static int job_gc_wait(struct job *j)
{
	return shp_gc(j->fd, SPANHEAP_GC_WAIT, NULL);
}

/* ALLOC, STORE, LOAD, WRITE, STATS on the file with the stalled copy. */
static int job_same_file(struct job *j)
{
	struct spanheap_stats_v1 st;
	uint64_t y, v;
	int r;

	r = shp_alloc_flags(j->fd, SPANHEAP_KIND_DATA, 64, SPANHEAP_ALLOC_ROOTED, &y);
	if (!r)
		r = shp_store(j->fd, j->r, 0, y);
	if (!r)
		r = shp_load(j->fd, j->r, 0, &v);
	if (!r && v != y)
		r = -EBADMSG;
	if (!r)
		r = shp_write(j->fd, y, 0, "y", 1);
	if (!r)
		r = shp_stats(j->fd, &st);
	return r;
}

/* Another file: ALLOC and GC_WAIT. */
static int job_other_file(struct job *j)
{
	int f = shp_open(0), r;
	uint64_t h;

	(void)j;
	if (f < 0)
		return f;
	r = shp_alloc(f, SPANHEAP_KIND_DATA, OBJ_LEN, &h);
	if (!r)
		r = shp_gc(f, SPANHEAP_GC_WAIT, NULL);
	close(f);
	return r;
}

static char pat(size_t i)
{
	return (char)(i * 13 + 5);
}

/* Wait for the fault on @addr; false on timeout or another message. */
static bool uffd_fault_at(void *addr)
{
	struct pollfd p = { .fd = uffd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&p, 1, WAIT_MS) != 1 || read(uffd, &msg, sizeof(msg)) != sizeof(msg))
		return false;
	return msg.event == UFFD_EVENT_PAGEFAULT &&
	       (msg.arg.pagefault.address & ~(uint64_t)(pg - 1)) == (uintptr_t)addr;
}

/*
 * One case: a three-page buffer whose middle page is registered and
 * missing; thread A copies through it (WRITE into, or READ from, the
 * DATA object @rooted or not), B works on the same file, C on another.
 */
static void stall_case(int fd, bool write, bool rooted)
{
	const char *what = write ? (rooted ? "WRITE" : "WRITE (unrooted object)") : "READ";
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct job a = { .fd = fd }, gc = { .fd = fd }, same = { .fd = fd }, other = { 0 };
	size_t len = 3 * pg, i;
	char *buf, *page, *src, *obj;
	bool stalled, a_done, b_ok, s_ok, o_ok, left;
	long long dl;
	uint64_t h, r;
	int ret;

	buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	src = malloc(pg);
	obj = calloc(1, OBJ_LEN);
	page = buf + pg;
	if (buf == MAP_FAILED || !src || !obj)
		ksft_exit_fail_msg("out of memory\n");
	/* Pages 0 and 2 present; page 1 missing, so only it faults. */
	for (i = 0; i < len; i++)
		if (i < (size_t)pg || i >= 2 * (size_t)pg)
			buf[i] = pat(i);
	for (i = 0; i < (size_t)pg; i++)
		src[i] = pat(pg + i);
	reg.range.start = (uintptr_t)buf;
	reg.range.len = len;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		ksft_exit_fail_msg("UFFDIO_REGISTER: %s\n", strerror(errno));
	if (shp_alloc_flags(fd, SPANHEAP_KIND_DATA, OBJ_LEN,
			    rooted ? SPANHEAP_ALLOC_ROOTED : 0, &h) ||
	    shp_alloc_flags(fd, SPANHEAP_KIND_REF, 1, SPANHEAP_ALLOC_ROOTED, &r))
		ksft_exit_fail_msg("alloc failed\n");
	for (i = 0; i < OBJ_LEN; i++)
		obj[i] = pat(i * 3);
	if (!write && shp_write(fd, h, 0, obj, OBJ_LEN))
		ksft_exit_fail_msg("filling the object failed\n");

	a.fn = write ? job_write : job_read;
	a.h = h;
	a.buf = buf;
	a.len = len;
	stalled = job_start(&a) && uffd_fault_at(page);
	ksft_test_result(stalled, "%s: the copy stalls on the unserved page\n", what);

	gc.fn = job_gc_wait;
	same.fn = job_same_file;
	same.r = r;
	other.fn = job_other_file;
	if (!job_start(&gc) || !job_start(&same) || !job_start(&other))
		ksft_exit_fail_msg("pthread_create failed\n");
	dl = now_ms() + WAIT_MS;
	b_ok = job_wait(&gc, dl) && !gc.ret;
	s_ok = job_wait(&same, dl) && !same.ret;
	o_ok = job_wait(&other, dl) && !other.ret;
	ksft_test_result(b_ok, "%s stalled: GC with GC_WAIT on the same file completes (%d)\n",
			 what, gc.ret);
	ksft_test_result(s_ok,
			 "%s stalled: ALLOC, STORE, LOAD, WRITE, STATS on the same file complete (%d)\n",
			 what, same.ret);
	ksft_test_result(o_ok, "%s stalled: ALLOC and GC_WAIT on another file complete (%d)\n",
			 what, other.ret);

	/* Serve the page: the copy goes on. */
	if (write) {
		struct uffdio_copy c = {
			.dst = (uintptr_t)page, .src = (uintptr_t)src, .len = pg,
		};

		ret = ioctl(uffd, UFFDIO_COPY, &c);
	} else {
		struct uffdio_zeropage z = { .range = { .start = (uintptr_t)page, .len = pg } };

		ret = ioctl(uffd, UFFDIO_ZEROPAGE, &z);
	}
	if (ret && stalled)
		ksft_print_msg("serving the page: %s\n", strerror(errno));
	a_done = job_wait(&a, now_ms() + WAIT_MS);
	if (!rooted)
		ksft_test_result(a_done && (!a.ret || a.ret == -ESTALE),
				 "%s: completes once served: %d (0 or -ESTALE)\n", what, a.ret);
	else
		ksft_test_result(a_done && !a.ret, "%s: completes once served: %d\n", what, a.ret);

	/* What the copy moved, byte for byte. */
	if (!rooted) {
		/* Unreachable and a cycle ran: the object is gone. */
		ret = shp_gc(fd, 0, NULL);
		if (!ret)
			ret = shp_read(fd, h, 0, obj, 1);
		ksft_test_result(ret == -ESTALE, "%s: the object is collected after a cycle (%d)\n",
				 what, ret);
	} else if (write) {
		char *got = malloc(OBJ_LEN);

		ret = got && a_done ? shp_read(fd, h, 0, got, OBJ_LEN) : -EIO;
		for (i = 0; !ret && i < OBJ_LEN; i++) {
			char want = i >= OFF && i < OFF + len ? buf[i - OFF] : 0;

			if (got[i] != want)
				ret = 1;
		}
		free(got);
		ksft_test_result(!ret, "%s: the object holds the three pages (%d)\n", what, ret);
	} else {
		ret = !a_done;
		for (i = 0; !ret && i < len; i++)
			if (buf[i] != obj[OFF + i])
				ret = 1;
		ksft_test_result(!ret, "%s: the buffer holds the object's bytes (%d)\n", what, ret);
	}

	/* Nothing may still run before the next case: it would skew it. */
	left = !job_wait(&gc, now_ms() + WAIT_MS) || !job_wait(&same, now_ms() + WAIT_MS) ||
	       !job_wait(&other, now_ms() + WAIT_MS) || !a_done;
	if (left)
		ksft_exit_fail_msg("calls still blocked after the page was served\n");
	ioctl(uffd, UFFDIO_UNREGISTER, &reg.range);
	shp_unroot(fd, r, NULL);
	if (rooted)
		shp_unroot(fd, h, NULL);
	close(a.done);
	close(gc.done);
	close(same.done);
	close(other.done);
	munmap(buf, len);
	free(src);
	free(obj);
}

static int uffd_open(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int u = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (u < 0)
		return -errno;
	if (ioctl(u, UFFDIO_API, &api)) {
		int err = -errno;

		close(u);
		return err;
	}
	return u;
}

/* The cases, in the child; exits with the program's status. */
static void child(void)
{
	int fd = shp_open(0);

	uffd = uffd_open();	/* a userfaultfd belongs to its opener's mm */
	if (uffd < 0)
		ksft_exit_fail_msg("userfaultfd: %s\n", strerror(-uffd));
	if (fd < 0)
		ksft_exit_fail_msg("/dev/spanheap: %s\n", strerror(-fd));
	stall_case(fd, true, true);
	stall_case(fd, false, true);
	stall_case(fd, true, false);
	close(fd);
	ksft_finished();
}

int main(void)
{
	long long dl;
	int fd, status;
	pid_t pid, w;

	setvbuf(stdout, NULL, _IOLBF, 0);
	pg = sysconf(_SC_PAGESIZE);
	ksft_print_header();
	fd = shp_open(0);
	uffd = fd < 0 ? 0 : uffd_open();
	if (fd < 0 || uffd < 0) {
		/* A plan with one skipped result: the tiers count it as skipped. */
		ksft_set_plan(1);
		ktap_skip("stalled copies", "%s: %s\n", fd < 0 ? "/dev/spanheap" : "userfaultfd",
			  strerror(fd < 0 ? -fd : -uffd));
		ksft_finished();
	}
	close(fd);
	close(uffd);
	ksft_set_plan(NCASES * PER_CASE);
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!pid)
		child();
	/* Bounded wait for the child, then kill it. */
	dl = now_ms() + CHILD_SECS * 1000LL;
	while ((w = waitpid(pid, &status, WNOHANG)) == 0 && now_ms() < dl) {
		struct timespec t = { .tv_nsec = 100 * 1000000 };

		nanosleep(&t, NULL);
	}
	if (w == pid)
		return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	ksft_print_msg("child still running after %d s: killed\n", CHILD_SECS);
	kill(pid, SIGKILL);
	return KSFT_FAIL;
}
