#!/usr/bin/env bash
# Checks one target end to end from the kernel's side of its device:
#
#   harness/tests/targets/check.sh pytcp|libslirp|lwipv6|serve
#
# Brings it up with up.sh, then over IPv4 and IPv6: echo on port 7 returns what was sent,
# discard on port 9 swallows it (serve: port 9 refused, it runs echo only), port 1 refuses
# (RST). Then stops up.sh with SIGTERM and checks that the namespace and every process that
# was in it are gone. One line per check on stdout, then `<stack>: N passed, N failed`; exit
# status 0 when all of it holds.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=${PYTHON:-python3}
[ $# -eq 1 ] || { echo "usage: check.sh pytcp|libslirp|lwipv6|serve" >&2; exit 2; }
stack=$1

out=$(mktemp)
up=
cleanup() {
	local status=$?
	trap - EXIT
	[ -n "$up" ] && kill -TERM "$up" 2>/dev/null && wait "$up" 2>/dev/null
	rm -f "$out"
	exit "$status"
}
trap cleanup EXIT

"$here/up.sh" "$stack" >"$out" &
up=$!
until grep -q '^NS=' "$out"; do
	if ! kill -0 "$up" 2>/dev/null; then
		echo "FAIL $stack: up.sh exited without bringing it up"
		exit 1
	fi
	sleep 0.2
done
ns=$(sed -n 's/^NS=//p' "$out")
pids=$(ip netns pids "$ns")

passed=0
failed=0
ok() { echo "ok   $stack: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $stack: $*"; failed=$((failed + 1)); }
probe() {
	if ip netns exec "$ns" "$PYTHON" "$here/probe.py" "$@"; then
		ok "$*"
	else
		fail "$*"
	fi
}
for addr in 192.0.2.1 2001:db8::1; do
	probe echo "$addr" 7
	if [ "$stack" = serve ]; then
		probe closed "$addr" 9
	else
		probe discard "$addr" 9
	fi
	probe closed "$addr" 1
done

kill -TERM "$up"
wait "$up" || true
up=
if ip netns list | grep -qw "$ns"; then
	fail "namespace $ns left behind"
else
	ok "namespace $ns deleted"
fi
left=
for pid in $pids; do
	kill -0 "$pid" 2>/dev/null && left="$left $pid($(cat /proc/"$pid"/comm 2>/dev/null))"
done
if [ -n "$left" ]; then
	fail "processes left running:$left"
else
	ok "no process left (was: ${pids//$'\n'/ })"
fi
echo "$stack: $passed passed, $failed failed"
[ $failed -eq 0 ]
