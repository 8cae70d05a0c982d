#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# run.sh <repo> <mode> [seconds]: the ioctl fuzzers of the userspace build.
#
#   check <s>   make check: replay the corpus and every kept regression
#               input under both libFuzzer builds, then fuzz <s> seconds
#               with ASan+UBSan and <s>/2 threaded under TSan, then the
#               paced fuzzer of the VM tiers (uapi/fuzz.c) in-process,
#               <s>/2 seconds each under ASan and TSan.
#   fuzz <s>    make fuzz: both libFuzzer builds side by side for <s>
#               seconds, new inputs kept in build/fuzz/corpus-*.
#   merge       make fuzz-merge: fold build/fuzz/corpus-* into the
#               repository's corpus (libFuzzer -merge=1 keeps only inputs
#               that add coverage).
#
# Output: KTAP (one subtest, "fuzz"), with executions per second and what
# libFuzzer found as diagnostics.  A crash input is left in
# build/fuzz/artifacts/; keep it as userspace-tests/fuzz/regressions/<name>.
set -uo pipefail
repo=$(cd "$1" && pwd)
mode=$2
secs=${3:-60}
bin=$repo/build/user
src=$repo/userspace-tests/fuzz
work=$repo/build/fuzz
rm -rf "$work/artifacts"		# this run's findings only
mkdir -p "$work/artifacts" "$work/corpus-asan" "$work/corpus-tsan"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# report_signal_unsafe=0: libFuzzer's crash handler mallocs; reporting
# that deadlocked a failing run instead of ending it.
export TSAN_OPTIONS=halt_on_error=1:report_signal_unsafe=0:suppressions=$src/tsan.supp
n=0 bad=0

result() {	# result <ok> <description> [log]
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "    ok $n - $2"
	else
		bad=1
		echo "    not ok $n - $2"
		[ -z "${3-}" ] || grep -a -m 12 -E 'uheap_fuzz:|ERROR|WARNING|SUMMARY|Test unit written|not ok' "$3" |
			sed 's/^/    # /'
	fi
}

stats() {	# the diagnostic line of a libFuzzer log
	awk '/^stat::number_of_executed_units/ { u = $2 }
		/^stat::average_exec_per_sec/ { e = $2 }
		/^stat::new_units_added/ { a = $2 }
		END { printf "    # %s executions, %s/s, %s new inputs\n", u, e, a }' "$1"
}

# libfuzz <asan|tsan> <seconds> <log> [seed dir] [new-input dir]: from the
# repository's corpus unless seeds are given (make check: it was just
# replayed); new inputs go to build/fuzz/corpus-<san> unless told.
libfuzz() {
	local exe=$bin/uheap-fuzz env=() seeds=${4:-$src/corpus} out=${5:-$work/corpus-$1}

	[ "$1" = asan ] || { exe=$bin/uheap-fuzz-tsan; env=(UHEAP_FUZZ_THREADED=1); }
	# A hung run is a failure too, not a stuck CI.
	timeout -k 10 $(($2 + 600)) env "${env[@]+"${env[@]}"}" "$exe" -max_total_time="$2" \
		-timeout=60 -rss_limit_mb=4096 -detect_leaks=0 \
		-max_len=1024 -len_control=0 \
		-print_final_stats=1 -dict="$src/uheap.dict" -artifact_prefix="$work/artifacts/" \
		"$out" "$seeds" >"$3" 2>&1
}

# A fixed sample of the corpus (every 16th input) and the kept failures:
# make check's fuzzing starts mutating at once instead of loading it all.
sample_seeds() {
	rm -rf "$work/seeds" && mkdir -p "$work/seeds"
	ls "$src/corpus" | awk 'NR % 16 == 1' | while read -r f; do
		cp "$src/corpus/$f" "$work/seeds/"
	done
	cp "$src/regressions"/* "$work/seeds/"
}

replay() {	# replay <asan|tsan>
	local exe=$bin/uheap-fuzz log=$work/replay-$1.log env=() rc

	[ "$1" = asan ] || { exe=$bin/uheap-fuzz-tsan; env=(UHEAP_FUZZ_THREADED=1); }
	timeout -k 10 900 env "${env[@]+"${env[@]}"}" "$exe" -runs=0 -timeout=60 "$src/corpus" \
		"$src/regressions" >"$log" 2>&1
	rc=$?
	result $rc "replay of $(ls "$src/corpus" | wc -l) corpus and $(ls "$src/regressions" | wc -l) regression inputs ($1)" "$log"
}

echo "    KTAP version 1"
echo "    # Subtest: fuzz"
case $mode in
check)
	replay asan
	replay tsan
	sample_seeds
	rm -rf "$work/check-new" && mkdir -p "$work/check-new"
	libfuzz asan "$secs" "$work/check-asan.log" "$work/seeds" "$work/check-new"
	result $? "libFuzzer, ASan+UBSan, $secs s: no findings" "$work/check-asan.log"
	stats "$work/check-asan.log"
	libfuzz tsan $((secs / 2)) "$work/check-tsan.log" "$work/seeds" "$work/check-new"
	result $? "libFuzzer, TSan, threaded, $((secs / 2)) s: no findings" "$work/check-tsan.log"
	stats "$work/check-tsan.log"
	for san in asan tsan; do
		log=$work/inproc-$san.log
		timeout $((secs * 2 + 120)) "$bin/fuzz-inproc-$san" --threads 2 --files 2 \
			$((secs / 2)) >"$log" 2>&1
		rc=$?
		grep -q '^not ok' "$log" && rc=1
		result $rc "uapi/fuzz.c in-process ($san), paced, 2 threads on 2 files: $(grep -ao '[0-9]* ops, [0-9]* cycles, [0-9]* events' "$log")" "$log"
	done
	;;
fuzz)
	libfuzz asan "$secs" "$work/fuzz-asan.log" &
	pa=$!
	libfuzz tsan "$secs" "$work/fuzz-tsan.log" &
	pt=$!
	wait $pa; a=$?
	wait $pt; t=$?
	result $a "libFuzzer, ASan+UBSan, $secs s: no findings" "$work/fuzz-asan.log"
	stats "$work/fuzz-asan.log"
	result $t "libFuzzer, TSan, threaded, $secs s: no findings" "$work/fuzz-tsan.log"
	stats "$work/fuzz-tsan.log"
	;;
merge)
	"$bin/uheap-fuzz" -merge=1 "$src/corpus" "$work/corpus-asan" "$work/corpus-tsan" \
		>"$work/merge.log" 2>&1
	result $? "merged into userspace-tests/fuzz/corpus: $(ls "$src/corpus" | wc -l) inputs" "$work/merge.log"
	;;
*)
	echo "usage: $0 <repo> check|fuzz|merge [seconds]" >&2
	exit 2
esac
echo "    1..$n"
if ls "$work/artifacts" | grep -q .; then
	# Base64 too: a CI log outlives the build directory that held them.
	echo "    # inputs that failed (keep them in userspace-tests/fuzz/regressions/;"
	echo "    # from a log: echo <base64> | base64 -d > userspace-tests/fuzz/regressions/<name>):"
	for f in "$work/artifacts"/*; do
		echo "    #   ${f##*/} $(base64 -w0 "$f")"
	done
fi
exit $bad
