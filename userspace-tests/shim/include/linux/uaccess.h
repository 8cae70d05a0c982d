/* SPDX-License-Identifier: GPL-2.0 */
/* Kernel header for the userspace build: see shim_user.h. */
#include <shim_user.h>
