#!/usr/bin/env python3
"""udp_faults.py - dummy_client --udp against a UDP echo server that misbehaves
on purpose: it must fail the run on corruption and only on corruption.

    udp_faults.py DUMMY_CLIENT [ARGS...]

ARGS (e.g. --backend epoll --io-threads 0) are passed to every client run.
For each fault a stdlib echo server (its own thread, 127.0.0.1) echoes
normally except for every 7th datagram, which it

    drop       never echoes                      -> exit 0, lost > 0
    late       echoes 0.5 s later (timeout 0.2)  -> exit 0, late > 0
    corrupt    echoes with one body byte flipped -> exit 1, corrupted > 0
    truncate   echoes without its last byte      -> exit 1, corrupted > 0
    duplicate  echoes twice                      -> exit 1, corrupted > 0
    swap       sends to another client instead  -> exit 1, corrupted > 0
    foreign    echoes from another socket        -> exit 1, corrupted > 0

and a clean run (no fault) must pass with nothing lost. Counts in the
client's SUMMARY are checked against what the server did.
"""

import re
import socket
import subprocess
import sys
import threading
import time

EVERY = 7


class FaultyEcho(threading.Thread):
    def __init__(self, fault):
        super().__init__(daemon=True)
        self.fault = fault
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.other.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = False
        self.n = 0
        self.faults = 0
        self.late = []

    def run(self):
        peers = []
        while not self.stop:
            now = time.monotonic()
            while self.late and self.late[0][0] <= now:
                _, data, addr = self.late.pop(0)
                self.sock.sendto(data, addr)
            try:
                data, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            if addr not in peers:
                peers.append(addr)
            self.n += 1
            if self.fault == "none" or self.n % EVERY:
                self.sock.sendto(data, addr)
                continue
            self.faults += 1
            f = self.fault
            if f == "drop":
                pass
            elif f == "late":
                self.late.append((now + 0.5, data, addr))
            elif f == "corrupt":
                b = bytearray(data)
                if len(b) > 24:
                    b[-1] ^= 0x5A  # the body
                else:
                    b[12] ^= 0x01  # a header-only datagram: its sequence number
                self.sock.sendto(bytes(b), addr)
            elif f == "truncate":
                self.sock.sendto(data[:-1], addr)
            elif f == "duplicate":
                self.sock.sendto(data, addr)
                self.sock.sendto(data, addr)
            elif f == "swap":
                others = [p for p in peers if p != addr]
                if others:
                    self.sock.sendto(data, others[0])
                else:
                    self.faults -= 1
                    self.sock.sendto(data, addr)
            elif f == "foreign":
                self.other.sendto(data, addr)


def summary(text):
    for line in reversed(text.splitlines()):
        if line.startswith("SUMMARY "):
            return {k: float(v) for k, v in (t.split("=", 1) for t in line.split()[1:])}
    return None


def run(dummy, extra, fault):
    srv = FaultyEcho(fault)
    srv.start()
    cmd = dummy + ["--udp", "--host", "127.0.0.1", "--port", str(srv.port), "--connections", "4", "--depth", "4",
                   "--size", "300", "--vary-size", "--seconds", "1", "--loss-timeout-ms", "200"] + extra
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    finally:
        srv.stop = True
        srv.join(2)
    s = summary(p.stdout)
    problems = []
    if s is None:
        problems.append("no SUMMARY line")
        s = {}
    rc_want = 1 if fault in ("corrupt", "truncate", "duplicate", "swap", "foreign") else 0
    if p.returncode != rc_want:
        problems.append("exit code %d, want %d" % (p.returncode, rc_want))
    if s.get("received", 0) <= 0:
        problems.append("nothing received")
    if fault == "none" and (s.get("lost") or s.get("corrupted") or s.get("late")):
        problems.append("a clean server, yet lost/late/corrupted are not 0")
    if fault in ("drop", "late"):
        # The server may see a few datagrams the client still had in flight
        # at the end: its count of faults is an upper bound, close to exact.
        key = "lost" if fault == "drop" else "late"
        if not (0 < s.get(key, 0) <= srv.faults) or s.get("corrupted"):
            problems.append("%s=%s corrupted=%s after %d faults" % (key, s.get(key), s.get("corrupted"), srv.faults))
    if rc_want == 1 and not (s.get("corrupted", 0) > 0):
        problems.append("corruption not reported (%d faults made)" % srv.faults)
    if rc_want == 1 and s.get("corrupted", 0) > srv.faults * (2 if fault == "duplicate" else 1):
        problems.append("more corrupted (%d) than faults made (%d)" % (s.get("corrupted"), srv.faults))
    if srv.faults == 0 and fault != "none":
        problems.append("the server made no fault (%d datagrams)" % srv.n)
    status = "ok  " if not problems else "FAIL"
    print("%s %-9s rc=%d %s" % (status, fault, p.returncode,
                                re.sub(r"^.*?sent=", "sent=", [l for l in p.stdout.splitlines() if l.startswith("SUMMARY")][-1])
                                if s else ""), flush=True)
    if problems:
        print("     " + "; ".join(problems))
        print("     client stderr: " + " | ".join(p.stderr.strip().splitlines()[-6:]))
    return not problems


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    dummy = [argv[0]]
    extra = argv[1:]
    ok = True
    for fault in ("none", "drop", "late", "corrupt", "truncate", "duplicate", "swap", "foreign"):
        ok = run(dummy, extra, fault) and ok
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
