// SPDX-License-Identifier: GPL-2.0
/*
 * The tracepoints: defined here, once (CREATE_TRACE_POINTS), from the
 * events of trace/events/spanheap.h; the files that emit them include
 * that header alone.  The events' assignments read struct spanheap,
 * struct shp_span and struct spanheap_event, so their headers come first.
 */
#include <linux/string.h>
#include "internal.h"
#include "uheap.h"

#define CREATE_TRACE_POINTS
#include "trace/events/spanheap.h"
