#!/usr/bin/env bash
# KCSAN tier: the module's KUnit suites (the concurrency suites spanheap_stress
# and spanheap_gc_stress among them), the threaded paced fuzzer and the
# concurrency selftests on the KCSAN test kernel (testkernel-kcsan.config;
# KCSAN excludes KASAN) under QEMU TCG.
# Usage: check-kcsan.sh <repo>
# Environment: FUZZ_SECONDS (fuzzer run, default 120), SPANHEAP_KCSAN_SELFTESTS
# (other /opt/selftests programs to run, default "spanheap_stallcopy"),
# SPANHEAP_KCSAN_SKIP_WATCH (kcsan.skip_watch: accesses between watchpoints,
# default 1000, the kernel's is 4000), SPANHEAP_VM_TIMEOUT,
# SPANHEAP_SELFTEST_TIMEOUT.
# A KCSAN report with a spanheap frame ("[spanheap]", shp_*, spanheap_*,
# uheap_*) fails the tier, one failure per distinct report title; other KCSAN
# reports (core kernel) are listed, not counted. Other splats as in check-vm.sh.
# Output: per-block kunit.py parse output, `kcsan: N passed, N failed, N skipped`;
# tally <repo>/build/tally/kcsan; console <repo>/build/vm/kcsan-console.log;
# reports build/vm/kcsan/kcsan-{ours,core}.txt.
set -euo pipefail
tier=kcsan
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -eq 1 ] || { echo "usage: $0 <repo>" >&2; exit 2; }
repo=$(cd "$1" && pwd)
out=$repo/build/vm/kcsan
mkdir -p "$out"
console=$repo/build/vm/kcsan-console.log
rm -f "$console" "$out"/*.txt "$out"/*.log

fuzz_s=${FUZZ_SECONDS:-120}
passed=0 failed=0 skipped=0
t_start=$SECONDS
finish() {
	write_tally "$repo" kcsan "$passed" "$failed" "$skipped"
	log "wall time $((SECONDS - t_start)) s"
	echo "kcsan: $passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
}
infra_fail() { log "FAIL: $*"; failed=$((failed + 1)); finish || exit 1; }

kdir=$("$vm_dir/build-test-kernel.sh" "$vm_dir/testkernel-kcsan.config" | tail -n 1) ||
	infra_fail "KCSAN test kernel build failed"
src=$spanheap_cache/linux-source-6.1
log "KCSAN test kernel: $kdir (ready after $((SECONDS - t_start)) s)"
build_module "$kdir" "$repo" "$out/mods" SPANHEAP_KUNIT=1 ||
	infra_fail "module build (SPANHEAP_KUNIT=1) against the KCSAN kernel failed"

guest=$(mktemp "${TMPDIR:-/tmp}/spanheap-guest.XXXXXX")
trap 'rm -f "$guest"' EXIT
{
	echo "SELFTEST_TIMEOUT=${SPANHEAP_SELFTEST_TIMEOUT:-$((fuzz_s + 300))}"
	echo "FUZZ_SECONDS=$fuzz_s"
	echo "KCSAN_SELFTESTS='${SPANHEAP_KCSAN_SELFTESTS-spanheap_stallcopy}'"
	cat "$guest_lib"
	cat <<'GUEST'
[ -f /sys/kernel/debug/kcsan ] || echo "SPANHEAP-FAIL /sys/kernel/debug/kcsan missing (not a KCSAN kernel?)"
t0=$(now_s)
insmod /mods/spanheap.ko || echo "SPANHEAP-FAIL insmod spanheap.ko"
echo "SPANHEAP-TIME insmod+KUnit $(($(now_s) - t0)) s"
dump_kunit
f=/opt/selftests/spanheap_fuzz
if [ -x $f ]; then
	run_one selftest:spanheap_fuzz $f --threads 4 --files 2 "$FUZZ_SECONDS"
else
	echo "SPANHEAP-FAIL $f missing"
fi
for t in $KCSAN_SELFTESTS; do
	if [ -x "/opt/selftests/$t" ]; then
		run_one "selftest:$t" "/opt/selftests/$t"
	else
		echo "SPANHEAP-FAIL /opt/selftests/$t missing"
	fi
done
rmmod spanheap || echo "SPANHEAP-FAIL rmmod spanheap"
# KCSAN's counters: watchpoints set up and races seen, i.e. that it watched.
sed 's/^/SPANHEAP-KCSAN-STATS /' /sys/kernel/debug/kcsan 2>/dev/null
GUEST
} >"$guest"

mapfile -t extras < <(selftest_extras "$repo")
vmrc=0 t_vm=$SECONDS
"$vm_dir/run-vm.sh" --kernel "$kdir/arch/x86/boot/bzImage" --module-dir "$out/mods" \
	--script "$guest" --log "$console" \
	--append "kcsan.skip_watch=${SPANHEAP_KCSAN_SKIP_WATCH:-1000}" \
	--timeout "${SPANHEAP_VM_TIMEOUT:-$((fuzz_s + 600))}" \
	"${extras[@]+"${extras[@]}"}" || vmrc=$?
log "VM run $((SECONDS - t_vm)) s"
show_guest_times "$console"
grep -ao 'SPANHEAP-KCSAN-STATS .*' "$console" | sed 's/^SPANHEAP-KCSAN-STATS /kcsan: counters: /' | grep -E 'enabled|setup_watchpoints|data_races|assert_failures|no_capacity' >&2 || true
if [ "$vmrc" -gt 1 ]; then
	log "FAIL: VM run failed (rc=$vmrc, console: $console)"
	failed=$((failed + 1))
fi

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
	[ "$b" != selftest:spanheap_fuzz ] || show_fuzz_summary "$kf"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done
[ "$nsuites" -gt 0 ] || { log "FAIL: no KUnit suite ran"; failed=$((failed + 1)); }

if grep -a 'SPANHEAP-FAIL' "$console" >&2; then
	failed=$((failed + $(grep -ac 'SPANHEAP-FAIL' "$console")))
fi

# KCSAN reports: ours fail (one failure per distinct title), core ones are listed.
read -r n_ours n_core < <(kcsan_split "$console" "$out")
titles() { grep -ao 'BUG: KCSAN: .*' "$1" | sort | uniq -c | sort -rn; }
if [ "$n_core" -gt 0 ]; then
	log "$n_core KCSAN report(s) without a spanheap frame (core kernel; not counted, see $out/kcsan-core.txt):"
	titles "$out/kcsan-core.txt" >&2
fi
if [ "$n_ours" -gt 0 ]; then
	log "FAIL: $n_ours KCSAN report(s) in spanheap ($out/kcsan-ours.txt):"
	cat "$out/kcsan-ours.txt" >&2
	failed=$((failed + $(titles "$out/kcsan-ours.txt" | wc -l)))
else
	log "no KCSAN report in spanheap"
fi
if find_splats "$out/console-nokcsan.log" >"$out/splats.txt"; then
	log "FAIL: kernel splats in $console:"
	cat "$out/splats.txt" >&2
	failed=$((failed + 1))
fi
finish
