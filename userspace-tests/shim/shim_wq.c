// SPDX-License-Identifier: GPL-2.0
/*
 * Workqueues over pthreads.  As in the kernel, a work item is pending at
 * most once, never runs on two workers at once, and if queued while it
 * runs it runs again afterwards; max_active bounds concurrency.
 */
#include <shim.h>

struct workqueue_struct {
	pthread_mutex_t lock;
	pthread_cond_t more, idle;
	struct list_head queue;
	int nthreads;
	bool stop;
	pthread_t threads[];
};

/* Under wq->lock; atomic, as cancel_work() reads it without the lock. */
static void set_pending(struct work_struct *w, bool pending)
{
	__atomic_store_n(&w->pending, pending, __ATOMIC_RELAXED);
}

static void *worker(void *arg)
{
	struct workqueue_struct *wq = arg;
	struct work_struct *w;

	pthread_mutex_lock(&wq->lock);
	for (;;) {
		while (list_empty(&wq->queue) && !wq->stop)
			pthread_cond_wait(&wq->more, &wq->lock);
		if (list_empty(&wq->queue))
			break;
		w = list_first_entry(&wq->queue, struct work_struct, entry);
		list_del_init(&w->entry);
		set_pending(w, false);
		w->running = true;
		pthread_mutex_unlock(&wq->lock);
		w->func(w);
		pthread_mutex_lock(&wq->lock);
		w->running = false;
		if (w->pending)		/* queued again while running */
			list_add_tail(&w->entry, &wq->queue);
		pthread_cond_broadcast(&wq->idle);
	}
	pthread_mutex_unlock(&wq->lock);
	return NULL;
}

struct workqueue_struct *alloc_workqueue(const char *fmt, unsigned int flags, int max_active, ...)
{
	int n = max_active > 0 ? max_active : 4, i;
	struct workqueue_struct *wq = calloc(1, sizeof(*wq) + n * sizeof(pthread_t));

	if (!wq)
		return NULL;
	pthread_mutex_init(&wq->lock, NULL);
	pthread_cond_init(&wq->more, NULL);
	pthread_cond_init(&wq->idle, NULL);
	INIT_LIST_HEAD(&wq->queue);
	for (i = 0; i < n; i++)
		if (pthread_create(&wq->threads[i], NULL, worker, wq))
			break;
	wq->nthreads = i;
	return wq;
}

void destroy_workqueue(struct workqueue_struct *wq)
{
	int i;

	pthread_mutex_lock(&wq->lock);
	wq->stop = true;
	pthread_cond_broadcast(&wq->more);
	pthread_mutex_unlock(&wq->lock);
	for (i = 0; i < wq->nthreads; i++)
		pthread_join(wq->threads[i], NULL);
	free(wq);
}

bool queue_work(struct workqueue_struct *wq, struct work_struct *w)
{
	bool queued = false;

	pthread_mutex_lock(&wq->lock);
	__atomic_store_n(&w->wq, wq, __ATOMIC_RELEASE);
	if (!w->pending) {
		set_pending(w, true);
		queued = true;
		if (!w->running) {
			list_add_tail(&w->entry, &wq->queue);
			pthread_cond_signal(&wq->more);
		}
	}
	pthread_mutex_unlock(&wq->lock);
	return queued;
}

static bool wait_work(struct work_struct *w, bool cancel, bool sync)
{
	struct workqueue_struct *wq = __atomic_load_n(&w->wq, __ATOMIC_ACQUIRE);
	bool was = false;

	if (!wq)
		return false;
	pthread_mutex_lock(&wq->lock);
	if (cancel && w->pending) {
		was = true;
		set_pending(w, false);
		if (!list_empty(&w->entry))
			list_del_init(&w->entry);
	}
	while (sync && (w->running || (!cancel && w->pending)))
		pthread_cond_wait(&wq->idle, &wq->lock);
	pthread_mutex_unlock(&wq->lock);
	return was;
}

bool cancel_work_sync(struct work_struct *w)
{
	return wait_work(w, true, true);
}

/*
 * As the kernel's, it takes no lock for an item that is not pending: a
 * cancel racing a queue_work() may miss it either way.
 */
bool cancel_work(struct work_struct *w)
{
	if (!__atomic_load_n(&w->pending, __ATOMIC_RELAXED))
		return false;
	return wait_work(w, true, false);
}

bool flush_work(struct work_struct *w)
{
	return wait_work(w, false, true);
}

bool work_pending(struct work_struct *w)
{
	struct workqueue_struct *wq = __atomic_load_n(&w->wq, __ATOMIC_ACQUIRE);
	bool p;

	if (!wq)
		return false;
	pthread_mutex_lock(&wq->lock);
	p = w->pending;
	pthread_mutex_unlock(&wq->lock);
	return p;
}

unsigned int work_busy(struct work_struct *w)
{
	struct workqueue_struct *wq = __atomic_load_n(&w->wq, __ATOMIC_ACQUIRE);
	unsigned int busy;

	if (!wq)
		return 0;
	pthread_mutex_lock(&wq->lock);
	busy = (w->pending ? WORK_BUSY_PENDING : 0) | (w->running ? WORK_BUSY_RUNNING : 0);
	pthread_mutex_unlock(&wq->lock);
	return busy;
}

/*
 * The timer thread of delayed work: it sleeps until the earliest armed
 * item is due and queues it.  Items are queued under timer_lock, so
 * cancel_delayed_work_sync(), which disarms under it first, either
 * finds the item still armed or finds its work queued.
 */
static pthread_mutex_t timer_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t timer_cond = PTHREAD_COND_INITIALIZER;
static LIST_HEAD(timers);
static pthread_once_t timer_once = PTHREAD_ONCE_INIT;

static void *timer_thread(void *arg)
{
	pthread_mutex_lock(&timer_lock);
	for (;;) {
		struct delayed_work *dw, *first = NULL;
		unsigned long now = jiffies;
		struct timespec ts;

		list_for_each_entry(dw, &timers, timer)
			if (!first || time_before(dw->expires, first->expires))
				first = dw;
		if (!first) {
			pthread_cond_wait(&timer_cond, &timer_lock);
			continue;
		}
		if (!time_before(now, first->expires)) {
			list_del_init(&first->timer);
			first->armed = false;
			queue_work(first->twq, &first->work);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (first->expires - now) * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&timer_cond, &timer_lock, &ts);
	}
	return NULL;
}

static void timer_start(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, timer_thread, NULL))
		abort();
	pthread_detach(t);
}

bool queue_delayed_work(struct workqueue_struct *wq, struct delayed_work *dw,
			unsigned long delay)
{
	bool queued = false;

	if (!delay)
		return queue_work(wq, &dw->work);
	pthread_once(&timer_once, timer_start);
	pthread_mutex_lock(&timer_lock);
	if (!dw->armed && !work_pending(&dw->work)) {
		dw->armed = true;
		dw->twq = wq;
		dw->expires = jiffies + delay;
		list_add_tail(&dw->timer, &timers);
		pthread_cond_signal(&timer_cond);
		queued = true;
	}
	pthread_mutex_unlock(&timer_lock);
	return queued;
}

static bool timer_disarm(struct delayed_work *dw);

bool cancel_delayed_work_sync(struct delayed_work *dw)
{
	bool was = timer_disarm(dw);

	return cancel_work_sync(&dw->work) || was;
}

/* Take @dw off the timer list.  Return: it was armed there. */
static bool timer_disarm(struct delayed_work *dw)
{
	bool was;

	pthread_mutex_lock(&timer_lock);
	was = dw->armed;
	if (was) {
		list_del_init(&dw->timer);
		dw->armed = false;
	}
	pthread_mutex_unlock(&timer_lock);
	return was;
}

bool mod_delayed_work(struct workqueue_struct *wq, struct delayed_work *dw,
		      unsigned long delay)
{
	bool was = timer_disarm(dw);

	queue_delayed_work(wq, dw, delay);
	return was;
}

bool flush_delayed_work(struct delayed_work *dw)
{
	if (timer_disarm(dw))
		queue_work(dw->twq, &dw->work);
	return flush_work(&dw->work);
}

bool delayed_work_pending(struct delayed_work *dw)
{
	bool armed;

	pthread_mutex_lock(&timer_lock);
	armed = dw->armed;
	pthread_mutex_unlock(&timer_lock);
	return armed || work_pending(&dw->work);
}

/* The semaphores this thread holds for reading (sections never nest). */
#define SHIM_RWSEM_READS	4
static __thread struct percpu_rw_semaphore *rwsem_reads[SHIM_RWSEM_READS];

/* How many this thread holds; the KUnit runner checks it as a case ends. */
unsigned int shim_sections_held(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < SHIM_RWSEM_READS; i++)
		n += !!rwsem_reads[i];
	return n;
}

/* migrate_disable() count of this thread, as the kernel's task has. */
__thread int shim_pins;

void shim_migrate_enable(void)
{
	if (WARN_ON_ONCE(shim_pins <= 0))	/* as the kernel's does */
		return;
	shim_pins--;
}

/* Forget what a failed case left held, reported already: the next case starts clean. */
void shim_sections_forget(void)
{
	memset(rwsem_reads, 0, sizeof(rwsem_reads));
	shim_pins = 0;
}

void percpu_down_read(struct percpu_rw_semaphore *sem)
{
	unsigned int i;

	pthread_rwlock_rdlock(&sem->rw);
	for (i = 0; i < SHIM_RWSEM_READS && rwsem_reads[i]; i++)
		;
	if (i == SHIM_RWSEM_READS)
		abort();	/* more nested read holds than sections allow */
	rwsem_reads[i] = sem;
}

void percpu_up_read(struct percpu_rw_semaphore *sem)
{
	unsigned int i;

	for (i = 0; i < SHIM_RWSEM_READS && rwsem_reads[i] != sem; i++)
		;
	if (i == SHIM_RWSEM_READS)
		abort();	/* not read-held by this thread */
	rwsem_reads[i] = NULL;
	pthread_rwlock_unlock(&sem->rw);
}

void percpu_down_write(struct percpu_rw_semaphore *sem)
{
	pthread_rwlock_wrlock(&sem->rw);
	__atomic_store_n(&sem->writer, pthread_self(), __ATOMIC_RELAXED);
	__atomic_store_n(&sem->write_held, true, __ATOMIC_RELEASE);
}

void percpu_up_write(struct percpu_rw_semaphore *sem)
{
	__atomic_store_n(&sem->write_held, false, __ATOMIC_RELEASE);
	pthread_rwlock_unlock(&sem->rw);
}

bool shim_rwsem_held_write(struct percpu_rw_semaphore *sem)
{
	return __atomic_load_n(&sem->write_held, __ATOMIC_ACQUIRE) &&
	       pthread_equal(__atomic_load_n(&sem->writer, __ATOMIC_RELAXED),
			     pthread_self());
}

bool shim_rwsem_held_read(struct percpu_rw_semaphore *sem)
{
	unsigned int i;

	for (i = 0; i < SHIM_RWSEM_READS; i++)
		if (rwsem_reads[i] == sem)
			return true;
	return false;
}

int percpu_init_rwsem(struct percpu_rw_semaphore *sem)
{
	pthread_rwlockattr_t a;

	sem->write_held = false;
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	return -pthread_rwlock_init(&sem->rw, &a);
}

struct kmem_cache *kmem_cache_create(const char *name, unsigned int size, unsigned int align,
				     unsigned long flags, void (*ctor)(void *))
{
	struct kmem_cache *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	c->size = ALIGN(max_t(size_t, size, sizeof(void *)), sizeof(void *));
	c->cpu = alloc_percpu(struct shim_kmem_cpu);
	pthread_mutex_init(&c->chunks_lock, NULL);
	c->chunks = NULL;
	if (!c->cpu) {
		free(c);
		return NULL;
	}
	return c;
}

void kmem_cache_destroy(struct kmem_cache *c)
{
	void *chunk, *next;

	if (!c)
		return;
	for (chunk = c->chunks; chunk; chunk = next) {
		next = *(void **)chunk;
		free(chunk);
	}
	free_percpu(c->cpu);
	free(c);
}

#ifdef __SANITIZE_ADDRESS__
/*
 * Under ASan each object is a malloc() of its own, so that a record or
 * weak cell used after its free, freed twice or leaked is reported (the
 * chunks would hide all three: their memory stays valid and reachable).
 */
void *kmem_cache_alloc(struct kmem_cache *c, gfp_t g)
{
	return shim_alloc(c->size, g);
}

void kmem_cache_free(struct kmem_cache *c, void *p)
{
	free(p);
}
#else
/* Carve a new chunk onto @pc's free list; its first word links chunks. */
static bool kmem_refill(struct kmem_cache *c, struct shim_kmem_cpu *pc)
{
	char *chunk = shim_alloc(sizeof(void *) + SHIM_KMEM_CHUNK * c->size, 0);
	unsigned int i;

	if (!chunk)
		return false;
	pthread_mutex_lock(&c->chunks_lock);
	*(void **)chunk = c->chunks;
	c->chunks = chunk;
	pthread_mutex_unlock(&c->chunks_lock);
	chunk += sizeof(void *);
	for (i = 0; i < SHIM_KMEM_CHUNK; i++) {
		void *obj = chunk + i * c->size;

		*(void **)obj = pc->free;
		pc->free = obj;
	}
	return true;
}

void *kmem_cache_alloc(struct kmem_cache *c, gfp_t g)
{
	struct shim_kmem_cpu *pc = this_cpu_ptr(c->cpu);
	void *p;

	if (shim_fail_now() || (!pc->free && !kmem_refill(c, pc)))
		return NULL;
	p = pc->free;
	pc->free = *(void **)p;
	if (g & __GFP_ZERO)
		memset(p, 0, c->size);
	return p;
}

void kmem_cache_free(struct kmem_cache *c, void *p)
{
	struct shim_kmem_cpu *pc = this_cpu_ptr(c->cpu);

	*(void **)p = pc->free;
	pc->free = p;
}
#endif
