#!/usr/bin/env bash
# Run the in-kernel benchmark module on Debian's stock kernel under QEMU TCG.
# Usage: bench-vm.sh <repo>
# Output: the `BENCH ...` lines spanheap_bench.ko printed (printk timestamp
# stripped), then `# a / b = x.xx` ratio lines, on stdout; console log
# <repo>/build/vm/bench-console.log.
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
# event_queue_max: events_read_1m queues 2^16 events at a time.
cat >"$body" <<'GUEST'
insmod /mods/spanheap.ko event_queue_max=1048576 || echo "SPANHEAP-FAIL insmod spanheap.ko"
insmod /mods/spanheap_bench.ko || echo "SPANHEAP-FAIL insmod spanheap_bench.ko"
rmmod spanheap_bench 2>/dev/null
/bin/spanheap_ioctl_bench || echo "SPANHEAP-FAIL spanheap_ioctl_bench"
rmmod spanheap || echo "SPANHEAP-FAIL rmmod spanheap"
GUEST
ioctl_bench=$repo/build/vm-bin/spanheap_ioctl_bench
[ -x "$ioctl_bench" ] || die "$ioctl_bench missing (make build/vm-bin/spanheap_ioctl_bench)"
rc=0
stock_run "$repo" bench "$body" --extra "$ioctl_bench:/bin/spanheap_ioctl_bench" || rc=$?
[ "$rc" -le 1 ] || die "module build or VM run failed (console: $console)"
grep -a 'SPANHEAP-FAIL' "$console" >&2 || true
find_splats "$console" >&2 && log "WARNING: kernel splats in $console (see above)"

# "[   12.345678] BENCH ..." or "[...] spanheap_bench: BENCH ..." -> "BENCH ...".
sed -n 's/^\[ *[0-9]*\.[0-9]*\] *//; s/^[A-Za-z0-9_]*: BENCH /BENCH /; /^BENCH /p' "$console" >"$repo/build/vm/bench.txt"
[ -s "$repo/build/vm/bench.txt" ] || die "no BENCH lines in $console"
cat "$repo/build/vm/bench.txt"

# ratio <bench> <impl> <peer impl>: "# <bench> <impl> / <bench> <peer> = x.xx"
ratio() {
	awk -v b="$1" -v i="$2" -v p="$3" '
		$2 == b && $3 == i { x = $4 }
		$2 == b && $3 == p { y = $4 }
		END {
			if (x == "" || y == "" || y == 0) { printf "# %s: missing figures\n", b; exit }
			printf "# %s %s / %s %s = %.2f\n", b, i, b, p, x / y
		}' "$repo/build/vm/bench.txt"
}
ratio kalloc_free_32 spanheap slub
for b in pagemap_lookup pagemap_miss; do
	for p in xarray xarray_xas maple maple_mas; do
		ratio $b spanheap $p
	done
done
ratio pagemap_memory spanheap xarray
ratio pagemap_memory spanheap maple

# ratio2 <bench a> <bench b> <bar>: "# a / b = x.xx (bar <= y)", same impl,
# and "  ** above bar **" as run.sh says it (judged before rounding).
ratio2() {
	awk -v a="$1" -v b="$2" -v bar="$3" '
		$2 == a && $3 == "spanheap" { x = $4 }
		$2 == b && $3 == "spanheap" { y = $4 }
		END {
			if (x == "" || y == "" || y == 0) { printf "# %s / %s: missing figures\n", a, b; exit }
			printf "# %s / %s = %.2f (bar <= %s)%s\n", a, b, x / y, bar,
			       x / y <= bar ? "" : "  ** above bar **"
		}' "$repo/build/vm/bench.txt"
}
ratio2 ioctl_alloc_fin ioctl_noop 2.5
ratio2 ioctl_alloc_fin_batch64 ioctl_alloc_fin 0.25
ratio2 events_read_1m ioctl_noop 0.1
