#!/usr/bin/env bash
# Shared helpers for the QEMU tiers; sourced by check-vm.sh, check-kcsan.sh,
# check-stock.sh, bench-vm.sh, demo.sh and shell.sh. Not meant to be run
# directly.
# shellcheck disable=SC2034  # variables are used by the sourcing scripts

vm_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
spanheap_cache=${SPANHEAP_CACHE:-$HOME/.cache/spanheap}

# Console patterns that fail a tier (kernel splats). ERE, case-sensitive.
# (Lockdep reports start with WARNING:/BUG:/INFO:; a bare 'lockdep' would match
# the boot banner "RCU lockdep checking is enabled".) Fault injection's own
# output does not match: "FAULT_INJECTION: forcing a failure." and its stack
# dump (none at all with verbose=0, see setup_fault_injection), nor do the
# "page allocation failure" / "vmalloc error" notes of an injected failure;
# a WARN ("WARNING: CPU: ...") or BUG an injected failure provokes does.
splat_re='BUG:|WARNING:|KASAN:|UBSAN:|Kernel panic|Oops|general protection|possible circular locking|INFO: |DEBUG_LOCKS_WARN_ON|turning off the locking correctness validator|list_(add|del) corruption|ODEBUG:'

log() { echo "${tier:-vm}: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Newest installed Debian stock kernel version, e.g. 6.1.0-56-amd64.
stock_kver() {
	local v
	v=$(find /boot -maxdepth 1 -name 'vmlinuz-*-amd64' -printf '%f\n' | sed 's/^vmlinuz-//' | sort -V | tail -n 1)
	[ -n "$v" ] || die "no /boot/vmlinuz-*-amd64 (install linux-image-amd64)"
	[ -d "/usr/src/linux-headers-$v" ] || die "no /usr/src/linux-headers-$v (install linux-headers-amd64)"
	echo "$v"
}

# build_module <kdir> <repo> <dest dir> [make vars...]: build the out-of-tree
# module against <kdir> and copy the *.ko of this build (modules.order) to
# <dest>. No `make clean` (kbuild rebuilds objects whose flags changed, and the
# tree may be in use); serialised per repo since all kernels share M=<repo>.
build_module() {
	local kdir=$1 repo=$2 dest=$3 blog
	shift 3
	mkdir -p "$repo/build" "$dest"
	blog=$dest.build.log
	rm -f "$dest"/*.ko
	(
		flock 8
		make -C "$kdir" M="$repo" "$@" -j"$(nproc)" modules >"$blog" 2>&1 ||
			{ tail -n 40 "$blog" >&2; echo "module build against $kdir failed (log: $blog)" >&2; exit 1; }
		sed 's/\.o$/.ko/' "$repo/modules.order" | while read -r ko; do
			cp "$repo/${ko#"$repo"/}" "$dest"/ || exit 1
		done
	) 8>"$repo/build/.kbuild.lock"
}

# find_splats <console log>: print offending lines from the start of
# userspace on ("Run /init"; the whole log if that line is missing);
# succeed if there are any. A splat while the kernel itself boots, before
# any module can load (once: a spurious interrupt on an uninitialised
# irq_desc under TCG), is not spanheap's: boot_splats lists those.
find_splats() {
	awk -v re="$splat_re" '
		{ lines[NR] = $0 }
		/Run \/init as init process/ && !start { start = NR }
		END { for (i = start + 1; i <= NR; i++) if (lines[i] ~ re) { print i ":" lines[i]; n++ }
		      exit n ? 0 : 1 }' "$1"
}

# boot_splats <console log>: the splats before "Run /init", for the log.
boot_splats() {
	awk -v re="$splat_re" '/Run \/init as init process/ { exit } $0 ~ re { print NR ":" $0 }' "$1"
}

# show_guest_times <console log>: log the guest's per-program wall times.
show_guest_times() {
	local l
	while read -r l; do log "guest: ${l#*SPANHEAP-TIME }"; done \
		< <(grep -ao 'SPANHEAP-TIME .*' "$1" || true)
}

# show_fuzz_summary <ktap file>: log the fuzzer's result and op-count lines.
show_fuzz_summary() {
	local l
	while read -r l; do log "fuzz: $l"; done \
		< <(grep -aE '^(ok|not ok) |ops|rounds|seed' "$1" | grep -v '^# rc=' || true)
}

# kmemleak_ours <kmemleak report>: the report's blocks that concern us: a
# frame or comm naming spanheap/KUnit, an insmod/rmmod comm, or a frame that
# prints as a bare address (code of a module unloaded before the scan).
kmemleak_ours() {
	awk 'function flush() { if (blk ~ /spanheap|kunit|comm "(insmod|rmmod)"|\] 0x[0-9a-f]/) printf "%s", blk; blk = "" }
	     /^unreferenced object/ { flush() }
	     { blk = blk $0 "\n" }
	     END { flush() }' "$1"
}

# kcsan_split <console log> <dir>: kcsan_split.py (ours, core and known-benign
# core races; see its header).  Prints "<ours> <core>".
kcsan_split() {
	python3 "$(dirname "${BASH_SOURCE[0]}")/kcsan_split.py" "$1" "$2"
}

# Names of the SPANHEAP-KTAP-BEGIN blocks in a console log.
block_names() { sed -n 's/^.*SPANHEAP-KTAP-BEGIN \([^ ]*\).*$/\1/p' "$1"; }

# extract_block <log> <name>: the block's lines minus interleaved kernel printk
# lines (timestamped, printk.time=1). The END line's rc=<n> goes to "# rc=<n>".
extract_block() {
	awk -v name="$2" '
		$0 ~ "SPANHEAP-KTAP-BEGIN " && $2 == name { on = 1; next }
		on && /SPANHEAP-KTAP-END/ { sub(/.*SPANHEAP-KTAP-END ?/, ""); print "# " $0; exit }
		on && !/^\[ *[0-9]+\.[0-9]+\]/ { print }' "$1"
}

# write_tally <repo> <tier> <passed> <failed> <skipped>
write_tally() {
	mkdir -p "$1/build/tally"
	echo "$3 $4 $5" >"$1/build/tally/$2"
}

# A check tier's counts (check-vm.sh, check-kcsan.sh, check-stock.sh set $tier
# and $repo): every count_* below adds to them, tier_finish writes the tally.
passed=0 failed=0 skipped=0
t_start=$SECONDS
ktap_count=$vm_dir/../ktap-count.sh

# tier_finish: write <repo>/build/tally/$tier, print "$tier: N passed, N
# failed, N skipped"; fail if anything failed.
tier_finish() {
	write_tally "$repo" "$tier" "$passed" "$failed" "$skipped"
	log "wall time $((SECONDS - t_start)) s"
	echo "$tier: $passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
}

# tier_fail <message>: count one failure (a splat, a failed VM run, ...).
tier_fail() { log "FAIL: $*"; failed=$((failed + 1)); }

# infra_fail <message>: one failure that ends the tier (nothing ran to count).
infra_fail() {
	tier_fail "$@"
	tier_finish || true
	exit 1
}

# count_ktap <name> <file>: kunit.py's report of one KTAP file on stdout, its
# counts (ktap-count.sh: leaf cases, the "# rc=" trailer) added to the tier's.
count_ktap() {
	local counts p f s
	echo "== $1"
	{ counts=$("$ktap_count" -v "$2" 2>&3) ||
		{ log "FAIL: ktap-count.sh failed on $2"; counts="0 1 0"; }; } 3>&1
	read -r p f s <<<"$counts"
	log "$1: $p passed, $f failed, $s skipped"
	[ "$1" != selftest:spanheap_fuzz ] || show_fuzz_summary "$2"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

# count_run <console> <run-vm.sh status> <ktap prefix> <splat list> [<log>]:
# count a tier's QEMU run: a timeout or crash (status > 1) once, then still
# what the guest printed: each SPANHEAP-KTAP block (extracted to
# <ktap prefix><name>.txt, count_ktap), each SPANHEAP-FAIL line, and kernel
# splats in <log> (default the console; listed in <splat list>) once.
# Sets nblocks, and nsuites: the blocks that are KUnit suites.
count_run() {
	local console=$1 rc=$2 b kf blocks
	[ "$rc" -le 1 ] || tier_fail "VM run failed (rc=$rc, console: $console)"
	show_guest_times "$console"
	mapfile -t blocks < <(block_names "$console")
	nblocks=${#blocks[@]} nsuites=0
	for b in "${blocks[@]+"${blocks[@]}"}"; do
		kf=$3${b//:/_}.txt
		extract_block "$console" "$b" >"$kf"
		case $b in selftest:* | loadunload | stock | tracing) ;; *) nsuites=$((nsuites + 1)) ;; esac
		count_ktap "$b" "$kf"
	done
	if grep -a 'SPANHEAP-FAIL' "$console" >&2; then
		failed=$((failed + $(grep -ac 'SPANHEAP-FAIL' "$console")))
	fi
	if find_splats "${5:-$console}" >"$4"; then
		tier_fail "kernel splats in $console:"
		cat "$4" >&2
	fi
	boot_splats "${5:-$console}" | while read -r b; do
		log "note: a splat while the kernel booted, before userspace (not counted): $b"
	done
}

# Guest-side shell helpers (busybox sh), prepended to each guest script.
guest_lib=$vm_dir/guest-lib.sh

# selftest_extras <repo>: run-vm.sh --extra args for the optional guest hooks:
# $SPANHEAP_VM_SELFTESTS (default <repo>/build/vm-selftests, static binaries)
# -> /opt/selftests, $SPANHEAP_VM_EXTRA (default
# <repo>/userspace-tests/vm/guest-extra.sh) -> /opt/guest-extra.sh,
# <repo>/build/vm-bin/spanheapctl -> /bin/spanheapctl (load/unload cycles).
selftest_extras() {
	local st=${SPANHEAP_VM_SELFTESTS:-$1/build/vm-selftests}
	local ex=${SPANHEAP_VM_EXTRA:-$1/userspace-tests/vm/guest-extra.sh}
	local ctl=$1/build/vm-bin/spanheapctl
	[ -d "$st" ] && printf '%s\n' --extra "$st:/opt/selftests"
	[ -f "$ex" ] && printf '%s\n' --extra "$ex:/opt/guest-extra.sh"
	[ -x "$ctl" ] && printf '%s\n' --extra "$ctl:/bin/spanheapctl"
	return 0
}

# vm_run <kernel> <module dir> <console> <selftest timeout> <QEMU timeout>
# <guest body> [run-vm.sh args...]: boot <kernel> with <module dir> as /mods,
# running guest-lib.sh and the body (a string; SELFTEST_TIMEOUT is set, the
# guest programs' cap). Returns run-vm.sh's status (0/1 guest ran, 2
# infrastructure failure).
vm_run() {
	local kernel=$1 mods=$2 console=$3 st=$4 timeout=$5 guest rc=0
	guest=$(mktemp "${TMPDIR:-/tmp}/spanheap-guest.XXXXXX")
	{
		echo "SELFTEST_TIMEOUT=$st"
		cat "$guest_lib"
		printf '%s\n' "$6"
	} >"$guest"
	shift 6
	"$vm_dir/run-vm.sh" --kernel "$kernel" --module-dir "$mods" --script "$guest" \
		--log "$console" --timeout "$timeout" "$@" || rc=$?
	rm -f "$guest"
	return "$rc"
}

# stock_run <repo> <name> <guest body file> [run-vm.sh args...]: build the
# module (no KUnit) against the newest Debian stock kernel's headers and boot
# that kernel with the guest body (vm_run). Console:
# <repo>/build/vm/<name>-console.log.
stock_run() {
	local repo=$1 name=$2 body=$3 kver fuzz_s=${FUZZ_SECONDS:-120}
	shift 3
	"$vm_dir/../../scripts/deps.sh" stock
	kver=$(stock_kver)
	log "stock kernel $kver"
	build_module "/usr/src/linux-headers-$kver" "$repo" "$repo/build/vm/mods-stock" || return 2
	vm_run "/boot/vmlinuz-$kver" "$repo/build/vm/mods-stock" "$repo/build/vm/$name-console.log" \
		"${SPANHEAP_SELFTEST_TIMEOUT:-$((fuzz_s + 300))}" \
		"${SPANHEAP_VM_TIMEOUT:-$((fuzz_s + 600))}" "$(cat "$body")" "$@"
}
