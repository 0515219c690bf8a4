#!/usr/bin/env python3
"""PyTCP (PyPI `PyTCP==2.7.6`) as a tcpconform target on a TAP device.

The stack attaches to the TAP device given (created beforehand, e.g. by
`ip tuntap add dev tcpc0 mode tap`, or created here if it does not exist) and
runs two applications through its own socket API, over IPv4 and IPv6:
echo on port 7 and discard on port 9. Nothing listens on port 1.

PyTCP's logger prints to stdout; this program sends all of it to stderr, so
that stdout stays free for whoever starts it. It runs until SIGTERM or SIGINT.
"""

import argparse
import os
import signal
import sys
import threading

# PyTCP's logger uses print(): its lines go to stderr like ours.
sys.stdout = sys.stderr

from pytcp import TcpIpStack, config  # noqa: E402
from pytcp.lib import logger, socket  # noqa: E402

ECHO_PORT = 7
DISCARD_PORT = 9


def log(message: str) -> None:
    print(f"pytcp-target: {message}", file=sys.stderr, flush=True)


def serve_connection(conn, peer, echo: bool) -> None:
    """Echo or discard until the peer's FIN (recv returns b""), then close."""
    try:
        while data := conn.recv():
            if echo:
                conn.send(data)
    except OSError as error:
        log(f"{peer}: {error}")
    finally:
        conn.close()


def accept_loop(listener, echo: bool) -> None:
    while True:
        conn, peer = listener.accept()
        threading.Thread(
            target=serve_connection, args=(conn, peer, echo), daemon=True
        ).start()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("iface", help="TAP device name")
    parser.add_argument("--mac", default="02:00:00:77:77:77")
    parser.add_argument("--ip4", default="192.0.2.1/24")
    parser.add_argument("--ip6", default="2001:db8::1/64")
    parser.add_argument(
        "--log",
        default="stack",
        help="comma-separated PyTCP log channels (e.g. stack,tcp-ss,tcp); "
        "'' for none",
    )
    args = parser.parse_args()

    config.LOG_CHANEL = {c for c in args.log.split(",") if c}
    # Plain text: no terminal colour codes in the log.
    logger.STYLES = dict.fromkeys(logger.STYLES, "")
    # No DHCPv4 and no SLAAC from router advertisements: static addresses only.
    stack = TcpIpStack(
        interface=args.iface,
        mac_address=args.mac,
        ip4_address=args.ip4,
        ip6_address=args.ip6,
    )

    stop = threading.Event()

    def on_signal(*_) -> None:
        if not stop.is_set() and started.is_set():
            stop.set()
            return
        # Still claiming its addresses (several seconds of sleeps in the
        # main thread): nothing to wind down but threads and the TAP
        # descriptor, which go with the process.
        log("stopping during start-up")
        os._exit(0)

    started = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)

    # Claims the addresses first: 3 ARP probes 1-2 s apart, one ND DAD per
    # IPv6 address (pytcp/subsystems/packet_handler.py).
    stack.start()
    ip4 = args.ip4.split("/")[0]
    ip6 = args.ip6.split("/")[0]
    for family, addr in ((socket.AF_INET4, ip4), (socket.AF_INET6, ip6)):
        for port, echo in ((ECHO_PORT, True), (DISCARD_PORT, False)):
            listener = socket.socket(family=family, type=socket.SOCK_STREAM)
            listener.bind((addr, port))
            listener.listen()
            threading.Thread(
                target=accept_loop, args=(listener, echo), daemon=True
            ).start()
            log(f"{'echo' if echo else 'discard'} on {addr} port {port}")
    log(f"up on {args.iface}")
    started.set()

    while not stop.wait(0.2):
        pass
    log("stopping")
    stack.stop()
    # The application threads block in accept()/recv() on semaphores that
    # nothing releases any more: leave without joining them.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
