#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Instructions per object of the ioctl path, in-process under callgrind
# (ioctl_prof.c): builds build/user/ioctl-prof, runs each phase alone and
# prints "PROF <phase> <all> <no-ucopy>": instructions per object of the
# whole phase, and without the shim's user copies (shim_user.c and the
# process_vm_readv()/_writev() and getpid() it calls per copy: tens of
# instructions and a syscall where the kernel has a mov, or a rep movsb
# for a struct).  The annotated profile of each phase is kept in
# build/user/prof/<phase>.txt.
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
	# Self costs by file:function: the shim's user copies.
	uc=$(callgrind_annotate --auto=no --threshold=100 "$cg" 2>/dev/null |
		awk '/PROGRAM TOTALS/ { next }
			/^ *[0-9,]+ \(.*(shim_user\.c:|:process_vm_|:getpid)/ {
				gsub(",", "", $1); n += $1 }
			END { print n + 0 }')
	echo "PROF $phase $((ir / n)) $(((ir - uc) / n))"
done
