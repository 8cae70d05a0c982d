#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Guest instructions per object of one spanheap_ioctl_bench benchmark, by
# kernel function, on Debian's stock kernel under QEMU TCG (the bench-vm
# setting): a QEMU plugin (tcg_prof_plugin.c) counts every kernel block
# executed.  Two boots, one running the benchmark and one running nothing
# ("none": boot, insmod, rmmod); the difference, divided by the objects
# (or calls, or events) the benchmark handled, is printed per function,
# the guest's /proc/kallsyms naming the addresses (booted nokaslr, so
# both boots agree).  Instruction counts, not
# time: under TCG a locked instruction, an indirect jump or a return
# costs more than an add, but the counts do not depend on the load.
# Then the same by source line of the module.
# Usage: tcg-prof.sh <repo> <bench> [top]
#   <bench>: ioctl_noop, ioctl_alloc_fin, ioctl_alloc_fin_batch64 or
#   events_read_1m; [top]: functions listed (40).  Output also in
#   <repo>/build/vm/tcg-prof/<bench>.txt.
set -euo pipefail
tier=tcgprof
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR/.. source=../lib.sh
. "$here/../lib.sh"

[ $# -ge 2 ] || { echo "usage: $0 <repo> <bench> [top]" >&2; exit 2; }
repo=$(cd "$1" && pwd) bench=$2 top=${3:-40}
case $bench in
ioctl_noop | ioctl_alloc_fin | ioctl_alloc_fin_batch64 | events_read_1m) ;;
*) die "unknown benchmark '$bench'" ;;
esac
out=$repo/build/vm/tcg-prof
mkdir -p "$out"
cc -O2 -shared -fPIC -fvisibility=hidden -Wall -o "$out/plugin.so" "$here/tcg_prof_plugin.c"
make -s -C "$repo" build/vm-bin/spanheap_ioctl_bench >/dev/null
bin=$repo/build/vm-bin/spanheap_ioctl_bench

body=$(mktemp "${TMPDIR:-/tmp}/spanheap-tcgprof.XXXXXX")
trap 'rm -f "$body"' EXIT
for run in none "$bench"; do
	cat >"$body" <<GUEST
insmod /mods/spanheap.ko event_queue_max=1048576 || echo "SPANHEAP-FAIL insmod"
grep '\[spanheap\]' /proc/kallsyms | sed 's/^/KSYM /'
grep -v '\]\$' /proc/kallsyms | grep ' [tT] ' | sed 's/^/KALL /'
/bin/spanheap_ioctl_bench $run || echo "SPANHEAP-FAIL bench"
rmmod spanheap || echo "SPANHEAP-FAIL rmmod"
GUEST
	rm -f "$out/$run.blocks"
	rc=0
	stock_run "$repo" "tcgprof-$run" "$body" --extra "$bin:/bin/spanheap_ioctl_bench" \
		--append nokaslr --plugin "$out/plugin.so,out=$out/$run.blocks" || rc=$?
	console=$repo/build/vm/tcgprof-$run-console.log
	[ "$rc" -le 1 ] && [ -s "$out/$run.blocks" ] || die "VM run failed (console: $console)"
	! grep -a 'SPANHEAP-FAIL' "$console" >&2 || die "guest failure (console: $console)"
	sed -n 's/^KSYM //p' "$console" | tr -d '\r' >"$out/$run.ksyms"
	# Debian's System.map is a placeholder: the kernel's own symbols come
	# from the guest, printed in both boots so that the baseline has the
	# same work (nokaslr: the same addresses in both).
	[ "$run" != none ] || sed -n 's/^KALL //p' "$console" | tr -d '\r' >"$out/kernel.syms"
done
grep -a "^BENCH $bench " "$repo/build/vm/tcgprof-$bench-console.log" || true
# What one run of <bench> handles, from ioctl_bench.c's constants.
src=$repo/userspace-tests/uapi/ioctl_bench.c
def() { sed -n "s/^#define $1\t*\(.*\)$/\1/p" "$src"; }
case $bench in
ioctl_noop) units=$(($(def REPS) * $(def NOOPS))) ;;
events_read_1m) units=$(($(def EV_ROUND) * $(def EV_ROUNDS))) ;;
*) units=$(($(def REPS) * $(def OBJECTS))) ;;
esac
python3 "$here/tcg_prof_report.py" --map "$out/kernel.syms" --units "$units" \
	--top "$top" --ko "$repo/build/vm/mods-stock/spanheap.ko" "$out/none.blocks" "$out/none.ksyms" "$out/$bench.blocks" "$out/$bench.ksyms" |
	tee "$out/$bench.txt"
