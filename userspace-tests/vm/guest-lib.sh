# shellcheck shell=sh
# Guest-side helpers (busybox sh), prepended to the tiers' guest scripts.
# Settings the host may put before this file: SELFTEST_TIMEOUT (seconds per
# selftest program, default 600).

# cgroup v2 for the memcg selftest (spanheap_memcg may mount it itself; a
# failure here is harmless, e.g. a kernel without CONFIG_CGROUPS).
if [ -d /sys/fs/cgroup ] && ! grep -q ' /sys/fs/cgroup cgroup2 ' /proc/mounts; then
	mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null &&
		echo +memory >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
fi

# now_s: seconds since boot (integer).
now_s() { cut -d. -f1 /proc/uptime; }

# run_one <block name> <program> [args...]: run a TAP-printing program
# between markers, killed after $SELFTEST_TIMEOUT s (then rc 137 fails it).
run_one() {
	name=$1; shift
	echo "SPANHEAP-KTAP-BEGIN $name"
	t0=$(now_s)
	timeout -s KILL "${SELFTEST_TIMEOUT:-600}" "$@"
	rc=$?
	echo "SPANHEAP-KTAP-END rc=$rc"
	echo "SPANHEAP-TIME $name $(($(now_s) - t0)) s"
}

# run_selftests: every executable in /opt/selftests, its TAP between markers.
run_selftests() {
	[ -d /opt/selftests ] || return 0
	for t in /opt/selftests/*; do
		if [ ! -f "$t" ] || [ ! -x "$t" ]; then continue; fi
		run_one "selftest:${t##*/}" "$t"
	done
}

# run_extra: the optional /opt/guest-extra.sh hook.
# dump_kunit: every KUnit suite's debugfs results as a block, printk quiet
# meanwhile so that no console line lands inside one (splats print before).
dump_kunit() {
	dmesg -n 1
	for d in /sys/kernel/debug/kunit/*/; do
		[ -f "$d/results" ] || continue
		s=${d%/}; s=${s##*/}
		echo "SPANHEAP-KTAP-BEGIN $s"
		cat "$d/results"
		echo "SPANHEAP-KTAP-END rc=0"
	done
	dmesg -n 7
}

run_extra() {
	[ -f /opt/guest-extra.sh ] || return 0
	sh /opt/guest-extra.sh || echo "SPANHEAP-FAIL guest-extra.sh rc=$?"
}

# setup_fault_injection: what syzkaller does. Nothing fails at random
# (probability 0); only /proc/thread-self/fail-nth, written by a test for one
# call of its own thread, fails the n-th allocation (slab, page, usercopy)
# including sleeping (GFP_KERNEL) and order-0 ones; verbose=0 keeps the
# injected failures off the console. Missing files are a failure only with
# `setup_fault_injection required` (the debug kernel has them all).
setup_fault_injection() {
	fi_bad=0
	for a in failslab fail_page_alloc fail_usercopy; do
		d=/sys/kernel/debug/$a
		if [ ! -d $d ]; then
			[ "$1" = required ] && echo "SPANHEAP-FAIL fault injection: $d missing"
			continue
		fi
		for kv in probability=0 interval=1 times=-1 space=0 verbose=0 \
			task-filter=N ignore-gfp-wait=N ignore-gfp-highmem=N min-order=0; do
			f=$d/${kv%%=*}
			[ -e "$f" ] || continue
			echo "${kv#*=}" >"$f" || fi_bad=1
		done
	done
	if [ ! -e /proc/thread-self/fail-nth ]; then
		[ "$1" = required ] && echo "SPANHEAP-FAIL fault injection: /proc/thread-self/fail-nth missing"
	fi
	[ $fi_bad = 0 ] || echo "SPANHEAP-FAIL fault injection: a debugfs write failed"
	[ "$1" = required ] && echo "SPANHEAP-FAULTINJ ready"
	return 0
}

# Load/unload cycles: each cycle loads <ko>, opens /dev/spanheap from three
# processes at once (objects of every size class, REF graphs, finalizers,
# a collection that leaves finalizer events unread), checks that rmmod is
# refused while a file is open, closes everything and unloads. One TAP line
# per 10 cycles, printed as block "loadunload" at the end.
# (spanheapctl -e splits on ';' only: no newline inside a script.)
LU_SCRIPT_A='alloc A ref 2; alloc B data 40000; store A 0 B; alloc C data 200000;'\
' store A 1 C; finalizer A 7; finalizer B 8; alloc R ref 1; root R; alloc D data 64;'\
' store R 0 D; finalizer D 9; write D 0 live; gc wait; gc wait; read D 0 4'
LU_SCRIPT_B='alloc X ref 1; alloc Y ref 1; store X 0 Y; store Y 0 X; finalizer X 1;'\
' alloc Z data 150000; finalizer Z 2; gc wait; events; alloc W data 16; finalizer W 3;'\
' gc wait'
LU_SCRIPT_C='alloc P data 8; alloc Q data 4000; alloc S data 33000; alloc T ref 3;'\
' root T; store T 0 P; store T 1 Q; store T 2 S; unroot T; finalizer T 11; gc;'\
' gc wait; stats'

lu_log() { echo "# cycle $lu_i: $*" >>$lu_tap; lu_ok=0; }

lu_cycle() {
	lu_ok=1
	insmod "$1" || { lu_log "insmod $1 failed"; return 1; }
	if [ ! -c /dev/spanheap ]; then
		lu_log "/dev/spanheap missing after insmod"
	else
		spanheapctl -e "$LU_SCRIPT_A" >/tmp/lu-a.out 2>&1 &
		pa=$!
		spanheapctl -e "$LU_SCRIPT_B" >/tmp/lu-b.out 2>&1 &
		pb=$!
		spanheapctl -e "$LU_SCRIPT_C" >/tmp/lu-c.out 2>&1
		rc=$?
		[ $rc = 0 ] || lu_log "spanheapctl C rc=$rc: $(tail -n 2 /tmp/lu-c.out | tr '\n' ' ')"
		wait $pa; rc=$?
		[ $rc = 0 ] || lu_log "spanheapctl A rc=$rc: $(tail -n 2 /tmp/lu-a.out | tr '\n' ' ')"
		wait $pb; rc=$?
		[ $rc = 0 ] || lu_log "spanheapctl B rc=$rc: $(tail -n 2 /tmp/lu-b.out | tr '\n' ' ')"
		if [ "$lu_i" = 1 ]; then # show what one cycle does
			for o in a b c; do sed "s/^/# cycle 1 $o: /" /tmp/lu-$o.out >>$lu_tap; done
		fi
		# An open file pins the module. (`command`: a failed exec
		# redirection must not end the script.)
		if ! command exec 3<>/dev/spanheap; then
			lu_log "open /dev/spanheap failed"
		elif rmmod spanheap 2>/dev/null; then
			lu_log "rmmod succeeded with /dev/spanheap open"
			exec 3>&-
			return 1
		fi
		exec 3>&-
	fi
	if ! rmmod spanheap; then
		lu_log "rmmod failed after every file was closed"
		# Unload anyway so that the next cycle can load (deadline 10 s).
		dl=$(($(now_s) + 10))
		while grep -q '^spanheap ' /proc/modules && [ "$(now_s)" -lt $dl ]; do
			rmmod spanheap 2>/dev/null || sleep 1
		done
	fi
	! grep -q '^spanheap ' /proc/modules || lu_log "spanheap still loaded"
	[ $lu_ok = 1 ]
}

# loadunload <ko> [cycles]: run the cycles (default 50) and print the block.
loadunload() {
	lu_tap=/tmp/loadunload.tap
	lu_cycles=${2:-50}
	: >$lu_tap
	lu_i=0 lu_t=0 lu_bad=0 lu_first=1 t0=$(now_s)
	if grep -q '^spanheap ' /proc/modules; then
		echo "# spanheap was loaded before the cycles" >>$lu_tap
		rmmod spanheap
	fi
	if ! command -v spanheapctl >/dev/null; then
		echo "not ok 1 - load/unload: spanheapctl missing in the guest" >>$lu_tap
		lu_t=1
	else
		while [ $lu_i -lt "$lu_cycles" ]; do
			lu_i=$((lu_i + 1))
			lu_cycle "$1" || lu_bad=$((lu_bad + 1))
			if [ $((lu_i % 10)) = 0 ] || [ $lu_i = "$lu_cycles" ]; then
				lu_t=$((lu_t + 1))
				if [ $lu_bad = 0 ]; then r=ok; else r="not ok"; fi
				echo "$r $lu_t - load/unload cycles $lu_first-$lu_i: insmod, 3 files with unread events, rmmod refused while open, close, rmmod" >>$lu_tap
				lu_bad=0 lu_first=$((lu_i + 1))
			fi
		done
	fi
	dmesg -n 1
	echo "SPANHEAP-KTAP-BEGIN loadunload"
	echo "TAP version 13"
	echo "1..$lu_t"
	cat $lu_tap
	echo "# $lu_i cycles in $(($(now_s) - t0)) s"
	echo "SPANHEAP-KTAP-END rc=0"
	dmesg -n 7
}

# trace_demo <demo script>: the tracepoints through tracefs. Enables
# events/spanheap, runs the demo script through spanheapctl (alone: no
# other heap may exist meanwhile), and checks the records against what the
# script and spanheapctl's output determine; one TAP step each through the
# caller's `step <desc> <command...>`, notes to the caller's $tap. Trace kept
# in /tmp/trace.out.
TRACE_EVENTS='spanheap_cycle_start spanheap_cycle_end spanheap_sweep_span
spanheap_finalizer_queued spanheap_finalizer_run spanheap_cleanup_queued
spanheap_cleanup_run spanheap_uheap_event_queued spanheap_uheap_event_read'
tr_n() { grep -c " $1: " /tmp/trace.out; } # records of event $1
tr_vals() { # tr_vals <event> <field>: the field's values, one a line
	grep " $1: " /tmp/trace.out | sed -n "s/.* $2=\([^ ]*\).*/\1/p"
}
tr_mount() {
	for trd in /sys/kernel/tracing /sys/kernel/debug/tracing; do
		[ -d "$trd"/events ] && return 0
	done
	trd=/sys/kernel/tracing
	mount -t tracefs nodev $trd && [ -d "$trd"/events ]
}
tr_has_events() {
	for e in $TRACE_EVENTS; do
		[ -f "$trd"/events/spanheap/$e/format ] || { echo "# missing event $e" >>"$tap"; return 1; }
	done
}
tr_run() { # tracing on, the demo, tracing off; the trace to /tmp/trace.out
	echo 0 >"$trd"/tracing_on && echo 4096 >"$trd"/buffer_size_kb && : >"$trd"/trace &&
		echo 1 >"$trd"/events/spanheap/enable && echo 1 >"$trd"/tracing_on || return 1
	spanheapctl -f "$1" >/tmp/trace-demo.out 2>&1
	rc=$?
	echo 0 >"$trd"/tracing_on
	echo 0 >"$trd"/events/spanheap/enable
	cat "$trd"/trace >/tmp/trace.out
	[ $rc = 0 ] || { tail -n 5 /tmp/trace-demo.out | sed 's/^/# demo: /' >>"$tap"; return 1; }
}
tr_complete() { # nothing lost: "entries-in-buffer/entries-written: N/N"
	grep -q 'entries-in-buffer/entries-written: \([0-9]*\)/\1 ' /tmp/trace.out
}
tr_one_heap() { # every record names the same heap, and there are records
	ids=$( (tr_vals spanheap_cycle_end heap | sed 's/.*-//'; grep ' spanheap_' /tmp/trace.out |
		sed -n 's/.* heap_id=\([0-9]*\).*/\1/p') | sort -u)
	[ -n "$ids" ] && [ "$(echo "$ids" | wc -l)" = 1 ]
}
tr_cycles() { # as many starts as ends, >= the script's `gc wait`s, numbered 1..N
	ngc=$(grep -c '^gc wait' "$1")
	ns=$(tr_n spanheap_cycle_start) ne=$(tr_n spanheap_cycle_end)
	echo "# cycle_start $ns, cycle_end $ne, gc wait $ngc" >>"$tap"
	[ "$ns" = "$ne" ] && [ "$ne" -ge "$ngc" ] && [ "$ngc" -gt 0 ] &&
		[ "$(tr_vals spanheap_cycle_end cycle | tr '\n' ' ')" = "$(seq 1 "$ne" | tr '\n' ' ')" ] &&
		[ "$(tr_vals spanheap_cycle_start cycle | tr '\n' ' ')" = "$(seq 1 "$ne" | tr '\n' ' ')" ]
}
tr_live() { # every cycle found objects live (X <-> Y never die) and paused
	! tr_vals spanheap_cycle_end live_objects | grep -qx 0 &&
		! tr_vals spanheap_cycle_end live_bytes | grep -qx 0 &&
		! tr_vals spanheap_cycle_end pause_ns | grep -qx 0 &&
		[ "$(tr_n spanheap_cycle_end)" -gt 0 ]
}
tr_sweeps() { # each cycle's marks were used by sweeps, and something was freed
	ne=$(tr_n spanheap_cycle_end)
	freed=$(tr_vals spanheap_sweep_span freed | awk '{ s += $1 } END { print s + 0 }')
	echo "# sweep_span $(tr_n spanheap_sweep_span) records, $freed objects freed" >>"$tap"
	[ "$freed" -gt 0 ] &&
		[ "$(tr_vals spanheap_sweep_span cycle | sort -un | tr '\n' ' ')" = "$(seq 1 "$ne" | tr '\n' ' ')" ]
}
tr_count() { # tr_count <event> <expected>
	echo "# $1: $(tr_n "$1") records, expected $2" >>"$tap"
	[ "$(tr_n "$1")" = "$2" ]
}
tr_seqs() { # the read records are the events spanheapctl printed, in order
	[ "$(tr_vals spanheap_uheap_event_read seq | tr '\n' ' ')" = \
		"$(sed -n 's/^event \([0-9]*\): .*/\1/p' /tmp/trace-demo.out | tr '\n' ' ')" ]
}
trace_demo() {
	step "tracefs is mounted" tr_mount || return 0
	step "tracefs has the 9 spanheap events" tr_has_events
	step "demo script with events/spanheap enabled" tr_run "$1"
	for e in $TRACE_EVENTS; do
		grep -m 2 " $e: " /tmp/trace.out | sed 's/^ */# trace: /' >>"$tap"
	done
	nfin=$(grep -c '^event [0-9]*: finalizer ' /tmp/trace-demo.out)
	nclean=$(grep -c '^event [0-9]*: cleanup ' /tmp/trace-demo.out)
	echo "# spanheapctl printed $nfin finalizer and $nclean cleanup events" >>"$tap"
	step "trace: no record lost" tr_complete
	step "trace: all records of the demo's one heap" tr_one_heap
	step "trace: cycle_start == cycle_end >= gc waits, cycles 1..N" tr_cycles "$1"
	step "trace: every cycle_end has live objects, live bytes, a pause" tr_live
	step "trace: sweep_span for every cycle, objects freed" tr_sweeps
	step "trace: finalizer_queued == finalizer events read" tr_count spanheap_finalizer_queued "$nfin"
	step "trace: finalizer_run == finalizer events read" tr_count spanheap_finalizer_run "$nfin"
	step "trace: cleanup_queued == cleanup events read" tr_count spanheap_cleanup_queued "$nclean"
	step "trace: cleanup_run == cleanup events read" tr_count spanheap_cleanup_run "$nclean"
	step "trace: uheap_event_queued == events read" tr_count spanheap_uheap_event_queued $((nfin + nclean))
	step "trace: uheap_event_read == events read" tr_count spanheap_uheap_event_read $((nfin + nclean))
	step "trace: uheap_event_read seqs == spanheapctl's events" tr_seqs
}
