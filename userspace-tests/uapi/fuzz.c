// SPDX-License-Identifier: GPL-2.0
/*
 * spanheap random-operation fuzzer.
 *
 *   fuzz [--unpaced] [--threads N] [--files N] [seconds] [seed]
 *
 * Paced (the default; N threads on each of F files, default 2 and 2):
 * pacing stays as the device opens it, so paced cycles and the background
 * sweeper race every call.  Each thread owns a slice of its file's model:
 * DATA objects of every size class (up to SPANHEAP_MAX_OBJECT) and REF
 * objects of up to SPANHEAP_MAX_SLOTS slots, whose slots refer within the
 * slice.  Any thread reads events and hands each to the owner of its
 * handle.  The model accepts nondeterministic collection:
 *   - an object reachable in the model (rooted, reachable through REF slots
 *     from a rooted object, or armed: a finalizer whose event was not read
 *     yet) keeps the bytes last written and its slots, and is never stale;
 *   - any other object may go stale at any time, and then stays stale;
 *   - a token arrives once, for the object it was set on, and only if set
 *     (or cleared after its cycle took it), while the object was
 *     unreachable from the roots;
 *   - a cleanup's event (its token names the thread: the handle is 0)
 *     arrives once, never for a stopped one, only after its object was
 *     unreachable, which is then stale; STOP fails only if a cycle may
 *     have queued it;
 *   - a weak handle reads its object, or 0 once the object was
 *     unreachable from the roots, then 0 for good; WEAK_MAKE returns the
 *     same weak handle while no cycle can have found the object dead;
 *     reference counts match (WEAK_GET with SPANHEAP_WEAK_ROOT roots).
 * Every round ends quiescent per file (its threads parked): collections
 * until no event comes, each after the first checked against Go's
 * finalizer rule exactly; every cleanup of an unreachable object
 * delivered, every weak handle of one reading 0; then STATS against the
 * model (roots, events_read, events_pending, finalizers_set, objects,
 * cleanups set and queued, weak handles and live ones, pins), every
 * unreachable object stale, every reachable one verified.  Some calls are
 * hostile (random bytes as argument structs, sizes past 4096, bad flags,
 * forged or foreign handles, read-only or unmapped arguments and buffers):
 * each must fail with a documented errno and leave the model as it was.
 *
 * --unpaced: pacing off (gc_percent -1), one thread, one file; after every
 * round a collection is checked exactly against the model (the original
 * fuzzer: Go's finalizer order, frees, bytes).
 *
 * TAP (kselftest.h): one test per file, then
 *   # fuzz: <ops> ops, <cycles> cycles, <events> events, threads=<t> files=<f>
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "libspanheap.h"
#include "kselftest/kselftest.h"
#include "testutil.h"

#ifndef FUZZ_SECONDS
#define FUZZ_SECONDS	20
#endif

static unsigned int seed;
static unsigned long long total_ops, total_cycles, total_events;

/* ------------------------------------------------------------------ */
/* --unpaced: the original exact model                                 */
/* ------------------------------------------------------------------ */

#define MAX_OBJS	1500
#define SLOTS		3
#define DATA_LEN	48

struct mobj {
	uint64_t h;
	bool live, data, fin, rooted, marked;
	int slot[SLOTS];		/* REF: model indices, -1 empty */
	unsigned char bytes[DATA_LEN];
	uint64_t token;
};

static struct mobj m[MAX_OBJS];
static int nobj, fd;
static uint64_t next_token = 1;

static unsigned int rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 17;
	seed ^= seed << 5;
	return seed;
}

static int pick_live(void)
{
	int tries;

	for (tries = 0; tries < 16 && nobj; tries++) {
		int i = rnd() % nobj;

		if (m[i].live)
			return i;
	}
	return -1;
}

static void mark(int i)
{
	int s;

	if (i < 0 || m[i].marked)
		return;
	m[i].marked = true;
	if (!m[i].data)
		for (s = 0; s < SLOTS; s++)
			mark(m[i].slot[s]);
}

static bool op(void)
{
	int i = pick_live(), j, s;
	struct mobj *o;

	total_ops++;
	switch (rnd() % 10) {
	case 0 ... 2:
		if (nobj == MAX_OBJS)
			return true;
		o = &m[nobj];
		memset(o, 0, sizeof(*o));
		o->data = rnd() & 1;
		for (s = 0; s < SLOTS; s++)
			o->slot[s] = -1;
		if (shp_alloc(fd, o->data ? SPANHEAP_KIND_DATA : SPANHEAP_KIND_REF,
			      o->data ? DATA_LEN : SLOTS, &o->h))
			return false;
		o->live = true;
		nobj++;
		return true;
	case 3:
		if (i < 0 || !m[i].data)
			return true;
		s = rnd() % DATA_LEN;
		m[i].bytes[s] = rnd();
		return !shp_write(fd, m[i].h, s, &m[i].bytes[s], 1);
	case 4 ... 5:
		if (i < 0 || m[i].data)
			return true;
		s = rnd() % SLOTS;
		j = rnd() % 4 ? pick_live() : -1;
		m[i].slot[s] = j;
		return !shp_store(fd, m[i].h, s, j < 0 ? 0 : m[j].h);
	case 6:
		if (i < 0)
			return true;
		if (m[i].rooted) {
			m[i].rooted = false;
			return !shp_unroot(fd, m[i].h, NULL);
		}
		m[i].rooted = true;
		return !shp_root(fd, m[i].h, NULL);
	case 7:
		if (i < 0)
			return true;
		if (m[i].fin) {
			m[i].fin = false;
			return !shp_clear_finalizer(fd, m[i].h);
		}
		m[i].fin = true;
		/* kernel-looking tokens too: tokens are never scanned */
		m[i].token = rnd() & 1 ? next_token++ :
			     0xffff888000000000ULL | ((uint64_t)rnd() << 3 & 0x3ffffff8);
		return !shp_set_finalizer(fd, m[i].h, m[i].token);
	default:
		/* drop a root we hold so garbage appears */
		if (i >= 0 && m[i].rooted && !(rnd() % 2)) {
			m[i].rooted = false;
			return !shp_unroot(fd, m[i].h, NULL);
		}
		return true;
	}
}

/* Collect, then compare the device with the model.  Returns failures. */
static int check_cycle(void)
{
	static char expect[MAX_OBJS], got[MAX_OBJS];
	struct spanheap_event ev[128];
	unsigned char buf[DATA_LEN];
	int i, s, bad = 0, nexp = 0, ngot = 0;
	ssize_t n;

	for (i = 0; i < nobj; i++)
		m[i].marked = false;
	for (i = 0; i < nobj; i++)
		if (m[i].live && m[i].rooted)
			mark(i);
	for (i = 0; i < nobj; i++)		/* finalizers root their referents */
		if (m[i].live && m[i].fin && !m[i].data)
			for (s = 0; s < SLOTS; s++)
				mark(m[i].slot[s]);
	memset(expect, 0, sizeof(expect));
	for (i = 0; i < nobj; i++)
		if (m[i].live && !m[i].marked && m[i].fin) {
			expect[i] = 1;
			nexp++;
		}
	if (shp_gc(fd, SPANHEAP_GC_WAIT, NULL))
		return 1;
	total_cycles++;
	memset(got, 0, sizeof(got));
	while ((n = shp_events(fd, ev, 128)) > 0) {
		int k;

		for (k = 0; k < n; k++) {
			for (i = 0; i < nobj; i++)
				if (m[i].h == ev[k].handle)
					break;
			if (i == nobj || !expect[i] || ev[k].token != m[i].token || got[i]++) {
				ksft_print_msg("unexpected event token %llu\n",
					       (unsigned long long)ev[k].token);
				bad++;
			}
			ngot++;
		}
	}
	total_events += ngot;
	if (ngot != nexp) {
		ksft_print_msg("%d events, %d expected\n", ngot, nexp);
		bad++;
	}
	for (i = 0; i < nobj; i++) {
		if (!m[i].live)
			continue;
		if (expect[i]) {	/* finalized: resurrected, no finalizer */
			m[i].fin = false;
			continue;
		}
		if (!m[i].marked) {	/* freed by this cycle */
			m[i].live = false;
			if (shp_read(fd, m[i].h, 0, buf, 1) != -ESTALE &&
			    shp_load(fd, m[i].h, 0, (uint64_t *)buf) != -ESTALE) {
				ksft_print_msg("object %d should be gone\n", i);
				bad++;
			}
			continue;
		}
		if (m[i].data && (shp_read(fd, m[i].h, 0, buf, DATA_LEN) ||
				  memcmp(buf, m[i].bytes, DATA_LEN))) {
			ksft_print_msg("object %d lost its bytes\n", i);
			bad++;
		}
	}
	return bad;
}

static void unpaced_main(int seconds)
{
	struct spanheap_params p = { .flags = SPANHEAP_PARAM_GC_PERCENT, .gc_percent = -1 };
	time_t end = time(NULL) + seconds;
	int rounds = 0, failed = 0, k;

	ksft_set_plan(1);
	fd = shp_open(O_NONBLOCK);
	if (fd < 0 || shp_set_params(fd, &p)) {
		ksft_test_result_fail("fuzz: /dev/spanheap unusable\n");
		return;
	}
	ksft_print_msg("seed %u, %d s, unpaced\n", seed, seconds);
	while (time(NULL) < end) {
		bool ok = true;
		int bad;

		for (k = 0; k < 200 && ok; k++)
			ok = op();
		bad = ok ? check_cycle() : 1;
		rounds++;
		if (bad || !ok) {
			failed++;
			ksft_print_msg("round %d: %s\n", rounds, ok ? "model mismatch" : "ioctl failed");
		}
		if (nobj > MAX_OBJS - 200) {	/* start a fresh heap */
			shp_close(fd);
			fd = shp_open(O_NONBLOCK);
			if (fd < 0 || shp_set_params(fd, &p))
				ksft_exit_fail_msg("reopening /dev/spanheap failed\n");
			nobj = 0;
		}
	}
	shp_close(fd);
	ksft_test_result(!failed && rounds > 0,
			 "fuzz: %d rounds of 200 random operations, each ending in a checked collection\n",
			 rounds);
	ksft_print_msg("fuzz: %llu ops, %llu cycles, %llu events, threads=1 files=1 (unpaced)\n",
		       total_ops, total_cycles, total_events);
}

/* ------------------------------------------------------------------ */
/* Paced: threads with slices of a model, several files                */
/* ------------------------------------------------------------------ */

#define MAX_THREADS	16
#define MAX_FILES	16
#define SL_OBJS		160		/* model objects per thread */
#define SL_HASH		512
#define SL_BYTES	(6u << 20)	/* bytes a thread keeps in unstale objects */
#define NSLOT		8		/* model: non-empty slots per REF object */
#define NOVL		6		/* model: writes over a DATA object's base */
#define NMAYBE		4		/* cleared tokens that may still arrive */
#define SL_CLEAN	32		/* cleanups armed per thread */
#define SL_WEAK		16		/* weak handles per thread */
#define CTOKEN_TID	48		/* a cleanup token: its thread, from bit 48 */
#define ROUND_OPS	150
#define EVBATCH		64
#define DIAG_PER_KEY	3
#define PG		4096

struct ovl {
	uint64_t off, len, gen;
};

struct pobj {
	uint64_t h, len, token, base;	/* base: DATA contents' generation */
	uint64_t maybe[NMAYBE];
	uint64_t sidx[NSLOT], sval[NSLOT];
	struct ovl ovl[NOVL];
	uint32_t roots;
	int qgot;			/* quiescent pass that delivered it */
	uint8_t nmaybe, nslot, novl;
	bool data, dead, armed, may_fin, reach, must, greach, reported, qarmed;
	bool resurrect;			/* ROOT it once the inbox is applied */
};

/* A cleanup neither delivered nor stopped; a weak handle with references. */
struct pclean {
	uint64_t h, id, token;
	bool used, may_run;		/* may_run: the object was once unreachable */
};

struct pweak {
	uint64_t w, h;
	uint32_t refs;
	bool used, may_nil, nil;	/* may_nil: once unreachable from the roots */
};

struct pfile;

struct slice {
	struct pfile *f;
	int id, n;
	uint64_t rs;
	uint64_t bytes;
	struct pobj o[SL_OBJS];
	int hash[SL_HASH];
	pthread_mutex_t ibox_lock;
	struct spanheap_event *ibox;
	int nibox, ibox_cap;
	unsigned char *wbuf, *rbuf, *ebuf;
	char *g;	/* 4 pages: RW RW NONE RO */
	unsigned long long ops, hostile, stale, enomem, events, resurrected;
	struct pclean cl[SL_CLEAN];
	struct pweak wk[SL_WEAK];
	uint64_t ctok;
	unsigned long long cleanups, cevents, weak_nil, batches;
	pthread_t thr;
};

struct diagkey {
	const char *key;
	int count;
};

struct pfile {
	int idx, fd, nthreads;
	struct slice *sl[MAX_THREADS];
	pthread_mutex_t lock;		/* owner map, seq map, nread */
	uint64_t *okey;
	uint8_t *oval;
	size_t ocap, ocnt;
	uint8_t *seqmap;
	uint64_t seqcap, maxseq, nread;
	uint64_t contig;		/* every seq up to it was dispatched */
	int in_flight;			/* read() calls not yet dispatched */
	pthread_barrier_t bar;
	bool stop;
	int rounds, qpass;
	int fails;
	struct diagkey keys[64];
	int nkeys;
	uint64_t sample;		/* a handle of this file, for the others */
	unsigned long long cycles, qgc;
};

static int g_threads = 2, g_files = 2;
static time_t g_end;
static uint32_t g_evq_max = 4096;
static uint64_t g_mem_max = 64ULL << 20;
static struct pfile files[MAX_FILES];
static pthread_mutex_t diag_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t srnd(struct slice *s)
{
	s->rs ^= s->rs << 13;
	s->rs ^= s->rs >> 7;
	s->rs ^= s->rs << 17;
	return s->rs;
}

static uint64_t srange(struct slice *s, uint64_t lo, uint64_t hi)
{
	return lo + srnd(s) % (hi - lo + 1);
}

/* A failure: counted; the first DIAG_PER_KEY of each key are printed. */
static void __printf(3, 4)
fail(struct slice *s, const char *key, const char *fmt, ...)
{
	struct pfile *f = s->f;
	char msg[512];
	va_list ap;
	int k;

	pthread_mutex_lock(&diag_lock);
	f->fails++;
	for (k = 0; k < f->nkeys; k++)
		if (!strcmp(f->keys[k].key, key))
			break;
	if (k == f->nkeys && k < 64) {
		f->keys[k].key = key;
		f->nkeys++;
	}
	if (k < 64 && f->keys[k].count++ < DIAG_PER_KEY) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		ksft_print_msg("file %d thread %d round %d: [%s] %s\n", f->idx, s->id,
			       f->rounds, key, msg);
		fflush(stdout);
	}
	pthread_mutex_unlock(&diag_lock);
}

static const char *errname(int ret)
{
	static __thread char buf[16];

	switch (-ret) {
	case 0: return "0";
	case EINVAL: return "EINVAL";
	case E2BIG: return "E2BIG";
	case EFAULT: return "EFAULT";
	case ENOTTY: return "ENOTTY";
	case ENOENT: return "ENOENT";
	case ESTALE: return "ESTALE";
	case ERANGE: return "ERANGE";
	case EEXIST: return "EEXIST";
	case ENOMEM: return "ENOMEM";
	case EOVERFLOW: return "EOVERFLOW";
	case EAGAIN: return "EAGAIN";
	}
	snprintf(buf, sizeof(buf), "%d", ret);
	return buf;
}

static bool documented(int ret)
{
	switch (-ret) {
	case EINVAL: case E2BIG: case EFAULT: case ENOTTY: case ENOENT:
	case ESTALE: case ERANGE: case EEXIST: case ENOMEM: case EOVERFLOW:
	case ENOSPC:
		return true;
	}
	return false;
}

/* Bytes of a DATA generation: 0 is zeros. */
static void pat_fill(unsigned char *b, uint64_t gen, uint64_t off, uint64_t len)
{
	uint64_t i = 0;

	if (!gen) {
		memset(b, 0, len);
		return;
	}
	while (i < len) {
		uint64_t a = off + i, w = mix64(gen + (a >> 3) * 0x9e3779b97f4a7c15ULL);
		unsigned int k;

		for (k = a & 7; k < 8 && i < len; k++, i++)
			b[i] = w >> (8 * k);
	}
}

/* The model's bytes of DATA object @o at [off, off + len). */
static void expect_bytes(struct pobj *o, unsigned char *b, uint64_t off, uint64_t len)
{
	int k;

	pat_fill(b, o->base, off, len);
	for (k = 0; k < o->novl; k++) {
		struct ovl *v = &o->ovl[k];
		uint64_t lo = v->off > off ? v->off : off;
		uint64_t hi = v->off + v->len < off + len ? v->off + v->len : off + len;

		if (lo < hi)
			pat_fill(b + (lo - off), v->gen, lo, hi - lo);
	}
}

static uint64_t obj_bytes(struct pobj *o)
{
	return o->data ? o->len : o->len * 8;
}

static int hget(struct slice *s, uint64_t h)
{
	unsigned int k = mix64(h) & (SL_HASH - 1);

	while (s->hash[k] >= 0) {
		if (s->o[s->hash[k]].h == h)
			return s->hash[k];
		k = (k + 1) & (SL_HASH - 1);
	}
	return -1;
}

static void hput(struct slice *s, int i)
{
	unsigned int k = mix64(s->o[i].h) & (SL_HASH - 1);

	while (s->hash[k] >= 0)
		k = (k + 1) & (SL_HASH - 1);
	s->hash[k] = i;
}

static void hrebuild(struct slice *s)
{
	int i;

	memset(s->hash, 0xff, sizeof(s->hash));
	for (i = 0; i < s->n; i++)
		hput(s, i);
}

static uint64_t slot_get(struct pobj *o, uint64_t slot)
{
	int k;

	for (k = 0; k < o->nslot; k++)
		if (o->sidx[k] == slot)
			return o->sval[k];
	return 0;
}

static void slot_set(struct pobj *o, uint64_t slot, uint64_t v)
{
	int k;

	for (k = 0; k < o->nslot; k++)
		if (o->sidx[k] == slot)
			break;
	if (k == o->nslot) {
		if (!v || o->nslot == NSLOT)
			return;
		o->sidx[o->nslot++] = slot;
	}
	if (v) {
		o->sval[k] = v;
	} else {
		o->nslot--;
		o->sidx[k] = o->sidx[o->nslot];
		o->sval[k] = o->sval[o->nslot];
	}
}

/*
 * Reachability.  reach: from rooted objects; must: also from armed ones
 * (a finalizer not yet delivered keeps its object and referents).  An
 * armed object not reached from the roots may be finalized from now on.
 */
static void walk(struct slice *s)
{
	int stk[SL_OBJS], sp, i, k, pass;

	for (i = 0; i < s->n; i++)
		s->o[i].reach = s->o[i].must = false;
	for (pass = 0; pass < 2; pass++) {
		sp = 0;
		for (i = 0; i < s->n; i++) {
			struct pobj *o = &s->o[i];

			if ((pass ? o->armed : o->roots > 0) && !o->must) {
				o->must = true;
				o->reach = !pass;
				stk[sp++] = i;
			}
		}
		while (sp) {
			struct pobj *o = &s->o[stk[--sp]];

			for (k = 0; k < o->nslot; k++) {
				int j = hget(s, o->sval[k]);

				if (j < 0) {
					if (!o->reported) {
						o->reported = true;
						fail(s, "reachable-gone",
						     "object %#llx slot %llu refers to %#llx, found stale earlier, now reachable",
						     (unsigned long long)o->h,
						     (unsigned long long)o->sidx[k],
						     (unsigned long long)o->sval[k]);
					}
					continue;
				}
				if (!s->o[j].must) {
					s->o[j].must = true;
					s->o[j].reach = !pass;
					stk[sp++] = j;
				}
			}
		}
	}
	for (i = 0; i < s->n; i++) {
		struct pobj *o = &s->o[i];

		if (o->armed && !o->reach)
			o->may_fin = true;
		if (o->must && o->dead && !o->reported) {
			o->reported = true;
			fail(s, "reachable-gone",
			     "object %#llx was stale and is now reachable (rooted or from a live object)",
			     (unsigned long long)o->h);
		}
	}
	/* From now on a cycle may find these dead. */
	for (i = 0; i < SL_CLEAN; i++) {
		int j = s->cl[i].used ? hget(s, s->cl[i].h) : 0;

		if (s->cl[i].used && (j < 0 || s->o[j].dead || !s->o[j].must))
			s->cl[i].may_run = true;
	}
	for (i = 0; i < SL_WEAK; i++) {
		int j = s->wk[i].used ? hget(s, s->wk[i].h) : 0;

		if (s->wk[i].used && (j < 0 || s->o[j].dead || !s->o[j].reach))
			s->wk[i].may_nil = true;
	}
}

/* ---- events ---- */

static void owner_put(struct pfile *f, uint64_t h, int tid)
{
	size_t k;

	if (f->ocnt * 2 >= f->ocap) {
		size_t ncap = f->ocap ? f->ocap * 2 : 1024, j;
		uint64_t *nk = calloc(ncap, sizeof(*nk));
		uint8_t *nv = calloc(ncap, 1);

		if (!nk || !nv)
			abort();
		for (j = 0; j < f->ocap; j++) {
			if (!f->okey[j])
				continue;
			k = mix64(f->okey[j]) & (ncap - 1);
			while (nk[k])
				k = (k + 1) & (ncap - 1);
			nk[k] = f->okey[j];
			nv[k] = f->oval[j];
		}
		free(f->okey);
		free(f->oval);
		f->okey = nk;
		f->oval = nv;
		f->ocap = ncap;
	}
	k = mix64(h) & (f->ocap - 1);
	while (f->okey[k] && f->okey[k] != h)
		k = (k + 1) & (f->ocap - 1);
	if (!f->okey[k])
		f->ocnt++;
	f->okey[k] = h;
	f->oval[k] = tid;
}

static int owner_get(struct pfile *f, uint64_t h)
{
	size_t k;

	if (!f->ocap)
		return -1;
	k = mix64(h) & (f->ocap - 1);
	while (f->okey[k]) {
		if (f->okey[k] == h)
			return f->oval[k];
		k = (k + 1) & (f->ocap - 1);
	}
	return -1;
}

/* Records read by @s: check them and queue each for its owner. */
static void dispatch(struct slice *s, const void *buf, ssize_t n)
{
	struct pfile *f = s->f;
	ssize_t k;

	if (n % sizeof(struct spanheap_event))
		fail(s, "read-size", "read() returned %zd, not whole records", n);
	pthread_mutex_lock(&f->lock);
	for (k = 0; k + (ssize_t)sizeof(struct spanheap_event) <= n;
	     k += sizeof(struct spanheap_event)) {
		struct spanheap_event ev;
		struct slice *o;
		uint64_t c;
		int t;

		memcpy(&ev, (const char *)buf + k, sizeof(ev));
		f->nread++;
		if (ev.event_len != sizeof(ev) || ev.version != SPANHEAP_EVENT_VERSION ||
		    (ev.type != SPANHEAP_EVENT_FINALIZER && ev.type != SPANHEAP_EVENT_CLEANUP))
			fail(s, "event-format", "event len %u version %u type %u",
			     ev.event_len, ev.version, ev.type);
		if (!ev.seq || ev.seq > (1ULL << 32)) {
			fail(s, "event-seq", "event seq %llu", (unsigned long long)ev.seq);
		} else {
			if (ev.seq >= f->seqcap * 8) {
				uint64_t ncap = (ev.seq / 8 + 1) * 2;

				f->seqmap = realloc(f->seqmap, ncap);
				if (!f->seqmap)
					abort();
				memset(f->seqmap + f->seqcap, 0, ncap - f->seqcap);
				f->seqcap = ncap;
			}
			if (f->seqmap[ev.seq / 8] & (1 << (ev.seq % 8)))
				fail(s, "event-seq", "event seq %llu twice", (unsigned long long)ev.seq);
			f->seqmap[ev.seq / 8] |= 1 << (ev.seq % 8);
			if (ev.seq > f->maxseq)
				f->maxseq = ev.seq;
			/* (written under f->lock, read without it) */
			c = f->contig;
			while (c + 1 < f->seqcap * 8 &&
			       f->seqmap[(c + 1) / 8] & (1 << ((c + 1) % 8)))
				c++;
			__atomic_store_n(&f->contig, c, __ATOMIC_RELEASE);
		}
		/* a cleanup's token names its thread (its object is gone) */
		t = ev.type != SPANHEAP_EVENT_CLEANUP ? owner_get(f, ev.handle) :
		    ev.token >> CTOKEN_TID < (uint64_t)f->nthreads ? (int)(ev.token >> CTOKEN_TID) :
		    -1;
		if (t < 0 && ev.type == SPANHEAP_EVENT_CLEANUP) {
			fail(s, "cleanup-token", "cleanup event with token %#llx: no cleanup had it",
			     (unsigned long long)ev.token);
			continue;
		}
		if (t < 0) {
			fail(s, "event-unknown", "event for handle %#llx (token %#llx): no finalizer was ever set on it",
			     (unsigned long long)ev.handle, (unsigned long long)ev.token);
			continue;
		}
		o = f->sl[t];
		pthread_mutex_lock(&o->ibox_lock);
		if (o->nibox == o->ibox_cap) {
			o->ibox_cap = o->ibox_cap ? o->ibox_cap * 2 : 256;
			o->ibox = realloc(o->ibox, o->ibox_cap * sizeof(ev));
			if (!o->ibox)
				abort();
		}
		o->ibox[o->nibox] = ev;
		/* peeked at without the lock by process_inbox() */
		__atomic_store_n(&o->nibox, o->nibox + 1, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&o->ibox_lock);
	}
	pthread_mutex_unlock(&f->lock);
}

/* read() on the file; records go to their owners.  Returns bytes or -errno. */
static ssize_t read_events(struct slice *s, void *buf, size_t len)
{
	struct pfile *f = s->f;
	ssize_t n;

	__atomic_add_fetch(&f->in_flight, 1, __ATOMIC_SEQ_CST);
	n = shp_read_bytes(f->fd, buf, len);
	if (n > 0)
		dispatch(s, buf, n);
	__atomic_sub_fetch(&f->in_flight, 1, __ATOMIC_RELEASE);
	return n;
}

static int probe(struct slice *s, int i);
static void judge_stale(struct slice *s, int i, const char *what);

/*
 * A cleanup event: once, for a cleanup added and not stopped, whose
 * object a cycle may have found unreachable; it is gone now.
 */
static void cleanup_event(struct slice *s, struct spanheap_event *ev)
{
	struct pclean *c = NULL;
	int k, i;

	s->cevents++;
	for (k = 0; k < SL_CLEAN && !c; k++)
		if (s->cl[k].used && s->cl[k].token == ev->token)
			c = &s->cl[k];
	if (!c || ev->handle) {
		fail(s, "cleanup-token", "cleanup event token %#llx handle %#llx: %s",
		     (unsigned long long)ev->token, (unsigned long long)ev->handle,
		     c ? "names an object" : "not armed (never added, stopped, or delivered)");
		return;
	}
	i = hget(s, c->h);
	if (!c->may_run)
		fail(s, "cleanup-reachable", "cleanup %llu (token %#llx) of %#llx ran, the object always reachable",
		     (unsigned long long)c->id, (unsigned long long)c->token,
		     (unsigned long long)c->h);
	else if (i >= 0 && !s->o[i].dead)
		judge_stale(s, i, "cleanup event");	/* freed: fails if reachable */
	memset(c, 0, sizeof(*c));
}

static void handle_event(struct slice *s, struct spanheap_event *ev)
{
	struct pfile *f = s->f;
	int i = hget(s, ev->handle), k;
	struct pobj *o;

	if (ev->type == SPANHEAP_EVENT_CLEANUP)
		return cleanup_event(s, ev);
	if (i < 0) {
		fail(s, "event-gone", "event for %#llx (token %#llx) of an object found stale before",
		     (unsigned long long)ev->handle, (unsigned long long)ev->token);
		return;
	}
	o = &s->o[i];
	s->events++;
	/* (o->dead is possible: a reader unpinned it, we saw it stale first) */
	if (o->armed && o->token == ev->token) {
		if (!o->may_fin)
			fail(s, "fin-reachable", "token %#llx of %#llx arrived, but the object stayed reachable from a root since the finalizer was set",
			     (unsigned long long)ev->token, (unsigned long long)o->h);
		o->armed = false;
		o->qgot = f->qpass;
		o->qarmed = true;
		walk(s);
		o->resurrect = !(srnd(s) % 4);
		return;
	}
	for (k = 0; k < o->nmaybe; k++) {
		if (o->maybe[k] == ev->token) {
			o->maybe[k] = o->maybe[--o->nmaybe];
			o->qgot = f->qpass;
			o->qarmed = false;
			return;
		}
	}
	fail(s, "token", "unexpected token %#llx for %#llx (armed %d, token %#llx, %d cleared pending)",
	     (unsigned long long)ev->token, (unsigned long long)ev->handle, o->armed,
	     (unsigned long long)o->token, o->nmaybe);
}

/* ROOT an object whose event was read (Go's resurrection). */
static void resurrect(struct slice *s, int i)
{
	struct pobj *o = &s->o[i];
	uint64_t c;
	int ret;

	o->resurrect = false;
	if (o->dead)
		return;
	ret = shp_root(s->f->fd, o->h, &c);
	if (!ret) {
		o->roots++;
		s->resurrected++;
		if (c != o->roots)
			fail(s, "root-count", "ROOT of %#llx: count %llu, model %u",
			     (unsigned long long)o->h, (unsigned long long)c, o->roots);
		o->roots = c;
		walk(s);
	} else if (ret == -ESTALE) {
		judge_stale(s, i, "ROOT after its event");
	} else if (ret != -ENOMEM) {
		fail(s, "root", "ROOT of %#llx after its event: %s",
		     (unsigned long long)o->h, errname(ret));
	}
}

static int seq_cmp(const void *a, const void *b)
{
	const struct spanheap_event *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Apply the events the inbox holds, in seq order, up to the last seq
 * before which every event was dispatched: two threads' read() calls
 * may dispatch out of order (a finalizer event read by one thread, the
 * cleanup event it made possible by another, dispatched first), and the
 * model must see them as the kernel delivered them.  The rest stays for
 * later; @all (quiescent: no read in flight) applies everything.
 */
static void process_inbox_upto(struct slice *s, bool all)
{
	uint64_t upto = __atomic_load_n(&s->f->contig, __ATOMIC_ACQUIRE);
	struct spanheap_event *w;
	int n, k, done;

	if (!__atomic_load_n(&s->nibox, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&s->ibox_lock);
	w = s->ibox;
	n = s->nibox;
	s->ibox = NULL;
	s->ibox_cap = 0;
	__atomic_store_n(&s->nibox, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&s->ibox_lock);
	qsort(w, n, sizeof(*w), seq_cmp);
	for (done = 0; done < n && (all || !w[done].seq || w[done].seq <= upto); done++)
		handle_event(s, &w[done]);
	if (done < n) {		/* back into the inbox, for a later pass */
		pthread_mutex_lock(&s->ibox_lock);
		for (k = done; k < n; k++) {
			if (s->nibox == s->ibox_cap) {
				s->ibox_cap = s->ibox_cap ? s->ibox_cap * 2 : 256;
				s->ibox = realloc(s->ibox, s->ibox_cap * sizeof(*w));
				if (!s->ibox)
					abort();
			}
			s->ibox[s->nibox] = w[k];
			__atomic_store_n(&s->nibox, s->nibox + 1, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&s->ibox_lock);
	}
	free(w);
	/* after every event of the batch: one later in it may unpin a holder */
	for (k = 0; k < s->n; k++)
		if (s->o[k].resurrect)
			resurrect(s, k);
}

static void process_inbox(struct slice *s)
{
	process_inbox_upto(s, false);
}

/*
 * Wait until every read() of the file has handed its records out, then
 * take ours: a deadline loop (10 s), not a sleep.
 */
static void settle(struct slice *s)
{
	struct timespec ts = { 0, 1000000 };
	time_t dl = time(NULL) + 10;

	while (__atomic_load_n(&s->f->in_flight, __ATOMIC_ACQUIRE)) {
		if (time(NULL) > dl) {
			fail(s, "reader-stuck", "a read() of events did not return in 10 s");
			break;
		}
		nanosleep(&ts, NULL);
	}
	pthread_mutex_lock(&s->ibox_lock);	/* pairs with dispatch() */
	pthread_mutex_unlock(&s->ibox_lock);
	process_inbox_upto(s, !__atomic_load_n(&s->f->in_flight, __ATOMIC_ACQUIRE));
	walk(s);
}

/* An op on object @i said -ESTALE: fine unless the model needs it. */
static void judge_stale(struct slice *s, int i, const char *what)
{
	struct pobj *o = &s->o[i];

	s->stale++;
	if (o->dead)
		return;
	if (o->must) {
		settle(s);	/* its event may have been read by another thread */
		if (o->must && !o->dead) {
			o->reported = true;
			fail(s, "stale-reachable",
			     "%s: -ESTALE on %#llx (%s %llu, roots %u, armed %d) reachable in the model",
			     what, (unsigned long long)o->h, o->data ? "DATA" : "REF",
			     (unsigned long long)o->len, o->roots, o->armed);
		}
	}
	if (!o->dead) {
		o->dead = true;
		s->bytes -= obj_bytes(o);
	}
	walk(s);
}

/* A call on a stale object succeeded. */
static void stale_works(struct slice *s, int i, const char *what)
{
	fail(s, "stale-works", "%s on %#llx succeeded although it was found stale before",
	     what, (unsigned long long)s->o[i].h);
}

/* Side-effect-free look at object @i: 0, -ESTALE or another error. */
static int probe(struct slice *s, int i)
{
	struct pobj *o = &s->o[i];
	unsigned char b[1], e[1];
	uint64_t v = 0;
	int ret;

	if (o->data) {
		ret = shp_read(s->f->fd, o->h, 0, b, 1);
		if (!ret) {
			expect_bytes(o, e, 0, 1);
			if (b[0] != e[0])
				fail(s, "bytes", "%#llx byte 0: %#x, model %#x",
				     (unsigned long long)o->h, b[0], e[0]);
		}
	} else {
		ret = shp_load(s->f->fd, o->h, 0, &v);
		if (!ret && v != slot_get(o, 0))
			fail(s, "load", "%#llx slot 0: %#llx, model %#llx", (unsigned long long)o->h,
			     (unsigned long long)v, (unsigned long long)slot_get(o, 0));
	}
	if (ret && ret != -ESTALE)
		fail(s, "probe", "probe of %#llx (%s): %s", (unsigned long long)o->h,
		     o->data ? "READ" : "LOAD", errname(ret));
	if (!ret && o->dead)
		stale_works(s, i, "probe");
	return ret;
}

/* ---- compaction ---- */

static void compact(struct slice *s)
{
	int i, j = 0;

	settle(s);
	for (i = 0; i < s->n; i++) {
		struct pobj *o = &s->o[i];

		if (!o->dead && !o->must && probe(s, i) == -ESTALE) {
			o->dead = true;
			s->bytes -= obj_bytes(o);
		}
	}
	settle(s);	/* events read before those went stale: handed out now */
	for (i = 0; i < s->n; i++)
		if (!s->o[i].dead)
			s->o[j++] = s->o[i];
	s->n = j;
	hrebuild(s);
	walk(s);
	if (s->n > SL_OBJS * 3 / 4 || s->bytes > SL_BYTES) {
		/* shed: drop roots and finalizers so that garbage appears */
		for (i = 0; i < s->n; i++) {
			struct pobj *o = &s->o[i];

			if (o->roots && srnd(s) % 2) {
				uint64_t c;
				int ret = shp_unroot(s->f->fd, o->h, &c);

				if (ret)
					fail(s, "unroot", "UNROOT of rooted %#llx: %s",
					     (unsigned long long)o->h, errname(ret));
				else
					o->roots = c;
			}
		}
		walk(s);
	}
}

/* ---- operations ---- */

static int pick(struct slice *s, int want)	/* want: 0 any, 1 DATA, 2 REF */
{
	int tries, i;

	for (tries = 0; tries < 24 && s->n; tries++) {
		i = srnd(s) % s->n;
		if (s->o[i].dead && srnd(s) % 8)
			continue;
		if (!want || (want == 1) == s->o[i].data)
			return i;
	}
	return -1;
}

static uint64_t pick_len(struct slice *s, bool data)
{
	unsigned int r = srnd(s) % 100;

	if (data) {
		if (s->bytes > SL_BYTES || r < 50)
			return srange(s, 1, 256);
		if (r < 72)
			return srange(s, 257, 4096);
		if (r < 85)
			return srange(s, 4097, 32768);
		if (r < 93)
			return srange(s, 32769, 131072);
		return srange(s, 131073, SPANHEAP_MAX_OBJECT);
	}
	if (s->bytes > SL_BYTES || r < 65)
		return srange(s, 1, 8);
	if (r < 85)
		return srange(s, 9, 512);
	if (r < 96)
		return srange(s, 513, 8192);
	return srange(s, 8193, SPANHEAP_MAX_SLOTS);
}

/* ---- object commands, alone or as the last op of a batch ---- */

static void probe_fail(struct slice *s, int i, int ret, const char *what)
{
	if (ret == -ESTALE)
		judge_stale(s, i, what);
	else
		fail(s, "batch-probe", "%s of %#llx: %s", what,
		     (unsigned long long)s->o[i].h, errname(ret));
}


/*
 * Run @cmd on @arg (@len bytes) alone, or (one time in three) as the
 * last op of a SPANHEAP_IOC_BATCH whose first ops are probes the model
 * predicts: LOADs of REF objects' slots and ROOT + UNROOT pairs on
 * rooted objects (no net change).  The caller sees what the single
 * command would give: 0 with @arg filled in, or its error.  A probe
 * that failed (its object found stale) stops the batch; then @cmd runs
 * alone.
 */
static int sioctl(struct slice *s, unsigned long cmd, void *arg, size_t len)
{
	struct spanheap_op ops[8];
	int who[8], n = 0, k, i, ret;
	uint64_t slot[8];
	uint32_t done;
	struct pobj *o;

	if (srnd(s) % 3 || !s->n)
		return shp_ioctl(s->f->fd, cmd, arg);
	for (k = srnd(s) % 4; k > 0 && n < 6; k--) {
		i = srnd(s) % s->n;
		o = &s->o[i];
		if (o->dead)
			continue;
		if (!o->data) {
			slot[n] = o->nslot && srnd(s) % 2 ? o->sidx[srnd(s) % o->nslot] :
							    srnd(s) % o->len;
			who[n] = i;
			shp_op_ref(&ops[n], SPANHEAP_IOC_LOAD, o->h, slot[n], 0);
			n++;
		} else if (o->roots && o->roots < 1000) {
			who[n] = who[n + 1] = i;
			shp_op_root(&ops[n++], SPANHEAP_IOC_ROOT, o->h);
			shp_op_root(&ops[n++], SPANHEAP_IOC_UNROOT, o->h);
		}
	}
	memset(&ops[n], 0, sizeof(ops[n]));
	ops[n].cmd = (uint32_t)cmd;
	memcpy(&ops[n].raw, arg, len);
	ret = shp_batch(s->f->fd, ops, n + 1, &done);
	if (ret) {
		fail(s, "batch", "BATCH of %d probes and cmd %d: %s", n,
		     (int)_IOC_NR(cmd), errname(ret));
		return shp_ioctl(s->f->fd, cmd, arg);
	}
	s->batches++;
	for (k = 0; k < (int)done && k < n; k++) {
		o = &s->o[who[k]];
		if (ops[k].cmd == SPANHEAP_IOC_LOAD && ops[k].ref.value != slot_get(o, slot[k]))
			fail(s, "batch-load", "BATCH LOAD %#llx[%llu] = %#llx, model %#llx",
			     (unsigned long long)o->h, (unsigned long long)slot[k],
			     (unsigned long long)ops[k].ref.value,
			     (unsigned long long)slot_get(o, slot[k]));
		if (ops[k].cmd == SPANHEAP_IOC_ROOT && ops[k].root.count != o->roots + 1ULL)
			fail(s, "batch-root", "BATCH ROOT %#llx: count %llu, model %u",
			     (unsigned long long)o->h, (unsigned long long)ops[k].root.count,
			     o->roots + 1);
		if (ops[k].cmd == SPANHEAP_IOC_UNROOT && ops[k].root.count != o->roots)
			fail(s, "batch-root", "BATCH UNROOT %#llx: count %llu, model %u",
			     (unsigned long long)o->h, (unsigned long long)ops[k].root.count,
			     o->roots);
	}
	if ((int)done < n) {
		probe_fail(s, who[done], ops[done].error, "BATCH probe");
		/* A ROOT that succeeded before a failed UNROOT stays: undo it. */
		if (ops[done].cmd == SPANHEAP_IOC_UNROOT)
			fail(s, "batch-root", "BATCH UNROOT %#llx after ROOT: %s",
			     (unsigned long long)s->o[who[done]].h, errname(ops[done].error));
		return shp_ioctl(s->f->fd, cmd, arg);
	}
	if ((int)done == n)
		return ops[n].error;	/* the struct is not written, as alone */
	memcpy(arg, &ops[n].raw, len);
	return 0;
}

#define SIOCTL(s, cmd, a)	sioctl(s, cmd, &(a), sizeof(a))

static int b_alloc(struct slice *s, uint32_t kind, uint64_t len, uint32_t flags,
		   uint64_t *h)
{
	struct spanheap_alloc a = { .size = sizeof(a), .kind = kind, .length = len,
				    .flags = flags };
	int ret = SIOCTL(s, SPANHEAP_IOC_ALLOC, a);

	if (!ret)
		*h = a.handle;
	return ret;
}

static int b_ref(struct slice *s, unsigned long cmd, uint64_t h, uint64_t slot,
		 uint64_t *v)
{
	struct spanheap_ref a = { .size = sizeof(a), .handle = h, .slot = slot,
				  .value = cmd == SPANHEAP_IOC_STORE ? *v : 0 };
	int ret = SIOCTL(s, cmd, a);

	if (!ret)
		*v = a.value;
	return ret;
}

static int b_root(struct slice *s, unsigned long cmd, uint64_t h, uint64_t *c)
{
	struct spanheap_root a = { .size = sizeof(a), .handle = h };
	int ret = SIOCTL(s, cmd, a);

	if (!ret)
		*c = a.count;
	return ret;
}

static int b_fin(struct slice *s, uint64_t h, uint64_t token, uint32_t flags)
{
	struct spanheap_finalizer a = { .size = sizeof(a), .handle = h, .token = token,
					.flags = flags };

	return SIOCTL(s, SPANHEAP_IOC_FINALIZER, a);
}

static void op_alloc(struct slice *s)
{
	struct pfile *f = s->f;
	bool data = srnd(s) % 5 < 3, rooted = !(srnd(s) % 3);
	uint64_t len = pick_len(s, data), h = 0;
	struct pobj *o;
	int ret;

	if (s->n == SL_OBJS)
		compact(s);
	if (s->n == SL_OBJS)
		return;
	ret = b_alloc(s, data ? SPANHEAP_KIND_DATA : SPANHEAP_KIND_REF, len,
		      rooted ? SPANHEAP_ALLOC_ROOTED : 0, &h);
	if (ret == -ENOMEM) {
		s->enomem++;
		return;
	}
	if (ret) {
		fail(s, "alloc", "ALLOC %s %llu%s: %s", data ? "DATA" : "REF",
		     (unsigned long long)len, rooted ? " rooted" : "", errname(ret));
		return;
	}
	if (!h || h >> 63 || hget(s, h) >= 0) {
		fail(s, "alloc", "ALLOC returned handle %#llx (zero, bit 63, or in use)",
		     (unsigned long long)h);
		return;
	}
	o = &s->o[s->n];
	memset(o, 0, sizeof(*o));
	o->h = h;
	o->len = len;
	o->data = data;
	o->roots = rooted;
	hput(s, s->n++);
	s->bytes += obj_bytes(o);
	__atomic_store_n(&f->sample, h, __ATOMIC_RELAXED);
	walk(s);
}

static void op_write(struct slice *s)
{
	int i = pick(s, 1), ret;
	uint64_t off, len, gen = srnd(s) | 1;
	bool whole, range = !(srnd(s) % 32);
	struct pobj *o;

	if (i < 0)
		return;
	o = &s->o[i];
	whole = o->novl == NOVL || !(srnd(s) % 20);
	if (whole) {
		off = 0;
		len = o->len;
	} else {
		uint64_t max = srnd(s) % 4 ? 256 : 65536;

		len = srange(s, 1, o->len < max ? o->len : max);
		off = srange(s, 0, o->len - len);
	}
	if (range) {
		off = srange(s, o->len - len + 1, o->len);
		whole = false;
	}
	pat_fill(s->wbuf, gen, off, len);
	ret = shp_write(s->f->fd, o->h, off, s->wbuf, len);
	if (!ret && !range) {
		if (o->dead)
			stale_works(s, i, "WRITE");
		if (whole) {
			o->base = gen;
			o->novl = 0;
		} else {
			o->ovl[o->novl++] = (struct ovl){ off, len, gen };
		}
	} else if (ret == -ESTALE) {
		judge_stale(s, i, "WRITE");
	} else if (!(range && ret == -ERANGE)) {
		fail(s, "write", "WRITE %#llx [%llu, +%llu) of %llu: %s",
		     (unsigned long long)o->h, (unsigned long long)off,
		     (unsigned long long)len, (unsigned long long)o->len, errname(ret));
	}
}

/* READ a window of DATA object @i and compare.  Returns the ioctl's result. */
static int verify_data(struct slice *s, int i, uint64_t off, uint64_t len)
{
	struct pobj *o = &s->o[i];
	int ret = shp_read(s->f->fd, o->h, off, s->rbuf, len);
	uint64_t k;

	if (ret == -ESTALE) {
		judge_stale(s, i, "READ");
		return ret;
	}
	if (ret) {
		fail(s, "read", "READ %#llx [%llu, +%llu) of %llu: %s", (unsigned long long)o->h,
		     (unsigned long long)off, (unsigned long long)len,
		     (unsigned long long)o->len, errname(ret));
		return ret;
	}
	if (o->dead)
		stale_works(s, i, "READ");
	expect_bytes(o, s->ebuf, off, len);
	if (memcmp(s->rbuf, s->ebuf, len)) {
		for (k = 0; s->rbuf[k] == s->ebuf[k]; k++)
			;
		fail(s, "bytes", "%#llx (%s, %llu bytes, roots %u, armed %d): byte %llu is %#x, model %#x",
		     (unsigned long long)o->h, o->must ? "reachable" : "unreachable",
		     (unsigned long long)o->len, o->roots, o->armed,
		     (unsigned long long)(off + k), s->rbuf[k], s->ebuf[k]);
	}
	return 0;
}

static void op_read(struct slice *s)
{
	int i = pick(s, 1), ret;
	uint64_t off, len;
	struct pobj *o;

	if (i < 0)
		return;
	o = &s->o[i];
	if (!(srnd(s) % 32)) {		/* past the end */
		len = srange(s, 1, 64);
		off = o->len - (len > o->len ? o->len : len - 1);
		if (srnd(s) & 1)
			off = UINT64_MAX - srange(s, 0, 16);
		ret = shp_read(s->f->fd, o->h, off, s->rbuf, len);
		if (ret == -ESTALE)
			judge_stale(s, i, "READ");
		else if (ret != -ERANGE)
			fail(s, "range", "READ %#llx at %llu +%llu of %llu: %s, want ERANGE",
			     (unsigned long long)o->h, (unsigned long long)off,
			     (unsigned long long)len, (unsigned long long)o->len, errname(ret));
		return;
	}
	if (o->len <= 8192 || !(srnd(s) % 16)) {
		off = 0;
		len = o->len;
	} else if (o->novl && srnd(s) % 2) {	/* around a write */
		struct ovl *v = &o->ovl[srnd(s) % o->novl];

		off = v->off > 100 ? v->off - 100 : 0;
		len = v->len + 200;
		if (len > 65536)
			len = 65536;
		if (off + len > o->len)
			len = o->len - off;
	} else {
		len = srange(s, 1, o->len < 65536 ? o->len : 65536);
		off = srange(s, 0, o->len - len);
	}
	verify_data(s, i, off, len);
}

static void op_store(struct slice *s)
{
	int i = pick(s, 2), j = -1, ret, pr, px;
	uint64_t slot, v = 0;
	bool range = !(srnd(s) % 32), was_must;
	struct pobj *o, *x = NULL;

	if (i < 0)
		return;
	o = &s->o[i];
	if (srnd(s) % 4) {
		j = pick(s, 0);
		if (j >= 0) {
			x = &s->o[j];
			v = x->h;
		}
	}
	if (range)
		slot = srnd(s) & 1 ? UINT64_MAX : srange(s, o->len, o->len + 8);
	else if (o->nslot == NSLOT || (o->nslot && srnd(s) % 2))
		slot = o->sidx[srnd(s) % o->nslot];
	else
		slot = srnd(s) % o->len;
	was_must = x && x->must;
	ret = b_ref(s, SPANHEAP_IOC_STORE, o->h, slot, &v);
	if (range) {
		if (ret == -ESTALE)
			goto stale;
		if (ret != -ERANGE)
			fail(s, "range", "STORE %#llx slot %llu of %llu: %s, want ERANGE",
			     (unsigned long long)o->h, (unsigned long long)slot,
			     (unsigned long long)o->len, errname(ret));
		return;
	}
	if (!ret) {
		if (o->dead)
			stale_works(s, i, "STORE (object)");
		if (x && x->dead)
			stale_works(s, j, "STORE (value)");
		slot_set(o, slot, v);
		walk(s);
		/* stored into something reachable: it must live on (issue 7 #1) */
		if (x && x->must && !was_must && probe(s, j) == -ESTALE)
			judge_stale(s, j, "probe after STORE");
		return;
	}
	if (ret != -ESTALE) {
		fail(s, "store", "STORE %#llx[%llu] = %#llx: %s", (unsigned long long)o->h,
		     (unsigned long long)slot, (unsigned long long)v, errname(ret));
		return;
	}
stale:
	/* which one is stale? staleness is for ever, so look now */
	if (o->dead || (x && x->dead))
		return;
	pr = probe(s, i);
	px = x ? probe(s, j) : 0;
	if (pr == -ESTALE)
		judge_stale(s, i, "STORE (object)");
	if (px == -ESTALE)
		judge_stale(s, j, "STORE (value)");
	if (pr != -ESTALE && px != -ESTALE)
		fail(s, "store-stale", "STORE %#llx[%llu] = %#llx: ESTALE, but both are live",
		     (unsigned long long)o->h, (unsigned long long)slot, (unsigned long long)v);
}

static void op_load(struct slice *s)
{
	int i = pick(s, 2), ret, j;
	uint64_t slot, v = 0, want;
	bool range = !(srnd(s) % 32);
	struct pobj *o;

	if (i < 0)
		return;
	o = &s->o[i];
	if (range)
		slot = srange(s, o->len, o->len + 8);
	else if (o->nslot && srnd(s) % 3)
		slot = o->sidx[srnd(s) % o->nslot];
	else
		slot = srnd(s) % o->len;
	ret = b_ref(s, SPANHEAP_IOC_LOAD, o->h, slot, &v);
	if (ret == -ESTALE) {
		judge_stale(s, i, "LOAD");
		return;
	}
	if (range) {
		if (ret != -ERANGE)
			fail(s, "range", "LOAD %#llx slot %llu of %llu: %s, want ERANGE",
			     (unsigned long long)o->h, (unsigned long long)slot,
			     (unsigned long long)o->len, errname(ret));
		return;
	}
	if (ret) {
		fail(s, "load", "LOAD %#llx[%llu]: %s", (unsigned long long)o->h,
		     (unsigned long long)slot, errname(ret));
		return;
	}
	if (o->dead)
		stale_works(s, i, "LOAD");
	want = slot_get(o, slot);
	if (v != want)
		fail(s, "load", "LOAD %#llx[%llu] = %#llx, model %#llx", (unsigned long long)o->h,
		     (unsigned long long)slot, (unsigned long long)v, (unsigned long long)want);
	j = v ? hget(s, v) : -1;
	if (j >= 0 && s->o[j].dead)
		fail(s, "load-stale", "LOAD %#llx[%llu] gave %#llx, an object found stale before",
		     (unsigned long long)o->h, (unsigned long long)slot, (unsigned long long)v);
}

/*
 * WHY of one of our objects: a path that ends at it, only this file's
 * handles, nothing past the capacity written; never unreachable while
 * the model has it reachable from our roots.
 */
static void op_why(struct slice *s)
{
	struct spanheap_why_hop hops[SPANHEAP_WHY_MAX_HOPS + 1];
	uint32_t cap = srnd(s) % (SPANHEAP_WHY_MAX_HOPS + 1), kind, n, k;
	int i = pick(s, 0), ret;
	struct pobj *o;

	if (i < 0)
		return;
	o = &s->o[i];
	memset(hops, 0xa5, sizeof(hops));
	ret = shp_why(s->f->fd, o->h, hops, cap, &kind, &n);
	if (ret == -ESTALE) {
		judge_stale(s, i, "WHY");
		return;
	}
	if (ret) {
		fail(s, "why", "WHY %#llx: %s", (unsigned long long)o->h, errname(ret));
		return;
	}
	if (o->dead)
		stale_works(s, i, "WHY");
	if (kind > SPANHEAP_WHY_FIN_CYCLE || !n != (kind == SPANHEAP_WHY_UNREACHABLE))
		fail(s, "why", "WHY %#llx: kind %u with %u hops", (unsigned long long)o->h, kind, n);
	if (o->reach && !o->dead && kind == SPANHEAP_WHY_UNREACHABLE)
		fail(s, "why", "WHY %#llx: unreachable, but the model reaches it from a root",
		     (unsigned long long)o->h);
	if (n && n <= cap && (hops[n - 1].handle != o->h ||
			      hops[n - 1].slot != SPANHEAP_WHY_NO_SLOT))
		fail(s, "why", "WHY %#llx: the path ends at %#llx[%llu]", (unsigned long long)o->h,
		     (unsigned long long)hops[n - 1].handle, (unsigned long long)hops[n - 1].slot);
	for (k = 0; k < n && k < cap; k++)
		if (hops[k].handle >> 62 || (k + 1 < n && hops[k].slot == SPANHEAP_WHY_NO_SLOT))
			fail(s, "why", "WHY %#llx: hop %u is %#llx[%llu]", (unsigned long long)o->h,
			     k, (unsigned long long)hops[k].handle,
			     (unsigned long long)hops[k].slot);
	if (hops[n < cap ? n : cap].handle != 0xa5a5a5a5a5a5a5a5ULL)
		fail(s, "why", "WHY %#llx: written past %u hops of capacity %u",
		     (unsigned long long)o->h, n, cap);
}

static void op_root(struct slice *s)
{
	int i = pick(s, 0), ret;
	struct pobj *o;
	uint64_t c = 0;

	if (i < 0)
		return;
	o = &s->o[i];
	if (o->roots && srnd(s) % 2) {
		ret = b_root(s, SPANHEAP_IOC_UNROOT, o->h, &c);
		if (!ret) {
			if (o->dead)
				stale_works(s, i, "UNROOT");
			if (c != o->roots - 1)
				fail(s, "root-count", "UNROOT of %#llx: count %llu, model %u",
				     (unsigned long long)o->h, (unsigned long long)c, o->roots - 1);
			o->roots = c;
			walk(s);
		} else if (ret == -ESTALE) {
			judge_stale(s, i, "UNROOT");
		} else {
			fail(s, "unroot", "UNROOT of %#llx (roots %u): %s", (unsigned long long)o->h,
			     o->roots, errname(ret));
		}
		return;
	}
	if (!o->roots && !(srnd(s) % 4)) {
		ret = b_root(s, SPANHEAP_IOC_UNROOT, o->h, &c);
		if (ret == -ESTALE)
			judge_stale(s, i, "UNROOT");
		else if (ret != -EINVAL)
			fail(s, "unroot", "UNROOT of unrooted %#llx: %s, want EINVAL",
			     (unsigned long long)o->h, errname(ret));
		return;
	}
	ret = b_root(s, SPANHEAP_IOC_ROOT, o->h, &c);
	if (!ret) {
		if (o->dead)
			stale_works(s, i, "ROOT");
		if (c != o->roots + 1)
			fail(s, "root-count", "ROOT of %#llx: count %llu, model %u",
			     (unsigned long long)o->h, (unsigned long long)c, o->roots + 1);
		o->roots = c;
		walk(s);
		if (o->data && !o->dead)	/* just rooted: it must hold its bytes */
			verify_data(s, i, 0, o->len < 4096 ? o->len : 4096);
	} else if (ret == -ESTALE) {
		judge_stale(s, i, "ROOT");
	} else if (ret == -ENOMEM) {
		s->enomem++;
	} else {
		fail(s, "root", "ROOT of %#llx: %s", (unsigned long long)o->h, errname(ret));
	}
}

static uint64_t new_token(struct slice *s, struct pobj *o)
{
	uint64_t t;
	int k;

again:
	switch (srnd(s) % 4) {
	case 0:
		t = srnd(s);
		break;
	case 1:		/* looks like a direct-map address: never scanned */
		t = 0xffff888000000000ULL | (srnd(s) & 0x3ffffff8);
		break;
	case 2:
		t = srnd(s) % 1000;
		break;
	default:	/* one of our handles */
		t = s->o[srnd(s) % s->n].h;
	}
	if (o->armed && t == o->token)
		goto again;
	for (k = 0; k < o->nmaybe; k++)
		if (o->maybe[k] == t)
			goto again;
	return t;
}

static void op_fin(struct slice *s)
{
	struct pfile *f = s->f;
	int i = pick(s, 0), ret;
	struct pobj *o;
	uint64_t t;

	if (i < 0)
		return;
	o = &s->o[i];
	if (o->armed || (o->nmaybe && !(srnd(s) % 4))) {
		if (o->armed && o->nmaybe == NMAYBE)
			return;
		ret = b_fin(s, o->h, 0, SPANHEAP_FIN_CLEAR);
		if (!ret) {
			if (o->dead)
				stale_works(s, i, "FINALIZER clear");
			if (o->armed) {		/* its cycle may have taken it */
				o->maybe[o->nmaybe++] = o->token;
				o->armed = false;
				walk(s);
			}
		} else if (ret == -ESTALE) {
			judge_stale(s, i, "FINALIZER clear");
		} else {
			fail(s, "fin", "FINALIZER clear on %#llx: %s", (unsigned long long)o->h,
			     errname(ret));
		}
		return;
	}
	t = new_token(s, o);
	pthread_mutex_lock(&f->lock);
	owner_put(f, o->h, s->id);
	pthread_mutex_unlock(&f->lock);
	ret = b_fin(s, o->h, t, 0);
	if (!ret) {
		if (o->dead)
			stale_works(s, i, "FINALIZER");
		o->armed = true;
		o->token = t;
		o->may_fin = !o->reach;
		walk(s);
	} else if (ret == -ESTALE) {
		judge_stale(s, i, "FINALIZER");
	} else if (ret == -EEXIST && o->nmaybe) {
		/* a cleared token re-armed by a full queue: allowed */
	} else if (ret == -ENOMEM) {
		s->enomem++;
	} else {
		fail(s, "fin", "FINALIZER set on %#llx (cleared tokens %d): %s",
		     (unsigned long long)o->h, o->nmaybe, errname(ret));
	}
}

/* ---- cleanups and weak handles ---- */

static void op_cleanup(struct slice *s)
{
	struct spanheap_cleanup a = { .size = sizeof(a) };
	int i = pick(s, 0), k, ret;
	struct pclean *c;

	for (k = 0; k < SL_CLEAN && s->cl[k].used; k++)
		;
	if (i < 0 || k == SL_CLEAN)
		return;
	c = &s->cl[k];
	a.handle = s->o[i].h;
	a.token = (uint64_t)s->id << CTOKEN_TID | ++s->ctok;
	ret = SIOCTL(s, SPANHEAP_IOC_CLEANUP, a);
	if (ret == -ESTALE) {
		judge_stale(s, i, "CLEANUP");
		return;
	}
	if (ret == -ENOMEM) {
		s->enomem++;
		return;
	}
	if (ret || !a.id || a.id > INT64_MAX) {
		fail(s, "cleanup", "CLEANUP of %#llx: %s, id %#llx", (unsigned long long)a.handle,
		     errname(ret), (unsigned long long)a.id);
		return;
	}
	if (s->o[i].dead)
		stale_works(s, i, "CLEANUP");
	s->cleanups++;
	*c = (struct pclean){ .used = true, .h = a.handle, .id = a.id, .token = a.token,
			      .may_run = !s->o[i].must };
}

/* STOP: 0 unless a cycle may have queued it (then the event is due). */
static void op_cleanup_stop(struct slice *s)
{
	struct spanheap_cleanup a = { .size = sizeof(a) };
	int k = srnd(s) % SL_CLEAN, i, ret;
	struct pclean *c = &s->cl[k];

	if (!c->used)
		return;
	a.handle = c->h;
	a.id = c->id;
	ret = SIOCTL(s, SPANHEAP_IOC_CLEANUP_STOP, a);
	i = hget(s, c->h);
	if (ret == -ESTALE) {
		if (i >= 0)
			judge_stale(s, i, "CLEANUP_STOP");
		else if (!c->may_run)
			fail(s, "cleanup-stop", "CLEANUP_STOP: -ESTALE, the object always reachable");
		return;
	}
	if (ret == -ENOENT && !c->may_run) {
		/*
		 * Another thread may have read the event of a finalizable
		 * object that held this one: the kernel let both go, and a
		 * cycle queued the cleanup, before our inbox said so.
		 */
		settle(s);
		if (!c->used)	/* its event was in the inbox */
			return;
	}
	if (ret == -ENOENT && c->may_run)
		return;
	if (ret) {
		fail(s, "cleanup-stop", "CLEANUP_STOP of %#llx id %llu (may run %d): %s",
		     (unsigned long long)c->h, (unsigned long long)c->id, c->may_run, errname(ret));
		return;
	}
	if (i >= 0 && s->o[i].dead)
		stale_works(s, i, "CLEANUP_STOP");
	memset(c, 0, sizeof(*c));	/* its token must never arrive */
}

static int weak_ioctl(struct slice *s, unsigned long cmd, struct spanheap_weakref *a)
{
	a->size = sizeof(*a);
	a->count = 0;
	return sioctl(s, cmd, a, sizeof(*a));
}

static void op_weak_make(struct slice *s)
{
	struct spanheap_weakref a = { 0 };
	struct pweak *e, *old = NULL, *same = NULL, *free_e = NULL;
	int i = pick(s, 0), ret;

	if (i < 0)
		return;
	for (e = s->wk; e < s->wk + SL_WEAK; e++) {
		if (!e->used)
			free_e = free_e ? free_e : e;
		else if (e->h == s->o[i].h && !e->nil)
			old = e;
	}
	if (!free_e && !old)
		return;
	a.handle = s->o[i].h;
	ret = weak_ioctl(s, SPANHEAP_IOC_WEAK_MAKE, &a);
	if (ret == -ESTALE) {
		judge_stale(s, i, "WEAK_MAKE");
		return;
	}
	if (ret == -ENOMEM) {
		s->enomem++;
		return;
	}
	if (ret || !(a.weak >> 62 & 1) || a.weak >> 63) {
		fail(s, "weak-make", "WEAK_MAKE of %#llx: %s, weak %#llx",
		     (unsigned long long)a.handle, errname(ret), (unsigned long long)a.weak);
		return;
	}
	if (s->o[i].dead)
		stale_works(s, i, "WEAK_MAKE");
	for (e = s->wk; e < s->wk + SL_WEAK; e++)
		if (e->used && e->w == a.weak)
			same = e;
	if (same) {
		if (same->h != a.handle || same->nil || a.count != ++same->refs)
			fail(s, "weak-make", "WEAK_MAKE of %#llx: %#llx (of %#llx%s), count %llu, model %u",
			     (unsigned long long)a.handle, (unsigned long long)a.weak,
			     (unsigned long long)same->h, same->nil ? ", read nil" : "",
			     (unsigned long long)a.count, same->refs);
		return;
	}
	if (old && !old->may_nil)
		fail(s, "weak-canonical", "WEAK_MAKE of %#llx: %#llx, not %#llx, the object always reachable",
		     (unsigned long long)a.handle, (unsigned long long)a.weak,
		     (unsigned long long)old->w);
	if (old)
		old->nil = true;	/* a cycle found the object dead since */
	if (a.count != 1)
		fail(s, "weak-make", "WEAK_MAKE: new %#llx with count %llu",
		     (unsigned long long)a.weak, (unsigned long long)a.count);
	if (!free_e) {		/* no room: drop it again */
		a.handle = 0;
		if (weak_ioctl(s, SPANHEAP_IOC_WEAK_DROP, &a) || a.count)
			fail(s, "weak-drop", "WEAK_DROP of new %#llx", (unsigned long long)a.weak);
		return;
	}
	*free_e = (struct pweak){ .used = true, .w = a.weak, .h = s->o[i].h, .refs = 1,
				  .may_nil = !s->o[i].reach };
}

/* GET: the object, or 0 once it may have been found dead, then 0 for good. */
static void weak_get(struct slice *s, struct pweak *e, bool root)
{
	struct spanheap_weakref a = { .weak = e->w, .flags = root ? SPANHEAP_WEAK_ROOT : 0 };
	int i = hget(s, e->h), ret;

	ret = weak_ioctl(s, SPANHEAP_IOC_WEAK_GET, &a);
	if (ret == -ENOMEM) {
		s->enomem++;
		return;
	}
	if (ret || a.count != e->refs) {
		fail(s, "weak-get", "WEAK_GET %#llx: %s, count %llu, model %u",
		     (unsigned long long)e->w, errname(ret), (unsigned long long)a.count, e->refs);
		return;
	}
	if (!a.handle) {
		if (!e->may_nil)
			fail(s, "weak-nil", "WEAK_GET %#llx: nil, %#llx always reachable from the roots",
			     (unsigned long long)e->w, (unsigned long long)e->h);
		s->weak_nil += !e->nil;
		e->nil = true;
		return;
	}
	if (a.handle != e->h || e->nil) {
		fail(s, "weak-get", "WEAK_GET %#llx: %#llx, model %#llx%s", (unsigned long long)e->w,
		     (unsigned long long)a.handle, (unsigned long long)e->h,
		     e->nil ? " (it read nil before)" : "");
		return;
	}
	if (i < 0) {	/* compacted away: found stale before */
		fail(s, "weak-get", "WEAK_GET %#llx: %#llx, found stale before",
		     (unsigned long long)e->w, (unsigned long long)e->h);
		return;
	}
	if (s->o[i].dead)
		stale_works(s, i, "WEAK_GET");
	if (!root)
		return;
	s->o[i].roots++;
	walk(s);
}

static void op_weak(struct slice *s)
{
	struct spanheap_weakref a = { 0 };
	unsigned int r = srnd(s);
	struct pweak *e = &s->wk[r % SL_WEAK];
	int ret;

	if (r >> 8 & 1 || !e->used)
		return op_weak_make(s);
	if (r >> 9 & 3) {	/* ROOT only what the model still has */
		return weak_get(s, e, r >> 11 & 1 && hget(s, e->h) >= 0 &&
				      !s->o[hget(s, e->h)].dead);
	}
	a.weak = e->w;
	ret = weak_ioctl(s, SPANHEAP_IOC_WEAK_DROP, &a);
	if (ret || a.count != e->refs - 1) {
		fail(s, "weak-drop", "WEAK_DROP %#llx: %s, count %llu, model %u",
		     (unsigned long long)e->w, errname(ret), (unsigned long long)a.count, e->refs);
		return;
	}
	if (!--e->refs)
		memset(e, 0, sizeof(*e));
}

static void op_events(struct slice *s)
{
	size_t len = (srnd(s) % EVBATCH + 1) * sizeof(struct spanheap_event);
	ssize_t n;

	if (!(srnd(s) % 8))
		len += srange(s, 1, sizeof(struct spanheap_event) - 1);
	n = read_events(s, s->rbuf, len);
	if (!n)
		fail(s, "read-zero", "read() of %zu bytes returned 0 (issue 7 #6)", len);
	else if (n < 0 && n != -EAGAIN)
		fail(s, "read", "read() of %zu bytes: %s", len, errname(n));
	process_inbox(s);
}

static void op_params(struct slice *s)
{
	static const int pct[] = { 10, 50, 100, 100, 200 };
	static const uint32_t evq[] = { 1, 2, 4, 64, 4096 };
	struct spanheap_params p = { 0 };
	int ret;

	switch (srnd(s) % 3) {
	case 0:
		p.flags = SPANHEAP_PARAM_GC_PERCENT;
		p.gc_percent = pct[srnd(s) % 5];
		break;
	case 1:
		p.flags = SPANHEAP_PARAM_EVENT_QUEUE;
		p.event_queue_max = evq[srnd(s) % 5];
		if (p.event_queue_max > g_evq_max)
			p.event_queue_max = g_evq_max;
		break;
	default:
		p.flags = SPANHEAP_PARAM_MEM_LIMIT;
		p.mem_limit = (uint64_t)srange(s, 24, 64) << 20;
		if (p.mem_limit > g_mem_max)
			p.mem_limit = g_mem_max;
	}
	ret = shp_set_params(s->f->fd, &p);
	if (ret)
		fail(s, "params", "SET_PARAMS flags %#x: %s", p.flags, errname(ret));
}

static void op_gc_stats(struct slice *s)
{
	struct spanheap_stats_v1 st;
	int ret;

	if (srnd(s) % 3) {
		ret = shp_stats(s->f->fd, &st);
		if (ret)
			fail(s, "stats", "STATS: %s", errname(ret));
		else if (st.size != sizeof(st) || st.version != SPANHEAP_STATS_VERSION ||
			 st.gc_percent < 0 || !st.event_queue_max || st.roots > 1U << 30)
			fail(s, "stats", "STATS: size %u version %u gc_percent %d event_queue_max %u roots %llu",
			     st.size, st.version, st.gc_percent, st.event_queue_max,
			     (unsigned long long)st.roots);
		return;
	}
	ret = shp_gc(s->f->fd, srnd(s) % 2 ? SPANHEAP_GC_WAIT : 0, NULL);
	if (ret && ret != -ENOMEM)
		fail(s, "gc", "GC: %s", errname(ret));
}

/* ---- hostile calls ---- */

static const unsigned long cmds[] = {
	SPANHEAP_IOC_ALLOC, SPANHEAP_IOC_WRITE, SPANHEAP_IOC_READ, SPANHEAP_IOC_STORE,
	SPANHEAP_IOC_LOAD, SPANHEAP_IOC_ROOT, SPANHEAP_IOC_UNROOT, SPANHEAP_IOC_FINALIZER,
	SPANHEAP_IOC_GC, SPANHEAP_IOC_STATS, SPANHEAP_IOC_SET_PARAMS,
};

static size_t ksize_of(unsigned long cmd)
{
	return _IOC_SIZE(cmd);
}

/* Commands that cannot change the model even if they wrongly succeed. */
static bool harmless(unsigned long cmd)
{
	return cmd == SPANHEAP_IOC_LOAD || cmd == SPANHEAP_IOC_READ ||
	       cmd == SPANHEAP_IOC_STATS || cmd == SPANHEAP_IOC_GC;
}

static int ioc(struct slice *s, unsigned long cmd, void *arg)
{
	return shp_ioctl(s->f->fd, cmd, arg);
}

/*
 * An object reachable from a root, or -1 (one kept only by its finalizer
 * may go as soon as another thread reads its event).
 */
static int pick_must(struct slice *s, int want)
{
	int tries, i;

	for (tries = 0; tries < 24 && s->n; tries++) {
		i = srnd(s) % s->n;
		if (s->o[i].reach && !s->o[i].dead && (!want || (want == 1) == s->o[i].data))
			return i;
	}
	return -1;
}

/*
 * A valid argument struct for @cmd on live objects of the slice, in @a
 * (zeroed, PG bytes).  Returns false if the slice has no fitting object.
 */
static bool build(struct slice *s, unsigned long cmd, void *a)
{
	int i = -1, j;

	memset(a, 0, PG);
	*(uint32_t *)a = ksize_of(cmd);
	switch (cmd) {
	case SPANHEAP_IOC_ALLOC: {
		struct spanheap_alloc *x = a;

		x->kind = SPANHEAP_KIND_DATA;
		x->length = 16;
		return true;
	}
	case SPANHEAP_IOC_WRITE:
	case SPANHEAP_IOC_READ: {
		struct spanheap_rw *x = a;

		i = pick_must(s, 1);
		if (i < 0)
			return false;
		x->handle = s->o[i].h;
		x->length = s->o[i].len < 64 ? s->o[i].len : 64;
		x->buf = (uintptr_t)s->rbuf;
		if (cmd == SPANHEAP_IOC_WRITE)	/* the same bytes again */
			expect_bytes(&s->o[i], s->rbuf, 0, x->length);
		return true;
	}
	case SPANHEAP_IOC_STORE:
	case SPANHEAP_IOC_LOAD: {
		struct spanheap_ref *x = a;

		i = pick_must(s, 2);
		if (i < 0)
			return false;
		x->handle = s->o[i].h;
		x->slot = s->o[i].nslot ? s->o[i].sidx[0] : 0;
		if (cmd == SPANHEAP_IOC_STORE) {
			x->value = slot_get(&s->o[i], x->slot);	/* no change */
			j = x->value ? hget(s, x->value) : -1;
			if (j >= 0 && s->o[j].dead)
				return false;
		}
		return true;
	}
	case SPANHEAP_IOC_ROOT:
	case SPANHEAP_IOC_UNROOT:
	case SPANHEAP_IOC_FINALIZER: {
		struct spanheap_root *x = a;

		i = pick_must(s, 0);
		if (i < 0)
			return false;
		x->handle = s->o[i].h;
		return true;
	}
	case SPANHEAP_IOC_SET_PARAMS: {
		struct spanheap_params *x = a;

		x->flags = SPANHEAP_PARAM_GC_PERCENT;
		x->gc_percent = 100;
		return true;
	}
	}
	return true;	/* GC, STATS */
}

/* @ret must be 0 (if @ok0) or one of the errnos listed (0-terminated). */
static void expect(struct slice *s, const char *what, unsigned long cmd, int ret,
		   bool ok0, ...)
{
	va_list ap;
	int e;

	if (!ret && ok0)
		return;
	va_start(ap, ok0);
	while ((e = va_arg(ap, int)))
		if (ret == -e) {
			va_end(ap);
			return;
		}
	va_end(ap);
	fail(s, what, "ioctl nr %lu (%s): %s%s", _IOC_NR(cmd), what, errname(ret),
	     ret ? "" : " (succeeded)");
}

/* STATS of an older header, whose struct ended before @field */
#define STATS_AT(field)	_IOC(_IOC_READ | _IOC_WRITE, SPANHEAP_IOC_MAGIC,		\
			     _IOC_NR(SPANHEAP_IOC_STATS),				\
			     offsetof(struct spanheap_stats_v1, field))

/* Random bytes as the argument struct, the struct ending at a PROT_NONE page. */
static void h_raw(struct slice *s)
{
	unsigned long cmd = cmds[srnd(s) % 11];
	size_t len, ks, k, off;
	uint32_t usize;
	unsigned char *p;
	int ret;

	if (!(srnd(s) % 10)) {	/* an unknown command of our magic */
		static const unsigned long newer[] = {
			SPANHEAP_IOC_CLEANUP, SPANHEAP_IOC_CLEANUP_STOP, SPANHEAP_IOC_WEAK_MAKE,
			SPANHEAP_IOC_WEAK_GET, SPANHEAP_IOC_WEAK_DROP, SPANHEAP_IOC_BATCH,
			SPANHEAP_IOC_WHY,
		};
		const unsigned int nnewer = ARRAY_SIZE(newer);

		/* (STATS is also known by the numbers of its earlier sizes) */
		do {
			cmd = _IOC(srnd(s) % 4, SPANHEAP_IOC_MAGIC, srnd(s) % 32, srnd(s) % 512);
			for (k = 0; k < 11 && cmds[k] != cmd; k++)
				;
			for (off = 0; k == 11 && off < nnewer && newer[off] != cmd; off++)
				;
		} while (k < 11 || off < nnewer ||
			 cmd == STATS_AT(events_overcap) || cmd == STATS_AT(cleanups_set) ||
			 cmd == STATS_AT(gc_pause_last_ns));
		ret = ioc(s, cmd, s->g + srnd(s) % PG);
		if (ret != -ENOTTY)
			fail(s, "enotty", "unknown ioctl %#lx: %s, want ENOTTY", cmd, errname(ret));
		return;
	}
	ks = ksize_of(cmd);
	switch (srnd(s) % 3) {
	case 0:
		len = srange(s, 0, 128);
		break;
	case 1:
		len = srange(s, 0, PG + 512);
		break;
	default:
		len = srange(s, 0, 2 * PG);
	}
	off = 2 * PG - len;
	p = (unsigned char *)s->g + off;
	for (k = 0; k < len; k++)
		p[k] = srnd(s);
	switch (srnd(s) % 5) {
	case 0:
		usize = srnd(s);
		break;
	case 1:
		usize = ks;
		break;
	case 2:
		usize = len;
		break;
	case 3:
		usize = SPANHEAP_MAX_ARG_SIZE + srange(s, 1, 1 << 20);
		break;
	default:
		usize = srnd(s) % 64;
	}
	if (len >= 4)
		memcpy(p, &usize, 4);
	if (len >= 8 && !harmless(cmd))
		p[7] |= 0x80;		/* an unknown flag: must fail */
	ret = ioc(s, cmd, p);
	if (len < 4) {
		expect(s, "raw-efault", cmd, ret, false, EFAULT, 0);
	} else if (usize > SPANHEAP_MAX_ARG_SIZE) {
		expect(s, "raw-e2big", cmd, ret, false, E2BIG, 0);
	} else if (cmd == SPANHEAP_IOC_STATS) {
		size_t w = usize < ks ? usize : ks;

		if (usize < 8)
			expect(s, "raw-stats", cmd, ret, false, EINVAL, 0);
		else if (w > len)
			expect(s, "raw-stats", cmd, ret, false, EFAULT, 0);
		else if (!ret && *(uint32_t *)p != w)
			fail(s, "raw-stats", "STATS with size %u wrote size %u back, want %zu",
			     usize, *(uint32_t *)p, w);
		else
			expect(s, "raw-stats", cmd, ret, true, 0);
	} else if (!ret && cmd != SPANHEAP_IOC_GC && cmd != SPANHEAP_IOC_LOAD) {
		fail(s, "raw-success", "random struct for ioctl nr %lu (size %u, %zu bytes) succeeded",
		     _IOC_NR(cmd), usize, len);
	} else if (ret && !documented(ret)) {
		fail(s, "raw-errno", "random struct for ioctl nr %lu: undocumented %s",
		     _IOC_NR(cmd), errname(ret));
	}
}

/* One defect of an otherwise valid call; each must fail as documented. */
static void h_targeted(struct slice *s)
{
	unsigned long cmd = cmds[srnd(s) % 11];
	unsigned char *a = (unsigned char *)s->g;	/* page 0 */
	unsigned char *ro = (unsigned char *)s->g + 3 * PG;
	size_t ks = ksize_of(cmd);
	uint32_t *flags = (uint32_t *)(a + 4);
	struct pfile *f = s->f;
	__u64 *hp, forged;
	int ret, r, k;

	if (!build(s, cmd, a))
		return;
	switch ((r = srnd(s) % 11)) {
	case 0:		/* an unknown flag bit */
		if (cmd == SPANHEAP_IOC_STATS)
			return;
		*flags |= 1U << srange(s, 1, 31);
		if (cmd == SPANHEAP_IOC_SET_PARAMS)
			*flags |= 0x80000000;
		ret = ioc(s, cmd, a);
		expect(s, "bad-flags", cmd, ret, false, EINVAL, 0);
		return;
	case 1:		/* too small */
		*(uint32_t *)a = srnd(s) % (cmd == SPANHEAP_IOC_STATS ? 8 : ks);
		ret = ioc(s, cmd, a);
		expect(s, "small-size", cmd, ret, false, EINVAL, 0);
		return;
	case 2:		/* bigger, a nonzero byte past ours */
		if (cmd == SPANHEAP_IOC_STATS)
			return;
		*(uint32_t *)a = srange(s, ks + 1, SPANHEAP_MAX_ARG_SIZE);
		a[srange(s, ks, *(uint32_t *)a - 1)] = srnd(s) | 1;
		if (!harmless(cmd) && cmd != SPANHEAP_IOC_ALLOC)
			*flags |= 0x80000000;
		ret = ioc(s, cmd, a);
		expect(s, "trailing-bytes", cmd, ret, false, EINVAL, E2BIG, 0);
		return;
	case 3:		/* past SPANHEAP_MAX_ARG_SIZE: -E2BIG, always */
		*(uint32_t *)a = srnd(s) % 4 ? srange(s, SPANHEAP_MAX_ARG_SIZE + 1, 2 * PG) :
			(uint32_t)srnd(s) | 0x80000000;
		if (!harmless(cmd) && cmd != SPANHEAP_IOC_ALLOC)
			*flags |= 0x80000000;
		ret = ioc(s, cmd, a);
		expect(s, "e2big", cmd, ret, false, E2BIG, 0);
		return;
	case 4: {	/* bigger, zero-padded: fine, and our size written back */
		uint32_t us = srange(s, ks, SPANHEAP_MAX_ARG_SIZE);

		if (!harmless(cmd))
			return;
		*(uint32_t *)a = us;
		ret = ioc(s, cmd, a);
		expect(s, "zero-padded", cmd, ret, true, ENOMEM, 0);
		if (!ret && *(uint32_t *)a != ks)
			fail(s, "size-back", "ioctl nr %lu with size %u: wrote size %u back, want %zu",
			     _IOC_NR(cmd), us, *(uint32_t *)a, ks);
		for (k = ks; !ret && k < (int)us; k++)
			if (a[k]) {
				fail(s, "size-back", "ioctl nr %lu with size %u: wrote past its struct (byte %d)",
				     _IOC_NR(cmd), us, k);
				break;
			}
		return;
	}
	case 5:		/* read-only struct: -EFAULT, and nothing happened (#7) */
		if (cmd == SPANHEAP_IOC_ALLOC)
			((struct spanheap_alloc *)a)->flags = SPANHEAP_ALLOC_ROOTED;
		if (cmd == SPANHEAP_IOC_UNROOT) {
			k = hget(s, ((struct spanheap_root *)a)->handle);
			if (!s->o[k].roots)
				return;
		}
		if (cmd == SPANHEAP_IOC_FINALIZER) {
			k = hget(s, ((struct spanheap_finalizer *)a)->handle);
			if (s->o[k].armed || s->o[k].nmaybe)
				return;
			((struct spanheap_finalizer *)a)->token = 0xfa17;
			pthread_mutex_lock(&f->lock);
			owner_put(f, s->o[k].h, s->id);
			pthread_mutex_unlock(&f->lock);
		}
		if (cmd == SPANHEAP_IOC_SET_PARAMS)
			return;		/* other threads change them: unverifiable */
		if (cmd == SPANHEAP_IOC_STORE) {	/* a change, if it took effect */
			struct spanheap_ref *x = (void *)a;

			k = pick_must(s, 0);
			x->value = x->value || k < 0 ? 0 : s->o[k].h;
		}
		if (cmd == SPANHEAP_IOC_WRITE)		/* bytes the model does not have */
			pat_fill(s->rbuf, srnd(s) | 1, 0, ((struct spanheap_rw *)a)->length);
		memcpy(ro, a, PG);
		mprotect(ro, PG, PROT_READ);
		ret = ioc(s, cmd, ro);
		mprotect(ro, PG, PROT_READ | PROT_WRITE);
		expect(s, "readonly-struct", cmd, ret, false, EFAULT, 0);
		return;
	case 6:		/* unmapped or kernel struct address */
		k = srnd(s) % 3;
		ret = ioc(s, cmd, k == 0 ? NULL : k == 1 ? (void *)(s->g + 2 * PG) :
			  (void *)0xffff888000001000ULL);
		expect(s, "bad-pointer", cmd, ret, false, EFAULT, 0);
		return;
	case 7:		/* forged or foreign handles */
		switch (cmd) {
		case SPANHEAP_IOC_ALLOC: case SPANHEAP_IOC_GC: case SPANHEAP_IOC_STATS:
		case SPANHEAP_IOC_SET_PARAMS:
			return;
		}
		hp = (__u64 *)(a + 8);
		if (cmd == SPANHEAP_IOC_STORE && srnd(s) % 2)
			hp = &((struct spanheap_ref *)a)->value;
		if (!*hp)	/* STORE of 0 clears: nothing to forge from */
			return;
		switch (srnd(s) % 6) {
		case 0:
			forged = *hp & ~((1ULL << 24) - 1);			/* index 0 */
			break;
		case 1:
			forged = *hp | ((1ULL << 24) - 1);			/* index past all */
			break;
		case 2:
			forged = *hp & ((1ULL << 44) - 1);			/* tag 0 */
			break;
		case 3:
			forged = *hp | 1ULL << 63;
			break;
		case 4:
			forged = srnd(s) | 1ULL << 63;
			break;
		default:	/* another open file's handle */
			forged = 0;
			if (g_files > 1) {
				struct pfile *o = &files[(f->idx + 1 + srnd(s) % (g_files - 1)) % g_files];

				forged = __atomic_load_n(&o->sample, __ATOMIC_RELAXED);
			}
			if (!forged)
				return;
		}
		*hp = forged;
		ret = ioc(s, cmd, a);
		expect(s, "forged-handle", cmd, ret, false, EINVAL, ENOENT, ESTALE, 0);
		return;
	case 8:		/* nonzero "out" fields, reserved fields */
		switch (cmd) {
		case SPANHEAP_IOC_ALLOC:
			if (srnd(s) % 2)
				((struct spanheap_alloc *)a)->reserved = srnd(s) | 1;
			else
				((struct spanheap_alloc *)a)->handle = srnd(s) | 1;
			break;
		case SPANHEAP_IOC_LOAD:
			((struct spanheap_ref *)a)->value = srnd(s) | 1;
			break;
		case SPANHEAP_IOC_ROOT:
		case SPANHEAP_IOC_UNROOT:
			((struct spanheap_root *)a)->count = srnd(s) | 1;
			break;
		case SPANHEAP_IOC_GC:
			((struct spanheap_gc *)a)->collections = srnd(s) | 1;
			break;
		case SPANHEAP_IOC_FINALIZER:	/* CLEAR with a token */
			((struct spanheap_finalizer *)a)->flags = SPANHEAP_FIN_CLEAR;
			((struct spanheap_finalizer *)a)->token = srnd(s) | 1;
			break;
		default:
			return;
		}
		ret = ioc(s, cmd, a);
		expect(s, "out-fields", cmd, ret, false, EINVAL, 0);
		return;
	case 9:		/* bad values */
		switch (cmd) {
		case SPANHEAP_IOC_ALLOC: {
			struct spanheap_alloc *x = (void *)a;

			switch (srnd(s) % 4) {
			case 0:
				x->kind = srnd(s) % 2 ? 0 : srange(s, 3, 1000);
				break;
			case 1:
				x->length = 0;
				break;
			case 2:
				x->length = SPANHEAP_MAX_OBJECT + srange(s, 1, 1 << 20);
				break;
			default:
				x->kind = SPANHEAP_KIND_REF;
				x->length = srnd(s) % 2 ? SPANHEAP_MAX_SLOTS + 1ULL : UINT64_MAX;
			}
			ret = ioc(s, cmd, a);
			expect(s, "alloc-values", cmd, ret, false, EINVAL, 0);
			return;
		}
		case SPANHEAP_IOC_WRITE:
		case SPANHEAP_IOC_READ: {
			struct spanheap_rw *x = (void *)a;

			x->offset = UINT64_MAX - srange(s, 0, 63);
			ret = ioc(s, cmd, a);
			expect(s, "rw-overflow", cmd, ret, false, ERANGE, 0);
			return;
		}
		case SPANHEAP_IOC_SET_PARAMS: {
			struct spanheap_params *x = (void *)a;

			switch (srnd(s) % 4) {
			case 0:
				x->flags = SPANHEAP_PARAM_MEM_LIMIT;
				x->mem_limit = srange(s, 0, (1 << 20) - 1);
				break;
			case 1:
				x->flags = SPANHEAP_PARAM_MEM_LIMIT;
				x->mem_limit = g_mem_max + srange(s, 1, 1 << 30);
				break;
			case 2:
				x->flags = SPANHEAP_PARAM_EVENT_QUEUE;
				x->event_queue_max = 0;
				break;
			default:
				x->flags = SPANHEAP_PARAM_EVENT_QUEUE;
				x->event_queue_max = g_evq_max + srange(s, 1, 1000);
			}
			ret = ioc(s, cmd, a);
			expect(s, "params-range", cmd, ret, false, EINVAL, 0);
			return;
		}
		case SPANHEAP_IOC_UNROOT:
			k = hget(s, ((struct spanheap_root *)a)->handle);
			if (s->o[k].roots)
				return;
			ret = ioc(s, cmd, a);
			expect(s, "unroot-unrooted", cmd, ret, false, EINVAL, 0);
			return;
		case SPANHEAP_IOC_FINALIZER:
			k = hget(s, ((struct spanheap_finalizer *)a)->handle);
			/*
			 * Only while its cycle cannot have taken it: once
			 * may_fin, another thread may have read its event
			 * and the finalizer is no longer set.
			 */
			if (!s->o[k].armed || s->o[k].may_fin)
				return;
			((struct spanheap_finalizer *)a)->token = 1;
			ret = ioc(s, cmd, a);
			expect(s, "fin-eexist", cmd, ret, false, EEXIST, 0);
			return;
		}
		return;
	default: {	/* data buffers: unmapped, read-only, half mapped */
		struct spanheap_rw *x = (struct spanheap_rw *)a;
		bool w = cmd == SPANHEAP_IOC_WRITE;
		int i;

		if (cmd != SPANHEAP_IOC_WRITE && cmd != SPANHEAP_IOC_READ)
			return;
		i = hget(s, x->handle);
		switch (srnd(s) % 3) {
		case 0:
			x->buf = srnd(s) % 2 ? (uintptr_t)(s->g + 2 * PG) : 0xffff888000000000ULL;
			x->length = s->o[i].len < 4096 ? s->o[i].len : 4096;
			break;
		case 1:
			if (w)
				return;
			x->buf = (uintptr_t)(s->g + 3 * PG);	/* read-only */
			mprotect(ro, PG, PROT_READ);
			x->length = s->o[i].len < 4096 ? s->o[i].len : 4096;
			break;
		default:
			if (s->o[i].len < 2)
				return;
			x->length = srange(s, 2, s->o[i].len < 3 * PG ? s->o[i].len : 3 * PG);
			/* 1..PG bytes in page 1, the rest in the PROT_NONE page */
			x->buf = (uintptr_t)(s->g + 2 * PG) -
				 srange(s, 1, x->length - 1 < PG ? x->length - 1 : PG);
			if (w)		/* what may land: the model's bytes */
				expect_bytes(&s->o[i], (unsigned char *)(uintptr_t)x->buf, 0,
					     (uintptr_t)(s->g + 2 * PG) - x->buf);
		}
		ret = ioc(s, cmd, a);
		mprotect(ro, PG, PROT_READ | PROT_WRITE);
		expect(s, "bad-buffer", cmd, ret, false, EFAULT, 0);
		return;
	}
	}
}

/* read() with odd sizes and buffers; whatever it returns is dispatched. */
static void h_read(struct slice *s)
{
	char *end = s->g + 2 * PG;
	size_t len;
	ssize_t n;
	void *buf;

	switch (srnd(s) % 3) {
	case 0:		/* smaller than a record */
		len = srnd(s) % sizeof(struct spanheap_event);
		n = read_events(s, s->rbuf, len);
		if (n != -EINVAL)
			fail(s, "read-small", "read() of %zu bytes: %s, want EINVAL", len,
			     n >= 0 ? "success" : errname(n));
		return;
	case 1:		/* records run into the PROT_NONE page */
		len = (srnd(s) % 4 + 1) * sizeof(struct spanheap_event);
		buf = end - srange(s, 0, len);
		break;
	default:	/* unmapped or kernel */
		len = sizeof(struct spanheap_event);
		buf = srnd(s) % 2 ? (void *)end : (void *)0xffff888000000000ULL;
	}
	n = read_events(s, buf, len);
	if (!n)
		fail(s, "read-zero", "read() of %zu bytes returned 0", len);
	else if (n < 0 && n != -EAGAIN && n != -EFAULT)
		fail(s, "read", "read() into a bad buffer: %s", errname(n));
	else if (n > 0 && (char *)buf + n > end)
		fail(s, "read", "read() returned %zd bytes, only %zd fit", n, end - (char *)buf);
	process_inbox(s);
}

/*
 * A batch the kernel must refuse whole: up to three ops that would all
 * succeed (ALLOCs, ROOTs of reachable objects), one thing wrong in the
 * batch or in one op.  Nothing may run: no handle comes back, and the
 * objects' root counts stay the model's.
 */
static void h_batch(struct slice *s)
{
	static const unsigned long bad_cmds[] = {
		0, SPANHEAP_IOC_BATCH, SPANHEAP_IOC_GC, SPANHEAP_IOC_READ,
		SPANHEAP_IOC_WRITE, SPANHEAP_IOC_STATS, SPANHEAP_IOC_SET_PARAMS,
	};
	struct spanheap_op ops[3];
	struct spanheap_batch b = { .size = sizeof(b), .op_size = sizeof(ops[0]),
				    .ops = (uintptr_t)ops };
	int n = 1 + srnd(s) % 3, k, i, want = -EINVAL, ret;
	uint64_t c;

	for (k = 0; k < n; k++) {
		i = pick_must(s, 0);
		if (i >= 0 && srnd(s) % 2)
			shp_op_root(&ops[k], SPANHEAP_IOC_ROOT, s->o[i].h);
		else
			shp_op_alloc(&ops[k], SPANHEAP_KIND_DATA, 8, SPANHEAP_ALLOC_ROOTED);
	}
	b.count = n;
	k = srnd(s) % n;
	switch (srnd(s) % 12) {
	case 0:
		b.count = 0;
		break;
	case 1:
		b.count = SPANHEAP_BATCH_MAX + 1 + srnd(s) % 5000;
		want = -E2BIG;
		break;
	case 2:
		b.op_size += srnd(s) % 2 ? 8 : -8;
		break;
	case 3:
		b.flags = 1U << (srnd(s) % 32);
		break;
	case 4:
		b.done = 1 + srnd(s) % 100;
		break;
	case 5:
		b.reserved = srnd(s) | 1;
		break;
	case 6:
		ops[k].cmd = bad_cmds[srnd(s) % ARRAY_SIZE(bad_cmds)];
		ops[k].size = _IOC_SIZE(ops[k].cmd);
		break;
	case 7:
		ops[k].flags = 1U << (srnd(s) % 32);
		break;
	case 8:
		ops[k].reserved = srnd(s) | 1;
		break;
	case 9:
		ops[k].error = -(int)(1 + srnd(s) % 200);
		break;
	case 10:
		ops[k].size = srnd(s) % 2 ? ops[k].size + 8 : srnd(s) % ops[k].size;
		break;
	default:
		b.ops = srnd(s) % 2 ? 0 : (uintptr_t)(s->g + 2 * PG);	/* unmapped */
		want = -EFAULT;
	}
	ret = shp_ioctl(s->f->fd, SPANHEAP_IOC_BATCH, &b);
	if (ret != want)
		fail(s, "batch-bad", "refused BATCH: %s, want %s", errname(ret), errname(want));
	for (k = 0; k < n; k++) {
		if (ops[k].cmd == SPANHEAP_IOC_ALLOC && ops[k].alloc.handle)
			fail(s, "batch-bad", "refused BATCH ran its ALLOC");
		if (ops[k].cmd != SPANHEAP_IOC_ROOT)
			continue;
		i = hget(s, ops[k].root.handle);
		if (i < 0 || s->o[i].dead)
			continue;
		/* Still the model's count: ROOT then UNROOT, one more then one less. */
		if (!shp_root(s->f->fd, s->o[i].h, &c) && c != s->o[i].roots + 1ULL)
			fail(s, "batch-bad", "refused BATCH: %#llx has %llu roots, model %u",
			     (unsigned long long)s->o[i].h, (unsigned long long)c - 1,
			     s->o[i].roots);
		shp_unroot(s->f->fd, s->o[i].h, &c);
	}
}

static void op_hostile(struct slice *s)
{
	s->hostile++;
	switch (srnd(s) % 6) {
	case 0:
	case 1:
		h_raw(s);
		break;
	case 2:
		h_read(s);
		break;
	case 3:
		h_batch(s);
		break;
	default:
		h_targeted(s);
	}
	/* a half-mapped WRITE may have landed in part: write the model's bytes */
	walk(s);
}

static void paced_op(struct slice *s)
{
	unsigned int r = srnd(s) % 100;

	s->ops++;
	process_inbox(s);
	if (r < 18)
		op_alloc(s);
	else if (r < 30)
		op_write(s);
	else if (r < 40)
		op_read(s);
	else if (r < 54)
		op_store(s);
	else if (r < 60)
		op_load(s);
	else if (r < 70)
		op_root(s);
	else if (r < 80)
		op_fin(s);
	else if (r < 86)
		op_events(s);
	else if (r < 88)
		op_gc_stats(s);
	else if (r < 89)
		op_params(s);
	else if (r < 91)
		op_cleanup(s);
	else if (r < 92)
		op_cleanup_stop(s);
	else if (r < 94)
		op_weak(s);
	else if (r < 95)
		op_why(s);
	else
		op_hostile(s);
}

/* ---- quiescent checks (one thread of the file, the others parked) ---- */

/* read() until EAGAIN; the records go to their owners.  Returns records. */
static int drain(struct slice *s)
{
	int total = 0;
	ssize_t n;

	for (;;) {
		n = read_events(s, s->rbuf, EVBATCH * sizeof(struct spanheap_event));
		if (n == -EAGAIN)
			return total;
		if (n <= 0) {
			fail(s, "read", "read() of events at a quiescent point: %s",
			     n ? errname(n) : "0");
			return total;
		}
		total += n / sizeof(struct spanheap_event);
	}
}

/* Go's rule: armed objects not reached from the roots nor from other armed ones' slots. */
static void go_expect(struct slice *s)
{
	int stk[SL_OBJS], sp = 0, i, k;

	for (i = 0; i < s->n; i++) {
		s->o[i].greach = s->o[i].reach;
		s->o[i].qgot = 0;
		s->o[i].qarmed = false;
	}
	for (i = 0; i < s->n; i++) {
		struct pobj *o = &s->o[i];

		if (!o->armed && !o->nmaybe)
			continue;
		for (k = 0; k < o->nslot; k++) {
			int j = hget(s, o->sval[k]);

			if (j >= 0 && !s->o[j].greach) {
				s->o[j].greach = true;
				stk[sp++] = j;
			}
		}
	}
	while (sp) {
		struct pobj *o = &s->o[stk[--sp]];

		for (k = 0; k < o->nslot; k++) {
			int j = hget(s, o->sval[k]);

			if (j >= 0 && !s->o[j].greach) {
				s->o[j].greach = true;
				stk[sp++] = j;
			}
		}
	}
}

static void verify_all(struct slice *s)
{
	int i, k, ret;
	uint64_t v;

	for (i = 0; i < s->n; i++) {
		struct pobj *o = &s->o[i];

		if (o->dead)
			continue;
		if (!o->must) {
			/* unreachable after full collections: must be gone */
			ret = probe(s, i);
			if (!ret)
				fail(s, "survivor", "%#llx (%s %llu, armed %d) is unreachable but survived the collections",
				     (unsigned long long)o->h, o->data ? "DATA" : "REF",
				     (unsigned long long)o->len, o->armed);
			else if (ret == -ESTALE)
				judge_stale(s, i, "quiescent probe");
			continue;
		}
		if (o->data) {
			if (o->len <= 262144) {
				verify_data(s, i, 0, o->len);
			} else {
				verify_data(s, i, 0, 65536);
				verify_data(s, i, o->len - 65536, 65536);
				for (k = 0; k < o->novl; k++) {
					uint64_t len = o->ovl[k].len < 65536 ? o->ovl[k].len : 65536;

					verify_data(s, i, o->ovl[k].off, len);
				}
			}
			continue;
		}
		for (k = 0; k <= o->nslot; k++) {
			uint64_t slot = k < o->nslot ? o->sidx[k] : srnd(s) % o->len;

			ret = shp_load(s->f->fd, o->h, slot, &v);
			if (ret == -ESTALE) {
				judge_stale(s, i, "quiescent LOAD");
				break;
			}
			if (ret || v != slot_get(o, slot))
				fail(s, "load", "quiescent LOAD %#llx[%llu]: %s, %#llx, model %#llx",
				     (unsigned long long)o->h, (unsigned long long)slot, errname(ret),
				     (unsigned long long)v, (unsigned long long)slot_get(o, slot));
		}
	}
}

/* Collect with GC_WAIT, read every event; returns the records read. */
static int qpass(struct pfile *f, struct spanheap_stats_v1 *st0, struct spanheap_stats_v1 *st)
{
	struct slice *s0 = f->sl[0];
	int t, got, ret;

	f->qpass++;
	for (t = 0; t < f->nthreads; t++)
		go_expect(f->sl[t]);
	if (shp_stats(f->fd, st0))
		fail(s0, "stats", "STATS failed");
	ret = shp_gc(f->fd, SPANHEAP_GC_WAIT, NULL);
	if (ret)
		fail(s0, "gc", "quiescent GC_WAIT: %s", errname(ret));
	f->qgc++;
	got = drain(s0);
	for (t = 0; t < f->nthreads; t++)
		process_inbox_upto(f->sl[t], true);	/* quiescent: all read */
	if (shp_stats(f->fd, st))
		fail(s0, "stats", "STATS failed");
	return got;
}

static void qcheck(struct pfile *f, bool final)
{
	struct spanheap_params p = {
		.flags = SPANHEAP_PARAM_EVENT_QUEUE, .event_queue_max = g_evq_max,
	};
	struct slice *s0 = f->sl[0], *s;
	unsigned long long roots, armed, must, cleanups, weak, weak_live;
	struct spanheap_stats_v1 st0, st;
	int t, i, iter, got, ret;
	uint64_t c;

	f->qpass = 0;
	if (shp_set_params(f->fd, &p))
		fail(s0, "params", "SET_PARAMS event_queue_max %u failed", g_evq_max);
	for (t = 0; t < f->nthreads; t++) {
		s = f->sl[t];
		settle(s);
		if (!final)
			continue;
		for (i = 0; i < s->n; i++) {	/* drop every root */
			struct pobj *o = &s->o[i];

			while (o->roots && !o->dead) {
				ret = shp_unroot(f->fd, o->h, &c);
				if (ret) {
					fail(s, "unroot", "final UNROOT of %#llx: %s",
					     (unsigned long long)o->h, errname(ret));
					break;
				}
				o->roots = c;
			}
		}
		walk(s);
	}
	/* the queue and the worker are empty after this pass */
	qpass(f, &st0, &st);
	/*
	 * Cleared tokens: those not delivered by now never come, except
	 * one a full queue re-armed: clear it.
	 */
	for (t = 0; t < f->nthreads; t++) {
		s = f->sl[t];
		for (i = 0; i < s->n; i++) {
			struct pobj *o = &s->o[i];

			if (!o->nmaybe)
				continue;
			if (!o->armed && !o->dead) {
				ret = shp_clear_finalizer(f->fd, o->h);
				if (ret == -ESTALE)
					judge_stale(s, i, "quiescent FINALIZER clear");
				else if (ret)
					fail(s, "fin", "FINALIZER clear on %#llx: %s",
					     (unsigned long long)o->h, errname(ret));
			}
			o->nmaybe = 0;
		}
	}
	/*
	 * No event is pending before these cycles: each one's events are
	 * exactly Go's set (a subset when the full queue deferred some).
	 */
	for (iter = 0; iter < 200; iter++) {
		got = qpass(f, &st0, &st);
		for (t = 0; t < f->nthreads; t++) {
			s = f->sl[t];
			for (i = 0; i < s->n; i++) {
				struct pobj *o = &s->o[i];
				bool now = o->qgot == f->qpass && o->qarmed;

				if (now && o->greach)
					fail(s, "go-order", "token %#llx of %#llx arrived, but it was reachable from a root or another finalizable object",
					     (unsigned long long)o->token, (unsigned long long)o->h);
				if (!o->greach && o->armed && !o->dead &&
				    st.events_deferred == st0.events_deferred)
					fail(s, "go-order", "%#llx: finalizer due (unreachable, token %#llx) but no event after GC_WAIT",
					     (unsigned long long)o->h, (unsigned long long)o->token);
			}
		}
		if (!got && !st.finalizers_queued && !st.events_pending)
			break;
	}
	if (iter == 200)
		fail(s0, "converge", "events still coming after 200 collections");
	roots = armed = must = cleanups = weak = weak_live = 0;
	for (t = 0; t < f->nthreads; t++) {
		s = f->sl[t];
		walk(s);
		/* every cleanup of an object gone ran; every weak handle of one reads 0 */
		for (i = 0; i < SL_CLEAN; i++) {
			struct pclean *c = &s->cl[i];
			int j = c->used ? hget(s, c->h) : 0;

			if (c->used && (j < 0 || s->o[j].dead || !s->o[j].must))
				fail(s, "cleanup-lost", "cleanup %llu (token %#llx) of unreachable %#llx: no event after GC_WAIT",
				     (unsigned long long)c->id, (unsigned long long)c->token,
				     (unsigned long long)c->h);
			cleanups += c->used;
		}
		for (i = 0; i < SL_WEAK; i++) {
			struct pweak *e = &s->wk[i];
			int j = e->used ? hget(s, e->h) : 0;

			if (!e->used)
				continue;
			weak_get(s, e, false);
			if (!e->nil && (j < 0 || s->o[j].dead || !s->o[j].must))
				fail(s, "weak-dead", "weak %#llx reads %#llx, unreachable and collected",
				     (unsigned long long)e->w, (unsigned long long)e->h);
			weak++;
			weak_live += !e->nil;
		}
		verify_all(s);
		for (i = 0; i < s->n; i++) {
			struct pobj *o = &s->o[i];

			roots += o->roots;
			armed += o->armed && !o->dead;
			must += o->must && !o->dead;
		}
	}
	if (shp_stats(f->fd, &st)) {
		fail(s0, "stats", "STATS failed");
		return;
	}
	pthread_mutex_lock(&f->lock);
	if (st.roots != roots)
		fail(s0, "stats-roots", "STATS roots %llu, model %llu",
		     (unsigned long long)st.roots, roots);
	if (st.events_read != f->nread || f->maxseq != f->nread)
		fail(s0, "stats-events", "STATS events_read %llu, the fuzzer read %llu (highest seq %llu)",
		     (unsigned long long)st.events_read, (unsigned long long)f->nread,
		     (unsigned long long)f->maxseq);
	if (st.events_pending || st.finalizers_queued)
		fail(s0, "stats-events", "STATS events_pending %llu finalizers_queued %llu at a quiescent point",
		     (unsigned long long)st.events_pending, (unsigned long long)st.finalizers_queued);
	if (st.finalizers_set != armed)
		fail(s0, "stats-fin", "STATS finalizers_set %llu, model %llu",
		     (unsigned long long)st.finalizers_set, armed);
	/* an armed cleanup's argument is a tiny object, which may share its block */
	if (st.objects < must || st.objects > must + cleanups)
		fail(s0, "stats-objects", "STATS objects %llu, model %llu reachable and %llu cleanups",
		     (unsigned long long)st.objects, must, cleanups);
	if (st.cleanups_set != cleanups || st.cleanups_queued || st.weak_handles != weak ||
	    st.weak_live != weak_live || st.pins)
		fail(s0, "stats-v2", "STATS cleanups set %llu queued %llu (model %llu), weak handles %llu live %llu (model %llu, %llu), pins %llu",
		     (unsigned long long)st.cleanups_set, (unsigned long long)st.cleanups_queued,
		     cleanups, (unsigned long long)st.weak_handles,
		     (unsigned long long)st.weak_live, weak, weak_live,
		     (unsigned long long)st.pins);
	if (st.gc_percent < 0)
		fail(s0, "stats", "gc_percent %d: pacing turned off", st.gc_percent);
	f->cycles = st.collections;
	pthread_mutex_unlock(&f->lock);
	for (t = 0; t < f->nthreads; t++)
		compact(f->sl[t]);
}

static void *worker(void *arg)
{
	struct slice *s = arg;
	struct pfile *f = s->f;
	int k;

	for (;;) {
		for (k = 0; k < ROUND_OPS && time(NULL) < g_end; k++)
			paced_op(s);
		pthread_barrier_wait(&f->bar);
		if (!s->id) {
			qcheck(f, false);
			f->rounds++;
			f->stop = time(NULL) >= g_end;
		}
		pthread_barrier_wait(&f->bar);
		if (f->stop)
			break;
	}
	return NULL;
}

static void *watchdog(void *arg)
{
	struct timespec ts = { 1, 0 };
	time_t limit = g_end + 600 + *(int *)arg / 2;

	while (time(NULL) < limit)
		nanosleep(&ts, NULL);
	ksft_test_result_fail("fuzz: still running 600 s after its deadline (a call hangs?)\n");
	fflush(stdout);
	_exit(KSFT_FAIL);
	return NULL;
}

static uint64_t read_param(const char *name, uint64_t dflt)
{
	char path[128], buf[32];
	ssize_t n;
	int pfd;

	snprintf(path, sizeof(path), "/sys/module/spanheap/parameters/%s", name);
	pfd = open(path, O_RDONLY);
	if (pfd < 0)
		return dflt;
	n = read(pfd, buf, sizeof(buf) - 1);
	close(pfd);
	if (n <= 0)
		return dflt;
	buf[n] = 0;
	return strtoull(buf, NULL, 0);
}

static void paced_main(int seconds)
{
	struct spanheap_stats_v1 st;
	pthread_t wd;
	int fi, t;

	g_evq_max = read_param("event_queue_max", 4096);
	g_mem_max = read_param("mem_limit", 64ULL << 20);
	for (fi = 0; fi < g_files; fi++) {
		struct pfile *f = &files[fi];

		f->idx = fi;
		f->nthreads = g_threads;
		f->fd = shp_open(O_NONBLOCK);
		if (f->fd < 0) {
			ksft_set_plan(1);
			ksft_test_result_fail("fuzz: open of /dev/spanheap %d: %s\n",
					      fi, errname(f->fd));
			return;
		}
		pthread_mutex_init(&f->lock, NULL);
		pthread_barrier_init(&f->bar, NULL, g_threads);
	}
	ksft_set_plan(g_files);
	ksft_print_msg("seed %u, %d s, paced, %d threads on each of %d files\n",
		       seed, seconds, g_threads, g_files);
	g_end = time(NULL) + seconds;
	pthread_create(&wd, NULL, watchdog, &seconds);
	for (fi = 0; fi < g_files; fi++) {
		struct pfile *f = &files[fi];

		/* pacing must be on by default (issue 7 #9); keep it on regardless */
		if (!shp_stats(f->fd, &st) && st.gc_percent != 100) {
			struct spanheap_params p = {
				.flags = SPANHEAP_PARAM_GC_PERCENT, .gc_percent = 100,
			};

			ksft_print_msg("file %d: gc_percent %d at open, want 100 (pacing on)\n",
				       fi, st.gc_percent);
			f->fails++;
			shp_set_params(f->fd, &p);
		}
		for (t = 0; t < g_threads; t++) {
			struct slice *s = calloc(1, sizeof(*s));

			if (!s)
				abort();
			s->f = f;
			s->id = t;
			s->rs = mix64(seed * 0x9e3779b97f4a7c15ULL + fi * 131 + t + 1) | 1;
			pthread_mutex_init(&s->ibox_lock, NULL);
			s->wbuf = malloc(SPANHEAP_MAX_OBJECT);
			s->rbuf = malloc(SPANHEAP_MAX_OBJECT);
			s->ebuf = malloc(SPANHEAP_MAX_OBJECT);
			s->g = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (!s->wbuf || !s->rbuf || !s->ebuf || s->g == MAP_FAILED)
				abort();
			mprotect(s->g + 2 * PG, PG, PROT_NONE);
			memset(s->hash, 0xff, sizeof(s->hash));
			f->sl[t] = s;
		}
	}
	for (fi = 0; fi < g_files; fi++)
		for (t = 0; t < g_threads; t++)
			pthread_create(&files[fi].sl[t]->thr, NULL, worker, files[fi].sl[t]);
	for (fi = 0; fi < g_files; fi++)
		for (t = 0; t < g_threads; t++)
			pthread_join(files[fi].sl[t]->thr, NULL);
	for (fi = 0; fi < g_files; fi++) {
		struct pfile *f = &files[fi];
		unsigned long long ops = 0, hostile = 0, stale = 0, enomem = 0, ev = 0, res = 0;
		unsigned long long cl = 0, cev = 0, wnil = 0, nb = 0;
		int k;

		qcheck(f, true);	/* no roots: everything finalizable runs */
		shp_close(f->fd);
		for (t = 0; t < g_threads; t++) {
			struct slice *s = f->sl[t];

			ops += s->ops;
			hostile += s->hostile;
			stale += s->stale;
			enomem += s->enomem;
			ev += s->events;
			res += s->resurrected;
			cl += s->cleanups;
			cev += s->cevents;
			wnil += s->weak_nil;
			nb += s->batches;
		}
		for (k = 0; k < f->nkeys; k++)
			ksft_print_msg("file %d: %d failures [%s]\n", fi, f->keys[k].count,
				       f->keys[k].key);
		ksft_test_result(!f->fails && f->rounds > 0,
				 "paced fuzz, file %d, %d threads: %d rounds, %llu ops (%llu hostile), %llu cycles (%llu quiescent), %llu events (%llu resurrected), %llu cleanups (%llu ran), %llu weak handles read nil, %llu ESTALE, %llu ENOMEM, %llu batches\n",
				 fi, g_threads, f->rounds, ops, hostile,
				 (unsigned long long)f->cycles, f->qgc, ev, res, cl, cev, wnil,
				 stale, enomem, nb);
		total_ops += ops;
		total_cycles += f->cycles;
		total_events += f->nread;
	}
	ksft_print_msg("fuzz: %llu ops, %llu cycles, %llu events, threads=%d files=%d\n",
		       total_ops, total_cycles, total_events, g_threads, g_files);
}

int main(int argc, char **argv)
{
	int seconds = FUZZ_SECONDS, pos = 0, i;
	bool unpaced = false, seeded = false;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--unpaced")) {
			unpaced = true;
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			g_threads = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--files") && i + 1 < argc) {
			g_files = atoi(argv[++i]);
		} else if (argv[i][0] != '-' && pos == 0) {
			seconds = atoi(argv[i]);
			pos++;
		} else if (argv[i][0] != '-' && pos == 1) {
			seed = strtoul(argv[i], NULL, 0);
			seeded = true;
			pos++;
		} else {
			fprintf(stderr, "usage: %s [--unpaced] [--threads N] [--files N] [seconds] [seed]\n",
				argv[0]);
			return 2;
		}
	}
	if (g_threads < 1 || g_threads > MAX_THREADS || g_files < 1 || g_files > MAX_FILES) {
		fprintf(stderr, "threads 1..%d, files 1..%d\n", MAX_THREADS, MAX_FILES);
		return 2;
	}
	if (!seeded)
		seed = (unsigned int)time(NULL) | 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	ksft_print_header();
	if (unpaced)
		unpaced_main(seconds);
	else
		paced_main(seconds);
	ksft_finished();
}
