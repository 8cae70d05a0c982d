// SPDX-License-Identifier: GPL-2.0
/*
 * The object handle table of an open /dev/spanheap: index -> struct
 * uh_entry, a direct two-level array (struct uh_table, uheap.h).
 *
 * Every ioctl on an object resolves a handle here, so a lookup is two
 * dependent loads (directory slot, leaf pointer) with no tree to walk,
 * as the core's pagemap.  Indices are handed out cyclically
 * (uh_tab_insert()), so the entries in use are mostly one dense run and
 * a leaf of UH_LEAF_ENTRIES entries is mostly full.
 *
 * Entries are inline in their leaf: making one is writing its slot,
 * dropping one zeroing it; only a leaf's first entry allocates (and
 * charges) and its last frees.  Books, exact at every step: each leaf
 * is charged UH_TAB_LEAF_COST while it exists, which covers its
 * entries, and the directory uh_tab_dir_cost() of its size.  A leaf is
 * freed as soon as its last entry goes: what a table kept sparse on
 * purpose (one live entry per leaf) costs is then a leaf per entry, and
 * the file's limit bounds it.  A leaf emptied by collection is not soon needed again, as
 * the cursor moves on and comes back only after every index was used.
 * The directory only grows: it covers the cursor's high-water mark, and
 * the cursor comes back to low indices only after the whole index space
 * was used, when it is needed again.
 *
 * The root scan looks only into the leaves whose bit is set in the
 * table's rooted bitmap (dir[i].nrooted != 0), found 64 at a time.
 *
 * Writers hold uheap->lock inside a section; the root scan and WHY read
 * with the world stopped, when no section runs, so neither needs RCU.
 */
#include <linux/bitops.h>
#include <linux/err.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include "internal.h"
#include "uheap.h"

/* The smallest directory: 8 leaves, 4096 indices. */
#define UH_DIR_MIN	8U

/* Is @idx free in @t? */
static bool idx_free(const struct uh_table *t, u32 idx)
{
	return !uh_tab_get(t, idx);
}

/*
 * The first free index in [@from, @to), or 0.  Full leaves are skipped
 * whole, missing ones taken at once, so after the indices wrapped the
 * search costs one probe per leaf plus one per entry of a partly used one.
 */
static u32 find_free(const struct uh_table *t, u32 from, u32 to)
{
	u32 i = from, li;

	while (i < to) {
		li = i >> UH_LEAF_SHIFT;
		if (li >= t->ndir || !t->dir[li].leaf)
			return i;
		if (t->dir[li].nused == UH_LEAF_ENTRIES) {
			i = (li + 1) << UH_LEAF_SHIFT;
			continue;
		}
		if (!t->dir[li].leaf->ent[i & UH_LEAF_MASK].used)
			return i;
		i++;
	}
	return 0;
}

/*
 * A directory of @n slots holding @t's: charged, allocated and copied,
 * the old one uncharged and freed.  Context: u->lock.  Returns 0 or
 * -ENOMEM, and then @t is unchanged.
 */
static int dir_grow(struct uheap *u, struct uh_table *t, u32 n)
{
	size_t bytes = uh_tab_dir_cost(n);
	struct uh_dir *dir;
	unsigned long *rooted;

	lockdep_assert_held(&u->lock);
	if (uheap_charge(u, bytes))
		return -ENOMEM;
	dir = kvzalloc(bytes, SHP_GFP);
	if (!dir) {
		uheap_uncharge(u, bytes);
		return -ENOMEM;
	}
	rooted = (unsigned long *)(dir + n);
	if (t->ndir) {
		memcpy(dir, t->dir, t->ndir * sizeof(*dir));
		memcpy(rooted, t->rooted, BITS_TO_LONGS(t->ndir) * sizeof(long));
		kvfree(t->dir);
		uheap_uncharge(u, uh_tab_dir_cost(t->ndir));
	}
	t->dir = dir;
	t->rooted = rooted;
	t->ndir = n;
	return 0;
}

/*
 * Make sure leaf @li exists, charged, with the directory covering it.
 * Context: u->lock.  Returns 0 or -ENOMEM, and then nothing changed.
 */
static int leaf_get(struct uheap *u, struct uh_table *t, u32 li)
{
	struct uh_leaf *leaf;

	if (li < t->ndir && t->dir[li].leaf)
		return 0;
	if (uheap_charge(u, UH_TAB_LEAF_COST))
		return -ENOMEM;
	leaf = kzalloc(sizeof(*leaf), SHP_GFP);
	if (!leaf)
		goto uncharge;
	/* Last, as it cannot be taken back: only the leaf is left to undo. */
	if (li >= t->ndir) {
		u32 n = max(UH_DIR_MIN, 2 * t->ndir);

		while (n <= li)
			n *= 2;
		if (dir_grow(u, t, min(n, UH_NLEAVES))) {
			kfree(leaf);
			goto uncharge;
		}
	}
	t->dir[li].leaf = leaf;
	return 0;
uncharge:
	uheap_uncharge(u, UH_TAB_LEAF_COST);
	return -ENOMEM;
}

/**
 * uh_tab_insert() - a new zeroed entry at the next index of u->tab
 * @u: state
 * @idx: set to the entry's index
 * @wrapped: set if the indices wrapped (a new generation begins)
 *
 * The index is u->next_idx if free (it nearly always is: it is taken
 * only after the indices wrapped), else the first free one after it,
 * else the first free one from 1 (@wrapped), as xa_alloc_cyclic() over
 * 1 .. UH_MAX_ENTRIES - 1 would pick; u->next_idx then follows it.  The
 * entry is a slot of its leaf; the leaf, if new, and the directory it
 * needs are charged to the file.
 *
 * Context: section, u->lock held.
 * Return: the entry, or ERR_PTR(-ENOMEM) or ERR_PTR(-ENOSPC) (no index
 * is free), and then nothing changed.
 */
struct uh_entry *uh_tab_insert(struct uheap *u, u32 *idx, bool *wrapped)
{
	struct uh_table *t = &u->tab;
	u32 i = max(u->next_idx, 1U), li;
	struct uh_entry *e;

	lockdep_assert_held(&u->lock);
	*wrapped = false;
	if (i >= UH_MAX_ENTRIES || !idx_free(t, i)) {
		i = i < UH_MAX_ENTRIES ? find_free(t, i, UH_MAX_ENTRIES) : 0;
		if (!i) {
			i = find_free(t, 1, min(u->next_idx, UH_MAX_ENTRIES));
			if (!i)
				return ERR_PTR(-ENOSPC);
			*wrapped = true;
		}
	}
	li = i >> UH_LEAF_SHIFT;
	if (leaf_get(u, t, li))
		return ERR_PTR(-ENOMEM);
	/* A free slot is all zero (uh_tab_erase()). */
	e = &t->dir[li].leaf->ent[i & UH_LEAF_MASK];
	e->used = true;
	t->dir[li].nused++;
	u->next_idx = i + 1;
	*idx = i;
	return e;
}

/**
 * uh_tab_erase() - remove the entry at @idx of u->tab
 * @u: state
 * @idx: its index
 * @e: the entry there
 *
 * Its slot is zeroed; if it was its leaf's last entry the leaf is freed
 * and its charge given back.  The caller keeps uheap's counts.
 *
 * Context: section, u->lock held.
 */
void uh_tab_erase(struct uheap *u, u32 idx, struct uh_entry *e)
{
	struct uh_table *t = &u->tab;
	struct uh_dir *d = &t->dir[idx >> UH_LEAF_SHIFT];

	lockdep_assert_held(&u->lock);
	if (e->rooted)
		uh_tab_set_rooted(u, idx, e, false);
	/* A constant-size store: no memset() of a run-time size. */
	*e = (struct uh_entry){ };
	if (--d->nused)
		return;
	kfree(d->leaf);
	d->leaf = NULL;
	uheap_uncharge(u, UH_TAB_LEAF_COST);
}

/**
 * uh_tab_set_rooted() - make the entry at @idx of u->tab a root or not
 * @u: state
 * @idx: its index
 * @e: the entry there
 * @rooted: whether the root scan reports it
 *
 * Context: section, u->lock held.
 */
void uh_tab_set_rooted(struct uheap *u, u32 idx, struct uh_entry *e,
		       bool rooted)
{
	struct uh_table *t = &u->tab;
	u32 li = idx >> UH_LEAF_SHIFT;

	lockdep_assert_held(&u->lock);
	if (e->rooted == rooted)
		return;
	e->rooted = rooted;
	if (rooted) {
		if (!t->dir[li].nrooted++)
			__set_bit(li, t->rooted);
	} else if (!--t->dir[li].nrooted) {
		__clear_bit(li, t->rooted);
	}
}

/**
 * uh_tab_next() - the first entry of a table at or after an index
 * @t: the table
 * @idx: in: where to start; out: the entry's index
 *
 * Leaves that do not exist are skipped.  The caller may erase the entry
 * returned before asking for the next (from *@idx + 1).
 *
 * Context: the table's lock held, or the world stopped.
 * Return: the entry, or NULL if there is none (*@idx is then undefined).
 */
struct uh_entry *uh_tab_next(const struct uh_table *t, u32 *idx)
{
	u32 i = *idx, li;
	struct uh_entry *e;

	for (li = i >> UH_LEAF_SHIFT; li < t->ndir;
	     li++, i = li << UH_LEAF_SHIFT) {
		if (!t->dir[li].leaf)
			continue;
		for (; i >> UH_LEAF_SHIFT == li; i++) {
			e = &t->dir[li].leaf->ent[i & UH_LEAF_MASK];
			if (e->used) {
				*idx = i;
				return e;
			}
		}
	}
	return NULL;
}

/**
 * uh_tab_next_rooted() - the first rooted entry at or after an index
 * @t: the table
 * @idx: in: where to start; out: the entry's index
 *
 * Only leaves with a rooted entry are looked into, found a bitmap word
 * (BITS_PER_LONG leaves) at a time.
 *
 * Context: the table's lock held, or the world stopped.
 * Return: the entry, or NULL if there is none (*@idx is then undefined).
 */
struct uh_entry *uh_tab_next_rooted(const struct uh_table *t, u32 *idx)
{
	u32 i = *idx, li = i >> UH_LEAF_SHIFT, first;
	unsigned long word;
	struct uh_entry *e;

	while (li < t->ndir) {
		first = li & ~(BITS_PER_LONG - 1);
		word = t->rooted[li / BITS_PER_LONG] &
		       (~0UL << (li % BITS_PER_LONG));
		if (!word) {
			li = first + BITS_PER_LONG;
			i = li << UH_LEAF_SHIFT;
			continue;
		}
		if (first + __ffs(word) != li) {
			li = first + __ffs(word);
			i = li << UH_LEAF_SHIFT;
		}
		for (; i >> UH_LEAF_SHIFT == li; i++) {
			e = &t->dir[li].leaf->ent[i & UH_LEAF_MASK];
			if (e->rooted) {
				*idx = i;
				return e;
			}
		}
		li++;
	}
	return NULL;
}

/**
 * uh_tab_free() - free every leaf of a table (with its entries), and the table
 * @t: the table, of a file being destroyed
 *
 * Nothing is uncharged: uheap_destroy() gives back the file's charges
 * at once.
 *
 * Context: process context; no one else uses @t.
 */
void uh_tab_free(struct uh_table *t)
{
	u32 li;

	for (li = 0; li < t->ndir; li++) {
		kfree(t->dir[li].leaf);
		if (!(li % 1024))
			cond_resched();
	}
	kvfree(t->dir);
	t->dir = NULL;
	t->rooted = NULL;
	t->ndir = 0;
}
