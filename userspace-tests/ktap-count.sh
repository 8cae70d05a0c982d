#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# ktap-count.sh [-v] <ktap file>...: count test results the kernel's way.
# Each file goes through `kunit.py parse --json` (Linux 6.1's
# tools/testing/kunit, from Debian's linux-source-6.1); its leaf cases are
# summed and "<passed> <failed> <skipped>" is printed (all files together).
# -v: kunit.py's readable report of each file on stderr.
#
# kunit.py decides pass/fail/skip of every case, and reports what it finds
# missing (a plan larger than the results: a crash, a timeout) as crashed
# cases, counted failed here. Beside it, three checks it cannot make:
#  - kselftest.h prints a skip as "ok N # SKIP why", with no test name, which
#    6.1's result pattern does not accept (it would report the case missing):
#    the line is given the name "(no name)" before parsing.
#  - A file in which kunit.py finds no case fails once, unless it is a
#    whole-program skip ("1..0 # SKIP why", ksft_exit_skip()): one skipped.
#    (kunit.py reads "1..0" as "0 tests run!" and reports no case.)
#  - The "# rc=N" trailer (the program's exit status, appended by the
#    tiers): non-zero with no failing case is one failure (a sanitizer
#    report, a crash after the last result), except kselftest's KSFT_SKIP
#    (4) when a case was skipped.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
verbose=0
if [ "${1-}" = -v ]; then
	verbose=1
	shift
fi
[ $# -gt 0 ] || { echo "usage: $0 [-v] <ktap file>..." >&2; exit 2; }

# kunit.py: only tools/testing/kunit of the source tarball, extracted once per
# package version into the cache (a few seconds; the tiers may race here).
"$here/../scripts/deps.sh" kunit
cache=${SPANHEAP_CACHE:-$HOME/.cache/spanheap}
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
tool=$cache/kunit-tool-$srcver
kunit=$tool/tools/testing/kunit/kunit.py
if [ ! -f "$kunit" ]; then
	mkdir -p "$cache"
	(
		flock 9
		if [ ! -f "$kunit" ]; then
			rm -rf "$tool.tmp"
			mkdir -p "$tool.tmp"
			tar -xf /usr/src/linux-source-6.1.tar.xz -C "$tool.tmp" \
				--strip-components=1 --wildcards '*/tools/testing/kunit/*'
			mv "$tool.tmp" "$tool"
		fi
	) 9>"$cache/kunit-tool.lock"
fi

note() { [ "$verbose" = 0 ] || echo "ktap-count: $*" >&2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/ktap-count.XXXXXX")
trap 'rm -rf "$work"' EXIT
passed=0 failed=0 skipped=0
for f in "$@"; do
	rm -f "$work/json"
	# kunit.py chdirs to its kernel tree: absolute paths only, input on stdin.
	sed -E 's/^([[:space:]]*(not )?ok [0-9]+) #/\1 (no name) #/' "$f" |
		python3 "$kunit" parse --json="$work/json" >"$work/report" 2>&1 || true
	[ "$verbose" = 0 ] || grep -v '^\[[0-9:]*\] Test results stored in ' "$work/report" >&2 || true
	if [ -s "$work/json" ]; then
		read -r p x s < <(python3 - "$work/json" <<-'PY'
			import json, sys
			n = {'PASS': 0, 'FAIL': 0, 'SKIP': 0}
			def walk(g):
			    for c in g['test_cases']:   # leaves; ERROR (crashed) is a failure
			        n[c['status'] if c['status'] in n else 'FAIL'] += 1
			    for s in g['sub_groups']:
			        walk(s)
			walk(json.load(open(sys.argv[1])))
			print(n['PASS'], n['FAIL'], n['SKIP'])
		PY
		)
	else
		echo "ktap-count: kunit.py parse failed on $f:" >&2
		cat "$work/report" >&2
		p=0 x=1 s=0
	fi
	if [ $((p + x + s)) = 0 ]; then
		if grep -Eq '^[[:space:]]*1\.\.0[[:space:]]*#[[:space:]]*SKIP' "$f"; then
			note "$f: the whole program skipped (1..0 # SKIP): one skipped"
			s=1
		else
			note "$f: no test result: one failure"
			x=1
		fi
	fi
	rc=$(sed -n 's/^# rc=\([0-9][0-9]*\)$/\1/p' "$f" | tail -n 1)
	if [ "${rc:-0}" != 0 ] && [ "$x" = 0 ] && ! { [ "$rc" = 4 ] && [ "$s" -gt 0 ]; }; then
		note "$f: exit status $rc with no failing case: one failure"
		x=1
	fi
	passed=$((passed + p)) failed=$((failed + x)) skipped=$((skipped + s))
done
echo "$passed $failed $skipped"
