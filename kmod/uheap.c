// SPDX-License-Identifier: GPL-2.0
/*
 * The heap behind an open /dev/spanheap: objects named by handles,
 * finalizers delivered as events.
 *
 * Handles: bit 63 clear (never a kernel address, so a handle stored in
 * an object cannot look like a pointer to the conservative scan), a
 * 19-bit tag unique among open files, a 20-bit generation and a 24-bit
 * table index.  Another file's handle fails the tag check (-EINVAL); an
 * index never handed out is -ENOENT; a generation that no longer matches
 * (the object was collected and its slot freed or reused) is -ESTALE.
 * The table does not keep objects alive: an entry is checked against the
 * object's header on every use and reclaimed once its object is gone.
 *
 * Events: the finalizer of every object of this heap is
 * uheap_finalizer(); running on the heap's finalizer worker it pins the
 * object and queues an event, and read() unpins it.  When the queue is
 * full the finalizer is set again instead, so the object lives on and its
 * event comes at a later cycle: nothing is lost and the worker never
 * blocks.
 */
#include <linux/idr.h>
#include <linux/err.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include "internal.h"
#include "uheap.h"

#define UH_TAG_BITS	19
#define UH_GEN_BITS	20
#define UH_INDEX_BITS	24
#define UH_GEN_MASK	((1U << UH_GEN_BITS) - 1)
#define UH_MAX_ENTRIES	(1U << UH_INDEX_BITS)

static DEFINE_IDA(uh_tags);

static u64 uh_handle(struct uheap *u, u32 idx, u32 gen)
{
	return (u64)u->tag << (UH_GEN_BITS + UH_INDEX_BITS) |
	       (u64)(gen & UH_GEN_MASK) << UH_INDEX_BITS | idx;
}

static struct uh_header *hdr(void *obj)
{
	return obj;
}

static u64 *ref_slots(void *obj)
{
	return (u64 *)(hdr(obj) + 1);
}

static void entry_free(struct uheap *u, u32 idx)
{
	struct uh_entry *e = &u->tab[idx];

	e->obj = NULL;
	e->gen = (e->gen + 1) & UH_GEN_MASK;
	e->roots = 0;
	e->next_free = u->free_head;
	u->free_head = idx;
}

/* Give back an entry that was never handed out: its generation stays. */
static void entry_put(struct uheap *u, u32 idx)
{
	u->tab[idx].next_free = u->free_head;
	u->free_head = idx;
}

/* Is entry @idx's object still the one it names?  Context: section, u->lock. */
static bool entry_live(struct uheap *u, u32 idx)
{
	struct uh_entry *e = &u->tab[idx];

	return e->obj && shp_object_live(u->heap, e->obj) &&
	       hdr(e->obj)->handle == uh_handle(u, idx, e->gen);
}

/* Free the entries of collected objects.  Context: section, u->lock. */
static u32 table_reclaim(struct uheap *u)
{
	u32 idx, n = 0;

	for (idx = 1; idx < u->cap; idx++) {
		if (u->tab[idx].obj && !entry_live(u, idx)) {
			entry_free(u, idx);
			n++;
		}
	}
	return n;
}

/* A free entry index, reclaiming or growing the table; 0 if none. */
static u32 entry_get(struct uheap *u)
{
	struct uh_entry *tab;
	u32 idx, cap;

	if (!u->free_head && !table_reclaim(u) && u->cap < UH_MAX_ENTRIES) {
		cap = u->cap ? min(u->cap * 2, UH_MAX_ENTRIES) : 256;
		tab = kvcalloc(cap, sizeof(*tab), GFP_KERNEL_ACCOUNT);
		if (!tab)
			return 0;
		if (u->cap)
			memcpy(tab, u->tab, u->cap * sizeof(*tab));
		kvfree(u->tab);
		u->tab = tab;
		for (idx = cap - 1; idx >= max(u->cap, 1U); idx--) {
			tab[idx].next_free = u->free_head;
			u->free_head = idx;
		}
		u->cap = cap;
	}
	idx = u->free_head;
	if (idx)
		u->free_head = u->tab[idx].next_free;
	return idx;
}

/* Resolve a handle.  Context: section, u->lock.  Returns index or -errno. */
static long lookup(struct uheap *u, u64 handle)
{
	u32 idx = handle & (UH_MAX_ENTRIES - 1);
	u32 gen = (handle >> UH_INDEX_BITS) & UH_GEN_MASK;

	if (handle >> (UH_GEN_BITS + UH_INDEX_BITS) != u->tag)
		return -EINVAL;		/* another file's, or made up */
	if (!idx || idx >= u->cap)
		return -ENOENT;
	if (u->tab[idx].gen != gen)
		return -ESTALE;		/* its object was collected */
	if (!u->tab[idx].obj)
		return -ENOENT;		/* never handed out */
	if (!entry_live(u, idx)) {
		entry_free(u, idx);
		return -ESTALE;
	}
	return idx;
}

/* Resolve a handle to an object of @kind (0: any). */
static void *lookup_obj(struct uheap *u, u64 handle, u32 kind, long *err)
{
	long idx = lookup(u, handle);
	void *obj;

	if (idx < 0) {
		*err = idx;
		return NULL;
	}
	obj = u->tab[idx].obj;
	if (kind && hdr(obj)->kind != kind) {
		*err = -EINVAL;
		return NULL;
	}
	return obj;
}

static void uheap_finalizer(struct spanheap *heap, void *obj, void *ctx);

/**
 * uheap_create() - the state of a new open file
 *
 * Context: process context.
 * Return: the uheap or an ERR_PTR.
 */
struct uheap *uheap_create(void)
{
	struct uheap *u = kzalloc(sizeof(*u), GFP_KERNEL_ACCOUNT);
	int tag;

	if (!u)
		return ERR_PTR(-ENOMEM);
	tag = ida_alloc_range(&uh_tags, 1, (1 << UH_TAG_BITS) - 1, GFP_KERNEL);
	if (tag < 0) {
		kfree(u);
		return ERR_PTR(tag);
	}
	u->tag = tag;
	u->heap = spanheap_create("dev", READ_ONCE(shp_dev_mem_limit));
	if (IS_ERR(u->heap)) {
		long err = PTR_ERR(u->heap);

		ida_free(&uh_tags, tag);
		kfree(u);
		return ERR_PTR(err);
	}
	u->heap->owner = u;
	mutex_init(&u->lock);
	spin_lock_init(&u->ev_lock);
	INIT_LIST_HEAD(&u->events);
	init_waitqueue_head(&u->wq);
	u->ev_max = READ_ONCE(shp_dev_event_queue_max);
	return u;
}

/**
 * uheap_destroy() - free everything of a closed file
 * @u: state; no ioctl, read or poll can run any more
 *
 * Destroying the heap waits for a finalizer being delivered and drops
 * the ones still queued.
 *
 * Context: process context.
 */
void uheap_destroy(struct uheap *u)
{
	struct uh_event *ev, *tmp;

	spanheap_destroy(u->heap);
	list_for_each_entry_safe(ev, tmp, &u->events, node)
		kfree(ev);
	kvfree(u->tab);
	ida_free(&uh_tags, u->tag);
	kfree(u);
}

/* Runs on the heap's finalizer worker, inside a section. */
static void uheap_finalizer(struct spanheap *heap, void *obj, void *ctx)
{
	struct uheap *u = heap->owner;
	struct uh_event *ev = kmalloc(sizeof(*ev), GFP_KERNEL_ACCOUNT);
	bool full;

	spin_lock(&u->ev_lock);
	full = u->nevents >= u->ev_max;
	spin_unlock(&u->ev_lock);
	if (full || !ev || spanheap_pin(heap, obj)) {
		/* No room: re-arm, the object survives, the event comes later. */
		kfree(ev);
		spin_lock(&u->ev_lock);
		u->ndeferred++;
		spin_unlock(&u->ev_lock);
		WARN_ON_ONCE(spanheap_set_finalizer(heap, obj, uheap_finalizer, ctx));
		return;
	}
	ev->obj = obj;
	ev->ev.event_len = sizeof(ev->ev);
	ev->ev.version = SPANHEAP_EVENT_VERSION;
	ev->ev.type = SPANHEAP_EVENT_FINALIZER;
	ev->ev.token = (u64)(unsigned long)ctx;
	ev->ev.handle = hdr(obj)->handle;
	spin_lock(&u->ev_lock);
	ev->ev.seq = ++u->seq;
	list_add_tail(&ev->node, &u->events);
	u->nevents++;
	u->nrun++;
	spin_unlock(&u->ev_lock);
	wake_up_interruptible_poll(&u->wq, EPOLLIN | EPOLLRDNORM);
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

/**
 * uheap_read() - hand out whole event records
 * @u: state
 * @buf: user buffer
 * @count: its size; smaller than one record is -EINVAL
 * @nonblock: O_NONBLOCK: -EAGAIN instead of waiting
 *
 * Each record handed out unpins its object.
 *
 * Context: process context.
 * Return: bytes read, -EINVAL, -EAGAIN, -ERESTARTSYS or -EFAULT.
 */
ssize_t uheap_read(struct uheap *u, char __user *buf, size_t count,
		   bool nonblock)
{
	size_t want = count / sizeof(struct spanheap_event), done = 0;
	struct uh_event *ev;
	int ret;

	if (!want)
		return -EINVAL;
	for (;;) {
		if (uheap_readable(u))
			break;
		if (nonblock)
			return -EAGAIN;
		ret = wait_event_interruptible(u->wq, uheap_readable(u));
		if (ret)
			return ret;
	}
	while (done < want) {
		spin_lock(&u->ev_lock);
		ev = list_first_entry_or_null(&u->events, struct uh_event, node);
		if (ev) {
			list_del(&ev->node);
			u->nevents--;
		}
		spin_unlock(&u->ev_lock);
		if (!ev)
			break;
		if (copy_to_user(buf + done * sizeof(ev->ev), &ev->ev,
				 sizeof(ev->ev))) {
			spin_lock(&u->ev_lock);		/* put it back */
			list_add(&ev->node, &u->events);
			u->nevents++;
			spin_unlock(&u->ev_lock);
			return done ? done * sizeof(ev->ev) : -EFAULT;
		}
		spanheap_enter(u->heap);
		WARN_ON_ONCE(spanheap_unpin(u->heap, ev->obj));
		spanheap_exit(u->heap);
		spin_lock(&u->ev_lock);
		u->nread++;
		spin_unlock(&u->ev_lock);
		kfree(ev);
		done++;
	}
	return done * sizeof(struct spanheap_event);
}

/* ---- ioctl operations; each runs inside a section with u->lock held ---- */

static long op_alloc(struct uheap *u, struct spanheap_alloc *a)
{
	size_t bytes;
	u32 idx;
	void *obj;

	if (a->flags & ~SPANHEAP_ALLOC_ROOTED || a->reserved || a->handle)
		return -EINVAL;
	if (a->kind == SPANHEAP_KIND_DATA && a->length >= 1 &&
	    a->length <= SPANHEAP_MAX_OBJECT)
		bytes = sizeof(struct uh_header) + a->length;
	else if (a->kind == SPANHEAP_KIND_REF && a->length >= 1 &&
		 a->length <= SPANHEAP_MAX_SLOTS)
		bytes = sizeof(struct uh_header) + a->length * sizeof(u64);
	else
		return -EINVAL;
	idx = entry_get(u);
	if (!idx)
		return -ENOMEM;
	obj = spanheap_alloc(u->heap, bytes,
			     a->kind == SPANHEAP_KIND_DATA ? SPANHEAP_NOSCAN : 0);
	/* On failure obj, if any, is garbage: the next cycle takes it. */
	if (!obj || (a->flags & SPANHEAP_ALLOC_ROOTED && spanheap_pin(u->heap, obj))) {
		entry_put(u, idx);
		return -ENOMEM;
	}
	u->tab[idx].obj = obj;
	hdr(obj)->handle = a->handle = uh_handle(u, idx, u->tab[idx].gen);
	hdr(obj)->kind = a->kind;
	hdr(obj)->length = a->length;
	if (a->flags & SPANHEAP_ALLOC_ROOTED) {
		u->tab[idx].roots = 1;
		u->nroots++;
	}
	return 0;
}

static long op_rw(struct uheap *u, struct spanheap_rw *a, bool write)
{
	void __user *ubuf = u64_to_user_ptr(a->buf);
	long err;
	u64 end;
	char *obj;

	if (a->flags)
		return -EINVAL;
	obj = lookup_obj(u, a->handle, SPANHEAP_KIND_DATA, &err);
	if (!obj)
		return err;
	if (check_add_overflow(a->offset, a->length, &end) ||
	    end > hdr(obj)->length)
		return -ERANGE;
	obj += sizeof(struct uh_header) + a->offset;
	if (write ? copy_from_user(obj, ubuf, a->length) :
		    copy_to_user(ubuf, obj, a->length))
		return -EFAULT;
	return 0;
}

static long op_ref(struct uheap *u, struct spanheap_ref *a, bool store)
{
	void *obj, *target = NULL;
	long err;

	if (a->flags)
		return -EINVAL;
	obj = lookup_obj(u, a->handle, SPANHEAP_KIND_REF, &err);
	if (!obj)
		return err;
	if (a->slot >= hdr(obj)->length)
		return -ERANGE;
	if (!store) {
		target = (void *)(unsigned long)READ_ONCE(ref_slots(obj)[a->slot]);
		a->value = target ? hdr(target)->handle : 0;
		return 0;
	}
	if (a->value) {
		target = lookup_obj(u, a->value, 0, &err);
		if (!target)
			return err;
	}
	WRITE_ONCE(ref_slots(obj)[a->slot], (u64)(unsigned long)target);
	return 0;
}

static long op_root(struct uheap *u, struct spanheap_root *a, bool root)
{
	long idx, err;

	if (a->flags || a->count)
		return -EINVAL;
	idx = lookup(u, a->handle);
	if (idx < 0)
		return idx;
	if (root) {
		err = spanheap_pin(u->heap, u->tab[idx].obj);
		if (err)
			return err;
		u->tab[idx].roots++;
		u->nroots++;
	} else {
		if (!u->tab[idx].roots)
			return -EINVAL;
		WARN_ON_ONCE(spanheap_unpin(u->heap, u->tab[idx].obj));
		u->tab[idx].roots--;
		u->nroots--;
	}
	a->count = u->tab[idx].roots;
	return 0;
}

static long op_finalizer(struct uheap *u, struct spanheap_finalizer *a)
{
	void *obj;
	long err;

	if (a->flags & ~SPANHEAP_FIN_CLEAR ||
	    (a->flags & SPANHEAP_FIN_CLEAR && a->token))
		return -EINVAL;
	obj = lookup_obj(u, a->handle, 0, &err);
	if (!obj)
		return err;
	if (a->flags & SPANHEAP_FIN_CLEAR)
		return spanheap_set_finalizer(u->heap, obj, NULL, NULL);
	return spanheap_set_finalizer(u->heap, obj, uheap_finalizer,
				      (void *)(unsigned long)a->token);
}

static long op_stats(struct uheap *u, struct spanheap_stats_v1 *a)
{
	struct spanheap_stats *st = kmalloc(sizeof(*st), GFP_KERNEL);

	if (!st)
		return -ENOMEM;
	spanheap_read_stats(u->heap, st);
	memset(a, 0, sizeof(*a));
	a->version = SPANHEAP_STATS_VERSION;
	a->objects = st->objects_in_use;
	a->bytes_in_use = st->bytes_in_use;
	a->bytes_reserved = st->bytes_reserved;
	a->mem_limit = st->limit;
	a->collections = st->collections;
	a->finalizers_set = st->specials[SPANHEAP_SPECIAL_FINALIZER];
	a->finalizers_queued = st->fin_pending;
	a->gc_percent = st->gc_percent;
	kfree(st);
	mutex_lock(&u->lock);
	a->roots = u->nroots;
	mutex_unlock(&u->lock);
	spin_lock(&u->ev_lock);
	a->finalizers_run = u->nrun;
	a->events_pending = u->nevents;
	a->events_read = u->nread;
	a->events_deferred = u->ndeferred;
	a->event_queue_max = u->ev_max;
	spin_unlock(&u->ev_lock);
	return 0;
}

static long op_params(struct uheap *u, struct spanheap_params *a)
{
	if (a->flags & ~(SPANHEAP_PARAM_GC_PERCENT | SPANHEAP_PARAM_MEM_LIMIT |
			 SPANHEAP_PARAM_EVENT_QUEUE))
		return -EINVAL;
	if (a->flags & SPANHEAP_PARAM_MEM_LIMIT &&
	    (a->mem_limit < (1 << 20) || a->mem_limit > READ_ONCE(shp_dev_mem_limit)))
		return -EINVAL;
	if (a->flags & SPANHEAP_PARAM_EVENT_QUEUE &&
	    (!a->event_queue_max ||
	     a->event_queue_max > READ_ONCE(shp_dev_event_queue_max)))
		return -EINVAL;
	if (a->flags & SPANHEAP_PARAM_GC_PERCENT)
		spanheap_set_gc_percent(u->heap, a->gc_percent);
	if (a->flags & SPANHEAP_PARAM_MEM_LIMIT)
		spanheap_set_limit(u->heap, a->mem_limit);
	if (a->flags & SPANHEAP_PARAM_EVENT_QUEUE) {
		spin_lock(&u->ev_lock);
		u->ev_max = a->event_queue_max;
		spin_unlock(&u->ev_lock);
	}
	return 0;
}

union uheap_args {
	struct spanheap_alloc alloc;
	struct spanheap_rw rw;
	struct spanheap_ref ref;
	struct spanheap_root root;
	struct spanheap_finalizer fin;
	struct spanheap_gc gc;
	struct spanheap_stats_v1 stats;
	struct spanheap_params params;
};

/* Object operations: inside a section, under u->lock. */
static long object_op(struct uheap *u, unsigned int cmd, union uheap_args *a)
{
	long ret;

	spanheap_enter(u->heap);
	mutex_lock(&u->lock);
	switch (cmd) {
	case SPANHEAP_IOC_ALLOC:
		ret = op_alloc(u, &a->alloc);
		break;
	case SPANHEAP_IOC_WRITE:
	case SPANHEAP_IOC_READ:
		ret = op_rw(u, &a->rw, cmd == SPANHEAP_IOC_WRITE);
		break;
	case SPANHEAP_IOC_STORE:
	case SPANHEAP_IOC_LOAD:
		ret = op_ref(u, &a->ref, cmd == SPANHEAP_IOC_STORE);
		break;
	case SPANHEAP_IOC_ROOT:
	case SPANHEAP_IOC_UNROOT:
		ret = op_root(u, &a->root, cmd == SPANHEAP_IOC_ROOT);
		break;
	default:
		ret = op_finalizer(u, &a->fin);
	}
	mutex_unlock(&u->lock);
	spanheap_exit(u->heap);
	return ret;
}

static long op_gc(struct uheap *u, struct spanheap_gc *a)
{
	struct spanheap_stats *st;

	if (a->flags & ~SPANHEAP_GC_WAIT || a->collections)
		return -EINVAL;
	spanheap_collect(u->heap);
	if (a->flags & SPANHEAP_GC_WAIT)
		spanheap_wait_finalizers(u->heap);
	st = kmalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;
	spanheap_read_stats(u->heap, st);
	a->collections = st->collections;
	kfree(st);
	return 0;
}

static size_t arg_size(unsigned int cmd)
{
	switch (cmd) {
	case SPANHEAP_IOC_ALLOC:	return sizeof(struct spanheap_alloc);
	case SPANHEAP_IOC_WRITE:
	case SPANHEAP_IOC_READ:		return sizeof(struct spanheap_rw);
	case SPANHEAP_IOC_STORE:
	case SPANHEAP_IOC_LOAD:		return sizeof(struct spanheap_ref);
	case SPANHEAP_IOC_ROOT:
	case SPANHEAP_IOC_UNROOT:	return sizeof(struct spanheap_root);
	case SPANHEAP_IOC_FINALIZER:	return sizeof(struct spanheap_finalizer);
	case SPANHEAP_IOC_GC:		return sizeof(struct spanheap_gc);
	case SPANHEAP_IOC_STATS:	return sizeof(struct spanheap_stats_v1);
	case SPANHEAP_IOC_SET_PARAMS:	return sizeof(struct spanheap_params);
	}
	return 0;
}

/**
 * uheap_ioctl() - run one SPANHEAP_IOC_* command
 * @u: state
 * @cmd: command
 * @arg: user pointer to its struct
 *
 * The struct is read with copy_struct_from_user(): its first __u32 is
 * its size, which must be at least this kernel's size (larger is fine if
 * the extra bytes are zero); this kernel's size is written back.
 * STATS instead accepts any size from 8 bytes and writes what fits.
 *
 * Context: process context.
 * Return: 0 or a negative errno (see Documentation/spanheap/uapi.rst).
 */
long uheap_ioctl(struct uheap *u, unsigned int cmd, void __user *arg)
{
	size_t ksize = arg_size(cmd);
	union uheap_args a;
	u32 usize;
	long ret;

	if (!ksize)
		return -ENOTTY;
	if (get_user(usize, (u32 __user *)arg))
		return -EFAULT;
	if (cmd == SPANHEAP_IOC_STATS) {
		if (usize < offsetofend(struct spanheap_stats_v1, version))
			return -EINVAL;
		ret = op_stats(u, &a.stats);
		if (ret)
			return ret;
		a.stats.size = min_t(size_t, usize, ksize);
		return copy_to_user(arg, &a.stats, a.stats.size) ? -EFAULT : 0;
	}
	if (usize < ksize)
		return -EINVAL;
	ret = copy_struct_from_user(&a, ksize, arg, usize);
	if (ret)
		return ret == -E2BIG ? -EINVAL : ret;
	switch (cmd) {
	case SPANHEAP_IOC_GC:
		ret = op_gc(u, &a.gc);
		break;
	case SPANHEAP_IOC_SET_PARAMS:
		ret = op_params(u, &a.params);
		break;
	default:
		ret = object_op(u, cmd, &a);
	}
	if (ret)
		return ret;
	return copy_to_user(arg, &a, ksize) ? -EFAULT : 0;
}
