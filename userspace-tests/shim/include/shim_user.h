/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace shim: the user-memory, wait-queue and poll subset of
 * kmod/uheap.c and kmod/uheap_event.c.
 *
 * "User memory" is the process's own: copy_{from,to}_user() go through
 * process_vm_readv()/process_vm_writev() on the calling process, so an
 * unmapped, PROT_NONE or read-only user page, or a kernel-looking
 * address, fails the copy with a short count instead of a SIGSEGV, as
 * an exception-table fixup does in the kernel.  Bytes past the first
 * fault are not copied; the return value counts them.
 */
#ifndef _SPANHEAP_SHIM_USER_H
#define _SPANHEAP_SHIM_USER_H

#include <shim.h>
#include <sys/epoll.h>
#include <sys/types.h>
#include <sys/uio.h>

#define offsetofend(type, member) \
	(offsetof(type, member) + sizeof(((type *)0)->member))
#define sizeof_field(type, member)	sizeof(((type *)0)->member)
#define check_add_overflow(a, b, d)	__builtin_add_overflow(a, b, d)
#define check_mul_overflow(a, b, d)	__builtin_mul_overflow(a, b, d)

/* ---- user memory ---- */
#define TASK_SIZE_MAX		((1UL << 47) - PAGE_SIZE)
#define u64_to_user_ptr(x)	((void __user *)(uintptr_t)(x))
unsigned long copy_from_user(void *to, const void __user *from, unsigned long n);
unsigned long copy_to_user(void __user *to, const void *from, unsigned long n);
int copy_struct_from_user(void *dst, size_t ksize, const void __user *src, size_t usize);
#define get_user(x, ptr) ({						\
	typeof(*(ptr)) __gu_v;						\
	int __gu_e = copy_from_user(&__gu_v, (ptr), sizeof(__gu_v)) ? -EFAULT : 0; \
	(x) = __gu_e ? 0 : __gu_v;					\
	__gu_e;								\
})
#define put_user(x, ptr) ({						\
	typeof(*(ptr)) __pu_v = (x);					\
	copy_to_user((ptr), &__pu_v, sizeof(__pu_v)) ? -EFAULT : 0;	\
})

/*
 * A user access window: each unsafe_put_user() is a put_user() of its
 * own, a fault jumps to @label, so a window cut short by a fault has
 * written what the kernel's would have.
 */
static inline bool user_write_access_begin(void __user *ptr, size_t len)
{
	return (unsigned long)ptr < TASK_SIZE_MAX && len <= TASK_SIZE_MAX - (unsigned long)ptr;
}

#define user_write_access_end()		do { } while (0)
#define unsafe_put_user(x, ptr, label) do {				\
	if (put_user(x, ptr))						\
		goto label;						\
} while (0)
#define user_read_access_begin(ptr, len) \
	user_write_access_begin((void __user *)(ptr), len)
#define user_read_access_end()		do { } while (0)
#define unsafe_get_user(x, ptr, label) do {				\
	if (get_user(x, ptr))						\
		goto label;						\
} while (0)

/* ---- iov_iter: one user range ---- */
#define READ			0
#define WRITE			1
struct iov_iter {
	char __user *ptr;
	size_t count;
};
int import_single_range(int rw, void __user *buf, size_t len, struct iovec *iov,
			struct iov_iter *i);
size_t copy_from_iter(void *addr, size_t bytes, struct iov_iter *i);
size_t copy_to_iter(const void *addr, size_t bytes, struct iov_iter *i);
static inline size_t iov_iter_count(const struct iov_iter *i)
{
	return i->count;
}

/* ---- wait queues: a condition variable; waiters are not interruptible ---- */
typedef struct wait_queue_head {
	pthread_mutex_t lock;
	pthread_cond_t cond;
} wait_queue_head_t;
void init_waitqueue_head(wait_queue_head_t *wq);
void shim_wake_up(wait_queue_head_t *wq);
#define wake_up(wq)				shim_wake_up(wq)
#define wake_up_interruptible(wq)		shim_wake_up(wq)
#define wake_up_interruptible_poll(wq, m)	shim_wake_up(wq)
/* The waker changes state, then takes wq->lock to wake: none is lost. */
#define wait_event_interruptible(wq_head, condition) ({		\
	pthread_mutex_lock(&(wq_head).lock);				\
	while (!(condition))						\
		pthread_cond_wait(&(wq_head).cond, &(wq_head).lock);	\
	pthread_mutex_unlock(&(wq_head).lock);				\
	0;								\
})

/* ---- poll ---- */
typedef unsigned int __poll_t;

/* ---- credentials ---- */
typedef struct {
	uid_t val;
} kuid_t;
#define __kuid_val(uid)		((uid).val)

#endif /* _SPANHEAP_SHIM_USER_H */
