#!/usr/bin/env bash
# Runs the corpus against PyTCP in pieces of PIECE case files (default 8), each piece against a
# freshly started PyTCP: its timers slow down with every connection it has made
# (docs/targets/pytcp.md), so one run of the whole corpus measures a tired stack.
#
#   harness/tests/targets/pytcp/run-pieces.sh OUTDIR [tcpconform run options...]
#
# Writes OUTDIR/NN.json (--json) and OUTDIR/NN.txt (the run's output) per piece, NN from 00, and
# prints one line per piece with its exit status. The options are passed to every piece, after
# the link target's addresses, ports and application (--open-port 9 --closed-port 1 --app
# discard -j 1) and the exclusion of the wrap positions of grid/closed and grid/listen, which
# stop PyTCP for good. Exits with the number of pieces whose run did not exit 0 (at most 125).
#
# Environment: CASES (default cases), PIECE (default 8), TCPCONFORM (default
# target/release/tcpconform), as for up.sh: PYTHON, UP_TIMEOUT.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
cd "$root" || exit 2
[ $# -ge 1 ] || { echo "usage: run-pieces.sh OUTDIR [tcpconform run options...]" >&2; exit 2; }
out=$1
shift
CASES=${CASES:-cases}
PIECE=${PIECE:-8}
TCPCONFORM=${TCPCONFORM:-target/release/tcpconform}
mkdir -p "$out" || exit 2

mapfile -t files < <(find "$CASES" -name '*.yaml' ! -path '*/baselines/*' ! -name '_preludes.yaml' | sort)
[ ${#files[@]} -gt 0 ] || { echo "no case files under $CASES" >&2; exit 2; }

up=
stop() {
	if [ -n "$up" ]; then
		kill -TERM "$up" 2>/dev/null
		wait "$up" 2>/dev/null
		up=
	fi
}
trap 'stop; exit 130' INT TERM
trap stop EXIT

bad=0
n=0
for ((i = 0; i < ${#files[@]}; i += PIECE)); do
	name=$(printf '%02d' "$n")
	n=$((n + 1))
	piece=("${files[@]:i:PIECE}")
	: >"$out/$name.up.out"
	"$here/../up.sh" pytcp >"$out/$name.up.out" 2>"$out/$name.up.err" &
	up=$!
	ns=
	while kill -0 "$up" 2>/dev/null; do
		ns=$(sed -n 's/^NS=//p' "$out/$name.up.out")
		[ -n "$ns" ] && break
		sleep 0.5
	done
	if [ -z "$ns" ]; then
		echo "$name: PyTCP did not come up (see $out/$name.up.err)"
		stop
		bad=$((bad + 1))
		continue
	fi
	ip netns exec "$ns" "$TCPCONFORM" run "${piece[@]}" --target link --iface tcpc0 \
		--target-addr 192.0.2.1 --local-addr 192.0.2.3 \
		--target-addr 2001:db8::1 --local-addr 2001:db8::3 \
		--open-port 9 --closed-port 1 --app discard -j 1 \
		--exclude 'grid/closed[*,wrap]' --exclude 'grid/listen[*,wrap]' \
		--json "$out/$name.json" "$@" >"$out/$name.txt" 2>&1
	rc=$?
	stop
	echo "$name: exit $rc: $(grep -E '^[0-9]+ passed' "$out/$name.txt" | tail -1)"
	[ $rc -eq 0 ] || bad=$((bad + 1))
done
exit $((bad > 125 ? 125 : bad))
