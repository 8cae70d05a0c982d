#!/usr/bin/env bash
# Install the Debian packages a test tier needs, only when some are missing.
# Usage: scripts/deps.sh <group>...   groups: user vm stock demo kunit dkms
# demo: what `make demo` and `make shell` use (Debian's kernel + headers,
# QEMU, busybox, static builds of the 64-bit guest programs; build-essential
# brings libc6-dev). No Go, Boehm GC or multilib: those are `user`'s.
# dkms: check-dkms's (DKMS, pkg-config, groff and man for the man page,
# openssl for DKMS's signing key, the stock kernel and QEMU).
# kunit: what userspace-tests/ktap-count.sh needs (kunit.py comes out of
# linux-source-6.1's tarball); the check-* targets add it to their group, so
# that `make demo`, `make bench` and `make fuzz` do not download it.
set -euo pipefail

declare -A GROUPS_PKGS=(
	[user]="build-essential gcc-multilib liburcu-dev libgc-dev golang-go python3 gcovr clang libclang-rt-14-dev libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0 gnuplot-nox"
	[vm]="build-essential python3 linux-source-6.1 qemu-system-x86 busybox-static cpio bc flex bison libelf-dev libssl-dev dwarves"
	[stock]="build-essential linux-image-amd64 linux-headers-amd64 qemu-system-x86 busybox-static cpio python3"
	[demo]="build-essential linux-image-amd64 linux-headers-amd64 qemu-system-x86 busybox-static cpio"
	[kunit]="python3 linux-source-6.1"
	[dkms]="build-essential dkms openssl kmod pkg-config groff-base man-db linux-image-amd64 linux-headers-amd64 qemu-system-x86 busybox-static cpio"
)

[ $# -gt 0 ] || { echo "usage: $0 {user|vm|stock|demo|kunit|dkms}..." >&2; exit 2; }

missing=()
for group in "$@"; do
	[ -n "${GROUPS_PKGS[$group]+x}" ] || { echo "deps.sh: unknown group '$group'" >&2; exit 2; }
	for pkg in ${GROUPS_PKGS[$group]}; do
		# dpkg -s succeeds for removed-but-configured packages too; check Status.
		if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
			case " ${missing[*]-} " in *" $pkg "*) ;; *) missing+=("$pkg") ;; esac
		fi
	done
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "deps.sh: installing ${missing[*]}" >&2
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
