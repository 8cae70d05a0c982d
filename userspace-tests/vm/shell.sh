#!/usr/bin/env bash
# An interactive busybox shell in QEMU (TCG) with spanheap.ko loaded:
# spanheapctl, the selftests and fuzzer (build/vm-selftests/*, in
# /opt/selftests) and demo.shc on PATH, debugfs mounted. `exit` (or poweroff)
# ends it. Kernel: Debian's stock one (default) or, with `test`, the cached
# debug test kernel (KASAN, lockdep; build-test-kernel.sh).
# Usage: shell.sh <repo> [stock|test]   Console log: <repo>/build/vm/shell-console.log
set -euo pipefail
tier=shell
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ $# -lt 1 ] || [ $# -gt 2 ]; then echo "usage: $0 <repo> [stock|test]" >&2; exit 2; fi
repo=$(cd "$1" && pwd)
kernel=${2:-stock}
console=$repo/build/vm/shell-console.log
mkdir -p "$repo/build/vm"
rm -f "$console"

extras=(--extra "$repo/build/vm-bin/spanheapctl:/bin/spanheapctl"
	--extra "$repo/userspace-tests/uapi/demo.shc:/opt/demo.shc")
[ -d "$repo/build/vm-selftests" ] && extras+=(--extra "$repo/build/vm-selftests:/opt/selftests")
banner() { echo "== spanheap shell on $1 in QEMU (TCG, boots in 10-60 s); leave with 'exit' (or poweroff); Ctrl-A x kills QEMU; console log $console" >&2; }

rc=0
case $kernel in
stock)
	banner "Debian's kernel $(stock_kver)"
	stock_run "$repo" shell "$vm_dir/shell-guest.sh" --interactive "${extras[@]}" || rc=$?
	;;
test)
	kdir=$("$vm_dir/build-test-kernel.sh" | tail -n 1) || die "test kernel build failed"
	build_module "$kdir" "$repo" "$repo/build/vm/mods-shell-test" || die "module build against $kdir failed"
	banner "the debug test kernel ($kdir)"
	guest=$(mktemp "${TMPDIR:-/tmp}/spanheap-guest.XXXXXX")
	trap 'rm -f "$guest"' EXIT
	cat "$guest_lib" "$vm_dir/shell-guest.sh" >"$guest"
	"$vm_dir/run-vm.sh" --kernel "$kdir/arch/x86/boot/bzImage" --module-dir "$repo/build/vm/mods-shell-test" \
		--script "$guest" --log "$console" --interactive "${extras[@]}" || rc=$?
	;;
*) echo "usage: $0 <repo> [stock|test]" >&2; exit 2 ;;
esac
exit "$rc"
