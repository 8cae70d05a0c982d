/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace shim: the kernel API subset spanheap's core uses, mapped to
 * libc, pthreads and liburcu, so kmod/ compiles unchanged (the way
 * tools/testing/radix-tree builds lib/ code).  Every <linux/...> header
 * of the core resolves to this one file.
 *
 * "CPUs" are slots: a thread takes a free slot the first time it asks
 * for its CPU and gives it back when it exits, so per-CPU data is owned
 * by one thread at a time, as with preemption disabled in the kernel.
 */
#ifndef _SPANHEAP_SHIM_H
#define _SPANHEAP_SHIM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <assert.h>
#include <endian.h>

/* ---- types and compiler ---- */
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef unsigned long long u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef long long s64;
typedef u8 __u8;
typedef u16 __u16;
typedef u32 __u32;
typedef u64 __u64;
typedef s32 __s32;
typedef s64 __s64;
typedef unsigned int gfp_t;
typedef u64 __le64;
#define __force
#define le64_to_cpu(x)		((u64)le64toh((__force u64)(x)))

#undef __always_inline
#define __always_inline		inline __attribute__((__always_inline__))
#define noinline		__attribute__((__noinline__))
#define __must_check		__attribute__((__warn_unused_result__))
#define __maybe_unused		__attribute__((__unused__))
/* Only -ftrivial-auto-var-init (CONFIG_INIT_STACK_ALL_ZERO) reads it. */
#define __uninitialized		__attribute__((__uninitialized__))
#define __printf(a, b)		__attribute__((format(printf, a, b)))
#define __rcu
#define __percpu
#define __user
#define __iomem
#define __init
#define __exit
#define __read_mostly
#define ____cacheline_aligned_in_smp	__attribute__((__aligned__(64)))
#define ____cacheline_aligned		__attribute__((__aligned__(64)))
#define L1_CACHE_BYTES			64
#define likely(x)		__builtin_expect(!!(x), 1)
#define unlikely(x)		__builtin_expect(!!(x), 0)
#define barrier()		__asm__ __volatile__("" ::: "memory")
#define barrier_data(ptr)	__asm__ __volatile__("" : : "r"(ptr) : "memory")
#define smp_mb()		__atomic_thread_fence(__ATOMIC_SEQ_CST)
#define smp_rmb()		__atomic_thread_fence(__ATOMIC_ACQUIRE)
#define smp_wmb()		__atomic_thread_fence(__ATOMIC_RELEASE)
#define READ_ONCE(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define smp_load_acquire(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define smp_store_release(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define data_race(x)		(x)

#define BITS_PER_LONG		64
#define BIT(n)			(1UL << (n))
#define BIT_ULL(n)		(1ULL << (n))
#define GENMASK_ULL(h, l)	((~0ULL << (l)) & (~0ULL >> (63 - (h))))
#define GENMASK(h, l)		GENMASK_ULL(h, l)
#define DIV_ROUND_UP(n, d)	(((n) + (d) - 1) / (d))
#define BITS_TO_LONGS(n)	DIV_ROUND_UP(n, BITS_PER_LONG)
#define ALIGN(x, a)		(((x) + (a) - 1) & ~((typeof(x))(a) - 1))
#define IS_ALIGNED(x, a)	(((x) & ((typeof(x))(a) - 1)) == 0)
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#define struct_size(p, member, n) \
	(sizeof(*(p)) + sizeof((p)->member[0]) * (size_t)(n))
#define min(a, b)		((a) < (b) ? (a) : (b))
#define max(a, b)		((a) > (b) ? (a) : (b))
#define min_t(t, a, b)		((t)(a) < (t)(b) ? (t)(a) : (t)(b))
#define max_t(t, a, b)		((t)(a) > (t)(b) ? (t)(a) : (t)(b))
#define clamp(v, lo, hi)	min(max(v, lo), hi)
#define clamp_t(t, v, lo, hi)	min_t(t, max_t(t, v, lo), hi)
#define swap(a, b)		do { typeof(a) __t = (a); (a) = (b); (b) = __t; } while (0)
#define BUILD_BUG_ON(c)		_Static_assert(!(c), #c)
/* As <linux/build_bug.h>: the message is optional. */
#undef static_assert
#define static_assert(expr, ...)	__static_assert(expr, ##__VA_ARGS__, #expr)
#define __static_assert(expr, msg, ...)	_Static_assert(expr, msg)
#define U32_MAX			UINT32_MAX
#define U64_MAX			UINT64_MAX

#define PAGE_SHIFT		12
#define PAGE_SIZE		(1UL << PAGE_SHIFT)
#define PAGE_MASK		(~(PAGE_SIZE - 1))
#define PAGE_ALIGN(x)		ALIGN((unsigned long)(x), PAGE_SIZE)

static inline int get_order(unsigned long size)
{
	int order = 0;

	size = (size - 1) >> PAGE_SHIFT;
	while (size) {
		order++;
		size >>= 1;
	}
	return order;
}

/* ---- errors ---- */
#define MAX_ERRNO		4095
#define EUCLEAN			117
#define ERESTARTSYS		512
#define IS_ERR_VALUE(x)		((unsigned long)(x) >= (unsigned long)-MAX_ERRNO)
static inline void *ERR_PTR(long e) { return (void *)e; }
static inline void *ERR_CAST(const void *p) { return (void *)p; }
static inline long PTR_ERR(const void *p) { return (long)p; }
static inline bool IS_ERR(const void *p) { return IS_ERR_VALUE(p); }
static inline bool IS_ERR_OR_NULL(const void *p) { return !p || IS_ERR(p); }

/* ---- printk, WARN, BUG ---- */
extern int shim_warnings;
#define KERN_ERR		""
#define KERN_INFO		""
#ifndef KBUILD_MODNAME
#define KBUILD_MODNAME		"spanheap"
#endif
#ifndef pr_fmt
#define pr_fmt(fmt)		fmt
#endif
#define pr_err(fmt, ...)	fprintf(stderr, "# " pr_fmt(fmt), ##__VA_ARGS__)
#define pr_warn(fmt, ...)	fprintf(stderr, "# " pr_fmt(fmt), ##__VA_ARGS__)
#define pr_info(fmt, ...)	fprintf(stderr, "# " pr_fmt(fmt), ##__VA_ARGS__)
#define pr_debug(fmt, ...)	do { } while (0)
#define pr_info_ratelimited(fmt, ...)	pr_info(fmt, ##__VA_ARGS__)
#define printk(fmt, ...)	fprintf(stderr, "# " fmt, ##__VA_ARGS__)
#define WARN_ON(c) ({							\
	bool __c = !!(c);						\
	if (__c) {							\
		fprintf(stderr, "WARNING: %s:%d: %s\n", __FILE__,	\
			__LINE__, #c);					\
		__atomic_add_fetch(&shim_warnings, 1, __ATOMIC_RELAXED); \
	}								\
	__c; })
#define WARN_ON_ONCE(c)		WARN_ON(c)
#define WARN(c, fmt, ...)	WARN_ON(c)
#define BUG_ON(c)		do { if (c) { fprintf(stderr, "BUG: %s:%d\n", __FILE__, __LINE__); abort(); } } while (0)
#define BUG()			BUG_ON(1)
/* Sleeping with preemption disabled is a bug; so is a negative count. */
#define might_sleep()		assert(shim_preempt_count == 0)
#define cond_resched()		assert(shim_preempt_count == 0)
/* A fatal signal ends the process before the check could see it. */
#define fatal_signal_pending(p)	((void)(p), false)
#define cpu_relax()		__builtin_ia32_pause()
/* Sleeps @min microseconds; the kernel's may sleep up to @max. */
void shim_usleep(unsigned long us);
#define usleep_range(min, max)	do { might_sleep(); shim_usleep(min); } while (0)
#define might_sleep_if(c)	do { } while (0)
#define lockdep_assert_irqs_enabled()	do { } while (0)

/* ---- bitops ---- */
static inline unsigned long __ffs(unsigned long w) { return __builtin_ctzl(w); }
static inline unsigned int __ffs64(u64 w) { return __builtin_ctzll(w); }
static inline unsigned long __fls(unsigned long w) { return 63 - __builtin_clzl(w); }
static inline int fls64(u64 w) { return w ? 64 - __builtin_clzll(w) : 0; }
static inline unsigned int hweight64(u64 w) { return __builtin_popcountll(w); }
static inline unsigned int hweight_long(unsigned long w) { return __builtin_popcountl(w); }
#define BIT_WORD(nr)		((nr) / BITS_PER_LONG)
#define BIT_MASK(nr)		(1UL << ((nr) % BITS_PER_LONG))
static inline bool test_bit(unsigned long nr, const unsigned long *a)
{
	return (__atomic_load_n(&a[BIT_WORD(nr)], __ATOMIC_RELAXED) >> (nr % BITS_PER_LONG)) & 1;
}
static inline void set_bit(unsigned long nr, unsigned long *a)
{
	__atomic_fetch_or(&a[BIT_WORD(nr)], BIT_MASK(nr), __ATOMIC_RELAXED);
}
static inline void clear_bit(unsigned long nr, unsigned long *a)
{
	__atomic_fetch_and(&a[BIT_WORD(nr)], ~BIT_MASK(nr), __ATOMIC_RELAXED);
}
static inline bool test_and_set_bit(unsigned long nr, unsigned long *a)
{
	return __atomic_fetch_or(&a[BIT_WORD(nr)], BIT_MASK(nr), __ATOMIC_SEQ_CST) & BIT_MASK(nr);
}
static inline bool test_and_clear_bit(unsigned long nr, unsigned long *a)
{
	return __atomic_fetch_and(&a[BIT_WORD(nr)], ~BIT_MASK(nr), __ATOMIC_SEQ_CST) & BIT_MASK(nr);
}
static inline void __set_bit(unsigned long nr, unsigned long *a)
{
	a[BIT_WORD(nr)] |= BIT_MASK(nr);
}
static inline bool __test_and_set_bit(unsigned long nr, unsigned long *a)
{
	unsigned long m = BIT_MASK(nr), old = a[BIT_WORD(nr)];

	a[BIT_WORD(nr)] = old | m;
	return old & m;
}
static inline void __clear_bit(unsigned long nr, unsigned long *a)
{
	a[BIT_WORD(nr)] &= ~BIT_MASK(nr);
}

/* ---- atomics ---- */
typedef struct { int counter; } atomic_t;
typedef struct { long counter; } atomic_long_t;
typedef struct { s64 counter; } atomic64_t;
#define ATOMIC_INIT(i)		{ (i) }
#define ATOMIC_LONG_INIT(i)	{ (i) }
#define ATOMIC64_INIT(i)	{ (i) }
#define __SHIM_ATOMIC(pfx, t)						\
static inline t pfx##_read(const pfx##_t *v) { return __atomic_load_n(&v->counter, __ATOMIC_RELAXED); } \
static inline void pfx##_set(pfx##_t *v, t i) { __atomic_store_n(&v->counter, i, __ATOMIC_RELAXED); } \
static inline t pfx##_read_acquire(const pfx##_t *v) { return __atomic_load_n(&v->counter, __ATOMIC_ACQUIRE); } \
static inline void pfx##_set_release(pfx##_t *v, t i) { __atomic_store_n(&v->counter, i, __ATOMIC_RELEASE); } \
static inline t pfx##_add_return(t i, pfx##_t *v) { return __atomic_add_fetch(&v->counter, i, __ATOMIC_SEQ_CST); } \
static inline t pfx##_sub_return(t i, pfx##_t *v) { return __atomic_sub_fetch(&v->counter, i, __ATOMIC_SEQ_CST); } \
static inline t pfx##_fetch_add(t i, pfx##_t *v) { return __atomic_fetch_add(&v->counter, i, __ATOMIC_SEQ_CST); } \
static inline void pfx##_add(t i, pfx##_t *v) { __atomic_add_fetch(&v->counter, i, __ATOMIC_RELAXED); } \
static inline void pfx##_sub(t i, pfx##_t *v) { __atomic_sub_fetch(&v->counter, i, __ATOMIC_RELAXED); } \
static inline void pfx##_inc(pfx##_t *v) { pfx##_add(1, v); }	\
static inline void pfx##_dec(pfx##_t *v) { pfx##_sub(1, v); }	\
static inline t pfx##_inc_return(pfx##_t *v) { return pfx##_add_return(1, v); } \
static inline t pfx##_dec_return(pfx##_t *v) { return pfx##_sub_return(1, v); } \
static inline bool pfx##_dec_and_test(pfx##_t *v) { return pfx##_sub_return(1, v) == 0; } \
static inline t pfx##_xchg(pfx##_t *v, t i) { return __atomic_exchange_n(&v->counter, i, __ATOMIC_SEQ_CST); } \
static inline t pfx##_cmpxchg(pfx##_t *v, t o, t n) { __atomic_compare_exchange_n(&v->counter, &o, n, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); return o; } \
static inline bool pfx##_try_cmpxchg(pfx##_t *v, t *o, t n) { return __atomic_compare_exchange_n(&v->counter, o, n, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); }
__SHIM_ATOMIC(atomic, int)
__SHIM_ATOMIC(atomic_long, long)
__SHIM_ATOMIC(atomic64, s64)
#define xchg(p, v)		__atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#define cmpxchg(p, o, n) ({ typeof(*(p)) __o = (o);			\
	__atomic_compare_exchange_n((p), &__o, (n), false,		\
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); __o; })

/* ---- lists ---- */
struct list_head {
	struct list_head *next, *prev;
};
#define LIST_HEAD_INIT(name)	{ &(name), &(name) }
#define LIST_HEAD(name)		struct list_head name = LIST_HEAD_INIT(name)
static inline void INIT_LIST_HEAD(struct list_head *l) { l->next = l; l->prev = l; }
static inline void __list_add(struct list_head *n, struct list_head *prev, struct list_head *next)
{
	next->prev = n;
	n->next = next;
	n->prev = prev;
	prev->next = n;
}
static inline void list_add(struct list_head *n, struct list_head *h) { __list_add(n, h, h->next); }
static inline void list_add_tail(struct list_head *n, struct list_head *h) { __list_add(n, h->prev, h); }
static inline void __list_del_entry(struct list_head *e)
{
	e->next->prev = e->prev;
	e->prev->next = e->next;
}
static inline void list_del(struct list_head *e) { __list_del_entry(e); e->next = e->prev = NULL; }
static inline void list_del_init(struct list_head *e) { __list_del_entry(e); INIT_LIST_HEAD(e); }
static inline void list_move(struct list_head *e, struct list_head *h) { __list_del_entry(e); list_add(e, h); }
static inline void list_move_tail(struct list_head *e, struct list_head *h) { __list_del_entry(e); list_add_tail(e, h); }
static inline bool list_empty(const struct list_head *h) { return h->next == h; }
static inline bool list_is_singular(const struct list_head *h)
{
	return !list_empty(h) && h->next == h->prev;
}
static inline void list_splice_init(struct list_head *list, struct list_head *head)
{
	if (!list_empty(list)) {
		struct list_head *first = list->next, *last = list->prev, *at = head->next;

		first->prev = head;
		head->next = first;
		last->next = at;
		at->prev = last;
		INIT_LIST_HEAD(list);
	}
}
#define list_entry(ptr, type, member)	container_of(ptr, type, member)
#define list_first_entry(h, type, member) list_entry((h)->next, type, member)
#define list_last_entry(h, type, member) list_entry((h)->prev, type, member)
#define list_first_entry_or_null(h, type, member) \
	(list_empty(h) ? NULL : list_first_entry(h, type, member))
#define list_next_entry(pos, member) list_entry((pos)->member.next, typeof(*(pos)), member)
#define list_for_each(pos, head)					\
	for (pos = (head)->next; pos != (head); pos = pos->next)
#define list_for_each_entry(pos, head, member)				\
	for (pos = list_first_entry(head, typeof(*pos), member);	\
	     &pos->member != (head); pos = list_next_entry(pos, member))
#define list_for_each_entry_safe(pos, n, head, member)			\
	for (pos = list_first_entry(head, typeof(*pos), member),	\
	     n = list_next_entry(pos, member); &pos->member != (head);	\
	     pos = n, n = list_next_entry(n, member))

/*
 * Preemption is counted per thread, as the kernel's preempt_count, so
 * that lockdep_assert_preemption_disabled() really checks; the count
 * costs nothing in NDEBUG (benchmark) builds, where asserts are off.
 */
extern __thread int shim_preempt_count;
#ifdef NDEBUG
#define shim_preempt_add(n)	((void)0)
#else
#define shim_preempt_add(n)	((void)(shim_preempt_count += (n)), \
				 assert(shim_preempt_count >= 0))
#endif
#define lockdep_assert_preemption_disabled() assert(shim_preempt_count > 0)

/*
 * ---- locks that remember their holder (for lockdep_assert_held) ----
 * Spinlocks spin with an atomic exchange, yielding if the holder was
 * preempted; mutexes are pthread mutexes.
 */
struct shim_lock {
	pthread_mutex_t m;
	pthread_t holder;
	bool held;
};
typedef struct {
	int locked;
	pthread_t holder;
	bool held;
} spinlock_t;
struct mutex {
	struct shim_lock l;
};
#define __SHIM_LOCK_INIT	{ PTHREAD_MUTEX_INITIALIZER, 0, false }
#define DEFINE_SPINLOCK(x)	spinlock_t x = { 0 }
#define DEFINE_MUTEX(x)		struct mutex x = { __SHIM_LOCK_INIT }
void shim_lock(struct shim_lock *l);
void shim_unlock(struct shim_lock *l);
bool shim_trylock(struct shim_lock *l);
bool shim_lock_held(struct shim_lock *l);
void shim_spin_lock_slow(spinlock_t *l);
static inline void spin_lock_init(spinlock_t *l) { memset(l, 0, sizeof(*l)); }
static inline void spin_lock(spinlock_t *l)
{
	shim_preempt_add(1);
	if (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		shim_spin_lock_slow(l);
	__atomic_store_n(&l->holder, pthread_self(), __ATOMIC_RELAXED);
	__atomic_store_n(&l->held, true, __ATOMIC_RELAXED);
}
static inline void spin_unlock(spinlock_t *l)
{
	__atomic_store_n(&l->held, false, __ATOMIC_RELAXED);
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
	shim_preempt_add(-1);
}
static inline bool shim_spin_held(spinlock_t *l)
{
	return __atomic_load_n(&l->held, __ATOMIC_RELAXED) &&
	       pthread_equal(__atomic_load_n(&l->holder, __ATOMIC_RELAXED), pthread_self());
}
#define spin_lock_irq(l)	spin_lock(l)
#define spin_unlock_irq(l)	spin_unlock(l)
#define spin_lock_bh(l)		spin_lock(l)
#define spin_unlock_bh(l)	spin_unlock(l)
#define spin_lock_irqsave(l, f)	do { (f) = 0; spin_lock(l); } while (0)
#define spin_unlock_irqrestore(l, f) do { (void)(f); spin_unlock(l); } while (0)
static inline void mutex_init(struct mutex *m) { m->l = (struct shim_lock)__SHIM_LOCK_INIT; }
#define mutex_lock(m)		shim_lock(&(m)->l)
#define mutex_trylock(m)	shim_trylock(&(m)->l)
#define mutex_unlock(m)		shim_unlock(&(m)->l)
#define mutex_destroy(m)	do { } while (0)
#define mutex_is_locked(m)	__atomic_load_n(&(m)->l.held, __ATOMIC_RELAXED)
#define lockdep_is_held(l)	_Generic((l),				\
	spinlock_t *: shim_spin_held((spinlock_t *)(l)),		\
	struct mutex *: shim_lock_held((struct shim_lock *)(l)))
#define lockdep_assert_held(l)	assert(lockdep_is_held(l))

/* ---- RCU over liburcu-bp (see shim_rcu.c) ---- */
struct rcu_head {
	void *urcu_head[2];		/* liburcu's struct rcu_head */
	void (*func)(struct rcu_head *head);
};
void rcu_read_lock(void);
bool rcu_read_lock_held(void);
#define RCU_LOCKDEP_WARN(c, s)		assert(!(c))
void rcu_read_unlock(void);
void synchronize_rcu(void);
void call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *head));
void rcu_barrier(void);
#define shim_rcu_load(p)		__atomic_load_n(&(p), __ATOMIC_ACQUIRE)
/* As PROVE_RCU: rcu_dereference() outside rcu_read_lock() is a splat. */
#define rcu_dereference(p)						\
	({ RCU_LOCKDEP_WARN(!rcu_read_lock_held(),			\
			    "suspicious rcu_dereference_check() usage");	\
	   shim_rcu_load(p); })
#define rcu_dereference_check(p, c)					\
	({ RCU_LOCKDEP_WARN(!(c) && !rcu_read_lock_held(),		\
			    "suspicious rcu_dereference_check() usage");	\
	   shim_rcu_load(p); })
#define rcu_dereference_protected(p, c)	shim_rcu_load(p)
#define rcu_assign_pointer(p, v)	__atomic_store_n(&(p), (v), __ATOMIC_RELEASE)
#define RCU_INIT_POINTER(p, v)		__atomic_store_n(&(p), (v), __ATOMIC_RELEASE)
#define rcu_access_pointer(p)		shim_rcu_load(p)

/* ---- prefetch ---- */
#define prefetch(x)		__builtin_prefetch(x)
#define prefetchw(x)		__builtin_prefetch(x, 1)

/*
 * ---- "CPUs", per-CPU data, preemption ----
 * A thread takes a free CPU slot on first use (shim_cpu_slow()) and keeps
 * it.  As in the kernel, a per-CPU allocation gives every CPU a unit at
 * the same distance from the pointer (SHIM_PCPU_UNIT bytes per slot here),
 * and this_cpu_ptr() adds the running CPU's offset, kept in a thread-local
 * variable as the kernel keeps this_cpu_off in a per-CPU one.
 */
#define NR_CPUS			64
#define SHIM_PCPU_UNIT		2048UL
int shim_cpu_slow(void);
/* slot * SHIM_PCPU_UNIT, -1 before the first use; local-exec: one %fs load */
extern __thread long shim_cpu_off __attribute__((tls_model("local-exec")));
static inline unsigned long shim_this_cpu_off(void)
{
	long off = shim_cpu_off;

	return likely(off >= 0) ? off : shim_cpu_slow() * SHIM_PCPU_UNIT;
}
static inline int smp_processor_id(void)
{
	return shim_this_cpu_off() / SHIM_PCPU_UNIT;
}
unsigned int num_online_cpus(void);
#define num_possible_cpus()	NR_CPUS
#define raw_smp_processor_id()	smp_processor_id()
#define get_cpu()		({ shim_preempt_add(1); smp_processor_id(); })
#define put_cpu()		shim_preempt_add(-1)
#define preempt_disable()	shim_preempt_add(1)
#define preempt_enable()	shim_preempt_add(-1)
extern __thread int shim_pins;
void shim_migrate_enable(void);
unsigned int shim_sections_held(void);
void shim_sections_forget(void);
#define migrate_disable()	do { shim_pins++; } while (0)
#define migrate_enable()	shim_migrate_enable()
#define for_each_possible_cpu(cpu) for ((cpu) = 0; (cpu) < NR_CPUS; (cpu)++)
#define for_each_online_cpu(cpu) for ((cpu) = 0; (cpu) < (int)num_online_cpus(); (cpu)++)
#define alloc_percpu(type)	({ BUILD_BUG_ON(sizeof(type) > SHIM_PCPU_UNIT);		\
				   (type *)shim_zalloc_aligned(NR_CPUS * SHIM_PCPU_UNIT); })
#define free_percpu(p)		free(p)
#define per_cpu_ptr(p, cpu)	((typeof(p))((char *)(p) + (unsigned long)(cpu) * SHIM_PCPU_UNIT))
#define this_cpu_ptr(p)		((typeof(p))((char *)(p) + shim_this_cpu_off()))
#define get_cpu_ptr(p)		({ shim_preempt_add(1); this_cpu_ptr(p); })
#define put_cpu_ptr(p)		do { (void)(p); shim_preempt_add(-1); } while (0)

/* ---- memory ---- */
#define GFP_KERNEL		0x1u
#define GFP_NOWAIT		0x2u
#define GFP_ATOMIC		0x4u
#define __GFP_ZERO		0x100u
#define __GFP_ACCOUNT		0x200u
#define __GFP_NOWARN		0x400u
#define __GFP_NORETRY		0x800u
#define __GFP_RETRY_MAYFAIL	0x1000u
#define GFP_KERNEL_ACCOUNT	(GFP_KERNEL | __GFP_ACCOUNT)
extern long shim_fail_alloc_countdown;	/* >0: fail the process's Nth allocation */
extern __thread unsigned long shim_fail_nth;	/* >0: fail this thread's Nth */
bool shim_fail_now(void);
void *shim_zalloc_aligned(size_t size);
void *shim_alloc(size_t size, gfp_t gfp);
static inline void *kmalloc(size_t s, gfp_t g) { return shim_alloc(s, g); }
static inline void *kzalloc(size_t s, gfp_t g) { return shim_alloc(s, g | __GFP_ZERO); }
/* As the kernel's (kmalloc caches and vmalloc), aligned for ____cacheline_aligned members. */
static inline void *kvzalloc(size_t s, gfp_t g) { return shim_zalloc_aligned(s); }
static inline void *kvmalloc(size_t s, gfp_t g) { return shim_alloc(s, g); }
static inline void *kcalloc(size_t n, size_t s, gfp_t g) { return shim_alloc(n * s, g | __GFP_ZERO); }
static inline void *kmalloc_array(size_t n, size_t s, gfp_t g) { return shim_alloc(n * s, g); }
static inline void *kvmalloc_array(size_t n, size_t s, gfp_t g) { return shim_alloc(n * s, g); }
static inline void *kvcalloc(size_t n, size_t s, gfp_t g) { return shim_alloc(n * s, g | __GFP_ZERO); }
static inline void kfree(const void *p) { free((void *)p); }
static inline void kfree_bulk(size_t n, void **p)
{
	while (n--)
		free(p[n]);
}
static inline void kvfree(const void *p) { free((void *)p); }
#define kfree_rcu(p, f)		call_rcu(&(p)->f, shim_kfree_rcu_cb), (void)0
struct page;
struct page *alloc_pages(gfp_t gfp, unsigned int order);
void free_pages(unsigned long addr, unsigned int order);
static inline void *page_address(struct page *p) { return (void *)p; }
void *vzalloc(unsigned long size);
void *vmalloc(unsigned long size);
void vfree(const void *addr);
static inline void *__vmalloc(unsigned long size, gfp_t g)
{
	return g & __GFP_ZERO ? vzalloc(size) : vmalloc(size);
}
#define alloc_percpu_gfp(type, gfp)	alloc_percpu(type)

/* ---- memcg: one process, no cgroups; charging is a no-op ---- */
struct mem_cgroup;
#define get_mem_cgroup_from_mm(mm)	((struct mem_cgroup *)NULL)
static inline struct mem_cgroup *set_active_memcg(struct mem_cgroup *memcg)
{
	return NULL;
}
#define mem_cgroup_put(memcg)		do { (void)(memcg); } while (0)

/* ---- strings ---- */
ssize_t strscpy(char *dst, const char *src, size_t count);
/* Leading and trailing whitespace off (the kernel's strim()). */
static inline char *strim(char *s)
{
	size_t n = strlen(s);

	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

/* The first byte of @start[0..@bytes) that is not @c, or NULL. */
static inline void *memchr_inv(const void *start, int c, size_t bytes)
{
	const unsigned char *p = start;

	for (; bytes; p++, bytes--)
		if (*p != (unsigned char)c)
			return (void *)p;
	return NULL;
}

/* ---- time ---- */
#define HZ			1000
unsigned long shim_jiffies(void);
#define jiffies			shim_jiffies()
#define time_before(a, b)	((long)((a) - (b)) < 0)
#define time_after(a, b)	time_before(b, a)
static inline unsigned long msecs_to_jiffies(unsigned int m) { return m; }
static inline unsigned int jiffies_to_msecs(unsigned long j) { return j; }
u64 ktime_get_ns(void);

/* ---- threads and completions ---- */
struct task_struct;
#define current			((struct task_struct *)pthread_self())
struct task_struct *shim_kthread_run(int (*fn)(void *), void *data, const char *name);
#define kthread_run(fn, data, fmt, ...)	shim_kthread_run(fn, data, fmt)
struct completion {
	pthread_mutex_t m;
	pthread_cond_t c;
	unsigned int done;
};
void init_completion(struct completion *c);
void __attribute__((noreturn)) kthread_complete_and_exit(struct completion *c, long code);
void complete(struct completion *c);
void complete_all(struct completion *c);
void wait_for_completion(struct completion *c);
unsigned long wait_for_completion_timeout(struct completion *c, unsigned long timeout);

/* ---- workqueues (see shim_wq.c) ---- */
struct work_struct;
typedef void (*work_func_t)(struct work_struct *work);
struct work_struct {
	struct list_head entry;
	work_func_t func;
	struct workqueue_struct *wq;
	bool pending, running;
};
#define INIT_WORK(w, f) do {						\
	INIT_LIST_HEAD(&(w)->entry);					\
	(w)->func = (f);						\
	(w)->wq = NULL;							\
	(w)->pending = (w)->running = false;				\
	} while (0)
#define WQ_UNBOUND		0x2
#define WQ_MEM_RECLAIM		0x8
#define WQ_FREEZABLE		0x4
struct workqueue_struct *alloc_workqueue(const char *fmt, unsigned int flags, int max_active, ...);
#define alloc_ordered_workqueue(fmt, flags, ...) alloc_workqueue(fmt, flags, 1)
void destroy_workqueue(struct workqueue_struct *wq);
bool queue_work(struct workqueue_struct *wq, struct work_struct *work);
bool cancel_work_sync(struct work_struct *work);
bool cancel_work(struct work_struct *work);
bool flush_work(struct work_struct *work);
bool work_pending(struct work_struct *work);
#define WORK_BUSY_PENDING	1
#define WORK_BUSY_RUNNING	2
unsigned int work_busy(struct work_struct *work);

/*
 * Delayed work: one timer thread (shim_wq.c) queues each item on its
 * workqueue when its delay has passed.  Cancelling takes it off the timer
 * list, then cancels the work as cancel_work_sync() does.
 */
struct delayed_work {
	struct work_struct work;
	struct list_head timer;
	unsigned long expires;
	struct workqueue_struct *twq;
	bool armed;
};
#define INIT_DELAYED_WORK(d, f) do {					\
	INIT_WORK(&(d)->work, f);					\
	INIT_LIST_HEAD(&(d)->timer);					\
	(d)->armed = false;						\
	} while (0)
#define to_delayed_work(w)	container_of(w, struct delayed_work, work)
bool queue_delayed_work(struct workqueue_struct *wq, struct delayed_work *dw,
			unsigned long delay);
bool cancel_delayed_work_sync(struct delayed_work *dw);
bool mod_delayed_work(struct workqueue_struct *wq, struct delayed_work *dw,
		      unsigned long delay);
bool flush_delayed_work(struct delayed_work *dw);
bool delayed_work_pending(struct delayed_work *dw);

/*
 * ---- percpu_rw_semaphore: a writer-preferring pthread rwlock ----
 * Holders are remembered (the writer, and per thread the few semaphores
 * it reads) so that percpu_rwsem_assert_held() really checks.
 */
struct percpu_rw_semaphore {
	pthread_rwlock_t rw;
	pthread_t writer;
	bool write_held;
};
int percpu_init_rwsem(struct percpu_rw_semaphore *sem);
#define percpu_free_rwsem(sem)	pthread_rwlock_destroy(&(sem)->rw)
void percpu_down_read(struct percpu_rw_semaphore *sem);
void percpu_up_read(struct percpu_rw_semaphore *sem);
void percpu_down_write(struct percpu_rw_semaphore *sem);
void percpu_up_write(struct percpu_rw_semaphore *sem);
bool shim_rwsem_held_read(struct percpu_rw_semaphore *sem);
bool shim_rwsem_held_write(struct percpu_rw_semaphore *sem);
#define percpu_rwsem_assert_held(sem)					\
	assert(shim_rwsem_held_read(sem) || shim_rwsem_held_write(sem))
#define lockdep_assert_held_read(sem)	assert(shim_rwsem_held_read(sem))
#define lockdep_assert_held_write(sem)	assert(shim_rwsem_held_write(sem))

/*
 * ---- kmem_cache: per-CPU free lists fed by chunks, like SLUB ----
 * Objects are carved from malloc'ed chunks onto the current CPU slot's
 * free list; a freed object goes back on the freeing slot's list.
 * Chunks go back to libc when the cache is destroyed.
 */
#define SHIM_KMEM_CHUNK		64
struct shim_kmem_cpu {
	void *free;
} ____cacheline_aligned;
struct kmem_cache {
	size_t size;
	struct shim_kmem_cpu *cpu;
	pthread_mutex_t chunks_lock;
	void *chunks;
};
struct kmem_cache *kmem_cache_create(const char *name, unsigned int size, unsigned int align,
				     unsigned long flags, void (*ctor)(void *));
void kmem_cache_destroy(struct kmem_cache *c);
void *kmem_cache_alloc(struct kmem_cache *c, gfp_t g);
static inline void *kmem_cache_zalloc(struct kmem_cache *c, gfp_t g)
{
	return kmem_cache_alloc(c, g | __GFP_ZERO);
}
void kmem_cache_free(struct kmem_cache *c, void *p);
#define SLAB_ACCOUNT		0x1UL
#define SLAB_HWCACHE_ALIGN	0x2UL

/* ---- debugfs and seq_file (debugfs is a no-op; seq_file writes a buffer) ---- */
struct dentry;
struct inode;
struct file;
struct seq_file {
	char *buf;
	size_t size, count;
	void *private;
};
/* A file: debugfs.h's files start with one; private_data is their seq_file. */
struct file {
	void *private_data;
};
struct file_operations {
	int (*open)(struct inode *inode, struct file *file);
	void *owner;
	ssize_t (*read)(struct file *file, char __user *buf, size_t n, loff_t *pos);
	ssize_t (*write)(struct file *file, const char __user *buf, size_t n, loff_t *pos);
	loff_t (*llseek)(struct file *file, loff_t off, int whence);
	int (*release)(struct inode *inode, struct file *file);
};
/* Never called: filp_open() renders a show file whole, kernel_read() copies it. */
static inline ssize_t seq_read(struct file *file, char __user *buf, size_t n, loff_t *pos)
{
	return -EINVAL;
}
static inline loff_t seq_lseek(struct file *file, loff_t off, int whence)
{
	return -EINVAL;
}
static inline int single_release(struct inode *inode, struct file *file)
{
	return 0;
}
#define THIS_MODULE		NULL
int seq_printf(struct seq_file *m, const char *fmt, ...) __printf(2, 3);
int seq_puts(struct seq_file *m, const char *s);
static inline struct dentry *debugfs_create_dir(const char *n, struct dentry *p) { return (struct dentry *)1; }
static inline struct dentry *debugfs_create_file(const char *n, unsigned int mode, struct dentry *p,
						 void *data, const struct file_operations *f)
{ return (struct dentry *)1; }
static inline void debugfs_remove_recursive(struct dentry *d) { }
#define DEFINE_SHOW_ATTRIBUTE(__name)					\
static int __maybe_unused __name##_open(struct inode *i, struct file *f)	\
{									\
	(void)__name##_show;						\
	return 0;							\
}									\
static const struct file_operations __maybe_unused __name##_fops = { .open = __name##_open }

/* ---- modules ---- */
#define EXPORT_SYMBOL(s)
#define EXPORT_SYMBOL_GPL(s)
#define MODULE_LICENSE(s)
#define MODULE_DESCRIPTION(s)
#define MODULE_AUTHOR(s)
#define MODULE_PARM_DESC(n, s)
#define module_param(n, t, p)
#define module_param_named(n, v, t, p)
#define module_init(f)
#define module_exit(f)

#endif /* _SPANHEAP_SHIM_H */
