#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ctl-host-test.sh <spanheapctl> [<spanheapctl-inproc>]: what spanheapctl
# does without the module (help, usage errors, the missing-device advice,
# script line numbers); given the in-process build (linked with
# inproc/inproc.c), also the demo script (demo.shc) through it: the events
# and weak handle reads that `make demo` shows, checked.
# Prints KTAP-subtest TAP (results indented by 4) and "ok 3 spanheapctl".
set -u
ctl=${1:?usage: ctl-host-test.sh <spanheapctl binary> [<in-process build>]}
inproc=${2-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
export SPANHEAP_DEV=$tmp/no-such-device
echo "    KTAP version 1"
echo "    # Subtest: spanheapctl"

ktap_indent="    "
. "$(dirname "${BASH_SOURCE[0]}")/../ktap-lib.sh"

cmds="alloc allocmany write read store load root unroot finalizer nofinalizer cleanup
nocleanup weak weakget weakroot weakdrop gc events stats why params expect echo help
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

# The demo, in-process.  section <header> prints the lines after the
# "== <header>" line, up to the next header.
section() {
	awk -v h="== $1" 'index($0, "== ") == 1 { p = index($0, h) == 1; next } p' <<<"$out"
}
if [ -n "$inproc" ]; then
	out=$("$inproc" -f "$(dirname "$0")/demo.shc" 2>&1); rc=$?
	result "demo.shc in-process: every command as expected (exit 0)" $rc "$out"
	s=$(section "cycle 1:"; section "cycle 2:"; section "cycle 3:"; section "cycle 4:")
	[ "$(grep '^event\|^no events' <<<"$s")" = "event 1: finalizer of A ran (token 1)
event 2: finalizer of B ran (token 2)
event 3: finalizer of C ran (token 3)
no events" ] && ! grep -q 'finalizer of [XY]' <<<"$out"
	result "demo: a chain finalized a link per cycle, the cycle X <-> Y never" $? "$out"
	s=$(section "cycle 7:")
	[ "$(grep -c '^event' <<<"$s")" = 2 ] && grep -q '^event .*: cleanup of P ran (token 31)$' <<<"$s" &&
		grep -q '^event .*: cleanup of Q ran (token 32)$' <<<"$s" &&
		grep -q '^load: ESTALE' <<<"$s"
	result "demo: both cleanups of the cycle P <-> Q ran in one cycle, P is gone" $? "$s"
	s=$(section "cycle 8:")
	[ "$(grep '^event\|^no events' <<<"$s")" = "event 7: cleanup of S ran (token 42)" ] &&
		! grep -q 'token 41)' <<<"$out"
	result "demo: the stopped cleanup never ran, the other did" $? "$s"
	s=$(section "weak handles:"; section "cycle 9:")
	[ "$(grep -v '^F: ' <<<"$s")" = "W = weak F (1 ref)
W2 = weak F: the same as W (2 refs)
W2: 1 ref left
W -> F
W -> nil
event 8: finalizer of F ran (token 51)" ]
	result "demo: one weak handle per live object, nil before the finalizer event is read" $? "$s"
	s=$(section "cycle 10:"; section "weakroot"; section "cycle 12:")
	[ "$(grep '^W' <<<"$s")" = "W -> nil
W3 = weak F (1 ref)
W3 -> F
W3 -> F, rooted
W3 -> nil
W3: 0 refs left
W: 0 refs left" ] && [ "$(grep -c '"weakly-held"' <<<"$s")" = 2 ]
	result "demo: nil for good after resurrection, a new weak handle reads F, weakroot keeps it" $? "$s"
	grep -q '^       cleanups set 0 queued 0 run 3, weak handles 0 (live 0), pins 0$' <<<"$out"
	result "demo: stats count 3 cleanups run, no weak handles left" $? "$out"
	s=$(section "why is this alive?"; section "R is a root"; section "X and Y")
	[ "$(grep -v '^finalizer\|^write\|^read\|^load' <<<"$s")" = "R: R (rooted)
C: B (finalizer referent) -> B[0] -> C
X: never finalized, on a cycle through its own finalizer: X[0] -> Y[0] -> X" ]
	result "demo: why R (a root), C (a finalizer's referent), X (a finalizer cycle)" $? "$s"
	s=$(section "cycle 1:"; section "cycle 4:")
	grep -q '^A: A (finalizer event unread)$' <<<"$s" && grep -q '^A: unreachable$' <<<"$s" &&
		grep -q '^Y: never finalized, on a cycle through its own finalizer: Y\[0\] -> X\[0\] -> Y$' <<<"$s"
	result "demo: why A while its event is unread, then unreachable; Y on its cycle" $? "$s"
	s=$(section "why, slot by slot")
	[ "$(grep '^N: ' <<<"$s")" = "N: L (rooted) -> L[2] -> M[0] -> N
N: unreachable" ]
	result "demo: why N slot by slot through L and M, unreachable once L is unrooted" $? "$s"

	# --json: every line one JSON object, with the documented keys.
	out=$("$inproc" --json -e 'alloc L ref 3; alloc M ref 1; store L 2 M; root L; finalizer M 7; why M; load L 2; echo say "hi"\; unroot L; gc wait; events; why M; stats' 2>&1); rc=$?
	[ $rc = 0 ] && python3 -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin]
why = [r for r in recs if r["type"] == "why"]
assert why[0]["root"] == "rooted" and why[0]["nhops"] == 2 and not why[0]["truncated"], why
assert [(h["object"], h["slot"]) for h in why[0]["path"]] == [("L", 2), ("M", None)], why
assert why[1]["root"] == "unreachable" and why[1]["path"] == [], why
ev = [r for r in recs if r["type"] == "event"]
assert len(ev) == 1 and ev[0]["event"] == "finalizer" and ev[0]["object"] == "M" and ev[0]["token"] == 7, ev
assert [r["count"] for r in recs if r["type"] == "events"] == [1], recs
st = [r for r in recs if r["type"] == "stats"]
assert len(st) == 1 and st[0]["collections"] == 1 and st[0]["roots"] == 0, st
assert any(r["type"] == "text" and r["text"] == "say \"hi\"\\" for r in recs), recs
assert any(r["type"] == "text" and r["text"] == "L[2] = M" for r in recs), recs
' <<<"$out"
	result "--json: why paths, events, stats and text as JSON lines" $? "rc=$rc: $out"

	# --json with odd names: quotes, a backslash, control bytes, UTF-8 and
	# bytes that are not UTF-8 (U+FFFD), help as text records; a name
	# longer than the 31 bytes kept is refused, not cut short.
	out=$(printf '%s\n' 'alloc q"\ ref 1' $'alloc \x01\x1b\x7f ref 1' $'alloc caf\xc3\xa9 data 8' \
		$'alloc b\xff\xc3 data 8' 'store q"\ 0 '$'\x01\x1b\x7f' 'root q"\' $'why \x01\x1b\x7f' \
		$'why caf\xc3\xa9' $'why b\xff\xc3' help "alloc $(printf 'x%.0s' {1..32}) data 8" |
		"$inproc" --json 2>&1 >"$tmp/odd.jsonl"); rc=$?
	[ $rc = 1 ] && grep -q 'name too long' <<<"$out" && python3 -c '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1], "rb").read().decode("utf-8").splitlines()]
why = {r["object"]: r for r in recs if r["type"] == "why"}
assert [h["object"] for h in why["\x01\x1b\x7f"]["path"]] == ["q\"\\", "\x01\x1b\x7f"], why
assert "caf\u00e9" in why and "b\ufffd\ufffd" in why, why
assert sum(r["type"] == "text" and r["text"].startswith("  alloc ") for r in recs) == 1, recs
' "$tmp/odd.jsonl"
	result "--json: odd names escaped, non-UTF-8 bytes as U+FFFD, help as text, long names refused" $? \
		"rc=$rc: $out $(cat -v "$tmp/odd.jsonl")"

	# allocmany: 1500 objects in two BATCH calls, finalizers 100..1599 in two more.
	out=$("$inproc" -e 'allocmany o data 8 1500 100; root o1234; store o1234 0 o1 ; gc wait; events; load o1499 0' 2>&1); rc=$?
	[ $rc = 1 ] && [ "$(grep -c '^event .*: finalizer of o[0-9]* ran' <<<"$out")" = 1499 ] &&
		grep -q '^event .*: finalizer of o1499 ran (token 1599)$' <<<"$out" &&
		! grep -q 'finalizer of o1234 ' <<<"$out" && grep -q 'store: .*EINVAL' <<<"$out"
	result "allocmany: 1500 objects, 1499 finalizers run (o1234 rooted), names bound" $? "$out"
	out=$("$inproc" -e 'allocmany o ref 0 3' 2>&1); rc=$?
	[ $rc = 1 ] && grep -q 'EINVAL' <<<"$out"
	result "allocmany: a bad length is the first op's EINVAL" $? "rc=$rc: $out"
fi

echo "    1..$n"
if [ $failed = 0 ]; then
	echo "ok 3 spanheapctl"
else
	echo "not ok 3 spanheapctl"
fi
exit $failed
