// SPDX-License-Identifier: GPL-2.0
/* KUnit: invariants of the size-class table and its lookup tables. */
#include <kunit/test.h>
#include <linux/mm.h>
#include "../internal.h"

static void sizes_ascend_and_align(struct kunit *test)
{
	unsigned int c;

	KUNIT_EXPECT_EQ(test, shp_size_classes[0].size, 0);
	KUNIT_EXPECT_EQ(test, shp_size_classes[1].size, 8);
	KUNIT_EXPECT_EQ(test, shp_size_classes[SHP_NR_CLASSES - 1].size,
			SPANHEAP_MAX_SMALL_SIZE);
	for (c = 1; c < SHP_NR_CLASSES; c++) {
		u32 size = shp_size_classes[c].size;

		KUNIT_EXPECT_EQ(test, size % 8, 0);
		if (c > 1)
			KUNIT_EXPECT_GT(test, size, shp_size_classes[c - 1].size);
		/* Power-of-two sizes are naturally aligned in a page-aligned span. */
		if (!(size & (size - 1)) && size <= PAGE_SIZE)
			KUNIT_EXPECT_EQ(test, (PAGE_SIZE << shp_size_classes[c].order) % size, 0);
	}
}

static void span_waste_is_bounded(struct kunit *test)
{
	unsigned int c;

	for (c = 1; c < SHP_NR_CLASSES; c++) {
		const struct shp_size_class *sc = &shp_size_classes[c];
		unsigned long span = PAGE_SIZE << sc->order;

		KUNIT_EXPECT_GE(test, sc->order, 1);
		KUNIT_EXPECT_LE(test, sc->order, SHP_MAX_SPAN_ORDER);
		KUNIT_EXPECT_EQ(test, sc->nelems, span / sc->size);
		KUNIT_EXPECT_GE(test, sc->nelems, 1);
		KUNIT_EXPECT_LE(test, sc->nelems, SHP_MAX_OBJS_PER_SPAN);
		/* Tail waste at most 1/8 of the span. */
		KUNIT_EXPECT_LE(test, (span - sc->nelems * sc->size) * 8, span);
	}
}

static void size_lookup_is_tight(struct kunit *test)
{
	size_t size;

	for (size = 1; size <= SPANHEAP_MAX_SMALL_SIZE; size++) {
		unsigned int c = shp_size_to_class(size);

		if (c < 1 || c >= SHP_NR_CLASSES ||
		    shp_size_classes[c].size < size ||
		    (c > 1 && shp_size_classes[c - 1].size >= size)) {
			KUNIT_FAIL(test, "size %zu maps to class %u", size, c);
			return;
		}
	}
	/* spanheap_alloc(0) takes the fast path: it relies on class 1. */
	KUNIT_EXPECT_EQ(test, shp_size_to_class(0), 1U);
	KUNIT_EXPECT_EQ(test, spanheap_class_size(0), 8);
	KUNIT_EXPECT_EQ(test, spanheap_class_size(33), 48);
	KUNIT_EXPECT_EQ(test, spanheap_class_size(SPANHEAP_MAX_SMALL_SIZE + 1),
			SPANHEAP_MAX_SMALL_SIZE + PAGE_SIZE);
}

/*
 * The reciprocal multiply must equal division for every offset in a span,
 * and its low half must tell object starts.
 */
static void divmul_is_exact(struct kunit *test)
{
	unsigned int c;

	for (c = 1; c < SHP_NR_CLASSES; c++) {
		const struct shp_size_class *sc = &shp_size_classes[c];
		unsigned long span = PAGE_SIZE << sc->order, off;

		for (off = 0; off < span; off++) {
			u64 prod = (u64)off * sc->divmul;

			if (prod >> 32 != off / sc->size ||
			    ((u32)prod < sc->divmul) != !(off % sc->size)) {
				KUNIT_FAIL(test, "class %u offset %lu", c, off);
				return;
			}
		}
	}
}

static struct kunit_case sizeclass_cases[] = {
	KUNIT_CASE(sizes_ascend_and_align),
	KUNIT_CASE(span_waste_is_bounded),
	KUNIT_CASE(size_lookup_is_tight),
	KUNIT_CASE(divmul_is_exact),
	{}
};

static struct kunit_suite sizeclass_suite = {
	.name = "spanheap_sizeclass",
	.test_cases = sizeclass_cases,
};

kunit_test_suites(&sizeclass_suite);
