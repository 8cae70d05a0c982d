// SPDX-License-Identifier: GPL-2.0
/*
 * Why is this alive?  The path by which the collector reaches an object.
 *
 * A breadth-first walk of the heap from the roots, with the world
 * stopped, by the mark's kinds of root (mark.c): root slots, the
 * owner's roots, queued finalizers and cleanups, pins, cleanup
 * arguments; then, for what those leave unreached, the referents of
 * every object with a finalizer (Go's "finalizer referents are
 * marked").  The mark takes the last three span by span in one pass;
 * the set it marks is the same.  Each root kind is walked to the end
 * before the next is added: the path names the first kind that keeps
 * the target (a root slot that keeps it for good, not a queued
 * finalizer about to drain).
 * Every object reached is a node remembering the node it was reached
 * from and the offset of the word followed, so the first time the
 * target is reached, the parents spell a shortest path of that kind.
 *
 * An object with a finalizer that is reached only through finalizer
 * referents, and whose own referents reach it, is on a cycle through
 * itself: it is never finalized (the X <-> Y of collector.rst).  That
 * cycle is what is reported for it (SPANHEAP_ROOT_FIN_CYCLE), found by a
 * second walk from its referents alone.
 *
 * The spans' mark bits are the visited set: they mean nothing between
 * cycles (the next one resets them), as for shp_mark_find_cycles().  The
 * nodes are allocated per call, a few per allocated object and at most
 * shp_why_max_nodes; nothing else is allocated or changed, so a failed
 * call leaves the heap as it was.
 *
 * Context for all of this file: heap->sections held for writing.
 */
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include "internal.h"

/* Most nodes one search may use: 16 bytes each. */
unsigned int shp_why_max_nodes = 1U << 21;

/* A node's parent when it is a root: the kind in the low bits. */
#define WHY_ROOT	0x80000000U

/**
 * struct shp_why_node - an object the walk reached
 * @base: its start
 * @parent: index of the node it was reached from, or WHY_ROOT | kind
 * @off: offset in the parent of the word followed; for a root, its index
 *	(root slot, owner's root report)
 */
struct shp_why_node {
	unsigned long base;
	u32 parent;
	u32 off;
};

/**
 * struct shp_why - one search
 * @heap: heap searched
 * @n: nodes; reached objects in breadth-first order (the queue itself)
 * @nn: entries of @n in use
 * @cap: room in @n
 * @target: the object searched for
 * @found: node that reached it, or U32_MAX
 * @kind: kind of the roots being added (spanheap_mark_root() calls)
 * @index: index of the next root of @kind
 * @next: first node not yet scanned (why_drain() goes on from there)
 * @full: a node did not fit
 */
struct shp_why {
	struct spanheap *heap;
	struct shp_why_node *n;
	u32 nn, cap;
	unsigned long target;
	u32 found;
	u8 kind;
	u32 index;
	u32 next;
	bool full;
};

/*
 * The allocated object of the heap @v points into, as mark_find() does
 * (interior pointers count), with its span in *@sp; or 0.
 */
static unsigned long why_find(struct spanheap *heap, unsigned long v,
			      struct shp_span **sp)
{
	struct shp_span *s;
	unsigned long off;
	unsigned int idx;

	if (v - heap->arena_lo >= heap->arena_hi - heap->arena_lo)
		return 0;
	s = shp_pagemap_lookup((void *)v);
	if (!s || s->heap != heap)
		return 0;
	off = v - s->base;
	if (off >= s->nelems * s->elemsize)
		return 0;
	idx = s->divmul ? ((u64)off * s->divmul) >> 32 : 0;
	if (!test_bit(idx, shp_alloc_bits(s)))
		return 0;
	*sp = s;
	return s->base + idx * s->elemsize;
}

/* Add a node for @base, unless it is full. */
static void why_add(struct shp_why *w, unsigned long base, u32 parent, u32 off)
{
	if (w->nn == w->cap) {
		w->full = true;
		return;
	}
	w->n[w->nn].base = base;
	w->n[w->nn].parent = parent;
	w->n[w->nn].off = off;
	if (base == w->target && w->found == U32_MAX)
		w->found = w->nn;
	w->nn++;
}

/* The word @v was found at @off of node @parent (or is a root): reach it. */
static void why_reach(struct shp_why *w, unsigned long v, u32 parent, u32 off)
{
	struct shp_span *s;
	unsigned long base = why_find(w->heap, v, &s);
	unsigned int idx;

	if (!base)
		return;
	idx = s->divmul ? ((u64)(base - s->base) * s->divmul) >> 32 : 0;
	if (__test_and_set_bit(idx, shp_mark_bits(s)))
		return;
	why_add(w, base, parent, off);
}

static void why_root(struct shp_why *w, unsigned long v)
{
	why_reach(w, v, WHY_ROOT | w->kind, w->index++);
}

/**
 * shp_why_mark_root() - a root the owner's root scan reports, for a search
 * @w: the search, heap->why
 * @ptr: the root
 *
 * Context: from spanheap_mark_root(), the world stopped.
 */
void shp_why_mark_root(struct shp_why *w, const void *ptr)
{
	rcu_read_lock();	/* the lookup's, as spanheap_mark_root() takes it */
	why_root(w, (unsigned long)ptr);
	rcu_read_unlock();
}

/* Scan the words of node @i, as the mark scans a gray object. */
static void why_scan(struct shp_why *w, u32 i)
{
	unsigned long base = w->n[i].base, len, k;
	const unsigned long *p = (const unsigned long *)base;
	struct shp_span *s;

	rcu_read_lock();
	if (why_find(w->heap, base, &s) && !SHP_SPC_NOSCAN(s->spc)) {
		len = s->elemsize / sizeof(long);
		for (k = 0; k < len && w->found == U32_MAX; k++)
			why_reach(w, p[k], i, k * sizeof(long));
	}
	rcu_read_unlock();
}

/* Walk breadth-first from node @from until the target is reached. */
static void why_walk(struct shp_why *w, u32 from)
{
	u32 i;

	for (i = from; i < w->nn && w->found == U32_MAX && !w->full; i++) {
		why_scan(w, i);
		if (!(i % 1024))
			cond_resched();
	}
}

static void clear_marks(struct spanheap *heap, struct shp_span *s, void *unused)
{
	memset(shp_mark_bits(s), 0, s->nwords * sizeof(long));
}

static void count_objects(struct spanheap *heap, struct shp_span *s, void *arg)
{
	unsigned long *n = arg;
	unsigned int i;

	for (i = 0; i < s->nwords; i++)
		*n += hweight_long(shp_alloc_bits(s)[i]);
}

/* Pinned objects, and the arguments of the cleanups set on objects. */
static void why_span_specials(struct spanheap *heap, struct shp_span *s,
			      void *arg)
{
	struct shp_why *w = arg;
	struct shp_special *sp;
	unsigned int idx;

	if (!s->nspecials)
		return;
	rcu_read_lock();
	for (idx = 0; idx < s->nelems; idx++) {
		if (!test_bit(idx, shp_special_bits(s)))
			continue;
		for (sp = s->specials[idx]; sp; sp = sp->next) {
			if (sp->kind == SPANHEAP_SPECIAL_PIN && w->kind == SPANHEAP_ROOT_PIN)
				why_root(w, s->base + idx * s->elemsize);
			if (sp->kind == SPANHEAP_SPECIAL_CLEANUP &&
			    w->kind == SPANHEAP_ROOT_CLEANUP_ARG)
				why_root(w, (unsigned long)container_of(sp,
					 struct shp_special_cleanup, sp)->arg);
		}
	}
	rcu_read_unlock();
}

/* The arguments of a chain of cleanup records (queued or running). */
static void why_cleanups(struct shp_why *w, struct shp_special *sp)
{
	for (; sp; sp = sp->next)
		why_root(w, (unsigned long)container_of(sp, struct shp_special_cleanup,
							sp)->arg);
}

/* Queued finalizers' objects and contexts, queued and running cleanups. */
static void why_queues(struct shp_why *w)
{
	struct spanheap *heap = w->heap;
	struct shp_special_cleanup *c;
	struct shp_finblock *b;
	unsigned int i;

	spin_lock(&heap->fin_lock);
	rcu_read_lock();
	w->kind = SPANHEAP_ROOT_FINQ;
	w->index = 0;
	for (b = heap->finq.q; b; b = b->next) {
		for (i = 0; i < b->cnt; i++) {
			why_root(w, (unsigned long)b->fin[i].obj);
			why_root(w, (unsigned long)b->fin[i].ctx);
		}
	}
	w->kind = SPANHEAP_ROOT_CLEANUP_ARG;
	w->index = 0;
	for (c = heap->cleanq.q.first; c; c = c->next_batch)
		why_cleanups(w, &c->sp);
	for (i = 0; i < heap->ncleanup_workers; i++)	/* as shp_mark_finq() */
		why_cleanups(w, smp_load_acquire(&heap->cleanup_workers[i].running));
	rcu_read_unlock();
	spin_unlock(&heap->fin_lock);
}

static void why_scan(struct shp_why *w, u32 i);

/* Scan what the roots so far reach, before weaker roots are added. */
static void why_drain(struct shp_why *w)
{
	for (; w->next < w->nn && w->found == U32_MAX && !w->full; w->next++) {
		why_scan(w, w->next);
		if (!(w->next % 1024))
			cond_resched();
	}
}

/* Every root but the finalizer referents, by the mark's kinds of root. */
static void why_roots(struct shp_why *w)
{
	struct spanheap *heap = w->heap;
	unsigned int i;

	spin_lock(&heap->roots_lock);
	rcu_read_lock();
	w->kind = SPANHEAP_ROOT_SLOT;
	w->index = 0;
	for (i = 0; i < heap->nroots; i++)
		why_root(w, (unsigned long)READ_ONCE(*heap->roots[i]));
	rcu_read_unlock();
	spin_unlock(&heap->roots_lock);
	why_drain(w);
	if (heap->root_scan) {
		w->kind = SPANHEAP_ROOT_OWNER;
		w->index = 0;
		heap->why = w;
		heap->root_scan(heap, heap->root_scan_arg);
		heap->why = NULL;
		why_drain(w);
	}
	why_queues(w);
	why_drain(w);
	w->kind = SPANHEAP_ROOT_PIN;
	w->index = 0;
	shp_visit_spans(heap, why_span_specials, w);
	why_drain(w);
	w->kind = SPANHEAP_ROOT_CLEANUP_ARG;
	w->index = 0;
	shp_visit_spans(heap, why_span_specials, w);
	why_drain(w);
}

/*
 * Objects with a finalizer that nothing reached yet root their
 * referents: each becomes a node of its own (unmarked: its finalizer
 * does not keep it), and its words are reached from that node.
 */
static void why_span_referents(struct spanheap *heap, struct shp_span *s,
			       void *arg)
{
	struct shp_why *w = arg;
	unsigned int idx;

	if (!s->nkind[SPANHEAP_SPECIAL_FINALIZER] || SHP_SPC_NOSCAN(s->spc))
		return;
	for (idx = 0; idx < s->nelems; idx++) {
		if (!test_bit(idx, shp_fin_bits(s)) || test_bit(idx, shp_mark_bits(s)))
			continue;
		why_add(w, s->base + idx * s->elemsize,
			WHY_ROOT | SPANHEAP_ROOT_FIN_REFERENT, 0);
		/* The origin itself is no path's end: only what it reaches. */
		if (w->found == w->nn - 1)
			w->found = U32_MAX;
	}
}

/* Does the target, which has a finalizer, reach itself?  A fresh walk. */
static void why_own_cycle(struct shp_why *w)
{
	u32 origin = w->nn;

	shp_visit_spans(w->heap, clear_marks, NULL);
	w->found = U32_MAX;
	why_add(w, w->target, WHY_ROOT | SPANHEAP_ROOT_FIN_CYCLE, 0);
	if (w->full)
		return;
	w->found = U32_MAX;
	why_scan(w, origin);
	why_walk(w, origin + 1);
}

/* Hand the path ending at node @end to @report.  Return: 0 or -ENOMEM. */
static int why_report(struct shp_why *w, u32 end,
		      spanheap_path_report_t report, void *arg)
{
	struct spanheap_path p = { .kind = SPANHEAP_ROOT_NONE };
	u32 i, n = 0, next;

	if (end != U32_MAX) {
		for (i = end; !(i & WHY_ROOT); i = w->n[i].parent)
			n++;
		p.hops = kvmalloc_array(n, sizeof(*p.hops), SHP_GFP);
		if (!p.hops)
			return -ENOMEM;
		p.nhops = n;
		next = SPANHEAP_PATH_END;
		for (i = end; !(i & WHY_ROOT); i = w->n[i].parent) {
			p.hops[--n].obj = (void *)w->n[i].base;
			p.hops[n].offset = next;
			next = w->n[i].off;
			p.kind = w->n[i].parent & ~WHY_ROOT;
			p.root_index = w->n[i].off;
		}
		if (p.kind == SPANHEAP_ROOT_FIN_REFERENT ||
		    p.kind == SPANHEAP_ROOT_FIN_CYCLE)
			p.root_index = 0;
	}
	report(arg, &p);
	kvfree(p.hops);
	return 0;
}

/**
 * shp_why_find() - the path by which the collector reaches an object
 * @heap: heap, drained and fully swept
 * @obj: start of an allocated object of @heap
 * @report: called once with the path (or SPANHEAP_ROOT_NONE)
 * @arg: passed to @report
 *
 * See the top of this file.  Leaves the mark bits meaningless.
 *
 * Context: the world stopped (heap->sections held for writing), may sleep.
 * Return: 0, -EFAULT (@obj not in @heap), -EINVAL (not an allocated
 * object's start), -ENOMEM, or -E2BIG (more than shp_why_max_nodes
 * nodes were needed).
 */
int shp_why_find(struct spanheap *heap, const void *obj,
		 spanheap_path_report_t report, void *arg)
{
	struct shp_why w = { .heap = heap, .target = (unsigned long)obj,
			     .found = U32_MAX };
	struct shp_span *s;
	unsigned long nobj = 0;
	u32 path, root;
	bool fin_only;
	int ret;

	shp_assert_world_stopped(heap);
	rcu_read_lock();
	s = shp_pagemap_lookup(obj);
	ret = s && s->heap == heap ? 0 : -EFAULT;
	if (!ret) {
		unsigned long base = why_find(heap, w.target, &s);

		/* A tiny member: its block is the object the collector sees. */
		if (base && s->spc == SHP_TINY_SPC)
			w.target = base;
		else if (base != w.target)
			ret = -EINVAL;
	}
	rcu_read_unlock();
	if (ret)
		return ret;
	shp_visit_spans(heap, count_objects, &nobj);
	/* Each object once per walk, and the finalizers' origins. */
	w.cap = min_t(unsigned long, 3 * nobj + 2, READ_ONCE(shp_why_max_nodes));
	w.n = kvmalloc_array(w.cap, sizeof(*w.n), SHP_GFP);
	if (!w.n)
		return -ENOMEM;
	shp_visit_spans(heap, clear_marks, NULL);
	why_roots(&w);
	why_walk(&w, w.next);
	if (w.found == U32_MAX && !w.full) {
		u32 from = w.nn;

		shp_visit_spans(heap, why_span_referents, &w);
		why_walk(&w, from);
	}
	path = w.found;
	if (path != U32_MAX && !w.full) {
		for (root = path; !(w.n[root].parent & WHY_ROOT); root = w.n[root].parent)
			;
		fin_only = (w.n[root].parent & ~WHY_ROOT) == SPANHEAP_ROOT_FIN_REFERENT;
		if (fin_only && w.n[root].base == w.target) {
			/* Its own finalizer's referents reach it: never finalized. */
			w.n[root].parent = WHY_ROOT | SPANHEAP_ROOT_FIN_CYCLE;
		} else if (fin_only && !SHP_SPC_NOSCAN(s->spc) &&
			   test_bit((w.target - s->base) / s->elemsize, shp_fin_bits(s))) {
			/* Kept by another's finalizer; is it on a cycle of its own? */
			why_own_cycle(&w);
			if (w.found != U32_MAX)
				path = w.found;
		}
	}
	ret = w.full ? -E2BIG : why_report(&w, path, report, arg);
	kvfree(w.n);
	return ret;
}

struct why_hashed {
	const char *id;
	unsigned long found;
	unsigned int n;
};

/* Does an allocated object of @s print as @arg's id with %p? */
static void why_span_hashed(struct spanheap *heap, struct shp_span *s, void *arg)
{
	struct why_hashed *h = arg;
	char buf[24];
	unsigned int idx;

	for (idx = 0; idx < s->nelems; idx++) {
		if (!test_bit(idx, shp_alloc_bits(s)))
			continue;
		snprintf(buf, sizeof(buf), "%p", (void *)(s->base + idx * s->elemsize));
		if (!strcmp(buf, h->id)) {
			h->found = s->base + idx * s->elemsize;
			h->n++;
		}
	}
}

/**
 * shp_why_hashed() - shp_why_find() of the object printed as @id
 * @heap: heap, drained and fully swept
 * @id: an object's start as %p prints it (hashed: debugfs shows no
 *	kernel address, e.g. finalizer_cycles), without surrounding blanks
 * @report: as for shp_why_find()
 * @arg: passed to @report
 *
 * Context: the world stopped (heap->sections held for writing), may sleep.
 * Return: as shp_why_find(), or -ENOENT if no object (or more than one,
 * hashes being unlikely to collide) prints as @id.
 */
int shp_why_hashed(struct spanheap *heap, const char *id,
		   spanheap_path_report_t report, void *arg)
{
	struct why_hashed h = { .id = id };

	shp_assert_world_stopped(heap);
	shp_visit_spans(heap, why_span_hashed, &h);
	if (h.n != 1)
		return -ENOENT;
	return shp_why_find(heap, (void *)h.found, report, arg);
}
