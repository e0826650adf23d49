#!/usr/bin/env python3
"""Network helpers for the knock e2e tests (run inside a network namespace).

  e2e_net.py probe HOST PORT [TIMEOUT]
      TCP connect to HOST:PORT, send "probe\\n", expect it echoed back (the test's
      listener is an echo server).  Exit 0 on success; 1 (with the reason on
      stdout: timed out / refused / ...) otherwise.

  e2e_net.py hold HOST PORT SECONDS [TIMEOUT]
      Open one TCP connection, exchange a line ("before"), keep the connection
      open for SECONDS, then exchange a second line ("after") on the same
      connection.  Prints what happened; exit 0 only if both lines came back.
      Prints "connected" (flushed) as soon as the first line came back.

  e2e_net.py send HOST PORT FILE [COUNT]
      Send the first line of FILE (without its line ending) as one UDP datagram
      to HOST:PORT, COUNT times (default 1), IPv4 or IPv6 by HOST.
"""
import socket
import sys
import time


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def exchange(sock, line, timeout):
    sock.settimeout(timeout)
    sock.sendall(line)
    got = b""
    while not got.endswith(b"\n"):
        chunk = sock.recv(256)
        if not chunk:
            raise ConnectionError("connection closed by the peer")
        got += chunk
    if got != line:
        raise ConnectionError(f"echo mismatch: sent {line!r}, got {got!r}")


def describe(e):
    if isinstance(e, socket.timeout):
        return "timed out"
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    return f"{type(e).__name__}: {e}"


def probe(host, port, timeout=1.5):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        exchange(s, b"probe\n", timeout)
    except Exception as e:  # noqa: BLE001 - every failure is a verdict
        print(f"connect {host} port {port}: {describe(e)}")
        return 1
    finally:
        s.close()
    print(f"connect {host} port {port}: ok (echo received)")
    return 0


def hold(host, port, seconds, timeout=2.0):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        exchange(s, b"before\n", timeout)
    except Exception as e:  # noqa: BLE001
        print(f"hold: first exchange failed: {describe(e)}", flush=True)
        return 1
    print("connected", flush=True)
    time.sleep(seconds)
    try:
        exchange(s, b"after\n", timeout)
    except Exception as e:  # noqa: BLE001
        print(f"hold: second exchange after {seconds:g} s failed: {describe(e)}", flush=True)
        return 1
    finally:
        s.close()
    print(f"hold: second exchange after {seconds:g} s ok", flush=True)
    return 0


def send(host, port, path, count=1):
    with open(path, "rb") as f:
        payload = f.read().split(b"\n")[0].rstrip(b"\r")
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    for _ in range(count):
        s.sendto(payload, (host, port))
    s.close()
    print(f"sent {len(payload)} bytes to {host} port {port} x{count}")
    return 0


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, host, port = argv[1], argv[2], int(argv[3])
    if cmd == "probe":
        return probe(host, port, *(float(a) for a in argv[4:5]))
    if cmd == "hold" and len(argv) >= 5:
        return hold(host, port, float(argv[4]), *(float(a) for a in argv[5:6]))
    if cmd == "send" and len(argv) >= 5:
        return send(host, port, argv[4], *(int(a) for a in argv[5:6]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
