/* SPDX-License-Identifier: GPL-2.0 */
/* Kernel header for the userspace build: see shim_xarray.h. */
#include <shim_xarray.h>
