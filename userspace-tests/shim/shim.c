// SPDX-License-Identifier: GPL-2.0
/* Userspace implementations behind shim.h (RCU lives in shim_rcu.c). */
#define _GNU_SOURCE
#include <shim.h>
#include <malloc.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <sched.h>

int shim_warnings;
long shim_fail_alloc_countdown;
__thread unsigned long shim_fail_nth;

/* ---- CPU slots ---- */
__thread long shim_cpu_off = -1;
__thread int shim_preempt_count;
static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static bool slot_used[NR_CPUS];
static pthread_key_t slot_key;
static pthread_once_t slot_once = PTHREAD_ONCE_INIT;

static void slot_put(void *arg)
{
	pthread_mutex_lock(&slot_lock);
	slot_used[(long)arg - 1] = false;
	pthread_mutex_unlock(&slot_lock);
}

static void slot_key_init(void)
{
	pthread_key_create(&slot_key, slot_put);
}

int shim_cpu_slow(void)
{
	int i;

	pthread_once(&slot_once, slot_key_init);
	pthread_mutex_lock(&slot_lock);
	for (i = 0; i < num_possible_cpus() && slot_used[i]; i++)
		;
	if (i == num_possible_cpus()) {
		fprintf(stderr, "shim: more than %d live threads\n", num_possible_cpus());
		abort();
	}
	slot_used[i] = true;
	pthread_mutex_unlock(&slot_lock);
	pthread_setspecific(slot_key, (void *)(long)(i + 1));
	shim_cpu_off = i * SHIM_PCPU_UNIT;
	return i;
}

void shim_usleep(unsigned long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = us % 1000000 * 1000 };

	nanosleep(&ts, NULL);
}

unsigned int num_online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > num_possible_cpus() ? num_possible_cpus() : n;
}

/* ---- locks ---- */
void shim_lock(struct shim_lock *l)
{
	pthread_mutex_lock(&l->m);
	l->holder = pthread_self();
	__atomic_store_n(&l->held, true, __ATOMIC_RELAXED);
}

bool shim_trylock(struct shim_lock *l)
{
	if (pthread_mutex_trylock(&l->m))
		return false;
	l->holder = pthread_self();
	__atomic_store_n(&l->held, true, __ATOMIC_RELAXED);
	return true;
}

void shim_unlock(struct shim_lock *l)
{
	__atomic_store_n(&l->held, false, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&l->m);
}

void shim_spin_lock_slow(spinlock_t *l)
{
	unsigned int spins = 0;

	do {
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED)) {
			if (++spins % 64)
				cpu_relax();
			else
				sched_yield();	/* the holder may be preempted */
		}
	} while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE));
}

bool shim_lock_held(struct shim_lock *l)
{
	/* Only meaningful for the caller's own locks, which is all lockdep asks. */
	return __atomic_load_n(&l->held, __ATOMIC_RELAXED) &&
	       pthread_equal(l->holder, pthread_self());
}

/* ---- memory ---- */
/*
 * Allocation-failure injection, as the kernel's failslab and
 * fail_page_alloc with /proc/self/task/<tid>/fail-nth: the calling
 * thread's shim_fail_nth-th allocation fails (then it is 0 again), and
 * independently the process's shim_fail_alloc_countdown-th, whatever
 * thread makes it.  Every allocator of the shim asks here.
 */
bool shim_fail_now(void)
{
	if (shim_fail_nth && !--shim_fail_nth)
		return true;
	return __atomic_load_n(&shim_fail_alloc_countdown, __ATOMIC_RELAXED) > 0 &&
	       __atomic_sub_fetch(&shim_fail_alloc_countdown, 1, __ATOMIC_RELAXED) == 0;
}
#define fail_now	shim_fail_now

/*
 * kmalloc(), kmem_cache_alloc() and vmalloc() are glibc's malloc here.
 * The kernel's slab and page allocators keep freed memory for reuse and
 * its direct map never faults; glibc by default gives the freed top of
 * its heap back (trim) and serves blocks of 128 KiB and more with an
 * mmap each, so a heap that freed 1M special records and made them again
 * paid for every page twice, in page faults: the collector's benchmarks
 * swung threefold from run to run (gc_dead_fin_1m 42-159 ms).  Keep
 * freed memory, as the page cache below does for spans.  (Sanitizer
 * builds have their own malloc, which ignores this.)
 */
__attribute__((constructor)) static void shim_malloc_keep(void)
{
	mallopt(M_TRIM_THRESHOLD, INT_MAX);
	mallopt(M_MMAP_THRESHOLD, 32 << 20);	/* glibc's maximum */
}

void *shim_alloc(size_t size, gfp_t gfp)
{
	if (fail_now())
		return NULL;
	return (gfp & __GFP_ZERO) ? calloc(1, size ? size : 1) : malloc(size ? size : 1);
}

void *shim_zalloc_aligned(size_t size)
{
	void *p = NULL;

	if (fail_now() || posix_memalign(&p, 64, size))
		return NULL;
	return memset(p, 0, size);
}

/*
 * Page allocator: like the buddy allocator, freed pages stay resident and
 * are handed out again (per order, LIFO), so a span reused after a free
 * costs no mmap and no page faults, as in the kernel's direct map.
 *
 * New pages are cut, naturally aligned as the buddy allocator's, from
 * 4 MiB-aligned chunks advised MADV_HUGEPAGE: the kernel's direct map is
 * mapped with 2 MiB or 1 GiB pages, and with one 4 KiB mapping per span
 * the userspace build's mark of a 4M-object heap missed the TLB on
 * nearly every object, which the module does not.
 */
#define SHIM_MAX_ORDER		11
#define SHIM_PAGE_CACHE_MAX	(1UL << 30)	/* bytes kept for reuse */
#define SHIM_CHUNK_BYTES	(32UL << 20)
/* A chunk starts aligned for the largest order and for a huge page. */
#define SHIM_CHUNK_ALIGN	(PAGE_SIZE << (SHIM_MAX_ORDER - 1))
static_assert(SHIM_CHUNK_ALIGN >= (2UL << 20));
struct free_pages_entry {
	struct free_pages_entry *next;
};
static struct free_pages_entry *page_cache[SHIM_MAX_ORDER];
static unsigned long page_cache_bytes;
static pthread_mutex_t page_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long chunk_next, chunk_end;

/* Fresh zeroed pages from the current chunk, a new one when it is used up. */
static void *chunk_cut(unsigned long bytes)
{
	unsigned long start, map;
	void *p;

	start = ALIGN(chunk_next, bytes);
	if (!chunk_next || start + bytes > chunk_end) {
		p = mmap(NULL, SHIM_CHUNK_BYTES + SHIM_CHUNK_ALIGN, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		map = (unsigned long)p;
		start = ALIGN(map, SHIM_CHUNK_ALIGN);
		if (start > map)
			munmap(p, start - map);
		munmap((void *)(start + SHIM_CHUNK_BYTES), map + SHIM_CHUNK_ALIGN - start);
		madvise((void *)start, SHIM_CHUNK_BYTES, MADV_HUGEPAGE);
		chunk_end = start + SHIM_CHUNK_BYTES;
	}
	chunk_next = start + bytes;
	return (void *)start;
}

struct page *alloc_pages(gfp_t gfp, unsigned int order)
{
	struct free_pages_entry *e = NULL;
	void *p;

	if (fail_now() || order >= SHIM_MAX_ORDER)
		return NULL;
	pthread_mutex_lock(&page_cache_lock);
	e = page_cache[order];
	if (e) {
		page_cache[order] = e->next;
		page_cache_bytes -= PAGE_SIZE << order;
		p = NULL;
	} else {
		p = chunk_cut(PAGE_SIZE << order);
	}
	pthread_mutex_unlock(&page_cache_lock);
	if (e) {
		if (gfp & __GFP_ZERO)
			memset(e, 0, PAGE_SIZE << order);
		else
			e->next = NULL;
		return (struct page *)e;
	}
	return p;
}

void free_pages(unsigned long addr, unsigned int order)
{
	struct free_pages_entry *e = (void *)addr;

	pthread_mutex_lock(&page_cache_lock);
	if (page_cache_bytes + (PAGE_SIZE << order) <= SHIM_PAGE_CACHE_MAX) {
		e->next = page_cache[order];
		page_cache[order] = e;
		page_cache_bytes += PAGE_SIZE << order;
		e = NULL;
	}
	pthread_mutex_unlock(&page_cache_lock);
	if (e)
		munmap(e, PAGE_SIZE << order);
}

void *vmalloc(unsigned long size)
{
	void *p = NULL;

	if (fail_now() || posix_memalign(&p, PAGE_SIZE, size))
		return NULL;
	return p;
}

void *vzalloc(unsigned long size)
{
	void *p = vmalloc(size);

	return p ? memset(p, 0, size) : NULL;
}

void vfree(const void *addr)
{
	free((void *)addr);
}

ssize_t strscpy(char *dst, const char *src, size_t count)
{
	size_t n = strnlen(src, count);

	if (!count)
		return -E2BIG;
	if (n == count) {
		memcpy(dst, src, count - 1);
		dst[count - 1] = 0;
		return -E2BIG;
	}
	memcpy(dst, src, n + 1);
	return n;
}

/* ---- time ---- */
u64 ktime_get_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

unsigned long shim_jiffies(void)
{
	return ktime_get_ns() / 1000000;
}

/* ---- threads and completions ---- */
struct kthread_start {
	int (*fn)(void *data);
	void *data;
};

static void *kthread_trampoline(void *arg)
{
	struct kthread_start st = *(struct kthread_start *)arg;

	free(arg);
	st.fn(st.data);
	return NULL;
}

struct task_struct *shim_kthread_run(int (*fn)(void *), void *data, const char *name)
{
	struct kthread_start *st = malloc(sizeof(*st));
	pthread_t t;

	if (!st)
		return ERR_PTR(-ENOMEM);
	st->fn = fn;
	st->data = data;
	if (pthread_create(&t, NULL, kthread_trampoline, st)) {
		free(st);
		return ERR_PTR(-EAGAIN);
	}
	pthread_detach(t);
	return (struct task_struct *)1;
}

void init_completion(struct completion *c)
{
	pthread_mutex_init(&c->m, NULL);
	pthread_cond_init(&c->c, NULL);
	c->done = 0;
}

void complete(struct completion *c)
{
	pthread_mutex_lock(&c->m);
	c->done++;
	pthread_cond_broadcast(&c->c);
	pthread_mutex_unlock(&c->m);
}

void kthread_complete_and_exit(struct completion *c, long code)
{
	complete(c);
	pthread_exit(NULL);
}

void complete_all(struct completion *c)
{
	pthread_mutex_lock(&c->m);
	c->done = UINT_MAX / 2;
	pthread_cond_broadcast(&c->c);
	pthread_mutex_unlock(&c->m);
}

unsigned long wait_for_completion_timeout(struct completion *c, unsigned long timeout)
{
	struct timespec ts;
	unsigned long left = 1;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout / 1000;
	ts.tv_nsec += (timeout % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&c->m);
	while (!c->done)
		if (pthread_cond_timedwait(&c->c, &c->m, &ts)) {
			left = 0;
			break;
		}
	if (c->done)
		c->done--, left = left ? left : 1;
	pthread_mutex_unlock(&c->m);
	return left;
}

void wait_for_completion(struct completion *c)
{
	pthread_mutex_lock(&c->m);
	while (!c->done)
		pthread_cond_wait(&c->c, &c->m);
	c->done--;
	pthread_mutex_unlock(&c->m);
}

/* ---- seq_file ---- */
int seq_printf(struct seq_file *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(m->buf + m->count, m->size - m->count, fmt, ap);
	va_end(ap);
	m->count = min(m->count + n, m->size > 0 ? m->size - 1 : 0);
	return 0;
}

int seq_puts(struct seq_file *m, const char *s)
{
	return seq_printf(m, "%s", s);
}
