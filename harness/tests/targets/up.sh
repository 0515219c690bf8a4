#!/usr/bin/env bash
# Brings up one foreign TCP stack as a tcpconform target in a network namespace of its own.
#
#   harness/tests/targets/up.sh pytcp|libslirp|lwipv6|serve
#
# Creates the namespace tcpc-<stack>-<pid> with the device tcpc0 (TAP; TUN for serve), the
# kernel's side of it 192.0.2.2/24 and 2001:db8::2/64, starts the stack there (192.0.2.1,
# 2001:db8::1), waits until a kernel client in the namespace gets its data back from
# 192.0.2.1 port 7, prints `NS=<namespace>` on stdout and stays in the foreground until SIGTERM
# or SIGINT. On every way out it stops the stack (by PID) and deletes the namespace, and with it
# the device. The stack's log goes to stderr.
#
# Environment: TCPCONFORM (the tcpconform binary, for serve; default target/release/tcpconform),
# TARGETS_BIN (the C programs built by `make -C harness/tests/targets`; default target/targets),
# PYTHON (default python3), UP_TIMEOUT (seconds to wait for the echo; default 60).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
TCPCONFORM=${TCPCONFORM:-$root/target/release/tcpconform}
TARGETS_BIN=${TARGETS_BIN:-$root/target/targets}
PYTHON=${PYTHON:-python3}
UP_TIMEOUT=${UP_TIMEOUT:-60}
IFACE=tcpc0

say() { echo "up.sh: $*" >&2; }
usage() { say "usage: up.sh pytcp|libslirp|lwipv6|serve"; exit 2; }

[ $# -eq 1 ] || usage
stack=$1
case $stack in
pytcp) cmd=("$PYTHON" -u "$here/pytcp/pytcp_target.py" "$IFACE") ;;
libslirp) cmd=("$TARGETS_BIN/slirp-target" "$IFACE") ;;
lwipv6) cmd=("$TARGETS_BIN/lwipv6-target" "$IFACE") ;;
serve)
	# The reference stack on a TUN device it creates itself inside the namespace; its echo
	# application on port 7 (one application kind for all its ports: no discard on 9).
	cmd=("$TCPCONFORM" serve --iface "$IFACE" --listen 7 --app echo
		--addr 192.0.2.1 --addr 2001:db8::1
		--kernel-addr 192.0.2.2/24 --kernel-addr 2001:db8::2/64)
	;;
*) usage ;;
esac
if [ "$stack" != pytcp ] && [ ! -x "${cmd[0]}" ]; then
	say "${cmd[0]}: not found; run harness/tests/targets/install.sh (or cargo build --release -p tcpconform for serve)"
	exit 1
fi

ns=tcpc-$stack-$$
child=
created=

cleanup() {
	local status=$?
	trap - EXIT INT TERM
	if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
		kill -TERM "$child" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$child" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$child" 2>/dev/null; then
			say "$stack (pid $child) did not stop on SIGTERM: killing it"
			kill -KILL "$child" 2>/dev/null || true
		fi
		wait "$child" 2>/dev/null || true
	fi
	if [ -n "$created" ]; then
		ip netns delete "$ns" 2>/dev/null || say "could not delete namespace $ns"
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

ip netns add "$ns"
created=1
ip -n "$ns" link set lo up
if [ "$stack" = serve ]; then
	"${cmd[@]}" --netns "$ns" >&2 &
	child=$!
else
	ip -n "$ns" tuntap add dev "$IFACE" mode tap
	# The kernel's side takes no address or route from a stack's router advertisements
	# (slirp sends them): this namespace's own setting.
	ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$IFACE.accept_ra=0"
	ip -n "$ns" addr add 192.0.2.2/24 dev "$IFACE"
	ip -n "$ns" -6 addr add 2001:db8::2/64 dev "$IFACE" nodad
	ip -n "$ns" link set "$IFACE" up
	ip netns exec "$ns" "${cmd[@]}" >&2 &
	child=$!
fi

deadline=$((SECONDS + UP_TIMEOUT))
while ! why=$(ip netns exec "$ns" "$PYTHON" "$here/probe.py" echo 192.0.2.1 7 2>&1); do
	if ! kill -0 "$child" 2>/dev/null; then
		wait "$child" && status=0 || status=$?
		child=
		say "$stack exited (status $status) before its echo on 192.0.2.1 port 7 answered"
		exit 1
	fi
	if [ $SECONDS -ge $deadline ]; then
		say "$stack: no echo from 192.0.2.1 port 7 within ${UP_TIMEOUT}s (last try: $why)"
		exit 1
	fi
	sleep 0.3
done

say "$stack is up in namespace $ns (pid $child)"
echo "NS=$ns"
wait "$child" && status=0 || status=$?
child=
say "$stack exited by itself (status $status)"
exit 1
