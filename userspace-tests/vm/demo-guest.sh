# shellcheck shell=sh
# Guest body for demo.sh (busybox sh, after guest-lib.sh): the in-kernel
# demo module, then the spanheapctl demo script through /dev/spanheap.
insmod /mods/spanheap.ko || echo "SPANHEAP-FAIL insmod spanheap.ko"
echo "SPANHEAP-DEMO-LOADING"
insmod /mods/spanheap_demo.ko || echo "SPANHEAP-FAIL insmod spanheap_demo.ko"
rmmod spanheap_demo || echo "SPANHEAP-FAIL rmmod spanheap_demo"
echo "SPANHEAP-DEMO-UNLOADED"
dmesg -n 1
echo "SPANHEAP-KTAP-BEGIN spanheapctl"
/bin/spanheapctl -f /opt/demo.shc
echo "SPANHEAP-KTAP-END rc=$?"
# The same tool for a harness: events, stats and why paths as JSON lines.
echo "SPANHEAP-KTAP-BEGIN spanheapctl-json"
/bin/spanheapctl --json -e 'alloc L ref 3; alloc M ref 1; store L 2 M; root L; finalizer M 7; why M; unroot L; gc wait; events; why M; stats'
echo "SPANHEAP-KTAP-END rc=$?"
for f in /sys/kernel/debug/spanheap/*/stats; do
	[ -f "$f" ] && echo "SPANHEAP-STATS $f"
done
dmesg -n 7
rmmod spanheap || echo "SPANHEAP-FAIL rmmod spanheap"
