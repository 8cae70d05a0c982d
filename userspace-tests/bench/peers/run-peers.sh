#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Build and run the peer benchmarks (glibc malloc, Boehm GC, Go runtime).
# Usage: run-peers.sh [outdir]   (default: <repo>/build/bench)
# stdout: only "BENCH <benchmark> <implementation> <value> <unit>" lines;
# diagnostics go to stderr.  Exits non-zero if a build or a run fails.

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../../build/bench}
mkdir -p "$out" && out=$(cd "$out" && pwd) || exit 1

CC=${CC:-gcc}
CFLAGS="-O2 -Wall -Wextra"
# Go: single file, no module; keep the build cache under outdir so this
# also works as root or without $HOME.
export GO111MODULE=off GOFLAGS=
export GOCACHE=${GOCACHE:-$out/gocache}
[ -n "$HOME" ] || export GOPATH=${GOPATH:-$out/gopath}

echo "run-peers: building into $out" >&2
$CC $CFLAGS -o "$out/glibc_bench" "$here/glibc_bench.c" >&2 || exit 1
$CC $CFLAGS -o "$out/boehm_bench" "$here/boehm_bench.c" -lgc >&2 || exit 1
$CC $CFLAGS -DBOEHM_PARALLEL_MARK -o "$out/boehm_bench_par" "$here/boehm_bench.c" \
	-lgc >&2 || exit 1
go build -o "$out/go_bench" "$here/go_bench.go" >&2 || exit 1

rc=0
for b in glibc_bench boehm_bench go_bench; do
	echo "run-peers: running $b" >&2
	"$out/$b" >"$out/$b.out" || { echo "run-peers: $b failed" >&2; rc=1; }
	grep '^BENCH ' "$out/$b.out"
done
# gc_live_tree_1m: two markers each (spanheap_2w is two mark workers).
echo "run-peers: running gc_live_tree_1m" >&2
GC_MARKERS=2 "$out/boehm_bench_par" --tree >"$out/boehm_tree.out" ||
	{ echo "run-peers: boehm --tree failed" >&2; rc=1; }
GOMAXPROCS=2 "$out/go_bench" tree >"$out/go_tree.out" ||
	{ echo "run-peers: go tree failed" >&2; rc=1; }
grep -h '^BENCH ' "$out/boehm_tree.out" "$out/go_tree.out"
exit $rc
