// SPDX-License-Identifier: GPL-2.0
/*
 * Heap life cycle, allocation and explicit free.
 *
 * Allocation fast path (Go's nextFreeFast): with preemption disabled,
 * take the lowest set bit of the owned span's alloc_cache, mark it in
 * alloc_bits and return the zeroed object.  No lock, no atomic.  When
 * the cache is empty, the slow path refills it from the span's next
 * bitmap word, from the central lists, or from a new span.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/export.h>
#include <linux/err.h>
#include "internal.h"

static atomic_t shp_heap_ids = ATOMIC_INIT(0);

/* What a heap costs before its first span: counted in heap->meta. */
#define SHP_HEAP_FIXED_BYTES \
	(sizeof(struct spanheap) + num_possible_cpus() * sizeof(struct shp_cpu_cache))

/**
 * spanheap_create() - create a heap
 * @name: short name, shown in debugfs as "<name>-<id>"; 1..31 chars
 * @limit: cap on the bytes of spans the heap may hold, 0 for no cap
 *
 * Context: process context, may sleep.
 * Return: the heap, ERR_PTR(-EINVAL) for a bad name, or ERR_PTR(-ENOMEM).
 */
struct spanheap *spanheap_create(const char *name, size_t limit)
{
	struct spanheap *heap;
	unsigned int spc;
	int cpu;

	if (!name || !*name || strlen(name) >= sizeof(heap->name))
		return ERR_PTR(-EINVAL);
	if (shp_global_get())
		return ERR_PTR(-ENOMEM);
	heap = kzalloc(sizeof(*heap), SHP_GFP);
	if (!heap)
		return ERR_PTR(-ENOMEM);
	heap->cpu = alloc_percpu_gfp(struct shp_cpu_cache, SHP_GFP);
	if (!heap->cpu || percpu_init_rwsem(&heap->sections)) {
		free_percpu(heap->cpu);
		kfree(heap);
		return ERR_PTR(-ENOMEM);
	}
	heap->memcg = get_mem_cgroup_from_mm(current->mm);
	atomic_long_set(&heap->meta, SHP_HEAP_FIXED_BYTES);
	mutex_init(&heap->gc_lock);
	spin_lock_init(&heap->roots_lock);
	spin_lock_init(&heap->fin_lock);
	INIT_WORK(&heap->fin_work, shp_fin_workfn);
	INIT_WORK(&heap->gc_work, shp_gc_workfn);
	INIT_WORK(&heap->sweep_work, shp_sweep_workfn);
	shp_cleanup_workers_init(heap);
	shp_mark_workers_init(heap);
	heap->gc_percent = 100;
	heap->next_gc = SHP_GC_MIN_HEAP;
	strscpy(heap->name, name, sizeof(heap->name));
	heap->id = atomic_inc_return(&shp_heap_ids);
	heap->limit = limit;
	atomic_long_set(&heap->reserved, 0);
	atomic_long_set(&heap->bad_frees, 0);
	spin_lock_init(&heap->lock);
	INIT_LIST_HEAD(&heap->large);
	heap->large_slot_pages = SHP_LARGE_SLOT_PAGES;
	INIT_DELAYED_WORK(&heap->slot_work, shp_slot_workfn);
	shp_pageheap_init(heap);
	for (spc = 0; spc < SHP_NR_SPAN_CLASSES; spc++) {
		spin_lock_init(&heap->central[spc].lock);
		INIT_LIST_HEAD(&heap->central[spc].partial);
		INIT_LIST_HEAD(&heap->central[spc].full);
		INIT_LIST_HEAD(&heap->central[spc].unswept);
	}
	for_each_possible_cpu(cpu) {
		struct shp_cpu_cache *c = per_cpu_ptr(heap->cpu, cpu);

		for (spc = 0; spc < SHP_NR_SPAN_CLASSES; spc++)
			c->alloc[spc] = &shp_empty_span;
		c->last = &shp_empty_span;
	}
	shp_debugfs_add(heap);
	return heap;
}
EXPORT_SYMBOL_GPL(spanheap_create);

/**
 * spanheap_destroy() - free a heap and every object in it
 * @heap: heap; no other call on it may run or follow
 *
 * Running finalizers and cleanups are waited for, with the rest of the
 * batch their worker took (up to 32 finalizers, a worker's share of
 * cleanups); those still queued are dropped without running (their
 * objects are freed with the heap).
 * Paced collections and the background sweeper are cancelled.  Weak
 * handles read NULL from here on; every reference to them must have been
 * dropped (spanheap_weak_put()) before.
 *
 * Context: process context outside any section of @heap, may sleep.
 */
void spanheap_destroy(struct spanheap *heap)
{
	if (IS_ERR_OR_NULL(heap))
		return;
	shp_debugfs_remove(heap);
	/* From here on nothing queues work: what is cancelled stays so. */
	spin_lock(&heap->fin_lock);
	WRITE_ONCE(heap->dying, true);	/* peeked at by tests */
	spin_unlock(&heap->fin_lock);
	cancel_work_sync(&heap->gc_work);
	cancel_work_sync(&heap->sweep_work);
	cancel_work_sync(&heap->fin_work);
	cancel_delayed_work_sync(&heap->slot_work);
	shp_cleanup_workers_cancel(heap);
	shp_finq_destroy(heap);
	spanheap_drain(heap);
	shp_central_release_all(heap);
	shp_pageheap_destroy(heap);
	shp_mark_stack_put(heap);
	WARN_ON(atomic_long_read(&heap->reserved));
	WARN_ON(atomic_long_read(&heap->meta) != SHP_HEAP_FIXED_BYTES);
	percpu_free_rwsem(&heap->sections);
	kvfree(heap->roots);
	free_percpu(heap->cpu);
	mem_cgroup_put(heap->memcg);
	kfree(heap);
}
EXPORT_SYMBOL_GPL(spanheap_destroy);

/* Two words, stored together (one 16-byte store where the ISA allows). */
struct shp_zero16 {
	u64 w[2];
};

/*
 * Zero a freshly allocated object.  Sizes are multiples of 8; up to 64
 * bytes, overlapping stores from both ends beat a memset call (and the
 * rep stos a compiler would make of a loop).
 */
static __always_inline void zero_object(void *obj, unsigned long size)
{
	struct shp_zero16 *q = obj, *e = obj + size;
	u64 *w = obj;

	if (size > 64) {
		memset(obj, 0, size);
		return;
	}
	if (size <= 16) {
		w[0] = 0;
		w[size / 8 - 1] = 0;
		return;
	}
	q[0] = (struct shp_zero16){};
	e[-1] = (struct shp_zero16){};
	if (size <= 32)
		return;
	q[1] = (struct shp_zero16){};
	e[-2] = (struct shp_zero16){};
}

/*
 * Take the object of the lowest bit of @cache, the non-empty alloc_cache
 * of a cached span; the owner's lockless fast path.
 */
static __always_inline void *span_take_bit(struct shp_span *s, u64 cache)
{
	unsigned long bit = __ffs64(cache), es = s->elemsize;
	unsigned long *word = &shp_alloc_bits(s)[s->cache_word];

	s->alloc_cache = cache & (cache - 1);
	WRITE_ONCE(*word, *word | BIT(bit));
	/*
	 * Only ffs, a multiply and an add between the cache (just written by
	 * a free, as a rule) and the object.
	 */
	return (void *)(s->cache_base + bit * es);
}

/* Take an object from a cached span, NULL if its alloc_cache is empty. */
static __always_inline void *span_take(struct shp_span *s)
{
	u64 cache = s->alloc_cache;

	return cache ? span_take_bit(s, cache) : NULL;
}

/*
 * Nothing fits under the limit: sweep what is unswept and give back the
 * empty spans kept for the pacer, then the caller tries again.
 */
static void make_room(struct spanheap *heap)
{
	shp_finish_sweep(heap);
	shp_central_release_empty(heap);
}

/*
 * Nothing more fits under the limit, even after make_room(): have a
 * cycle run as soon as every section has closed, whatever the pacer says.
 */
static void grow_failed(struct spanheap *heap)
{
	WRITE_ONCE(heap->gc_at_limit, true);
	shp_heap_queue_work(heap, shp_wq, &heap->gc_work);
}

/*
 * A large span for @size bytes, its object allocated (zeroed if @zero):
 * this CPU's last freed span, else a dead or kept one, else a new one,
 * and at the limit the same again after make_room() (freed and kept
 * small spans give their pages back).  Return: the span, or NULL.
 */
static struct shp_span *large_span_get(struct spanheap *heap, size_t size,
				       unsigned int spc, bool zero)
{
	unsigned long bytes = PAGE_ALIGN(size);
	struct shp_span *s = shp_large_slot_take(heap, bytes, spc);
	bool swept = false;

	for (;;) {
		if (!s) {
			shp_sweep_large_all(heap);
			s = shp_large_reuse(heap, bytes, spc);
		}
		if (s) {
			if (zero)
				memset((void *)s->base, 0, s->bytes);
			return s;
		}
		s = shp_span_new(heap, spc, size, zero);
		if (s) {
			__set_bit(0, shp_alloc_bits(s));
			s->nalloc = 1;
			shp_large_add(heap, s);
			return s;	/* allocated zeroed unless NOZERO */
		}
		if (swept)
			return NULL;
		make_room(heap);
		swept = true;
	}
}

/* A span of its own, of class 0; NOSCAN like any other span class. */
static noinline void *alloc_large(struct spanheap *heap, size_t size,
				  unsigned int flags)
{
	unsigned int spc = SHP_SPC(0, !!(flags & SPANHEAP_NOSCAN));
	size_t limit = READ_ONCE(heap->limit);
	struct shp_cpu_cache *c;
	struct shp_span *s;

	/*
	 * Never to fit, even beside only the heap's fixed metadata (cycles
	 * free records and owner charges): nothing swept or queued.
	 */
	if (size > (size_t)INT_MAX ||
	    (limit && PAGE_ALIGN(size) + SHP_HEAP_FIXED_BYTES > limit))
		return NULL;
	s = large_span_get(heap, size, spc, !(flags & SPANHEAP_NOZERO));
	if (!s) {
		grow_failed(heap);
		return NULL;
	}
	shp_gc_maybe_trigger(heap);
	c = get_cpu_ptr(heap->cpu);
	local_inc(&c->allocs);
	put_cpu_ptr(heap->cpu);
	return (void *)s->base;
}

/* Refill from the owned span's next word, else from the central lists. */
static bool load_or_grab(struct spanheap *heap, struct shp_cpu_cache *c,
			 unsigned int spc)
{
	struct shp_span *s = c->alloc[spc];

	if (s != &shp_empty_span && shp_span_load_cache(s))
		return true;
	return shp_central_grab(heap, c, spc);
}

static noinline void *alloc_slow(struct spanheap *heap, unsigned int spc,
				 bool zero)
{
	struct shp_cpu_cache *c;
	struct shp_span *s;
	bool swept = false;
	void *obj;

	for (;;) {
		c = get_cpu_ptr(heap->cpu);
		s = c->alloc[spc];
		obj = span_take(s);
		if (!obj && load_or_grab(heap, c, spc))
			obj = span_take(c->alloc[spc]);
		if (obj) {
			if (spc != SHP_TINY_SPC)
				c->last = c->alloc[spc];
			local_inc(&c->allocs);
			put_cpu_ptr(heap->cpu);
			if (zero)
				zero_object(obj, shp_size_classes[SHP_SPC_CLASS(spc)].size);
			return obj;
		}
		put_cpu_ptr(heap->cpu);

		s = shp_span_new(heap, spc, 0, false);
		if (!s && !swept) {
			/* At the limit: sweeping may free room in this class. */
			make_room(heap);
			swept = true;
			continue;
		}
		if (!s) {
			grow_failed(heap);
			return NULL;
		}
		shp_gc_maybe_trigger(heap);
		shp_central_add(heap, s);
	}
}

/*
 * The tiny allocator (Go's mallocgc tiny path): carve @size bytes out of
 * this CPU's tiny block, aligned to the largest of 8, 4 or 2 that divides
 * @size; when it does not fit, take a new block and keep whichever of
 * the two has more room left.  The block was zeroed when taken.
 */
static noinline void *alloc_tiny(struct spanheap *heap, size_t size)
{
	struct shp_cpu_cache *c = get_cpu_ptr(heap->cpu);
	unsigned int off = c->tiny_off;
	unsigned long blk;

	if (!(size & 7))
		off = ALIGN(off, 8);
	else if (!(size & 3))
		off = ALIGN(off, 4);
	else if (!(size & 1))
		off = ALIGN(off, 2);
	if (c->tiny && off + size <= SHP_TINY_SIZE) {
		c->tiny_off = off + size;
		local_inc(&c->allocs);
		local_inc(&c->tiny_shared);
		put_cpu_ptr(heap->cpu);
		return (void *)(c->tiny + off);
	}
	put_cpu_ptr(heap->cpu);
	blk = (unsigned long)alloc_slow(heap, SHP_TINY_SPC, true);
	if (!blk)
		return NULL;
	c = get_cpu_ptr(heap->cpu);
	if (!c->tiny || size < c->tiny_off) {
		c->tiny = blk;
		c->tiny_off = size;
	}
	put_cpu_ptr(heap->cpu);
	return (void *)blk;
}

/*
 * spanheap_alloc() for valid @flags; @zero is a constant in each caller,
 * so that the zeroing fast path keeps no flag live across its calls
 * (and saves no callee-saved register for one).
 */
static __always_inline void *alloc_common(struct spanheap *heap, size_t size,
					  unsigned int flags, bool zero)
{
	struct shp_cpu_cache *c;
	struct shp_span *s;
	unsigned int spc;
	unsigned long es;
	void *obj;
	u64 cache;

	if (unlikely(size > SPANHEAP_MAX_SMALL_SIZE))
		return alloc_large(heap, size, flags);
	if ((flags & SPANHEAP_NOSCAN) && size <= SHP_TINY_SIZE)
		return alloc_tiny(heap, size ? size : 1);
	spc = SHP_SPC(shp_size_to_class(size), !!(flags & SPANHEAP_NOSCAN));

	c = get_cpu_ptr(heap->cpu);
	s = c->alloc[spc];
	cache = s->alloc_cache;
	if (unlikely(!cache)) {
		put_cpu_ptr(heap->cpu);
		return alloc_slow(heap, spc, zero);
	}
	es = s->elemsize;	/* not reloaded after the bitmap store */
	obj = span_take_bit(s, cache);
	c->last = s;
	local_inc(&c->allocs);
	put_cpu_ptr(heap->cpu);
	if (zero)
		zero_object(obj, es);
	return obj;
}

/* spanheap_alloc() with a flag besides NOSCAN: check them, then NOZERO. */
static noinline void *alloc_nozero(struct spanheap *heap, size_t size,
				   unsigned int flags)
{
	if (flags & ~SPANHEAP_ALLOC_FLAGS || !(flags & SPANHEAP_NOSCAN))
		return NULL;
	return alloc_common(heap, size, flags, false);
}

/**
 * spanheap_alloc() - allocate a zeroed object
 * @heap: heap
 * @size: bytes; 0 is treated as 1; above SPANHEAP_MAX_SMALL_SIZE the
 *	object gets a span of its own
 * @flags: SPANHEAP_NOSCAN if the object will never hold heap pointers;
 *	SPANHEAP_NOZERO (with NOSCAN only) to have it not zeroed
 *
 * NOSCAN objects of at most 16 bytes are tiny: several share a 16-byte
 * block, which the collector frees only when none of them is reachable,
 * so one live member keeps its siblings (and their finalizers from
 * running).  Tiny objects cannot be freed explicitly.
 *
 * A NOZERO object holds whatever its slot or pages held last, as
 * kmalloc()'s do (Go's mallocgc with needzero false): for a caller that
 * overwrites it at once.  NOSCAN only, so that stale words are never
 * taken for pointers and keep dead objects alive.  A later object
 * without the flag in the same memory is zeroed as always.
 *
 * When a new span would exceed the heap's limit, the unswept spans are
 * swept first and the empty spans kept for reuse given back; if that
 * frees no room, a collection is queued (it runs once every section has
 * closed, whatever the pacer says) and NULL is returned.  A large object
 * that cannot fit even beside the heap's fixed metadata fails at once.
 * A new span may also start a paced collection (GOGC).
 *
 * Context: process context inside a mutator section; may sleep (only
 * when a new span is needed).
 * Return: the object, or NULL for unknown @flags, NOZERO without NOSCAN,
 * out of memory, or when the heap's limit would be exceeded.
 */
void *spanheap_alloc(struct spanheap *heap, size_t size, unsigned int flags)
{
	shp_assert_in_section(heap);
	if (unlikely(flags & ~SPANHEAP_NOSCAN))
		return alloc_nozero(heap, size, flags);
	return alloc_common(heap, size, flags, true);
}
EXPORT_SYMBOL_GPL(spanheap_alloc);

static int free_large(struct spanheap *heap, struct shp_span *s, void *ptr)
{
	struct shp_cpu_cache *c;
	int ret = 0;

	if (ptr != (void *)s->base)
		return -EINVAL;
	c = get_cpu_ptr(heap->cpu);
	spin_lock(&heap->lock);
	if (s->state == SHP_SPAN_LARGE && s->sweepgen != heap->sweepgen)
		shp_sweep_large(heap, s);	/* may release it */
	/*
	 * Dead (the sweep just run released it) or freed by a racing call;
	 * or freed into a CPU's large slot, as good as gone: -EFAULT, as
	 * when the lookup fails.  Decided under the lock: once it is
	 * dropped, the slot's owner may give the span back or revive it.
	 */
	if (s->state != SHP_SPAN_LARGE)
		ret = -EINVAL;
	else if (!test_bit(0, shp_alloc_bits(s)))
		ret = -EFAULT;
	if (ret) {
		spin_unlock(&heap->lock);
		put_cpu_ptr(heap->cpu);
		return ret;
	}
	if (!shp_large_slot_put(heap, c, s))
		shp_large_release(heap, s);
	spin_unlock(&heap->lock);
	local_inc(&c->frees);
	put_cpu_ptr(heap->cpu);
	return 0;
}

/*
 * Clear allocated object @idx of @s, which this CPU's cache owns; @word
 * is its alloc_bits word (only the owner changes it).
 */
static __always_inline void free_clear(struct shp_cpu_cache *c, struct shp_span *s,
				       unsigned int idx, unsigned long word)
{
	unsigned long bit = BIT(idx % 64);

	WRITE_ONCE(shp_alloc_bits(s)[idx / 64], word & ~bit);
	if (idx / 64 == s->cache_word)
		s->alloc_cache |= bit;
	local_inc(&c->frees);
}

/*
 * free_clear() of an object whose span has special records: out of
 * line, so that the call does not cost the fast path a stack frame.
 */
static noinline void free_clear_special(struct shp_cpu_cache *c,
					struct shp_span *s, unsigned int idx)
{
	shp_special_drop(s, idx);
	free_clear(c, s, idx, shp_alloc_bits(s)[idx / 64]);
}

/* Free object @idx of @s, which this CPU's cache owns. */
static __always_inline int free_owned(struct shp_cpu_cache *c,
				      struct shp_span *s, unsigned int idx)
{
	unsigned long word = shp_alloc_bits(s)[idx / 64];

	/*
	 * Not allocated, or already freed by another CPU and not yet folded.
	 * (Tiny blocks, whose members are not objects of their own, never
	 * get here: free_slow() refuses them and they are never c->last.)
	 */
	if (unlikely(!(word & BIT(idx % 64)) ||
		     (atomic_read(&s->nremote) && test_bit(idx, shp_remote_bits(s)))))
		return -EINVAL;
	if (unlikely(READ_ONCE(s->specials)))
		free_clear_special(c, s, idx);
	else
		free_clear(c, s, idx, word);
	return 0;
}

static noinline int free_slow(struct spanheap *heap, void *ptr)
{
	struct shp_cpu_cache *c;
	struct shp_span *s;
	unsigned int idx;
	int ret;

	rcu_read_lock();
	s = shp_find_object(heap, ptr, &idx);
	if (!s) {
		ret = -EFAULT;
	} else if (!s->divmul) {
		ret = free_large(heap, s, ptr);
	} else if (ptr != (void *)(s->base + idx * s->elemsize) ||
		   s->spc == SHP_TINY_SPC) {
		ret = -EINVAL;
	} else {
		c = get_cpu_ptr(heap->cpu);
		if (READ_ONCE(s->owner) == c) {
			ret = free_owned(c, s, idx);
		} else {
			ret = shp_central_free(heap, s, idx);
			if (!ret)
				local_inc(&c->frees);
		}
		put_cpu_ptr(heap->cpu);
	}
	rcu_read_unlock();
	if (ret)
		atomic_long_inc(&heap->bad_frees);
	return ret;
}

/**
 * spanheap_free() - free an object explicitly
 * @heap: heap the object was allocated from
 * @ptr: start of the object
 *
 * Any finalizer, cleanup or pin of the object is dropped with it (they
 * never run); its weak handles read NULL.
 *
 * Context: inside a mutator section; does not sleep.
 * Return: 0; -EFAULT if @ptr is not inside a live span of @heap (a
 * foreign pointer, or a large object already freed whose pages no new
 * object took); -EINVAL if it is not the start of an allocated object
 * (interior pointer, tail of a span, a small object already freed, or a
 * tiny object).  Nothing changes on error.  A second free after the
 * memory was handed out again frees the new object, as with any
 * allocator: freed runs and slots are reused at once.
 */
int spanheap_free(struct spanheap *heap, void *ptr)
{
	struct shp_cpu_cache *c = get_cpu_ptr(heap->cpu);
	struct shp_span *s = c->last;
	unsigned long off = (unsigned long)ptr - s->base;
	unsigned int idx;
	int ret;

	shp_assert_in_section(heap);
	/*
	 * Fast path: the span this CPU allocated from last, owned by us.  The
	 * low half of the reciprocal product is below divmul exactly when
	 * off is a multiple of the size (checked for every class).
	 */
	if (likely(off < s->bytes && s->divmul)) {
		u64 prod = (u64)off * s->divmul;

		idx = prod >> 32;
		if (likely((u32)prod < s->divmul && idx < s->nelems)) {
			ret = free_owned(c, s, idx);
			put_cpu_ptr(heap->cpu);
			if (unlikely(ret))
				atomic_long_inc(&heap->bad_frees);
			return ret;
		}
	}
	put_cpu_ptr(heap->cpu);
	return free_slow(heap, ptr);
}
EXPORT_SYMBOL_GPL(spanheap_free);

/**
 * spanheap_object_base() - find the allocated object containing a pointer
 * @heap: heap
 * @ptr: any address, interior pointers included
 * @size: if not NULL, set to the object's size (its class size)
 *
 * Context: any; does not sleep.  The answer is stale as soon as another
 * CPU may free the object.
 * Return: the object's start, or NULL if @ptr is not inside an object
 * allocated from @heap.
 */
void *spanheap_object_base(struct spanheap *heap, const void *ptr,
			   size_t *size)
{
	struct shp_span *s;
	unsigned int idx;
	void *base = NULL;

	rcu_read_lock();
	s = shp_find_object(heap, ptr, &idx);
	if (s && test_bit(idx, shp_alloc_bits(s)) &&
	    !test_bit(idx, shp_remote_bits(s))) {
		base = (void *)(s->base + idx * s->elemsize);
		if (size)
			*size = s->elemsize;
	}
	rcu_read_unlock();
	return base;
}
EXPORT_SYMBOL_GPL(spanheap_object_base);

/**
 * shp_object_live() - is @obj the start of an allocated object, now?
 * @heap: heap
 * @obj: candidate, typically remembered from earlier
 *
 * Sweeps the object's span first, so an object the last cycle found
 * unreachable reads as dead, never as live-until-the-sweeper-comes.
 *
 * Context: inside a mutator section (the answer holds until it ends).
 * Return: true if allocated.
 */
bool shp_object_live(struct spanheap *heap, void *obj)
{
	unsigned int idx;

	shp_assert_in_section(heap);
	return !IS_ERR(shp_find_swept_object(heap, obj, &idx));
}

/**
 * spanheap_charge() - count an owner's memory against the heap's limit
 * @heap: heap
 * @bytes: size of something allocated for the heap's owner (a table, a
 *	record), so that what a heap's user causes is capped in one place
 *
 * At the limit, the heap's idle memory (kept large spans, idle arenas,
 * then the empty small spans kept for reuse) is given back at once and
 * the charge tried again: memory the heap holds for reuse never stands
 * in the way of its owner's.  Outside any section, the empty spans are
 * not given back while the world is stopped (a cycle, or the walks of
 * spanheap_finalizer_cycles() and spanheap_why()).
 *
 * Context: process context, may sleep; no spinlock held.
 * Return: 0, or -ENOMEM (nothing charged) if the limit would be passed,
 * @bytes exceeds the limit or LONG_MAX, or the heap's count of charges
 * would pass LONG_MAX / 2 (SHP_META_CHARGE_MAX).
 */
int spanheap_charge(struct spanheap *heap, size_t bytes)
{
	size_t limit = READ_ONCE(heap->limit);

	/* Never to fit: refused before the count could wrap. */
	if (bytes > LONG_MAX || (limit && bytes > limit))
		return -ENOMEM;
	if (shp_meta_charge_reclaim(heap, bytes))
		return 0;
	shp_central_release_empty(heap);
	return shp_meta_charge_reclaim(heap, bytes) ? 0 : -ENOMEM;
}
EXPORT_SYMBOL_GPL(spanheap_charge);

/**
 * spanheap_uncharge() - give back what spanheap_charge() counted
 * @heap: heap
 * @bytes: same size
 *
 * Context: any.
 */
void spanheap_uncharge(struct spanheap *heap, size_t bytes)
{
	shp_meta_uncharge(heap, bytes);
}
EXPORT_SYMBOL_GPL(spanheap_uncharge);

/**
 * spanheap_set_limit() - change a heap's cap on reserved plus metadata bytes
 * @heap: heap
 * @limit: new cap, 0 for none; lowering it below what is held only
 *	makes later span allocations fail until memory is freed
 *
 * A limit also has the CPUs' large slots given back, at once but by a
 * work item (it stops the world): until it has run, a freed large span
 * a slot holds counts against the new limit.
 *
 * Context: process context; does not sleep.
 */
void spanheap_set_limit(struct spanheap *heap, size_t limit)
{
	WRITE_ONCE(heap->limit, limit);
	if (limit)
		shp_large_slots_revoke(heap);
}
EXPORT_SYMBOL_GPL(spanheap_set_limit);

/**
 * spanheap_class_size() - the size an allocation of @size really gets
 * @size: requested bytes
 *
 * Context: any.
 * Return: the class size, or @size rounded up to pages for large objects.
 */
size_t spanheap_class_size(size_t size)
{
	if (size > SPANHEAP_MAX_SMALL_SIZE)
		return PAGE_ALIGN(size);
	return shp_size_classes[shp_size_to_class(size ? size : 1)].size;
}
EXPORT_SYMBOL_GPL(spanheap_class_size);
