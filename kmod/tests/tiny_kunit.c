// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the tiny allocator (Go's mallocgc tiny path).  NOSCAN objects of
 * at most 16 bytes share 16-byte blocks; a block is one object to the
 * collector, so a live member keeps the others, and finalizers and
 * cleanups may sit at interior offsets.  As in Go (runtime/mfinal.go:
 * "a single live member keeps its siblings' finalizers from running").
 */
#include <kunit/test.h>
#include <linux/err.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include "test_heap.h"

static int tiny_init(struct kunit *test)
{
	return test_heap_init(test, "kunit-tiny", 0);
}

static void tiny_exit(struct kunit *test)
{
	test_heap_exit(test, TEST_HEAP_CHECK);
}

/* A tiny object of the case's heap; the caller's section is pinned. */
static void *tiny(struct kunit *test, size_t size)
{
	void *p = spanheap_alloc(test->priv, size, SPANHEAP_NOSCAN);

	PINNED_ASSERT_NOT_NULL(test, test->priv, p);
	return p;
}

static void *block_of(struct kunit *test, void *p)
{
	size_t size = 0;
	void *base = spanheap_object_base(test->priv, p, &size);

	KUNIT_EXPECT_EQ(test, size, SHP_TINY_SIZE);
	return base;
}

/* Members share a block, aligned by their size; bigger or SCAN: not tiny. */
static void packs_and_aligns(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	u8 *a, *b, *c, *d, *big, *scan;

	spanheap_enter(heap);
	migrate_disable();	/* one CPU's tiny block */
	a = tiny(test, 1);
	b = tiny(test, 2);
	c = tiny(test, 4);
	d = tiny(test, 8);
	KUNIT_EXPECT_PTR_EQ(test, block_of(test, a), block_of(test, b));
	KUNIT_EXPECT_PTR_EQ(test, block_of(test, a), block_of(test, d));
	KUNIT_EXPECT_EQ(test, b - a, 2);	/* 2-aligned after 1 byte */
	KUNIT_EXPECT_EQ(test, c - a, 4);
	KUNIT_EXPECT_EQ(test, d - a, 8);
	KUNIT_EXPECT_TRUE(test, !((unsigned long)d & 7));
	*a = *b = *c = *d = 0xff;
	big = spanheap_alloc(heap, SHP_TINY_SIZE + 1, SPANHEAP_NOSCAN);
	scan = spanheap_alloc(heap, 8, 0);
	PINNED_ASSERT_NOT_NULL(test, heap, big);
	PINNED_ASSERT_NOT_NULL(test, heap, scan);
	KUNIT_EXPECT_PTR_EQ(test, spanheap_object_base(heap, big, NULL), (void *)big);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, big), 0);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, scan), 0);
	/* Members are not objects of their own: no explicit free. */
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, a), -EINVAL);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, d), -EINVAL);
	migrate_enable();
	spanheap_exit(heap);
}

struct seen {
	spinlock_t lock;
	void *objs[4];
	unsigned int n;
};

static void note_fin(struct spanheap *heap, void *obj, void *arg)
{
	struct seen *s = arg;

	spin_lock(&s->lock);
	if (s->n < ARRAY_SIZE(s->objs))
		s->objs[s->n] = obj;
	s->n++;
	spin_unlock(&s->lock);
}

static void count_cleanup(struct spanheap *heap, void *arg)
{
	atomic_inc(arg);
}

/*
 * Finalizers at interior offsets get their member; a live sibling keeps
 * them from running; once all are unreachable they are queued together.
 */
static void interior_finalizers_and_siblings(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	struct seen *s = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);
	atomic_t *cleaned = kunit_kzalloc(test, sizeof(*cleaned), GFP_KERNEL);
	u64 *a, *b;
	void *root = NULL;

	KUNIT_ASSERT_NOT_NULL(test, s);
	KUNIT_ASSERT_NOT_NULL(test, cleaned);
	spin_lock_init(&s->lock);
	KUNIT_ASSERT_EQ(test, spanheap_root_add(heap, &root), 0);
	spanheap_enter(heap);
	migrate_disable();
	a = tiny(test, 8);
	b = tiny(test, 8);
	migrate_enable();
	SECTION_ASSERT_PTR_EQ(test, heap, block_of(test, a), block_of(test, b));
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(heap, b, note_fin, s), 0);
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(heap, b, note_fin, s), -EEXIST);
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(heap, a, note_fin, s), 0);
	KUNIT_EXPECT_GT(test, spanheap_add_cleanup(heap, b, count_cleanup, cleaned), 0);
	root = a;		/* a keeps b */
	spanheap_exit(heap);

	spanheap_collect(heap);
	spanheap_wait_finalizers(heap);
	KUNIT_EXPECT_EQ(test, s->n, 0);
	WRITE_ONCE(root, NULL);
	spanheap_collect(heap);
	spanheap_wait_finalizers(heap);
	KUNIT_ASSERT_EQ(test, s->n, 2);		/* both, in one cycle */
	KUNIT_EXPECT_TRUE(test, (s->objs[0] == a && s->objs[1] == b) ||
			  (s->objs[0] == b && s->objs[1] == a));
	KUNIT_EXPECT_EQ(test, atomic_read(cleaned), 0);	/* after finalizers */
	spanheap_collect(heap);
	spanheap_wait_cleanups(heap);
	KUNIT_EXPECT_EQ(test, atomic_read(cleaned), 1);
	KUNIT_EXPECT_NULL(test, spanheap_object_base(heap, a, NULL));
	spanheap_root_remove(heap, &root);
}

/* A cycle forgets every CPU's tiny block: a freed block is never reused. */
static void block_forgotten_by_cycles(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	u8 *a, *b;

	spanheap_enter(heap);
	migrate_disable();
	a = tiny(test, 4);
	migrate_enable();
	spanheap_exit(heap);
	spanheap_collect(heap);		/* a's block is garbage: freed */
	spanheap_enter(heap);
	migrate_disable();
	b = tiny(test, 4);
	KUNIT_EXPECT_EQ(test, (unsigned long)b & (SHP_TINY_SIZE - 1), 0);
	KUNIT_EXPECT_PTR_EQ(test, block_of(test, b), (void *)b);
	KUNIT_EXPECT_TRUE(test, !b[0] && !b[1] && !b[2] && !b[3]);
	migrate_enable();
	spanheap_exit(heap);
	KUNIT_EXPECT_PTR_NE(test, (void *)a + 4, (void *)b);
}

/* Zero bytes and exactly 16 bytes are tiny too. */
static void edge_sizes(struct kunit *test)
{
	struct spanheap *heap = test->priv;
	void *z, *full;

	spanheap_enter(heap);
	migrate_disable();	/* tiny() ends a case pinned */
	z = tiny(test, 0);
	full = tiny(test, SHP_TINY_SIZE);
	KUNIT_EXPECT_PTR_EQ(test, block_of(test, full), full);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, z), -EINVAL);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, full), -EINVAL);
	migrate_enable();
	spanheap_exit(heap);
	KUNIT_EXPECT_EQ(test, shp_size_classes[SHP_TINY_CLASS].size, SHP_TINY_SIZE);
}

static struct kunit_case tiny_cases[] = {
	KUNIT_CASE(packs_and_aligns),
	KUNIT_CASE(interior_finalizers_and_siblings),
	KUNIT_CASE(block_forgotten_by_cycles),
	KUNIT_CASE(edge_sizes),
	{}
};

static struct kunit_suite tiny_suite = {
	.name = "spanheap_tiny",
	.init = tiny_init,
	.exit = tiny_exit,
	.test_cases = tiny_cases,
};

kunit_test_suites(&tiny_suite);
