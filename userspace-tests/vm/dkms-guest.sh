# shellcheck shell=sh
# Guest body for the dkms tier (busybox sh, after guest-lib.sh; check-dkms.sh
# puts DKMS_VERSION, RULE_GROUP, RULE_MODE, USER_UID and GROUP_GID first).
# /mods/spanheap.ko is the DKMS build; /etc/mdev.conf is the udev rule's
# equivalent, /etc/group holds the rule's group. Block "devuser" (the
# program's TAP), then block "dkms" (these steps).
n=0
tap=/tmp/dkms.tap
: >$tap
step() { # step <desc> <command...>
	desc=$1; shift
	n=$((n + 1))
	if "$@"; then echo "ok $n - $desc" >>$tap; else echo "not ok $n - $desc" >>$tap; fi
}
dev_is() { # dev_is <user:group mode>: /dev/spanheap's owner, group and mode
	got=$(stat -c '%U:%G %a' /dev/spanheap)
	echo "# /dev/spanheap: $got (want $1)" >>$tap
	[ "$got" = "$1" ]
}
gid_is() { [ "$(stat -c '%g' /dev/spanheap)" = "$GROUP_GID" ]; }
# The add uevent of /dev/spanheap, as the kernel hands it to a hotplug helper
# (ACTION, DEVPATH, SUBSYSTEM and the device's uevent file: MAJOR, MINOR,
# DEVNAME), given to busybox mdev, which applies /etc/mdev.conf to it.
apply_rule() {
	devpath=$(readlink -f /sys/class/misc/spanheap)
	# shellcheck disable=SC2046  # the uevent file's lines are KEY=VALUE words
	env -i PATH="$PATH" ACTION=add DEVPATH="${devpath#/sys}" SUBSYSTEM=misc \
		$(cat /sys/class/misc/spanheap/uevent) mdev
}
version_is() { [ "$(cat /sys/module/spanheap/version)" = "$DKMS_VERSION" ]; }
gone() { ! grep -q '^spanheap ' /proc/modules; }

step "insmod the DKMS-built spanheap.ko" insmod /mods/spanheap.ko
step "the loaded module's version is $DKMS_VERSION (/sys/module/spanheap/version)" version_is
step "/dev/spanheap is a character device" test -c /dev/spanheap
step "before the rule: root:root 600 (the module's dev_mode)" dev_is "root:root 600"
echo "# mdev.conf: $(cat /etc/mdev.conf)" >>$tap
step "mdev applies the rule's mdev.conf line to the add uevent" apply_rule
step "after the rule: root:$RULE_GROUP $RULE_MODE, as 60-spanheap.rules states" \
	dev_is "root:$RULE_GROUP $RULE_MODE"
step "/dev/spanheap's gid is group $RULE_GROUP's ($GROUP_GID)" gid_is
run_one devuser /opt/spanheap_devuser "$USER_UID" "$GROUP_GID"
step "rmmod spanheap" rmmod spanheap
step "spanheap gone from /proc/modules" gone

dmesg -n 1
echo "SPANHEAP-KTAP-BEGIN dkms"
echo "TAP version 13"
echo "1..$n"
cat $tap
echo "SPANHEAP-KTAP-END rc=0"
dmesg -n 7
