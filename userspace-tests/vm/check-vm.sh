#!/usr/bin/env bash
# Tier 2: the module's KUnit suites (+ optional ioctl selftests) on the debug
# test kernel (KASAN, lockdep, kmemleak, ...) under QEMU TCG.
# Usage: check-vm.sh <repo>
# Output: per-suite kunit.py parse output, `vm: N passed, N failed, N skipped`;
# tally <repo>/build/tally/vm; console log <repo>/build/vm/vm-console.log.
set -euo pipefail
tier=vm
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -eq 1 ] || { echo "usage: $0 <repo>" >&2; exit 2; }
repo=$(cd "$1" && pwd)
out=$repo/build/vm
mkdir -p "$out"
console=$out/vm-console.log
rm -f "$console" "$out"/ktap-*.txt

passed=0 failed=0 skipped=0
finish() {
	write_tally "$repo" vm "$passed" "$failed" "$skipped"
	echo "vm: $passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
}
infra_fail() { log "FAIL: $*"; failed=$((failed + 1)); finish || exit 1; }

kdir=$("$vm_dir/build-test-kernel.sh" | tail -n 1) || infra_fail "test kernel build failed"
src=$spanheap_cache/linux-source-6.1
log "test kernel: $kdir"
build_module "$kdir" "$repo" "$out/mods-testkernel" SPANHEAP_KUNIT=1 ||
	infra_fail "module build against the test kernel failed"

guest=$(mktemp "${TMPDIR:-/tmp}/spanheap-guest.XXXXXX")
trap 'rm -f "$guest"' EXIT
{
	cat "$guest_lib"
	cat <<'GUEST'
kml=/sys/kernel/debug/kmemleak
# Baseline: report and forget boot-time leak suspects (objects > 5 s old;
# e.g. ACPI's caches). An object is reported only by its second scan.
if [ -e $kml ]; then
	echo scan >$kml
	echo scan >$kml
	echo clear >$kml
else
	echo "SPANHEAP-FAIL kmemleak debugfs file missing"
fi
insmod /mods/spanheap.ko || echo "SPANHEAP-FAIL insmod spanheap.ko"
# Keep printk off the console while dumping blocks (splats print before this).
dmesg -n 1
for d in /sys/kernel/debug/kunit/*/; do
	[ -f "$d/results" ] || continue
	s=${d%/}; s=${s##*/}
	echo "SPANHEAP-KTAP-BEGIN $s"
	cat "$d/results"
	echo "SPANHEAP-KTAP-END rc=0"
done
dmesg -n 7
run_extra
run_selftests
rmmod spanheap || echo "SPANHEAP-FAIL rmmod spanheap"
# kmemleak reports only objects older than 5 s, and only from the second scan
# that finds them unreferenced and unchanged.
if [ -e $kml ]; then
	sleep 6
	echo "SPANHEAP-KMEMLEAK-SCAN"
	echo scan >$kml
	echo scan >$kml
	dmesg -n 1
	echo "SPANHEAP-KMEMLEAK-BEGIN"
	cat $kml
	echo "SPANHEAP-KMEMLEAK-END"
	dmesg -n 7
fi
GUEST
} >"$guest"

mapfile -t extras < <(selftest_extras "$repo")
vmrc=0
"$vm_dir/run-vm.sh" --kernel "$kdir/arch/x86/boot/bzImage" --module-dir "$out/mods-testkernel" \
	--script "$guest" --log "$console" --timeout "${SPANHEAP_VM_TIMEOUT:-600}" \
	"${extras[@]+"${extras[@]}"}" || vmrc=$?
[ "$vmrc" -le 1 ] || infra_fail "VM run failed (rc=$vmrc, console: $console)"

# KTAP blocks: show kunit.py's view, count leaf cases ourselves.
mapfile -t blocks < <(block_names "$console")
nsuites=0
for b in "${blocks[@]+"${blocks[@]}"}"; do
	kf=$out/ktap-${b//:/_}.txt
	extract_block "$console" "$b" >"$kf"
	case $b in selftest:*) ;; *) nsuites=$((nsuites + 1)) ;; esac
	echo "== $b"
	python3 "$src/tools/testing/kunit/kunit.py" parse <"$kf" || true
	read -r p f s < <(tap_count "$kf")
	log "$b: $p passed, $f failed, $s skipped"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done
[ "$nsuites" -gt 0 ] || { log "FAIL: no KUnit suite ran"; failed=$((failed + 1)); }

# Guest-reported step failures, kernel splats, kmemleak reports.
if grep -a 'SPANHEAP-FAIL' "$console" >&2; then
	failed=$((failed + $(grep -ac 'SPANHEAP-FAIL' "$console")))
fi
if find_splats "$console" >"$out/splats.txt"; then
	log "FAIL: kernel splats in $console:"
	cat "$out/splats.txt" >&2
	failed=$((failed + 1))
fi
sed -n '/SPANHEAP-KMEMLEAK-BEGIN/,/SPANHEAP-KMEMLEAK-END/p' "$console" | grep -v '^\[ *[0-9]*\.[0-9]*\]' >"$out/kmemleak.txt" || true
if grep -aE 'kmemleak: (Kernel memory leak detector disabled|Cannot)' "$console" >&2; then
	log "FAIL: kmemleak disabled itself during the run"
	failed=$((failed + 1))
fi
# Only leaks allocated from our modules or the KUnit run count: early-boot
# objects (ACPI caches) can be reported when boot outlasts the baseline scan.
awk '/^unreferenced object/ { if (blk ~ /spanheap|kunit/) print blk; blk = "" }
     { blk = blk $0 "\n" }
     END { if (blk ~ /spanheap|kunit/) printf "%s", blk }' \
	"$out/kmemleak.txt" >"$out/kmemleak-ours.txt"
if grep -q 'unreferenced object' "$out/kmemleak-ours.txt"; then
	log "FAIL: kmemleak report:"
	cat "$out/kmemleak-ours.txt" >&2
	failed=$((failed + 1))
elif grep -q 'unreferenced object' "$out/kmemleak.txt"; then
	log "kmemleak: only objects from outside spanheap reported (boot); see $out/kmemleak.txt"
fi
finish
