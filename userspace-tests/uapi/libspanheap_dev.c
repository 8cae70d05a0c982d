// SPDX-License-Identifier: GPL-2.0
/*
 * libspanheap's transport to the device: open, ioctl, read and close of
 * /dev/spanheap.  userspace-tests/inproc/ has the same four functions
 * over the userspace build of kmod/uheap.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "libspanheap.h"

int shp_open(int flags)
{
	int fd = open("/dev/spanheap", O_RDWR | O_CLOEXEC | flags);

	return fd < 0 ? -errno : fd;
}

int shp_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

ssize_t shp_read_bytes(int fd, void *buf, size_t len)
{
	ssize_t n = read(fd, buf, len);

	return n < 0 ? -errno : n;
}

int shp_close(int fd)
{
	return close(fd) ? -errno : 0;
}
