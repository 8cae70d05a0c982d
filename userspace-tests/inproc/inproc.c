// SPDX-License-Identifier: GPL-2.0
/*
 * libspanheap's transport over the userspace build of kmod/uheap.c, so
 * the programs written against /dev/spanheap (the paced fuzzer and its
 * model) run at native speed under ASan, UBSan and TSan.
 *
 * Each shp_open() is a uheap_create(), named by a descriptor number from
 * INPROC_FD_BASE up, which no real file of the process uses.  ioctl and
 * read go to uheap_ioctl() and uheap_read() with the caller's pointers as
 * user pointers: the shim copies through process_vm_{readv,writev}(), so
 * bad pointers fail with -EFAULT as they do in the kernel.  As with a
 * real file, no call may be running on a descriptor being closed.
 */
#include <fcntl.h>
#include <linux/err.h>
#include "uheap.h"
#include "libspanheap.h"
#include "inproc.h"

#define INPROC_FD_BASE		10000
#define INPROC_FILES		1024

static struct inproc_file {
	struct uheap *u;
	bool nonblock;
} files[INPROC_FILES];
static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;

static struct inproc_file *file_of(int fd)
{
	unsigned int i = fd - INPROC_FD_BASE;

	if (i >= INPROC_FILES || !__atomic_load_n(&files[i].u, __ATOMIC_ACQUIRE))
		return NULL;
	return &files[i];
}

int shp_open(int flags)
{
	struct uheap *u;
	int i, ret = -EMFILE;

	pthread_mutex_lock(&files_lock);
	for (i = 0; i < INPROC_FILES && files[i].u; i++)
		;
	if (i < INPROC_FILES) {
		u = uheap_create();
		if (IS_ERR(u)) {
			ret = PTR_ERR(u);
		} else {
			files[i].nonblock = flags & O_NONBLOCK;
			__atomic_store_n(&files[i].u, u, __ATOMIC_RELEASE);
			ret = INPROC_FD_BASE + i;
		}
	}
	pthread_mutex_unlock(&files_lock);
	return ret;
}

int shp_ioctl(int fd, unsigned long cmd, void *arg)
{
	struct inproc_file *f = file_of(fd);

	if (!f)
		return -EBADF;
	/* The kernel passes the low 32 bits of the command on. */
	return uheap_ioctl(f->u, (unsigned int)cmd, arg);
}

ssize_t shp_read_bytes(int fd, void *buf, size_t len)
{
	struct inproc_file *f = file_of(fd);

	if (!f)
		return -EBADF;
	return uheap_read(f->u, buf, len, f->nonblock);
}

int shp_close(int fd)
{
	struct inproc_file *f = file_of(fd);

	if (!f)
		return -EBADF;
	/* A WARN in the core only counts (see shim.h): here it is fatal. */
	if (__atomic_load_n(&shim_warnings, __ATOMIC_RELAXED)) {
		fprintf(stderr, "inproc: %d WARN(s) in the core\n", shim_warnings);
		abort();
	}
	pthread_mutex_lock(&files_lock);
	uheap_destroy(f->u);
	__atomic_store_n(&f->u, NULL, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&files_lock);
	return 0;
}

void shp_inproc_fail_nth(unsigned long n)
{
	shim_fail_nth = n;
}

void shp_inproc_fail_any(unsigned long n)
{
	__atomic_store_n(&shim_fail_alloc_countdown, (long)n, __ATOMIC_RELAXED);
}

bool shp_inproc_fail_pending(void)
{
	return __atomic_load_n(&shim_fail_alloc_countdown, __ATOMIC_RELAXED) > 0;
}

void shp_inproc_set_event_queue_max(unsigned int max)
{
	WRITE_ONCE(shp_dev_event_queue_max, max);
}
