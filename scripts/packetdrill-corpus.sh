#!/usr/bin/env bash
# Imports packetdrill's TCP scripts (gtests/net/tcp of a google/packetdrill checkout) with
# `tcpconform import-pkt`, then runs the scripts that import fully on the reference stack and,
# as root, on --target linux. The scripts (GPL) stay in the checkout; the cases, reports and
# captures go to a temporary folder that is removed at exit (KEEP=1 keeps it and says where).
#
#   git clone https://github.com/google/packetdrill /tmp/packetdrill
#   scripts/packetdrill-corpus.sh /tmp/packetdrill
#
# TCPCONFORM names the binary (default target/release/tcpconform); JOBS the linux workers
# (default 1: packetdrill's timing tolerance is 4 ms, and parallel instances share the CPUs).
#
# The imported cases set the sysctls of packetdrill's defaults.sh, among them
# net.ipv4.tcp_congestion_control=cubic. A network namespace may only choose a congestion
# control the host lists in net.ipv4.tcp_allowed_congestion_control; where cubic is not among
# them, the linux run fails at setup, and a second run without that one sysctl (the host's
# default algorithm instead of the script's) is made and labelled as such.
set -euo pipefail

pd=${1:?usage: scripts/packetdrill-corpus.sh PACKETDRILL_CHECKOUT}
bin=$(realpath "${TCPCONFORM:-target/release/tcpconform}")
jobs=${JOBS:-1}
work=$(mktemp -d)
if [ "${KEEP:-0}" = 1 ]; then
	echo "keeping $work" >&2
else
	trap 'rm -rf "$work"' EXIT
fi

echo "== packetdrill $(git -C "$pd" rev-parse HEAD 2>/dev/null || echo '(not a git checkout)')"
echo "== import-pkt"
(cd "$pd/gtests/net/tcp" && find . -name '*.pkt' | sort | xargs "$bin" import-pkt -o "$work/cases") \
	>"$work/import.txt" 2>"$work/import-errors.txt" || true
sed -n '/ script(s): /,$p' "$work/import.txt"

summary() { tail -n 1 "$1"; }

# Partial imports that leave out checks only (a `getsockopt`, a Python assertion) still hold
# the script's whole exchange: they run too, separately.
mkdir -p "$work/checks-only"
grep -rl '^# PARTIAL: these checks of the script are left out:' "$work/cases/_partial" |
	while read -r f; do
		rel=${f#"$work/cases/_partial/"}
		mkdir -p "$work/checks-only/$(dirname "$rel")"
		cp "$f" "$work/checks-only/$rel"
	done
echo "partial imports that leave out checks only: $(find "$work/checks-only" -name '*.yaml' | wc -l)"

# run SET CASES TARGET-ARGS...: runs one set, prints its last line.
run() {
	local name=$1 cases=$2
	shift 2
	"$bin" run "$cases" "$@" --json "$work/$name.json" --pcap-dir "$work/pcap-$name" \
		>"$work/$name.txt" 2>&1 || true
	echo "$name: $(summary "$work/$name.txt")"
}

echo "== on the reference stack"
run reference "$work/cases"
run reference-checks-only "$work/checks-only"

if [ "$(id -u)" != 0 ]; then
	echo "== --target linux: not run (needs root)"
	exit 0
fi
echo "== on --target linux ($(uname -r))"
run linux "$work/cases" --target linux -j "$jobs"
run linux-checks-only "$work/checks-only" --target linux -j "$jobs"

if ! grep -qw cubic /proc/sys/net/ipv4/tcp_allowed_congestion_control; then
	echo "== again without net.ipv4.tcp_congestion_control (this host allows only:" \
		"$(cat /proc/sys/net/ipv4/tcp_allowed_congestion_control); namespaces get" \
		"$(cat /proc/sys/net/ipv4/tcp_congestion_control))"
	for set in cases checks-only; do
		cp -r "$work/$set" "$work/$set-default-cc"
		find "$work/$set-default-cc" -name '*.yaml' -exec sed -i '/net.ipv4.tcp_congestion_control:/d' {} +
	done
	run linux-default-cc "$work/cases-default-cc" --target linux -j "$jobs"
	run linux-checks-only-default-cc "$work/checks-only-default-cc" --target linux -j "$jobs"
	grep -h '^  packetdrill/' "$work/linux-default-cc.txt" "$work/linux-checks-only-default-cc.txt" |
		cut -c1-240 || true
fi
