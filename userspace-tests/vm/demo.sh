#!/usr/bin/env bash
# Show what spanheap does in a real (Debian stock) kernel: boots it under QEMU
# TCG, loads spanheap.ko and spanheap_demo.ko (the in-kernel demo), then runs
# the spanheapctl demo script through /dev/spanheap and prints the events.
# Usage: demo.sh <repo>     Console log: <repo>/build/vm/demo-console.log
set -euo pipefail
tier=demo
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -eq 1 ] || { echo "usage: $0 <repo>" >&2; exit 2; }
repo=$(cd "$1" && pwd)
console=$repo/build/vm/demo-console.log
mkdir -p "$repo/build/vm"
rm -f "$console"

echo "Booting Debian's kernel in QEMU (software emulation, 10-30 s)..."
rc=0
stock_run "$repo" demo "$vm_dir/demo-guest.sh" \
	--extra "$repo/build/vm-bin/spanheapctl:/bin/spanheapctl" \
	--extra "$repo/userspace-tests/uapi/demo.shc:/opt/demo.shc" || rc=$?
[ "$rc" -le 1 ] || die "module build or VM run failed (console: $console)"

echo
echo "== In the kernel: spanheap_demo.ko builds a graph with finalizers and collects:"
sed -n '/SPANHEAP-DEMO-LOADING/,/SPANHEAP-DEMO-UNLOADED/{/^\[/s/^\[ *[0-9]*\.[0-9]*\] */  /p}' "$console"
echo
echo "== From userspace: spanheapctl -f userspace-tests/uapi/demo.shc through /dev/spanheap:"
extract_block "$console" spanheapctl | sed 's/^/  /'
echo
echo "== The same with --json (JSON lines for a harness: why paths, events, stats):"
echo "   spanheapctl --json -e 'alloc L ref 3; alloc M ref 1; store L 2 M; root L; finalizer M 7;"
echo "                          why M; unroot L; gc wait; events; why M; stats'"
extract_block "$console" spanheapctl-json | sed 's/^/  /'
echo
if find_splats "$console" >/dev/null || grep -q 'SPANHEAP-FAIL' "$console" ||
	[ "$(grep -c 'SPANHEAP-KTAP-END rc=0' "$console")" != 2 ]; then
	echo "Something went wrong: see $console"
	exit 1
fi
echo "All good. Full console log: $console"
