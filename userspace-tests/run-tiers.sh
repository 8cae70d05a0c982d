#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# run-tiers.sh <repo> <tier>...: run "make check-<tier>" for each tier,
# carry on past failures, then print the sum of build/tally/<tier> as the
# last line: "N passed, N failed, N skipped".  Exit 1 if anything failed.
set -uo pipefail
repo=$1
shift
rc=0
pass=0 fail=0 skip=0
for tier in "$@"; do
	rm -f "$repo/build/tally/$tier"
	echo "=== tier: $tier ==="
	make -C "$repo" --no-print-directory "check-$tier" || rc=1
	if [ -r "$repo/build/tally/$tier" ]; then
		read -r p f s < "$repo/build/tally/$tier"
	else
		echo "tier $tier left no tally: counted as one failure"
		p=0 f=1 s=0
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done
[ "$fail" = 0 ] || rc=1
echo "$pass passed, $fail failed, $skip skipped"
exit $rc
