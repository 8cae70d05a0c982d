// SPDX-License-Identifier: GPL-2.0
/*
 * The heap behind an open /dev/spanheap: objects named by handles.
 *
 * Handles: bit 63 clear (never a kernel address, so a handle stored in
 * an object cannot look like a pointer to the conservative scan), bit
 * 62 set only in weak handles (uheap_weak.c), an 18-bit tag unique among
 * open files, a 20-bit generation and a 24-bit table index.  Another
 * file's handle, or a weak one, fails the tag check (-EINVAL); an index
 * never handed out is -ENOENT; a handle whose object was collected is
 * -ESTALE.  Indices are handed out cyclically and the
 * generation advances when they wrap, so a handle names one object
 * only; when the generation would wrap too, the file retires and ALLOC
 * fails with -ENOSPC (after 2^44 allocations).
 *
 * The table does not keep objects alive: an entry is checked against
 * the object's header and allocation state on every use, and dropped
 * once its object is gone; ALLOC drops all such entries whenever the
 * table has doubled since the last time, so it holds O(live objects).
 *
 * Nothing here copies user memory inside a mutator section: a copy that
 * faults on a userfaultfd or FUSE page would stall every collection.
 * READ and WRITE go through a bounce buffer a page at a time,
 * re-validating the handle for each page.
 */
#include <linux/idr.h>
#include <linux/err.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include "internal.h"
#include "uheap.h"

#define UH_RECLAIM_MIN	256

static DEFINE_IDA(uh_tags);

/* Defaults of chardev.c's mem_limit and event_queue_max parameters. */
unsigned long shp_dev_mem_limit = 64UL << 20;
unsigned int shp_dev_event_queue_max = 4096;

static struct uh_header *hdr(void *obj)
{
	return obj;
}

static u64 *ref_slots(void *obj)
{
	return (u64 *)(hdr(obj) + 1);
}

/* Remove an entry, with its books and charges.  Context: section, u->lock. */
static void entry_erase(struct uheap *u, u32 idx, struct uh_entry *e)
{
	lockdep_assert_held(&u->lock);
	u->nroots -= e->roots;
	u->nrooted -= !!e->roots;
	u->nentries--;
	uh_tab_erase(u, idx, e);
}

/*
 * Is @e's object still the one it names?  A rooted entry's is: the root
 * scan marks it, so no cycle frees it (and no sweep reuses it) while
 * the entry stays rooted, which takes u->lock to change.  Only the
 * others are looked up, a pagemap lookup and a sweep check that the
 * command (FINALIZER, CLEANUP, ...) would then do again.
 * Context: section, u->lock.
 */
static bool entry_live(struct uheap *u, struct uh_entry *e)
{
	shp_assert_in_section(u->heap);
	lockdep_assert_held(&u->lock);
	if (e->rooted)
		return true;
	return shp_object_live(u->heap, e->obj) &&
	       hdr(e->obj)->handle == e->handle;
}

/*
 * Drop the entries of collected objects.  Only entries without a ROOT
 * count are dropped, so when every entry has one the walk is skipped.
 * Context: section, u->lock.
 */
static void table_reclaim(struct uheap *u)
{
	struct uh_entry *e;
	u32 idx, n = 0;

	shp_assert_in_section(u->heap);
	lockdep_assert_held(&u->lock);
	if (u->nrooted == u->nentries)
		goto out;
	for (idx = 0; (e = uh_tab_next(&u->tab, &idx)); idx++) {
		if (!e->roots && !entry_live(u, e))
			entry_erase(u, idx, e);
		if (!(++n % 1024))
			cond_resched();
	}
out:
	u->reclaim_at = max(2 * u->nentries, UH_RECLAIM_MIN);
}

/* Resolve a handle.  Context: section, u->lock.  Returns entry or ERR_PTR. */
static struct uh_entry *lookup(struct uheap *u, u64 handle)
{
	u32 idx = handle & (UH_MAX_ENTRIES - 1);
	struct uh_entry *e;

	shp_assert_in_section(u->heap);
	lockdep_assert_held(&u->lock);
	if (handle >> (UH_GEN_BITS + UH_INDEX_BITS) != u->tag)
		return ERR_PTR(-EINVAL);	/* another file's, weak, or made up */
	if (!idx)
		return ERR_PTR(-ENOENT);
	e = uh_tab_get(&u->tab, idx);
	if (e && e->handle == handle) {
		if (e->pending)
			return ERR_PTR(-ENOENT);	/* not handed out yet */
		if (entry_live(u, e))
			return e;
		entry_erase(u, idx, e);
		return ERR_PTR(-ESTALE);
	}
	/* Handed out before (another generation, or this one's past)? */
	if (e || uh_handed_out(handle, u->epoch, u->next_idx))
		return ERR_PTR(-ESTALE);
	return ERR_PTR(-ENOENT);
}

/* Resolve a handle to an object of @kind (0: any), or an ERR_PTR. */
static void *lookup_obj(struct uheap *u, u64 handle, u32 kind)
{
	struct uh_entry *e = lookup(u, handle);

	if (IS_ERR(e))
		return e;
	if (kind && hdr(e->obj)->kind != kind)
		return ERR_PTR(-EINVAL);
	return e->obj;
}

static void uheap_scan_roots(struct spanheap *heap, void *arg)
{
	struct uheap *u = arg;
	struct uh_entry *e;
	u32 idx;

	/* The world is stopped: no section changes u->tab meanwhile. */
	for (idx = 0; (e = uh_tab_next_rooted(&u->tab, &idx)); idx++)
		spanheap_mark_root(heap, e->obj);
	/* Not u->wtab, not u->cleanups: neither keeps anything alive. */
	uheap_events_scan(u);
}

/**
 * uheap_create() - the state of a new open file
 *
 * Context: process context; charged to the caller's memcg.
 * Return: the uheap or an ERR_PTR.
 */
struct uheap *uheap_create(void)
{
	struct uheap *u = kzalloc(sizeof(*u), SHP_GFP);
	int tag;

	if (!u)
		return ERR_PTR(-ENOMEM);
	tag = ida_alloc_range(&uh_tags, 1, (1 << UH_TAG_BITS) - 1, SHP_GFP);
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
	u->next_idx = 1;		/* u->tab is empty: no directory yet */
	u->reclaim_at = UH_RECLAIM_MIN;
	spin_lock_init(&u->ev_lock);
	INIT_LIST_HEAD(&u->armed);
	INIT_LIST_HEAD(&u->events);
	INIT_LIST_HEAD(&u->reading);
	INIT_LIST_HEAD(&u->ev_partial);
	INIT_LIST_HEAD(&u->ev_full);
	xa_init(&u->cleanups);
	uheap_weak_init(u);
	init_waitqueue_head(&u->wq);
	u->ev_max = READ_ONCE(shp_dev_event_queue_max);
	spanheap_set_root_scan(u->heap, uheap_scan_roots, u);
	return u;
}

/**
 * uheap_destroy() - free everything of a closed file
 * @u: state; no ioctl, read or poll can run any more
 *
 * The core's weak references go first (it requires that).  Destroying
 * the heap then waits for a finalizer or cleanups being delivered and
 * drops the ones still queued; every event record, armed, queued or
 * delivered, is on one of the event lists and freed with them.
 *
 * Context: process context.
 */
void uheap_destroy(struct uheap *u)
{
	uheap_weak_free(u);
	/*
	 * What this layer charged goes with it, before the heap checks its
	 * books; under u->lock, as a cleanup running meanwhile uncharges.
	 */
	mutex_lock(&u->lock);
	u->closing = true;
	spanheap_uncharge(u->heap, atomic_long_read(&u->charged));
	mutex_unlock(&u->lock);
	spanheap_destroy(u->heap);
	uheap_events_free(u);
	xa_destroy(&u->cleanups);
	uh_tab_free(&u->tab);
	kfree(u->batch_spare);
	ida_free(&uh_tags, u->tag);
	kfree(u);
}

/* ---- object operations; each runs inside a section with u->lock held ---- */

static long op_alloc(struct uheap *u, struct spanheap_alloc *a)
{
	struct uh_entry *e;
	bool wrapped = false;
	size_t bytes;
	void *obj;
	u32 idx;

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
	if (u->epoch > UH_GEN_MASK)
		return -ENOSPC;			/* retired: every handle used */
	if (u->nentries >= u->reclaim_at)
		table_reclaim(u);
	/* The entry first (and its leaf): once the object exists, nothing may fail. */
	e = uh_tab_insert(u, &idx, &wrapped);
	if (IS_ERR(e))
		return PTR_ERR(e);
	u->nentries++;
	/* Indices wrapped: a new generation, or retire when none is left. */
	if (wrapped && ++u->epoch > UH_GEN_MASK) {
		entry_erase(u, idx, e);
		return -ENOSPC;
	}
	e->handle = uh_handle(u, idx, u->epoch);
	e->pending = true;
	obj = spanheap_alloc(u->heap, bytes,
			     a->kind == SPANHEAP_KIND_DATA ? SPANHEAP_NOSCAN : 0);
	if (!obj) {
		entry_erase(u, idx, e);
		return -ENOMEM;
	}
	e->obj = obj;
	a->handle = e->handle;
	hdr(obj)->handle = e->handle;
	hdr(obj)->kind = a->kind;
	hdr(obj)->length = a->length;
	if (a->flags & SPANHEAP_ALLOC_ROOTED) {
		e->roots = 1;
		u->nroots++;
		u->nrooted++;
		uh_tab_set_rooted(u, idx, e, true);
	}
	return 0;
}

static long op_ref(struct uheap *u, struct spanheap_ref *a, bool store)
{
	void *obj, *target = NULL;

	if (a->flags || (!store && a->value))
		return -EINVAL;
	obj = lookup_obj(u, a->handle, SPANHEAP_KIND_REF);
	if (IS_ERR(obj))
		return PTR_ERR(obj);
	if (a->slot >= hdr(obj)->length)
		return -ERANGE;
	if (!store) {
		/* A slot's referent is reachable from @obj, hence allocated. */
		target = (void *)(unsigned long)READ_ONCE(ref_slots(obj)[a->slot]);
		a->value = target ? hdr(target)->handle : 0;
		return 0;
	}
	if (a->value) {
		target = lookup_obj(u, a->value, 0);
		if (IS_ERR(target))
			return PTR_ERR(target);
	}
	WRITE_ONCE(ref_slots(obj)[a->slot], (u64)(unsigned long)target);
	return 0;
}

/*
 * ROOT (@delta 1) or UNROOT (-1).  An entry stays a root until its
 * UNROOTs are settled (@unroots), so that each can still be undone.
 */
static long root_adjust(struct uheap *u, struct uh_entry *e, int delta)
{
	u32 idx = e->handle & (UH_MAX_ENTRIES - 1);

	if (delta > 0 && e->roots == U32_MAX)
		return -EOVERFLOW;
	if (delta < 0 && !e->roots)
		return -EINVAL;
	u->nrooted += !e->roots - !(e->roots + delta);
	e->roots += delta;
	u->nroots += delta;
	if (e->roots)
		uh_tab_set_rooted(u, idx, e, true);
	return 0;
}

static long op_root(struct uheap *u, struct spanheap_root *a, bool root)
{
	struct uh_entry *e;
	long ret;

	if (a->flags || a->count)
		return -EINVAL;
	e = lookup(u, a->handle);
	if (IS_ERR(e))
		return PTR_ERR(e);
	ret = root_adjust(u, e, root ? 1 : -1);
	if (!ret && !root)
		e->unroots++;		/* until uheap_settle_locked() */
	a->count = e->roots;
	return ret;
}

static long op_finalizer(struct uheap *u, struct spanheap_finalizer *a)
{
	void *obj;

	if (a->flags & ~SPANHEAP_FIN_CLEAR ||
	    (a->flags & SPANHEAP_FIN_CLEAR && a->token))
		return -EINVAL;
	obj = lookup_obj(u, a->handle, 0);
	if (IS_ERR(obj))
		return PTR_ERR(obj);
	if (a->flags & SPANHEAP_FIN_CLEAR)
		return uheap_fin_clear(u, obj);
	return uheap_fin_set(u, obj, a->token);
}

static long op_cleanup(struct uheap *u, struct spanheap_cleanup *a, bool stop)
{
	void *obj;
	s64 id;
	long ret;

	if (a->flags || (stop ? a->token : a->id))
		return -EINVAL;
	obj = lookup_obj(u, a->handle, 0);
	/* A collected object's cleanups were all queued (or stopped). */
	if (stop && obj == ERR_PTR(-ESTALE))
		return -ENOENT;
	if (IS_ERR(obj))
		return PTR_ERR(obj);
	if (stop)	/* ids are positive s64: others were never handed out */
		return (s64)a->id > 0 ? uheap_cleanup_stop(u, obj, a->id) : -ENOENT;
	ret = uheap_cleanup_add(u, obj, a->token, &id);
	if (!ret)
		a->id = id;
	return ret;
}

static long op_weak(struct uheap *u, unsigned int cmd, struct spanheap_weakref *a)
{
	struct uh_entry *e;
	void *obj;
	long ret;

	if (a->count)
		return -EINVAL;
	if (cmd == SPANHEAP_IOC_WEAK_MAKE) {
		if (a->flags || a->weak)
			return -EINVAL;
		e = lookup(u, a->handle);
		if (IS_ERR(e))
			return PTR_ERR(e);
		return uheap_weak_make(u, e, &a->weak, &a->count);
	}
	if (cmd == SPANHEAP_IOC_WEAK_DROP) {
		if (a->flags || a->handle)
			return -EINVAL;
		return uheap_weak_drop(u, a->weak, &a->count);
	}
	if (a->flags & ~SPANHEAP_WEAK_ROOT || a->handle)
		return -EINVAL;
	ret = uheap_weak_get(u, a->weak, &obj, &a->count);
	if (ret || !obj)
		return ret;
	/* Not found dead, so its entry is live (the value swept first). */
	e = lookup(u, hdr(obj)->handle);
	if (IS_ERR(e))
		return 0;
	if (a->flags & SPANHEAP_WEAK_ROOT) {
		ret = root_adjust(u, e, 1);
		if (ret)
			return ret;
	}
	a->handle = e->handle;
	return 0;
}

/* An object operation.  Context: section, u->lock. */
static long object_op_locked(struct uheap *u, unsigned int cmd,
			     union uheap_args *a)
{
	long ret;

	shp_assert_in_section(u->heap);
	lockdep_assert_held(&u->lock);
	switch (cmd) {
	case SPANHEAP_IOC_ALLOC:
		ret = op_alloc(u, &a->alloc);
		break;
	case SPANHEAP_IOC_STORE:
	case SPANHEAP_IOC_LOAD:
		ret = op_ref(u, &a->ref, cmd == SPANHEAP_IOC_STORE);
		break;
	case SPANHEAP_IOC_ROOT:
	case SPANHEAP_IOC_UNROOT:
		ret = op_root(u, &a->root, cmd == SPANHEAP_IOC_ROOT);
		break;
	case SPANHEAP_IOC_CLEANUP:
	case SPANHEAP_IOC_CLEANUP_STOP:
		ret = op_cleanup(u, &a->cleanup, cmd == SPANHEAP_IOC_CLEANUP_STOP);
		break;
	case SPANHEAP_IOC_WEAK_MAKE:
	case SPANHEAP_IOC_WEAK_GET:
	case SPANHEAP_IOC_WEAK_DROP:
		ret = op_weak(u, cmd, &a->weak);
		break;
	default:
		ret = op_finalizer(u, &a->fin);
	}
	return ret;
}

/* Object operations: inside a section, under u->lock. */
static long object_op(struct uheap *u, unsigned int cmd, union uheap_args *a)
{
	long ret;

	spanheap_enter(u->heap);
	mutex_lock(&u->lock);
	ret = object_op_locked(u, cmd, a);
	mutex_unlock(&u->lock);
	spanheap_exit(u->heap);
	return ret;
}

/*
 * One page of a READ or WRITE between the object and @bounce, inside a
 * section; the handle is resolved again each time.  @n == 0 only checks.
 */
static long rw_chunk(struct uheap *u, struct spanheap_rw *a, u64 done,
		     char *bounce, size_t n, bool write)
{
	char *obj;
	long ret = 0;
	u64 end;

	spanheap_enter(u->heap);
	mutex_lock(&u->lock);
	obj = lookup_obj(u, a->handle, SPANHEAP_KIND_DATA);
	if (IS_ERR(obj)) {
		ret = PTR_ERR(obj);
	} else if (check_add_overflow(a->offset, a->length, &end) ||
		   end > hdr(obj)->length) {
		ret = -ERANGE;
	} else if (n) {
		obj += sizeof(struct uh_header) + a->offset + done;
		if (write)
			memcpy(obj, bounce, n);
		else
			memcpy(bounce, obj, n);
	}
	mutex_unlock(&u->lock);
	spanheap_exit(u->heap);
	return ret;
}

static long op_rw(struct uheap *u, struct spanheap_rw *a, bool write,
		  struct iov_iter *data)
{
	size_t n, room = min_t(u64, a->length, PAGE_SIZE);
	char *bounce;
	long ret;
	u64 done;

	if (a->flags)
		return -EINVAL;
	ret = rw_chunk(u, a, 0, NULL, 0, write);
	if (ret || !a->length)
		return ret;
	if (!data || iov_iter_count(data) < a->length)
		return -EFAULT;
	bounce = kmalloc(room, SHP_GFP);
	if (!bounce)
		return -ENOMEM;
	for (done = 0; !ret && done < a->length; done += n) {
		n = min_t(u64, a->length - done, room);
		if (write && copy_from_iter(bounce, n, data) != n) {
			ret = -EFAULT;
			break;
		}
		ret = rw_chunk(u, a, done, bounce, n, write);
		if (!ret && !write && copy_to_iter(bounce, n, data) != n)
			ret = -EFAULT;
	}
	kfree(bounce);
	return ret;
}

static long op_stats(struct uheap *u, struct spanheap_stats_v1 *a)
{
	struct spanheap_stats *st = kmalloc(sizeof(*st), SHP_GFP);

	if (!st)
		return -ENOMEM;
	spanheap_read_stats(u->heap, st);
	memset(a, 0, sizeof(*a));
	a->version = SPANHEAP_STATS_VERSION;
	a->objects = st->objects_in_use;
	a->bytes_in_use = st->bytes_in_use;
	a->bytes_reserved = st->bytes_reserved;
	a->bytes_meta = st->bytes_meta;
	a->mem_limit = st->limit;
	a->collections = st->collections;
	a->finalizers_set = st->specials[SPANHEAP_SPECIAL_FINALIZER];
	a->finalizers_queued = st->fin_pending;
	a->gc_percent = st->gc_percent;
	a->cleanups_set = st->specials[SPANHEAP_SPECIAL_CLEANUP];
	a->cleanups_queued = st->cleanups_pending;
	a->pins = st->specials[SPANHEAP_SPECIAL_PIN];
	a->gc_pause_last_ns = st->pause_last_ns;
	a->gc_pause_max_ns = st->pause_max_ns;
	a->gc_pause_total_ns = st->pause_total_ns;
	kfree(st);
	mutex_lock(&u->lock);
	a->roots = u->nroots;
	mutex_unlock(&u->lock);
	uheap_weak_count(u, &a->weak_handles, &a->weak_live);
	spin_lock(&u->ev_lock);
	a->finalizers_run = u->nrun;
	a->events_pending = u->nevents;
	a->events_read = u->nread;
	a->events_deferred = u->ndeferred;
	a->events_overcap = u->novercap;
	a->event_queue_max = u->ev_max;
	a->cleanups_run = u->ncleanrun;
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

static long op_gc(struct uheap *u, struct spanheap_gc *a)
{
	if (a->flags & ~SPANHEAP_GC_WAIT || a->collections)
		return -EINVAL;
	spanheap_collect(u->heap);
	if (a->flags & SPANHEAP_GC_WAIT) {
		spanheap_wait_finalizers(u->heap);
		spanheap_wait_cleanups(u->heap);
	}
	a->collections = atomic64_read(&u->heap->collections);
	return 0;
}

/* ---- SPANHEAP_IOC_WHY ---- */

static_assert(sizeof(struct spanheap_why) == 40);
static_assert(sizeof(struct spanheap_why_hop) == 16);

/**
 * struct uh_why - a WHY call, filled in by why_report() with the world stopped
 * @u: state
 * @handle: the object asked about
 * @obj: its object when it was looked up
 * @capacity: entries of @hops wanted
 * @stale: the object at that address is no longer @handle's
 * @kind: SPANHEAP_WHY_*
 * @nhops: the whole path's length
 * @hops: its first @capacity hops
 */
struct uh_why {
	struct uheap *u;
	u64 handle;
	void *obj;
	u32 capacity;
	bool stale;
	u32 kind;
	u32 nhops;
	struct spanheap_why_hop hops[SPANHEAP_WHY_MAX_HOPS];
};

/*
 * The handle of @obj in @u's table, or 0.  Context: the world stopped,
 * so no section changes the table (as for uheap_scan_roots()); only an
 * ALLOC's settling may clear an entry's pending flag meanwhile.
 */
static u64 why_handle(struct uheap *u, void *obj)
{
	u64 handle = hdr(obj)->handle;
	u32 idx = handle & (UH_MAX_ENTRIES - 1);
	struct uh_entry *e;

	if (handle >> (UH_GEN_BITS + UH_INDEX_BITS) != u->tag)
		return 0;
	e = uh_tab_get(&u->tab, idx);
	if (!e || e->handle != handle || e->obj != obj || READ_ONCE(e->pending))
		return 0;
	return handle;
}

static u32 why_kind(struct uheap *u, const struct spanheap_path *p)
{
	u64 root;

	switch (p->kind) {
	case SPANHEAP_ROOT_NONE:
		return SPANHEAP_WHY_UNREACHABLE;
	case SPANHEAP_ROOT_OWNER:
		/* uheap_scan_roots() reports rooted entries, then unread events. */
		root = why_handle(u, p->hops[0].obj);
		return root && uh_tab_get(&u->tab, root & (UH_MAX_ENTRIES - 1))->rooted ?
		       SPANHEAP_WHY_ROOTED : SPANHEAP_WHY_EVENT;
	case SPANHEAP_ROOT_FINQ:
		return SPANHEAP_WHY_FIN_QUEUED;
	case SPANHEAP_ROOT_FIN_REFERENT:
		return SPANHEAP_WHY_FIN_REFERENT;
	case SPANHEAP_ROOT_FIN_CYCLE:
		return SPANHEAP_WHY_FIN_CYCLE;
	default:
		return SPANHEAP_WHY_KERNEL;
	}
}

/* spanheap_path_report_t of op_why(): handles and slots, never addresses. */
static void why_report(void *arg, const struct spanheap_path *p)
{
	struct uh_why *w = arg;
	u32 i, off;

	/* An allocated object, found by spanheap_why(): its header is readable. */
	w->stale = hdr(w->obj)->handle != w->handle;
	w->kind = why_kind(w->u, p);
	w->nhops = p->nhops;
	for (i = 0; i < p->nhops && i < w->capacity; i++) {
		off = p->hops[i].offset;
		w->hops[i].handle = why_handle(w->u, p->hops[i].obj);
		w->hops[i].slot = off == SPANHEAP_PATH_END || off < sizeof(struct uh_header) ?
				  SPANHEAP_WHY_NO_SLOT :
				  (off - sizeof(struct uh_header)) / sizeof(u64);
	}
}

/*
 * The object is looked up in a section, then searched for with the world
 * stopped; if a cycle freed it in between, the search finds no object
 * there (-ESTALE) or another one, whose header names another handle.
 */
static long op_why(struct uheap *u, struct spanheap_why *a)
{
	struct uh_why *w;
	void *obj;
	long ret;

	if (a->flags || a->reserved || a->root_kind || a->nhops)
		return -EINVAL;
	if (a->capacity > SPANHEAP_WHY_MAX_HOPS)
		return -EINVAL;
	w = kzalloc(sizeof(*w), SHP_GFP);
	if (!w)
		return -ENOMEM;
	w->u = u;
	w->handle = a->handle;
	w->capacity = a->capacity;
	/* Fail on an unwritable array before the walk, with nothing written. */
	if (copy_from_user(w->hops, u64_to_user_ptr(a->hops),
			   a->capacity * sizeof(w->hops[0])) ||
	    copy_to_user(u64_to_user_ptr(a->hops), w->hops,
			 a->capacity * sizeof(w->hops[0]))) {
		kfree(w);
		return -EFAULT;
	}
	spanheap_enter(u->heap);
	mutex_lock(&u->lock);
	obj = lookup_obj(u, a->handle, 0);
	mutex_unlock(&u->lock);
	spanheap_exit(u->heap);
	ret = IS_ERR(obj) ? PTR_ERR(obj) : 0;
	w->obj = obj;
	if (!ret) {
		ret = spanheap_why(u->heap, obj, why_report, w);
		/* Collected since the lookup (and maybe its memory reused). */
		if (ret == -EINVAL || ret == -EFAULT || (!ret && w->stale))
			ret = -ESTALE;
	}
	if (!ret && copy_to_user(u64_to_user_ptr(a->hops), w->hops,
				 min(w->nhops, w->capacity) * sizeof(w->hops[0])))
		ret = -EFAULT;
	if (!ret) {
		a->root_kind = w->kind;
		a->nhops = w->nhops;
	}
	kfree(w);
	return ret;
}

/* Run @cmd; ALLOC and UNROOT are left for uheap_settle() to make final. */
static long uheap_run(struct uheap *u, unsigned int cmd, union uheap_args *a,
		      struct iov_iter *data)
{
	switch (cmd) {
	case SPANHEAP_IOC_GC:
		return op_gc(u, &a->gc);
	case SPANHEAP_IOC_WHY:
		return op_why(u, &a->why);
	case SPANHEAP_IOC_STATS:
		return op_stats(u, &a->stats);
	case SPANHEAP_IOC_SET_PARAMS:
		return op_params(u, &a->params);
	case SPANHEAP_IOC_WRITE:
	case SPANHEAP_IOC_READ:
		return op_rw(u, &a->rw, cmd == SPANHEAP_IOC_WRITE, data);
	}
	return object_op(u, cmd, a);
}

/* The entry an ALLOC, ROOT or UNROOT being settled named, if still there. */
static struct uh_entry *entry_of(struct uheap *u, u64 handle)
{
	struct uh_entry *e = uh_tab_get(&u->tab, handle & (UH_MAX_ENTRIES - 1));

	lockdep_assert_held(&u->lock);
	return e && e->handle == handle ? e : NULL;
}

/*
 * Take back a CLEANUP or WEAK_MAKE whose result could not be written
 * back, if that is still possible: a cleanup queued meanwhile (its
 * object was collected) delivers its event; a weak handle's reference
 * another thread dropped meanwhile stays dropped.
 */
static void settle_undo(struct uheap *u, unsigned int cmd, union uheap_args *a)
{
	u64 count;
	void *obj;

	if (cmd == SPANHEAP_IOC_CLEANUP) {
		obj = lookup_obj(u, a->cleanup.handle, 0);
		if (!IS_ERR(obj))
			uheap_cleanup_stop(u, obj, a->cleanup.id);
	} else {
		uheap_weak_drop(u, a->weak.weak, &count);
	}
}

/*
 * What settling @cmd (@ok) touches: the entry of *@handle, or (*@undo)
 * a CLEANUP or WEAK_MAKE to take back.  False if nothing.
 */
static bool settle_target(unsigned int cmd, union uheap_args *a, bool ok,
			  u64 *handle, bool *undo)
{
	*handle = 0;
	*undo = false;
	if (cmd == SPANHEAP_IOC_ALLOC)
		*handle = a->alloc.handle;
	else if (cmd == SPANHEAP_IOC_UNROOT || (cmd == SPANHEAP_IOC_ROOT && !ok))
		*handle = a->root.handle;
	else if (cmd == SPANHEAP_IOC_WEAK_GET && !ok &&
		 a->weak.flags & SPANHEAP_WEAK_ROOT)
		*handle = a->weak.handle;	/* 0 if nothing was rooted */
	else
		*undo = !ok && (cmd == SPANHEAP_IOC_CLEANUP ||
				cmd == SPANHEAP_IOC_WEAK_MAKE);
	return *handle || *undo;
}

/*
 * The result of @cmd reached userspace (@ok), or could not be written
 * back: make ALLOC and UNROOT final, or take back ALLOC, ROOT (also
 * WEAK_GET's), UNROOT, CLEANUP and WEAK_MAKE.  Until then an ALLOC's
 * handle is pending (no other thread can use it) and an UNROOT to zero
 * leaves the entry a root, so either way is open.  An ALLOC taken back
 * leaves its object garbage.  Context: section, u->lock.
 */
static void uheap_settle_locked(struct uheap *u, unsigned int cmd,
				union uheap_args *a, bool ok)
{
	struct uh_entry *e;
	u64 handle;
	bool undo;
	u32 idx;

	shp_assert_in_section(u->heap);
	lockdep_assert_held(&u->lock);
	if (!settle_target(cmd, a, ok, &handle, &undo))
		return;
	if (undo) {
		settle_undo(u, cmd, a);
		return;
	}
	idx = handle & (UH_MAX_ENTRIES - 1);
	e = entry_of(u, handle);
	if (!e) {
		/* An unrooted new object collected meanwhile: nothing to do. */
	} else if (cmd == SPANHEAP_IOC_ALLOC && ok) {
		WRITE_ONCE(e->pending, false);
	} else if (cmd == SPANHEAP_IOC_ALLOC) {
		entry_erase(u, idx, e);
	} else {
		if (cmd == SPANHEAP_IOC_UNROOT)
			e->unroots--;
		if (!ok)
			root_adjust(u, e, cmd == SPANHEAP_IOC_UNROOT ? 1 : -1);
		if (!e->roots && !e->unroots)
			uh_tab_set_rooted(u, idx, e, false);
	}
}

/*
 * uheap_settle_locked() in a section of its own, under u->lock.  An ALLOC
 * that reached userspace only clears its entry's pending flag: u->lock
 * suffices for that (no object is touched, no entry freed), and
 * why_handle(), which reads the flag with the world stopped but without
 * u->lock, reads it once.
 */
static void uheap_settle(struct uheap *u, unsigned int cmd,
			 union uheap_args *a, bool ok)
{
	struct mem_cgroup *memcg;
	struct uh_entry *e;
	u64 handle;
	bool undo;

	if (!settle_target(cmd, a, ok, &handle, &undo))
		return;
	if (cmd == SPANHEAP_IOC_ALLOC && ok) {
		mutex_lock(&u->lock);
		e = entry_of(u, handle);
		if (e)
			WRITE_ONCE(e->pending, false);
		mutex_unlock(&u->lock);
		return;
	}
	memcg = shp_memcg_enter(u->heap);
	spanheap_enter(u->heap);
	mutex_lock(&u->lock);
	uheap_settle_locked(u, cmd, a, ok);
	mutex_unlock(&u->lock);
	spanheap_exit(u->heap);
	shp_memcg_exit(memcg);
}

/**
 * uheap_do() - run one SPANHEAP_IOC_* command on a kernel-side argument
 * @u: state
 * @cmd: command
 * @a: its argument; out fields are filled in
 * @data: READ/WRITE: the bytes (NULL when they cannot be reached)
 *
 * Context: process context, no section held.
 * Return: 0 or a negative errno; nothing changes on error, except that
 * a READ or WRITE of more than one page may be cut short.
 */
long uheap_do(struct uheap *u, unsigned int cmd, union uheap_args *a,
	      struct iov_iter *data)
{
	long ret = uheap_run(u, cmd, a, data);

	if (!ret)
		uheap_settle(u, cmd, a, true);
	return ret;
}

/*
 * Can the @n bytes at @uptr, just copied in to @k, be written back?  One
 * byte of each page they cover is rewritten with the value read: write
 * access is per page, so the answer is that of copy_to_user() of all @n
 * bytes (the check this replaces), without its byte loop (rep movsb on
 * CPUs with ERMS, some ns per byte under emulation).  (Not so with
 * arm64 MTE tag checks, per 16-byte granule: there a bad granule passes
 * here and fails the final write-back, which undoes what can be undone,
 * as for a mapping changed during the call.)
 */
static bool user_writable(void __user *uptr, const void *k, size_t n)
{
	const u8 *kb = k;
	size_t off = 0;

	while (off < n) {
		if (put_user(kb[off], (u8 __user *)uptr + off))
			return false;
		/* On to the start of the next page. */
		off += PAGE_SIZE - (((unsigned long)uptr + off) & (PAGE_SIZE - 1));
	}
	return true;
}

/*
 * copy_from_user() of @n bytes as 8-byte loads in one user access window
 * (@n a multiple of 8, @uptr 8-byte aligned; else the ordinary way):
 * with ERMS the kernel's copies are rep movsb, which QEMU's TCG runs a
 * byte at a time, about 1.1 ns a byte.  Returns 0 or -EFAULT (@k then
 * holds a part).
 */
static int copy_in(void *k, const void __user *uptr, size_t n)
{
	u64 __user *uw = (u64 __user *)uptr;
	size_t i;
	u64 v;

	if (n % 8 || !IS_ALIGNED((unsigned long)uptr, 8))
		return copy_from_user(k, uptr, n) ? -EFAULT : 0;
	if (!user_read_access_begin(uptr, n))
		return -EFAULT;
	for (i = 0; i < n / 8; i++) {
		unsafe_get_user(v, &uw[i], fault);
		memcpy((u8 *)k + i * 8, &v, 8);
	}
	user_read_access_end();
	return 0;
fault:
	user_read_access_end();
	return -EFAULT;
}

/* copy_to_user() as copy_in() copies in; -EFAULT may leave a part written. */
static int copy_out(void __user *uptr, const void *k, size_t n)
{
	u64 __user *uw = uptr;
	size_t i;
	u64 v;

	if (n % 8 || !IS_ALIGNED((unsigned long)uptr, 8))
		return copy_to_user(uptr, k, n) ? -EFAULT : 0;
	if (!user_write_access_begin(uptr, n))
		return -EFAULT;
	for (i = 0; i < n / 8; i++) {
		memcpy(&v, (const u8 *)k + i * 8, 8);
		unsafe_put_user(v, &uw[i], fault);
	}
	user_write_access_end();
	return 0;
fault:
	user_write_access_end();
	return -EFAULT;
}

/* ---- SPANHEAP_IOC_BATCH ---- */

static_assert(sizeof(struct spanheap_op) == 56);
static_assert(sizeof(struct spanheap_batch) == 32);
static_assert(sizeof_field(struct spanheap_op, raw) >=
	      sizeof(struct spanheap_cleanup));
static_assert(sizeof_field(struct spanheap_op, raw) >=
	      sizeof(struct spanheap_weakref));

static size_t arg_size(unsigned int cmd);

/* May @cmd be an op of a batch?  Object commands only: each is bounded. */
static bool batch_cmd(unsigned int cmd)
{
	switch (cmd) {
	case SPANHEAP_IOC_ALLOC:
	case SPANHEAP_IOC_STORE:
	case SPANHEAP_IOC_LOAD:
	case SPANHEAP_IOC_ROOT:
	case SPANHEAP_IOC_UNROOT:
	case SPANHEAP_IOC_FINALIZER:
	case SPANHEAP_IOC_CLEANUP:
	case SPANHEAP_IOC_CLEANUP_STOP:
	case SPANHEAP_IOC_WEAK_MAKE:
	case SPANHEAP_IOC_WEAK_GET:
	case SPANHEAP_IOC_WEAK_DROP:
		return true;
	}
	return false;
}

static_assert(sizeof(struct spanheap_alloc) % 8 == 0 &&
	      sizeof(struct spanheap_ref) % 8 == 0 &&
	      sizeof(struct spanheap_root) % 8 == 0 &&
	      sizeof(struct spanheap_finalizer) % 8 == 0 &&
	      sizeof(struct spanheap_cleanup) % 8 == 0 &&
	      sizeof(struct spanheap_weakref) % 8 == 0);

/*
 * Are the words of @op's union past its command's struct (@size bytes,
 * a multiple of 8) zero?  Word by word: memchr_inv() of a few bytes is
 * mostly its setup.
 */
static bool op_tail_zero(const struct spanheap_op *op, size_t size)
{
	u64 any = 0;
	size_t i;

	for (i = size / 8; i < ARRAY_SIZE(op->raw); i++)
		any |= op->raw[i];
	return !any;
}

/*
 * The parts of the ops that are the batch's own, checked before any
 * op runs; each command's struct is checked by its handler as it runs.
 */
static long batch_check(const struct spanheap_op *ops, u32 count)
{
	u32 i;

	if (!count)
		return -EINVAL;
	if (count > SPANHEAP_BATCH_MAX)
		return -E2BIG;
	for (i = 0; i < count; i++)
		if (!batch_cmd(ops[i].cmd) || ops[i].error || ops[i].flags ||
		    ops[i].reserved || ops[i].size != arg_size(ops[i].cmd) ||
		    !op_tail_zero(&ops[i], ops[i].size))
			return -EINVAL;
	return 0;
}

static void op_args(union uheap_args *a, const struct spanheap_op *op)
{
	memcpy(a, &op->raw, sizeof(op->raw));
}

/*
 * Ops run (and are settled) UH_BATCH_CHUNK at a time in one section
 * under u->lock, as one command would be run: a collection waits for at
 * most that many bounded commands, and can run between chunks.
 */
#define UH_BATCH_CHUNK	16

/*
 * Run the ops in order up to the first that fails.  A fatal signal
 * stops the batch between chunks (-EINTR in the op not run).  Results
 * stay unsettled, as for a single command before its write-back.
 * Returns the number of ops that succeeded.
 */
static u32 batch_run(struct uheap *u, struct spanheap_op *ops, u32 count)
{
	union uheap_args a __uninitialized;	/* as in uheap_ioctl() */
	u32 i = 0, end;

	while (i < count) {
		if (i && fatal_signal_pending(current)) {
			ops[i].error = -EINTR;
			break;
		}
		end = min(count, i + UH_BATCH_CHUNK);
		spanheap_enter(u->heap);
		mutex_lock(&u->lock);
		for (; i < end; i++) {
			op_args(&a, &ops[i]);
			ops[i].error = object_op_locked(u, ops[i].cmd, &a);
			memcpy(&ops[i].raw, &a, sizeof(ops[i].raw));
			if (ops[i].error)
				break;
		}
		mutex_unlock(&u->lock);
		spanheap_exit(u->heap);
		if (i < end)
			break;
		cond_resched();
	}
	return i;
}

/**
 * uheap_batch_settle() - make a batch's results final or take them back
 * @u: state
 * @ops: the ops uheap_batch_run() ran
 * @done: how many succeeded
 * @ok: their results reached userspace; else they are taken back,
 *	newest first, as uheap_settle() does for one command
 *
 * Context: process context, no section held.
 */
void uheap_batch_settle(struct uheap *u, struct spanheap_op *ops, u32 done,
			bool ok)
{
	struct mem_cgroup *memcg = shp_memcg_enter(u->heap);
	union uheap_args a __uninitialized;	/* as in uheap_ioctl() */
	u32 i, j;

	for (i = 0; i < done; i += UH_BATCH_CHUNK) {
		spanheap_enter(u->heap);
		mutex_lock(&u->lock);
		for (j = i; j < min(done, i + UH_BATCH_CHUNK); j++) {
			struct spanheap_op *op = &ops[ok ? j : done - 1 - j];

			op_args(&a, op);
			uheap_settle_locked(u, op->cmd, &a, ok);
		}
		mutex_unlock(&u->lock);
		spanheap_exit(u->heap);
		cond_resched();
	}
	shp_memcg_exit(memcg);
}

/**
 * uheap_batch_run() - run SPANHEAP_IOC_BATCH ops on a kernel-side array
 * @u: state
 * @ops: the ops; each op's error and results are filled in
 * @count: number of ops, 1..SPANHEAP_BATCH_MAX
 * @done: out: ops that succeeded; if fewer than @count, ops[*@done].error
 *	says why the next one failed, and no later op ran
 *
 * The results stay unsettled until uheap_batch_settle().
 *
 * Context: process context, no section held; in the opener's memcg.
 * Return: 0 once the ops ran (whether or not all succeeded), or a
 * negative errno if they are not a valid batch, and then none ran.
 */
long uheap_batch_run(struct uheap *u, struct spanheap_op *ops, u32 count,
		     u32 *done)
{
	long ret = batch_check(ops, count);

	if (!ret)
		*done = batch_run(u, ops, count);
	return ret;
}

/**
 * uheap_batch() - run SPANHEAP_IOC_BATCH ops and make their results final
 * @u: state
 * @ops: as for uheap_batch_run()
 * @count: as for uheap_batch_run()
 * @done: as for uheap_batch_run()
 *
 * Context: process context, no section held.
 * Return: as uheap_batch_run().
 */
long uheap_batch(struct uheap *u, struct spanheap_op *ops, u32 count,
		 u32 *done)
{
	long ret = uheap_batch_run(u, ops, count, done);

	if (!ret)
		uheap_batch_settle(u, ops, *done, true);
	return ret;
}

/*
 * The array of a batch of @count ops: a batch of up to a page of ops
 * takes the file's spare page, or a new one that stays the spare once
 * the call is done.  (An allocation is zeroed under init_on_alloc, as
 * in Debian's kernel: 3.5 KiB for 64 ops, then overwritten.)
 */
#define UH_BATCH_SPARE_OPS	(PAGE_SIZE / sizeof(struct spanheap_op))

static struct spanheap_op *batch_ops_get(struct uheap *u, u32 count)
{
	struct spanheap_op *ops;

	if (count > UH_BATCH_SPARE_OPS)
		return kvmalloc((size_t)count * sizeof(*ops), SHP_GFP);
	ops = xchg(&u->batch_spare, NULL);
	return ops ?: kmalloc(PAGE_SIZE, SHP_GFP);
}

static void batch_ops_put(struct uheap *u, struct spanheap_op *ops, u32 count)
{
	if (count > UH_BATCH_SPARE_OPS || cmpxchg(&u->batch_spare, NULL, ops))
		kvfree(ops);
}

/*
 * The ioctl: @b was copied in (and found writable) by uheap_ioctl().
 * The array is copied in whole (charged to the opener's memcg, as what
 * the ops allocate), checked writable like a single command's struct,
 * run, and written back up to the failed op; if that or @b's write-back
 * fails, the ops are taken back as single commands would be (-EFAULT).
 */
static long batch_ioctl(struct uheap *u, struct spanheap_batch *b,
			void __user *arg)
{
	void __user *uops = u64_to_user_ptr(b->ops);
	struct spanheap_op *ops;
	struct mem_cgroup *memcg;
	size_t bytes;
	long ret;
	u32 done;

	if (b->flags || b->reserved || b->done ||
	    b->op_size != sizeof(struct spanheap_op))
		return -EINVAL;
	if (!b->count)
		return -EINVAL;
	if (b->count > SPANHEAP_BATCH_MAX)
		return -E2BIG;
	bytes = (size_t)b->count * sizeof(*ops);
	memcg = shp_memcg_enter(u->heap);
	ops = batch_ops_get(u, b->count);
	if (!ops) {
		shp_memcg_exit(memcg);
		return -ENOMEM;
	}
	ret = -EFAULT;
	if (!copy_in(ops, uops, bytes) && user_writable(uops, ops, bytes))
		ret = uheap_batch_run(u, ops, b->count, &done);
	shp_memcg_exit(memcg);
	if (ret)
		goto out;
	b->size = sizeof(*b);
	b->done = done;
	bytes = (size_t)min(done + 1, b->count) * sizeof(*ops);
	ret = copy_out(uops, ops, bytes) || copy_out(arg, b, sizeof(*b)) ?
	      -EFAULT : 0;
	uheap_batch_settle(u, ops, done, !ret);
out:
	batch_ops_put(u, ops, b->count);
	return ret;
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
	case SPANHEAP_IOC_CLEANUP:
	case SPANHEAP_IOC_CLEANUP_STOP:	return sizeof(struct spanheap_cleanup);
	case SPANHEAP_IOC_WEAK_MAKE:
	case SPANHEAP_IOC_WEAK_GET:
	case SPANHEAP_IOC_WEAK_DROP:	return sizeof(struct spanheap_weakref);
	case SPANHEAP_IOC_BATCH:	return sizeof(struct spanheap_batch);
	case SPANHEAP_IOC_WHY:		return sizeof(struct spanheap_why);
	}
	return 0;
}

/*
 * STATS as numbered by programs built with an older header: its struct
 * ended before @field.  The struct's own size field says what fits.
 */
#define UH_IOC_STATS_AT(field)						\
	_IOC(_IOC_READ | _IOC_WRITE, SPANHEAP_IOC_MAGIC,		\
	     _IOC_NR(SPANHEAP_IOC_STATS),				\
	     offsetof(struct spanheap_stats_v1, field))

static long stats_ioctl(struct uheap *u, u32 usize, void __user *arg)
{
	struct spanheap_stats_v1 st;
	long ret;

	if (usize < offsetofend(struct spanheap_stats_v1, version))
		return -EINVAL;
	ret = op_stats(u, &st);
	if (ret)
		return ret;
	st.size = min_t(size_t, usize, sizeof(st));
	return copy_to_user(arg, &st, st.size) ? -EFAULT : 0;
}

/**
 * uheap_ioctl() - run one SPANHEAP_IOC_* command
 * @u: state
 * @cmd: command
 * @arg: user pointer to its struct
 *
 * The struct is read with copy_struct_from_user(): its first __u32 is
 * its size, which must be at least this kernel's size and at most
 * SPANHEAP_MAX_ARG_SIZE (larger is fine if the extra bytes are zero);
 * this kernel's size is written back.  STATS instead accepts any size
 * from 8 bytes and writes what fits; the command numbers of its
 * earlier, smaller struct sizes (older headers) are STATS too.  A struct that cannot be written back fails with
 * -EFAULT before the command runs; if it becomes unwritable during the
 * call, ALLOC, ROOT, UNROOT, CLEANUP, WEAK_MAKE and WEAK_GET (its root)
 * are undone (-EFAULT), commands whose only output is the size succeed,
 * and LOAD, GC and WEAK_DROP fail with -EFAULT (a cycle that ran stays
 * run, a dropped reference stays dropped).  BATCH (batch_ioctl()) runs
 * an array of object commands by the same rules, op by op.
 *
 * Context: process context; what the call allocates is charged to the
 * memcg of the file's opener.
 * Return: 0 or a negative errno (see Documentation/spanheap/uapi.rst).
 */
long uheap_ioctl(struct uheap *u, unsigned int cmd, void __user *arg)
{
	/*
	 * Not zeroed on entry under CONFIG_INIT_STACK_ALL_ZERO (Debian's):
	 * @a is the largest command's struct, and every call, even one
	 * returning -ENOTTY, paid for clearing it; only what copy_in()
	 * filled is read.
	 */
	struct iov_iter iter __uninitialized;
	struct iov_iter *data = NULL;
	union uheap_args a __uninitialized;
	struct iovec iov __uninitialized;
	struct mem_cgroup *memcg;
	size_t ksize;
	u32 usize;
	long ret;

	if (cmd == UH_IOC_STATS_AT(events_overcap) ||
	    cmd == UH_IOC_STATS_AT(cleanups_set) ||
	    cmd == UH_IOC_STATS_AT(gc_pause_last_ns))
		cmd = SPANHEAP_IOC_STATS;
	ksize = arg_size(cmd);
	if (!ksize)
		return -ENOTTY;
	if (get_user(usize, (u32 __user *)arg))
		return -EFAULT;
	if (usize > SPANHEAP_MAX_ARG_SIZE)
		return -E2BIG;
	if (cmd == SPANHEAP_IOC_STATS)
		return stats_ioctl(u, usize, arg);
	if (usize < ksize)
		return -EINVAL;
	if (usize == ksize)
		ret = copy_in(&a, arg, ksize);
	else
		ret = copy_struct_from_user(&a, ksize, arg, usize);
	if (ret)
		return ret == -E2BIG ? -EINVAL : ret;
	if (!user_writable(arg, &a, ksize))
		return -EFAULT;
	if (cmd == SPANHEAP_IOC_BATCH)
		return batch_ioctl(u, &a.batch, arg);
	if ((cmd == SPANHEAP_IOC_READ || cmd == SPANHEAP_IOC_WRITE) &&
	    !import_single_range(cmd == SPANHEAP_IOC_READ ? READ : WRITE,
				 u64_to_user_ptr(a.rw.buf),
				 min_t(u64, a.rw.length, SPANHEAP_MAX_OBJECT),
				 &iov, &iter))
		data = &iter;
	memcg = shp_memcg_enter(u->heap);
	ret = uheap_run(u, cmd, &a, data);
	shp_memcg_exit(memcg);
	if (ret)
		return ret;
	a.size = ksize;
	ret = copy_out(arg, &a, ksize);
	/* Only size comes back from these: their effect stands regardless. */
	if (cmd == SPANHEAP_IOC_WRITE || cmd == SPANHEAP_IOC_READ ||
	    cmd == SPANHEAP_IOC_STORE || cmd == SPANHEAP_IOC_FINALIZER ||
	    cmd == SPANHEAP_IOC_SET_PARAMS || cmd == SPANHEAP_IOC_CLEANUP_STOP)
		ret = 0;
	uheap_settle(u, cmd, &a, !ret);
	return ret;
}
