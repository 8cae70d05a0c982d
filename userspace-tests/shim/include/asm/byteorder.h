/* SPDX-License-Identifier: GPL-2.0 */
/* Kernel header for the userspace build: everything is in shim.h. */
#include <shim.h>
