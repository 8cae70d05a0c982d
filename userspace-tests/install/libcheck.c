// SPDX-License-Identifier: GPL-2.0
/*
 * libcheck: a program built against an installed libspanheap (check-dkms
 * compiles it with `pkg-config --cflags --libs spanheap`, shared and
 * static, from a `make install DESTDIR=` tree).  It needs no device: it
 * checks that the installed headers declare what the library defines and
 * that the wrappers reach the kernel and turn its errno into -errno.
 * Prints TAP; exit status 1 if a case failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <libspanheap.h>	/* from -I<includedir>/spanheap */
#include <linux/spanheap.h>	/* the ABI header installed beside it */

static int n, failed;

static void ok(int cond, const char *what)
{
	n++;
	failed |= !cond;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, what);
}

int main(void)
{
	struct spanheap_op op;
	uint64_t h = 42;
	int fd, ret;

	printf("TAP version 13\n1..4\n");
	memset(&op, 0xa5, sizeof(op));
	shp_op_alloc(&op, SPANHEAP_KIND_DATA, 24, 0);
	ok(op.cmd == (uint32_t)SPANHEAP_IOC_ALLOC && !op.error && !op.flags &&
	   op.alloc.kind == SPANHEAP_KIND_DATA && op.alloc.length == 24,
	   "shp_op_alloc fills in an ALLOC op");

	/* /dev/null has no ioctls: the wrapper must return the kernel's ENOTTY. */
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ret = fd < 0 ? -errno : shp_alloc(fd, SPANHEAP_KIND_DATA, 24, &h);
	printf("# shp_alloc on /dev/null: %d (%s)\n", ret, strerror(-ret));
	ok(ret == -ENOTTY && h == 42, "shp_alloc on /dev/null: -ENOTTY, handle untouched");
	ok(shp_close(fd) == 0, "shp_close");
	ret = shp_gc(fd, 0, NULL);
	ok(ret == -EBADF, "shp_gc on a closed fd: -EBADF");
	return failed;
}
