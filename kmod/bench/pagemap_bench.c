// SPDX-License-Identifier: GPL-2.0
/*
 * pagemap_lookup: spanheap's radix tree (a private copy, pagemap_copy.c)
 * against an xarray keyed by page number, one entry per page, and a
 * maple tree with one range per span, on the same spans.
 *
 * The spans are laid out as a heap's are: NR_SPANS page runs taken from
 * the page allocator (size-class spans of order 1 to 5, large objects of
 * 1 to 32 pages) and from vmalloc() (large objects past
 * SHP_MAX_SPAN_ORDER), in a random mix.  Only base and bytes of each
 * struct shp_span are set: no heap owns them.  The bench then looks up
 * NR_LOOKUPS random interior addresses of random spans (hits) and as many
 * addresses within 32 MiB of a span but in none (misses, which the mark
 * phase's arena check lets through), in one rcu_read_lock() section per
 * pass as mark.c does.  xa_load() and mtree_load() take the RCU read lock
 * again themselves; the xarray_xas and maple_mas variants use the
 * advanced API (xas_load(), mas_walk()) under the caller's lock instead.
 * Every implementation must return the same span for every address
 * before anything is timed.
 */
#include <linux/mm.h>
#include <linux/vmalloc.h>
#include <linux/slab.h>
#include <linux/xarray.h>
#include <linux/maple_tree.h>
#include <linux/prandom.h>
#include <linux/ktime.h>
#include <linux/sched.h>
#include <linux/sort.h>
#include "internal.h"
#include "bench.h"

#define NR_SPANS	4096
#define NR_LOOKUPS	(1 << 16)
#define ROUNDS		7
#define MISS_WINDOW	(32UL << 20)

/* lib/maple_tree.c's tag on the root node's parent pointer. */
#define BENCH_MA_ROOT_PARENT	1UL

enum pm_impl { PM_SPANHEAP, PM_XARRAY, PM_XAS, PM_MAPLE, PM_MAS, PM_NR };

static const char *const pm_impl_name[PM_NR] = {
	[PM_SPANHEAP]	= "spanheap",
	[PM_XARRAY]	= "xarray",
	[PM_XAS]	= "xarray_xas",
	[PM_MAPLE]	= "maple",
	[PM_MAS]	= "maple_mas",
};

/**
 * struct pm_bench - the span set and the maps under test
 * @spans: the spans, @nspans of them
 * @nspans: spans allocated (NR_SPANS unless memory ran short)
 * @pages: pages of all spans
 * @hit: addresses inside a span
 * @miss: addresses inside no span
 * @xa: page number -> span, every page of every span
 * @mt: [base, base + bytes - 1] -> span, every span
 * @rnd: the random stream (fixed seed: the same set every run)
 */
struct pm_bench {
	struct shp_span **spans;
	unsigned int nspans;
	unsigned long pages;
	unsigned long *hit;
	unsigned long *miss;
	struct xarray xa;
	struct maple_tree mt;
	struct rnd_state rnd;
};

static unsigned long pm_sink;

static u32 pm_rand(struct pm_bench *b, u32 n)
{
	return prandom_u32_state(&b->rnd) % n;
}

static bool pm_vmalloced(unsigned long bytes)
{
	return bytes > (PAGE_SIZE << SHP_MAX_SPAN_ORDER);
}

/* Bytes of the next span: the mix of a heap of small and large objects. */
static unsigned long pm_span_bytes(struct pm_bench *b)
{
	static const u8 small_order[20] = {
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 3, 4, 5
	};
	u32 kind = pm_rand(b, 32);

	if (kind < 24)			/* a size-class span */
		return PAGE_SIZE << small_order[pm_rand(b, 20)];
	if (kind < 31)			/* a large object from the page allocator */
		return PAGE_SIZE * (1 + pm_rand(b, 32));
	/* a large object past SHP_MAX_SPAN_ORDER: vmalloc() */
	return PAGE_SIZE * ((1UL << SHP_MAX_SPAN_ORDER) + 1 + pm_rand(b, 64));
}

static void pm_span_free(struct shp_span *s)
{
	if (pm_vmalloced(s->bytes))
		vfree((void *)s->base);
	else
		free_pages(s->base, get_order(s->bytes));
	kfree(s);
}

static struct shp_span *pm_span_alloc(unsigned long bytes)
{
	struct shp_span *s = kzalloc(sizeof(*s), GFP_KERNEL);
	void *base;

	if (!s)
		return NULL;
	if (pm_vmalloced(bytes)) {
		base = vmalloc(bytes);
	} else {
		struct page *page = alloc_pages(GFP_KERNEL | __GFP_NOWARN |
						__GFP_NORETRY, get_order(bytes));

		base = page ? page_address(page) : NULL;
	}
	if (!base) {
		kfree(s);
		return NULL;
	}
	s->base = (unsigned long)base;
	s->bytes = bytes;
	return s;
}

/* Publish @s in all three maps. */
static int pm_insert(struct pm_bench *b, struct shp_span *s)
{
	unsigned long pfn = s->base >> PAGE_SHIFT;
	unsigned long end = (s->base + s->bytes) >> PAGE_SHIFT;
	int err;

	err = shp_pagemap_insert(s);
	if (err)
		return err;
	for (; pfn < end; pfn++) {
		err = xa_err(xa_store(&b->xa, pfn, s, GFP_KERNEL));
		if (err)
			return err;
	}
	return mtree_store_range(&b->mt, s->base, s->base + s->bytes - 1, s,
				 GFP_KERNEL);
}

static void pm_teardown(struct pm_bench *b)
{
	unsigned int i;

	/*
	 * No lookup runs any more: the pagemap goes whole, as at module
	 * exit, and the maple tree leaves RCU mode first, so that its nodes
	 * are freed at once (6.1.192's RCU-mode destroy, mt_free_walk(),
	 * oopsed on a NULL node in one run of four).
	 */
	xa_destroy(&b->xa);
	mt_clear_in_rcu(&b->mt);
	mtree_destroy(&b->mt);
	synchronize_rcu();
	for (i = 0; i < b->nspans; i++)
		pm_span_free(b->spans[i]);
	shp_pagemap_teardown();
	kvfree(b->spans);
	kvfree(b->hit);
	kvfree(b->miss);
}

static __always_inline void *pm_lookup(struct pm_bench *b, enum pm_impl impl,
				       unsigned long a)
{
	switch (impl) {
	case PM_SPANHEAP:
		return shp_pagemap_lookup((void *)a);
	case PM_XARRAY:
		return xa_load(&b->xa, a >> PAGE_SHIFT);
	case PM_XAS: {
		XA_STATE(xas, &b->xa, a >> PAGE_SHIFT);
		void *e;

		do {
			e = xas_load(&xas);
		} while (xas_retry(&xas, e));
		return e;
	}
	case PM_MAPLE:
		return mtree_load(&b->mt, a);
	case PM_MAS: {
		MA_STATE(mas, &b->mt, a, a);

		return mas_walk(&mas);
	}
	default:
		return NULL;
	}
}

/* One pass over @addr, in ns; @impl is a constant once inlined. */
static __always_inline u64 pm_pass_impl(struct pm_bench *b, enum pm_impl impl,
					const unsigned long *addr)
{
	unsigned long acc = 0;
	u64 t0 = ktime_get_ns();
	unsigned int i;

	rcu_read_lock();
	for (i = 0; i < NR_LOOKUPS; i++)
		acc += (unsigned long)pm_lookup(b, impl, addr[i]);
	rcu_read_unlock();
	t0 = ktime_get_ns() - t0;
	WRITE_ONCE(pm_sink, acc);
	return t0;
}

static noinline u64 pm_pass(struct pm_bench *b, enum pm_impl impl,
			    const unsigned long *addr)
{
	switch (impl) {
	case PM_SPANHEAP:
		return pm_pass_impl(b, PM_SPANHEAP, addr);
	case PM_XARRAY:
		return pm_pass_impl(b, PM_XARRAY, addr);
	case PM_XAS:
		return pm_pass_impl(b, PM_XAS, addr);
	case PM_MAPLE:
		return pm_pass_impl(b, PM_MAPLE, addr);
	case PM_MAS:
		return pm_pass_impl(b, PM_MAS, addr);
	default:
		return 0;
	}
}

static int pm_cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/* Bytes of the xarray's nodes under @entry (a node or an entry). */
static unsigned long pm_xa_bytes(const struct xarray *xa, void *entry)
{
	struct xa_node *node;
	unsigned long bytes;
	unsigned int i;

	if (!xa_is_node(entry))
		return 0;
	node = xa_to_node(entry);
	bytes = sizeof(*node);
	if (node->shift)
		for (i = 0; i < XA_CHUNK_SIZE; i++)
			bytes += pm_xa_bytes(xa, xa_entry(xa, node, i));
	return bytes;
}

/*
 * Bytes of the maple tree's nodes: the distinct leaves that hold a span
 * and their ancestors, found through each leaf's parent pointer (sorted
 * and counted once each).
 */
static unsigned long pm_mt_bytes(struct pm_bench *b)
{
	MA_STATE(mas, &b->mt, 0, 0);
	unsigned int height = mt_height(&b->mt), max = b->nspans * height;
	unsigned long *nodes, last = 0;
	unsigned int n = 0, i, distinct = 0;
	void *entry;

	nodes = kvmalloc_array(max, sizeof(*nodes), GFP_KERNEL);
	if (!nodes)
		return 0;
	rcu_read_lock();
	mas_for_each(&mas, entry, ULONG_MAX) {
		struct maple_node *node;

		node = (void *)((unsigned long)mas.node & ~MAPLE_NODE_MASK);
		while (n < max) {
			unsigned long parent = (unsigned long)node->parent;

			nodes[n++] = (unsigned long)node;
			if (parent & BENCH_MA_ROOT_PARENT)
				break;
			node = (void *)(parent & ~MAPLE_NODE_MASK);
		}
	}
	rcu_read_unlock();
	sort(nodes, n, sizeof(*nodes), pm_cmp_ulong, NULL);
	for (i = 0; i < n; i++) {
		if (nodes[i] != last)
			distinct++;
		last = nodes[i];
	}
	kvfree(nodes);
	return distinct * sizeof(struct maple_node);
}

static int pm_build(struct pm_bench *b)
{
	unsigned int i;
	int err;

	for (i = 0; i < NR_SPANS; i++) {
		struct shp_span *s = pm_span_alloc(pm_span_bytes(b));

		if (!s)
			continue;	/* short of memory: a smaller set */
		b->spans[b->nspans++] = s;
		b->pages += s->bytes >> PAGE_SHIFT;
		err = pm_insert(b, s);
		if (err)
			return err;
	}
	if (b->nspans < NR_SPANS / 2)
		return -ENOMEM;
	for (i = 0; i < NR_LOOKUPS; i++) {
		struct shp_span *s = b->spans[pm_rand(b, b->nspans)];

		b->hit[i] = s->base + pm_rand(b, s->bytes);
	}
	for (i = 0; i < NR_LOOKUPS; ) {
		struct shp_span *s = b->spans[pm_rand(b, b->nspans)];
		unsigned long a = s->base - MISS_WINDOW + pm_rand(b, 2 * MISS_WINDOW);

		rcu_read_lock();
		if (!shp_pagemap_lookup((void *)a))
			b->miss[i++] = a;
		rcu_read_unlock();
	}
	return 0;
}

/* Every implementation finds the same span as a search of @spans. */
static int pm_check(struct pm_bench *b)
{
	enum pm_impl impl;
	unsigned int i;

	rcu_read_lock();
	for (i = 0; i < NR_LOOKUPS; i++) {
		for (impl = 0; impl < PM_NR; impl++) {
			struct shp_span *s = pm_lookup(b, impl, b->hit[i]);

			if (!s || b->hit[i] - s->base >= s->bytes ||
			    pm_lookup(b, impl, b->miss[i]))
				goto bad;
		}
	}
	rcu_read_unlock();
	return 0;
bad:
	rcu_read_unlock();
	pr_err("SPANHEAP-FAIL pagemap_lookup: %s wrong for %lx or %lx\n",
	       pm_impl_name[impl], b->hit[i], b->miss[i]);
	return -EINVAL;
}

/* Best of ROUNDS, in hundredths of a nanosecond per lookup. */
static void pm_report(const char *bench, enum pm_impl impl, u64 best_ns)
{
	u64 centi = best_ns * 100 / NR_LOOKUPS;

	pr_info("BENCH %s %s %llu.%02llu ns/op\n", bench, pm_impl_name[impl],
		centi / 100, centi % 100);
}

static void pm_time(struct pm_bench *b)
{
	u64 best_hit[PM_NR], best_miss[PM_NR];
	enum pm_impl impl;
	unsigned int r;

	for (impl = 0; impl < PM_NR; impl++) {
		best_hit[impl] = U64_MAX;
		best_miss[impl] = U64_MAX;
		pm_pass(b, impl, b->hit);	/* warm up */
		pm_pass(b, impl, b->miss);
	}
	for (r = 0; r < ROUNDS; r++) {
		for (impl = 0; impl < PM_NR; impl++) {
			best_hit[impl] = min(best_hit[impl],
					     pm_pass(b, impl, b->hit));
			best_miss[impl] = min(best_miss[impl],
					      pm_pass(b, impl, b->miss));
		}
		cond_resched();
	}
	for (impl = 0; impl < PM_NR; impl++)
		pm_report("pagemap_lookup", impl, best_hit[impl]);
	for (impl = 0; impl < PM_NR; impl++)
		pm_report("pagemap_miss", impl, best_miss[impl]);
}

static void pm_report_memory(struct pm_bench *b)
{
	static const char *const impl[] = { "spanheap", "xarray", "maple" };
	unsigned long bytes[ARRAY_SIZE(impl)];
	unsigned int i;

	bytes[0] = bench_pagemap_bytes();
	rcu_read_lock();
	bytes[1] = pm_xa_bytes(&b->xa, xa_head(&b->xa));
	rcu_read_unlock();
	bytes[2] = pm_mt_bytes(b);

	pr_info("pagemap_lookup: %u spans, %lu pages, maple tree height %u\n",
		b->nspans, b->pages, mt_height(&b->mt));
	for (i = 0; i < ARRAY_SIZE(bytes); i++)
		pr_info("BENCH pagemap_memory %s %lu B/span\n", impl[i],
			bytes[i] / b->nspans);
}

/**
 * spanheap_bench_pagemap() - run the pagemap_lookup benchmark
 *
 * Prints "BENCH pagemap_lookup <impl> <ns> ns/op" for hits,
 * "BENCH pagemap_miss ..." for misses and "BENCH pagemap_memory <impl>
 * <bytes> B/span" for what each map holds for the set.
 *
 * Context: process context, may sleep; module init.
 * Return: 0, -ENOMEM, or -EINVAL if the maps disagree.
 */
int spanheap_bench_pagemap(void)
{
	struct pm_bench *b = kzalloc(sizeof(*b), GFP_KERNEL);
	int err = -ENOMEM;

	if (!b)
		return -ENOMEM;
	prandom_seed_state(&b->rnd, 8);
	xa_init(&b->xa);
	mt_init_flags(&b->mt, MT_FLAGS_USE_RCU);
	b->spans = kvmalloc_array(NR_SPANS, sizeof(*b->spans), GFP_KERNEL);
	b->hit = kvmalloc_array(NR_LOOKUPS, sizeof(*b->hit), GFP_KERNEL);
	b->miss = kvmalloc_array(NR_LOOKUPS, sizeof(*b->miss), GFP_KERNEL);
	if (b->spans && b->hit && b->miss)
		err = pm_build(b);
	if (!err)
		err = pm_check(b);
	if (!err) {
		pm_report_memory(b);
		migrate_disable();
		pm_time(b);
		migrate_enable();
	}
	pm_teardown(b);
	kfree(b);
	return err;
}
