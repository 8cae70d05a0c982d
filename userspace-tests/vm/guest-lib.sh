# shellcheck shell=sh
# Guest-side helpers (busybox sh), prepended to the tiers' guest scripts.

# run_selftests: every executable in /opt/selftests, its TAP between markers.
run_selftests() {
	[ -d /opt/selftests ] || return 0
	for t in /opt/selftests/*; do
		if [ ! -f "$t" ] || [ ! -x "$t" ]; then continue; fi
		echo "SPANHEAP-KTAP-BEGIN selftest:${t##*/}"
		"$t"
		echo "SPANHEAP-KTAP-END rc=$?"
	done
}

# run_extra: the optional /opt/guest-extra.sh hook.
run_extra() {
	[ -f /opt/guest-extra.sh ] || return 0
	sh /opt/guest-extra.sh || echo "SPANHEAP-FAIL guest-extra.sh rc=$?"
}
