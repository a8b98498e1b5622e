#!/usr/bin/env python3
"""emfile: an echo server out of file descriptors neither spins nor stops
accepting for good.

The server starts with RLIMIT_NOFILE set low, then more clients connect than
it has descriptors for. Once it holds all its descriptors (read from
/proc/PID/fd: a condition, not a sleep) and the backlog cannot be drained,
the server must stay nearly idle (it backs off instead of retrying accept in
a tight loop),
the connections it did accept keep echoing, and once the clients go away a
new connection is accepted and echoed again.

    emfile.py SERVER_CMD...   (the server's --port must be 0)
"""
import os
import resource
import select
import socket
import subprocess
import sys
import time

FD_LIMIT = 64
CLIENTS = 120
IDLE_WINDOW_S = 2.0
MAX_CPU_S = 0.4  # over IDLE_WINDOW_S: a spinning accept loop burns ~2 s


def fail(msg):
    print("emfile: FAIL: " + msg, flush=True)
    sys.exit(1)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick


def open_fds(pid):
    """How many descriptors process pid holds (-1 if it cannot be read)."""
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


def wait_at_limit(server, timeout=10.0):
    """Wait until the server holds every descriptor its limit allows. More
    clients wait in its backlog than it has descriptors for, so from then on
    each accept it tries fails with EMFILE: it is at the limit."""
    deadline = time.monotonic() + timeout
    while True:
        n = open_fds(server.pid)
        if n >= FD_LIMIT:
            return n
        if server.poll() is not None:
            fail("the server died before reaching the descriptor limit (exit %s)" % server.returncode)
        if time.monotonic() > deadline:
            fail("the server never reached its descriptor limit: %d of %d descriptors open after"
                 " %.0f s with %d clients connecting" % (n, FD_LIMIT, timeout, CLIENTS))
        time.sleep(0.01)


def echo_once(port, payload, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(payload)
        got = b""
        deadline = time.monotonic() + timeout
        while len(got) < len(payload) and time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        return got == payload
    finally:
        s.close()


def main():
    cmd = sys.argv[1:]
    if not cmd:
        fail("usage: emfile.py SERVER_CMD...")

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))

    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              preexec_fn=low_limit, text=True)
    try:
        ready, _, _ = select.select([server.stdout], [], [], 10)
        line = server.stdout.readline() if ready else ""
        if not line.startswith("listening on "):
            fail("no 'listening on' line from the server: %r" % line)
        port = int(line.split()[2].rsplit(":", 1)[1])
        print("emfile: " + line.strip(), flush=True)

        if not echo_once(port, b"before"):
            fail("no echo before the flood")

        clients = []
        for _ in range(CLIENTS):
            s = socket.socket()
            s.settimeout(5)
            s.connect(("127.0.0.1", port))  # completes in the backlog even if never accepted
            clients.append(s)
        n = wait_at_limit(server)
        print("emfile: the server holds %d descriptors (its limit), %d clients connected"
              % (n, CLIENTS), flush=True)

        cpu0 = cpu_seconds(server.pid)
        time.sleep(IDLE_WINDOW_S)
        used = cpu_seconds(server.pid) - cpu0
        print("emfile: server CPU over %.1f s at the descriptor limit: %.3f s" % (IDLE_WINDOW_S, used), flush=True)
        if used > MAX_CPU_S:
            fail("the server spins at the descriptor limit (%.2f s of CPU in %.1f s)" % (used, IDLE_WINDOW_S))
        if server.poll() is not None:
            fail("the server died at the descriptor limit (exit %s)" % server.returncode)

        # Connections the server did accept still work.
        served = 0
        for s in clients[:20]:
            try:
                s.sendall(b"ping")
                s.settimeout(0.5)
                if s.recv(16) == b"ping":
                    served += 1
            except OSError:
                pass
        print("emfile: %d of the first 20 flood connections echo while at the limit" % served, flush=True)
        if served == 0:
            fail("no accepted connection echoes while the server is at the limit")

        for s in clients:
            s.close()
        deadline = time.monotonic() + 10
        while True:
            try:
                if echo_once(port, b"after", timeout=2.0):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                fail("no new connection served after descriptors were freed")
            time.sleep(0.2)
        print("emfile: accepting and echoing again after descriptors were freed", flush=True)
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                fail("the server did not stop on SIGTERM")
    if server.returncode != 0:
        fail("server exit code %s" % server.returncode)
    print("emfile: PASS", flush=True)


if __name__ == "__main__":
    main()
