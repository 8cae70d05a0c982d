#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# run.sh <repo>: run spanheap's userspace benchmarks and the peers (glibc,
# Boehm GC, Go) in one run; print every BENCH line, then the ratios the
# issues set as bars.
set -euo pipefail
repo=$1
out=$repo/build/bench
mkdir -p "$out"
{
	"$repo/build/user/bench-spanheap"
	"$repo/userspace-tests/bench/peers/run-peers.sh" "$out"
} | tee "$out/bench.txt"

# ratio <bench> <impl> <peer bench> <peer> <bar>
ratio() {
	awk -v b="$1" -v i="$2" -v pb="$3" -v p="$4" -v bar="$5" '
		$2 == b && $3 == i { x = $4 }
		$2 == pb && $3 == p { y = $4 }
		END {
			if (x == "" || y == "") { printf "# %s: missing figures\n", b; exit }
			printf "# %s %s / %s %s = %.2f (bar <= %s)%s\n", b, i, pb, p, x / y, bar,
			       x / y <= bar ? "" : "  ** above bar **"
		}' "$out/bench.txt"
}
# info <bench> <impl> <peer bench> <peer>: a ratio with no bar
info() {
	awk -v b="$1" -v i="$2" -v pb="$3" -v p="$4" '
		$2 == b && $3 == i { x = $4 }
		$2 == pb && $3 == p { y = $4 }
		END {
			if (x == "" || y == "") { printf "# %s: missing figures\n", b; exit }
			printf "# %s %s / %s %s = %.2f\n", b, i, pb, p, x / y
		}' "$out/bench.txt"
}
ratio alloc_free_32 spanheap alloc_free_32 glibc 1.0
ratio alloc_free_65536 spanheap alloc_free_65536 glibc 2.0
info alloc_free_65536 spanheap alloc_free_65536 glibc_calloc
ratio alloc_free_4096 spanheap alloc_free_4096 glibc 1.0
info alloc_free_4096 spanheap alloc_free_4096 glibc_calloc
ratio alloc_65536 spanheap alloc_65536 boehm 0.5
grep '^BENCH large_burst_' "$out/bench.txt" | sed 's/^BENCH/#/'
ratio alloc_32 spanheap alloc_32 boehm 0.5
ratio finalizer_register_1m spanheap finalizer_register_1m go 0.2
ratio finalizer_register_1m spanheap finalizer_register_1m boehm 0.5
ratio gc_live_list_1m spanheap gc_live_list_1m boehm 1.0
ratio gc_live_fin_1m spanheap gc_live_list_1m spanheap 1.3
ratio gc_dead_fin_1m spanheap gc_dead_fin_1m go 1.0
ratio cleanup_register_1m spanheap finalizer_register_1m spanheap 1.2
ratio gc_dead_cleanup_1m spanheap gc_dead_fin_1m go 0.3
ratio weak_make_1m spanheap weak_make_1m boehm 0.5
ratio gc_live_weak_1m spanheap gc_live_list_1m spanheap 1.3
