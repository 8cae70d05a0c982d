#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# run.sh <repo>: run spanheap's userspace benchmarks and the peers (glibc,
# jemalloc, tcmalloc, mimalloc, Boehm GC, Go) in one run; print every
# BENCH line, then the ratios the issues set as bars.  Each figure is a
# median over rounds (see main_rounds below).
# run.sh <repo> --only alloc_free [runs]: only the 32-byte malloc+free
# loops of spanheap, glibc and the three preloaded allocators, <runs> (9)
# times in a row, each run the lowest of BENCH_ALLOC_ROUNDS (3) rounds;
# one line per run, then how many runs met each bar.
set -euo pipefail
repo=$1
out=$repo/build/bench
mkdir -p "$out"

# fastest <file> <bench> <impl>...: "<impl> <value>" of the lowest figure
fastest() {
	local f=$1 b=$2
	shift 2
	awk -v b="$b" -v impls="$*" '
		BEGIN { n = split(impls, l, " "); for (i = 1; i <= n; i++) want[l[i]] = 1 }
		$1 == "BENCH" && $2 == b && ($3 in want) && (best == "" || $4 < best) { best = $4; who = $3 }
		END { if (who != "") print who, best }' "$f"
}
fast_peers="jemalloc tcmalloc mimalloc"

# cpu_probe <when>: ms for the same integer loop pinned to each online
# CPU.  A cloud machine's vCPUs can differ by half for minutes (load on
# the host, no steal time shown): a figure taken on the slow one is
# slow, and two mark workers wait for it.
cpu_probe() {
	local c t0 t1 line="# cpu probe ($1):"

	for ((c = 0; c < $(nproc); c++)); do
		t0=$(date +%s%N)
		taskset -c "$c" awk 'BEGIN { for (i = 0; i < 3000000; i++) s += i }'
		t1=$(date +%s%N)
		line+=" cpu$c $(((t1 - t0) / 1000000)) ms"
	done
	echo "$line"
}

# in_order <round> <first> <second>: run the two functions, <first>
# first in odd rounds and <second> first in even ones, so that drift
# within a round does not always fall on the same program; fail if
# either does.
in_order() {
	if (($1 % 2)); then
		"$2" && "$3"
	else
		"$3" && "$2"
	fi
}
# medians <rounds> <file> [min]: <file> holds "<round> BENCH <bench>
# <impl> <value> <unit> [note]" lines; print each (bench, impl)'s median
# (or with "min", its lowest figure) over the rounds as its BENCH line,
# in the order first seen, with the unit and note of the round that gave
# it.  Fails unless each was printed exactly once in every round 1 to
# <rounds>.
medians() {
	case ${3:-} in
	'' | min) ;;
	*) echo "run.sh: medians: unknown mode $3" >&2; return 2 ;;
	esac
	awk -v n="$1" -v lowest="${3:-}" '
		{
			k = $3 " " $4
			if ((k, $1) in v || $1 < 1 || $1 > n) {
				printf "run.sh: %s: round %s twice or out of range\n", k, $1 > "/dev/stderr"
				bad = 1
			}
			if (!(k in cnt))
				order[++nk] = k
			cnt[k]++
			v[k, $1] = $5
			rest[k, $1] = $6
			for (i = 7; i <= NF; i++)
				rest[k, $1] = rest[k, $1] " " $i
		}
		END {
			for (j = 1; j <= nk; j++) {
				k = order[j]
				if (cnt[k] != n) {
					printf "run.sh: %s: in %d of %d rounds\n", k, cnt[k], n > "/dev/stderr"
					bad = 1
					continue
				}
				for (a = 1; a <= n; a++)
					r[a] = a
				for (a = 2; a <= n; a++)	# insertion sort of the rounds by value
					for (b = a; b > 1 && v[k, r[b - 1]] + 0 > v[k, r[b]] + 0; b--) {
						t = r[b]; r[b] = r[b - 1]; r[b - 1] = t
					}
				# As printed (an odd count), else the mean of the middle two
				mid = r[int((n + 1) / 2)]
				m = n % 2 ? v[k, mid] : sprintf("%.2f", (v[k, r[n / 2]] + v[k, r[n / 2 + 1]]) / 2)
				if (lowest == "min") {
					mid = r[1]
					m = v[k, mid]
				}
				printf "BENCH %s %s %s\n", k, m, rest[k, mid]
			}
			exit bad
		}' "$2"
}

# pair_ratios <file>: "<spanheap> <nozero> <glibc> <fastest peer> <its
# figure> <spanheap/glibc> <spanheap/fastest>" from its alloc_free_32 lines.
pair_ratios() {
	local sh nz gl who fa

	read -r _ _ _ sh _ < <(grep '^BENCH alloc_free_32 spanheap ' "$1")
	read -r _ _ _ nz _ < <(grep '^BENCH alloc_free_32 spanheap_nozero ' "$1")
	read -r _ _ _ gl _ < <(grep '^BENCH alloc_free_32 glibc ' "$1")
	read -r who fa < <(fastest "$1" alloc_free_32 $fast_peers)
	awk -v s="$sh" -v n="$nz" -v g="$gl" -v w="$who" -v f="$fa" \
		'BEGIN { printf "%s %s %s %s %s %.2f %.2f\n", s, n, g, w, f, s / g, s / f }'
}
# The runs of make bench-alloc pin both sides to one CPU (BENCH_ALLOC_CPU,
# 0): their loops are single-threaded, and a vCPU can run half as fast
# as the other for minutes, so a side landing on the slow one would set
# the two vCPUs against each other rather than the allocators.
spanheap_pairs() {
	taskset -c "$pair_cpu" "$repo/build/user/bench-spanheap" alloc_free spanheap 32 &&
		taskset -c "$pair_cpu" "$repo/build/user/bench-spanheap" alloc_free spanheap_nozero 32
}
peers_pairs() {
	taskset -c "$pair_cpu" "$repo/userspace-tests/bench/peers/run-peers.sh" --only alloc_free_32 "$out"
}
spanheap_all() { "$repo/build/user/bench-spanheap" && "$repo/build/user/bench-spanheap" scaling; }
peers_all() { "$repo/userspace-tests/bench/peers/run-peers.sh" "$out"; }
spanheap_tree() { "$repo/build/user/bench-spanheap" tree; }
peers_tree() { "$repo/userspace-tests/bench/peers/run-peers.sh" --only tree "$out"; }

if [ "${2-}" = --only ]; then
	[ "${3-}" = alloc_free ] || { echo "usage: $0 <repo> [--only alloc_free [runs]]" >&2; exit 2; }
	runs=${4:-9} pair_cpu=${BENCH_ALLOC_CPU:-0} inner=${BENCH_ALLOC_ROUNDS:-3}
	[[ $pair_cpu =~ ^[0-9]+$ ]] && ((pair_cpu < $(nproc))) ||
		{ echo "run.sh: BENCH_ALLOC_CPU must be an online CPU below $(nproc)" >&2; exit 2; }
	[[ $runs =~ ^[1-9][0-9]*$ && $inner =~ ^[1-9][0-9]*$ ]] ||
		{ echo "run.sh: the runs and BENCH_ALLOC_ROUNDS must be at least 1" >&2; exit 2; }
	ok_glibc=0 ok_fast=0 med_glibc=0 med_fast=0
	for ((r = 1; r <= runs; r++)); do
		# A run's figures: the lowest of <inner> rounds, the two sides
		# taking turns.  A slow spell of this machine lasts seconds and
		# only ever adds time: each side's quickest round is the one it
		# had to itself, and a median of three still fell on a spell.
		f=$out/alloc_free-run$r.txt raw=$out/alloc_free-run$r-rounds.txt
		: >"$raw"
		for ((k = 1; k <= inner; k++)); do
			in_order $((r + k - 1)) spanheap_pairs peers_pairs |
				{ grep '^BENCH ' || true; } | sed "s/^/$k /" >>"$raw"
		done
		medians "$inner" "$raw" min >"$f"
		medians "$inner" "$raw" >"$f.medians"
		read -r _ _ _ _ _ mrg mrf < <(pair_ratios "$f.medians")
		awk -v x="$mrg" 'BEGIN { exit !(x <= 1.0) }' && med_glibc=$((med_glibc + 1))
		awk -v x="$mrf" 'BEGIN { exit !(x <= 1.2) }' && med_fast=$((med_fast + 1))
		read -r sh nz gl who fa rg rf < <(pair_ratios "$f")
		awk -v x="$rg" 'BEGIN { exit !(x <= 1.0) }' && ok_glibc=$((ok_glibc + 1))
		awk -v x="$rf" 'BEGIN { exit !(x <= 1.2) }' && ok_fast=$((ok_fast + 1))
		echo "# run $r/$runs: alloc_free_32 spanheap $sh ns, glibc $gl ns ($rg), fastest $who $fa ns ($rf), spanheap_nozero $nz ns; lowest of $inner rounds (medians: $mrg, $mrf), cpu $pair_cpu, load $(cut -d' ' -f1 /proc/loadavg)"
	done
	echo "# alloc_free_32 spanheap / glibc <= 1.0 in $ok_glibc of $runs runs ($med_glibc with the rounds' medians)"
	echo "# alloc_free_32 spanheap / fastest of ${fast_peers// /,} <= 1.2 in $ok_fast of $runs runs ($med_fast with the rounds' medians)"
	exit 0
fi

# This machine's speed drifts by up to 1.7x within minutes, so a figure
# taken minutes after another compares the drift as much as the
# programs.  Every figure is the median of BENCH_ROUNDS (3) rounds of
# the whole run, spanheap and the peers in turn (in_order());
# gc_live_tree_1m, whose bars are closest, that of TREE_ROUNDS (5)
# rounds of spanheap, Boehm and Go, seconds apart, with a line per
# round.
main_rounds() {
	local r f=$out/main-rounds.txt

	: >"$f"
	for ((r = 1; r <= $1; r++)); do
		cpu_probe "round$r"
		in_order "$r" spanheap_all peers_all |
			grep '^BENCH ' | grep -v '^BENCH gc_live_tree_1m ' | sed "s/^/$r /" >>"$f" ||
			{ echo "run.sh: round $r failed (the rounds so far: $f)" >&2; return 1; }
	done
	medians "$1" "$f"
}

tree_rounds() {
	local r f=$out/tree-rounds.txt

	: >"$f"
	for ((r = 1; r <= $1; r++)); do
		in_order "$r" spanheap_tree peers_tree |
			grep '^BENCH gc_live_tree_1m ' | sed "s/^/$r /" >>"$f" ||
			{ echo "run.sh: tree round $r failed (the rounds so far: $f)" >&2; return 1; }
	done
	awk -v n="$1" '{ round[$1] = round[$1] sprintf(", %s %s ms", $4, $5) }
		END {
			for (r = 1; r <= n; r++)
				printf "# gc_live_tree_1m round %d of %d:%s\n", r, n, substr(round[r], 2)
		}' "$f"
	medians "$1" "$f"
}

nbench=${BENCH_ROUNDS:-3} ntree=${TREE_ROUNDS:-5}
[[ $nbench =~ ^[1-9][0-9]*$ && $ntree =~ ^[1-9][0-9]*$ ]] ||
	{ echo "run.sh: BENCH_ROUNDS and TREE_ROUNDS must be at least 1" >&2; exit 2; }
{
	cpu_probe start
	main_rounds "$nbench"
	tree_rounds "$ntree"
	cpu_probe end
} | tee "$out/bench.txt"

# ratio <bench> <impl> <peer bench> <peer> <bar, or none>; <peer> may be
# min(a,b): the faster of the two.
ratio() {
	awk -v b="$1" -v i="$2" -v pb="$3" -v p="$4" -v bar="$5" '
		$2 == b && $3 == i { x = $4 }
		$2 == pb && $3 == p { y = $4 }
		p ~ /^min\(/ && $2 == pb {
			split(substr(p, 5, length(p) - 5), m, ",")
			if (($3 == m[1] || $3 == m[2]) && (y == "" || $4 < y)) y = $4
		}
		END {
			if (x == "" || y == "") { printf "# %s: missing figures\n", b; exit }
			if (bar == "none") {
				printf "# %s %s / %s %s = %.2f (no bar)\n", b, i, pb, p, x / y
				exit
			}
			printf "# %s %s / %s %s = %.2f (bar <= %s)%s\n", b, i, pb, p, x / y, bar,
			       x / y <= bar ? "" : "  ** above bar **"
		}' "$out/bench.txt"
}
ratio alloc_free_32 spanheap alloc_free_32 glibc 1.0
# The best malloc of the three; spanheap zeroes objects, they do not.
read -r who fa < <(fastest "$out/bench.txt" alloc_free_32 $fast_peers) || true
awk -v who="$who" -v fa="$fa" -v peers="${fast_peers// /,}" '
	$1 == "BENCH" && $2 == "alloc_free_32" && $3 == "spanheap" { x = $4 }
	END {
		if (x == "" || fa == "") { print "# alloc_free_32: missing figures"; exit }
		printf "# alloc_free_32 spanheap / fastest of %s = %.2f (bar <= 1.2; fastest: %s)%s\n",
		       peers, x / fa, who, x / fa <= 1.2 ? "" : "  ** above bar **"
	}' "$out/bench.txt"
# What zeroing costs: the same loop with SPANHEAP_NOZERO.
awk '$1 == "BENCH" && $2 == "alloc_free_32" && $3 == "spanheap" { x = $4 }
     $1 == "BENCH" && $2 == "alloc_free_32" && $3 == "spanheap_nozero" { y = $4 }
     END {
	if (x == "" || y == "") { print "# alloc_free_32 zeroing: missing figures"; exit }
	printf "# alloc_free_32 zeroing costs spanheap - spanheap_nozero = %.2f ns/op (%.0f%%)\n",
	       x - y, 100 * (x - y) / x
     }' "$out/bench.txt"
# Zeroed objects against malloc (the bar as set), then like for like:
# zeroed against calloc, SPANHEAP_NOZERO against malloc (neither zeroes).
ratio alloc_free_65536 spanheap alloc_free_65536 glibc 2.0
ratio alloc_free_65536 spanheap alloc_free_65536 glibc_calloc none
ratio alloc_free_65536 spanheap_nozero alloc_free_65536 glibc 2.0
ratio alloc_free_4096 spanheap alloc_free_4096 glibc 1.0
ratio alloc_free_4096 spanheap alloc_free_4096 glibc_calloc none
ratio alloc_free_4096 spanheap_nozero alloc_free_4096 glibc 1.0
ratio alloc_65536 spanheap alloc_65536 boehm 0.5
{ grep '^BENCH large_burst_' "$out/bench.txt" || true; } | sed 's/^BENCH/#/'
ratio alloc_32 spanheap alloc_32 boehm 0.5
ratio finalizer_register_1m spanheap finalizer_register_1m go 0.2
ratio finalizer_register_1m spanheap finalizer_register_1m boehm 0.5
ratio gc_live_list_1m spanheap gc_live_list_1m boehm 1.0
ratio gc_live_fin_1m spanheap gc_live_list_1m spanheap 1.3
ratio gc_dead_fin_1m spanheap gc_dead_fin_1m go 1.0
ratio cleanup_register_1m spanheap finalizer_register_1m spanheap 1.2
ratio gc_dead_cleanup_1m spanheap gc_dead_fin_1m go 0.3
ratio weak_make_1m spanheap weak_make_1m boehm 0.5
ratio gc_live_weak_1m spanheap gc_live_list_1m spanheap 1.3
ratio gc_pause_live_1m spanheap gc_pause_live_1m go none
ratio gc_live_list_1m_reused spanheap gc_live_list_1m spanheap none
ratio gc_live_list_4m_per_object spanheap gc_live_list_100k_per_object spanheap 1.3
ratio gc_live_fin_4m_per_object spanheap gc_live_fin_100k_per_object spanheap 1.3
ratio gc_live_tree_1m spanheap_2w gc_live_tree_1m spanheap_1w 0.6
ratio gc_live_tree_1m spanheap_2w gc_live_tree_1m 'min(boehm,go)' 0.7
# spanheap_1w is one worker at the CPUs' mean rate; against the fastest
# CPU alone two workers cannot reach 0.5 when the CPUs' speeds differ.
awk '$1 == "BENCH" && $2 == "gc_live_tree_1m" && $3 == "spanheap_2w" { x = $4 }
     $1 == "BENCH" && $2 == "gc_live_tree_1m" && $3 ~ /^spanheap_1w_cpu/ && (y == "" || $4 < y) {
	y = $4; who = substr($3, 13)
     }
     END {
	if (x == "" || y == "") { print "# gc_live_tree_1m by CPU: missing figures"; exit }
	printf "# gc_live_tree_1m spanheap_2w / spanheap_1w on the fastest CPU (%s) = %.2f (no bar)\n",
	       who, x / y
     }' "$out/bench.txt"
