# SPDX-License-Identifier: GPL-2.0
# gcovr's --csv summary as a table: line and branch coverage per file.
# Usage: awk -F, -f coverage-table.awk coverage.csv
function pct(hit, all) { return all ? sprintf("%5.1f%%", 100 * hit / all) : "    --" }
function row(name, lh, lt, bh, bt) {
	printf "%-22s %5d/%-5d %s   %5d/%-5d %s\n", name, lh, lt, pct(lh, lt), bh, bt, pct(bh, bt)
}
NR == 1 {
	for (i = 1; i <= NF; i++)
		col[$i] = i
	printf "%-22s %-18s   %s\n", "file", "lines", "branches"
	next
}
{
	name = $col["filename"]
	sub(/^.*\//, "", name)
	lt = $col["line_total"]; lh = $col["line_covered"]
	bt = $col["branch_total"]; bh = $col["branch_covered"]
	row(name, lh, lt, bh, bt)
	tlt += lt; tlh += lh; tbt += bt; tbh += bh
}
END { row("TOTAL", tlh, tlt, tbh, tbt) }
