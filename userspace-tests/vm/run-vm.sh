#!/usr/bin/env bash
# Boot a kernel under QEMU TCG with a busybox initramfs and run a shell
# fragment as root inside it. The serial console goes to --log (and stderr with
# --verbose or SPANHEAP_VERBOSE=1).
#
# Usage: run-vm.sh --kernel <bzImage> --module-dir <dir with *.ko> --script <file>
#                  --log <console log> [--extra <src>[:<guest path>]]...
#                  [--timeout <s>] [--mem 1G] [--smp 2] [--cpu max]
#                  [--append <kernel args>] [--plugin <file.so,args>]
#                  [--verbose] [--interactive]
# Guest: *.ko copied to /mods (the cwd of the fragment); an --extra without a
# guest path lands in /opt/<name>; /proc, /sys, /sys/kernel/debug, /dev mounted.
# The guest prints `SPANHEAP-VM-DONE rc=<n>` after the fragment, then reboots.
# Exit: 0 = fragment rc 0; 1 = fragment rc != 0; 2 = timeout, crash or no marker.
# --interactive: after the fragment, a login shell (`setsid cttyhack sh -l`,
# so Ctrl-C works) on the serial console, which is this terminal (QEMU
# -serial mon:stdio: Ctrl-A x kills QEMU); the console is also copied to --log.
# `exit` ends the shell, then the guest reboots and QEMU exits. No --timeout
# (the user decides); exit status is QEMU's (0 after a clean reboot -f).
set -euo pipefail

usage() { sed -n '2,/^set -e/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 2; }

kernel='' moddir='' script='' log='' append='' plugin=()
timeout_s=300 mem=1G smp=2 cpu=max verbose=${SPANHEAP_VERBOSE:-0} interactive=0
extras=()
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=$2; shift ;;
	--module-dir) moddir=$2; shift ;;
	--script) script=$2; shift ;;
	--log) log=$2; shift ;;
	--extra) extras+=("$2"); shift ;;
	--timeout) timeout_s=$2; shift ;;
	--mem) mem=$2; shift ;;
	--smp) smp=$2; shift ;;
	--cpu) cpu=$2; shift ;;
	--append) append=$2; shift ;;
	--plugin) plugin=(-plugin "$2"); shift ;;
	--verbose) verbose=1 ;;
	--interactive) interactive=1 ;;
	-h | --help) usage ;;
	*) echo "run-vm: unknown argument '$1'" >&2; usage ;;
	esac
	shift
done
if [ -z "$kernel" ] || [ -z "$script" ] || [ -z "$log" ]; then usage; fi
[ -r "$kernel" ] || { echo "run-vm: kernel '$kernel' not readable" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/spanheap-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,mods,opt,etc,root}
# busybox-static's /bin/busybox: no shared libraries needed in the guest.
cp /bin/busybox "$root/bin/busybox"
cp "$script" "$root/spanheap-script.sh"
[ "$interactive" = 0 ] || : >"$root/spanheap-interactive"
if [ -n "$moddir" ]; then
	for ko in "$moddir"/*.ko; do [ -e "$ko" ] && cp "$ko" "$root/mods/"; done
fi
for e in "${extras[@]+"${extras[@]}"}"; do
	src=${e%%:*} dst=/opt/$(basename "${e%%:*}")
	[ "$src" != "$e" ] && dst=${e#*:}
	mkdir -p "$root$(dirname "$dst")"
	cp -r "$src" "$root$dst"
done

cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t debugfs debugfs /sys/kernel/debug
export PATH=/bin:/sbin:/usr/bin:/usr/sbin:/opt HOME=/root
echo "SPANHEAP-VM-START $(uname -r) uptime $(cut -d" " -f1 /proc/uptime)"
cd /mods
sh /spanheap-script.sh
rc=$?
if [ -e /spanheap-interactive ]; then
	setsid cttyhack sh -l
	echo "SPANHEAP-SHELL-EXIT rc=$?"
fi
echo "SPANHEAP-VM-DONE rc=$rc"
sync
reboot -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet --owner=0:0) >"$work/initrd.cpio"

# TCG only: KVM hangs on these machines.
serial=(-monitor none -serial stdio)
[ "$interactive" = 0 ] || serial=(-serial mon:stdio)
qemu=(qemu-system-x86_64 -machine q35 -accel tcg -cpu "$cpu" -m "$mem" -smp "$smp"
	-nographic "${serial[@]}" -no-reboot "${plugin[@]+"${plugin[@]}"}"
	-kernel "$kernel" -initrd "$work/initrd.cpio"
	-append "console=ttyS0 panic=-1 loglevel=7 printk.time=1 kmemleak=on $append")
mkdir -p "$(dirname "$log")"
start=$SECONDS
if [ "$interactive" = 1 ]; then
	# The terminal is the serial console (raw while QEMU runs); tee keeps a
	# copy. The monitor shares stdio (Ctrl-A c), so no -monitor none.
	set +e
	"${qemu[@]}" | tee "$log"
	qrc=${PIPESTATUS[0]}
	set -e
	sed -i 's/\r$//' "$log"
	echo "run-vm: QEMU exited rc=$qrc after $((SECONDS - start))s, log $log" >&2
	exit "$qrc"
fi
set +e
if [ "$verbose" = 1 ]; then
	timeout -k 5 "$timeout_s" "${qemu[@]}" </dev/null 2>&1 | tr -d '\r' | tee "$log" >&2
else
	timeout -k 5 "$timeout_s" "${qemu[@]}" </dev/null 2>&1 | tr -d '\r' >"$log"
fi
qrc=${PIPESTATUS[0]}
set -e
echo "run-vm: QEMU exited rc=$qrc after $((SECONDS - start))s, log $log" >&2

if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
	echo "run-vm: TIMEOUT after ${timeout_s}s" >&2
	exit 2
fi
done_line=$(grep -a -o 'SPANHEAP-VM-DONE rc=[0-9]*' "$log" | tail -n 1 || true)
[ -n "$done_line" ] || { echo "run-vm: no SPANHEAP-VM-DONE marker (guest crashed?)" >&2; exit 2; }
[ "${done_line##*=}" = 0 ] || exit 1
