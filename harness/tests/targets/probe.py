#!/usr/bin/env python3
"""Kernel-socket checks of a target's applications, run inside its namespace.

    probe.py echo ADDR PORT      sends data, expects it back, then the close
                                 after our FIN
    probe.py discard ADDR PORT   sends data, expects nothing back, then the
                                 close after our FIN
    probe.py closed ADDR PORT    expects the connection to be refused (RST)
    probe.py wait-echo ADDR PORT SECONDS
                                 retries `echo` until it passes or time is up

Exit status 0 when the check passes; one line on stderr says why not.
"""

import socket
import sys
import time

TIMEOUT = 5.0
PAYLOAD = bytes(range(256)) * 8  # 2048 octets: more than one segment


def connect(addr: str, port: int) -> socket.socket:
    return socket.create_connection((addr, port), timeout=TIMEOUT)


def read_until_eof(s: socket.socket) -> bytes:
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    return data


def echo(addr: str, port: int) -> None:
    with connect(addr, port) as s:
        s.sendall(PAYLOAD)
        got = b""
        while len(got) < len(PAYLOAD):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        if got != PAYLOAD:
            raise AssertionError(
                f"echo: sent {len(PAYLOAD)} octets, got back {len(got)} "
                f"({'equal prefix' if PAYLOAD.startswith(got) else 'different'})"
            )
        s.shutdown(socket.SHUT_WR)
        rest = read_until_eof(s)
        if rest:
            raise AssertionError(f"echo: {len(rest)} octets more than sent")


def discard(addr: str, port: int) -> None:
    with connect(addr, port) as s:
        s.sendall(PAYLOAD)
        s.shutdown(socket.SHUT_WR)
        rest = read_until_eof(s)
        if rest:
            raise AssertionError(f"discard: got {len(rest)} octets back")


def closed(addr: str, port: int) -> None:
    try:
        s = connect(addr, port)
    except ConnectionRefusedError:
        return
    s.close()
    raise AssertionError(f"closed: {addr} port {port} accepted a connection")


def main() -> int:
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    checks = {"echo": echo, "discard": discard, "closed": closed}
    try:
        if mode == "wait-echo":
            deadline = time.monotonic() + float(sys.argv[4])
            while True:
                try:
                    echo(addr, port)
                    break
                except (OSError, AssertionError):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        else:
            checks[mode](addr, port)
    except (OSError, AssertionError) as error:
        print(f"probe {mode} {addr} port {port}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
