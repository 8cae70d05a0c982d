# SPDX-License-Identifier: GPL-2.0
# ktap-lib.sh: sourced by the user tier's shell tests that print KTAP.
#
# result <description> <0 if passed> [detail shown on failure]: print one
# test line, indented by $ktap_indent (unset: none), with the first 20
# lines of the detail as comments when it failed; counts in $n and sets
# failed=1 on failure (both start at 0 in the caller).
result() {
	n=$((n + 1))
	if [ "$2" = 0 ]; then
		echo "${ktap_indent-}ok $n - $1"
	else
		echo "${ktap_indent-}not ok $n - $1"
		[ -n "${3-}" ] && printf '%s\n' "$3" | head -n 20 | sed "s/^/${ktap_indent-}# /"
		failed=1
	fi
}
