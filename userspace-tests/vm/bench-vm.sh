#!/usr/bin/env bash
# Run the in-kernel benchmark module on Debian's stock kernel under QEMU TCG.
# Usage: bench-vm.sh <repo>
# Output: the `BENCH ...` lines spanheap_bench.ko printed (printk timestamp
# stripped) on stdout; console log <repo>/build/vm/bench-console.log.
# Fails when there is no BENCH line. TCG timings are only comparable run to run.
set -euo pipefail
tier=bench
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -eq 1 ] || { echo "usage: $0 <repo>" >&2; exit 2; }
repo=$(cd "$1" && pwd)
console=$repo/build/vm/bench-console.log
mkdir -p "$repo/build/vm"
rm -f "$console"

body=$(mktemp "${TMPDIR:-/tmp}/spanheap-bench.XXXXXX")
trap 'rm -f "$body"' EXIT
cat >"$body" <<'GUEST'
insmod /mods/spanheap.ko || echo "SPANHEAP-FAIL insmod spanheap.ko"
insmod /mods/spanheap_bench.ko || echo "SPANHEAP-FAIL insmod spanheap_bench.ko"
rmmod spanheap_bench 2>/dev/null
rmmod spanheap || echo "SPANHEAP-FAIL rmmod spanheap"
GUEST
rc=0
stock_run "$repo" bench "$body" || rc=$?
[ "$rc" -le 1 ] || die "module build or VM run failed (console: $console)"
grep -a 'SPANHEAP-FAIL' "$console" >&2 || true
find_splats "$console" >&2 && log "WARNING: kernel splats in $console (see above)"

# "[   12.345678] BENCH ..." or "[...] spanheap_bench: BENCH ..." -> "BENCH ...".
sed -n 's/^\[ *[0-9]*\.[0-9]*\] *//; s/^[A-Za-z0-9_]*: BENCH /BENCH /; /^BENCH /p' "$console" >"$repo/build/vm/bench.txt"
[ -s "$repo/build/vm/bench.txt" ] || die "no BENCH lines in $console"
cat "$repo/build/vm/bench.txt"
