// SPDX-License-Identifier: GPL-2.0
/*
 * Coverage-guided fuzzer of the /dev/spanheap ABI (kmod/uheap.c), run
 * in-process over the userspace build (inproc/inproc.c): libFuzzer with
 * ASan and UBSan, or TSan for the threaded variant.
 *
 * An input is a byte 0 of flags, then operations, one opcode byte and
 * its argument bytes each (missing bytes read as zero).  Flag 0x80 (or
 * UHEAP_FUZZ_THREADED in the environment) runs the second half of the
 * input on a second thread sharing file 0, with its own rooted objects.
 * Pacing stays on and the background sweeper runs, so the model accepts
 * what a concurrent collector may do, and checks after every step:
 *   - an object reachable in the model (rooted, reachable through REF
 *     slots from a reachable object, or from an object whose finalizer
 *     event was not read yet) resolves, keeps its bytes and slots;
 *   - any other object may go stale at any time, then stays stale, and
 *     while it resolves so do its referents;
 *   - a token arrives once, on the handle it was set on, only after its
 *     object was unreachable from the roots; a finalizer cleared or
 *     replaced may have been taken by a cycle already and arrive once;
 *   - a cleanup's token arrives once (handle 0), unless it was stopped,
 *     only after its object was unreachable (and its finalizer event,
 *     if any, was read); its object never resolves again.  STOP fails
 *     (-ENOENT, -ESTALE) only if a cycle may have queued it;
 *   - a weak handle reads its object, or 0 once the object was
 *     unreachable from the roots (a cycle may have found it dead, even
 *     if a finalizer resurrects it), then 0 for good; WEAK_MAKE returns
 *     the same weak handle while no cycle can have found the object
 *     dead; reference counts are the model's;
 *   - every call returns 0 or a documented errno, and a call that fails
 *     changes nothing; -ENOMEM only where the call allocates.
 * At the end of every input the files are collected until no event
 * comes, then checked exactly: Go's finalizer rule (an armed object
 * unreachable from the roots and from other armed objects' referents
 * has been finalized), every cleanup of an object outside the model's
 * reachable set delivered and every weak handle of one reading 0, every
 * such object stale, every one inside intact, and STATS equal to the
 * model.
 *
 * Hostile calls: argument structs with bad sizes, flags, reserved fields,
 * foreign, forged or stale handles, out-of-range slots and offsets, bad
 * or read-only argument pointers and buffers (each must fail with its
 * errno and leave the model as it was), raw input bytes as the struct of
 * any command on a third, unmodelled file, and allocation failures
 * injected into the n-th allocation of the next call (the calling
 * thread's, or the process's, which may hit a collector worker).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "libspanheap.h"
#include "inproc.h"

#define NFILES		2	/* modelled files */
#define NOBJ		40	/* model objects per file */
#define NSLOT		8	/* slots of a modelled REF object */
#define NMAYBE		8	/* cleared or replaced tokens that may arrive */
#define NCLEAN		24	/* cleanups not delivered nor stopped, per file */
#define NWEAK		12	/* weak handles with references, per file */
#define CLEANUP_TOKEN	(1ULL << 59)	/* a cleanup's token, never a finalizer's */
#define EVBATCH		16
#define PG		4096

struct in {
	const uint8_t *p;
	size_t n;
};

struct obj {
	uint64_t h, token;
	uint32_t kind, len, roots;
	uint8_t *bytes;			/* DATA: the model's contents */
	int slot[NSLOT];		/* REF: target object index, or -1 */
	bool used, stale, armed, may_fin, reach, must;
};

/* A cleanup added and neither delivered nor stopped yet. */
struct mclean {
	bool used, may_run;		/* may_run: its object was once unreachable */
	int obj;			/* model object, or -1 once forgotten */
	uint64_t h, id, token;
};

/* A weak handle with references. */
struct mweak {
	bool used;
	bool may_nil;			/* its object was once unreachable from the roots */
	bool nil;			/* it read 0: it must for good */
	int obj;			/* model object, or -1 once forgotten */
	uint64_t w, h;			/* the weak handle, its object's handle */
	uint32_t refs;
};

struct mfile {
	int fd;
	bool limited;			/* mem_limit lowered: ENOMEM is fair */
	uint64_t events_read, token_seq, last_seq;
	uint64_t fin_read, clean_read;	/* events_read by type */
	uint64_t dropped_w;		/* the last weak handle dropped to 0 */
	struct mclean c[NCLEAN];
	struct mweak w[NWEAK];
	uint64_t maybe_tok[NMAYBE], maybe_h[NMAYBE];	/* may still arrive */
	struct obj o[NOBJ];
};

static struct mfile files[NFILES];
static int scratch_fd = -1;
static uint8_t *guard;		/* PG read-write, PG read-only, PG none */
static uint8_t iobuf[70000];
static uint64_t t2_roots;	/* roots the second thread holds at its end */
static bool threaded;		/* a second thread works on file 0 */
static bool fault_now;		/* an allocation of this step may fail */
#define ROOTS_UNKNOWN	UINT64_MAX

#define FAIL(...) do {							\
	fprintf(stderr, "uheap_fuzz: " __VA_ARGS__);			\
	fprintf(stderr, " (%s:%d)\n", __FILE__, __LINE__);		\
	abort();							\
} while (0)

static uint64_t take(struct in *in, int bytes)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < bytes; i++) {
		if (in->n) {
			v |= (uint64_t)in->p[0] << (8 * i);
			in->p++;
			in->n--;
		}
	}
	return v;
}

static bool errno_in(int ret, const int *ok)
{
	for (; *ok; ok++)
		if (ret == -*ok)
			return true;
	return false;
}

/* ---- the model's reachability ---- */

static void mark_from(struct mfile *f, int i, bool roots_pass)
{
	struct obj *o = &f->o[i];
	int k;

	if (o->must && (!roots_pass || o->reach))
		return;
	o->must = true;
	o->reach |= roots_pass;
	if (o->kind == SPANHEAP_KIND_REF)
		for (k = 0; k < NSLOT; k++)
			if (o->slot[k] >= 0)
				mark_from(f, o->slot[k], roots_pass);
}

/*
 * reach: from the roots; must: also from armed objects (an unread
 * finalizer keeps its object and referents).  An armed object once not
 * reached from the roots may be finalized from then on.
 */
static void walk(struct mfile *f)
{
	int i;

	for (i = 0; i < NOBJ; i++)
		f->o[i].reach = f->o[i].must = false;
	for (i = 0; i < NOBJ; i++)
		if (f->o[i].used && f->o[i].roots)
			mark_from(f, i, true);
	for (i = 0; i < NOBJ; i++)
		if (f->o[i].used && f->o[i].armed)
			mark_from(f, i, false);
	for (i = 0; i < NOBJ; i++) {
		struct obj *o = &f->o[i];

		if (!o->used)
			continue;
		if (o->armed && !o->reach)
			o->may_fin = true;
		if (o->must && o->stale)
			FAIL("object %#llx was found stale and is reachable now",
			     (unsigned long long)o->h);
	}
	/* A cycle may find these unreachable from now on. */
	for (i = 0; i < NCLEAN; i++)
		if (f->c[i].used && (f->c[i].obj < 0 || !f->o[f->c[i].obj].must))
			f->c[i].may_run = true;
	for (i = 0; i < NWEAK; i++)
		if (f->w[i].used && (f->w[i].obj < 0 || !f->o[f->w[i].obj].reach))
			f->w[i].may_nil = true;
}

/*
 * Object @i leaves the model (garbage it stops tracking, or stale and
 * reused): its cleanups and weak handles stay, naming no model object.
 */
static void orphan(struct mfile *f, int i)
{
	int k;

	for (k = 0; k < NCLEAN; k++)
		if (f->c[k].used && f->c[k].obj == i) {
			f->c[k].obj = -1;
			f->c[k].may_run = true;
		}
	for (k = 0; k < NWEAK; k++)
		if (f->w[k].used && f->w[k].obj == i) {
			f->w[k].obj = -1;
			f->w[k].may_nil = true;
		}
}

/* A call on @o said -ESTALE: fine unless the model needs it. */
static void went_stale(struct obj *o, const char *what)
{
	if (o->must)
		FAIL("%s: -ESTALE on %#llx, reachable in the model (roots %u, armed %d)",
		     what, (unsigned long long)o->h, o->roots, o->armed);
	o->stale = true;
}

/* A call on @o succeeded: a stale object must never resolve again. */
static void resolved(struct obj *o, const char *what)
{
	if (o->stale)
		FAIL("%s: %#llx found again after -ESTALE", what, (unsigned long long)o->h);
}

static void forget_maybe(struct mfile *f, uint64_t h, uint64_t token)
{
	int k;

	for (k = 0; k < NMAYBE; k++)
		if (!f->maybe_h[k]) {
			f->maybe_h[k] = h;
			f->maybe_tok[k] = token;
			return;
		}
	FAIL("more than %d tokens in flight", NMAYBE);
}

static bool maybe_room(struct mfile *f)
{
	int k;

	for (k = 0; k < NMAYBE; k++)
		if (!f->maybe_h[k])
			return true;
	return false;
}

/* ---- events ---- */

/*
 * A cleanup event: once, for a cleanup added and not stopped, whose
 * object is gone (freed in the sweep that queued it), so it must not be
 * reachable in the model, nor resolve again.
 */
static void cleanup_arrived(struct mfile *f, const struct spanheap_event *ev)
{
	struct mclean *c = NULL;
	int k;

	f->clean_read++;
	for (k = 0; k < NCLEAN && !c; k++)
		if (f->c[k].used && f->c[k].token == ev->token)
			c = &f->c[k];
	if (!c || ev->handle)
		FAIL("cleanup event token %#llx handle %#llx: %s",
		     (unsigned long long)ev->token, (unsigned long long)ev->handle,
		     c ? "a cleanup event names no object" :
			 "never added, stopped, or delivered before");
	if (!c->may_run)
		FAIL("cleanup %llu (token %#llx) of %#llx ran, the object always reachable",
		     (unsigned long long)c->id, (unsigned long long)c->token,
		     (unsigned long long)c->h);
	if (c->obj >= 0) {
		struct obj *o = &f->o[c->obj];

		if (o->must)
			FAIL("cleanup of %#llx ran, the object is reachable (roots %u, armed %d)",
			     (unsigned long long)o->h, o->roots, o->armed);
		o->stale = true;	/* freed: it must never resolve again */
	}
	memset(c, 0, sizeof(*c));
}

static void event_arrived(struct mfile *f, const struct spanheap_event *ev)
{
	int i, k;

	if (ev->event_len != sizeof(*ev) || ev->version != SPANHEAP_EVENT_VERSION ||
	    (ev->type != SPANHEAP_EVENT_FINALIZER && ev->type != SPANHEAP_EVENT_CLEANUP))
		FAIL("malformed event (len %u, version %u, type %u)", ev->event_len,
		     ev->version, ev->type);
	f->events_read++;
	if (ev->seq != ++f->last_seq)
		FAIL("event seq %llu, want %llu (one per delivery, in order)",
		     (unsigned long long)ev->seq, (unsigned long long)f->last_seq);
	if (ev->type == SPANHEAP_EVENT_CLEANUP)
		return cleanup_arrived(f, ev);
	f->fin_read++;
	for (i = 0; i < NOBJ; i++) {
		struct obj *o = &f->o[i];

		if (!o->used || o->h != ev->handle || !o->armed || o->token != ev->token)
			continue;
		if (!o->may_fin)
			FAIL("token %#llx for %#llx, which the roots always reached",
			     (unsigned long long)ev->token, (unsigned long long)ev->handle);
		o->armed = false;
		walk(f);
		return;
	}
	for (k = 0; k < NMAYBE; k++)
		if (f->maybe_h[k] == ev->handle && f->maybe_tok[k] == ev->token) {
			f->maybe_h[k] = 0;
			return;
		}
	FAIL("unexpected token %#llx for %#llx (twice, or never set)",
	     (unsigned long long)ev->token, (unsigned long long)ev->handle);
}

/* Read what is pending; returns the number of events. */
static int drain(struct mfile *f)
{
	struct spanheap_event ev[EVBATCH];
	int total = 0;
	ssize_t n, k;

	do {
		n = shp_events(f->fd, ev, EVBATCH);
		if (n < 0)
			FAIL("read of events: %zd", n);
		for (k = 0; k < n; k++)
			event_arrived(f, &ev[k]);
		total += n;
	} while (n == EVBATCH);
	return total;
}

/* ---- object operations on a modelled file ---- */

static int pick(struct mfile *f, struct in *in, bool used)
{
	int start = take(in, 1) % NOBJ, k, i;

	for (k = 0; k < NOBJ; k++) {
		i = (start + k) % NOBJ;
		if (f->o[i].used == used && (!used || !f->o[i].stale))
			return i;
	}
	return -1;
}

static void free_obj(struct obj *o)
{
	free(o->bytes);
	memset(o, 0, sizeof(*o));
}

static void op_alloc(struct mfile *f, struct in *in, bool fault)
{
	uint32_t kind = take(in, 1) & 1 ? SPANHEAP_KIND_REF : SPANHEAP_KIND_DATA;
	uint32_t sel = take(in, 1), flags = sel & 0x80 ? SPANHEAP_ALLOC_ROOTED : 0;
	uint64_t len, h;
	struct obj *o;
	int i, ret, k;

	for (i = 0; i < NOBJ && f->o[i].used && !f->o[i].stale; i++)
		;
	if (i == NOBJ)
		return;
	if (kind == SPANHEAP_KIND_REF)
		len = take(in, 1) % NSLOT + 1;
	else if ((sel & 0x70) == 0x70)		/* large: a span of its own */
		len = 32768 + take(in, 2) % (sizeof(iobuf) - 32768);
	else
		len = take(in, 2) % 4096 + 1;
	ret = shp_alloc_flags(f->fd, kind, len, flags, &h);
	if (ret == -ENOMEM && fault)
		return;
	if (ret)
		FAIL("ALLOC kind %u length %llu: %d", kind, (unsigned long long)len, ret);
	o = &f->o[i];
	if (o->used) {
		orphan(f, i);
		free_obj(o);
	}
	o->used = true;
	o->h = h;
	o->kind = kind;
	o->len = len;
	o->roots = !!flags;
	for (k = 0; k < NSLOT; k++)
		o->slot[k] = -1;
	if (kind == SPANHEAP_KIND_DATA) {
		o->bytes = calloc(1, len);
		if (!o->bytes)
			abort();
	}
	walk(f);
}

/*
 * Stop modelling what is garbage: objects outside the must set are
 * referred to only from each other, so they can all go at once.
 */
static void forget_garbage(struct mfile *f)
{
	int i;

	for (i = 0; i < NOBJ; i++)
		if (f->o[i].used && !f->o[i].must) {
			orphan(f, i);
			free_obj(&f->o[i]);
		}
}

/* Unrooted objects the model never sees: paced cycles and a table to reclaim. */
static void op_burst(struct mfile *f, struct in *in, bool fault)
{
	unsigned int n = take(in, 1) * 2 + 1, len = take(in, 1) + 1;
	uint64_t h;
	int ret;

	while (n--) {
		ret = shp_alloc(f->fd, n & 1 ? SPANHEAP_KIND_REF : SPANHEAP_KIND_DATA,
				n & 1 ? len % 16 + 1 : len, &h);
		if (ret == -ENOMEM && fault)
			return;
		if (ret)
			FAIL("ALLOC of garbage: %d", ret);
	}
}

static void op_write(struct mfile *f, struct in *in, bool fault)
{
	int i = pick(f, in, true), ret;
	uint64_t off, len, k;
	uint8_t seed;
	struct obj *o;

	if (i < 0 || f->o[i].kind != SPANHEAP_KIND_DATA)
		return;
	o = &f->o[i];
	off = take(in, 2) % o->len;
	len = take(in, 2) % (o->len - off) + 1;
	seed = take(in, 1);
	for (k = 0; k < len; k++)
		iobuf[k] = seed + k * 7;
	ret = shp_write(f->fd, o->h, off, iobuf, len);
	if (ret == -ESTALE)
		return went_stale(o, "WRITE");
	if (ret == -ENOMEM && fault)
		return;
	if (ret)
		FAIL("WRITE %#llx: %d", (unsigned long long)o->h, ret);
	resolved(o, "WRITE");
	memcpy(o->bytes + off, iobuf, len);
}

/* Read back and compare everything of @o the model knows. */
static void verify(struct mfile *f, int i, bool fault)
{
	struct obj *o = &f->o[i];
	uint64_t v;
	int k, ret;

	if (o->kind == SPANHEAP_KIND_DATA) {
		ret = shp_read(f->fd, o->h, 0, iobuf, o->len);
		if (ret == 0 && memcmp(iobuf, o->bytes, o->len))
			FAIL("READ %#llx (%u bytes): contents differ from the model",
			     (unsigned long long)o->h, o->len);
	} else {
		for (k = 0, ret = 0; k < (int)o->len && !ret; k++) {
			ret = shp_load(f->fd, o->h, k, &v);
			if (!ret && v != (o->slot[k] < 0 ? 0 : f->o[o->slot[k]].h))
				FAIL("LOAD %#llx[%d] = %#llx, model %#llx",
				     (unsigned long long)o->h, k, (unsigned long long)v,
				     (unsigned long long)(o->slot[k] < 0 ? 0 : f->o[o->slot[k]].h));
		}
	}
	if (ret == -ESTALE)
		return went_stale(o, "read-back");
	if (ret == -ENOMEM && fault)
		return;
	if (ret)
		FAIL("read-back of %#llx: %d", (unsigned long long)o->h, ret);
	resolved(o, "read-back");
	/* It resolved: so must everything it refers to. */
	for (k = 0; o->kind == SPANHEAP_KIND_REF && k < NSLOT; k++)
		if (o->slot[k] >= 0 && f->o[o->slot[k]].stale)
			FAIL("%#llx resolves, its referent %#llx was stale",
			     (unsigned long long)o->h,
			     (unsigned long long)f->o[o->slot[k]].h);
}

/* A free model slot for a new object (a stale one is reused), or -1. */
static int free_slot(struct mfile *f)
{
	int i;

	for (i = 0; i < NOBJ && f->o[i].used && !f->o[i].stale; i++)
		;
	return i == NOBJ ? -1 : i;
}

/*
 * SPANHEAP_IOC_BATCH of up to 8 ops mixing ALLOC, STORE, ROOT, UNROOT,
 * LOAD and FINALIZER on modelled objects.  The model takes the ops that
 * succeeded in order, each as the single command (LOAD checked against
 * the model as it stands after the ops before it); the failed op's error
 * must be one its single command may give, and the ops after it must
 * come back untouched.
 */
static void op_batch(struct mfile *f, struct in *in, bool fault)
{
	struct spanheap_op ops[8], orig[8];
	int n = take(in, 1) % 8 + 1, who[8], tgt[8], dr[NOBJ] = { 0 }, nalloc = 0;
	bool fin[NOBJ] = { false };
	uint32_t done, sel, rooted;
	struct obj *o;
	uint64_t v;
	int k, i, t, ret, room = 0;

	for (i = 0; i < NOBJ; i++)
		room += !f->o[i].used || f->o[i].stale;
	for (k = 0; k < n; k++) {
		sel = take(in, 1);
		i = pick(f, in, true);
		who[k] = i;
		tgt[k] = -1;
		o = i >= 0 ? &f->o[i] : NULL;
		switch (sel % 6) {
		case 1:
			if (!o || o->kind != SPANHEAP_KIND_REF)
				break;
			tgt[k] = sel & 0x80 ? -1 : pick(f, in, true);
			shp_op_ref(&ops[k], SPANHEAP_IOC_STORE, o->h, take(in, 1) % o->len,
				   tgt[k] < 0 ? 0 : f->o[tgt[k]].h);
			continue;
		case 2:
			if (!o)
				break;
			shp_op_root(&ops[k], SPANHEAP_IOC_ROOT, o->h);
			dr[i]++;
			continue;
		case 3:
			if (!o || (int)o->roots + dr[i] <= 0)
				break;
			shp_op_root(&ops[k], SPANHEAP_IOC_UNROOT, o->h);
			dr[i]--;
			continue;
		case 4:
			if (!o || o->kind != SPANHEAP_KIND_REF)
				break;
			shp_op_ref(&ops[k], SPANHEAP_IOC_LOAD, o->h, take(in, 1) % o->len, 0);
			continue;
		case 5:
			if (!o || o->armed || fin[i])
				break;
			fin[i] = true;
			shp_op_finalizer(&ops[k], o->h,
					 ++f->token_seq | (uint64_t)(f - files) << 60, 0);
			continue;
		}
		/*
		 * ALLOC (also when the op drawn had no object to work on);
		 * past the model's room unrooted: unmodelled garbage.
		 */
		who[k] = -1;
		rooted = sel & 0x40 && nalloc < room ? SPANHEAP_ALLOC_ROOTED : 0;
		if (sel & 1)
			shp_op_alloc(&ops[k], SPANHEAP_KIND_REF, sel % NSLOT + 1, rooted);
		else
			shp_op_alloc(&ops[k], SPANHEAP_KIND_DATA, take(in, 2) % 4096 + 1,
				     rooted);
		nalloc++;
	}
	memcpy(orig, ops, sizeof(ops[0]) * n);
	ret = shp_batch(f->fd, ops, n, &done);
	if (ret == -ENOMEM && fault) {	/* the kernel's copy of the array: none ran */
		if (memcmp(ops, orig, sizeof(ops[0]) * n))
			FAIL("BATCH refused (-ENOMEM), its ops written");
		return;
	}
	if (ret)
		FAIL("BATCH of %d ops refused: %d", n, ret);
	if (done > (uint32_t)n)
		FAIL("BATCH: done %u of %d", done, n);
	for (k = done + 1; k < n; k++)
		if (memcmp(&ops[k], &orig[k], sizeof(ops[k])))
			FAIL("BATCH stopped at op %u, op %d was written", done, k);
	for (k = 0; k < (int)done; k++) {
		i = who[k];
		o = i >= 0 ? &f->o[i] : NULL;
		if (ops[k].error)
			FAIL("BATCH op %d of %u done: error %d", k, done, ops[k].error);
		switch (ops[k].cmd) {
		case SPANHEAP_IOC_ALLOC:
			i = free_slot(f);
			if (i < 0)	/* no room in the model: leave it garbage */
				break;
			o = &f->o[i];
			if (o->used) {
				orphan(f, i);
				free_obj(o);
			}
			o->used = true;
			o->h = ops[k].alloc.handle;
			o->kind = ops[k].alloc.kind;
			o->len = ops[k].alloc.length;
			o->roots = !!ops[k].alloc.flags;
			for (t = 0; t < NSLOT; t++)
				o->slot[t] = -1;
			if (o->kind == SPANHEAP_KIND_DATA) {
				o->bytes = calloc(1, o->len);
				if (!o->bytes)
					abort();
			}
			if (!o->h || o->h >> 63)
				FAIL("BATCH ALLOC handle %#llx", (unsigned long long)o->h);
			break;
		case SPANHEAP_IOC_STORE:
			resolved(o, "BATCH STORE");
			if (tgt[k] >= 0)
				resolved(&f->o[tgt[k]], "BATCH STORE target");
			o->slot[ops[k].ref.slot] = tgt[k];
			break;
		case SPANHEAP_IOC_ROOT:
		case SPANHEAP_IOC_UNROOT:
			resolved(o, "BATCH ROOT");
			o->roots += ops[k].cmd == SPANHEAP_IOC_ROOT ? 1 : -1;
			if (ops[k].root.count != o->roots)
				FAIL("BATCH ROOT count %llu, model %u",
				     (unsigned long long)ops[k].root.count, o->roots);
			break;
		case SPANHEAP_IOC_LOAD:
			resolved(o, "BATCH LOAD");
			t = o->slot[ops[k].ref.slot];
			v = t < 0 ? 0 : f->o[t].h;
			if (ops[k].ref.value != v)
				FAIL("BATCH LOAD %#llx[%llu] = %#llx, model %#llx",
				     (unsigned long long)o->h,
				     (unsigned long long)ops[k].ref.slot,
				     (unsigned long long)ops[k].ref.value,
				     (unsigned long long)v);
			break;
		default:
			resolved(o, "BATCH FINALIZER");
			o->armed = true;
			o->token = ops[k].fin.token;
			o->may_fin = false;
		}
		walk(f);
	}
	if (done == (uint32_t)n)
		return;
	ret = ops[done].error;
	i = who[done];
	if (ret == -ENOMEM && fault)
		return;
	if (ret != -ESTALE || i < 0)
		FAIL("BATCH op %u (cmd %u): %d", done, _IOC_NR(ops[done].cmd), ret);
	if (ops[done].cmd != SPANHEAP_IOC_STORE)
		return went_stale(&f->o[i], "BATCH op");
	/* the object, or the target: find out which */
	verify(f, i, fault);
	if (tgt[done] >= 0 && !f->o[i].stale)
		verify(f, tgt[done], fault);
	if (!f->o[i].stale && (tgt[done] < 0 || !f->o[tgt[done]].stale))
		FAIL("BATCH STORE said -ESTALE; both objects resolve");
}

static void op_store(struct mfile *f, struct in *in, bool fault)
{
	int i = pick(f, in, true), t = pick(f, in, true), ret;
	uint64_t sel = take(in, 1), slot;
	struct obj *o;

	if (i < 0 || f->o[i].kind != SPANHEAP_KIND_REF)
		return;
	o = &f->o[i];
	slot = sel % o->len;
	if (sel & 0x80)
		t = -1;
	ret = shp_store(f->fd, o->h, slot, t < 0 ? 0 : f->o[t].h);
	if (ret == -ESTALE) {
		/* the object, or the target: find out which */
		verify(f, i, fault);
		if (t >= 0 && !o->stale)
			verify(f, t, fault);
		if (!o->stale && (t < 0 || !f->o[t].stale))
			FAIL("STORE said -ESTALE; both objects resolve");
		return;
	}
	if (ret)
		FAIL("STORE %#llx[%llu]: %d", (unsigned long long)o->h,
		     (unsigned long long)slot, ret);
	resolved(o, "STORE");
	if (t >= 0)
		resolved(&f->o[t], "STORE target");
	o->slot[slot] = t;
	walk(f);
}

static void op_root(struct mfile *f, struct in *in, bool root, bool fault)
{
	int i = pick(f, in, true), ret;
	uint64_t count;
	struct obj *o;

	if (i < 0 || (!root && !f->o[i].roots))
		return;
	o = &f->o[i];
	ret = root ? shp_root(f->fd, o->h, &count) : shp_unroot(f->fd, o->h, &count);
	if (ret == -ESTALE)
		return went_stale(o, "ROOT");
	if (ret)
		FAIL("%s %#llx: %d", root ? "ROOT" : "UNROOT", (unsigned long long)o->h, ret);
	resolved(o, "ROOT");
	o->roots += root ? 1 : -1;
	if (count != o->roots)
		FAIL("ROOT count %llu, model %u", (unsigned long long)count, o->roots);
	walk(f);
	if (root)
		verify(f, i, fault);	/* rooted again: all of it must be there */
}

/* Set a new finalizer on object @i. */
static void fin_set(struct mfile *f, int i, bool fault)
{
	struct obj *o = &f->o[i];
	uint64_t t;
	int ret;

	if (o->armed && !maybe_room(f))
		return;
	t = ++f->token_seq | (uint64_t)(f - files) << 60;
	ret = shp_set_finalizer(f->fd, o->h, t);
	if (ret == -ESTALE)
		return went_stale(o, "FINALIZER");
	if ((ret == -ENOMEM && fault) || (ret == -EEXIST && o->armed))
		return;
	if (ret)
		FAIL("FINALIZER %#llx (armed %d): %d", (unsigned long long)o->h, o->armed, ret);
	resolved(o, "FINALIZER");
	if (o->armed) {
		/* Accepted: the old one was queued already and will arrive. */
		if (!o->may_fin)
			FAIL("FINALIZER on %#llx replaced one the roots always reached",
			     (unsigned long long)o->h);
		forget_maybe(f, o->h, o->token);
	}
	o->armed = true;
	o->token = t;
	o->may_fin = false;
	walk(f);
}

static void op_finalizer(struct mfile *f, struct in *in, bool fault)
{
	int i = pick(f, in, true), ret;
	bool clear = take(in, 1) & 1;
	struct obj *o;

	if (i < 0)
		return;
	o = &f->o[i];
	if (!clear)
		return fin_set(f, i, fault);
	if (o->armed && !maybe_room(f))
		return;
	ret = shp_clear_finalizer(f->fd, o->h);
	if (ret == -ESTALE)
		return went_stale(o, "FINALIZER clear");
	if (ret)
		FAIL("FINALIZER clear %#llx: %d", (unsigned long long)o->h, ret);
	resolved(o, "FINALIZER clear");
	if (o->armed && o->may_fin)	/* its cycle may have taken it */
		forget_maybe(f, o->h, o->token);
	o->armed = false;
	walk(f);
}

/* ---- cleanups and weak handles ---- */

static int cleanup_call(struct mfile *f, unsigned long cmd, uint64_t h, uint64_t token,
			uint64_t *id)
{
	struct spanheap_cleanup a = { .size = sizeof(a), .handle = h, .token = token };
	int ret;

	if (cmd == SPANHEAP_IOC_CLEANUP_STOP)
		a.id = *id;
	ret = shp_ioctl(f->fd, cmd, &a);
	if (!ret && cmd == SPANHEAP_IOC_CLEANUP)
		*id = a.id;
	return ret;
}

static int weak_call(struct mfile *f, unsigned long cmd, uint32_t flags, uint64_t *weak,
		     uint64_t *h, uint64_t *count)
{
	struct spanheap_weakref a = { .size = sizeof(a), .flags = flags };
	int ret;

	if (cmd == SPANHEAP_IOC_WEAK_MAKE)
		a.handle = *h;
	else
		a.weak = *weak;
	ret = shp_ioctl(f->fd, cmd, &a);
	if (ret)
		return ret;
	if (a.size != sizeof(a))
		FAIL("weak ioctl nr %lu wrote size %u back", cmd & 0xff, a.size);
	*weak = a.weak;
	*h = a.handle;
	*count = a.count;
	return 0;
}

static void op_cleanup(struct mfile *f, struct in *in, bool fault)
{
	int i = pick(f, in, true), k, ret;
	uint64_t token, id = 0;
	struct mclean *c;
	struct obj *o;

	for (k = 0; k < NCLEAN && f->c[k].used; k++)
		;
	if (i < 0 || k == NCLEAN)
		return;
	o = &f->o[i];
	c = &f->c[k];
	token = ++f->token_seq | CLEANUP_TOKEN | (uint64_t)(f - files) << 60;
	ret = cleanup_call(f, SPANHEAP_IOC_CLEANUP, o->h, token, &id);
	if (ret == -ESTALE)
		return went_stale(o, "CLEANUP");
	if (ret == -ENOMEM && fault)
		return;
	if (ret)
		FAIL("CLEANUP %#llx: %d", (unsigned long long)o->h, ret);
	resolved(o, "CLEANUP");
	if (!id || id > INT64_MAX)
		FAIL("CLEANUP %#llx: id %#llx", (unsigned long long)o->h, (unsigned long long)id);
	for (k = 0; k < NCLEAN; k++)
		if (f->c[k].used && f->c[k].id == id)
			FAIL("CLEANUP id %llu handed out twice", (unsigned long long)id);
	*c = (struct mclean){ .used = true, .may_run = !o->must, .obj = i, .h = o->h,
			      .id = id, .token = token };
}

/* Stop a cleanup: 0 unless its cycle may have queued it; then it arrives. */
static void op_cleanup_stop(struct mfile *f, struct in *in, bool fault)
{
	int start = take(in, 1) % NCLEAN, k, ret;
	struct mclean *c = NULL;
	uint64_t id;

	for (k = 0; k < NCLEAN && !c; k++)
		if (f->c[(start + k) % NCLEAN].used)
			c = &f->c[(start + k) % NCLEAN];
	if (!c)
		return;
	id = c->id;
	ret = cleanup_call(f, SPANHEAP_IOC_CLEANUP_STOP, c->h, 0, &id);
	if (ret == -ESTALE) {
		if (c->obj >= 0)
			went_stale(&f->o[c->obj], "CLEANUP_STOP");
		else if (!c->may_run)
			FAIL("CLEANUP_STOP: -ESTALE, the object always reachable");
		return;		/* freed: the event is due */
	}
	if (ret == -ENOENT && c->may_run)
		return;		/* queued already: the event is due */
	if (ret)
		FAIL("CLEANUP_STOP %#llx id %llu (may run %d): %d", (unsigned long long)c->h,
		     (unsigned long long)c->id, c->may_run, ret);
	if (c->obj >= 0)
		resolved(&f->o[c->obj], "CLEANUP_STOP");
	memset(c, 0, sizeof(*c));	/* its token must never arrive */
	(void)fault;
}

static struct mweak *weak_find(struct mfile *f, uint64_t w)
{
	int k;

	for (k = 0; k < NWEAK; k++)
		if (f->w[k].used && f->w[k].w == w)
			return &f->w[k];
	return NULL;
}

/* WEAK_MAKE: while its object lives unreachable by no cycle, one weak handle. */
static void op_weak_make(struct mfile *f, struct in *in, bool fault)
{
	int i = pick(f, in, true), k, ret;
	uint64_t w = 0, h, count;
	struct mweak *e, *old = NULL;
	struct obj *o;

	for (k = 0; k < NWEAK && f->w[k].used; k++)
		;
	if (i < 0)
		return;
	o = &f->o[i];
	h = o->h;
	for (e = f->w; e < f->w + NWEAK; e++)
		if (e->used && e->obj == i && !e->nil)
			old = e;
	if (k == NWEAK && !old)
		return;		/* no room for a new one */
	ret = weak_call(f, SPANHEAP_IOC_WEAK_MAKE, 0, &w, &h, &count);
	if (ret == -ESTALE)
		return went_stale(o, "WEAK_MAKE");
	if (ret == -ENOMEM && fault)
		return;
	if (ret)
		FAIL("WEAK_MAKE %#llx: %d", (unsigned long long)o->h, ret);
	resolved(o, "WEAK_MAKE");
	if (!(w & (1ULL << 62)) || w >> 63)
		FAIL("WEAK_MAKE %#llx: weak handle %#llx", (unsigned long long)o->h,
		     (unsigned long long)w);
	e = weak_find(f, w);
	if (e) {
		if (e->obj != i || e->nil)
			FAIL("WEAK_MAKE %#llx: %#llx, the weak handle of %#llx%s",
			     (unsigned long long)o->h, (unsigned long long)w,
			     (unsigned long long)e->h, e->nil ? ", which read nil" : "");
		if (count != ++e->refs)
			FAIL("WEAK_MAKE count %llu, model %u", (unsigned long long)count, e->refs);
		return;
	}
	if (old) {
		/* A new one: a cycle found the object unreachable since. */
		if (!old->may_nil)
			FAIL("WEAK_MAKE %#llx: %#llx, not its weak handle %#llx (canonical while it lives)",
			     (unsigned long long)o->h, (unsigned long long)w,
			     (unsigned long long)old->w);
		old->nil = true;
	}
	if (k == NWEAK) {	/* no room: drop it again */
		ret = weak_call(f, SPANHEAP_IOC_WEAK_DROP, 0, &w, &h, &count);
		if (ret || count)
			FAIL("WEAK_DROP of a new %#llx: %d, count %llu", (unsigned long long)w,
			     ret, (unsigned long long)count);
		f->dropped_w = w;
		return;
	}
	if (count != 1)
		FAIL("WEAK_MAKE: new %#llx with count %llu", (unsigned long long)w,
		     (unsigned long long)count);
	f->w[k] = (struct mweak){ .used = true, .may_nil = !o->reach, .obj = i, .w = w,
				  .h = o->h, .refs = 1 };
}

/* WEAK_GET: the object, or 0 once it may have been found unreachable, then for good. */
static void weak_get_check(struct mfile *f, struct mweak *e, bool root, bool fault)
{
	uint64_t w = e->w, h = 0, count;
	struct obj *o = e->obj >= 0 ? &f->o[e->obj] : NULL;
	int ret;

	ret = weak_call(f, SPANHEAP_IOC_WEAK_GET, root ? SPANHEAP_WEAK_ROOT : 0, &w, &h, &count);
	if (ret == -ENOMEM && fault)
		return;
	if (ret)
		FAIL("WEAK_GET %#llx%s: %d", (unsigned long long)e->w, root ? " ROOT" : "", ret);
	if (count != e->refs)
		FAIL("WEAK_GET %#llx: count %llu, model %u", (unsigned long long)e->w,
		     (unsigned long long)count, e->refs);
	if (!h) {
		if (!e->may_nil)
			FAIL("WEAK_GET %#llx: nil, %#llx always reachable from the roots",
			     (unsigned long long)e->w, (unsigned long long)e->h);
		e->nil = true;
		return;
	}
	if (h != e->h || e->nil)
		FAIL("WEAK_GET %#llx: %#llx, model %#llx%s", (unsigned long long)e->w,
		     (unsigned long long)h, (unsigned long long)e->h,
		     e->nil ? " (it read nil before)" : "");
	if (o)
		resolved(o, "WEAK_GET");
	if (!root)
		return;
	if (!o)
		FAIL("WEAK_GET ROOT of a forgotten object");
	o->roots++;
	walk(f);
	verify(f, e->obj, fault);	/* rooted again: all of it must be there */
}

static void op_weak_get(struct mfile *f, struct in *in, bool fault)
{
	int start = take(in, 1), k;
	struct mweak *e;

	for (k = 0; k < NWEAK; k++) {
		e = &f->w[(start + k) % NWEAK];
		if (e->used)	/* ROOT only what the model can root */
			return weak_get_check(f, e, start & 0x80 && e->obj >= 0, fault);
	}
}

static void op_weak_drop(struct mfile *f, struct in *in)
{
	int start = take(in, 1), k, ret;
	uint64_t w, h = 0, count;
	struct mweak *e;

	for (k = 0; k < NWEAK; k++) {
		e = &f->w[(start + k) % NWEAK];
		if (!e->used)
			continue;
		w = e->w;
		ret = weak_call(f, SPANHEAP_IOC_WEAK_DROP, 0, &w, &h, &count);
		if (ret)
			FAIL("WEAK_DROP %#llx: %d", (unsigned long long)e->w, ret);
		if (count != --e->refs)
			FAIL("WEAK_DROP %#llx: count %llu, model %u", (unsigned long long)e->w,
			     (unsigned long long)count, e->refs);
		if (!e->refs) {
			f->dropped_w = e->w;
			memset(e, 0, sizeof(*e));
		}
		return;
	}
}

static void check_stats(struct mfile *f, bool quiescent, uint64_t extra_roots)
{
	struct spanheap_stats_v1 st;
	uint64_t roots = 0, armed = 0, must = 0, cleanups, weak, weak_live;
	int i, ret;

	ret = shp_stats(f->fd, &st);
	if (ret == -ENOMEM && !quiescent)
		return;
	if (ret)
		FAIL("STATS: %d", ret);
	for (i = 0; i < NOBJ; i++) {
		struct obj *o = &f->o[i];

		if (!o->used)
			continue;
		roots += o->roots;
		armed += o->armed;
		must += o->must;
	}
	if (st.size != sizeof(st) || st.version != SPANHEAP_STATS_VERSION)
		FAIL("STATS size %u version %u", st.size, st.version);
	if (extra_roots != ROOTS_UNKNOWN && st.roots != roots + extra_roots)
		FAIL("STATS roots %llu, model %llu", (unsigned long long)st.roots,
		     (unsigned long long)(roots + extra_roots));
	if (st.events_read != f->events_read)
		FAIL("STATS events_read %llu, model %llu",
		     (unsigned long long)st.events_read, (unsigned long long)f->events_read);
	/*
	 * Per-span counts are summed without stopping the world: another
	 * thread's allocations and frees, and sweeping, change them, so
	 * finalizers_set and objects are checked at quiescence only.
	 */
	if (!quiescent)
		return;
	if (st.finalizers_set != armed || st.events_pending)
		FAIL("quiescent STATS: finalizers_set %llu (model %llu), events_pending %llu",
		     (unsigned long long)st.finalizers_set, (unsigned long long)armed,
		     (unsigned long long)st.events_pending);
	if (st.finalizers_run != f->fin_read || st.cleanups_run != f->clean_read)
		FAIL("quiescent STATS: finalizers_run %llu, cleanups_run %llu, events read %llu + %llu",
		     (unsigned long long)st.finalizers_run, (unsigned long long)st.cleanups_run,
		     (unsigned long long)f->fin_read, (unsigned long long)f->clean_read);
	for (i = 0, cleanups = 0; i < NCLEAN; i++)
		cleanups += f->c[i].used;
	for (i = 0, weak = 0, weak_live = 0; i < NWEAK; i++) {
		weak += f->w[i].used;
		weak_live += f->w[i].used && !f->w[i].nil;
	}
	if (st.cleanups_set != cleanups || st.cleanups_queued || st.weak_handles != weak ||
	    st.weak_live != weak_live || st.pins)
		FAIL("quiescent STATS: cleanups set %llu queued %llu (model %llu), weak handles %llu live %llu (model %llu, %llu), pins %llu",
		     (unsigned long long)st.cleanups_set,
		     (unsigned long long)st.cleanups_queued, (unsigned long long)cleanups,
		     (unsigned long long)st.weak_handles, (unsigned long long)st.weak_live,
		     (unsigned long long)weak, (unsigned long long)weak_live,
		     (unsigned long long)st.pins);
	/*
	 * Everything else was garbage, and the collections took it.  Each
	 * armed cleanup's argument is a tiny object of the heap (as in Go),
	 * which may share its block: one more object at most.
	 */
	if (st.objects < must || (!extra_roots && st.objects > must + cleanups))
		FAIL("quiescent STATS: %llu objects, the model has %llu and %llu cleanups",
		     (unsigned long long)st.objects, (unsigned long long)must,
		     (unsigned long long)cleanups);
}

/* ---- hostile calls on a modelled file: each must fail, nothing changes ---- */

static const unsigned long cmds[] = {
	SPANHEAP_IOC_ALLOC, SPANHEAP_IOC_WRITE, SPANHEAP_IOC_READ, SPANHEAP_IOC_STORE,
	SPANHEAP_IOC_LOAD, SPANHEAP_IOC_ROOT, SPANHEAP_IOC_UNROOT, SPANHEAP_IOC_FINALIZER,
	SPANHEAP_IOC_GC, SPANHEAP_IOC_STATS, SPANHEAP_IOC_SET_PARAMS,
};
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define NCMDS	ARRAY_SIZE(cmds)

/* A valid argument of @cmd for object @o (may be NULL); returns its size. */
static uint32_t valid_arg(unsigned long cmd, struct obj *o, uint8_t *a)
{
	uint64_t h = o ? o->h : 0;

	memset(a, 0, 64);
	switch (cmd) {
	case SPANHEAP_IOC_ALLOC:
		*(struct spanheap_alloc *)a = (struct spanheap_alloc){
			.size = 32, .kind = SPANHEAP_KIND_DATA, .length = 8,
			.flags = SPANHEAP_ALLOC_ROOTED };
		return 32;
	case SPANHEAP_IOC_WRITE:
	case SPANHEAP_IOC_READ:
		*(struct spanheap_rw *)a = (struct spanheap_rw){
			.size = 40, .handle = h, .length = 1,
			.buf = (uintptr_t)iobuf };
		return 40;
	case SPANHEAP_IOC_STORE:
	case SPANHEAP_IOC_LOAD:
		*(struct spanheap_ref *)a = (struct spanheap_ref){ .size = 32, .handle = h };
		return 32;
	case SPANHEAP_IOC_ROOT:
	case SPANHEAP_IOC_UNROOT:
		*(struct spanheap_root *)a = (struct spanheap_root){ .size = 24, .handle = h };
		return 24;
	case SPANHEAP_IOC_FINALIZER:
		*(struct spanheap_finalizer *)a = (struct spanheap_finalizer){
			.size = 24, .handle = h, .flags = SPANHEAP_FIN_CLEAR };
		return 24;
	case SPANHEAP_IOC_GC:
		*(struct spanheap_gc *)a = (struct spanheap_gc){ .size = 16 };
		return 16;
	case SPANHEAP_IOC_SET_PARAMS:
		*(struct spanheap_params *)a = (struct spanheap_params){
			.size = 24, .flags = SPANHEAP_PARAM_GC_PERCENT, .gc_percent = 100 };
		return 24;
	}
	*(struct spanheap_stats_v1 *)a = (struct spanheap_stats_v1){ .size = 8 };
	return 8;
}

static void expect_err(int ret, int want, unsigned long cmd, const char *what)
{
	if (ret == -ENOMEM && fault_now)	/* before its check, an allocation failed */
		return;
	if (ret != -want)
		FAIL("hostile %s on ioctl nr %lu: %d, want %d", what, cmd & 0xff, ret, -want);
}

static uint8_t *const bad_ptrs[] = {
	NULL, (uint8_t *)8, (uint8_t *)0xffff888000000000ULL, NULL /* PROT_NONE */
};

static void op_hostile(struct mfile *f, struct in *in)
{
	unsigned long cmd = cmds[take(in, 1) % NCMDS];
	unsigned int how = take(in, 1) % 11;
	int err = ERANGE;
	int i = pick(f, in, true), ret;
	struct obj *o = i < 0 ? NULL : &f->o[i];
	uint8_t *a = guard, *arg;
	uint32_t size;
	int k;

	if (cmd == SPANHEAP_IOC_STATS)
		return;		/* accepts any size from 8: see op_raw */
	size = valid_arg(cmd, o, a);
	switch (how) {
	case 0:		/* short struct */
		*(uint32_t *)a = take(in, 1) % size;
		ret = shp_ioctl(f->fd, cmd, a);
		return expect_err(ret, EINVAL, cmd, "short size");
	case 1:		/* beyond SPANHEAP_MAX_ARG_SIZE */
		*(uint32_t *)a = SPANHEAP_MAX_ARG_SIZE + 1 + take(in, 4) % (UINT32_MAX - SPANHEAP_MAX_ARG_SIZE);
		return expect_err(shp_ioctl(f->fd, cmd, a), E2BIG, cmd, "huge size");
	case 2:		/* a longer struct with a non-zero tail */
		*(uint32_t *)a = size + 8;
		a[size + take(in, 1) % 8] = take(in, 1) | 1;
		return expect_err(shp_ioctl(f->fd, cmd, a), EINVAL, cmd, "non-zero tail");
	case 3:		/* unknown flag bits */
		*(uint32_t *)(a + 4) |= 0x80000000U >> (take(in, 1) % 16);
		return expect_err(shp_ioctl(f->fd, cmd, a), EINVAL, cmd, "bad flags");
	case 4:		/* NULL, unmapped-looking, kernel and PROT_NONE pointers */
		k = take(in, 1) % 4;
		arg = k == 3 ? guard + 2 * PG : bad_ptrs[k];
		return expect_err(shp_ioctl(f->fd, cmd, arg), EFAULT, cmd, "bad pointer");
	case 5:		/* read-only: nothing may happen, not even an ALLOC */
		memcpy(guard + PG, a, 64);
		ret = mprotect(guard + PG, PG, PROT_READ);
		if (ret)
			abort();
		ret = shp_ioctl(f->fd, cmd, guard + PG);
		mprotect(guard + PG, PG, PROT_READ | PROT_WRITE);
		return expect_err(ret, EFAULT, cmd, "read-only struct");
	case 6:		/* another file's handle */
		if (!o || cmd == SPANHEAP_IOC_ALLOC || cmd == SPANHEAP_IOC_GC ||
		    cmd == SPANHEAP_IOC_SET_PARAMS)
			return;
		return expect_err(shp_ioctl(files[(f - files + 1) % NFILES].fd, cmd, a),
				  EINVAL, cmd, "foreign handle");
	case 7:		/* an index never handed out */
		if (!o || cmd == SPANHEAP_IOC_ALLOC || cmd == SPANHEAP_IOC_GC ||
		    cmd == SPANHEAP_IOC_SET_PARAMS)
			return;
		k = take(in, 1);
		/* index 0 is never handed out either */
		*(uint64_t *)(a + 8) = (o->h & ~0xffffffULL) | (k & 0x10 ? 0 : 0xfffff0 | (k & 0xf));
		return expect_err(shp_ioctl(f->fd, cmd, a), ENOENT, cmd, "unknown index");
	case 8:		/* out of range, the wrong kind, nothing to undo */
		if (!o)
			return;
		k = take(in, 1);
		if (k & 1)	/* a command for the other kind */
			cmd = o->kind == SPANHEAP_KIND_DATA ? SPANHEAP_IOC_STORE : SPANHEAP_IOC_READ;
		else
			cmd = o->kind == SPANHEAP_KIND_DATA ? SPANHEAP_IOC_READ : SPANHEAP_IOC_STORE;
		if (k & 2)
			cmd = cmd == SPANHEAP_IOC_READ ? SPANHEAP_IOC_WRITE : SPANHEAP_IOC_LOAD;
		valid_arg(cmd, o, a);
		if (k & 1) {
			err = EINVAL;
		} else if (o->kind == SPANHEAP_KIND_DATA) {
			((struct spanheap_rw *)a)->offset = o->len - take(in, 1) % 2;
			((struct spanheap_rw *)a)->length = 2 + take(in, 1) % 3;
		} else {
			((struct spanheap_ref *)a)->slot = o->len + take(in, 4);
		}
		if (k & 4 && !o->roots) {
			cmd = SPANHEAP_IOC_UNROOT;
			valid_arg(cmd, o, a);
			err = EINVAL;
		}
		ret = shp_ioctl(f->fd, cmd, a);
		if (ret == -ESTALE)
			return went_stale(o, "out-of-range");
		return expect_err(ret, err, cmd, "out of range or kind");
	case 9:		/* parameters out of range; STORE of a made-up value; CLEAR + token */
		k = take(in, 1);
		if (k & 8 && o) {
			valid_arg(SPANHEAP_IOC_FINALIZER, o, a);
			((struct spanheap_finalizer *)a)->token = k;
			return expect_err(shp_ioctl(f->fd, SPANHEAP_IOC_FINALIZER, a), EINVAL,
					  SPANHEAP_IOC_FINALIZER, "CLEAR with a token");
		}
		if (k & 1 && o && o->kind == SPANHEAP_KIND_REF) {
			valid_arg(SPANHEAP_IOC_STORE, o, a);
			((struct spanheap_ref *)a)->value = k & 2 ? o->h + (1ULL << 44) :
							    (o->h & ~0xffffffULL) | 0xfffffe;
			ret = shp_ioctl(f->fd, SPANHEAP_IOC_STORE, a);
			if (ret == -ESTALE)
				return went_stale(o, "STORE of a made-up value");
			return expect_err(ret, k & 2 ? EINVAL : ENOENT, SPANHEAP_IOC_STORE,
					  "made-up value");
		}
		valid_arg(SPANHEAP_IOC_SET_PARAMS, NULL, a);
		((struct spanheap_params *)a)->flags = k & 2 ? SPANHEAP_PARAM_MEM_LIMIT :
						       SPANHEAP_PARAM_EVENT_QUEUE;
		((struct spanheap_params *)a)->mem_limit = k & 4 ? (1 << 20) - 1 : 1ULL << 40;
		((struct spanheap_params *)a)->event_queue_max = k & 4 ? 0 : 1U << 30;
		return expect_err(shp_ioctl(f->fd, SPANHEAP_IOC_SET_PARAMS, a), EINVAL,
				  SPANHEAP_IOC_SET_PARAMS, "parameter out of range");
	default:	/* a DATA buffer that is not there */
		if (!o || o->kind != SPANHEAP_KIND_DATA ||
		    (cmd != SPANHEAP_IOC_READ && cmd != SPANHEAP_IOC_WRITE))
			return;
		((struct spanheap_rw *)a)->buf = take(in, 1) & 1 ? (uintptr_t)(guard + 2 * PG)
							 : 0xffff888000000000ULL;
		ret = shp_ioctl(f->fd, cmd, a);
		if (ret == -ESTALE)
			return went_stale(o, "bad buffer");
		return expect_err(ret, EFAULT, cmd, "bad buffer");
	}
}

/*
 * Hostile calls of CLEANUP, CLEANUP_STOP and WEAK_*: bad sizes, flags,
 * "out" fields set on input, ids and weak handles that are not there,
 * object and weak handles swapped, another file's: each its errno.
 */
static void op_hostile2(struct mfile *f, struct in *in)
{
	static const unsigned long cmds2[] = {
		SPANHEAP_IOC_CLEANUP, SPANHEAP_IOC_CLEANUP_STOP, SPANHEAP_IOC_WEAK_MAKE,
		SPANHEAP_IOC_WEAK_GET, SPANHEAP_IOC_WEAK_DROP,
	};
	unsigned long cmd = cmds2[take(in, 1) % ARRAY_SIZE(cmds2)];
	unsigned int how = take(in, 1) % 10, k = take(in, 1);
	int i = pick(f, in, true), ret, err = EINVAL;
	struct obj *o = i < 0 ? NULL : &f->o[i];
	struct spanheap_cleanup *c = (void *)guard;
	struct spanheap_weakref *w = (void *)guard;
	struct mweak *e = NULL;
	struct mclean *mc = NULL;
	uint8_t *a = guard;

	for (i = 0; i < NWEAK && !e; i++)
		if (f->w[(k + i) % NWEAK].used)
			e = &f->w[(k + i) % NWEAK];
	for (i = 0; i < NCLEAN && !mc; i++)
		if (f->c[(k + i) % NCLEAN].used)
			mc = &f->c[(k + i) % NCLEAN];
	memset(a, 0, 64);
	/* a valid call first, then one thing wrong with it */
	if (cmd == SPANHEAP_IOC_CLEANUP || cmd == SPANHEAP_IOC_CLEANUP_STOP) {
		if (!o)
			return;
		*c = (struct spanheap_cleanup){ .size = sizeof(*c), .handle = o->h };
		if (cmd == SPANHEAP_IOC_CLEANUP)
			c->token = k;
		else
			c->id = 1ULL << 62;		/* never handed out */
	} else {
		*w = (struct spanheap_weakref){ .size = sizeof(*w) };
		if (cmd == SPANHEAP_IOC_WEAK_MAKE) {
			if (!o)
				return;
			w->handle = o->h;
		} else {
			if (!e)
				return;
			w->weak = e->w;
		}
	}
	switch (how) {
	case 0:		/* short */
		*(uint32_t *)a = k % 32;
		break;
	case 1:		/* past SPANHEAP_MAX_ARG_SIZE */
		*(uint32_t *)a = SPANHEAP_MAX_ARG_SIZE + 1 + k;
		err = E2BIG;
		break;
	case 2:		/* a longer struct, non-zero tail */
		*(uint32_t *)a = 32 + 8;
		a[32 + k % 8] = k | 1;
		break;
	case 3:		/* unknown flags; SPANHEAP_WEAK_ROOT where only GET takes it */
		*(uint32_t *)(a + 4) = cmd == SPANHEAP_IOC_WEAK_GET ? 2U << (k % 31) :
				       k & 1 ? SPANHEAP_WEAK_ROOT : 1U << (k % 32);
		break;
	case 4:		/* an "out" field set on input, or a field that must be 0 */
		if (cmd == SPANHEAP_IOC_CLEANUP)
			c->id = k | 1;
		else if (cmd == SPANHEAP_IOC_CLEANUP_STOP)
			c->token = k | 1;
		else if (k & 1)
			w->count = k | 1;
		else if (cmd == SPANHEAP_IOC_WEAK_MAKE)
			w->weak = e ? e->w : 1ULL << 62;
		else
			w->handle = o ? o->h : 1;
		break;
	case 5:		/* STOP: id 0, past S64_MAX, never handed out, or another object's */
		if (cmd != SPANHEAP_IOC_CLEANUP_STOP)
			return;
		err = ENOENT;
		c->id = k % 3 == 0 ? 0 : k % 3 == 1 ? 1ULL << 63 : c->id;
		if (k & 4 && mc && mc->h != o->h)
			c->id = mc->id;
		break;
	case 6:		/* an object handle as the weak one, a weak one as the object */
		if (cmd == SPANHEAP_IOC_CLEANUP || cmd == SPANHEAP_IOC_CLEANUP_STOP) {
			if (!e)
				return;
			c->handle = e->w;
		} else if (cmd == SPANHEAP_IOC_WEAK_MAKE) {
			if (!e)
				return;
			w->handle = e->w;
		} else {
			if (!o)
				return;
			w->weak = o->h;
		}
		break;
	case 7:		/* another file's: object or weak handle */
		ret = shp_ioctl(files[(f - files + 1) % NFILES].fd, cmd, a);
		return expect_err(ret, EINVAL, cmd, "another file's handle");
	case 8:		/* a weak handle dropped to 0, or never handed out */
		if (cmd != SPANHEAP_IOC_WEAK_GET && cmd != SPANHEAP_IOC_WEAK_DROP)
			return;
		if (k & 1 && f->dropped_w) {
			w->weak = f->dropped_w;
			err = ESTALE;
		} else {
			w->weak = (w->weak & ~0xffffffULL) | 0xfffff0 | (k & 0xf);
			err = ENOENT;
		}
		break;
	default:	/* read-only: nothing may happen */
		memcpy(guard + PG, a, 64);
		if (mprotect(guard + PG, PG, PROT_READ))
			abort();
		ret = shp_ioctl(f->fd, cmd, guard + PG);
		mprotect(guard + PG, PG, PROT_READ | PROT_WRITE);
		return expect_err(ret, EFAULT, cmd, "read-only struct");
	}
	ret = shp_ioctl(f->fd, cmd, a);
	if (ret == -ESTALE && err != ESTALE && o &&
	    (cmd == SPANHEAP_IOC_WEAK_MAKE ? w->handle : c->handle) == o->h &&
	    cmd != SPANHEAP_IOC_WEAK_GET && cmd != SPANHEAP_IOC_WEAK_DROP)
		return went_stale(o, "hostile CLEANUP or WEAK_MAKE");
	expect_err(ret, err, cmd, "CLEANUP or WEAK argument");
}

/*
 * WHY of a model object: a path ending at it, never unreachable while
 * the model reaches it from a root, nothing written past the capacity.
 */
static void op_why(struct mfile *f, struct in *in, bool inject)
{
	struct spanheap_why_hop hops[SPANHEAP_WHY_MAX_HOPS + 1];
	uint32_t cap = take(in, 1) % (SPANHEAP_WHY_MAX_HOPS + 1), kind, n, k;
	int i = pick(f, in, true), ret;
	struct obj *o;

	if (i < 0)
		return;
	o = &f->o[i];
	walk(f);
	memset(hops, 0xa5, sizeof(hops));
	ret = shp_why(f->fd, o->h, hops, cap, &kind, &n);
	if (ret == -ENOMEM && inject)
		return;
	if (ret == -ESTALE) {
		went_stale(o, "WHY");
		return;
	}
	if (ret)
		FAIL("WHY %#llx: %d", (unsigned long long)o->h, ret);
	resolved(o, "WHY");
	if (kind > SPANHEAP_WHY_FIN_CYCLE || !n != (kind == SPANHEAP_WHY_UNREACHABLE))
		FAIL("WHY %#llx: kind %u with %u hops", (unsigned long long)o->h, kind, n);
	if (o->reach && kind == SPANHEAP_WHY_UNREACHABLE)
		FAIL("WHY %#llx: unreachable, rooted in the model", (unsigned long long)o->h);
	if (n && n <= cap && (hops[n - 1].handle != o->h || hops[n - 1].slot != SPANHEAP_WHY_NO_SLOT))
		FAIL("WHY %#llx: the path ends at %#llx", (unsigned long long)o->h,
		     (unsigned long long)hops[n - 1].handle);
	for (k = 0; k + 1 < n && k < cap; k++)
		if (hops[k].slot == SPANHEAP_WHY_NO_SLOT || hops[k].handle >> 62)
			FAIL("WHY %#llx: hop %u", (unsigned long long)o->h, k);
	if (hops[n < cap ? n : cap].handle != 0xa5a5a5a5a5a5a5a5ULL)
		FAIL("WHY %#llx: written past capacity %u", (unsigned long long)o->h, cap);
}

/* Raw input bytes as any command's struct, on the unmodelled file. */
static void op_raw(struct in *in)
{
	static const int ok[] = { EINVAL, E2BIG, EFAULT, ENOENT, ESTALE, ERANGE, ENOMEM,
				  ENOTTY, EEXIST, EOVERFLOW, ENOSPC, 0 };
	/* (The scratch file is unmodelled: what a raw call makes, it keeps.) */
	static const unsigned long raw_cmds[] = {
		SPANHEAP_IOC_ALLOC, SPANHEAP_IOC_WRITE, SPANHEAP_IOC_READ, SPANHEAP_IOC_STORE,
		SPANHEAP_IOC_LOAD, SPANHEAP_IOC_ROOT, SPANHEAP_IOC_UNROOT, SPANHEAP_IOC_FINALIZER,
		SPANHEAP_IOC_GC, SPANHEAP_IOC_STATS, SPANHEAP_IOC_SET_PARAMS, SPANHEAP_IOC_CLEANUP,
		SPANHEAP_IOC_CLEANUP_STOP, SPANHEAP_IOC_WEAK_MAKE, SPANHEAP_IOC_WEAK_GET,
		SPANHEAP_IOC_WEAK_DROP, SPANHEAP_IOC_WHY,
	};
	uint8_t sel = take(in, 1), *a = guard;
	unsigned long cmd = sel < 0xf0 ? raw_cmds[sel % ARRAY_SIZE(raw_cmds)] : take(in, 4);
	int k, ret;

	for (k = 0; k < 64; k++)
		a[k] = take(in, 1);
	if (sel & 0x40)
		*(uint32_t *)a &= 0x7f;
	/* A buffer anywhere in this process would be a write anywhere: */
	if (cmd == SPANHEAP_IOC_READ || cmd == SPANHEAP_IOC_WRITE)
		((struct spanheap_rw *)a)->buf = sel & 0x20 ? (uintptr_t)iobuf :
						 (uintptr_t)(guard + 2 * PG);
	if (cmd == SPANHEAP_IOC_READ || cmd == SPANHEAP_IOC_WRITE)
		((struct spanheap_rw *)a)->length %= sizeof(iobuf);
	if (cmd == SPANHEAP_IOC_WHY)	/* room for SPANHEAP_WHY_MAX_HOPS, or none */
		((struct spanheap_why *)a)->hops = sel & 0x20 ? (uintptr_t)iobuf :
						   (uintptr_t)(guard + 2 * PG);
	ret = shp_ioctl(scratch_fd, cmd, a);
	if (ret && !errno_in(ret, ok))
		FAIL("raw ioctl %#lx: undocumented %d", cmd, ret);
}

struct blocked_reader {
	int fd;
	ssize_t n;
	struct spanheap_event ev;
};

static void *blocked_read(void *arg)
{
	struct blocked_reader *r = arg;

	r->n = shp_read_bytes(r->fd, &r->ev, sizeof(r->ev));
	return NULL;
}

/*
 * A blocking read() on a file of its own, most likely waiting already
 * when the collection delivers the one event it can get.
 */
static void blocking_read(void)
{
	struct blocked_reader r = { .fd = shp_open(0) };
	pthread_t tid;
	uint64_t h;

	if (r.fd < 0)
		FAIL("open: %d", r.fd);
	if (shp_alloc(r.fd, SPANHEAP_KIND_DATA, 8, &h) || shp_set_finalizer(r.fd, h, 77))
		FAIL("blocking read: set-up");
	if (pthread_create(&tid, NULL, blocked_read, &r))
		abort();
	if (shp_gc(r.fd, SPANHEAP_GC_WAIT, NULL))
		FAIL("blocking read: GC");
	pthread_join(tid, NULL);
	if (r.n != sizeof(r.ev) || r.ev.token != 77 || r.ev.handle != h)
		FAIL("blocking read: %zd bytes, token %llu", r.n, (unsigned long long)r.ev.token);
	shp_close(r.fd);
}

/* read() with odd sizes and buffers: -EINVAL, -EFAULT, or records. */
static void op_read_odd(struct mfile *f, struct in *in)
{
	uint8_t how = take(in, 1), *end;
	struct spanheap_event ev;
	ssize_t n, k;

	if ((how & 3) == 2 && !fault_now)
		return blocking_read();
	if (how & 1) {
		n = shp_read_bytes(f->fd, iobuf, how % sizeof(struct spanheap_event));
		if (n != -EINVAL)
			FAIL("read() of %d bytes: %zd, want -EINVAL",
			     (int)(how % sizeof(struct spanheap_event)), n);
		return;
	}
	/*
	 * Records running into the PROT_NONE page: those copied count, the
	 * first that cannot be copied stays queued (-EFAULT if it is the first).
	 */
	end = guard + 2 * PG - (how >> 1) % (2 * sizeof(ev));
	memset(guard + PG, 0, PG);
	n = shp_read_bytes(f->fd, end, 4 * sizeof(ev));
	if (n == -EFAULT || n == -EAGAIN)
		return;
	if (n <= 0 || n % sizeof(ev) || end + n > guard + 2 * PG)
		FAIL("read() into PROT_NONE: %zd", n);
	for (k = 0; k < n / (ssize_t)sizeof(ev); k++) {
		memcpy(&ev, end + k * sizeof(ev), sizeof(ev));
		event_arrived(f, &ev);
	}
}

/* ---- the quiescent check ---- */

static void collect(struct mfile *f)
{
	uint64_t c;
	int ret = shp_gc(f->fd, SPANHEAP_GC_WAIT, &c);

	if (ret)
		FAIL("GC: %d", ret);
}

/* Objects reached from the referents of armed objects (not from themselves). */
static void armed_referents(struct mfile *f, bool *by_armed)
{
	int stk[NOBJ * NSLOT], sp = 0, i, k;

	memset(by_armed, 0, NOBJ * sizeof(*by_armed));
	for (i = 0; i < NOBJ; i++)
		for (k = 0; f->o[i].used && f->o[i].armed && f->o[i].kind == SPANHEAP_KIND_REF &&
			    k < NSLOT; k++)
			if (f->o[i].slot[k] >= 0)
				stk[sp++] = f->o[i].slot[k];
	while (sp) {
		i = stk[--sp];
		if (by_armed[i])
			continue;
		by_armed[i] = true;
		for (k = 0; f->o[i].kind == SPANHEAP_KIND_REF && k < NSLOT; k++)
			if (f->o[i].slot[k] >= 0 && !by_armed[f->o[i].slot[k]])
				stk[sp++] = f->o[i].slot[k];
	}
}

static void quiescent(struct mfile *f, uint64_t extra_roots)
{
	bool by_armed[NOBJ];
	int i, rounds = 0;

	shp_inproc_fail_nth(0);
	shp_inproc_fail_any(0);

	/* Chains of finalizers need a cycle per link. */
	do {
		collect(f);
		if (++rounds > 2 * NOBJ + 4)
			FAIL("events still coming after %d collections", rounds);
	} while (drain(f));
	collect(f);		/* what the last events resurrected */
	if (drain(f))
		FAIL("an event after a collection that found none");
	memset(f->maybe_h, 0, sizeof(f->maybe_h));	/* what was queued arrived */
	/* Every cleanup of an object gone has run; every weak handle of one reads 0. */
	for (i = 0; i < NCLEAN; i++) {
		struct mclean *c = &f->c[i];

		if (c->used && (c->obj < 0 || !f->o[c->obj].must))
			FAIL("cleanup %llu (token %#llx) of unreachable %#llx: no event",
			     (unsigned long long)c->id, (unsigned long long)c->token,
			     (unsigned long long)c->h);
	}
	for (i = 0; i < NWEAK; i++) {
		struct mweak *e = &f->w[i];

		if (!e->used)
			continue;
		if (e->obj < 0 || !f->o[e->obj].must)
			e->may_nil = true;	/* (it was, since walk() says so) */
		weak_get_check(f, e, false, false);
		if (!e->nil && (e->obj < 0 || !f->o[e->obj].must))
			FAIL("weak %#llx reads %#llx, unreachable and collected",
			     (unsigned long long)e->w, (unsigned long long)e->h);
	}
	armed_referents(f, by_armed);
	for (i = 0; i < NOBJ; i++) {
		struct obj *o = &f->o[i];

		if (!o->used)
			continue;
		/* Go's rule: not finalized only if reached by the last mark */
		if (o->armed && !o->reach && !by_armed[i])
			FAIL("armed %#llx reached by nothing, never finalized",
			     (unsigned long long)o->h);
		if (o->must) {
			if (o->stale)
				FAIL("reachable %#llx stale", (unsigned long long)o->h);
			verify(f, i, false);
			continue;
		}
		if (!o->stale) {
			uint64_t count;
			int ret = shp_root(f->fd, o->h, &count);

			if (ret != -ESTALE)
				FAIL("%#llx (%s, %u) unreachable, survived the collections: %d",
				     (unsigned long long)o->h,
				     o->kind == SPANHEAP_KIND_DATA ? "DATA" : "REF", o->len, ret);
			o->stale = true;
		}
	}
	check_stats(f, true, extra_roots);
}

/* ---- the second thread: its own rooted objects on file 0 ---- */

struct t2 {
	struct in in;
	int fd;
};

static void *thread2(void *arg)
{
	struct t2 *t = arg;
	uint64_t h[8] = { 0 }, v;
	uint32_t len[8] = { 0 };
	struct spanheap_stats_v1 st;
	uint8_t buf[256];
	int k, ret;

	while (t->in.n) {
		unsigned int op = take(&t->in, 1), i = take(&t->in, 1) % 8, n = i + 1;

		switch (op % 6) {
		case 0:
			if (h[i])
				break;
			len[i] = op & 0x80 ? 0 : take(&t->in, 1) + 1;	/* REF: no bytes */
			ret = shp_alloc_flags(t->fd, len[i] ? SPANHEAP_KIND_DATA : SPANHEAP_KIND_REF,
					      len[i] ? len[i] : 2, SPANHEAP_ALLOC_ROOTED, &h[i]);
			if (ret && ret != -ENOMEM)	/* limits and injection: fair */
				FAIL("thread 2: ALLOC %d", ret);
			if (ret)
				h[i] = 0;
			break;
		case 1:
			if (!h[i] || !len[i])
				break;
			memset(buf, n, len[i]);
			ret = shp_write(t->fd, h[i], 0, buf, len[i]);
			if (!ret)
				ret = shp_read(t->fd, h[i], 0, buf, len[i]);
			if (ret && ret != -ENOMEM)
				FAIL("thread 2: rooted %#llx: %d", (unsigned long long)h[i], ret);
			for (k = 0; !ret && k < (int)len[i]; k++)
				if (buf[k] != n)
					FAIL("thread 2: bytes of %#llx changed", (unsigned long long)h[i]);
			break;
		case 2:
			if (!h[i] || len[i])
				break;
			v = h[(i + 1) % 8];
			if (shp_store(t->fd, h[i], 1, v) || shp_load(t->fd, h[i], 1, &v) ||
			    v != h[(i + 1) % 8])
				FAIL("thread 2: STORE/LOAD of rooted %#llx", (unsigned long long)h[i]);
			break;
		case 3:
			if (h[i] && shp_unroot(t->fd, h[i], NULL))
				FAIL("thread 2: UNROOT of %#llx", (unsigned long long)h[i]);
			h[i] = 0;	/* forgotten: garbage once nothing refers to it */
			break;
		case 4:
			if (shp_gc(t->fd, op & 0x80 ? SPANHEAP_GC_WAIT : 0, NULL))
				FAIL("thread 2: GC");
			break;
		default:
			ret = shp_stats(t->fd, &st);
			if (ret && ret != -ENOMEM)
				FAIL("thread 2: STATS %d", ret);
		}
	}
	for (k = 0, t2_roots = 0; k < 8; k++)
		t2_roots += !!h[k];
	return NULL;
}

/* ---- one input ---- */

static void setup(void)
{
	int i;

	if (!guard) {
		guard = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (guard == MAP_FAILED)
			abort();
		mprotect(guard + 2 * PG, PG, PROT_NONE);
	}
	for (i = 0; i < NFILES; i++) {
		memset(&files[i], 0, sizeof(files[i]));
		files[i].fd = shp_open(O_NONBLOCK);
		if (files[i].fd < 0)
			FAIL("open: %d", files[i].fd);
	}
	scratch_fd = shp_open(O_NONBLOCK);
	if (scratch_fd < 0)
		FAIL("open: %d", scratch_fd);
}

static void reopen_scratch(unsigned long nth)
{
	shp_close(scratch_fd);
	shp_inproc_fail_nth(nth);
	scratch_fd = shp_open(O_NONBLOCK);
	shp_inproc_fail_nth(0);
	if (scratch_fd == -ENOMEM) {
		shp_inproc_fail_any(0);	/* or a process-wide failure still due */
		scratch_fd = shp_open(O_NONBLOCK);
	}
	if (scratch_fd < 0)
		FAIL("open (failing allocation %lu): %d", nth, scratch_fd);
}

static void teardown(void)
{
	int i, k;

	for (i = 0; i < NFILES; i++) {
		shp_close(files[i].fd);
		for (k = 0; k < NOBJ; k++)
			free_obj(&files[i].o[k]);
	}
	shp_close(scratch_fd);
}

static void set_params(struct mfile *f, struct in *in)
{
	struct spanheap_params p = { .flags = take(in, 1) & 7 };
	int ret;

	p.gc_percent = (int8_t)take(in, 1);	/* negative: pacing off for a while */
	p.event_queue_max = take(in, 1) % 8 + 1;
	p.mem_limit = (1ULL << 20) << (take(in, 1) % 7);
	if (p.flags & SPANHEAP_PARAM_MEM_LIMIT && p.mem_limit > (64ULL << 20))
		p.mem_limit = 64ULL << 20;
	ret = shp_set_params(f->fd, &p);
	if (ret)
		FAIL("SET_PARAMS flags %#x: %d", p.flags, ret);
	if (p.flags & SPANHEAP_PARAM_MEM_LIMIT)
		f->limited = p.mem_limit < (64ULL << 20);
}

static void step(struct in *in, bool *fault)
{
	unsigned int op = take(in, 1);
	struct mfile *f = &files[op >> 7];
	bool inject = *fault || f->limited || shp_inproc_fail_pending();
	int i;

	fault_now = inject;
	*fault = false;
	switch (op & 0x7f) {
	case 0 ... 17:
		op_alloc(f, in, inject);
		break;
	case 18 ... 25:
		op_write(f, in, inject);
		break;
	case 26 ... 27:
		op_cleanup(f, in, inject);
		break;
	case 28:
		op_cleanup_stop(f, in, inject);
		break;
	case 29:
		op_weak_drop(f, in);
		break;
	case 30 ... 31:
		i = pick(f, in, true);
		if (i >= 0)
			verify(f, i, inject);
		break;
	case 32:
		op_why(f, in, inject);
		break;
	case 33 ... 35:
		op_batch(f, in, inject);
		break;
	case 36 ... 38:
		op_weak_make(f, in, inject);
		break;
	case 39 ... 40:
		op_weak_get(f, in, inject);
		break;
	case 41:
		op_hostile2(f, in);
		break;
	case 42 ... 57:
		op_store(f, in, inject);
		break;
	case 58 ... 67:
		op_root(f, in, true, inject);
		break;
	case 68 ... 77:
		op_root(f, in, false, inject);
		break;
	case 78 ... 91:
		op_finalizer(f, in, inject);
		break;
	case 92 ... 97:
		drain(f);
		break;
	case 98 ... 101:
		if (shp_gc(f->fd, take(in, 1) & SPANHEAP_GC_WAIT, NULL))
			FAIL("GC");
		break;
	case 102 ... 104:
		check_stats(f, false, threaded && f == files ? ROOTS_UNKNOWN : 0);
		break;
	case 105 ... 108:
		op_hostile(f, in);
		break;
	case 109 ... 112:
		op_raw(in);
		break;
	case 113 ... 114:
		op_read_odd(f, in);
		break;
	case 115:
		set_params(f, in);
		break;
	case 124 ... 125:
		op_burst(f, in, inject);
		break;
	case 126:
		if (take(in, 1) & 1) {
			forget_garbage(f);
			break;
		}
		for (i = 0; i < NOBJ; i++)	/* a finalizer on everything: a full queue */
			if (f->o[i].used && !f->o[i].stale && !f->o[i].armed)
				fin_set(f, i, inject);
		break;
	case 116 ... 121:	/* fail the n-th allocation of the next call */
		shp_inproc_fail_nth(take(in, 1) % 8 + 1);
		*fault = true;
		return;
	case 122:		/* ... whichever thread makes it */
		shp_inproc_fail_any(take(in, 1) % 16 + 1);
		*fault = true;
		return;
	case 123:		/* open() failing at its n-th allocation */
		reopen_scratch(take(in, 1) % 8 + 1);
		break;
	default:
		quiescent(f, threaded && f == files ? ROOTS_UNKNOWN : 0);
	}
	shp_inproc_fail_nth(0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	struct t2 t = { .fd = -1 };
	bool fault = false;
	pthread_t tid;
	int i;

	static int force_threaded = -1;

	if (force_threaded < 0)	/* the TSan run: every input threaded */
		force_threaded = !!getenv("UHEAP_FUZZ_THREADED");
	threaded = (take(&in, 1) & 0x80) || force_threaded;
	t2_roots = 0;
	setup();
	if (threaded) {
		t.in.p = in.p + in.n / 2;
		t.in.n = in.n - in.n / 2;
		in.n /= 2;
		t.fd = files[0].fd;
		if (pthread_create(&tid, NULL, thread2, &t))
			abort();
	}
	while (in.n)
		step(&in, &fault);
	shp_inproc_fail_nth(0);
	if (threaded)
		pthread_join(tid, NULL);
	threaded = false;
	shp_inproc_fail_any(0);
	for (i = 0; i < NFILES; i++) {
		struct spanheap_params p = {
			.flags = SPANHEAP_PARAM_GC_PERCENT | SPANHEAP_PARAM_EVENT_QUEUE,
			.gc_percent = 100, .event_queue_max = 4096,
		};

		shp_set_params(files[i].fd, &p);
		quiescent(&files[i], i ? 0 : t2_roots);
	}
	teardown();
	return 0;
}
