/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The userspace build defines no tracepoints: <linux/tracepoint.h> made
 * the trace_*() calls empty inlines, so CREATE_TRACE_POINTS (kmod/trace.c)
 * has nothing left to create.
 */
