# shellcheck shell=sh
# Guest body for shell.sh (busybox sh, after guest-lib.sh): load the module
# and set up the login shell that run-vm.sh --interactive starts next.
insmod /mods/spanheap.ko || echo "SPANHEAP-FAIL insmod spanheap.ko"
cat >/etc/profile <<'PROFILE'
export PATH=/bin:/sbin:/usr/bin:/usr/sbin:/opt:/opt/selftests HOME=/root
PS1='guest:\w# '
# Leaving: the init script reboots the guest once this shell exits.
poweroff() { exit 0; }
reboot() { exit 0; }
halt() { exit 0; }
cd /root
PROFILE
cp /opt/demo.shc /root/ 2>/dev/null
dmesg -n 1 # kernel messages stay in dmesg, off the prompt
echo "spanheap shell: $(uname -r), spanheap.ko loaded, debugfs at /sys/kernel/debug"
echo "  spanheapctl -e 'alloc A data 8; stats'   spanheapctl -f demo.shc   spanheap_selftest   lsmod"
echo "  exit (or poweroff) to leave"
