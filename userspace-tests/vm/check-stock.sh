#!/usr/bin/env bash
# Tier 3: load the module (no KUnit) into Debian's stock kernel under QEMU TCG,
# check the tracepoints through tracefs with the spanheapctl demo script, run
# the demo module, read the debugfs stats, unload; plus optional selftests
# and 50 load/unload cycles with open files; then `make shell` driven through a
# pseudo-terminal (check-shell.sh, block "shell").
# Usage: check-stock.sh <repo>
# Output: kunit.py's report per block, `stock: N passed, N failed, N skipped`; tally
# <repo>/build/tally/stock; console log <repo>/build/vm/stock-console.log.
set -euo pipefail
tier=stock
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -eq 1 ] || { echo "usage: $0 <repo>" >&2; exit 2; }
repo=$(cd "$1" && pwd)
out=$repo/build/vm
console=$out/stock-console.log
mkdir -p "$out"
rm -f "$console" "$out"/tap-stock-*.txt

mapfile -t extras < <(selftest_extras "$repo")
rc=0
stock_run "$repo" stock "$vm_dir/stock-guest.sh" "${extras[@]+"${extras[@]}"}" \
	--extra "$repo/userspace-tests/uapi/demo.shc:/opt/demo.shc" || rc=$?
if [ "$rc" -gt 1 ] && [ ! -s "$console" ]; then
	tier_fail "module build or VM run failed (console: $console)"
else
	count_run "$console" "$rc" "$out/tap-stock-" "$out/stock-splats.txt"
	[ "$nblocks" -gt 0 ] || tier_fail "guest printed no TAP"
fi
# make shell through a pty: its own QEMU run, one more TAP block.
t=$out/tap-stock-shell.txt
src=0
"$vm_dir/check-shell.sh" "$repo" >"$t" 2>"$out/shell-check.err" || src=$?
echo "# rc=$src" >>"$t"
[ "$src" = 0 ] || log "check-shell.sh rc=$src (stderr: $out/shell-check.err, pty: $out/shell-check-pty.log)"
count_ktap shell "$t"
tier_finish
