#!/usr/bin/env bash
# Tier 3: load the module (no KUnit) into Debian's stock kernel under QEMU TCG,
# run the demo module, read the debugfs stats, unload; plus optional selftests
# and 50 load/unload cycles with open files; then `make shell` driven through a
# pseudo-terminal (check-shell.sh, block "shell").
# Usage: check-stock.sh <repo>
# Output: TAP per block, `stock: N passed, N failed, N skipped`; tally
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

passed=0 failed=0 skipped=0
t_start=$SECONDS
mapfile -t extras < <(selftest_extras "$repo")
rc=0
stock_run "$repo" stock "$vm_dir/stock-guest.sh" "${extras[@]+"${extras[@]}"}" || rc=$?
if [ "$rc" -gt 1 ] && [ ! -s "$console" ]; then
	log "FAIL: module build or VM run failed (console: $console)"
	failed=1
else
	# A timeout or crash counts once; what the guest printed still counts.
	if [ "$rc" -gt 1 ]; then
		log "FAIL: VM run failed (rc=$rc, console: $console)"
		failed=1
	fi
	show_guest_times "$console"
	mapfile -t blocks < <(block_names "$console")
	for b in "${blocks[@]+"${blocks[@]}"}"; do
		t=$out/tap-stock-${b//:/_}.txt
		extract_block "$console" "$b" >"$t"
		echo "== $b"
		grep -v '^# rc=' "$t" || true
		read -r p f s < <(tap_count "$t")
		[ "$b" != selftest:spanheap_fuzz ] || show_fuzz_summary "$t"
		passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	done
	[ ${#blocks[@]} -gt 0 ] || { log "FAIL: guest printed no TAP"; failed=$((failed + 1)); }
	if grep -a 'SPANHEAP-FAIL' "$console" >&2; then
		failed=$((failed + $(grep -ac 'SPANHEAP-FAIL' "$console")))
	fi
	if find_splats "$console" >"$out/stock-splats.txt"; then
		log "FAIL: kernel splats in $console:"
		cat "$out/stock-splats.txt" >&2
		failed=$((failed + 1))
	fi
fi
# make shell through a pty: its own QEMU run, one more TAP block.
t=$out/tap-stock-shell.txt
echo "== shell"
src=0
"$vm_dir/check-shell.sh" "$repo" >"$t" 2>"$out/shell-check.err" || src=$?
echo "# rc=$src" >>"$t"
grep -v '^# rc=' "$t" || true
[ "$src" = 0 ] || { log "FAIL: check-shell.sh rc=$src (stderr: $out/shell-check.err, pty: $out/shell-check-pty.log)"; }
read -r p f s < <(tap_count "$t")
passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))

write_tally "$repo" stock "$passed" "$failed" "$skipped"
log "wall time $((SECONDS - t_start)) s"
echo "stock: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
