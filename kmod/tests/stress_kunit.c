// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: concurrency stress.  One thread per CPU allocates and frees at
 * random for a bounded time through a shared slot table, so objects are
 * often freed by a CPU that did not allocate them (the remote path).
 * Every object carries a fill pattern naming its slot and size, checked
 * before it is freed: two owners of one object would overwrite it.
 * Afterwards every span is checked and the heap must drain to empty.
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/slab.h>
#include <linux/err.h>
#include "test_heap.h"

#define STRESS_SLOTS	4096
#define STRESS_MS	1500
#define STRESS_MAX_THREADS	16

struct stress {
	struct spanheap *heap;
	void **slots;
	unsigned long deadline;
	atomic_t seeds;
	atomic_long_t errors;
	atomic_long_t ops;
	struct completion done[STRESS_MAX_THREADS];
};

struct stress_arg {
	struct stress *st;
	unsigned int index;
};

static u32 xorshift(u32 *state)
{
	u32 x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

static size_t pick_size(u32 r)
{
	switch (r % 16) {
	case 0:
		return SPANHEAP_MAX_SMALL_SIZE + 1 + (r >> 8) % 100000;
	case 1 ... 3:
		return 1 + (r >> 8) % SPANHEAP_MAX_SMALL_SIZE;
	default:
		return 1 + (r >> 8) % 512;
	}
}

/* An object stores its size and slot in its first words, the rest a pattern. */
static void fill(u8 *p, size_t size, unsigned long slot)
{
	size_t i;

	((u64 *)p)[0] = size;
	if (size >= 16)
		((u64 *)p)[1] = slot;
	for (i = 16; i < size && i < 256; i++)
		p[i] = (u8)(slot + i);
}

static bool intact(const u8 *p, unsigned long slot)
{
	size_t size = ((const u64 *)p)[0], i;

	if (size >= 16 && ((const u64 *)p)[1] != slot)
		return false;
	for (i = 16; i < size && i < 256; i++)
		if (p[i] != (u8)(slot + i))
			return false;
	return true;
}

static int stress_thread(void *arg)
{
	struct stress_arg *a = arg;
	struct stress *st = a->st;
	u32 seed = 2463534242u ^ (u32)atomic_inc_return(&st->seeds) * 0x9e3779b9u;
	unsigned long ops = 0;

	spanheap_enter(st->heap);
	while (time_before(jiffies, st->deadline)) {
		u32 r = xorshift(&seed);
		unsigned long slot = r % STRESS_SLOTS;
		u8 *p = xchg(&st->slots[slot], NULL);

		if (p) {
			if (!intact(p, slot) || spanheap_free(st->heap, p))
				atomic_long_inc(&st->errors);
		} else {
			size_t size = pick_size(xorshift(&seed));
			u32 kind = xorshift(&seed);
			unsigned int flags = 0;

			/*
			 * Tiny objects cannot be freed explicitly: not here.
			 * A NOZERO object's bytes must never show in a zeroed
			 * one that gets its slot or run later.
			 */
			if (kind & 1 && size > SHP_TINY_SIZE)
				flags = SPANHEAP_NOSCAN | (kind & 2 ? SPANHEAP_NOZERO : 0);
			p = spanheap_alloc(st->heap, size, flags);
			if (!p) {
				atomic_long_inc(&st->errors);
				continue;
			}
			/* fill() writes at most the first 256 bytes. */
			if (!(flags & SPANHEAP_NOZERO) &&
			    memchr_inv(p, 0, min_t(size_t, size, 256)))
				atomic_long_inc(&st->errors);
			fill(p, max_t(size_t, size, 8), slot);
			p = xchg(&st->slots[slot], p);
			if (p && (!intact(p, slot) || spanheap_free(st->heap, p)))
				atomic_long_inc(&st->errors);
		}
		if (!(++ops % 64)) {
			spanheap_exit(st->heap);
			cond_resched();
			spanheap_enter(st->heap);
		}
	}
	spanheap_exit(st->heap);
	atomic_long_add(ops, &st->ops);
	/* Completes and exits without returning into module text. */
	kthread_complete_and_exit(&st->done[a->index], 0);
}

static void stress_alloc_free_all_cpus(struct kunit *test)
{
	unsigned int nthreads = clamp(num_online_cpus(), 2u, STRESS_MAX_THREADS), i;
	struct spanheap_stats *stats = kunit_kzalloc(test, sizeof(*stats), GFP_KERNEL);
	struct stress_arg *args;
	struct task_struct *t;
	struct stress *st;

	KUNIT_ASSERT_NOT_NULL(test, stats);
	/* Not kunit-managed: left to the threads if one never ends. */
	st = kzalloc(sizeof(*st), GFP_KERNEL);
	args = kcalloc(nthreads, sizeof(*args), GFP_KERNEL);
	if (st)
		st->slots = kcalloc(STRESS_SLOTS, sizeof(void *), GFP_KERNEL);
	if (!st || !args || !st->slots) {
		KUNIT_FAIL(test, "out of memory");
		goto out_free;
	}
	st->heap = spanheap_create("kunit-stress", 0);
	if (IS_ERR(st->heap)) {
		KUNIT_FAIL(test, "heap: %ld", PTR_ERR(st->heap));
		goto out_free;
	}
	/* Objects live in st->slots, which is no root: no collections. */
	spanheap_set_gc_percent(st->heap, -1);
	st->deadline = jiffies + msecs_to_jiffies(STRESS_MS);
	for (i = 0; i < nthreads; i++) {
		init_completion(&st->done[i]);
		args[i].st = st;
		args[i].index = i;
		t = kthread_run(stress_thread, &args[i], "spanheap-stress/%u", i);
		if (IS_ERR(t)) {
			KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(t));
			nthreads = i;
			break;
		}
	}
	/* Bounded wait: a hung thread fails the test instead of hanging it. */
	for (i = 0; i < nthreads; i++)
		if (!test_wait_done(test, &st->done[i], STRESS_MS / 1000 + 60))
			return;

	KUNIT_EXPECT_EQ(test, atomic_long_read(&st->errors), 0);
	KUNIT_EXPECT_GT(test, atomic_long_read(&st->ops), 1000);
	spanheap_drain(st->heap);
	KUNIT_EXPECT_EQ(test, shp_heap_check(st->heap), 0);
	spanheap_enter(st->heap);
	for (i = 0; i < STRESS_SLOTS; i++) {
		if (!st->slots[i])
			continue;
		KUNIT_EXPECT_TRUE(test, intact(st->slots[i], i));
		KUNIT_EXPECT_EQ(test, spanheap_free(st->heap, st->slots[i]), 0);
	}
	spanheap_exit(st->heap);
	spanheap_drain(st->heap);
	KUNIT_EXPECT_EQ(test, shp_heap_check(st->heap), 0);
	spanheap_read_stats(st->heap, stats);
	KUNIT_EXPECT_EQ(test, stats->objects_in_use, 0);
	KUNIT_EXPECT_EQ(test, stats->bad_frees, 0);
	KUNIT_EXPECT_EQ(test, stats->allocs, stats->frees);
	kunit_info(test, "%ld operations on %u threads\n",
		   atomic_long_read(&st->ops), nthreads);
	spanheap_destroy(st->heap);
out_free:
	if (st)
		kfree(st->slots);
	kfree(st);
	kfree(args);
}

static struct kunit_case stress_cases[] = {
	KUNIT_CASE(stress_alloc_free_all_cpus),
	{}
};

static struct kunit_suite stress_suite = {
	.name = "spanheap_stress",
	.test_cases = stress_cases,
};

kunit_test_suites(&stress_suite);
