#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The dkms tier: the install paths a user takes (Documentation/spanheap/install.rst).
# Host (TAP block "dkms-host"):
#  - `make dkms-source`, then `dkms add`, `build`, `install` and `remove` of
#    spanheap/<VERSION> against Debian's linux-headers-amd64 kernel (the stock
#    tier's, stock_kver), all in build/dkms/ (--sourcetree, --dkmstree,
#    --installtree, --no-depmod; the signing key DKMS makes is
#    build/dkms/mok.*): the host's /usr/src, /var/lib/dkms and /lib/modules
#    are not touched, and the tier checks that they were not;
#  - `make install DESTDIR=` (the files expected, nothing else), then
#    programs built with `pkg-config --cflags --libs spanheap` against that
#    tree: libcheck shared (blocks "libcheck-shared") and static
#    ("libcheck-static"), the installed spanheapctl, the man page rendered by
#    groff/man with warnings on and listing every command `spanheapctl help`
#    does; `make uninstall DESTDIR=` leaves no file.
# Guest (Debian's kernel under QEMU TCG, blocks "dkms" and "devuser"): the
#  DKMS-built spanheap.ko is loaded; udev is not in the busybox initramfs, so
#  the installed udev rule is turned into the equivalent mdev.conf line
#  (KERNEL -> device name, GROUP, MODE) and busybox mdev applies it to
#  /dev/spanheap's add uevent (its sysfs uevent file, passed as the kernel
#  passes a hotplug helper's environment); the result must be what the rule
#  states (group spanheap, mode 0660), and the static devuser program, built
#  against the installed libspanheap, must be refused as a non-root user
#  outside the group and get in, allocate, write and read as one inside it.
# Usage: check-dkms.sh <repo>   Output: kunit.py's report per block, `dkms: N
# passed, N failed, N skipped`; tally <repo>/build/tally/dkms; logs in
# <repo>/build/dkms/ (console: <repo>/build/vm/dkms-console.log).
set -euo pipefail
tier=dkms
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -eq 1 ] || { echo "usage: $0 <repo>" >&2; exit 2; }
repo=$(cd "$1" && pwd)
out=$repo/build/dkms
console=$repo/build/vm/dkms-console.log
mkdir -p "$out" "$repo/build/vm"
# Keep the signing key (mok.*) between runs; the rest is this run's.
rm -rf "${out:?}"/{src,tree,modules,mods,destdir,bin,guest} "$out"/*.txt "$out"/*.log "$console"
mkdir -p "$out"/{src,tree,modules,mods,bin,guest}

[ "$(id -u)" -eq 0 ] || infra_fail "dkms add needs root (run as root, as make check's deps.sh assumes)"
kver=$(stock_kver)
ver=$(cat "$repo/VERSION")
kdir=/usr/src/linux-headers-$kver
log "stock kernel $kver, spanheap $ver"

htap=$out/tap-dkms-host.txt
hn=0
hsteps=$out/host-steps.txt
: >"$hsteps"
# hstep <description> <command...>: one TAP line; the command's output goes
# to $out/host.log (and its tail into the TAP as comments when it fails).
hstep() {
	local desc=$1 rc=0
	shift
	hn=$((hn + 1))
	echo "=== $hn - $desc" >>"$out/host.log"
	"$@" >>"$out/host.log" 2>&1 || rc=$?
	if [ "$rc" = 0 ]; then
		echo "ok $hn - $desc" >>"$hsteps"
	else
		echo "not ok $hn - $desc" >>"$hsteps"
		sed -n "/^=== $hn - /,\$p" "$out/host.log" | tail -n 15 | sed 's/^/# /' >>"$hsteps"
	fi
	return 0
}

# Host state DKMS or make install could touch: must be the same afterwards.
host_state() {
	{
		find /var/lib/dkms /usr/src -maxdepth 2 -name 'spanheap*' 2>/dev/null
		find "/lib/modules/$kver" -name 'spanheap*' 2>/dev/null
		find /var/lib/dkms -maxdepth 1 2>/dev/null
		stat -c '%n %Y' "/lib/modules/$kver/modules.dep" 2>/dev/null
	} | sort
}
host_state >"$out/host-before.txt"

dk=(dkms --sourcetree "$out/src" --dkmstree "$out/tree" --installtree "$out/modules" --no-depmod)
# DKMS signs with Debian's sign-file and makes a key if it has none: ours.
export mok_signing_key=$out/mok.key mok_certificate=$out/mok.pub
dkms_status() { "${dk[@]}" status spanheap 2>&1; }
status_is() { # status_is <state>: dkms status shows <state> for this version and kernel
	local s
	s=$(dkms_status)
	echo "dkms status: '$s'"
	case $1 in
	added) [ "$s" = "spanheap/$ver: added" ] ;;
	none) [ -z "$s" ] ;;
	*) [ "$s" = "spanheap/$ver, $kver, x86_64: $1" ] ;;
	esac
}
modinfo_ok() { # modinfo_ok <ko>: version is VERSION, vermagic the kernel's
	local v m
	v=$(modinfo -F version "$1") m=$(modinfo -F vermagic "$1")
	echo "version $v, vermagic $m"
	[ "$v" = "$ver" ] && [ "${m%% *}" = "$kver" ]
}
only_spanheap() { # the one module DKMS installs, nothing else
	local got
	got=$(cd "$out/modules" && find . -type f | sort)
	echo "installed: $got"
	[ "$got" = "./$kver/updates/dkms/spanheap.ko" ]
}

hstep "make dkms-source copies the module's sources to spanheap-$ver" \
	make -C "$repo" --no-print-directory dkms-source DKMS_SRC="$out/src"
hstep "the DKMS source tree holds no build products" \
	bash -c "! find '$out/src/spanheap-$ver' -name '*.o' -o -name '*.ko' -o -name '.*.cmd' | grep ."
hstep "dkms add -m spanheap -v $ver" "${dk[@]}" add -m spanheap -v "$ver"
hstep "dkms status: spanheap/$ver added" status_is added
hstep "dkms build -k $kver (Debian's linux-headers-amd64)" \
	"${dk[@]}" build -m spanheap -v "$ver" -k "$kver" --kernelsourcedir "$kdir"
hstep "dkms status: built for $kver" status_is built
mkdir -p "$out/modules/$kver"
hstep "dkms install -k $kver into build/dkms/modules" \
	"${dk[@]}" install -m spanheap -v "$ver" -k "$kver"
hstep "dkms status: installed for $kver" status_is installed
hstep "DKMS installed spanheap.ko alone, in updates/dkms" only_spanheap
ko=$out/modules/$kver/updates/dkms/spanheap.ko
hstep "the DKMS-built spanheap.ko: modinfo version $ver, vermagic $kver" modinfo_ok "$ko"
cp "$ko" "$out/mods/" 2>/dev/null || true
hstep "dkms remove spanheap/$ver --all" "${dk[@]}" remove -m spanheap -v "$ver" --all
hstep "dkms status: nothing after remove" status_is none

# make install into a DESTDIR, and programs built against it.
dest=$out/destdir
pfx=/usr/local
expected_files() {
	cat <<-EOF
		/etc/udev/rules.d/60-spanheap.rules
		/lib/modules/$kver/extra/spanheap.ko
		$pfx/bin/spanheapctl
		$pfx/include/spanheap/libspanheap.h
		$pfx/include/spanheap/linux/spanheap.h
		$pfx/lib/libspanheap.a
		$pfx/lib/libspanheap.so
		$pfx/lib/libspanheap.so.0
		$pfx/lib/libspanheap.so.$ver
		$pfx/lib/pkgconfig/spanheap.pc
		$pfx/share/man/man1/spanheapctl.1
	EOF
}
files_are() { # files_are <list file>: the files and links under $dest
	(cd "$dest" && find . -type f -o -type l) | sed 's/^\.//' | sort >"$out/destdir-files.txt"
	diff -u "$1" "$out/destdir-files.txt"
}
expected_files | sort >"$out/destdir-expected.txt"
: >"$out/empty.txt"
hstep "make install DESTDIR=build/dkms/destdir" \
	make -C "$repo" --no-print-directory install DESTDIR="$dest" KDIR="$kdir"
hstep "make install installed the module, rule, library, header, pc file, tool and man page (and no other file)" \
	files_are "$out/destdir-expected.txt"
hstep "libspanheap.so.0 -> libspanheap.so.$ver, soname libspanheap.so.0" \
	bash -c "[ \"\$(readlink '$dest$pfx/lib/libspanheap.so.0')\" = libspanheap.so.$ver ] &&
		readelf -d '$dest$pfx/lib/libspanheap.so.$ver' | grep -F '(SONAME)' | grep -F '[libspanheap.so.0]'"

pc=(env PKG_CONFIG_SYSROOT_DIR="$dest" PKG_CONFIG_LIBDIR="$dest$pfx/lib/pkgconfig" pkg-config)
hstep "pkg-config --modversion spanheap: $ver" bash -c "[ \"\$(${pc[*]} --modversion spanheap)\" = '$ver' ]"
cflags=$("${pc[@]}" --cflags spanheap 2>/dev/null || true)
libs=$("${pc[@]}" --libs spanheap 2>/dev/null || true)
slibs=$("${pc[@]}" --static --libs spanheap 2>/dev/null || true)
echo "# pkg-config: cflags '$cflags', libs '$libs'" >>"$hsteps"
bin=$out/bin
# shellcheck disable=SC2086  # pkg-config's flags are words
hstep "cc \$(pkg-config --cflags --libs spanheap) libcheck.c (shared)" \
	cc -Wall -Wextra -Werror $cflags -o "$bin/libcheck-shared" "$repo/userspace-tests/install/libcheck.c" $libs
hstep "libcheck-shared needs libspanheap.so.0" \
	bash -c "readelf -d '$bin/libcheck-shared' | grep -F '(NEEDED)' | grep -F '[libspanheap.so.0]'"
# shellcheck disable=SC2086
hstep "cc -static \$(pkg-config --static --cflags --libs spanheap) libcheck.c" \
	cc -Wall -Wextra -Werror -static $cflags -o "$bin/libcheck-static" "$repo/userspace-tests/install/libcheck.c" $slibs
hstep "libcheck-static is a static program" \
	bash -c "! readelf -d '$bin/libcheck-static' 2>/dev/null | grep -F '(NEEDED)'"
# Run them now, while the DESTDIR tree (the shared library) is there.
for v in shared static; do
	t=$out/tap-libcheck-$v.txt
	if [ -x "$bin/libcheck-$v" ]; then
		src=0
		LD_LIBRARY_PATH=$dest$pfx/lib "$bin/libcheck-$v" >"$t" 2>&1 || src=$?
		echo "# rc=$src" >>"$t"
	else
		printf 'TAP version 13\n1..1\nnot ok 1 - libcheck-%s was not built\n' "$v" >"$t"
	fi
done
# The guest's program: static (busybox only in the guest).
# shellcheck disable=SC2086
hstep "cc -static \$(pkg-config ...) devuser.c (for the guest)" \
	cc -Wall -Wextra -Werror -static $cflags -o "$out/guest/spanheap_devuser" "$repo/userspace-tests/install/devuser.c" $slibs

ctl=$dest$pfx/bin/spanheapctl
man=$dest$pfx/share/man/man1/spanheapctl.1
hstep "the installed spanheapctl runs (help) with no libspanheap.so to load" \
	bash -c "'$ctl' -e help | grep -q '^  alloc ' && ! readelf -d '$ctl' | grep -F libspanheap"
hstep "groff -man -ww renders spanheapctl.1 with no warning" \
	bash -c "w=\$(groff -man -Tutf8 -ww -z '$man' 2>&1); [ -z \"\$w\" ] || { echo \"\$w\"; false; }"
hstep "man -l spanheapctl.1 renders with no warning" \
	bash -c "w=\$(MANWIDTH=80 man --warnings -l '$man' 2>&1 >'$out/spanheapctl.1.txt'); [ -z \"\$w\" ] && grep -q '^NAME' '$out/spanheapctl.1.txt' || { echo \"\$w\"; false; }"
man_lists_all() { # every command of `spanheapctl help` is an item of the page
	local c missing=0
	for c in $("$ctl" -e help | awk '{ print $1 }'); do
		grep -qE "^\.BR? $c( |\$)|^\.BI $c " "$man" || { echo "not in spanheapctl.1: $c"; missing=1; }
	done
	return $missing
}
hstep "spanheapctl.1 documents every command spanheapctl help lists" man_lists_all
hstep "make uninstall DESTDIR=build/dkms/destdir" \
	make -C "$repo" --no-print-directory uninstall DESTDIR="$dest" KDIR="$kdir"
hstep "make uninstall left no file" files_are "$out/empty.txt"
host_state >"$out/host-after.txt"
hstep "the host's /usr/src, /var/lib/dkms and /lib/modules/$kver are as before" \
	diff -u "$out/host-before.txt" "$out/host-after.txt"

{
	echo "TAP version 13"
	echo "1..$hn"
	cat "$hsteps"
} >"$htap"
count_ktap dkms-host "$htap"
for v in shared static; do
	count_ktap "libcheck-$v" "$out/tap-libcheck-$v.txt"
done

# The guest: the DKMS-built module, the rule through mdev, the devuser program.
rules=$repo/udev/60-spanheap.rules
rule=$(grep -E '^KERNEL=="spanheap"' "$rules" || true)
rval() { sed -n "s/.*$1=\"\([^\"]*\)\".*/\1/p" <<<"$rule"; }
r_name=$(sed -n 's/^KERNEL=="\([^"]*\)".*/\1/p' <<<"$rule") r_group=$(rval GROUP) r_mode=$(rval MODE)
log "udev rule: $rule"
if [ -z "$r_name" ] || [ -z "$r_group" ] || [ -z "$r_mode" ]; then
	tier_fail "cannot read KERNEL, GROUP and MODE from $rules"
fi
# The guest takes the group from the rule itself: check it is the one
# make install creates, and that the rule matches the misc class.
mk_group=$(sed -n 's/.*groupadd -r \([a-z_][a-z0-9_-]*\).*/\1/p' "$repo/Makefile")
r_subsys=$(sed -n 's/.*SUBSYSTEM=="\([^"]*\)".*/\1/p' <<<"$rule")
[ "$r_group" = "$mk_group" ] || tier_fail "rule's GROUP $r_group is not make install's group '$mk_group'"
[ "$r_subsys" = misc ] || tier_fail "rule's SUBSYSTEM '$r_subsys' is not misc (/sys/class/misc/spanheap)"
if [ ! -f "$out/mods/spanheap.ko" ] || [ ! -x "$out/guest/spanheap_devuser" ]; then
	tier_fail "no DKMS-built spanheap.ko or devuser program: the guest is not run"
	tier_finish
	exit 1
fi
gid=971 uid=1000
g=$out/guest
# The rule as mdev.conf: "<device regex> <user>:<group> <octal mode>".
echo "^$r_name\$ root:$r_group ${r_mode#0}" >"$g/mdev.conf"
printf 'root:x:0:\n%s:x:%d:\nnogroup:x:65534:\n' "$r_group" "$gid" >"$g/group"
printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:%d:65534:user:/tmp:/bin/sh\n' "$uid" >"$g/passwd"
body=$(
	echo "DKMS_VERSION=$ver RULE_GROUP=$r_group RULE_MODE=${r_mode#0} USER_UID=$uid GROUP_GID=$gid"
	cat "$vm_dir/dkms-guest.sh"
)
rc=0
vm_run "/boot/vmlinuz-$kver" "$out/mods" "$console" 120 "${SPANHEAP_VM_TIMEOUT:-300}" "$body" \
	--extra "$g/spanheap_devuser:/opt/spanheap_devuser" --extra "$g/mdev.conf:/etc/mdev.conf" \
	--extra "$g/group:/etc/group" --extra "$g/passwd:/etc/passwd" || rc=$?
if [ "$rc" -gt 1 ] && [ ! -s "$console" ]; then
	tier_fail "VM run failed (console: $console)"
else
	count_run "$console" "$rc" "$out/tap-guest-" "$out/guest-splats.txt"
	[ "$nblocks" -ge 2 ] || tier_fail "the guest printed $nblocks of its 2 TAP blocks"
fi
tier_finish
