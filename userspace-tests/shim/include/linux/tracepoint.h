/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints for the userspace build: each TRACE_EVENT or DEFINE_EVENT
 * of kmod/trace/events/ becomes an empty static inline trace_<name>()
 * taking the event's TP_PROTO, so calls are type-checked and cost
 * nothing, and trace_<name>_enabled() is false.  The fields, assignments
 * and formats are dropped (the kernel build compiles them).
 */
#ifndef _SHIM_LINUX_TRACEPOINT_H
#define _SHIM_LINUX_TRACEPOINT_H

#include <stdbool.h>
#include <shim.h>

#define PARAMS(args...)		args
#define TP_PROTO(args...)	args
#define TP_ARGS(args...)	args

#define __SHIM_TRACE(name, proto)					\
	static inline void trace_##name(proto) { }			\
	static inline bool trace_##name##_enabled(void) { return false; }

#define TRACE_EVENT(name, proto, args, tstruct, assign, print)		\
	__SHIM_TRACE(name, PARAMS(proto))
#define DECLARE_EVENT_CLASS(name, proto, args, tstruct, assign, print)
#define DEFINE_EVENT(template, name, proto, args)			\
	__SHIM_TRACE(name, PARAMS(proto))

#endif /* _SHIM_LINUX_TRACEPOINT_H */
