/* SPDX-License-Identifier: GPL-2.0 */
/*
 * spanheap's tracepoints (tracefs: events/spanheap/).  The layout of the
 * kernel's include/trace/events/, for an out-of-tree module: kmod/ is on
 * the include path (Kbuild's ccflags-y), so TRACE_INCLUDE_PATH names this
 * directory from there, and kmod/trace.c alone defines CREATE_TRACE_POINTS.
 * The userspace build gets empty inline trace_*() from the shim's
 * <linux/tracepoint.h> instead.
 *
 * A heap is named by its id (heap->id, the number in its debugfs
 * directory's name) and, in the cycle events, its name: no event records
 * an address of the heap or of an object.  Finalizer and cleanup
 * functions are recorded to be printed as symbols (%ps).
 * Documentation/spanheap/tracing.rst lists the events and their fields.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM spanheap

#if !defined(_TRACE_SPANHEAP_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_SPANHEAP_H

#include <linux/tracepoint.h>

/* The events dereference these only in kmod/trace.c, which defines them. */
struct spanheap;
struct shp_span;
struct spanheap_event;

/**
 * spanheap_cycle_start - a collection cycle has stopped the world
 * @heap: the heap
 * @cycle: the cycle's number (heap->collections once it completes)
 * @stop_ns: how long waiting for the mutator sections to end took
 * @sync: spanheap_collect() (it sweeps before returning), not a paced cycle
 *
 * Emitted with the world stopped, before the mark; heap_bytes is what
 * the heap holds then (heap->reserved).
 *
 * Context: the collecting task (a spanheap_collect() caller or the paced
 * cycle's worker), heap->gc_lock and heap->sections (write) held.
 */
TRACE_EVENT(spanheap_cycle_start,

	TP_PROTO(const struct spanheap *heap, u64 cycle, u64 stop_ns, bool sync),

	TP_ARGS(heap, cycle, stop_ns, sync),

	TP_STRUCT__entry(
		__field(unsigned int,	heap_id)
		__array(char,		name, 32)
		__field(u64,		cycle)
		__field(long,		heap_bytes)
		__field(u64,		stop_ns)
		__field(bool,		sync)
	),

	TP_fast_assign(
		__entry->heap_id	= heap->id;
		strscpy(__entry->name, heap->name, sizeof(__entry->name));
		__entry->cycle		= cycle;
		__entry->heap_bytes	= atomic_long_read(&heap->reserved);
		__entry->stop_ns	= stop_ns;
		__entry->sync		= sync;
	),

	TP_printk("heap=%s-%u cycle=%llu heap_bytes=%ld stop_ns=%llu sync=%d",
		  __entry->name, __entry->heap_id, __entry->cycle,
		  __entry->heap_bytes, __entry->stop_ns, __entry->sync)
);

/**
 * spanheap_cycle_end - a collection cycle is over
 * @heap: the heap; its mark results and pause are those of this cycle
 *
 * Emitted after the world restarted and, for a synchronous cycle, after
 * the sweep; a paced cycle's sweep goes on in the background.  pause_ns
 * is the stop-the-world time (struct shp_pause's last_ns), stop_ns the
 * wait for sections before it (stop_last_ns).
 *
 * Context: the collecting task, heap->gc_lock held.
 */
TRACE_EVENT(spanheap_cycle_end,

	TP_PROTO(const struct spanheap *heap),

	TP_ARGS(heap),

	TP_STRUCT__entry(
		__field(unsigned int,	heap_id)
		__array(char,		name, 32)
		__field(u64,		cycle)
		__field(u64,		live_bytes)
		__field(u64,		live_objects)
		__field(long,		heap_bytes)
		__field(u64,		next_gc)
		__field(u64,		pause_ns)
		__field(u64,		stop_ns)
	),

	TP_fast_assign(
		__entry->heap_id	= heap->id;
		strscpy(__entry->name, heap->name, sizeof(__entry->name));
		__entry->cycle		= atomic64_read(&heap->collections);
		__entry->live_bytes	= heap->live_bytes;
		__entry->live_objects	= heap->live_objects;
		__entry->heap_bytes	= atomic_long_read(&heap->reserved);
		/* spanheap_set_gc_percent() writes it without gc_lock */
		__entry->next_gc	= READ_ONCE(heap->next_gc);
		__entry->pause_ns	= heap->pause.last_ns;
		__entry->stop_ns	= heap->pause.stop_last_ns;
	),

	TP_printk("heap=%s-%u cycle=%llu live_bytes=%llu live_objects=%llu heap_bytes=%ld next_gc=%llu pause_ns=%llu stop_ns=%llu",
		  __entry->name, __entry->heap_id, __entry->cycle,
		  __entry->live_bytes, __entry->live_objects,
		  __entry->heap_bytes, __entry->next_gc, __entry->pause_ns,
		  __entry->stop_ns)
);

/**
 * spanheap_sweep_span - a span was swept
 * @heap: the heap
 * @s: the span (a large one holds one object)
 * @freed: objects the sweep freed in it
 * @live: objects left allocated (those resurrected for their finalizers
 *	included)
 *
 * One per span and cycle, whoever sweeps it (the cycle, the background
 * sweeper, an allocation or lookup sweeping lazily); cycle is the heap's
 * sweepgen, equal to the number of the cycle whose marks were used.
 *
 * Context: atomic: the span's central lock (a large span: heap->lock) held.
 */
TRACE_EVENT(spanheap_sweep_span,

	TP_PROTO(const struct spanheap *heap, const struct shp_span *s,
		 unsigned int freed, unsigned int live),

	TP_ARGS(heap, s, freed, live),

	TP_STRUCT__entry(
		__field(unsigned int,	heap_id)
		__field(u32,		cycle)
		__field(unsigned long,	elemsize)
		__field(unsigned int,	nelems)
		__field(unsigned int,	freed)
		__field(unsigned int,	live)
	),

	TP_fast_assign(
		__entry->heap_id	= heap->id;
		__entry->cycle		= heap->sweepgen;
		__entry->elemsize	= s->elemsize;
		__entry->nelems		= s->nelems;
		__entry->freed		= freed;
		__entry->live		= live;
	),

	TP_printk("heap_id=%u cycle=%u elemsize=%lu nelems=%u freed=%u live=%u",
		  __entry->heap_id, __entry->cycle, __entry->elemsize,
		  __entry->nelems, __entry->freed, __entry->live)
);

DECLARE_EVENT_CLASS(spanheap_finalizer,

	TP_PROTO(const struct spanheap *heap, void *fn, u64 pending),

	TP_ARGS(heap, fn, pending),

	TP_STRUCT__entry(
		__field(unsigned int,	heap_id)
		__field(void *,		fn)
		__field(u64,		pending)
	),

	TP_fast_assign(
		__entry->heap_id	= heap->id;
		__entry->fn		= fn;
		__entry->pending	= pending;
	),

	TP_printk("heap_id=%u fn=%ps pending=%llu",
		  __entry->heap_id, __entry->fn, __entry->pending)
);

/**
 * spanheap_finalizer_queued - the sweep queued a finalizer
 * @heap: the heap
 * @fn: the finalizer function
 * @pending: finalizers queued and not yet run, this one included
 *
 * Context: atomic: sweeping, heap->fin_lock held.
 */
DEFINE_EVENT(spanheap_finalizer, spanheap_finalizer_queued,

	TP_PROTO(const struct spanheap *heap, void *fn, u64 pending),

	TP_ARGS(heap, fn, pending)
);

/**
 * spanheap_finalizer_run - the finalizer worker calls a finalizer
 * @heap: the heap
 * @fn: the finalizer function, called right after
 * @pending: finalizers left in the worker's batch after this one
 *
 * Context: the heap's finalizer worker, inside a mutator section.
 */
DEFINE_EVENT(spanheap_finalizer, spanheap_finalizer_run,

	TP_PROTO(const struct spanheap *heap, void *fn, u64 pending),

	TP_ARGS(heap, fn, pending)
);

/**
 * spanheap_cleanup_queued - the sweep freed an object and queued its cleanup
 * @heap: the heap
 * @id: the cleanup's id (what spanheap_add_cleanup() returned)
 * @fn: the cleanup function
 *
 * Context: atomic: sweeping, the span's speciallock held.
 */
TRACE_EVENT(spanheap_cleanup_queued,

	TP_PROTO(const struct spanheap *heap, s64 id, void *fn),

	TP_ARGS(heap, id, fn),

	TP_STRUCT__entry(
		__field(unsigned int,	heap_id)
		__field(s64,		id)
		__field(void *,		fn)
	),

	TP_fast_assign(
		__entry->heap_id	= heap->id;
		__entry->id		= id;
		__entry->fn		= fn;
	),

	TP_printk("heap_id=%u id=%lld fn=%ps",
		  __entry->heap_id, __entry->id, __entry->fn)
);

/**
 * spanheap_cleanup_run - a cleanup worker calls a cleanup
 * @heap: the heap
 * @fn: the cleanup function, called right after
 *
 * No id: a queued record's id is overwritten by its queue link (struct
 * shp_special_cleanup), so a run is matched to a cleanup_queued record
 * by count, not by id.
 *
 * Context: a cleanup worker, outside any section.
 */
TRACE_EVENT(spanheap_cleanup_run,

	TP_PROTO(const struct spanheap *heap, void *fn),

	TP_ARGS(heap, fn),

	TP_STRUCT__entry(
		__field(unsigned int,	heap_id)
		__field(void *,		fn)
	),

	TP_fast_assign(
		__entry->heap_id	= heap->id;
		__entry->fn		= fn;
	),

	TP_printk("heap_id=%u fn=%ps", __entry->heap_id, __entry->fn)
);

DECLARE_EVENT_CLASS(spanheap_uheap_event,

	TP_PROTO(const struct spanheap *heap, const struct spanheap_event *ev,
		 unsigned int pending),

	TP_ARGS(heap, ev, pending),

	TP_STRUCT__entry(
		__field(unsigned int,	heap_id)
		__field(u16,		type)
		__field(u64,		seq)
		__field(u64,		token)
		__field(u64,		handle)
		__field(unsigned int,	pending)
	),

	TP_fast_assign(
		__entry->heap_id	= heap->id;
		__entry->type		= ev->type;
		__entry->seq		= ev->seq;
		__entry->token		= ev->token;
		__entry->handle		= ev->handle;
		__entry->pending	= pending;
	),

	TP_printk("heap_id=%u type=%s seq=%llu token=%llu handle=%#llx pending=%u",
		  __entry->heap_id,
		  __print_symbolic(__entry->type,
				   { SPANHEAP_EVENT_FINALIZER, "finalizer" },
				   { SPANHEAP_EVENT_CLEANUP, "cleanup" }),
		  __entry->seq, __entry->token, __entry->handle,
		  __entry->pending)
);

/**
 * spanheap_uheap_event_queued - an event of a /dev/spanheap file is delivered
 * @heap: the file's heap
 * @ev: the record read() will hand out (seq, token, handle as userspace
 *	will see them)
 * @pending: events delivered and not yet read, this one included
 *
 * A finalizer deferred because the file's queue is full is not queued
 * (it is set again); it is traced when a later cycle delivers it.
 *
 * Context: atomic: the finalizer worker or a cleanup worker, the file's
 * ev_lock held.
 */
DEFINE_EVENT(spanheap_uheap_event, spanheap_uheap_event_queued,

	TP_PROTO(const struct spanheap *heap, const struct spanheap_event *ev,
		 unsigned int pending),

	TP_ARGS(heap, ev, pending)
);

/**
 * spanheap_uheap_event_read - read() copied an event out to userspace
 * @heap: the file's heap
 * @ev: the record handed out
 * @pending: events still delivered and unread after this read()
 *
 * Context: atomic: the reading task, the file's ev_lock held.
 */
DEFINE_EVENT(spanheap_uheap_event, spanheap_uheap_event_read,

	TP_PROTO(const struct spanheap *heap, const struct spanheap_event *ev,
		 unsigned int pending),

	TP_ARGS(heap, ev, pending)
);

#endif /* _TRACE_SPANHEAP_H */

/* This part must be outside the multi-read protection. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH trace/events
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE spanheap
#include <trace/define_trace.h>
