// SPDX-License-Identifier: GPL-2.0
/*
 * spanheapctl: run a script of heap commands against /dev/spanheap.
 *
 *   spanheapctl [-f script] [-e 'cmd; cmd; ...']    (default: stdin)
 *
 * Objects are named by the script; the tool keeps the name <-> handle
 * map.  Commands (one per line or ';'-separated, '#' starts a comment):
 *   alloc NAME data BYTES | alloc NAME ref SLOTS
 *   write NAME OFFSET TEXT          read NAME OFFSET LENGTH
 *   store NAME SLOT TARGET|null     load NAME SLOT
 *   root NAME    unroot NAME        finalizer NAME TOKEN    nofinalizer NAME
 *   gc [wait]    events             stats
 *   params [gc_percent=N] [mem_limit=N] [queue=N]
 *   expect ERRNO COMMAND...         (the command must fail with ERRNO)
 *   echo TEXT
 * Exits non-zero if a command fails unexpectedly.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "libspanheap.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define MAX_NAMES	4096
#define MAX_ARGS	32

static struct {
	char name[32];
	uint64_t handle;
} names[MAX_NAMES];
static int nnames, fd;

static const struct {
	const char *name;
	int err;
} errnames[] = {
	{ "EINVAL", EINVAL }, { "ENOENT", ENOENT }, { "ESTALE", ESTALE },
	{ "EEXIST", EEXIST }, { "EFAULT", EFAULT }, { "ENOMEM", ENOMEM },
	{ "ERANGE", ERANGE }, { "ENOTTY", ENOTTY }, { "EAGAIN", EAGAIN },
};

static const char *errname(int err)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(errnames); i++)
		if (errnames[i].err == err)
			return errnames[i].name;
	return "E?";
}

static int handle_of(const char *name, uint64_t *h)
{
	int i;

	if (!strcmp(name, "null")) {
		*h = 0;
		return 0;
	}
	for (i = 0; i < nnames; i++) {
		if (!strcmp(names[i].name, name)) {
			*h = names[i].handle;
			return 0;
		}
	}
	if (name[0] == '0' && name[1] == 'x') {		/* raw handles, for tests */
		*h = strtoull(name, NULL, 16);
		return 0;
	}
	fprintf(stderr, "spanheapctl: unknown object %s\n", name);
	return -ENOENT;
}

static const char *name_of(uint64_t h)
{
	static char buf[32];
	int i;

	for (i = 0; i < nnames; i++)
		if (names[i].handle == h)
			return names[i].name;
	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)h);
	return buf;
}

static int print_events(void)
{
	struct spanheap_event ev[64];
	ssize_t n, i, total = 0;

	while ((n = shp_events(fd, ev, 64)) > 0) {
		for (i = 0; i < n; i++)
			printf("event %llu: finalizer of %s ran (token %llu)\n",
			       (unsigned long long)ev[i].seq, name_of(ev[i].handle),
			       (unsigned long long)ev[i].token);
		total += n;
	}
	if (!total)
		printf("no events\n");
	return n < 0 ? (int)n : 0;
}

static int print_stats(void)
{
	struct spanheap_stats_v1 st;
	int ret = shp_stats(fd, &st);

	if (ret)
		return ret;
	printf("stats: objects %llu, bytes in use %llu, reserved %llu, collections %llu,\n"
	       "       finalizers set %llu, events run %llu read %llu pending %llu deferred %llu, roots %llu\n",
	       (unsigned long long)st.objects, (unsigned long long)st.bytes_in_use,
	       (unsigned long long)st.bytes_reserved, (unsigned long long)st.collections,
	       (unsigned long long)st.finalizers_set, (unsigned long long)st.finalizers_run,
	       (unsigned long long)st.events_read, (unsigned long long)st.events_pending,
	       (unsigned long long)st.events_deferred, (unsigned long long)st.roots);
	return 0;
}

static int run(char **argv, int argc)
{
	uint64_t h, v;
	int ret;

	if (!strcmp(argv[0], "alloc") && argc == 4) {
		uint32_t kind = !strcmp(argv[2], "ref") ? SPANHEAP_KIND_REF :
				!strcmp(argv[2], "data") ? SPANHEAP_KIND_DATA : 0;

		if (nnames == MAX_NAMES)
			return -ENOMEM;
		ret = shp_alloc(fd, kind, strtoull(argv[3], NULL, 0), &h);
		if (!ret) {
			snprintf(names[nnames].name, sizeof(names[0].name), "%s", argv[1]);
			names[nnames++].handle = h;
		}
		return ret;
	}
	if (!strcmp(argv[0], "echo")) {
		for (ret = 1; ret < argc; ret++)
			printf("%s%s", argv[ret], ret + 1 < argc ? " " : "\n");
		return 0;
	}
	if (!strcmp(argv[0], "gc"))
		return shp_gc(fd, argc > 1 && !strcmp(argv[1], "wait") ?
			      SPANHEAP_GC_WAIT : 0, NULL);
	if (!strcmp(argv[0], "events"))
		return print_events();
	if (!strcmp(argv[0], "stats"))
		return print_stats();
	if (!strcmp(argv[0], "params")) {
		struct spanheap_params p = { 0 };

		for (ret = 1; ret < argc; ret++) {
			if (!strncmp(argv[ret], "gc_percent=", 11)) {
				p.flags |= SPANHEAP_PARAM_GC_PERCENT;
				p.gc_percent = atoi(argv[ret] + 11);
			} else if (!strncmp(argv[ret], "mem_limit=", 10)) {
				p.flags |= SPANHEAP_PARAM_MEM_LIMIT;
				p.mem_limit = strtoull(argv[ret] + 10, NULL, 0);
			} else if (!strncmp(argv[ret], "queue=", 6)) {
				p.flags |= SPANHEAP_PARAM_EVENT_QUEUE;
				p.event_queue_max = atoi(argv[ret] + 6);
			}
		}
		return shp_set_params(fd, &p);
	}
	if (argc < 2)
		return -EINVAL;
	ret = handle_of(argv[1], &h);
	if (ret)
		return ret;
	if (!strcmp(argv[0], "write") && argc == 4)
		return shp_write(fd, h, strtoull(argv[2], NULL, 0), argv[3], strlen(argv[3]));
	if (!strcmp(argv[0], "read") && argc == 4) {
		size_t len = strtoull(argv[3], NULL, 0);
		char *buf = calloc(1, len + 1);

		ret = buf ? shp_read(fd, h, strtoull(argv[2], NULL, 0), buf, len) : -ENOMEM;
		if (!ret)
			printf("%s: \"%.*s\"\n", argv[1], (int)len, buf);
		free(buf);
		return ret;
	}
	if (!strcmp(argv[0], "store") && argc == 4) {
		ret = handle_of(argv[3], &v);
		return ret ? ret : shp_store(fd, h, strtoull(argv[2], NULL, 0), v);
	}
	if (!strcmp(argv[0], "load") && argc == 3) {
		ret = shp_load(fd, h, strtoull(argv[2], NULL, 0), &v);
		if (!ret)
			printf("%s[%s] = %s\n", argv[1], argv[2], v ? name_of(v) : "null");
		return ret;
	}
	if (!strcmp(argv[0], "root"))
		return shp_root(fd, h, NULL);
	if (!strcmp(argv[0], "unroot"))
		return shp_unroot(fd, h, NULL);
	if (!strcmp(argv[0], "finalizer") && argc == 3)
		return shp_set_finalizer(fd, h, strtoull(argv[2], NULL, 0));
	if (!strcmp(argv[0], "nofinalizer"))
		return shp_clear_finalizer(fd, h);
	fprintf(stderr, "spanheapctl: bad command: %s\n", argv[0]);
	return -EINVAL;
}

/* Runs one command line; returns 0 if it went as expected. */
static int line(char *s)
{
	char *argv[MAX_ARGS + 2], *tok;
	int argc = 0, ret, want = 0;

	s[strcspn(s, "#\n")] = 0;
	for (tok = strtok(s, " \t"); tok && argc < MAX_ARGS + 1; tok = strtok(NULL, " \t"))
		argv[argc++] = tok;
	if (!argc)
		return 0;
	if (!strcmp(argv[0], "expect") && argc > 2) {
		want = -1;
		for (ret = 0; ret < (int)ARRAY_SIZE(errnames); ret++)
			if (!strcmp(errnames[ret].name, argv[1]))
				want = -errnames[ret].err;
		ret = run(argv + 2, argc - 2);
		printf("%s: %s (expected %s)\n", argv[2], ret ? errname(-ret) : "ok", argv[1]);
		return ret == want ? 0 : 1;
	}
	ret = run(argv, argc);
	if (ret) {
		printf("error: %s: %s (%s)\n", argv[0], strerror(-ret), errname(-ret));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	FILE *in = stdin;
	char buf[4096], *cmd, *save;
	int failed = 0;

	fd = shp_open(O_NONBLOCK);
	if (fd < 0) {
		fprintf(stderr, "spanheapctl: /dev/spanheap: %s\n", strerror(-fd));
		return 2;
	}
	if (argc == 3 && !strcmp(argv[1], "-e")) {
		for (cmd = strtok_r(argv[2], ";", &save); cmd; cmd = strtok_r(NULL, ";", &save))
			failed |= line(cmd);
		return failed;
	}
	if (argc == 3 && !strcmp(argv[1], "-f"))
		in = fopen(argv[2], "r");
	if (!in) {
		perror(argv[2]);
		return 2;
	}
	while (fgets(buf, sizeof(buf), in))
		failed |= line(buf);
	return failed;
}
