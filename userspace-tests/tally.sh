#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tally.sh <tier> <ktap>...: count the KTAP files with ktap-count.sh (kunit.py
# parse; a "# rc=N" trailer is the program's exit status), write
# build/tally/<tier> as "passed failed skipped", print "<tier>: N passed,
# N failed, N skipped"; fail if anything failed.
set -euo pipefail
tier=$1
shift
root=$(cd "$(dirname "$0")/.." && pwd)
counts=$("$root/userspace-tests/ktap-count.sh" "$@") || counts="0 1 0"
read -r pass fail skip <<<"$counts"
mkdir -p "$root/build/tally"
echo "$pass $fail $skip" > "$root/build/tally/$tier"
echo "$tier: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
