// SPDX-License-Identifier: GPL-2.0
/* The xarray and IDA of shim_xarray.h. */
#include <shim_xarray.h>

#define LEAF		(XA_SHIM_LEVELS - 1)

static unsigned int level_shift(int level)
{
	return XA_CHUNK_SHIFT * (LEAF - level);
}

static unsigned int slot_of(unsigned long index, int level)
{
	return (index >> level_shift(level)) & (XA_CHUNK_SIZE - 1);
}

static void assign_bit(unsigned long *w, unsigned int bit, bool on)
{
	if (on)
		*w |= 1UL << bit;
	else
		*w &= ~(1UL << bit);
}

void xa_init_flags(struct xarray *xa, unsigned int flags)
{
	pthread_mutex_init(&xa->lock, NULL);
	xa->flags = flags;
	xa->root = NULL;
}

/* The nodes on @index's path, root first; NULL below a missing one. */
static void walk(struct xarray *xa, unsigned long index, struct xa_node **path)
{
	struct xa_node *n = xa->root;
	int level;

	for (level = 0; level <= LEAF; level++) {
		path[level] = n;
		if (n && level < LEAF)
			n = n->slots[slot_of(index, level)];
		else
			n = NULL;
	}
}

/*
 * After a change in @path[LEAF]: recompute the summary bits above it and
 * free the nodes left empty.
 */
static void update_up(struct xarray *xa, unsigned long index, struct xa_node **path)
{
	int level, f;

	for (level = LEAF - 1; level >= 0; level--) {
		struct xa_node *child = path[level + 1], *n = path[level];
		unsigned int slot = slot_of(index, level);
		unsigned long full = level + 1 == LEAF ? child->bits[XA_PRESENT]
						       : child->bits[XA_SHIM_FULL];

		if (!child->bits[XA_PRESENT]) {
			free(child);
			n->slots[slot] = NULL;
		}
		for (f = 0; f <= XA_PRESENT; f++)
			assign_bit(&n->bits[f], slot, n->slots[slot] && child->bits[f]);
		assign_bit(&n->bits[XA_SHIM_FULL], slot, n->slots[slot] && full == ~0UL);
	}
	if (xa->root && !xa->root->bits[XA_PRESENT]) {
		free(xa->root);
		xa->root = NULL;
	}
}

void *xa_load(struct xarray *xa, unsigned long index)
{
	struct xa_node *path[XA_SHIM_LEVELS];
	void *entry = NULL;

	if (index > XA_SHIM_MAX_INDEX)
		return NULL;
	pthread_mutex_lock(&xa->lock);
	walk(xa, index, path);
	if (path[LEAF])
		entry = path[LEAF]->slots[slot_of(index, LEAF)];
	pthread_mutex_unlock(&xa->lock);
	return entry;
}

void *xa_erase(struct xarray *xa, unsigned long index)
{
	struct xa_node *path[XA_SHIM_LEVELS], *leaf;
	unsigned int slot = slot_of(index, LEAF);
	void *entry = NULL;
	int f;

	if (index > XA_SHIM_MAX_INDEX)
		return NULL;
	pthread_mutex_lock(&xa->lock);
	walk(xa, index, path);
	leaf = path[LEAF];
	if (leaf && leaf->slots[slot]) {
		entry = leaf->slots[slot];
		leaf->slots[slot] = NULL;
		for (f = 0; f <= XA_PRESENT; f++)
			assign_bit(&leaf->bits[f], slot, false);
		update_up(xa, index, path);
	}
	pthread_mutex_unlock(&xa->lock);
	return entry;
}

static void free_subtree(struct xa_node *n, int level)
{
	unsigned long b;

	if (!n)
		return;
	for (b = n->bits[XA_PRESENT]; b && level < LEAF; b &= b - 1)
		free_subtree(n->slots[__builtin_ctzl(b)], level + 1);
	free(n);
}

void xa_destroy(struct xarray *xa)
{
	pthread_mutex_lock(&xa->lock);
	free_subtree(xa->root, 0);
	xa->root = NULL;
	pthread_mutex_unlock(&xa->lock);
}

static void mark_op(struct xarray *xa, unsigned long index, xa_mark_t mark, bool on)
{
	struct xa_node *path[XA_SHIM_LEVELS];
	unsigned int slot = slot_of(index, LEAF);

	if (index > XA_SHIM_MAX_INDEX || mark >= XA_PRESENT)
		return;
	pthread_mutex_lock(&xa->lock);
	walk(xa, index, path);
	if (path[LEAF] && path[LEAF]->slots[slot]) {
		assign_bit(&path[LEAF]->bits[mark], slot, on);
		update_up(xa, index, path);
	}
	pthread_mutex_unlock(&xa->lock);
}

void xa_set_mark(struct xarray *xa, unsigned long index, xa_mark_t mark)
{
	mark_op(xa, index, mark, true);
}

void xa_clear_mark(struct xarray *xa, unsigned long index, xa_mark_t mark)
{
	mark_op(xa, index, mark, false);
}

bool xa_get_mark(struct xarray *xa, unsigned long index, xa_mark_t mark)
{
	struct xa_node *path[XA_SHIM_LEVELS];
	bool on = false;

	if (index > XA_SHIM_MAX_INDEX || mark >= XA_PRESENT)
		return false;
	pthread_mutex_lock(&xa->lock);
	walk(xa, index, path);
	if (path[LEAF])
		on = path[LEAF]->bits[mark] >> slot_of(index, LEAF) & 1;
	pthread_mutex_unlock(&xa->lock);
	return on;
}

/*
 * The first index in [@start, @max] under @n (covering indices from
 * @base) whose bit in bitmap @f is set; @free: whose slot is empty
 * instead.  Returns true and sets *@out when there is one.
 */
static bool search(struct xa_node *n, int level, unsigned long base, unsigned long start,
		   unsigned long max, unsigned int f, bool free, unsigned long *out)
{
	unsigned int shift = level_shift(level), first = 0;
	unsigned long b, child_base;

	if (start > base)
		first = (start - base) >> shift;
	if (!free)
		b = n->bits[f];
	else if (level == LEAF)
		b = ~n->bits[XA_PRESENT];
	else
		b = ~n->bits[XA_SHIM_FULL];
	for (b &= ~0UL << first; b; b &= b - 1) {
		unsigned int i = __builtin_ctzl(b);

		child_base = base + ((unsigned long)i << shift);
		if (child_base > max)
			return false;
		if (level == LEAF || (free && !n->slots[i])) {
			*out = start > child_base ? start : child_base;
			return *out <= max;
		}
		if (search(n->slots[i], level + 1, child_base,
			   start > child_base ? start : child_base, max, f, free, out))
			return true;
	}
	return false;
}

void *xa_find(struct xarray *xa, unsigned long *index, unsigned long max, xa_mark_t filter)
{
	struct xa_node *path[XA_SHIM_LEVELS];
	unsigned long found;
	void *entry = NULL;

	if (*index > XA_SHIM_MAX_INDEX)
		return NULL;
	if (max > XA_SHIM_MAX_INDEX)
		max = XA_SHIM_MAX_INDEX;
	pthread_mutex_lock(&xa->lock);
	if (xa->root && search(xa->root, 0, 0, *index, max, filter, false, &found)) {
		walk(xa, found, path);
		entry = path[LEAF]->slots[slot_of(found, LEAF)];
		*index = found;
	}
	pthread_mutex_unlock(&xa->lock);
	return entry;
}

void *xa_find_after(struct xarray *xa, unsigned long *index, unsigned long max,
		    xa_mark_t filter)
{
	unsigned long next = *index + 1;
	void *entry;

	if (!next)
		return NULL;
	entry = xa_find(xa, &next, max, filter);
	if (entry)
		*index = next;
	return entry;
}

/* Store @entry at the free index @index.  Context: xa->lock.  0 or -ENOMEM. */
static int store_new(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp)
{
	struct xa_node *path[XA_SHIM_LEVELS], **link = &xa->root;
	int level;

	for (level = 0; level <= LEAF; level++) {
		if (!*link)
			*link = shim_alloc(sizeof(struct xa_node), gfp | __GFP_ZERO);
		if (!*link)
			goto prune;
		path[level] = *link;
		if (level < LEAF)
			link = (struct xa_node **)&(*link)->slots[slot_of(index, level)];
	}
	path[LEAF]->slots[slot_of(index, LEAF)] = entry;
	assign_bit(&path[LEAF]->bits[XA_PRESENT], slot_of(index, LEAF), true);
	update_up(xa, index, path);
	return 0;
prune:	/* the nodes made for this path are empty: free them again */
	while (--level >= 0 && !path[level]->bits[XA_PRESENT]) {
		free(path[level]);
		if (level)
			path[level - 1]->slots[slot_of(index, level - 1)] = NULL;
		else
			xa->root = NULL;
	}
	return -ENOMEM;
}

/* As lib/xarray.c: store at an empty @index; -EBUSY if taken, -ENOMEM. */
int xa_insert(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp)
{
	struct xa_node *path[XA_SHIM_LEVELS];
	int ret;

	if (index > XA_SHIM_MAX_INDEX)
		return -EINVAL;	/* beyond the shim's levels (the kernel's has none) */
	pthread_mutex_lock(&xa->lock);
	walk(xa, index, path);
	if (path[LEAF] && path[LEAF]->slots[slot_of(index, LEAF)])
		ret = -EBUSY;
	else
		ret = store_new(xa, index, entry, gfp);
	pthread_mutex_unlock(&xa->lock);
	return ret;
}

/* The first empty index in [@lo, @hi].  Context: xa->lock. */
static bool find_free(struct xarray *xa, unsigned long lo, unsigned long hi,
		      unsigned long *idx)
{
	if (lo > hi)
		return false;
	if (!xa->root) {
		*idx = lo;
		return true;
	}
	return search(xa->root, 0, 0, lo, hi, 0, true, idx);
}

/*
 * As lib/xarray.c: the first free index from *@next, else (also when
 * storing there failed) from @limit.min, returning 1 as if the indices
 * had wrapped; -EBUSY when full, -ENOMEM.
 */
int xa_alloc_cyclic(struct xarray *xa, u32 *id, void *entry, struct xa_limit limit,
		    u32 *next, gfp_t gfp)
{
	unsigned long from = max(limit.min, *next), idx;
	int ret = 0;

	pthread_mutex_lock(&xa->lock);
	if (!find_free(xa, from, limit.max, &idx))
		ret = -EBUSY;
	else if (store_new(xa, idx, entry, gfp))
		ret = -ENOMEM;
	/* As the kernel's: on any failure, again from the bottom. */
	if (ret < 0 && from > limit.min) {
		ret = 1;
		if (!find_free(xa, limit.min, limit.max, &idx))
			ret = -EBUSY;
		else if (store_new(xa, idx, entry, gfp))
			ret = -ENOMEM;
	}
	if (ret >= 0) {
		*id = idx;
		*next = idx + 1;
		if (xa->flags & XA_FLAGS_ALLOC_WRAPPED) {
			xa->flags &= ~XA_FLAGS_ALLOC_WRAPPED;
			ret = 1;
		}
		if (!*next)
			xa->flags |= XA_FLAGS_ALLOC_WRAPPED;
	}
	pthread_mutex_unlock(&xa->lock);
	return ret;
}

int ida_alloc_range(struct ida *ida, unsigned int min, unsigned int max, gfp_t gfp)
{
	unsigned int id;
	int ret = -ENOSPC;

	pthread_mutex_lock(&ida->lock);
	for (id = min; id <= max && id < INT_MAX; id++) {
		if (id >= ida->nbits) {
			unsigned int nbits = ida->nbits ? 2 * ida->nbits : 1024;
			unsigned long *bits;

			while (nbits <= id)
				nbits *= 2;
			bits = shim_alloc(BITS_TO_LONGS(nbits) * sizeof(long), gfp | __GFP_ZERO);
			if (!bits) {
				ret = -ENOMEM;
				break;
			}
			if (ida->bits)
				memcpy(bits, ida->bits, BITS_TO_LONGS(ida->nbits) * sizeof(long));
			free(ida->bits);
			ida->bits = bits;
			ida->nbits = nbits;
		}
		if (!test_bit(id, ida->bits)) {
			__set_bit(id, ida->bits);
			ret = id;
			break;
		}
	}
	pthread_mutex_unlock(&ida->lock);
	return ret;
}

void ida_free(struct ida *ida, unsigned int id)
{
	pthread_mutex_lock(&ida->lock);
	if (id < ida->nbits)
		__clear_bit(id, ida->bits);
	pthread_mutex_unlock(&ida->lock);
}
