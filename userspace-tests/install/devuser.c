// SPDX-License-Identifier: GPL-2.0
/*
 * devuser UID GID: run as root in the check-dkms guest, after the udev
 * rule's settings were applied to /dev/spanheap.  Two children drop root
 * for UID: one with no supplementary group, which must be refused
 * (EACCES: the device is not open to everyone), and one in group GID,
 * which must get in and allocate, write and read an object through the
 * installed libspanheap (linked statically: the guest is busybox only).
 * Prints TAP; exit status 1 if a case failed.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <libspanheap.h>

#define NOBODY_GID 65534

static int n;

static int ok(int cond, const char *what)
{
	printf("%sok %d - %s\n", cond ? "" : "not ", ++n, what);
	fflush(stdout);
	return !cond;
}

/* Drops root for @uid with primary group nobody and @ngroups of @gid. */
static int drop(uid_t uid, gid_t gid, int ngroups)
{
	if (setgroups(ngroups, &gid) || setgid(NOBODY_GID) || setuid(uid)) {
		printf("# dropping root: %s\n", strerror(errno));
		return -1;
	}
	/* Root could not be regained: the checks below run unprivileged. */
	return setuid(0) == 0 || getuid() != uid || geteuid() != uid ? -1 : 0;
}

static int outsider(uid_t uid, gid_t gid)
{
	int fd;

	if (drop(uid, gid, 0))
		return ok(0, "uid without the group: dropped root");
	fd = shp_open(0);
	printf("# uid %u, groups none: shp_open %d (%s)\n", (unsigned int)uid, fd,
	       fd < 0 ? strerror(-fd) : "opened");
	return ok(fd == -EACCES, "uid without the group: shp_open fails with EACCES");
}

static int member(uid_t uid, gid_t gid)
{
	static const char text[] = "dkms-installed";
	struct spanheap_stats_v1 st;
	char back[sizeof(text)] = "";
	uint64_t h = 0;
	int fd, bad = 0;

	if (drop(uid, gid, 1))
		return ok(0, "uid in the group: dropped root");
	fd = shp_open(0);
	printf("# uid %u, groups %u: shp_open %d (%s)\n", (unsigned int)uid,
	       (unsigned int)gid, fd, fd < 0 ? strerror(-fd) : "opened");
	bad |= ok(fd >= 0, "uid in the group: shp_open succeeds");
	if (fd < 0)
		return 1;
	bad |= ok(!shp_alloc(fd, SPANHEAP_KIND_DATA, sizeof(text), &h) && h,
		  "uid in the group: shp_alloc of a data object");
	bad |= ok(!shp_write(fd, h, 0, text, sizeof(text)) &&
		  !shp_read(fd, h, 0, back, sizeof(back)) && !strcmp(back, text),
		  "uid in the group: shp_write then shp_read give the text back");
	bad |= ok(!shp_stats(fd, &st) && st.objects == 1,
		  "uid in the group: shp_stats counts the one object");
	bad |= ok(!shp_close(fd), "uid in the group: shp_close");
	return bad;
}

/* Runs @fn in a child; its TAP numbers follow the parent's. */
static int child(int (*fn)(uid_t, gid_t), uid_t uid, gid_t gid, int cases)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		exit(fn(uid, gid));
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return 1;
	n += cases;
	return !WIFEXITED(status) || WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
	uid_t uid;
	gid_t gid;
	int bad = 0;

	if (argc != 3 || getuid() != 0) {
		fprintf(stderr, "usage (as root): %s UID GID\n", argv[0]);
		return 2;
	}
	uid = strtoul(argv[1], NULL, 10);
	gid = strtoul(argv[2], NULL, 10);
	printf("TAP version 13\n1..6\n");
	bad |= child(outsider, uid, gid, 1);
	bad |= child(member, uid, gid, 5);
	return bad;
}
