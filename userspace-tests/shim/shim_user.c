// SPDX-License-Identifier: GPL-2.0
/* User memory and wait queues of shim_user.h. */
#define _GNU_SOURCE
#include <shim_user.h>
#include <unistd.h>

/*
 * Bytes of @n not copied between this process's @local and @user.  Not
 * inlined: ioctl-prof.sh counts the ioctl path without it.
 */
static noinline unsigned long user_copy(void *local, const void *user, unsigned long n, bool to_user)
{
	struct iovec l = { .iov_base = local, .iov_len = n };
	struct iovec r = { .iov_base = (void *)user, .iov_len = n };
	ssize_t done;

	if (!n)
		return 0;
	if ((unsigned long)user >= TASK_SIZE_MAX || n > TASK_SIZE_MAX - (unsigned long)user)
		return n;
	if (to_user)
		done = process_vm_writev(getpid(), &l, 1, &r, 1, 0);
	else
		done = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	return done < 0 ? n : n - done;
}

unsigned long copy_from_user(void *to, const void __user *from, unsigned long n)
{
	unsigned long left = user_copy(to, from, n, false);

	memset((char *)to + (n - left), 0, left);	/* as the kernel's */
	return left;
}

unsigned long copy_to_user(void __user *to, const void *from, unsigned long n)
{
	return user_copy((void *)from, to, n, true);
}

/* As lib/usercopy.c: a larger user struct is fine if its tail is zero. */
int copy_struct_from_user(void *dst, size_t ksize, const void __user *src, size_t usize)
{
	size_t size = min(ksize, usize), rest = max(ksize, usize) - size;
	const char __user *tail = (const char __user *)src + size;
	char buf[64];

	if (usize < ksize) {
		memset((char *)dst + size, 0, rest);
	} else {
		while (rest) {
			size_t n = min(rest, sizeof(buf)), left, i;

			/* A non-zero byte before a fault wins, as in check_zeroed_user(). */
			left = copy_from_user(buf, tail, n);
			for (i = 0; i < n - left; i++)
				if (buf[i])
					return -E2BIG;
			if (left)
				return -EFAULT;
			tail += n;
			rest -= n;
		}
	}
	return copy_from_user(dst, src, size) ? -EFAULT : 0;
}

int import_single_range(int rw, void __user *buf, size_t len, struct iovec *iov,
			struct iov_iter *i)
{
	if ((unsigned long)buf >= TASK_SIZE_MAX || len > TASK_SIZE_MAX - (unsigned long)buf)
		return -EFAULT;
	iov->iov_base = buf;
	iov->iov_len = len;
	i->ptr = buf;
	i->count = len;
	return 0;
}

size_t copy_from_iter(void *addr, size_t bytes, struct iov_iter *i)
{
	size_t n = min(bytes, i->count);

	n -= copy_from_user(addr, i->ptr, n);
	i->ptr += n;
	i->count -= n;
	return n;
}

size_t copy_to_iter(const void *addr, size_t bytes, struct iov_iter *i)
{
	size_t n = min(bytes, i->count);

	n -= copy_to_user(i->ptr, addr, n);
	i->ptr += n;
	i->count -= n;
	return n;
}

void init_waitqueue_head(wait_queue_head_t *wq)
{
	pthread_mutex_init(&wq->lock, NULL);
	pthread_cond_init(&wq->cond, NULL);
}

void shim_wake_up(wait_queue_head_t *wq)
{
	pthread_mutex_lock(&wq->lock);
	pthread_cond_broadcast(&wq->cond);
	pthread_mutex_unlock(&wq->lock);
}
