// SPDX-License-Identifier: GPL-2.0
/*
 * spanheapctl: run a script of heap commands against /dev/spanheap.
 *
 *   spanheapctl [--json] [-f FILE | -e 'cmd; cmd; ...']    (default: stdin)
 *
 * Objects are named by the script; the tool keeps the name <-> handle
 * map (weak handles and cleanups are named the same way).  Commands are one per line (-f, stdin) or ';'-separated (-e); '#'
 * starts a comment; `help` lists them (cmds[] below).  Errors name the
 * script and line ("demo.shc:7: ..."; for -e, the command's number).
 * On a terminal it prompts and keeps going after an error; otherwise it
 * runs every command and exits 1 if one failed unexpectedly, 2 on a
 * usage error.  SPANHEAP_DEV overrides the device path.
 *
 * With --json every line on stdout is one JSON object (JSON lines):
 * events, stats and why paths with stable keys, any other output as
 * {"type":"text","text":...}; see Documentation/spanheap/spanheapctl.rst.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <getopt.h>
#include <poll.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "libspanheap.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define MAX_NAMES	4096
#define MAX_CLEANUPS	4096
#define MAX_ARGS	32
#define EUSAGE		4095	/* a malformed command, already reported */

static struct {
	char name[32];
	uint64_t handle;
} names[MAX_NAMES];
static int nnames, fd = -1, quit;
/* Cleanups added by this script: events name the object they were on. */
static struct {
	char name[32];		/* the object's name when the cleanup was added */
	uint64_t handle, token, id;
	int delivered;
} cleanups[MAX_CLEANUPS];
static int ncleanups;
static const char *where = "<stdin>";	/* script name, for messages */
static int lineno, reported;
static int json;		/* --json: JSON lines on stdout */

static const struct {
	const char *name, *args, *help;
} cmds[] = {
	{ "alloc", "NAME data|ref N", "allocate N bytes (data) or N slots (ref) as NAME" },
	{ "allocmany", "NAME data|ref N COUNT [TOKEN]",
	  "alloc NAME0..NAME<COUNT-1> in BATCH calls; with TOKEN, finalizers TOKEN+i" },
	{ "write", "NAME OFFSET TEXT", "copy TEXT into data object NAME at OFFSET" },
	{ "read", "NAME OFFSET LENGTH", "print LENGTH bytes of data object NAME" },
	{ "store", "NAME SLOT TARGET|null", "point slot SLOT of ref object NAME at TARGET" },
	{ "load", "NAME SLOT", "print what slot SLOT of ref object NAME points at" },
	{ "root", "NAME", "make NAME a root (counted)" },
	{ "unroot", "NAME", "drop one root count of NAME" },
	{ "finalizer", "NAME TOKEN", "run a finalizer event with TOKEN when NAME dies" },
	{ "nofinalizer", "NAME", "clear NAME's finalizer" },
	{ "cleanup", "NAME TOKEN", "add a cleanup: an event with TOKEN once NAME died" },
	{ "nocleanup", "NAME TOKEN|id=N", "stop NAME's cleanup with TOKEN (or id N)" },
	{ "weak", "WEAK NAME", "make a weak handle of NAME, named WEAK" },
	{ "weakget", "WEAK [NAME]", "print WEAK's object (nil once it was found dead) [as NAME]" },
	{ "weakroot", "WEAK [NAME]", "weakget, rooting the object in the same call" },
	{ "weakdrop", "WEAK", "drop one reference to WEAK" },
	{ "gc", "[wait]", "start a collection (wait: until it has finished)" },
	{ "events", "[wait TIME [N]]", "print events (wait up to TIME, 2s or 500ms, for one or N)" },
	{ "stats", "", "print the heap's counters" },
	{ "why", "NAME", "print the path by which the collector reaches NAME" },
	{ "params", "[KEY=N]...", "set gc_percent=, mem_limit= (bytes), queue= (events)" },
	{ "expect", "ERRNO COMMAND...", "run COMMAND, which must fail with ERRNO" },
	{ "echo", "TEXT", "print TEXT" },
	{ "help", "", "list the commands" },
	{ "quit", "", "end the session" },
};

static const struct {
	const char *name;
	int err;
} errnames[] = {
	{ "EINVAL", EINVAL }, { "ENOENT", ENOENT }, { "ESTALE", ESTALE },
	{ "EEXIST", EEXIST }, { "EFAULT", EFAULT }, { "ENOMEM", ENOMEM },
	{ "ERANGE", ERANGE }, { "ENOTTY", ENOTTY }, { "EAGAIN", EAGAIN },
	{ "EOVERFLOW", EOVERFLOW }, { "ETIMEDOUT", ETIMEDOUT },
};

static const char *errname(int err)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(errnames); i++)
		if (errnames[i].err == err)
			return errnames[i].name;
	return "E?";
}

/* Prints "script:line: message" on stderr. */
static void __attribute__((format(printf, 1, 2))) report(const char *fmt, ...)
{
	va_list ap;

	reported = 1;
	fflush(stdout);
	fprintf(stderr, "%s:%d: ", where, lineno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * Length of the well-formed UTF-8 sequence at @p (RFC 3629: no
 * overlongs, no surrogates, nothing past U+10FFFF), or 0.
 */
static int utf8_len(const unsigned char *p)
{
	int n, i;

	if (*p >= 0xc2 && *p <= 0xdf)
		n = 2;
	else if (*p >= 0xe0 && *p <= 0xef)
		n = 3;
	else if (*p >= 0xf0 && *p <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((*p == 0xe0 && p[1] < 0xa0) || (*p == 0xed && p[1] > 0x9f) ||
	    (*p == 0xf0 && p[1] < 0x90) || (*p == 0xf4 && p[1] > 0x8f))
		return 0;
	return n;
}

/*
 * Writes @s as a JSON string (quoted, escaped).  JSON text is UTF-8:
 * a byte that does not start a well-formed sequence is U+FFFD.
 */
static void json_str(const char *s)
{
	const unsigned char *p;
	int n;

	putchar('"');
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p >= 0x80) {
			n = utf8_len(p);
			if (!n) {
				printf("\\ufffd");
				continue;
			}
			fwrite(p, 1, n, stdout);
			p += n - 1;
		} else if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p == '\n')
			printf("\\n");
		else if (*p == '\t')
			printf("\\t");
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/*
 * Prints a line of text for a person; with --json, each line of it as
 * {"type":"text","text":...}, so that stdout stays JSON lines.
 */
static void __attribute__((format(printf, 1, 2))) out(const char *fmt, ...)
{
	char buf[8192], *line, *save;
	va_list ap;

	va_start(ap, fmt);
	if (!json) {
		vprintf(fmt, ap);
		va_end(ap);
		return;
	}
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		printf("{\"type\":\"text\",\"text\":");
		json_str(line);
		printf("}\n");
	}
}

/* The command list, to @f, or through out() (JSON text records) if NULL. */
static void print_help(FILE *f)
{
	char syn[64];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		snprintf(syn, sizeof(syn), "%s %s", cmds[i].name, cmds[i].args);
		if (f)
			fprintf(f, "  %-28s %s\n", syn, cmds[i].help);
		else
			out("  %-28s %s\n", syn, cmds[i].help);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: spanheapctl [--json] [-f FILE | -e 'CMD; CMD; ...']\n"
		"Runs heap commands against /dev/spanheap (or $SPANHEAP_DEV), from\n"
		"FILE, from -e, or from stdin (with a prompt on a terminal).\n"
		"  -f FILE     run the commands in FILE, one per line ('#' comments)\n"
		"  -e SCRIPT   run the ';'-separated commands in SCRIPT\n"
		"  -j, --json  print events, stats and why paths (and any other\n"
		"              output, as text records) as JSON lines\n"
		"  -h, --help  show this help\n"
		"Commands:\n");
	print_help(f);
	fprintf(f, "Exit status: 0 ok, 1 a command failed unexpectedly, 2 usage error.\n");
}

/* Opens the device on first use; a newcomer without it is told what to do. */
static int dev(void)
{
	const char *path = getenv("SPANHEAP_DEV");
	int err;

	if (fd >= 0)
		return fd;
#ifdef SPANHEAPCTL_INPROC	/* linked with inproc.c: a heap of this process */
	fd = shp_open(O_NONBLOCK);
	if (fd >= 0)
		return fd;
	fprintf(stderr, "spanheapctl: in-process heap: %s\n", strerror(-fd));
	exit(1);
#endif
	if (!path || !*path)
		path = "/dev/spanheap";
	fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0)
		return fd;
	err = errno;
	fflush(stdout);
	if (err == ENOENT || err == ENXIO || err == ENODEV)
		fprintf(stderr,
			"spanheapctl: %s does not exist: the spanheap module is not loaded.\n"
			"  Load it (as root) with `insmod spanheap.ko`, or run `make shell` in\n"
			"  the spanheap source tree for a QEMU guest with the module loaded.\n",
			path);
	else if (err == EACCES || err == EPERM)
		fprintf(stderr, "spanheapctl: cannot open %s: permission denied; run as root or as a member of group spanheap (make install).\n",
			path);
	else
		fprintf(stderr, "spanheapctl: cannot open %s: %s\n", path, strerror(err));
	exit(1);
}

/* Parses a whole number; reports and returns -EUSAGE if it is not one. */
static int num(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	if (!*s || *end || errno || *s == '-') {
		report("bad number '%s'", s);
		return -EUSAGE;
	}
	return 0;
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
	report("unknown object %s", name);
	return -EUSAGE;		/* not the device's ENOENT: expect must not pass */
}

/* Names @h as @name, replacing what @name named before. */
static int bind(const char *name, uint64_t h)
{
	int i;

	for (i = 0; i < nnames && strcmp(names[i].name, name); i++)
		;
	if (i == MAX_NAMES) {
		report("too many names (%d)", MAX_NAMES);
		return -EUSAGE;
	}
	if (i == nnames && strlen(name) >= sizeof(names[0].name)) {
		/* Kept cut short, it could never be named again. */
		report("name too long (at most %zu bytes): %s",
		       sizeof(names[0].name) - 1, name);
		return -EUSAGE;
	}
	if (i == nnames)
		snprintf(names[nnames++].name, sizeof(names[0].name), "%s", name);
	names[i].handle = h;
	return 0;
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

/* The cleanup of this script that an event with @token delivers, or NULL. */
static const char *cleanup_of(uint64_t token)
{
	int i;

	for (i = 0; i < ncleanups; i++) {
		if (!cleanups[i].delivered && cleanups[i].token == token) {
			cleanups[i].delivered = 1;
			return cleanups[i].name;
		}
	}
	return NULL;
}

/* JSON: "key":"NAME" for a known handle, else "key":null. */
static void json_name(const char *key, uint64_t h)
{
	int i;

	printf("\"%s\":", key);
	for (i = 0; i < nnames; i++) {
		if (h && names[i].handle == h) {
			json_str(names[i].name);
			return;
		}
	}
	printf("null");
}

static void print_event(const struct spanheap_event *ev)
{
	unsigned long long seq = ev->seq, token = ev->token;
	const char *name;

	if (json) {
		name = ev->type == SPANHEAP_EVENT_CLEANUP ? cleanup_of(ev->token) : NULL;
		printf("{\"type\":\"event\",\"seq\":%llu,\"event\":", seq);
		if (ev->type == SPANHEAP_EVENT_FINALIZER || ev->type == SPANHEAP_EVENT_CLEANUP)
			printf("\"%s\"", ev->type == SPANHEAP_EVENT_FINALIZER ? "finalizer" : "cleanup");
		else
			printf("%u", ev->type);
		printf(",\"token\":%llu,\"handle\":%llu,", token,
		       (unsigned long long)ev->handle);
		if (name) {
			printf("\"object\":");
			json_str(name);
		} else {
			json_name("object", ev->handle);
		}
		printf("}\n");
		return;
	}
	switch (ev->type) {
	case SPANHEAP_EVENT_FINALIZER:
		printf("event %llu: finalizer of %s ran (token %llu)\n", seq,
		       name_of(ev->handle), token);
		break;
	case SPANHEAP_EVENT_CLEANUP:
		name = cleanup_of(ev->token);
		if (name)
			printf("event %llu: cleanup of %s ran (token %llu)\n", seq, name, token);
		else
			printf("event %llu: cleanup ran (token %llu)\n", seq, token);
		break;
	default:
		printf("event %llu: type %u (token %llu, handle %s)\n", seq, ev->type, token,
		       name_of(ev->handle));
	}
}

/* Prints what is pending; returns the number of events or -errno. */
static int read_events(void)
{
	struct spanheap_event ev[64];
	ssize_t n, i, total = 0;

	while ((n = shp_events(dev(), ev, 64)) > 0) {
		for (i = 0; i < n; i++)
			print_event(&ev[i]);
		total += n;
	}
	return n < 0 ? (int)n : total;
}

static int print_events(void)
{
	int n = read_events();

	if (n >= 0 && json)
		printf("{\"type\":\"events\",\"count\":%d}\n", n);
	else if (!n)
		out("no events\n");
	return n < 0 ? n : 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * "events wait 2s|500ms [N]": poll() until an event is readable (or N
 * have been printed) or the time is up; fewer than N is -ETIMEDOUT.  A
 * descriptor poll() does not know (the in-process build's) is read
 * every 10 ms instead, until the same deadline.
 */
static int wait_events(const char *arg, const char *count)
{
	struct pollfd p = { .events = POLLIN };
	unsigned long long t;
	uint64_t want = 1;
	long long deadline, left;
	int ret, total = 0;
	char *end;

	errno = 0;
	t = strtoull(arg, &end, 10);
	if (end == arg || errno || *arg == '-' ||
	    (strcmp(end, "s") && strcmp(end, "ms")) ||
	    (!strcmp(end, "s") ? t > 86400 : t > 86400000)) {
		report("bad time '%s' (e.g. 2s, 500ms)", arg);
		return -EUSAGE;
	}
	if (count && (num(count, &want) || !want || want > INT_MAX)) {
		if (!reported)
			report("bad event count '%s'", count);
		return -EUSAGE;
	}
	if (!strcmp(end, "s"))
		t *= 1000;
	deadline = now_ms() + (long long)t;
	p.fd = dev();
	for (;;) {
		ret = read_events();
		if (ret < 0)
			return ret;
		total += ret;
		if ((uint64_t)total >= want)
			return 0;
		left = deadline - now_ms();
		if (left <= 0)
			break;
		fflush(stdout);
		ret = poll(&p, 1, (int)left);
		if (ret < 0)
			return -errno;
		if (ret && (p.revents & POLLNVAL))	/* not a file poll() knows */
			poll(NULL, 0, left < 10 ? (int)left : 10);
	}
	if (!total)
		out("no events\n");
	if (!count)
		return 0;
	report("events: %d of %llu events in %s", total, (unsigned long long)want, arg);
	return -ETIMEDOUT;
}

/* The stats as one JSON object: every field the kernel wrote, by its name. */
static void json_stats(const struct spanheap_stats_v1 *st)
{
	static const struct {
		const char *name;
		size_t off, len;
	} f[] = {
#define F(x) { #x, offsetof(struct spanheap_stats_v1, x), sizeof(((struct spanheap_stats_v1 *)0)->x) }
		F(version), F(objects), F(bytes_in_use), F(bytes_reserved), F(mem_limit),
		F(collections), F(finalizers_set), F(finalizers_queued), F(finalizers_run),
		F(events_pending), F(events_read), F(events_deferred), F(roots),
		F(gc_percent), F(event_queue_max), F(events_overcap), F(bytes_meta),
		F(cleanups_set), F(cleanups_queued), F(cleanups_run), F(weak_handles),
		F(weak_live), F(pins), F(gc_pause_last_ns), F(gc_pause_max_ns),
		F(gc_pause_total_ns),
#undef F
	};
	const char *p = (const char *)st;
	size_t i;

	printf("{\"type\":\"stats\"");
	for (i = 0; i < ARRAY_SIZE(f); i++) {
		if (f[i].off + f[i].len > st->size)
			break;
		if (!strcmp(f[i].name, "gc_percent"))
			printf(",\"%s\":%d", f[i].name, *(const int32_t *)(p + f[i].off));
		else if (f[i].len == 4)
			printf(",\"%s\":%u", f[i].name, *(const uint32_t *)(p + f[i].off));
		else
			printf(",\"%s\":%llu", f[i].name,
			       (unsigned long long)*(const uint64_t *)(p + f[i].off));
	}
	printf("}\n");
}

static int print_stats(void)
{
	struct spanheap_stats_v1 st;
	int ret = shp_stats(dev(), &st);

	if (ret)
		return ret;
	if (json) {
		json_stats(&st);
		return 0;
	}
	printf("stats: objects %llu, bytes in use %llu, reserved %llu, collections %llu,\n"
	       "       finalizers set %llu, events run %llu read %llu pending %llu deferred %llu, roots %llu\n",
	       (unsigned long long)st.objects, (unsigned long long)st.bytes_in_use,
	       (unsigned long long)st.bytes_reserved, (unsigned long long)st.collections,
	       (unsigned long long)st.finalizers_set, (unsigned long long)st.finalizers_run,
	       (unsigned long long)st.events_read, (unsigned long long)st.events_pending,
	       (unsigned long long)st.events_deferred, (unsigned long long)st.roots);
	if (st.size >= offsetof(struct spanheap_stats_v1, pins) + sizeof(st.pins))
		printf("       cleanups set %llu queued %llu run %llu, weak handles %llu (live %llu), pins %llu\n",
		       (unsigned long long)st.cleanups_set, (unsigned long long)st.cleanups_queued,
		       (unsigned long long)st.cleanups_run, (unsigned long long)st.weak_handles,
		       (unsigned long long)st.weak_live, (unsigned long long)st.pins);
	if (st.size >= offsetof(struct spanheap_stats_v1, gc_pause_total_ns) +
		       sizeof(st.gc_pause_total_ns))
		printf("       gc pause last %llu us, max %llu us, total %llu us\n",
		       (unsigned long long)st.gc_pause_last_ns / 1000,
		       (unsigned long long)st.gc_pause_max_ns / 1000,
		       (unsigned long long)st.gc_pause_total_ns / 1000);
	return 0;
}

/* A path's root kind, for people and for JSON. */
static const char *why_kind_name(uint32_t kind)
{
	switch (kind) {
	case SPANHEAP_WHY_UNREACHABLE:		return "unreachable";
	case SPANHEAP_WHY_ROOTED:		return "rooted";
	case SPANHEAP_WHY_EVENT:		return "finalizer event unread";
	case SPANHEAP_WHY_FIN_QUEUED:		return "finalizer queued";
	case SPANHEAP_WHY_FIN_REFERENT:		return "finalizer referent";
	case SPANHEAP_WHY_FIN_CYCLE:		return "finalizer cycle";
	case SPANHEAP_WHY_KERNEL:		return "kernel root";
	}
	return "unknown";
}

/* A hop's object: its name, "#HANDLE" for one without, "#?" without a handle. */
static const char *hop_name(uint64_t h, char *buf, size_t len)
{
	int i;

	for (i = 0; h && i < nnames; i++)
		if (names[i].handle == h)
			return names[i].name;
	if (h)
		snprintf(buf, len, "#0x%llx", (unsigned long long)h);
	else
		snprintf(buf, len, "#?");
	return buf;
}

/*
 * why NAME: "C: R (rooted) -> R[0] -> A[2] -> C", "A: unreachable", or
 * for a finalizable object on a cycle through itself, "X: never
 * finalized, on a cycle through its own finalizer: X[0] -> Y[1] -> X".
 */
static int why(const char *name, uint64_t h)
{
	struct spanheap_why_hop hops[SPANHEAP_WHY_MAX_HOPS];
	uint32_t kind, n, i, shown;
	char buf[8192], nb[32];
	size_t len = 0;
	int ret = shp_why(dev(), h, hops, SPANHEAP_WHY_MAX_HOPS, &kind, &n);

	if (ret)
		return ret;
	shown = n < SPANHEAP_WHY_MAX_HOPS ? n : SPANHEAP_WHY_MAX_HOPS;
	if (json) {
		printf("{\"type\":\"why\",\"object\":");
		json_str(name);
		printf(",\"handle\":%llu,\"root\":\"%s\",\"never_finalized\":%s,"
		       "\"nhops\":%u,\"truncated\":%s,\"path\":[",
		       (unsigned long long)h, why_kind_name(kind),
		       kind == SPANHEAP_WHY_FIN_CYCLE ? "true" : "false", n,
		       n > shown ? "true" : "false");
		for (i = 0; i < shown; i++) {
			printf("%s{", i ? "," : "");
			json_name("object", hops[i].handle);
			printf(",\"handle\":%llu,\"slot\":", (unsigned long long)hops[i].handle);
			if (hops[i].slot == SPANHEAP_WHY_NO_SLOT)
				printf("null}");
			else
				printf("%llu}", (unsigned long long)hops[i].slot);
		}
		printf("]}\n");
		return 0;
	}
#define ADD(...) (len += snprintf(buf + len, len < sizeof(buf) ? sizeof(buf) - len : 0, __VA_ARGS__))
	if (kind == SPANHEAP_WHY_UNREACHABLE || !n) {
		printf("%s: unreachable\n", name);
		return 0;
	}
	if (kind == SPANHEAP_WHY_FIN_CYCLE)
		ADD("%s: never finalized, on a cycle through its own finalizer: ", name);
	else
		ADD("%s: %s (%s)", name, hop_name(hops[0].handle, nb, sizeof(nb)),
		    why_kind_name(kind));
	/* A root's own object is the whole path: "R: R (rooted)". */
	for (i = kind == SPANHEAP_WHY_FIN_CYCLE || n > 1 ? 0 : 1; i < shown; i++) {
		const char *sep = i || kind != SPANHEAP_WHY_FIN_CYCLE ? " -> " : "";

		if (hops[i].slot == SPANHEAP_WHY_NO_SLOT)
			ADD("%s%s", sep, hop_name(hops[i].handle, nb, sizeof(nb)));
		else
			ADD("%s%s[%llu]", sep, hop_name(hops[i].handle, nb, sizeof(nb)),
			    (unsigned long long)hops[i].slot);
	}
	if (n > shown)
		ADD(" -> ... (%u more hops)", n - shown);
#undef ADD
	printf("%s\n", buf);
	return 0;
}

static int params(char **argv, int argc)
{
	struct spanheap_params p = { 0 };
	uint64_t v;
	int i;

	for (i = 1; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');

		if (!eq || num(eq + 1, &v))
			goto bad;
		if (!strncmp(argv[i], "gc_percent=", 11)) {
			p.flags |= SPANHEAP_PARAM_GC_PERCENT;
			p.gc_percent = v;
		} else if (!strncmp(argv[i], "mem_limit=", 10)) {
			p.flags |= SPANHEAP_PARAM_MEM_LIMIT;
			p.mem_limit = v;
		} else if (!strncmp(argv[i], "queue=", 6)) {
			p.flags |= SPANHEAP_PARAM_EVENT_QUEUE;
			p.event_queue_max = v;
		} else {
			goto bad;
		}
	}
	return shp_set_params(dev(), &p);
bad:
	report("params: bad setting '%s' (gc_percent=N, mem_limit=N, queue=N)", argv[i]);
	return -EUSAGE;
}

/*
 * Cleanups and weak handles.  The ioctls are called directly: these are
 * the ABI's newest commands, and the tool shows them as they are.
 */
static int add_cleanup(const char *name, uint64_t h, const char *tok)
{
	struct spanheap_cleanup c = { .size = sizeof(c), .handle = h };
	uint64_t token;
	int ret;

	if (ncleanups == MAX_CLEANUPS) {
		report("too many cleanups (%d)", MAX_CLEANUPS);
		return -EUSAGE;
	}
	ret = num(tok, &token);
	c.token = token;
	if (!ret)
		ret = shp_ioctl(dev(), SPANHEAP_IOC_CLEANUP, &c);
	if (ret)
		return ret;
	snprintf(cleanups[ncleanups].name, sizeof(cleanups[0].name), "%s", name);
	cleanups[ncleanups].handle = h;
	cleanups[ncleanups].token = c.token;
	cleanups[ncleanups++].id = c.id;
	out("cleanup %llu: %s, token %llu\n", (unsigned long long)c.id, name,
	       (unsigned long long)c.token);
	return 0;
}

/* "nocleanup NAME TOKEN": the latest of NAME's cleanups with TOKEN; or id=N. */
static int stop_cleanup(const char *name, uint64_t h, const char *which)
{
	struct spanheap_cleanup c = { .size = sizeof(c), .handle = h };
	uint64_t token;
	int i, ret;

	if (!strncmp(which, "id=", 3)) {
		ret = num(which + 3, &token);
		c.id = token;
		return ret ? ret : shp_ioctl(dev(), SPANHEAP_IOC_CLEANUP_STOP, &c);
	}
	ret = num(which, &token);
	if (ret)
		return ret;
	for (i = ncleanups - 1; i >= 0; i--)
		if (cleanups[i].handle == h && cleanups[i].token == token)
			break;
	if (i < 0) {
		report("nocleanup: %s has no cleanup with token %s", name, which);
		return -EUSAGE;
	}
	c.id = cleanups[i].id;
	ret = shp_ioctl(dev(), SPANHEAP_IOC_CLEANUP_STOP, &c);
	if (!ret)
		cleanups[i].delivered = 1;	/* no event may match it now */
	return ret;
}

static int weak_make(const char *wname, uint64_t h)
{
	struct spanheap_weakref w = { .size = sizeof(w), .handle = h };
	int i, ret = shp_ioctl(dev(), SPANHEAP_IOC_WEAK_MAKE, &w);

	if (ret)
		return ret;
	for (i = 0; i < nnames && names[i].handle != w.weak; i++)
		;
	if (i < nnames && strcmp(names[i].name, wname))
		out("%s = weak %s: the same as %s (%llu refs)\n", wname, name_of(h),
		       names[i].name, (unsigned long long)w.count);
	else
		out("%s = weak %s (%llu ref%s)\n", wname, name_of(h),
		       (unsigned long long)w.count, w.count == 1 ? "" : "s");
	return bind(wname, w.weak);
}

/* weakget / weakroot WEAK [NAME] */
static int weak_get(char **argv, int argc)
{
	struct spanheap_weakref w = { .size = sizeof(w) };
	uint64_t weak;
	int ret;

	if (argc > 3) {
		report("usage: %s WEAK [NAME]", argv[0]);
		return -EUSAGE;
	}
	ret = handle_of(argv[1], &weak);
	if (ret)
		return ret;
	w.weak = weak;
	if (!strcmp(argv[0], "weakroot"))
		w.flags = SPANHEAP_WEAK_ROOT;
	ret = shp_ioctl(dev(), SPANHEAP_IOC_WEAK_GET, &w);
	if (ret)
		return ret;
	if (!w.handle) {
		out("%s -> nil\n", argv[1]);
		return 0;
	}
	out("%s -> %s%s\n", argv[1], name_of(w.handle),
	       w.flags & SPANHEAP_WEAK_ROOT ? ", rooted" : "");
	return argc > 2 ? bind(argv[2], w.handle) : 0;
}

static int weak_drop(const char *wname)
{
	struct spanheap_weakref w = { .size = sizeof(w) };
	uint64_t weak;
	int ret = handle_of(wname, &weak);

	w.weak = weak;
	if (!ret)
		ret = shp_ioctl(dev(), SPANHEAP_IOC_WEAK_DROP, &w);
	if (!ret)
		out("%s: %llu ref%s left\n", wname, (unsigned long long)w.count,
		       w.count == 1 ? "" : "s");
	return ret;
}

/* Object commands: NAME, then argc - 2 more arguments. */
static int run_obj(char **argv, int argc)
{
	uint64_t h, v, a;
	int ret;

	if (!strcmp(argv[0], "weakget") || !strcmp(argv[0], "weakroot"))
		return weak_get(argv, argc);
	if (!strcmp(argv[0], "weakdrop"))
		return weak_drop(argv[1]);
	ret = handle_of(argv[argc > 2 && !strcmp(argv[0], "weak") ? 2 : 1], &h);
	if (ret)
		return ret;
	if (!strcmp(argv[0], "weak"))
		return weak_make(argv[1], h);
	if (!strcmp(argv[0], "cleanup"))
		return add_cleanup(argv[1], h, argv[2]);
	if (!strcmp(argv[0], "nocleanup"))
		return stop_cleanup(argv[1], h, argv[2]);
	if (argc > 2)
		ret = num(argv[2], &a);
	if (ret)
		return ret;
	if (!strcmp(argv[0], "write"))
		return shp_write(dev(), h, a, argv[3], strlen(argv[3]));
	if (!strcmp(argv[0], "read")) {
		size_t len;
		char *buf;

		ret = num(argv[3], &v);
		if (ret)
			return ret;
		len = v;
		buf = calloc(1, len + 1);
		ret = buf ? shp_read(dev(), h, a, buf, len) : -ENOMEM;
		if (!ret)
			out("%s: \"%.*s\"\n", argv[1], (int)len, buf);
		free(buf);
		return ret;
	}
	if (!strcmp(argv[0], "store")) {
		ret = handle_of(argv[3], &v);
		return ret ? ret : shp_store(dev(), h, a, v);
	}
	if (!strcmp(argv[0], "load")) {
		ret = shp_load(dev(), h, a, &v);
		if (!ret)
			out("%s[%s] = %s\n", argv[1], argv[2], v ? name_of(v) : "null");
		return ret;
	}
	if (!strcmp(argv[0], "root"))
		return shp_root(dev(), h, NULL);
	if (!strcmp(argv[0], "unroot"))
		return shp_unroot(dev(), h, NULL);
	if (!strcmp(argv[0], "finalizer"))
		return shp_set_finalizer(dev(), h, a);
	return shp_clear_finalizer(dev(), h);		/* nofinalizer */
}

/*
 * allocmany: COUNT objects in SPANHEAP_IOC_BATCH calls of up to
 * SPANHEAP_BATCH_MAX ops, then (with TOKEN) their finalizers the same
 * way.  The objects made before a failed op keep their names.
 */
static int alloc_many(char **argv, int argc, uint32_t kind)
{
	static struct spanheap_op ops[SPANHEAP_BATCH_MAX];
	uint64_t len, count, token = 0, at, i, n;
	char name[32];
	uint32_t done;
	int ret;

	ret = num(argv[3], &len);
	if (!ret)
		ret = num(argv[4], &count);
	if (!ret && argc > 5)
		ret = num(argv[5], &token);
	if (ret)
		return ret;
	if (!count || count > (uint64_t)(MAX_NAMES - nnames)) {
		report("allocmany: COUNT must be 1..%d", MAX_NAMES - nnames);
		return -EUSAGE;
	}
	for (at = 0; at < count; at += n) {
		n = count - at < SPANHEAP_BATCH_MAX ? count - at : SPANHEAP_BATCH_MAX;
		for (i = 0; i < n; i++)
			shp_op_alloc(&ops[i], kind, len, 0);
		ret = shp_batch(dev(), ops, n, &done);
		if (ret)
			return ret;
		for (i = 0; i < done; i++) {
			snprintf(name, sizeof(name), "%.20s%llu", argv[1],
				 (unsigned long long)(at + i));
			ret = bind(name, ops[i].alloc.handle);
			if (ret)
				return ret;
		}
		if (done < n)
			return ops[done].error;
		if (argc <= 5)
			continue;
		for (i = 0; i < n; i++)
			shp_op_finalizer(&ops[i], ops[i].alloc.handle, token + at + i, 0);
		ret = shp_batch(dev(), ops, n, &done);
		if (ret)
			return ret;
		if (done < n)
			return ops[done].error;
	}
	return 0;
}

static int run(char **argv, int argc)
{
	size_t i;
	uint64_t h, len;
	int ret, nargs = 0;
	const char *a;

	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		if (!strcmp(argv[0], cmds[i].name))
			break;
	if (i == ARRAY_SIZE(cmds)) {
		report("unknown command '%s' (try 'help')", argv[0]);
		return -EUSAGE;
	}
	/* Fixed-arity commands: count the words of the args column. */
	for (a = cmds[i].args; *a && *a != '['; a += strcspn(a, " "), a += *a == ' ')
		nargs++;
	if (strcmp(argv[0], "echo") && strcmp(argv[0], "expect") &&
	    (argc - 1 < nargs || (!strchr(cmds[i].args, '[') && argc - 1 > nargs))) {
		report("usage: %s %s", cmds[i].name, cmds[i].args);
		return -EUSAGE;
	}

	if (!strcmp(argv[0], "alloc")) {
		uint32_t kind = !strcmp(argv[2], "ref") ? SPANHEAP_KIND_REF :
				!strcmp(argv[2], "data") ? SPANHEAP_KIND_DATA : 0;

		ret = num(argv[3], &len);
		if (!ret)
			ret = shp_alloc(dev(), kind, len, &h);
		return ret ? ret : bind(argv[1], h);
	}
	if (!strcmp(argv[0], "allocmany"))
		return alloc_many(argv, argc, !strcmp(argv[2], "ref") ? SPANHEAP_KIND_REF :
				  !strcmp(argv[2], "data") ? SPANHEAP_KIND_DATA : 0);
	if (!strcmp(argv[0], "echo")) {
		char text[4096];
		size_t len = 0;

		text[0] = 0;
		for (ret = 1; ret < argc && len < sizeof(text); ret++)
			len += snprintf(text + len, sizeof(text) - len, "%s%s", argv[ret],
					ret + 1 < argc ? " " : "");
		out("%s\n", text);
		return 0;
	}
	if (!strcmp(argv[0], "help")) {
		print_help(NULL);
		return 0;
	}
	if (!strcmp(argv[0], "gc")) {
		if (argc > 2 || (argc == 2 && strcmp(argv[1], "wait"))) {
			report("usage: gc [wait]");
			return -EUSAGE;
		}
		return shp_gc(dev(), argc > 1 ? SPANHEAP_GC_WAIT : 0, NULL);
	}
	if (!strcmp(argv[0], "events")) {
		if (argc == 1)
			return print_events();
		if ((argc == 3 || argc == 4) && !strcmp(argv[1], "wait"))
			return wait_events(argv[2], argc == 4 ? argv[3] : NULL);
		report("usage: events [wait TIME [N]]");
		return -EUSAGE;
	}
	if (!strcmp(argv[0], "stats"))
		return print_stats();
	if (!strcmp(argv[0], "why")) {
		ret = handle_of(argv[1], &h);
		return ret ? ret : why(argv[1], h);
	}
	if (!strcmp(argv[0], "params"))
		return params(argv, argc);
	if (!strcmp(argv[0], "quit")) {
		quit = 1;
		return 0;
	}
	if (!strcmp(argv[0], "expect")) {
		report("expect is not allowed here");
		return -EUSAGE;
	}
	return run_obj(argv, argc);
}

/* Runs one command line; returns 0 if it went as expected, 1 if not. */
static int line(char *s)
{
	char *argv[MAX_ARGS + 2], *tok;
	int argc = 0, ret, want = 0, i;

	s[strcspn(s, "#\n")] = 0;
	for (tok = strtok(s, " \t\r"); tok && argc < MAX_ARGS + 1; tok = strtok(NULL, " \t\r"))
		argv[argc++] = tok;
	if (!argc)
		return 0;
	reported = 0;
	if (!strcmp(argv[0], "expect")) {
		if (argc < 3) {
			report("usage: expect ERRNO COMMAND...");
			return 1;
		}
		want = -1;
		for (i = 0; i < (int)ARRAY_SIZE(errnames); i++)
			if (!strcmp(errnames[i].name, argv[1]))
				want = -errnames[i].err;
		if (want == -1) {
			report("expect: unknown errno %s", argv[1]);
			return 1;
		}
		ret = run(argv + 2, argc - 2);
		if (ret == -EUSAGE)
			return 1;
		out("%s: %s (expected %s)\n", argv[2], ret ? errname(-ret) : "ok", argv[1]);
		if (ret == want)
			return 0;
		report("%s: expected %s, got %s", argv[2], argv[1], ret ? errname(-ret) : "ok");
		return 1;
	}
	ret = run(argv, argc);
	if (ret && !reported)
		report("%s: %s (%s)", argv[0], strerror(-ret), errname(-ret));
	return !!ret;
}

/* Commands from a stream; on a terminal, with a prompt, until quit or EOF. */
static int run_stream(FILE *in, int tty)
{
	char buf[4096];
	int failed = 0;

	while (!quit) {
		if (tty) {
			printf("spanheapctl> ");
			fflush(stdout);
		}
		if (!fgets(buf, sizeof(buf), in))
			break;
		lineno++;
		failed |= line(buf);
	}
	if (tty && !quit)
		printf("\n");
	return tty ? 0 : failed;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL, *script = NULL;
	char *cmd, *save;
	FILE *in = stdin;
	int c, failed = 0;

	while ((c = getopt_long(argc, argv, "+hjf:e:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'j':
			json = 1;
			break;
		case 'f':
			file = optarg;
			break;
		case 'e':
			script = optarg;
			break;
		default:	/* getopt has said what is wrong */
			fprintf(stderr, "Try 'spanheapctl --help'.\n");
			return 2;
		}
	}
	if (optind < argc || (file && script)) {
		fprintf(stderr, "spanheapctl: %s\nTry 'spanheapctl --help'.\n",
			optind < argc ? "unexpected argument" : "-f and -e do not go together");
		return 2;
	}
	if (script) {
		/* Each ';'- or newline-separated command counts as one line. */
		char *s = strdup(script);

		where = "-e";
		for (cmd = strtok_r(s, ";\n", &save); cmd && !quit;
		     cmd = strtok_r(NULL, ";\n", &save)) {
			lineno++;
			failed |= line(cmd);
		}
		free(s);
		return failed;
	}
	if (file) {
		in = fopen(file, "r");
		if (!in) {
			fprintf(stderr, "spanheapctl: cannot open %s: %s\n", file, strerror(errno));
			return 2;
		}
		where = file;
		return run_stream(in, 0);
	}
	return run_stream(stdin, isatty(STDIN_FILENO));
}
