#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Instructions per object of the ioctl path, in-process under callgrind
# (ioctl_prof.c): builds build/user/ioctl-prof, runs each phase alone and
# prints "PROF <phase> <instructions per object> <without user copies>",
# with the annotated profile of each phase in build/user/prof/<phase>.txt.
# The last figure leaves out the shim's user copies (user_copy(): a
# process_vm_writev() per put_user() or copy, where the kernel has a mov
# or a rep movsb), which would otherwise weigh per call, not per byte.
# Usage: ioctl-prof.sh [REPO]
set -euo pipefail
repo=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
out=$repo/build/user
make -s -C "$repo/userspace-tests" "$out/ioctl-prof" >/dev/null
mkdir -p "$out/prof"
n=$(sed -n 's/^#define PROF_OBJECTS\t*(1 << \([0-9]*\))$/\1/p' \
	"$repo/userspace-tests/inproc/ioctl_prof.c")
n=$((1 << n))
for p in alloc_fin:prof_alloc_fin batch:prof_batch events:prof_events_read; do
	phase=${p%%:*} fn=${p#*:}
	cg=$out/prof/$phase.callgrind
	valgrind -q --tool=callgrind --callgrind-out-file="$cg" --collect-atstart=no \
		--toggle-collect="$fn" "$out/ioctl-prof" "$phase" >/dev/null
	callgrind_annotate --inclusive=yes "$cg" >"$out/prof/$phase.txt" 2>/dev/null
	ir=$(sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' "$out/prof/$phase.txt" | tr -d ,)
	uc=$(sed -n 's/^ *\([0-9,]*\) .*shim_user.c:user_copy \[.*/\1/p' "$out/prof/$phase.txt" |
		tr -d , | head -1)
	echo "PROF $phase $((ir / n)) $(((ir - ${uc:-0}) / n))"
done
