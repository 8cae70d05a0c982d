#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tally.sh <tier> <ktap>... <exit status of the run>
# Counts leaf test results in KTAP files, writes build/tally/<tier> as
# "passed failed skipped", prints "<tier>: N passed, N failed, N skipped".
# A non-zero run status with no failing case counts as one failure
# (a crash, a sanitizer report, a missing suite).
set -euo pipefail
tier=$1
shift
status=${*: -1}
files=("${@:1:$#-1}")
root=$(cd "$(dirname "$0")/.." && pwd)
read -r pass fail skip < <(awk '
	/^[ \t]+(not )?ok [0-9]+ / {
		if ($0 ~ /# SKIP/) s++; else if ($0 ~ /^[ \t]+not ok/) f++; else p++
	}
	END { printf "%d %d %d\n", p, f, s }' "${files[@]}")
if [ "$status" != 0 ] && [ "$fail" = 0 ]; then
	fail=1
fi
if [ $((pass + fail + skip)) = 0 ]; then
	fail=1
fi
mkdir -p "$root/build/tally"
echo "$pass $fail $skip" > "$root/build/tally/$tier"
echo "$tier: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
