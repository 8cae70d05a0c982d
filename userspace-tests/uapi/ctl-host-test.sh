#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ctl-host-test.sh <spanheapctl>: what spanheapctl does without the module
# (help, usage errors, the missing-device advice, script line numbers).
# Prints KTAP-subtest TAP (results indented by 4) and "ok 3 spanheapctl".
set -u
ctl=${1:?usage: ctl-host-test.sh <spanheapctl binary>}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
export SPANHEAP_DEV=$tmp/no-such-device
echo "    KTAP version 1"
echo "    # Subtest: spanheapctl"

# result <description> <0 if passed> [detail shown on failure]
result() {
	n=$((n + 1))
	if [ "$2" = 0 ]; then
		echo "    ok $n - $1"
	else
		echo "    not ok $n - $1"
		[ -n "${3-}" ] && printf '%s\n' "$3" | sed 's/^/    # /'
		failed=1
	fi
}

cmds="alloc write read store load root unroot finalizer nofinalizer cleanup
nocleanup weak weakget weakroot weakdrop gc events stats params expect echo help
quit"

# --help: exit 0, every command listed, no device needed.
out=$("$ctl" --help 2>&1); rc=$?
miss=
for c in $cmds; do
	grep -qE "^  $c( |$)" <<<"$out" || miss="$miss $c"
done
result "--help exits 0 without the device" $rc "$out"
result "--help lists every command" "${miss:-0}" "missing:$miss"

out=$("$ctl" -h 2>&1); rc=$?
result "-h exits 0" $rc "$out"

# help inside -e: no device needed either.
out=$("$ctl" -e 'help; echo done' 2>&1); rc=$?
[ $rc = 0 ] && grep -q '^  events ' <<<"$out" && grep -q '^done$' <<<"$out"
result "-e 'help' works without the device" $? "rc=$rc: $out"

# Usage errors exit 2.
"$ctl" --no-such-option >/dev/null 2>&1; rc=$?
[ $rc = 2 ]
result "an unknown option exits 2" $? "rc=$rc"
"$ctl" -f >/dev/null 2>&1; rc=$?
[ $rc = 2 ]
result "-f without its argument exits 2" $? "rc=$rc"

# A missing device: advice, exit 1, not a bare strerror.
out=$("$ctl" -e 'stats' 2>&1); rc=$?
[ $rc = 1 ] && grep -q 'insmod spanheap.ko' <<<"$out" &&
	grep -q 'make shell' <<<"$out" && ! grep -q 'No such file' <<<"$out"
result "a missing SPANHEAP_DEV says insmod or make shell, exits 1" $? "rc=$rc: $out"

# Script errors name the file and line (checked before any device use).
printf 'echo one\n# a comment\nfrobnicate A\n' >"$tmp/bad.shc"
out=$("$ctl" -f "$tmp/bad.shc" 2>&1); rc=$?
[ $rc != 0 ] && grep -q "^$tmp/bad.shc:3: unknown command 'frobnicate'" <<<"$out"
result "-f reports <file>:3: for an unknown command" $? "rc=$rc: $out"

out=$("$ctl" -e 'echo a; echo b; alloc A ref' 2>&1); rc=$?
[ $rc != 0 ] && grep -q '^-e:3: usage: alloc' <<<"$out"
result "-e reports -e:3: for a malformed command" $? "rc=$rc: $out"

out=$(printf 'echo x\nevents wait 2h\n' | "$ctl" 2>&1); rc=$?
[ $rc != 0 ] && grep -q "^<stdin>:2: bad time '2h'" <<<"$out"
result "stdin reports <stdin>:2: for a bad events wait time" $? "rc=$rc: $out"

out=$("$ctl" -e 'events wait 1s 0' 2>&1); rc=$?
[ $rc != 0 ] && grep -q "^-e:1: bad event count '0'" <<<"$out"
result "-e reports a bad events wait count" $? "rc=$rc: $out"

out=$("$ctl" -e 'echo a; weakget W A B' 2>&1); rc=$?
[ $rc != 0 ] && grep -q '^-e:2: usage: weakget WEAK \[NAME\]' <<<"$out"
result "-e reports -e:2: for weakget with too many words" $? "rc=$rc: $out"

echo "    1..$n"
if [ $failed = 0 ]; then
	echo "ok 3 spanheapctl"
else
	echo "not ok 3 spanheapctl"
fi
exit $failed
