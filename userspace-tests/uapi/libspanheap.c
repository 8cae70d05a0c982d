// SPDX-License-Identifier: GPL-2.0
/* libspanheap: see libspanheap.h; the transport is in libspanheap_dev.c. */
#include <errno.h>
#include <string.h>
#include "libspanheap.h"

int shp_alloc_flags(int fd, uint32_t kind, uint64_t length, uint32_t flags,
		    uint64_t *handle)
{
	struct spanheap_alloc a = {
		.size = sizeof(a), .flags = flags, .kind = kind, .length = length,
	};
	int ret = shp_ioctl(fd, SPANHEAP_IOC_ALLOC, &a);

	if (!ret)
		*handle = a.handle;
	return ret;
}

int shp_alloc(int fd, uint32_t kind, uint64_t length, uint64_t *handle)
{
	return shp_alloc_flags(fd, kind, length, 0, handle);
}

static int rw(int fd, unsigned long cmd, uint64_t h, uint64_t off,
	      const void *buf, uint64_t len)
{
	struct spanheap_rw a = {
		.size = sizeof(a), .handle = h, .offset = off, .length = len,
		.buf = (uint64_t)(uintptr_t)buf,
	};

	return shp_ioctl(fd, cmd, &a);
}

int shp_write(int fd, uint64_t h, uint64_t off, const void *buf, uint64_t len)
{
	return rw(fd, SPANHEAP_IOC_WRITE, h, off, buf, len);
}

int shp_read(int fd, uint64_t h, uint64_t off, void *buf, uint64_t len)
{
	return rw(fd, SPANHEAP_IOC_READ, h, off, buf, len);
}

int shp_store(int fd, uint64_t h, uint64_t slot, uint64_t value)
{
	struct spanheap_ref a = { .size = sizeof(a), .handle = h, .slot = slot, .value = value };

	return shp_ioctl(fd, SPANHEAP_IOC_STORE, &a);
}

int shp_load(int fd, uint64_t h, uint64_t slot, uint64_t *value)
{
	struct spanheap_ref a = { .size = sizeof(a), .handle = h, .slot = slot };
	int ret = shp_ioctl(fd, SPANHEAP_IOC_LOAD, &a);

	if (!ret)
		*value = a.value;
	return ret;
}

static int root(int fd, unsigned long cmd, uint64_t h, uint64_t *count)
{
	struct spanheap_root a = { .size = sizeof(a), .handle = h };
	int ret = shp_ioctl(fd, cmd, &a);

	if (!ret && count)
		*count = a.count;
	return ret;
}

int shp_root(int fd, uint64_t h, uint64_t *count)
{
	return root(fd, SPANHEAP_IOC_ROOT, h, count);
}

int shp_unroot(int fd, uint64_t h, uint64_t *count)
{
	return root(fd, SPANHEAP_IOC_UNROOT, h, count);
}

int shp_set_finalizer(int fd, uint64_t h, uint64_t token)
{
	struct spanheap_finalizer a = { .size = sizeof(a), .handle = h, .token = token };

	return shp_ioctl(fd, SPANHEAP_IOC_FINALIZER, &a);
}

int shp_clear_finalizer(int fd, uint64_t h)
{
	struct spanheap_finalizer a = {
		.size = sizeof(a), .flags = SPANHEAP_FIN_CLEAR, .handle = h,
	};

	return shp_ioctl(fd, SPANHEAP_IOC_FINALIZER, &a);
}

int shp_add_cleanup(int fd, uint64_t h, uint64_t token, uint64_t *id)
{
	struct spanheap_cleanup a = { .size = sizeof(a), .handle = h, .token = token };
	int ret = shp_ioctl(fd, SPANHEAP_IOC_CLEANUP, &a);

	if (!ret && id)
		*id = a.id;
	return ret;
}

int shp_stop_cleanup(int fd, uint64_t h, uint64_t id)
{
	struct spanheap_cleanup a = { .size = sizeof(a), .handle = h, .id = id };

	return shp_ioctl(fd, SPANHEAP_IOC_CLEANUP_STOP, &a);
}

int shp_weak_make(int fd, uint64_t h, uint64_t *weak, uint64_t *count)
{
	struct spanheap_weakref a = { .size = sizeof(a), .handle = h };
	int ret = shp_ioctl(fd, SPANHEAP_IOC_WEAK_MAKE, &a);

	if (!ret) {
		*weak = a.weak;
		if (count)
			*count = a.count;
	}
	return ret;
}

int shp_weak_get(int fd, uint64_t weak, uint32_t flags, uint64_t *h,
		 uint64_t *count)
{
	struct spanheap_weakref a = { .size = sizeof(a), .flags = flags, .weak = weak };
	int ret = shp_ioctl(fd, SPANHEAP_IOC_WEAK_GET, &a);

	if (!ret) {
		*h = a.handle;
		if (count)
			*count = a.count;
	}
	return ret;
}

int shp_weak_drop(int fd, uint64_t weak, uint64_t *count)
{
	struct spanheap_weakref a = { .size = sizeof(a), .weak = weak };
	int ret = shp_ioctl(fd, SPANHEAP_IOC_WEAK_DROP, &a);

	if (!ret && count)
		*count = a.count;
	return ret;
}

int shp_gc(int fd, uint32_t flags, uint64_t *collections)
{
	struct spanheap_gc a = { .size = sizeof(a), .flags = flags };
	int ret = shp_ioctl(fd, SPANHEAP_IOC_GC, &a);

	if (!ret && collections)
		*collections = a.collections;
	return ret;
}

int shp_why(int fd, uint64_t h, struct spanheap_why_hop *hops,
	    uint32_t capacity, uint32_t *root_kind, uint32_t *nhops)
{
	struct spanheap_why a = {
		.size = sizeof(a), .handle = h, .capacity = capacity,
		.hops = (uintptr_t)hops,
	};
	int ret = shp_ioctl(fd, SPANHEAP_IOC_WHY, &a);

	if (!ret) {
		*root_kind = a.root_kind;
		*nhops = a.nhops;
	}
	return ret;
}

int shp_stats(int fd, struct spanheap_stats_v1 *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return shp_ioctl(fd, SPANHEAP_IOC_STATS, st);
}

int shp_set_params(int fd, const struct spanheap_params *p)
{
	struct spanheap_params a = *p;

	a.size = sizeof(a);
	return shp_ioctl(fd, SPANHEAP_IOC_SET_PARAMS, &a);
}

ssize_t shp_events(int fd, struct spanheap_event *ev, size_t max)
{
	ssize_t n = shp_read_bytes(fd, ev, max * sizeof(*ev));

	if (n < 0)
		return n == -EAGAIN ? 0 : n;
	return n / sizeof(*ev);
}

int shp_batch(int fd, struct spanheap_op *ops, uint32_t count, uint32_t *done)
{
	struct spanheap_batch b = {
		.size = sizeof(b), .count = count, .op_size = sizeof(*ops),
		.ops = (uint64_t)(uintptr_t)ops,
	};
	int ret = shp_ioctl(fd, SPANHEAP_IOC_BATCH, &b);

	*done = ret ? 0 : b.done;
	return ret;
}

static void op_init(struct spanheap_op *op, unsigned long cmd, uint32_t size)
{
	memset(op, 0, sizeof(*op));
	op->cmd = (uint32_t)cmd;
	op->size = size;
}

void shp_op_alloc(struct spanheap_op *op, uint32_t kind, uint64_t length,
		  uint32_t flags)
{
	op_init(op, SPANHEAP_IOC_ALLOC, sizeof(op->alloc));
	op->alloc.kind = kind;
	op->alloc.length = length;
	op->alloc.flags = flags;
}

void shp_op_ref(struct spanheap_op *op, unsigned long cmd, uint64_t h,
		uint64_t slot, uint64_t value)
{
	op_init(op, cmd, sizeof(op->ref));
	op->ref.handle = h;
	op->ref.slot = slot;
	op->ref.value = value;
}

void shp_op_root(struct spanheap_op *op, unsigned long cmd, uint64_t h)
{
	op_init(op, cmd, sizeof(op->root));
	op->root.handle = h;
}

void shp_op_finalizer(struct spanheap_op *op, uint64_t h, uint64_t token,
		      uint32_t flags)
{
	op_init(op, SPANHEAP_IOC_FINALIZER, sizeof(op->fin));
	op->fin.handle = h;
	op->fin.token = token;
	op->fin.flags = flags;
}

void shp_op_cleanup(struct spanheap_op *op, unsigned long cmd, uint64_t h,
		    uint64_t token, uint64_t id)
{
	op_init(op, cmd, sizeof(op->cleanup));
	op->cleanup.handle = h;
	op->cleanup.token = token;
	op->cleanup.id = id;
}

void shp_op_weak(struct spanheap_op *op, unsigned long cmd, uint64_t weak,
		 uint64_t h, uint32_t flags)
{
	op_init(op, cmd, sizeof(op->weak));
	op->weak.weak = weak;
	op->weak.handle = h;
	op->weak.flags = flags;
}
