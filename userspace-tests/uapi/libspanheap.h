/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libspanheap: thin wrappers over the /dev/spanheap ABI.  Every function
 * returns 0 (or a byte count) on success and -errno on failure.
 */
#ifndef _LIBSPANHEAP_H
#define _LIBSPANHEAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "linux/spanheap.h"

/* Transport: libspanheap_dev.c (the device) or inproc/ (the userspace build). */
int shp_open(int flags);
int shp_ioctl(int fd, unsigned long cmd, void *arg);
ssize_t shp_read_bytes(int fd, void *buf, size_t len);
int shp_close(int fd);

int shp_alloc(int fd, uint32_t kind, uint64_t length, uint64_t *handle);
int shp_alloc_flags(int fd, uint32_t kind, uint64_t length, uint32_t flags,
		    uint64_t *handle);
int shp_write(int fd, uint64_t h, uint64_t off, const void *buf, uint64_t len);
int shp_read(int fd, uint64_t h, uint64_t off, void *buf, uint64_t len);
int shp_store(int fd, uint64_t h, uint64_t slot, uint64_t value);
int shp_load(int fd, uint64_t h, uint64_t slot, uint64_t *value);
int shp_root(int fd, uint64_t h, uint64_t *count);
int shp_unroot(int fd, uint64_t h, uint64_t *count);
int shp_set_finalizer(int fd, uint64_t h, uint64_t token);
int shp_clear_finalizer(int fd, uint64_t h);
/* @id may be NULL; STOP is -ENOENT once the cleanup was queued. */
int shp_add_cleanup(int fd, uint64_t h, uint64_t token, uint64_t *id);
int shp_stop_cleanup(int fd, uint64_t h, uint64_t id);
/* @count may be NULL; shp_weak_get sets *h to 0 once the object was found dead. */
int shp_weak_make(int fd, uint64_t h, uint64_t *weak, uint64_t *count);
int shp_weak_get(int fd, uint64_t weak, uint32_t flags, uint64_t *h,
		 uint64_t *count);
int shp_weak_drop(int fd, uint64_t weak, uint64_t *count);
int shp_gc(int fd, uint32_t flags, uint64_t *collections);
/*
 * SPANHEAP_IOC_WHY: *@root_kind (SPANHEAP_WHY_*) and the first @capacity
 * hops of the path to @h into @hops; *@nhops is the whole path's length
 * (more than @capacity: cut).
 */
int shp_why(int fd, uint64_t h, struct spanheap_why_hop *hops,
	    uint32_t capacity, uint32_t *root_kind, uint32_t *nhops);
int shp_stats(int fd, struct spanheap_stats_v1 *st);
int shp_set_params(int fd, const struct spanheap_params *p);
/*
 * SPANHEAP_IOC_BATCH over @ops[@count]: 0 once the ops ran, with *@done
 * of them succeeded (ops[*done].error says why the next failed), or
 * -errno when the batch was refused and none ran.  The shp_op_* helpers
 * fill in one op (every other field zero).
 */
int shp_batch(int fd, struct spanheap_op *ops, uint32_t count, uint32_t *done);
void shp_op_alloc(struct spanheap_op *op, uint32_t kind, uint64_t length,
		  uint32_t flags);
void shp_op_ref(struct spanheap_op *op, unsigned long cmd, uint64_t h,
		uint64_t slot, uint64_t value);
void shp_op_root(struct spanheap_op *op, unsigned long cmd, uint64_t h);
void shp_op_finalizer(struct spanheap_op *op, uint64_t h, uint64_t token,
		      uint32_t flags);
void shp_op_cleanup(struct spanheap_op *op, unsigned long cmd, uint64_t h,
		    uint64_t token, uint64_t id);
void shp_op_weak(struct spanheap_op *op, unsigned long cmd, uint64_t weak,
		 uint64_t h, uint32_t flags);
/* Reads up to @max events; 0 if none (non-blocking fds), else count. */
ssize_t shp_events(int fd, struct spanheap_event *ev, size_t max);

#endif
