#!/usr/bin/env bash
# Show what spanheap does in a real (Debian stock) kernel: boots it under QEMU
# TCG, loads spanheap.ko and spanheap_demo.ko, and prints the demo's kernel log
# lines and the debugfs stats it left behind.
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
stock_run "$repo" demo "$vm_dir/stock-guest.sh" || rc=$?
[ "$rc" -le 1 ] || die "module build or VM run failed (console: $console)"

echo
echo "== Kernel log while spanheap_demo.ko was loaded and unloaded:"
sed -n '/SPANHEAP-DEMO-LOADING/,/SPANHEAP-DEMO-UNLOADED/{/^\[/s/^\[ *[0-9]*\.[0-9]*\] */  /p}' "$console"
echo
echo "== debugfs statistics (/sys/kernel/debug/spanheap/<heap>/<file>) with the demo loaded:"
extract_block "$console" stock | sed -n 's/^# == \/sys\/kernel\/debug\/spanheap\//  -- /p; s/^#    /     /p'
echo
echo "== Steps:"
extract_block "$console" stock | grep -E '^(not )?ok ' | sed 's/^/  /'
echo
if find_splats "$console" >/dev/null || grep -q '^not ok' <(extract_block "$console" stock); then
	echo "Something went wrong: see $console"
	exit 1
fi
echo "All good. Full console log: $console"
