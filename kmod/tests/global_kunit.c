// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: module-wide state.  Each heap's debugfs files, opened by path
 * (debugfs mounted at /sys/kernel/debug) and read as a reader would;
 * and the teardown the module's exit does (debugfs root, workqueue,
 * record caches, pagemap), after which heaps must work as on a fresh
 * load.
 *
 * The teardown case needs no other heap to exist: the module's suites
 * run one case at a time before its init (and the userspace runner
 * likewise), so none does.
 */
#include <kunit/test.h>
#include <linux/debugfs.h>	/* and filp_open() */
#include <linux/seq_file.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/err.h>
#include <linux/string.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/workqueue.h>
#ifdef __KERNEL__
#include <linux/uio.h>
#endif
#include "../internal.h"
#include "test_heap.h"

#define DBG_BUF	16384

#ifdef __KERNEL__
/*
 * debugfs show files are seq_files with ->read but no ->read_iter, which
 * kernel_read() refuses: read through seq_read_iter() into a kvec.
 */
static ssize_t read_some(struct file *f, char *buf, size_t len, loff_t *pos)
{
	struct kvec kv = { .iov_base = buf, .iov_len = len };
	struct iov_iter iter;
	struct kiocb kiocb;
	ssize_t n;

	init_sync_kiocb(&kiocb, f);
	kiocb.ki_pos = *pos;
	iov_iter_kvec(&iter, READ, &kv, 1, len);
	n = seq_read_iter(&kiocb, &iter);
	*pos = kiocb.ki_pos;
	return n;
}
#else
/* The shim's debugfs (linux/debugfs.h) renders show files for kernel_read(). */
static ssize_t read_some(struct file *f, char *buf, size_t len, loff_t *pos)
{
	return kernel_read(f, buf, len, pos);
}
#endif

/* Reads /sys/kernel/debug/spanheap/<heap>/<file> into @buf, NUL-terminated. */
static ssize_t read_heap_file(struct spanheap *heap, const char *file,
			      char *buf, size_t size)
{
	char path[128];
	struct file *f;
	loff_t pos = 0;
	ssize_t n = 0, total = 0;

	snprintf(path, sizeof(path), "/sys/kernel/debug/spanheap/%s-%u/%s",
		 heap->name, heap->id, file);
	f = filp_open(path, O_RDONLY, 0);
	if (IS_ERR(f))
		return PTR_ERR(f);
	while (total < size - 1) {
		n = read_some(f, buf + total, size - 1 - total, &pos);
		if (n <= 0)
			break;
		total += n;
	}
	filp_close(f, NULL);
	buf[total] = 0;
	return n < 0 ? n : total;
}

/* The value of "<name> <value>" on a line of @buf, or -1 if absent. */
static long long field(const char *buf, const char *name)
{
	char key[48];
	const char *p;
	long long v;

	snprintf(key, sizeof(key), "\n%s ", name);
	p = strstr(buf, key);
	if (!p || sscanf(p + strlen(key), "%lld", &v) != 1)
		return -1;
	return v;
}

static unsigned int count_lines(const char *s)
{
	unsigned int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void count_fin(struct spanheap *heap, void *obj, void *arg)
{
	atomic_inc(arg);
}

/* A heap the suite's exit destroys should the case stop early. */
static struct spanheap *make_heap(struct kunit *test, const char *name)
{
	struct spanheap *heap = spanheap_create(name, 0);

	KUNIT_ASSERT_FALSE(test, IS_ERR(heap));
	spanheap_set_gc_percent(heap, -1);
	test->priv = heap;
	return heap;
}

static void drop_heap(struct kunit *test)
{
	spanheap_destroy(test->priv);
	test->priv = NULL;
}

static void global_exit(struct kunit *test)
{
	spanheap_destroy(test->priv);	/* NULL is fine */
}

/* The stats file agrees with spanheap_read_stats(), line by line. */
static void debugfs_stats_file(struct kunit *test)
{
	struct spanheap_stats *st = kunit_kzalloc(test, sizeof(*st), GFP_KERNEL);
	char *buf = kunit_kzalloc(test, DBG_BUF, GFP_KERNEL), line[64];
	struct spanheap *heap;
	unsigned int class, classes = 0;
	void *a, *big;
	ssize_t n;

	KUNIT_ASSERT_NOT_NULL(test, st);
	KUNIT_ASSERT_NOT_NULL(test, buf);
	heap = make_heap(test, "kunit-dbgfs");
	spanheap_set_limit(heap, 64 << 20);
	spanheap_enter(heap);
	a = spanheap_alloc(heap, 100, 0);
	big = spanheap_alloc(heap, 40000, SPANHEAP_NOSCAN);
	KUNIT_EXPECT_NOT_NULL(test, a);
	KUNIT_EXPECT_NOT_NULL(test, big);
	KUNIT_EXPECT_EQ(test, spanheap_pin(heap, a), 0);
	KUNIT_EXPECT_EQ(test, spanheap_pin(heap, big), 0);
	KUNIT_EXPECT_EQ(test, spanheap_free(heap, (char *)a + 8), -EINVAL);
	spanheap_exit(heap);
	spanheap_collect(heap);

	n = read_heap_file(heap, "stats", buf, DBG_BUF);
	spanheap_read_stats(heap, st);
	if (n == -ENOENT)
		kunit_skip(test, "no debugfs at /sys/kernel/debug");
	KUNIT_ASSERT_GT(test, n, 0);
	snprintf(line, sizeof(line), "heap kunit-dbgfs-%u\n", heap->id);
	KUNIT_EXPECT_EQ(test, strncmp(buf, line, strlen(line)), 0);
	KUNIT_EXPECT_EQ(test, field(buf, "bytes_in_use"), st->bytes_in_use);
	KUNIT_EXPECT_EQ(test, field(buf, "bytes_reserved"), st->bytes_reserved);
	KUNIT_EXPECT_EQ(test, field(buf, "bytes_meta"), st->bytes_meta);
	KUNIT_EXPECT_EQ(test, field(buf, "limit"), 64 << 20);
	/* The large object's arena, the rest of it idle. */
	KUNIT_EXPECT_EQ(test, field(buf, "arenas"), 1);
	KUNIT_EXPECT_EQ(test, field(buf, "bytes_idle"),
			SHP_ARENA_BYTES - PAGE_ALIGN(40000));
	KUNIT_EXPECT_EQ(test, field(buf, "bytes_scavenged"), 0);
	KUNIT_EXPECT_EQ(test, field(buf, "objects_in_use"), 2);
	KUNIT_EXPECT_EQ(test, field(buf, "spans"), 2);
	KUNIT_EXPECT_EQ(test, field(buf, "allocs"), 2);
	KUNIT_EXPECT_EQ(test, field(buf, "frees"), 0);
	KUNIT_EXPECT_EQ(test, field(buf, "bad_frees"), 1);
	KUNIT_EXPECT_EQ(test, field(buf, "collections"), 1);
	KUNIT_EXPECT_EQ(test, field(buf, "live_bytes"), st->live_bytes);
	KUNIT_EXPECT_EQ(test, field(buf, "next_gc"), st->next_gc);
	KUNIT_EXPECT_EQ(test, field(buf, "gc_percent"), -1);
	KUNIT_EXPECT_EQ(test, field(buf, "finalizers_queued"), 0);
	KUNIT_EXPECT_EQ(test, field(buf, "finalizers_executed"), 0);
	KUNIT_EXPECT_EQ(test, field(buf, "finalizers_pending"), 0);
	KUNIT_EXPECT_EQ(test, field(buf, "specials_finalizer"), 0);
	KUNIT_EXPECT_EQ(test, field(buf, "specials_pin"), 2);
	/* One line per class holding spans or objects, after the header. */
	KUNIT_ASSERT_NOT_NULL(test, strstr(buf, "\nclass size span_bytes spans objects\n"));
	for (class = 0; class < SHP_NR_CLASSES; class++) {
		struct spanheap_class_stats *cs = &st->classes[class];

		if (!cs->spans && !cs->objects)
			continue;
		classes++;
		snprintf(line, sizeof(line), "\n%5u %5u %6u %5llu %7llu\n", class,
			 cs->size, cs->span_bytes, cs->spans, cs->objects);
		KUNIT_EXPECT_NOT_NULL(test, strstr(buf, line));
	}
	KUNIT_EXPECT_EQ(test, classes, 2);
	KUNIT_EXPECT_EQ(test, count_lines(strstr(buf, "\nclass size") + 1), classes + 1);

	spanheap_enter(heap);
	KUNIT_EXPECT_EQ(test, spanheap_unpin(heap, a), 0);
	KUNIT_EXPECT_EQ(test, spanheap_unpin(heap, big), 0);
	spanheap_exit(heap);
}

/*
 * The finalizer_cycles file: one line per finalizable object on a cycle,
 * then the count.  The heap also holds a full span, a large object and
 * a NOSCAN object with a finalizer, which the search passes over.
 */
static void debugfs_finalizer_cycles_file(struct kunit *test)
{
	unsigned int cl = shp_size_to_class(4096), i;
	char *buf = kunit_kzalloc(test, DBG_BUF, GFP_KERNEL);
	atomic_t *ran = kunit_kzalloc(test, sizeof(*ran), GFP_KERNEL);
	void **a, **b, *full[8], *big, *data;
	struct spanheap *heap;
	ssize_t n;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_ASSERT_NOT_NULL(test, ran);
	KUNIT_ASSERT_LE(test, shp_size_classes[cl].nelems, ARRAY_SIZE(full));
	heap = make_heap(test, "kunit-dbgcyc");
	n = read_heap_file(heap, "finalizer_cycles", buf, DBG_BUF);
	if (n == -ENOENT)
		kunit_skip(test, "no debugfs at /sys/kernel/debug");
	KUNIT_EXPECT_EQ(test, n, strlen("0 finalizable objects on cycles\n"));
	KUNIT_EXPECT_EQ(test, strcmp(buf, "0 finalizable objects on cycles\n"), 0);

	spanheap_enter(heap);
	a = spanheap_alloc(heap, 16, 0);
	b = spanheap_alloc(heap, 16, 0);
	SECTION_ASSERT_NOT_NULL(test, heap, a);
	SECTION_ASSERT_NOT_NULL(test, heap, b);
	*a = b;
	*b = a;
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(heap, a, count_fin, ran), 0);
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(heap, b, count_fin, ran), 0);
	/* Pointing at a and b from NOSCAN memory makes no cycle. */
	data = spanheap_alloc(heap, 16, SPANHEAP_NOSCAN);
	SECTION_ASSERT_NOT_NULL(test, heap, data);
	*(void **)data = data;
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(heap, data, count_fin, ran), 0);
	migrate_disable();	/* one CPU cache: one span, full */
	for (i = 0; i < shp_size_classes[cl].nelems; i++) {
		full[i] = spanheap_alloc(heap, 4096, 0);
		PINNED_ASSERT_NOT_NULL(test, heap, full[i]);
		*(void **)full[i] = a;
	}
	migrate_enable();
	big = spanheap_alloc(heap, 40000, 0);
	SECTION_ASSERT_NOT_NULL(test, heap, big);
	*(void **)big = b;
	spanheap_exit(heap);

	n = read_heap_file(heap, "finalizer_cycles", buf, DBG_BUF);
	KUNIT_ASSERT_GT(test, n, 0);
	KUNIT_EXPECT_EQ(test, count_lines(buf), 3);
	KUNIT_EXPECT_NOT_NULL(test, strstr(buf, "\n2 finalizable objects on cycles\n"));
	KUNIT_EXPECT_EQ(test, spanheap_finalizer_cycles(heap, NULL, NULL), 2);
	/* The diagnostic changes nothing: only the NOSCAN object is finalized. */
	spanheap_collect(heap);
	spanheap_wait_finalizers(heap);
	KUNIT_EXPECT_EQ(test, atomic_read(ran), 1);
}

/*
 * The why file: the id written (set directly here, as its write does),
 * the path read back in hashed ids; a finalizer cycle; an unknown id.
 */
static void debugfs_why_file(struct kunit *test)
{
	char *buf = kunit_kzalloc(test, DBG_BUF, GFP_KERNEL);
	char *want = kunit_kzalloc(test, DBG_BUF, GFP_KERNEL);
	static void *slot;
	void **a, **b, **c, **d;
	struct spanheap *heap;
	ssize_t n;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_ASSERT_NOT_NULL(test, want);
	heap = make_heap(test, "kunit-dbgwhy");
	n = read_heap_file(heap, "why", buf, DBG_BUF);
	if (n == -ENOENT)
		kunit_skip(test, "no debugfs at /sys/kernel/debug");
	KUNIT_EXPECT_EQ(test, strcmp(buf, "write an object's id (as finalizer_cycles prints it) first\n"), 0);

	spanheap_enter(heap);
	a = spanheap_alloc(heap, 16, 0);
	b = spanheap_alloc(heap, 16, 0);
	c = spanheap_alloc(heap, 32, 0);
	d = spanheap_alloc(heap, 16, 0);
	SECTION_ASSERT_NOT_NULL(test, heap, a);
	SECTION_ASSERT_NOT_NULL(test, heap, b);
	SECTION_ASSERT_NOT_NULL(test, heap, c);
	SECTION_ASSERT_NOT_NULL(test, heap, d);
	*a = b;
	*b = a;
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(heap, a, count_fin, NULL), 0);
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(heap, b, count_fin, NULL), 0);
	c[2] = d;
	slot = c;
	spanheap_exit(heap);
	KUNIT_ASSERT_EQ(test, spanheap_root_add(heap, &slot), 0);

	snprintf(heap->debugfs_why, sizeof(heap->debugfs_why), "%p", d);
	n = read_heap_file(heap, "why", buf, DBG_BUF);
	KUNIT_ASSERT_GT(test, n, 0);
	snprintf(want, DBG_BUF, "%p: %p (root slot 0) -> %p+16 -> %p\n", d, c, c, d);
	KUNIT_EXPECT_EQ_MSG(test, strcmp(buf, want), 0, "read %s, want %s", buf, want);

	snprintf(heap->debugfs_why, sizeof(heap->debugfs_why), "%p", a);
	n = read_heap_file(heap, "why", buf, DBG_BUF);
	KUNIT_ASSERT_GT(test, n, 0);
	snprintf(want, DBG_BUF,
		 "%p: never finalized, on a cycle through its own finalizer: %p+0 -> %p+0 -> %p\n",
		 a, a, b, a);
	KUNIT_EXPECT_EQ_MSG(test, strcmp(buf, want), 0, "read %s, want %s", buf, want);

	strscpy(heap->debugfs_why, "no-such-id", sizeof(heap->debugfs_why));
	n = read_heap_file(heap, "why", buf, DBG_BUF);
	KUNIT_EXPECT_EQ_MSG(test, strcmp(buf, "no-such-id: error -2\n"), 0, "read %s", buf);
	KUNIT_EXPECT_EQ(test, spanheap_root_remove(heap, &slot), 0);
}

/*
 * What module exit tears down (debugfs root, workqueue, record caches,
 * pagemap nodes) is made again on demand: heaps, lookups, finalizers and
 * debugfs work afterwards as after a fresh load.
 */
static void module_state_rebuilt_after_teardown(struct kunit *test)
{
	char *buf = kunit_kzalloc(test, DBG_BUF, GFP_KERNEL);
	atomic_t *ran = kunit_kzalloc(test, sizeof(*ran), GFP_KERNEL);
	struct spanheap *heap;
	void *old, *obj;
	ssize_t n;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_ASSERT_NOT_NULL(test, ran);
	heap = make_heap(test, "kunit-glob");
	spanheap_enter(heap);
	old = spanheap_alloc(heap, 64, 0);
	spanheap_exit(heap);
	KUNIT_ASSERT_NOT_NULL(test, old);
	drop_heap(test);

	/* As spanheap_module_exit() does, minus the device. */
	shp_debugfs_exit();
	shp_global_exit();
	rcu_barrier();
	shp_pagemap_teardown();
	KUNIT_EXPECT_NULL(test, shp_wq);
	rcu_read_lock();
	KUNIT_EXPECT_NULL(test, shp_pagemap_lookup(old));
	rcu_read_unlock();
	shp_global_exit();	/* twice is harmless */
	shp_debugfs_init();

	heap = make_heap(test, "kunit-glob");
	KUNIT_EXPECT_NOT_NULL(test, shp_wq);
	spanheap_enter(heap);
	obj = spanheap_alloc(heap, 64, 0);
	SECTION_ASSERT_NOT_NULL(test, heap, obj);
	KUNIT_EXPECT_PTR_EQ(test, spanheap_object_base(heap, (char *)obj + 63, NULL), obj);
	KUNIT_EXPECT_EQ(test, spanheap_set_finalizer(heap, obj, count_fin, ran), 0);
	spanheap_exit(heap);
	spanheap_collect(heap);
	spanheap_wait_finalizers(heap);
	KUNIT_EXPECT_EQ(test, atomic_read(ran), 1);
	n = read_heap_file(heap, "stats", buf, DBG_BUF);
	KUNIT_EXPECT_TRUE(test, n > 0 || n == -ENOENT);
	if (n > 0)
		KUNIT_EXPECT_EQ(test, field(buf, "finalizers_executed"), 1);
}

static struct kunit_case global_cases[] = {
	KUNIT_CASE(debugfs_stats_file),
	KUNIT_CASE(debugfs_finalizer_cycles_file),
	KUNIT_CASE(debugfs_why_file),
	KUNIT_CASE(module_state_rebuilt_after_teardown),
	{}
};

static struct kunit_suite global_suite = {
	.name = "spanheap_global",
	.exit = global_exit,
	.test_cases = global_cases,
};

kunit_test_suites(&global_suite);
