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

kdir=$("$vm_dir/build-test-kernel.sh" "$vm_dir/testkernel-kcsan.config" | tail -n 1) ||
	infra_fail "KCSAN test kernel build failed"
log "KCSAN test kernel: $kdir (ready after $((SECONDS - t_start)) s)"
build_module "$kdir" "$repo" "$out/mods" SPANHEAP_KUNIT=1 ||
	infra_fail "module build (SPANHEAP_KUNIT=1) against the KCSAN kernel failed"

guest=$(
	echo "FUZZ_SECONDS=$fuzz_s"
	echo "KCSAN_SELFTESTS='${SPANHEAP_KCSAN_SELFTESTS-spanheap_stallcopy}'"
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
)
mapfile -t extras < <(selftest_extras "$repo")
vmrc=0 t_vm=$SECONDS
vm_run "$kdir/arch/x86/boot/bzImage" "$out/mods" "$console" \
	"${SPANHEAP_SELFTEST_TIMEOUT:-$((fuzz_s + 300))}" "${SPANHEAP_VM_TIMEOUT:-$((fuzz_s + 600))}" \
	"$guest" --append "kcsan.skip_watch=${SPANHEAP_KCSAN_SKIP_WATCH:-1000}" \
	"${extras[@]+"${extras[@]}"}" || vmrc=$?
log "VM run $((SECONDS - t_vm)) s"
grep -ao 'SPANHEAP-KCSAN-STATS .*' "$console" | sed 's/^SPANHEAP-KCSAN-STATS /kcsan: counters: /' | grep -E 'enabled|setup_watchpoints|data_races|assert_failures|no_capacity' >&2 || true

# KCSAN reports: ours fail (one failure per distinct title), core ones are
# listed; the splat check reads the console without them.
read -r n_ours n_core < <(kcsan_split "$console" "$out")
count_run "$console" "$vmrc" "$out/ktap-" "$out/splats.txt" "$out/console-nokcsan.log"
[ "$nsuites" -gt 0 ] || tier_fail "no KUnit suite ran"
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
tier_finish
