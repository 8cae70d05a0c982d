# shellcheck shell=sh
# Guest body for the stock tier (busybox sh, after guest-lib.sh).
# Collects TAP in /tmp/stock.tap and prints it as block "stock" at the end so
# no other block nests inside it; then 50 load/unload cycles (block
# "loadunload").  The tracepoints are checked first (trace_demo,
# guest-lib.sh).
D=/sys/kernel/debug/spanheap
n=0
tap=/tmp/stock.tap
: >$tap
step() { # step <desc> <command...>
	desc=$1; shift
	n=$((n + 1))
	if "$@"; then echo "ok $n - $desc" >>$tap; else echo "not ok $n - $desc" >>$tap; fi
}
dump_stats() {
	found=1
	for f in /sys/kernel/debug/spanheap/*/*; do
		[ -f "$f" ] || continue
		found=0
		echo "# == $f" >>$tap
		cat "$f" >/tmp/stat.out || return 1
		sed 's/^/#    /' /tmp/stat.out >>$tap
	done
	return $found
}
demo_dir() { # the demo heap's dir: demo, or demo-<id>
	for d in "$D"/demo "$D"/demo-*; do [ -d "$d" ] && return 0; done
	return 1
}
gone() { ! grep -q '^spanheap ' /proc/modules; }
# debugfs why: the demo heap's first never-finalized object (an id from
# finalizer_cycles) is reported on the cycle through its own finalizer.
why_cycle() {
	for d in "$D"/demo "$D"/demo-*; do [ -d "$d" ] && break; done
	id=$(head -n 1 "$d/finalizer_cycles")
	case $id in 0*) ;; *) return 1 ;; esac
	echo "$id" >"$d/why" || return 1
	cat "$d/why" >/tmp/why.out || return 1
	sed 's/^/#    /' /tmp/why.out >>$tap
	grep -q "^$id: never finalized, on a cycle through its own finalizer: $id+[0-9]* -> .*$id\$" /tmp/why.out
}

step "insmod spanheap.ko" insmod /mods/spanheap.ko
step "$D exists" test -d $D
# Before any other heap exists: the demo's must be the only one traced.
trace_demo /opt/demo.shc
echo "SPANHEAP-DEMO-LOADING"
step "insmod spanheap_demo.ko" insmod /mods/spanheap_demo.ko
step "$D/demo (or demo-<id>) exists" demo_dir
step "read every file under $D/*/" dump_stats
step "debugfs why names a never-finalized object's cycle" why_cycle
run_extra
run_selftests
step "rmmod spanheap_demo" rmmod spanheap_demo
echo "SPANHEAP-DEMO-UNLOADED"
step "rmmod spanheap" rmmod spanheap
step "spanheap gone from /proc/modules" gone

dmesg -n 1
echo "SPANHEAP-KTAP-BEGIN stock"
echo "TAP version 13"
echo "1..$n"
cat $tap
echo "SPANHEAP-KTAP-END rc=0"
dmesg -n 7
loadunload /mods/spanheap.ko 50
