// SPDX-License-Identifier: GPL-2.0
/*
 * Finalizer and cleanup events of an open /dev/spanheap.
 *
 * FINALIZER takes the event record up front from the file's pool and
 * passes it to the core as the finalizer's context: the user's token
 * lives only in the record, outside the heap, so the collector never
 * scans it.  An event moves armed -> events -> reading -> given back;
 * clearing the finalizer gives back an armed one.
 *
 * The pool: records live in chunks of UH_EVCHUNK_EVENTS (struct
 * uh_evchunk, 4 KiB), each charged to the opener once, with a free list
 * per chunk, all under u->ev_lock.  Taking or giving back a record is a
 * few stores; a chunk is allocated when no chunk has a free record, and
 * freed when its last record comes back, except the one spare kept when
 * no other chunk has room.  So the records cost what a 4 KiB chunk per
 * UH_EVCHUNK_EVENTS live events (and a spare) costs, all of it charged:
 * the file's limit bounds it as it bounded records of their own.  The core hands each
 * context to exactly one of spanheap_take_finalizer() and the finalizer
 * run, so each record has one owner at a time and each token is
 * delivered exactly once.
 *
 * Delivery (uheap_finalizer(), on the heap's finalizer worker) cannot
 * fail.  When the queue is full the finalizer is set again instead, so
 * the object lives on and its event comes at a later cycle
 * (events_deferred); if that is impossible because userspace set a new
 * finalizer on the object meanwhile, or memory is short, the event is
 * queued past the cap (events_overcap).  Objects of delivered and
 * unread events are roots (uheap_events_scan()).
 *
 * CLEANUP likewise allocates its record up front.  The core cleanup's
 * argument is a tiny NOSCAN object of the heap holding only the
 * record's address: never scanned, never named by a handle, and kept
 * by the core until the cleanup returns.  The record is in
 * u->cleanups under its id while armed, so that CLEANUP_STOP can free
 * it when the core stop succeeds; the core runs or stops a cleanup,
 * never both, so again each record has one owner.  A cleanup's object
 * is gone when it runs, so a full queue cannot defer it: its event is
 * queued past the cap (events_overcap).
 */
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "internal.h"
#include "uheap.h"
#include "trace/events/spanheap.h"

/* ---- the record pool ---- */

/*
 * A new chunk, charged, every record free.  Context: process context,
 * no spinlock held.  NULL if there is no memory or room.
 */
static struct uh_evchunk *chunk_new(struct uheap *u)
{
	struct uh_evchunk *c;
	unsigned int i;

	if (uheap_charge(u, UH_EVCHUNK_COST))
		return NULL;
	/* Not zeroed: event_arm() fills a record in as it takes it. */
	c = kmalloc(sizeof(*c), SHP_GFP);
	if (!c) {
		uheap_uncharge(u, UH_EVCHUNK_COST);
		return NULL;
	}
	c->nused = 0;
	c->free = NULL;
	for (i = UH_EVCHUNK_EVENTS; i--; ) {
		c->ev[i].chunk = c;
		c->ev[i].next_free = c->free;
		c->free = &c->ev[i];
	}
	return c;
}

/* A free record: u->ev_partial must not be empty.  Context: u->ev_lock. */
static struct uh_event *pool_take(struct uheap *u)
{
	struct uh_evchunk *c;
	struct uh_event *ev;

	lockdep_assert_held(&u->ev_lock);
	c = list_first_entry(&u->ev_partial, struct uh_evchunk, node);
	ev = c->free;
	c->free = ev->next_free;
	if (++c->nused == UH_EVCHUNK_EVENTS)
		list_move(&c->node, &u->ev_full);
	return ev;
}

/*
 * Give back @ev, on no list now, to its chunk.  A chunk left empty goes
 * to @dead, for pool_free() once u->ev_lock is dropped, unless no other
 * chunk has a free record: it is then the spare (see struct uh_evchunk).
 * Inlined: read() calls it per event.  Context: u->ev_lock.
 */
static __always_inline void pool_put(struct uheap *u, struct uh_event *ev,
				     struct list_head *dead)
{
	struct uh_evchunk *c = ev->chunk;

	lockdep_assert_held(&u->ev_lock);
	ev->next_free = c->free;
	c->free = ev;
	if (c->nused-- == UH_EVCHUNK_EVENTS) {
		list_move(&c->node, &u->ev_partial);
	} else if (!c->nused && !list_is_singular(&u->ev_partial)) {
		list_move(&c->node, dead);
		u->ev_nchunks--;
	}
}

/* Free the chunks pool_put() left on @dead, with their charges. */
static void pool_free(struct uheap *u, struct list_head *dead)
{
	struct uh_evchunk *c, *tmp;

	list_for_each_entry_safe(c, tmp, dead, node) {
		kfree(c);
		uheap_uncharge(u, UH_EVCHUNK_COST);
	}
}

/*
 * A record from the pool, filled in and put on u->armed; NULL if a new
 * chunk was needed and there is no memory or room for it.  Context:
 * process context, no spinlock held.
 */
static struct uh_event *event_arm(struct uheap *u, u16 type, u64 token,
				  u64 handle, void *obj)
{
	struct uh_evchunk *c;
	struct uh_event *ev;

	spin_lock(&u->ev_lock);
	if (list_empty(&u->ev_partial)) {
		spin_unlock(&u->ev_lock);
		c = chunk_new(u);
		if (!c)
			return NULL;
		spin_lock(&u->ev_lock);
		list_add(&c->node, &u->ev_partial);
		u->ev_nchunks++;
	}
	ev = pool_take(u);
	ev->obj = obj;
	ev->id = 0;
	ev->ev = (struct spanheap_event){
		.event_len = sizeof(ev->ev),
		.version = SPANHEAP_EVENT_VERSION,
		.type = type,
		.token = token,
		.handle = handle,
	};
	list_add_tail(&ev->node, &u->armed);
	spin_unlock(&u->ev_lock);
	return ev;
}

/* Unlink an armed event that will never run, and give it back. */
static void event_disarm(struct uheap *u, struct uh_event *ev)
{
	LIST_HEAD(dead);

	spin_lock(&u->ev_lock);
	list_del(&ev->node);
	pool_put(u, ev, &dead);
	spin_unlock(&u->ev_lock);
	pool_free(u, &dead);
}

/* ---- delivery ---- */

/**
 * uheap_finalizer() - the finalizer of every object of a file's heap
 * @heap: the file's heap
 * @obj: the object
 * @ctx: its struct uh_event
 *
 * Context: the heap's finalizer worker, inside a section; takes u->lock.
 */
void uheap_finalizer(struct spanheap *heap, void *obj, void *ctx)
{
	struct uheap *u = heap->owner;
	struct uh_header *hdr = obj;
	struct uh_event *ev = ctx;
	bool full, rearm;

	/* Under u->lock: a FINALIZER CLEAR or set is before or after all of this. */
	mutex_lock(&u->lock);
	spin_lock(&u->ev_lock);
	full = u->nevents >= u->ev_max;
	spin_unlock(&u->ev_lock);
	rearm = full && !(hdr->flags & UH_FIN_CLEARED) &&
		!spanheap_set_finalizer(heap, obj, uheap_finalizer, ev);
	mutex_unlock(&u->lock);
	if (rearm) {
		spin_lock(&u->ev_lock);
		u->ndeferred++;
		spin_unlock(&u->ev_lock);
		return;
	}
	spin_lock(&u->ev_lock);
	u->novercap += full;
	ev->ev.seq = ++u->seq;
	list_move_tail(&ev->node, &u->events);
	WRITE_ONCE(u->nevents, u->nevents + 1);	/* uheap_readable() peeks */
	u->nrun++;
	trace_spanheap_uheap_event_queued(heap, &ev->ev, u->nevents);
	spin_unlock(&u->ev_lock);
	wake_up_interruptible_poll(&u->wq, EPOLLIN | EPOLLRDNORM);
}

/**
 * uheap_cleanup() - the cleanup of every cleanup of a file's heap
 * @heap: the file's heap
 * @arg: the tiny object holding the cleanup's struct uh_event
 *
 * Context: a cleanup worker, outside any section; takes u->lock.
 */
static void uheap_cleanup(struct spanheap *heap, void *arg)
{
	struct uh_event *ev = *(struct uh_event **)arg;
	struct uheap *u = heap->owner;

	mutex_lock(&u->lock);
	if (uh_leaf_alone(&u->cleanups, ev->id) && !u->closing)
		uheap_uncharge(u, UH_LEAF_COST);
	xa_erase(&u->cleanups, ev->id);
	mutex_unlock(&u->lock);
	spin_lock(&u->ev_lock);
	u->novercap += u->nevents >= u->ev_max;
	ev->ev.seq = ++u->seq;
	list_move_tail(&ev->node, &u->events);
	WRITE_ONCE(u->nevents, u->nevents + 1);	/* uheap_readable() peeks */
	u->ncleanrun++;
	trace_spanheap_uheap_event_queued(heap, &ev->ev, u->nevents);
	spin_unlock(&u->ev_lock);
	wake_up_interruptible_poll(&u->wq, EPOLLIN | EPOLLRDNORM);
}

/* ---- setting and clearing ---- */

/**
 * uheap_cleanup_add() - add a cleanup whose event carries @token
 * @u: state
 * @obj: an object of the file, looked up
 * @token: delivered in the event, never interpreted nor scanned
 * @id: set to the cleanup's id, for uheap_cleanup_stop()
 *
 * Context: inside a section, u->lock held.
 * Return: 0 or -ENOMEM; nothing changes on error.
 */
int uheap_cleanup_add(struct uheap *u, void *obj, u64 token, s64 *id)
{
	struct uh_event *ev;
	void **arg;
	s64 ret;

	shp_assert_in_section(u->heap);
	lockdep_assert_held(&u->lock);
	ev = event_arm(u, SPANHEAP_EVENT_CLEANUP, token, 0, NULL);
	if (!ev)
		return -ENOMEM;
	/* Garbage at once if this fails; tiny objects cannot be freed. */
	arg = spanheap_alloc(u->heap, sizeof(*arg), SPANHEAP_NOSCAN);
	if (!arg) {
		event_disarm(u, ev);
		return -ENOMEM;
	}
	*arg = ev;
	/* It cannot run before this section ends: no cycle can find obj dead. */
	ret = spanheap_add_cleanup(u->heap, obj, uheap_cleanup, arg);
	if (ret < 0) {
		event_disarm(u, ev);
		return ret;
	}
	ev->id = ret;
	ret = xa_insert(&u->cleanups, ev->id, ev, SHP_GFP);
	if (!ret && uh_leaf_alone(&u->cleanups, ev->id) &&
	    uheap_charge(u, UH_LEAF_COST)) {
		xa_erase(&u->cleanups, ev->id);
		ret = -ENOMEM;
	}
	if (ret) {
		WARN_ON_ONCE(spanheap_stop_cleanup(u->heap, obj, ev->id));
		event_disarm(u, ev);
		return ret == -EBUSY ? -EEXIST : ret;
	}
	*id = ev->id;
	return 0;
}

/**
 * uheap_cleanup_stop() - cancel a cleanup added by uheap_cleanup_add()
 * @u: state
 * @obj: an object of the file, looked up
 * @id: the cleanup's id
 *
 * Context: inside a section, u->lock held.
 * Return: 0, or -ENOENT if @obj has no such cleanup armed (stopped,
 * already queued to run, another object's, or never added).
 */
int uheap_cleanup_stop(struct uheap *u, void *obj, s64 id)
{
	struct uh_event *ev;
	int ret;

	shp_assert_in_section(u->heap);
	lockdep_assert_held(&u->lock);
	ret = spanheap_stop_cleanup(u->heap, obj, id);
	if (ret)
		return ret;
	/* Stopped, so it will never run: its record is ours to give back. */
	if (uh_leaf_alone(&u->cleanups, id))
		uheap_uncharge(u, UH_LEAF_COST);
	ev = xa_erase(&u->cleanups, id);
	if (!WARN_ON_ONCE(!ev))
		event_disarm(u, ev);
	return 0;
}

/**
 * uheap_fin_set() - give an object a finalizer whose event carries @token
 * @u: state
 * @obj: an object of the file, looked up
 * @token: delivered in the event, never interpreted
 *
 * Context: inside a section, u->lock held.
 * Return: 0, -EEXIST, -ENOMEM.
 */
int uheap_fin_set(struct uheap *u, void *obj, u64 token)
{
	struct uh_header *h = obj;
	struct uh_event *ev;
	int ret;

	shp_assert_in_section(u->heap);
	lockdep_assert_held(&u->lock);
	ret = shp_finalizer_check(u->heap, obj);
	if (ret)
		return ret;
	/* Armed first: the worker may move it as soon as the finalizer is set. */
	ev = event_arm(u, SPANHEAP_EVENT_FINALIZER, token, h->handle, obj);
	if (!ev)
		return -ENOMEM;
	ret = spanheap_set_finalizer(u->heap, obj, uheap_finalizer, ev);
	if (!ret)
		h->flags &= ~UH_FIN_CLEARED;
	if (ret)
		event_disarm(u, ev);
	return ret;
}

/**
 * uheap_fin_clear() - remove an object's finalizer, if it has one
 * @u: state
 * @obj: an object of the file, looked up
 *
 * A finalizer already queued to run is not affected (as in Go).
 *
 * Context: inside a section, u->lock held.
 * Return: 0 (it allocates nothing, so it cannot fail on a live object).
 */
int uheap_fin_clear(struct uheap *u, void *obj)
{
	struct uh_header *h = obj;
	void *ctx;
	int ret;

	shp_assert_in_section(u->heap);
	lockdep_assert_held(&u->lock);
	/* One the cycle took already is delivered, not re-armed (see uheap.h). */
	h->flags |= UH_FIN_CLEARED;
	ret = spanheap_take_finalizer(u->heap, obj, &ctx);
	if (ret)
		return ret == -ENOENT ? 0 : ret;
	event_disarm(u, ctx);
	return 0;
}

/**
 * uheap_events_scan() - report the objects of unread finalizer events as roots
 * @u: state
 *
 * Context: the heap's root-scan callback.
 */
void uheap_events_scan(struct uheap *u)
{
	struct uh_event *ev;

	spin_lock(&u->ev_lock);
	list_for_each_entry(ev, &u->events, node)
		if (ev->obj)
			spanheap_mark_root(u->heap, ev->obj);
	list_for_each_entry(ev, &u->reading, node)
		if (ev->obj)
			spanheap_mark_root(u->heap, ev->obj);
	spin_unlock(&u->ev_lock);
}

/**
 * uheap_events_free() - free every event record of a closed file
 * @u: state whose heap is destroyed (no worker can run)
 *
 * Every record, armed, queued, delivered or free, is in a chunk: the
 * chunks go, uncharged (uheap_destroy() gave back the file's charges).
 *
 * Context: process context.
 */
void uheap_events_free(struct uheap *u)
{
	struct uh_evchunk *c, *tmp;

	list_splice_init(&u->ev_full, &u->ev_partial);
	list_for_each_entry_safe(c, tmp, &u->ev_partial, node)
		kfree(c);
	INIT_LIST_HEAD(&u->ev_partial);
	INIT_LIST_HEAD(&u->armed);
	INIT_LIST_HEAD(&u->events);
	INIT_LIST_HEAD(&u->reading);
	u->ev_nchunks = 0;
}

/**
 * uheap_readable() - are events pending?
 * @u: state
 *
 * Context: any.
 * Return: true if read() would not block.
 */
bool uheap_readable(struct uheap *u)
{
	return READ_ONCE(u->nevents) > 0;
}

/*
 * Records read() copies out per round at most: one lock round trip to
 * take them, one to give them back, one user access window.
 */
#define UH_READ_CHUNK	128

/* Unlink the run @first .. @last (linked in that order) from its list. */
static void run_del(struct list_head *first, struct list_head *last)
{
	first->prev->next = last->next;
	last->next->prev = first->prev;
}

/* Link the run @first .. @last in between @prev and @next. */
static void run_add(struct list_head *first, struct list_head *last,
		    struct list_head *prev, struct list_head *next)
{
	first->prev = prev;
	prev->next = first;
	last->next = next;
	next->prev = last;
}

/**
 * uheap_events_take() - take the oldest delivered events for read()
 * @u: state
 * @first: set to the first event taken
 * @max: how many at most
 *
 * They move as one run to the tail of u->reading.  The run's inner
 * links are then the caller's alone: other readers add and remove runs
 * of their own, which changes only the links at its ends.
 *
 * Context: process context, no spinlock held.
 * Return: how many were taken; each call is followed by one
 * uheap_events_done() for its run.
 */
unsigned int uheap_events_take(struct uheap *u, struct uh_event **first,
			       unsigned int max)
{
	struct list_head *last;
	unsigned int n, i;

	spin_lock(&u->ev_lock);
	n = min(max, u->nevents);	/* u->nevents counts u->events */
	if (n) {
		*first = list_first_entry(&u->events, struct uh_event, node);
		for (i = 1, last = u->events.next; i < n; i++)
			last = last->next;
		run_del(&(*first)->node, last);
		run_add(&(*first)->node, last, u->reading.prev, &u->reading);
		WRITE_ONCE(u->nevents, u->nevents - n);
	}
	spin_unlock(&u->ev_lock);
	return n;
}

/*
 * Copy the @n records of the run from @ev out to @ubuf, 8 bytes a store
 * (not a byte loop: copy_to_user() is rep movsb on CPUs with ERMS, some
 * ns per byte under emulation).  Returns how many were written whole.
 */
static unsigned int events_copy(struct spanheap_event __user *ubuf,
				struct uh_event *ev, unsigned int n)
{
	u64 __user *uw = (u64 __user *)ubuf;
	unsigned int i = 0;

	if (!user_write_access_begin(ubuf, n * sizeof(*ubuf)))
		return 0;
	for (;;) {
		unsafe_put_user(ev->ev_words[0], &uw[0], fault);
		unsafe_put_user(ev->ev_words[1], &uw[1], fault);
		unsafe_put_user(ev->ev_words[2], &uw[2], fault);
		unsafe_put_user(ev->ev_words[3], &uw[3], fault);
		uw += 4;
		if (++i == n)
			break;
		/* Not past the run's last: its next link is not ours. */
		ev = list_next_entry(ev, node);
	}
fault:
	user_write_access_end();
	return i;
}

/**
 * uheap_events_done() - end a read() of a run of events
 * @u: state
 * @first: the run's first event, from uheap_events_take()
 * @ok: how many of its first events were copied out
 * @n: the run's length
 *
 * The @ok events copied out are read: their records go back to the
 * pool.  The others go back to the head of the queue, in their order.
 *
 * Context: process context, no spinlock held.
 */
void uheap_events_done(struct uheap *u, struct uh_event *first,
		       unsigned int ok, unsigned int n)
{
	struct uh_event *ev = first, *next;
	struct list_head *prev, *last;
	LIST_HEAD(dead);
	unsigned int i;

	spin_lock(&u->ev_lock);
	prev = first->node.prev;
	for (i = 0; i < ok; i++, ev = next) {
		next = list_next_entry(ev, node);
		if (trace_spanheap_uheap_event_read_enabled())
			trace_spanheap_uheap_event_read(u->heap, &ev->ev,
							u->nevents);
		pool_put(u, ev, &dead);		/* reuses ev->node */
	}
	/* @ev is now the first not copied, or what followed the run. */
	prev->next = &ev->node;
	ev->node.prev = prev;
	u->nread += ok;
	if (ok < n) {
		for (i = ok + 1, last = &ev->node; i < n; i++)
			last = last->next;
		run_del(&ev->node, last);
		run_add(&ev->node, last, &u->events, u->events.next);
		WRITE_ONCE(u->nevents, u->nevents + n - ok);
	}
	spin_unlock(&u->ev_lock);
	pool_free(u, &dead);
	if (ok < n)
		wake_up_interruptible_poll(&u->wq, EPOLLIN | EPOLLRDNORM);
}

/**
 * uheap_read() - hand out whole event records
 * @u: state
 * @buf: user buffer
 * @count: its size; smaller than one record is -EINVAL
 * @nonblock: O_NONBLOCK: -EAGAIN instead of waiting
 *
 * Never returns 0: a reader that loses the race for the only event
 * waits again (or gets -EAGAIN).  Each record handed out stops being a
 * root for its object.
 *
 * Context: process context, no section held.
 * Return: bytes read, -EINVAL, -EAGAIN, -ERESTARTSYS or -EFAULT.
 */
ssize_t uheap_read(struct uheap *u, char __user *buf, size_t count,
		   bool nonblock)
{
	struct spanheap_event __user *ubuf = (struct spanheap_event __user *)buf;
	size_t want = count / sizeof(*ubuf), done = 0;
	struct uh_event *first;
	unsigned int n, ok;
	int ret;

	if (!want)
		return -EINVAL;
	while (done < want) {
		n = uheap_events_take(u, &first, min_t(size_t, want - done, UH_READ_CHUNK));
		if (!n) {
			if (done)
				break;
			if (nonblock)
				return -EAGAIN;
			ret = wait_event_interruptible(u->wq, uheap_readable(u));
			if (ret)
				return ret;
			continue;
		}
		/* Whole records only: a torn one is handed out again. */
		ok = events_copy(ubuf + done, first, n);
		uheap_events_done(u, first, ok, n);
		done += ok;
		if (ok < n)
			return done ? done * sizeof(*ubuf) : -EFAULT;
		cond_resched();
	}
	return done * sizeof(*ubuf);
}
