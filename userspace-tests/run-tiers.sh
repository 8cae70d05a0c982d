#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# run-tiers.sh <repo> <tier>...: run "make check-<tier>" for each tier,
# carry on past failures, then print a summary (each tier's counts and wall
# time) and, as the last line, the sum of build/tally/<tier>:
# "N passed, N failed, N skipped".  Exit 1 if anything failed.
set -uo pipefail
repo=$1
shift
rc=0
pass=0 fail=0 skip=0
summary=()
t_all=$SECONDS
for tier in "$@"; do
	rm -f "$repo/build/tally/$tier"
	echo "=== tier: $tier ==="
	t0=$SECONDS
	make -C "$repo" --no-print-directory "check-$tier" || rc=1
	dt=$((SECONDS - t0))
	if [ -r "$repo/build/tally/$tier" ]; then
		read -r p f s < "$repo/build/tally/$tier"
	else
		echo "tier $tier left no tally: counted as one failure"
		p=0 f=1 s=0
	fi
	line=$(printf '%-6s %4d passed, %d failed, %d skipped  (%dm%02ds)' \
		"$tier:" "$p" "$f" "$s" $((dt / 60)) $((dt % 60)))
	echo "=== $line ==="
	summary+=("$line")
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done
[ "$fail" = 0 ] || rc=1
dt=$((SECONDS - t_all))
printf "=== summary (wall time %dm%02ds) ===\n" $((dt / 60)) $((dt % 60))
printf '%s\n' "${summary[@]}"
echo "$pass passed, $fail failed, $skip skipped"
exit $rc
