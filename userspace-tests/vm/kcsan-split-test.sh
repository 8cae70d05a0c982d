#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kcsan-split-test.sh: check-kcsan's report sorter (kcsan_split.py) on a
# saved console (testdata/kcsan-console.log), no kernel booted.  A task's
# 4-byte read of unknown origin inside percpu_down_write() or
# readers_active_check() (percpu-rwsem's by-design per_cpu_sum) is core
# and named benign even with stop_world() below it; the same function
# racing a spanheap writer or itself, an 8-byte read or a read in an
# interrupt there, such a report with another CPU's WARNING interleaved,
# a race in spanheap code and a core helper racing under a spanheap caller
# stay ours; a report with no spanheap frame is core, and so is the
# mutex spin queue's (osq_lock / osq_unlock) under a spanheap ioctl.  Prints KTAP; exits
# 1 if a case failed.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0

. "$(dirname "${BASH_SOURCE[0]}")/../ktap-lib.sh"
# titles <file>: the report titles, one line each, timestamps dropped
titles() { grep -ao 'BUG: KCSAN: .*' "$1"; }

echo "KTAP version 1"
echo "1..7"
counts=$(python3 "$here/kcsan_split.py" "$here/testdata/kcsan-console.log" "$tmp")
result "counts" "$([ "$counts" = "7 5" ]; echo $?)" "got: $counts"

want_ours='BUG: KCSAN: data-race in percpu_down_write / shp_fake_reader
BUG: KCSAN: data-race in sweep_span [spanheap] / sweep_span [spanheap]
BUG: KCSAN: data-race in rb_insert_color / rb_insert_color
BUG: KCSAN: data-race in percpu_down_write
BUG: KCSAN: data-race in percpu_down_write
BUG: KCSAN: data-race in percpu_down_write / percpu_down_write
BUG: KCSAN: data-race in percpu_down_write'
got=$(titles "$tmp/kcsan-ours.txt")
result "ours: spanheap code, or a core helper not known benign" \
	"$([ "$got" = "$want_ours" ]; echo $?)" "$got"

want_core='BUG: KCSAN: data-race in percpu_down_write
BUG: KCSAN: data-race in __switch_to / giveup_all
BUG: KCSAN: data-race in readers_active_check
BUG: KCSAN: data-race in percpu_down_write
BUG: KCSAN: data-race in osq_lock / osq_unlock'
got=$(titles "$tmp/kcsan-core.txt")
result "core: no spanheap frame, or known benign" \
	"$([ "$got" = "$want_core" ]; echo $?)" "$got"

got=$(grep -c -e '^# known benign: percpu_down_write: ' \
	-e '^# known benign: readers_active_check: ' "$tmp/kcsan-core.txt")
result "known-benign reports carry their reason" "$([ "$got" = 3 ]; echo $?)" "got $got"

got=$(grep -c 'stop_world' "$tmp/kcsan-core.txt")
result "a benign report keeps its whole stack" "$([ "$got" = 3 ]; echo $?)" "got $got"

bad=$(grep -aE 'KCSAN|race at|value changed|percpu_down_write' "$tmp/console-nokcsan.log")
keep=$(grep -c -e 'userspace line between reports' -e 'spanheap: unloaded' \
	"$tmp/console-nokcsan.log")
result "console without the reports keeps the rest" \
	"$([ -z "$bad" ] && [ "$keep" = 2 ]; echo $?)" "$bad"
got=$(grep -c 'WARNING: CPU: 1 PID: 240 at kmod/heap.c:121' "$tmp/console-nokcsan.log")
result "a splat interleaved into a report stays for the splat check" \
	"$([ "$got" = 1 ]; echo $?)" "got $got"
exit $failed
