// SPDX-License-Identifier: GPL-2.0
/*
 * memcg (issue 7, defect 4): a heap is charged to its opener's memory
 * cgroup.  A child in a cgroup v2 group with memory.max = 32 MiB fills
 * a heap whose mem_limit is above that with rooted DATA objects of every
 * size: the ioctl that fails must fail with -ENOMEM, never by an OOM
 * kill; memory.current rises with the heap and falls back to about its
 * baseline after close().
 *
 * The child touches all it needs before it joins the group and then
 * talks to the parent only through eventfds and a page of shared memory,
 * so nothing of its own has to be charged once the group is full.  TAP
 * through kselftest.h, printed by the parent only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "libspanheap.h"
#include "kselftest/kselftest.h"
#include "testutil.h"

#define CG_ROOT		"/sys/fs/cgroup"
#define CG		CG_ROOT "/spanheap-memcg"
#define CG_MAX		(32LL << 20)
#define MIN_RISE	(16LL << 20)
#define SLACK		(1LL << 20)
#define WAIT_MS		60000

/* Written by the child, read by the parent. */
struct result {
	int open_err, err, set_params;
	uint64_t objects, bytes, mem_limit;
	struct spanheap_stats_v1 st;
};

static struct result *res;
static int to_child, to_parent, pidfd = -1;

static int write_file(const char *path, const char *val)
{
	int f = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (f < 0)
		return -errno;
	if (write(f, val, strlen(val)) < 0)
		ret = -errno;
	close(f);
	return ret;
}

static int read_file(const char *path, char *buf, size_t len)
{
	int f = open(path, O_RDONLY | O_CLOEXEC), n;

	if (f < 0)
		return -errno;
	n = read(f, buf, len - 1);
	close(f);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return n;
}

static long long read_ll(const char *path)
{
	char buf[64];

	return read_file(path, buf, sizeof(buf)) > 0 ? atoll(buf) : -1;
}

/* Value of @key in a flat-keyed file such as memory.events. */
static long long read_key(const char *path, const char *key)
{
	char buf[1024], *p;
	size_t n = strlen(key);

	if (read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, n) && p[n] == ' ')
			return atoll(p + n + 1);
	return -1;
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/* Parent: wait for the child's next signal; false on timeout or its death. */
static bool wait_child(void)
{
	struct pollfd p[2] = {
		{ .fd = to_parent, .events = POLLIN },
		{ .fd = pidfd, .events = POLLIN },
	};
	long long dl = now_ms() + WAIT_MS, left;
	eventfd_t v;

	while ((left = dl - now_ms()) > 0) {
		if (poll(p, pidfd >= 0 ? 2 : 1, (int)left) <= 0)
			continue;
		if (p[0].revents & POLLIN)
			return !eventfd_read(to_parent, &v);
		if (p[1].revents)
			return false;		/* exited (or was killed) */
	}
	return false;
}

/* Copy-on-write now, outside the group: the stack and errno's page. */
static noinline void pretouch(void)
{
	char stack[64 << 10];

	memset(stack, 0, sizeof(stack));
	asm volatile("" : : "r"(stack) : "memory");
	errno = 0;
	res->err = 0;
}

static void child(void)
{
	static const uint64_t sizes[] = { 4096, 40000, 200000, 1 << 20, 64, 16384, 150000 };
	struct spanheap_params p = { .flags = SPANHEAP_PARAM_MEM_LIMIT };
	eventfd_t v;
	uint64_t h;
	int fd, r = 0, i;

	eventfd_read(to_child, &v);		/* moved into the group */
	fd = shp_open(0);
	res->open_err = fd < 0 ? fd : 0;
	if (fd >= 0) {
		/* As far as the module allows: above memory.max. */
		p.mem_limit = res->mem_limit;
		res->set_params = shp_set_params(fd, &p);
		for (i = 0; res->bytes < 2 * res->mem_limit; i++) {
			uint64_t len = sizes[i % ARRAY_SIZE(sizes)];

			r = shp_alloc_flags(fd, SPANHEAP_KIND_DATA, len,
					    SPANHEAP_ALLOC_ROOTED, &h);
			if (r)
				break;
			res->objects++;
			res->bytes += len;
		}
		res->err = r;
		shp_stats(fd, &res->st);
	}
	eventfd_write(to_parent, 1);		/* full: measure */
	eventfd_read(to_child, &v);
	if (fd >= 0)
		close(fd);
	eventfd_write(to_parent, 1);		/* closed: measure */
	eventfd_read(to_child, &v);
	_exit(0);
}

/* cgroup v2 with the memory controller, and our group; NULL or why not. */
static const char *setup(void)
{
	char buf[256];

	if (read_file(CG_ROOT "/cgroup.controllers", buf, sizeof(buf)) < 0 &&
	    mount("none", CG_ROOT, "cgroup2", 0, NULL))
		return "cannot mount cgroup2 on " CG_ROOT;
	if (read_file(CG_ROOT "/cgroup.controllers", buf, sizeof(buf)) < 0 ||
	    !strstr(buf, "memory"))
		return "no memory controller in cgroup v2";
	if (read_file(CG_ROOT "/cgroup.subtree_control", buf, sizeof(buf)) < 0 ||
	    (!strstr(buf, "memory") &&
	     write_file(CG_ROOT "/cgroup.subtree_control", "+memory")))
		return "cannot enable the memory controller";
	rmdir(CG);				/* left over from a killed run */
	if (mkdir(CG, 0755) && errno != EEXIST)
		return "cannot create " CG;
	snprintf(buf, sizeof(buf), "%lld", CG_MAX);
	if (write_file(CG "/memory.max", buf))
		return "cannot set memory.max";
	if (access(CG "/memory.swap.max", F_OK) == 0)
		write_file(CG "/memory.swap.max", "0");
	return NULL;
}

int main(void)
{
	long long base, peak, cur = -1, dl, oom0, oom;
	struct spanheap_stats_v1 st;
	const char *why;
	char buf[32];
	int fd, status = -1;
	bool ok;
	pid_t pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ksft_print_header();
	fd = shp_open(0);
	if (fd < 0)
		why = strerror(-fd);
	else if (shp_stats(fd, &st))
		why = "STATS failed";
	else
		why = setup();
	if (fd >= 0)
		close(fd);
	if (why) {
		/* A plan with one skipped result: the tiers count it as skipped. */
		if (fd >= 0)
			rmdir(CG);
		ksft_set_plan(1);
		ktap_skip("memcg charging", "%s%s\n", fd < 0 ? "/dev/spanheap: " : "", why);
		ksft_finished();
	}
	ksft_set_plan(5);
	res = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	to_child = eventfd(0, EFD_CLOEXEC);
	to_parent = eventfd(0, EFD_CLOEXEC);
	if (res == MAP_FAILED || to_child < 0 || to_parent < 0)
		ksft_exit_fail_msg("mmap or eventfd: %s\n", strerror(errno));
	memset(res, 0, sizeof(*res));
	/* A new file's mem_limit is the module's. */
	res->mem_limit = read_ll("/sys/module/spanheap/parameters/mem_limit");
	if ((long long)res->mem_limit <= 0)
		res->mem_limit = st.mem_limit;
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!pid) {
		pretouch();
		child();
	}
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	ok = !write_file(CG "/cgroup.procs", buf);
	oom0 = read_key(CG "/memory.events", "oom_kill");
	base = read_ll(CG "/memory.current");
	eventfd_write(to_child, 1);
	ok = ok && wait_child() && !res->open_err && !res->set_params;
	peak = read_ll(CG "/memory.current");
	ksft_test_result(ok,
			 "child in a group with memory.max %lld MiB opens a heap, mem_limit %llu MiB\n",
			 CG_MAX >> 20, (unsigned long long)res->mem_limit >> 20);
	ksft_print_msg("%llu rooted objects, %llu KiB; STATS: %llu KiB reserved, %llu KiB meta\n",
		       (unsigned long long)res->objects, (unsigned long long)res->bytes >> 10,
		       (unsigned long long)res->st.bytes_reserved >> 10,
		       (unsigned long long)res->st.bytes_meta >> 10);
	ksft_test_result(ok && res->err == -ENOMEM,
			 "ALLOC at memory.max fails with -ENOMEM (%d: %s)\n",
			 res->err, strerror(-res->err));
	ksft_test_result(ok && peak - base >= MIN_RISE,
			 "memory.current rose with the heap: %lld -> %lld KiB\n",
			 base >> 10, peak >> 10);
	if (ok) {
		eventfd_write(to_child, 1);
		ok = wait_child();
	}
	/* Spans freed by RCU may take a grace period: poll up to 10 s. */
	dl = now_ms() + 10000;
	while (ok && (cur = read_ll(CG "/memory.current")) > base + SLACK && now_ms() < dl) {
		struct timespec t = { .tv_nsec = 20 * 1000000 };

		nanosleep(&t, NULL);
	}
	ksft_test_result(ok && cur >= 0 && cur <= base + SLACK,
			 "after close memory.current is back near its baseline: %lld KiB (baseline %lld KiB)\n",
			 cur >> 10, base >> 10);
	eventfd_write(to_child, 1);
	/* The child exits at once; bounded wait, then kill. */
	dl = now_ms() + WAIT_MS;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		struct timespec t = { .tv_nsec = 20 * 1000000 };

		if (now_ms() > dl) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		nanosleep(&t, NULL);
	}
	oom = read_key(CG "/memory.events", "oom_kill");
	ksft_test_result(WIFEXITED(status) && WEXITSTATUS(status) == 0 && oom == oom0,
			 "no OOM kill: child %s %d, oom_kill %lld -> %lld\n",
			 WIFEXITED(status) ? "exited" : "killed by signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), oom0, oom);
	if (rmdir(CG))
		ksft_print_msg("rmdir %s: %s\n", CG, strerror(errno));
	ksft_finished();
}
