#!/usr/bin/env bash
# Tier 2: the module's KUnit suites (+ optional ioctl selftests) on the debug
# test kernel (KASAN, lockdep, kmemleak, ...) under QEMU TCG. Fault injection
# is set up the way syzkaller does it (fail-nth only), cgroup v2 is mounted,
# then the tracepoints (block "tracing": guest-lib.sh's trace_demo), 50
# load/unload cycles (module built without KUnit) and a kmemleak scan.
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

# Caps, not costs (the run takes about 350 s + FUZZ_SECONDS): a hung program is
# killed after SELFTEST_TIMEOUT, a hung guest after the QEMU timeout.
fuzz_s=${FUZZ_SECONDS:-120}

kdir=$("$vm_dir/build-test-kernel.sh" | tail -n 1) || infra_fail "test kernel build failed"
log "test kernel: $kdir (ready after $((SECONDS - t_start)) s)"
# Without KUnit for the load/unload cycles (the suites would run at every
# insmod), then with it.
build_module "$kdir" "$repo" "$out/mods-testkernel-plain" ||
	infra_fail "module build against the test kernel failed"
build_module "$kdir" "$repo" "$out/mods-testkernel" SPANHEAP_KUNIT=1 ||
	infra_fail "module build (SPANHEAP_KUNIT=1) against the test kernel failed"

guest=$(cat <<'GUEST'
setup_fault_injection required
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
t0=$(now_s)
insmod /mods/spanheap.ko || echo "SPANHEAP-FAIL insmod spanheap.ko"
echo "SPANHEAP-TIME insmod+KUnit $(($(now_s) - t0)) s"
dump_kunit
run_extra
run_selftests
rmmod spanheap || echo "SPANHEAP-FAIL rmmod spanheap"
# The tracepoints under lockdep and KASAN (block "tracing"), alone with the
# demo script's heap (the module without KUnit).
tap=/tmp/tracing.tap n=0
: >$tap
step() {
	desc=$1; shift
	n=$((n + 1))
	if "$@"; then echo "ok $n - $desc" >>$tap; else echo "not ok $n - $desc" >>$tap; fi
}
if insmod /mods-plain/spanheap.ko; then
	trace_demo /opt/demo.shc
	rmmod spanheap || echo "SPANHEAP-FAIL rmmod spanheap (tracing)"
else
	echo "SPANHEAP-FAIL insmod spanheap.ko (tracing)"
fi
dmesg -n 1
echo "SPANHEAP-KTAP-BEGIN tracing"
echo "TAP version 13"
echo "1..$n"
cat $tap
echo "SPANHEAP-KTAP-END rc=0"
dmesg -n 7
loadunload /mods-plain/spanheap.ko 50
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
)
mapfile -t extras < <(selftest_extras "$repo")
vmrc=0 t_vm=$SECONDS
vm_run "$kdir/arch/x86/boot/bzImage" "$out/mods-testkernel" "$console" \
	"${SPANHEAP_SELFTEST_TIMEOUT:-$((fuzz_s + 480))}" "${SPANHEAP_VM_TIMEOUT:-$((fuzz_s + 1080))}" \
	"$guest" --extra "$out/mods-testkernel-plain:/mods-plain" "${extras[@]+"${extras[@]}"}" \
	--extra "$repo/userspace-tests/uapi/demo.shc:/opt/demo.shc" || vmrc=$?
log "VM run $((SECONDS - t_vm)) s"
# KTAP blocks (kunit.py's view and counts), SPANHEAP-FAIL lines, splats.
count_run "$console" "$vmrc" "$out/ktap-" "$out/splats.txt"
[ "$nsuites" -gt 0 ] || tier_fail "no KUnit suite ran"

# kmemleak reports.
sed -n '/SPANHEAP-KMEMLEAK-BEGIN/,/SPANHEAP-KMEMLEAK-END/p' "$console" | grep -v '^\[ *[0-9]*\.[0-9]*\]' >"$out/kmemleak.txt" || true
# (An injected failure may cost kmemleak a scan area: "Cannot allocate a scan
# area, scanning the full object" is harmless; losing an object is not.)
if grep -aE 'kmemleak: (Kernel memory leak detector disabled|Cannot allocate a kmemleak_object|Cannot insert|Memory pool empty)' "$console" >&2; then
	tier_fail "kmemleak disabled itself during the run"
fi
# Only leaks allocated from our modules or the KUnit run count: early-boot
# objects (ACPI caches) can be reported when boot outlasts the baseline scan.
# The module is unloaded by the time of the scan, so its frames print as bare
# addresses ("] 0xffffffffc0..."): those count too, as do our test programs.
kmemleak_ours "$out/kmemleak.txt" >"$out/kmemleak-ours.txt"
if grep -q 'unreferenced object' "$out/kmemleak-ours.txt"; then
	tier_fail "kmemleak report:"
	cat "$out/kmemleak-ours.txt" >&2
elif grep -q 'unreferenced object' "$out/kmemleak.txt"; then
	log "kmemleak: only objects from outside spanheap reported (boot); see $out/kmemleak.txt"
fi
tier_finish
