/* SPDX-License-Identifier: GPL-2.0 */
/* The benchmarks of spanheap_bench.ko beside its kalloc_free_32. */
#ifndef SPANHEAP_BENCH_H
#define SPANHEAP_BENCH_H

int spanheap_bench_pagemap(void);
unsigned long bench_pagemap_bytes(void);

#endif
