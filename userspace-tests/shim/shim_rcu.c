// SPDX-License-Identifier: GPL-2.0
/*
 * RCU for the shim over liburcu's bulletproof flavour (threads register
 * themselves).  rcu_dereference()/rcu_assign_pointer() are C11 atomics in
 * shim.h; here are the read-side markers and grace periods.  Under
 * ThreadSanitizer, a grace period is modelled as: every read section
 * ended before it happens-before the callback.
 */
/*
 * Sanitized builds use library calls: liburcu's inline fast paths are not
 * UBSan-clean.  The benchmark build inlines them (and links liburcu
 * statically, so its thread-local state is cheap to reach).
 */
#ifdef SHIM_RCU_INLINE
#define _LGPL_SOURCE
#endif
#include <urcu-bp.h>
#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>

/* Callbacks queued and not yet run; rcu_barrier() waits for zero. */
static long pending;
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pending_zero = PTHREAD_COND_INITIALIZER;

#if defined(__has_feature)		/* clang names it this way */
#if __has_feature(thread_sanitizer)
#define __SANITIZE_THREAD__ 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
static char tsan_gp;
#define GP_RELEASE()	__tsan_release(&tsan_gp)
#define GP_ACQUIRE()	__tsan_acquire(&tsan_gp)
#define HANDOFF(op, h)	__tsan_##op(h)	/* call_rcu() -> callback thread */
#else
#define GP_RELEASE()	do { } while (0)
#define GP_ACQUIRE()	do { } while (0)
#define HANDOFF(op, h)	do { } while (0)
#endif

/* Mirrors struct rcu_head in shim.h. */
struct shim_rcu_head {
	struct rcu_head urcu;
	void (*func)(struct shim_rcu_head *head);
};
_Static_assert(sizeof(struct rcu_head) == 2 * sizeof(void *), "urcu rcu_head size");

void shim_rcu_read_lock(void) __asm__("rcu_read_lock");
void shim_rcu_read_unlock(void) __asm__("rcu_read_unlock");
void shim_synchronize_rcu(void) __asm__("synchronize_rcu");
void shim_call_rcu(struct shim_rcu_head *h, void (*f)(struct shim_rcu_head *)) __asm__("call_rcu");
void shim_rcu_barrier(void) __asm__("rcu_barrier");
bool shim_rcu_read_lock_held(void) __asm__("rcu_read_lock_held");

bool shim_rcu_read_lock_held(void)
{
	return urcu_bp_read_ongoing();
}

void shim_rcu_read_lock(void)
{
	urcu_bp_read_lock();
}

void shim_rcu_read_unlock(void)
{
	GP_RELEASE();
	urcu_bp_read_unlock();
}

void shim_synchronize_rcu(void)
{
	urcu_bp_synchronize_rcu();
	GP_ACQUIRE();
}

static void trampoline(struct rcu_head *head)
{
	struct shim_rcu_head *h = (struct shim_rcu_head *)head;

	HANDOFF(acquire, h);
	GP_ACQUIRE();
	h->func(h);
	pthread_mutex_lock(&pending_lock);
	if (!--pending)
		pthread_cond_broadcast(&pending_zero);
	pthread_mutex_unlock(&pending_lock);
}

void shim_call_rcu(struct shim_rcu_head *h, void (*f)(struct shim_rcu_head *))
{
	h->func = f;
	pthread_mutex_lock(&pending_lock);
	pending++;
	pthread_mutex_unlock(&pending_lock);
	HANDOFF(release, h);
	urcu_bp_call_rcu(&h->urcu, trampoline);
}

/* Our own barrier: liburcu's trips ThreadSanitizer inside the library. */
void shim_rcu_barrier(void)
{
	pthread_mutex_lock(&pending_lock);
	while (pending)
		pthread_cond_wait(&pending_zero, &pending_lock);
	pthread_mutex_unlock(&pending_lock);
}
