#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Build and run the peer benchmarks (glibc malloc, Boehm GC, Go runtime),
# and glibc_bench again under jemalloc, tcmalloc (gperftools' minimal
# build) and mimalloc, loaded with LD_PRELOAD.
# Usage: run-peers.sh [--only alloc_free[_<n>]|--only tree] [outdir]
#   (default outdir: <repo>/build/bench)
#   --only alloc_free: only the malloc+free loops (glibc and the three
#   preloaded allocators); alloc_free_<n>: only those of n bytes, as
#   run.sh --only alloc_free repeats them.
#   --only tree: only gc_live_tree_1m of Boehm (two markers) and Go
#   (GOMAXPROCS=2), which run.sh runs in turn with spanheap's, with the
#   programs the last full run built (built first if missing); without
#   --only, everything but these, every program built afresh.
# stdout: only "BENCH <benchmark> <implementation> <value> <unit>" lines;
# diagnostics go to stderr.  Exits non-zero if a build or a run fails, or
# if one of the preloaded allocators is not installed.

here=$(cd "$(dirname "$0")" && pwd)
only='' size=''
if [ "$1" = --only ]; then
	case $2 in
	alloc_free) ;;
	alloc_free_[0-9]*) size=${2#alloc_free_} ;;
	tree) ;;
	*) echo "run-peers: --only takes alloc_free, alloc_free_<n> or tree" >&2; exit 2 ;;
	esac
	only=$2
	shift 2
fi
out=${1:-$here/../../../build/bench}
mkdir -p "$out" && out=$(cd "$out" && pwd) || exit 1

# find_lib <soname> <package>: path of a shared library of this machine's
# ABI, from the linker cache, else from the package's file list.
multiarch=$(${CC:-gcc} -print-multiarch 2>/dev/null)
find_lib() {
	p=$( { ldconfig -p 2>/dev/null || /sbin/ldconfig -p; } |
		awk -v n="$1" -v m="/$multiarch/" \
		    '$1 == n && (m == "//" || index($NF, m)) { print $NF; exit }')
	[ -n "$p" ] || p=$(dpkg -L "$2" 2>/dev/null | grep "/$multiarch/$1\$" | head -n 1)
	if [ -z "$p" ] || [ ! -e "$p" ]; then
		echo "run-peers: $1 not found: install $2 (scripts/deps.sh user)" >&2
		return 1
	fi
	echo "$p"
}

CC=${CC:-gcc}
CFLAGS="-O2 -Wall -Wextra"
# Go: single file, no module; keep the build cache under outdir so this
# also works as root or without $HOME.
export GO111MODULE=off GOFLAGS=
export GOCACHE=${GOCACHE:-$out/gocache}
[ -n "$HOME" ] || export GOPATH=${GOPATH:-$out/gopath}

# The preloaded allocators (name soname package), checked before building.
if [ "$only" != tree ]; then
	jemalloc=$(find_lib libjemalloc.so.2 libjemalloc2) || exit 1
	tcmalloc=$(find_lib libtcmalloc_minimal.so.4 libtcmalloc-minimal4) || exit 1
	mimalloc=$(find_lib libmimalloc.so.2 libmimalloc2.0) || exit 1
fi

rc=0
# run <name> <command>...: its BENCH lines to stdout, the rest to $out/<name>.out
run() {
	name=$1
	shift
	echo "run-peers: running $*" >&2
	"$@" >"$out/$name.out" || { echo "run-peers: $name failed" >&2; rc=1; }
	grep '^BENCH ' "$out/$name.out"
}

build_boehm_par() {
	$CC $CFLAGS -DBOEHM_PARALLEL_MARK -o "$out/boehm_bench_par" "$here/boehm_bench.c" \
		-lgc >&2 || exit 1
}
build_go() {
	go build -o "$out/go_bench" "$here/go_bench.go" >&2 || exit 1
}

echo "run-peers: building into $out" >&2
case $only in
tree)
	# The programs of the last full run; built only if missing.
	[ -x "$out/boehm_bench_par" ] || build_boehm_par
	[ -x "$out/go_bench" ] || build_go
	# gc_live_tree_1m: two markers each (spanheap_2w is two mark workers).
	run boehm_tree env GC_MARKERS=2 "$out/boehm_bench_par" --tree
	run go_tree env GOMAXPROCS=2 "$out/go_bench" tree
	exit $rc
	;;
'')
	$CC $CFLAGS -o "$out/boehm_bench" "$here/boehm_bench.c" -lgc >&2 || exit 1
	build_boehm_par
	build_go
	;;
esac
$CC $CFLAGS -o "$out/glibc_bench" "$here/glibc_bench.c" >&2 || exit 1

run glibc_bench "$out/glibc_bench" glibc $size
# The same malloc+free loop under each, its lines relabelled by argv[1].
for pl in "jemalloc=$jemalloc" "tcmalloc=$tcmalloc" "mimalloc=$mimalloc"; do
	peer=${pl%%=*} lib=${pl#*=}
	run "$peer" env LD_PRELOAD="$lib" "$out/glibc_bench" "$peer" $size
	grep -q "^BENCH alloc_free_${size:-32} $peer " "$out/$peer.out" ||
		{ echo "run-peers: no alloc_free_${size:-32} line from $peer" >&2; rc=1; }
done
if [ -z "$only" ]; then
	run boehm_bench "$out/boehm_bench"
	run go_bench "$out/go_bench"
	# The live lists in fresh processes, as spanheap's (bench-spanheap scaling).
	run boehm_lists "$out/boehm_bench" --lists
	run go_lists "$out/go_bench" lists
fi
exit $rc
