// SPDX-License-Identifier: GPL-2.0
/* Heap statistics: a snapshot struct and its text form for debugfs. */
#include <linux/percpu.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/slab.h>
#include <linux/export.h>
#include <linux/mm.h>
#include "internal.h"

/*
 * Specials and objects of one span into @st; racy against allocation
 * and free by the span's owning cache, and for slotted large spans by
 * the CPU that revives them (their class included), without a lock.
 */
static void count_span(struct shp_span *s, struct spanheap_stats *st)
{
	unsigned int k;

	for (k = 1; k < SPANHEAP_NR_SPECIAL_KINDS; k++)
		st->specials[k] += READ_ONCE(s->nkind[k]);
	st->classes[SHP_SPC_CLASS(READ_ONCE(s->spc))].objects +=
		shp_span_count_alloc(s) - atomic_read(&s->nremote);
}

static void count_list(struct list_head *spans, struct spanheap_stats *st)
{
	struct shp_span *s;

	list_for_each_entry(s, spans, list)
		count_span(s, st);
}

/*
 * The spans of one class, cached and central.  A span moves between a
 * cache and the central lists only under its class's lock, so holding
 * it counts each span once, even while a cycle drains the caches or
 * another CPU's cache takes a span.
 */
static void count_class(struct spanheap *heap, unsigned int spc,
			struct spanheap_stats *st)
{
	struct shp_central *ct = &heap->central[spc];
	int cpu;

	lockdep_assert_held(&ct->lock);
	for_each_possible_cpu(cpu) {
		struct shp_span *s = READ_ONCE(per_cpu_ptr(heap->cpu, cpu)->alloc[spc]);

		if (s != &shp_empty_span)
			count_span(s, st);
	}
	count_list(&ct->partial, st);
	count_list(&ct->full, st);
	count_list(&ct->unswept, st);
	st->classes[SHP_SPC_CLASS(spc)].spans += ct->nspans;
	st->frees += ct->nswept;
}

/**
 * spanheap_read_stats() - take a snapshot of a heap's counters
 * @heap: heap
 * @st: filled in
 *
 * Each span is counted once, whatever cycles, drains and cache refills
 * run meanwhile; allocations, frees and sweeping running meanwhile may
 * be seen or not.
 *
 * Context: any context that may take a spinlock.
 */
void spanheap_read_stats(struct spanheap *heap, struct spanheap_stats *st)
{
	unsigned int class, spc;
	int cpu;

	memset(st, 0, sizeof(*st));
	for_each_possible_cpu(cpu) {
		struct shp_cpu_cache *c = per_cpu_ptr(heap->cpu, cpu);

		st->allocs += local_read(&c->allocs);
		st->frees += local_read(&c->frees);
	}
	for (spc = 0; spc < SHP_NR_SPAN_CLASSES; spc++) {
		spin_lock(&heap->central[spc].lock);
		count_class(heap, spc, st);
		spin_unlock(&heap->central[spc].lock);
	}
	spin_lock(&heap->lock);
	count_list(&heap->large, st);
	st->classes[0].spans = heap->nlarge;
	st->frees += heap->nswept_large;
	st->bytes_in_use = heap->large_bytes;
	spin_unlock(&heap->lock);

	for (class = 0; class < SHP_NR_CLASSES; class++) {
		struct spanheap_class_stats *cs = &st->classes[class];
		const struct shp_size_class *sc = &shp_size_classes[class];

		cs->size = sc->size;
		cs->span_bytes = class ? PAGE_SIZE << sc->order : 0;
		if (class)
			st->bytes_in_use += cs->objects * sc->size;
		st->objects_in_use += cs->objects;
		st->spans += cs->spans;
	}
	st->collections = atomic64_read(&heap->collections);
	st->pause_last_ns = READ_ONCE(heap->pause.last_ns);
	st->pause_max_ns = READ_ONCE(heap->pause.max_ns);
	st->pause_total_ns = READ_ONCE(heap->pause.total_ns);
	st->stop_last_ns = READ_ONCE(heap->pause.stop_last_ns);
	st->live_bytes = READ_ONCE(heap->live_bytes);
	st->next_gc = READ_ONCE(heap->next_gc);
	st->gc_percent = READ_ONCE(heap->gc_percent);
	spin_lock(&heap->fin_lock);
	st->fin_queued = heap->finq.queued;
	st->fin_executed = heap->finq.executed;
	st->cleanups_queued = heap->cleanq.queued;
	st->cleanups_executed = heap->cleanq.executed;
	spin_unlock(&heap->fin_lock);
	st->fin_pending = st->fin_queued - st->fin_executed;
	st->cleanups_pending = st->cleanups_queued - st->cleanups_executed;
	st->bytes_reserved = atomic_long_read(&heap->reserved);
	st->bad_frees = atomic_long_read(&heap->bad_frees);
	st->limit = READ_ONCE(heap->limit);
	st->bytes_meta = atomic_long_read(&heap->meta);
}
EXPORT_SYMBOL_GPL(spanheap_read_stats);

/**
 * shp_stats_print() - the debugfs "stats" text of a heap
 * @m: output
 * @heap: heap
 *
 * Context: process context.
 */
void shp_stats_print(struct seq_file *m, struct spanheap *heap)
{
	struct spanheap_stats *st = kmalloc(sizeof(*st), GFP_KERNEL | __GFP_NOWARN);
	unsigned long arenas, idle, kept;
	unsigned int class;
	u64 scavenged, reused;

	if (!st)
		return;
	spanheap_read_stats(heap, st);
	seq_printf(m, "heap %s-%u\n", heap->name, heap->id);
	seq_printf(m, "bytes_in_use %llu\nbytes_reserved %llu\nbytes_meta %llu\nlimit %llu\n",
		   st->bytes_in_use, st->bytes_reserved, st->bytes_meta, st->limit);
	seq_printf(m, "objects_in_use %llu\nspans %llu\n",
		   st->objects_in_use, st->spans);
	seq_printf(m, "allocs %llu\nfrees %llu\nbad_frees %llu\n",
		   st->allocs, st->frees, st->bad_frees);
	spin_lock(&heap->lock);
	arenas = heap->pages.narenas;
	idle = heap->pages.idle_bytes;
	kept = heap->pages.kept_bytes;
	reused = heap->pages.nreused;
	scavenged = heap->pages.scavenged;
	spin_unlock(&heap->lock);
	seq_printf(m, "arenas %lu\nbytes_idle %lu\nbytes_kept %lu\nkept_reused %llu\nbytes_scavenged %llu\n",
		   arenas, idle, kept, reused, scavenged);
	seq_printf(m, "collections %llu\nlive_bytes %llu\nnext_gc %llu\ngc_percent %lld\n",
		   st->collections, st->live_bytes, st->next_gc, st->gc_percent);
	seq_printf(m, "pause_last_ns %llu\npause_max_ns %llu\npause_total_ns %llu\nstop_last_ns %llu\n",
		   st->pause_last_ns, st->pause_max_ns, st->pause_total_ns,
		   st->stop_last_ns);
	seq_printf(m, "finalizers_queued %llu\nfinalizers_executed %llu\nfinalizers_pending %llu\n",
		   st->fin_queued, st->fin_executed, st->fin_pending);
	seq_printf(m, "cleanups_queued %llu\ncleanups_executed %llu\ncleanups_pending %llu\n",
		   st->cleanups_queued, st->cleanups_executed, st->cleanups_pending);
	seq_printf(m, "specials_finalizer %llu\nspecials_pin %llu\nspecials_cleanup %llu\nspecials_weak %llu\n",
		   st->specials[SPANHEAP_SPECIAL_FINALIZER],
		   st->specials[SPANHEAP_SPECIAL_PIN],
		   st->specials[SPANHEAP_SPECIAL_CLEANUP],
		   st->specials[SPANHEAP_SPECIAL_WEAK]);
	seq_puts(m, "class size span_bytes spans objects\n");
	for (class = 0; class < SHP_NR_CLASSES; class++) {
		struct spanheap_class_stats *cs = &st->classes[class];

		if (!cs->spans && !cs->objects)
			continue;
		seq_printf(m, "%5u %5u %6u %5llu %7llu\n", class, cs->size,
			   cs->span_bytes, cs->spans, cs->objects);
	}
	kfree(st);
}
