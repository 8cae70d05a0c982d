// SPDX-License-Identifier: GPL-2.0
/*
 * Finalizer and cleanup events of an open /dev/spanheap.
 *
 * FINALIZER allocates the event record up front, charged to the opener,
 * and passes it to the core as the finalizer's context: the user's
 * token lives only in the record, outside the heap, so the collector
 * never scans it.  An event moves armed -> events -> reading -> freed;
 * clearing the finalizer frees an armed one.  The core hands each
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

static void event_free(struct uheap *u, struct uh_event *ev)
{
	kfree(ev);
	uheap_uncharge(u, sizeof(*ev));
}

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

/* A new event record, charged; NULL if there is no memory or room. */
static struct uh_event *event_new(struct uheap *u, u16 type, u64 token,
				  u64 handle)
{
	struct uh_event *ev;

	if (uheap_charge(u, sizeof(*ev)))
		return NULL;
	ev = kmalloc(sizeof(*ev), SHP_GFP);	/* zeroed inline, see uh_table_insert() */
	if (!ev) {
		uheap_uncharge(u, sizeof(*ev));
		return NULL;
	}
	memset(ev, 0, sizeof(*ev));
	ev->ev.event_len = sizeof(ev->ev);
	ev->ev.version = SPANHEAP_EVENT_VERSION;
	ev->ev.type = type;
	ev->ev.token = token;
	ev->ev.handle = handle;
	return ev;
}

/* Unlink an armed event that will never run, and free it. */
static void event_disarm(struct uheap *u, struct uh_event *ev)
{
	spin_lock(&u->ev_lock);
	list_del(&ev->node);
	spin_unlock(&u->ev_lock);
	event_free(u, ev);
}

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
	ev = event_new(u, SPANHEAP_EVENT_CLEANUP, token, 0);
	if (!ev)
		return -ENOMEM;
	/* Garbage at once if this fails; tiny objects cannot be freed. */
	arg = spanheap_alloc(u->heap, sizeof(*arg), SPANHEAP_NOSCAN);
	if (!arg) {
		event_free(u, ev);
		return -ENOMEM;
	}
	*arg = ev;
	spin_lock(&u->ev_lock);
	list_add_tail(&ev->node, &u->armed);
	spin_unlock(&u->ev_lock);
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
	/* Stopped, so it will never run: its record is ours to free. */
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
	ev = event_new(u, SPANHEAP_EVENT_FINALIZER, token, h->handle);
	if (!ev)
		return -ENOMEM;
	ev->obj = obj;
	/* Linked first: the worker may move it as soon as the finalizer is set. */
	spin_lock(&u->ev_lock);
	list_add_tail(&ev->node, &u->armed);
	spin_unlock(&u->ev_lock);
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

static void free_list(struct list_head *head)
{
	struct uh_event *ev, *tmp;

	list_for_each_entry_safe(ev, tmp, head, node)
		kfree(ev);
}

/**
 * uheap_events_free() - free every event record of a closed file
 * @u: state whose heap is destroyed (no worker can run)
 *
 * Context: process context.
 */
void uheap_events_free(struct uheap *u)
{
	free_list(&u->armed);
	free_list(&u->events);
	free_list(&u->reading);
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
 * Records read() copies out per round: one lock round trip, one user
 * copy, one bulk free and one uncharge for all of them (the bounce
 * buffer is on the stack: 512 bytes).
 */
#define UH_READ_CHUNK	16

/* Up to @max oldest delivered events into @evs, moved to u->reading. */
static unsigned int events_take(struct uheap *u, struct uh_event **evs,
				unsigned int max)
{
	unsigned int n = 0;

	spin_lock(&u->ev_lock);
	while (n < max && !list_empty(&u->events)) {
		evs[n] = list_first_entry(&u->events, struct uh_event, node);
		list_move_tail(&evs[n]->node, &u->reading);
		n++;
	}
	WRITE_ONCE(u->nevents, u->nevents - n);
	spin_unlock(&u->ev_lock);
	return n;
}

/*
 * @ok of the @n events taken were copied out: free those, and put the
 * others back at the head of the queue, in their order.
 */
static void events_done(struct uheap *u, struct uh_event **evs,
			unsigned int ok, unsigned int n)
{
	unsigned int i;

	spin_lock(&u->ev_lock);
	for (i = 0; i < ok; i++)
		list_del(&evs[i]->node);
	u->nread += ok;
	for (i = n; i > ok; i--)
		list_move(&evs[i - 1]->node, &u->events);
	WRITE_ONCE(u->nevents, u->nevents + n - ok);
	if (trace_spanheap_uheap_event_read_enabled())
		for (i = 0; i < ok; i++)
			trace_spanheap_uheap_event_read(u->heap, &evs[i]->ev,
							u->nevents);
	spin_unlock(&u->ev_lock);
	if (ok < n)
		wake_up_interruptible_poll(&u->wq, EPOLLIN | EPOLLRDNORM);
	/* One freelist update per slab page, not one per record. */
	kfree_bulk(ok, (void **)evs);
	uheap_uncharge(u, ok * sizeof(*evs[0]));
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
	size_t want = count / sizeof(struct spanheap_event), done = 0;
	struct spanheap_event bounce[UH_READ_CHUNK];
	struct uh_event *evs[UH_READ_CHUNK];
	unsigned int n, ok, i;
	unsigned long left;
	int ret;

	if (!want)
		return -EINVAL;
	while (done < want) {
		n = events_take(u, evs, min_t(size_t, want - done, UH_READ_CHUNK));
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
		for (i = 0; i < n; i++)
			bounce[i] = evs[i]->ev;
		left = copy_to_user(buf + done * sizeof(bounce[0]), bounce,
				    n * sizeof(bounce[0]));
		/* Whole records only: a torn one is handed out again. */
		ok = n - DIV_ROUND_UP(left, sizeof(bounce[0]));
		events_done(u, evs, ok, n);
		done += ok;
		if (ok < n)
			return done ? done * sizeof(bounce[0]) : -EFAULT;
	}
	return done * sizeof(struct spanheap_event);
}
