#!/usr/bin/env python3
"""flood_sender.py HOST PORT VALID_FILE COUNT MAX_SECONDS [SEED]

A bounded garbage flood with valid SPA packets spread through it, sent as fast as one unpaced
UDP socket can (used by test/e2e/e2e_flood.sh, inside a network namespace).

  VALID_FILE   one valid SPA packet per line; each is sent once, at evenly spaced positions
  COUNT        garbage datagrams to send (at most); MAX_SECONDS stops the flood earlier
  SEED         seeds the garbage (default 7)

The garbage mixes what a scanner or an attacker sends: base64-alphabet payloads of SPA length
(they cost the server an HMAC each: bad_mac), binary junk, payloads too short or too long, and
ones with the "Salted__" prefix left in. Every valid packet is sent even when MAX_SECONDS cuts
the garbage short. An unconnected socket: ICMP port unreachable coming back never fails a send.

Prints one line: "sent G garbage + V valid datagrams in S s (R datagrams/s), E send errors".
Exit 0 when every valid packet was handed to the kernel.
"""
import os
import random
import socket
import sys
import time

B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def garbage(rng):
    """A pool of distinct junk payloads, of every kind."""
    pool = []
    for _ in range(192):  # base64, SPA length: screened in, HMAC refused
        pool.append(bytes(rng.choice(B64) for _ in range(rng.randrange(180, 399))))
    for _ in range(32):   # binary junk
        pool.append(os.urandom(rng.randrange(140, 1400)))
    for _ in range(16):   # too short
        pool.append(bytes(rng.choice(B64) for _ in range(rng.randrange(1, 139))))
    for _ in range(8):    # too long for fwknop (GPG-sized) and beyond a packet
        pool.append(bytes(rng.choice(B64) for _ in range(rng.randrange(400, 1500))))
    for _ in range(8):    # prefix not stripped
        pool.append(b"U2FsdGVkX1" + bytes(rng.choice(B64) for _ in range(200)))
    rng.shuffle(pool)
    return pool


def main(argv):
    if len(argv) < 6:
        print(__doc__, file=sys.stderr)
        return 2
    host, port = argv[1], int(argv[2])
    valid = [line.strip().encode() for line in open(argv[3]) if line.strip()]
    count, max_seconds = int(argv[4]), float(argv[5])
    rng = random.Random(int(argv[6]) if len(argv) > 6 else 7)
    pool = garbage(rng)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
    addr = (host, port)
    sendto = s.sendto
    # valid packet k goes after garbage datagram at[k]
    every = max(1, count // max(1, len(valid)))
    at = {every * k + every // 2: v for k, v in enumerate(valid)}
    errors = 0
    sent = 0
    valid_sent = 0
    n = len(pool)
    start = time.monotonic()
    deadline = start + max_seconds

    def send_valid(p):
        nonlocal errors
        for _ in range(100):  # a valid packet must leave: retry a refused send
            try:
                sendto(p, addr)
                return True
            except OSError:
                errors += 1
                time.sleep(0.001)
        return False

    i = 0
    while i < count:
        block = min(count, i + 1024)
        for j in range(i, block):
            try:
                sendto(pool[j % n], addr)
            except OSError:
                errors += 1
            if j in at:
                valid_sent += send_valid(at.pop(j))
        sent += block - i
        i = block
        if time.monotonic() > deadline:
            break
    for p in at.values():  # cut short: the rest of the valid packets still go
        valid_sent += send_valid(p)
    elapsed = time.monotonic() - start
    total = sent + valid_sent
    print(f"sent {sent} garbage + {valid_sent} valid datagrams in {elapsed:.2f} s "
          f"({total / elapsed:.0f} datagrams/s), {errors} send errors", flush=True)
    return 0 if valid_sent == len(valid) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
