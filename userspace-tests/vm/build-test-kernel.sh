#!/usr/bin/env bash
# Build (or reuse) a spanheap test kernel from Debian's linux-source-6.1.
# Usage: build-test-kernel.sh [fragment]   (default: testkernel.config, the
# KASAN/lockdep/kmemleak kernel; testkernel-kcsan.config is the KCSAN one).
# The O= build dir is cached as $CACHE/testkernel-<hash>, hash = sha256 of the
# config fragment + linux-source-6.1 package version. It is usable for
# `make -C <dir> M=<repo> modules`; bzImage is <dir>/arch/x86/boot/bzImage.
# Prints the build dir as the last line of stdout; progress goes to stderr,
# make output to $CACHE/testkernel-<hash>.log (SPANHEAP_VERBOSE=1: also stderr).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${SPANHEAP_CACHE:-$HOME/.cache/spanheap}
fragment=${1:-$here/testkernel.config}
[ -f "$fragment" ] || { echo "build-test-kernel: no fragment $fragment" >&2; exit 2; }
tarball=/usr/src/linux-source-6.1.tar.xz
src=$cache/linux-source-6.1

log() { echo "build-test-kernel: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

"$repo/scripts/deps.sh" vm
mkdir -p "$cache"

srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
hash=$( { cat "$fragment"; echo "linux-source-6.1 $srcver"; } | sha256sum | cut -c1-16)
out=$cache/testkernel-$hash
buildlog=$out.log

# Serialise builders of this config (a kernel of another config may build
# meanwhile); source extraction takes the shared lock below.
exec 9>"$out.lock"
flock 9

if [ -f "$out/arch/x86/boot/bzImage" ] && [ -f "$out/Module.symvers" ]; then
	log "reusing $out"
	echo "$out"
	exit 0
fi
exec 8>"$cache/testkernel.lock"
flock 8

# Untar the source when missing or from another package version (atomically).
stamp=$src/.spanheap-source-version
if [ -f "$src/Makefile" ] && [ ! -f "$stamp" ]; then
	# Pre-existing tree without a stamp: accept it if its upstream version matches.
	mkver=$(make -s -C "$src" kernelversion 2>/dev/null || true)
	[ "$mkver" = "${srcver%%-*}" ] && echo "$srcver" >"$stamp"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$srcver" ]; then
	log "extracting $tarball into $src"
	rm -rf "$src.tmp" "$src"
	mkdir -p "$src.tmp"
	tar -xJf "$tarball" -C "$src.tmp" --strip-components=1
	echo "$srcver" >"$src.tmp/.spanheap-source-version"
	mv "$src.tmp" "$src"
fi
flock -u 8

# Build in a temp dir, renamed only on success: a partial build is never reused.
rm -rf "$cache/testkernel-$hash.tmp".*
tmp=$cache/testkernel-$hash.tmp.$$
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"
cp "$fragment" "$tmp/.config"

run_make() {
	if [ "${SPANHEAP_VERBOSE:-0}" = 1 ]; then
		make -C "$src" O="$tmp" "$@" 2>&1 | tee -a "$buildlog" >&2
	else
		make -C "$src" O="$tmp" "$@" >>"$buildlog" 2>&1
	fi || { tail -n 40 "$buildlog" >&2; die "make $* failed (full log: $buildlog)"; }
}

: >"$buildlog"
log "configuring $tmp (srcver $srcver, log $buildlog)"
run_make olddefconfig

# Verify the fragment survived olddefconfig (unmet deps silently drop options).
missing=()
while IFS= read -r line; do
	case $line in
	CONFIG_*=*) grep -qxF "$line" "$tmp/.config" || missing+=("$line") ;;
	"# CONFIG_"*" is not set")
		opt=${line#\# }; opt=${opt%% *}
		grep -q "^$opt=[ym]" "$tmp/.config" && missing+=("$line")
		;;
	esac
done <"$fragment"
[ ${#missing[@]} -eq 0 ] || die "config options lost after olddefconfig: ${missing[*]}"

log "building bzImage + modules with -j$(nproc) (takes minutes)"
start=$SECONDS
run_make -j"$(nproc)" bzImage modules
log "built in $((SECONDS - start))s"

trap - EXIT
rm -rf "$out"
mv "$tmp" "$out"
echo "$out"
