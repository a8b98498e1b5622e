#!/usr/bin/env python3
"""run_pair.py - run an echo server and a client against it, as one test.

    run_pair.py [--timeout SECONDS] [--server-exits]
                --server SERVER_CMD [ARGS...] --client CLIENT_CMD [ARGS...]

1. Starts the server command and reads its first stdout line, which must be
   "listening on HOST:PORT backend=... io_threads=... framing=..."
   (docs/CONVENTIONS.md). Start it with --port 0.
2. Runs the client command with {host}, {port} and {pid} (the server's
   process id) replaced in its arguments.
3. Stops the server with SIGTERM (CTRL_BREAK_EVENT on Windows) and checks that
   it exits 0 - or, with --server-exits, waits for it to stop by itself
   (for a server started with --seconds).

Exits 0 only if the server started, stayed up while the client ran, the
client exited 0 and the server exited 0. On timeout everything is killed.
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time

LISTEN_RE = re.compile(r"^listening on (\[[^\]]+\]|[^\s:]+):(\d+)\s")
STARTUP_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0


def log(msg):
    print("run_pair: " + msg, file=sys.stderr, flush=True)


def split_args(argv):
    opts = {"timeout": 120.0, "server_exits": False}
    server, client = None, None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--timeout":
            opts["timeout"] = float(argv[i + 1])
            i += 2
        elif a == "--server-exits":
            opts["server_exits"] = True
            i += 1
        elif a == "--server":
            try:
                j = argv.index("--client", i + 1)
            except ValueError:
                break
            server, client = argv[i + 1:j], argv[j + 1:]
            break
        else:
            break
    if not server or not client:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    return opts, server, client


def popen_group(cmd, **kw):
    """A child in its own process group, so a timeout can kill all of it."""
    if os.name == "nt":
        kw["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        kw["start_new_session"] = True
    return subprocess.Popen(cmd, **kw)


def kill_group(p):
    if p is None or p.poll() is not None:
        return
    try:
        if os.name == "nt":
            p.kill()
        else:
            os.killpg(p.pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        pass


def describe_rc(rc):
    if rc is None:
        return "still running"
    if rc < 0:
        try:
            return "killed by %s" % signal.Signals(-rc).name
        except ValueError:
            return "killed by signal %d" % -rc
    return "exit code %d" % rc


def main(argv):
    opts, server_cmd, client_cmd = split_args(argv)
    deadline = time.monotonic() + opts["timeout"]
    server = client = None
    try:
        log("server: " + " ".join(server_cmd))
        server = popen_group(server_cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)

        # The first line comes from a reader thread so a silent server cannot hang us.
        first = []
        got_line = threading.Event()

        def read_stdout():
            line = server.stdout.readline()
            first.append(line.decode("utf-8", "replace"))
            got_line.set()
            # Keep draining so the server never blocks on a full pipe.
            for rest in server.stdout:
                sys.stdout.write("server: " + rest.decode("utf-8", "replace"))
                sys.stdout.flush()

        reader = threading.Thread(target=read_stdout, daemon=True)
        reader.start()
        if not got_line.wait(min(STARTUP_TIMEOUT, max(0.0, deadline - time.monotonic()))):
            log("FAIL: server printed no 'listening on' line within %.0f s" % STARTUP_TIMEOUT)
            return 1
        line = first[0].rstrip("\r\n")
        print("server: " + line, flush=True)
        m = LISTEN_RE.match(line + " ")
        if not m:
            log("FAIL: unexpected first line from server: %r (%s)" % (line, describe_rc(server.poll())))
            return 1
        host, port = m.group(1).strip("[]"), m.group(2)

        subst = {"{host}": host, "{port}": port, "{pid}": str(server.pid)}
        cmd = []
        for arg in client_cmd:
            for k, v in subst.items():
                arg = arg.replace(k, v)
            cmd.append(arg)
        log("client: " + " ".join(cmd))
        client = popen_group(cmd, stdin=subprocess.DEVNULL)

        while client.poll() is None:
            if server.poll() is not None:
                log("FAIL: server died while the client ran (%s)" % describe_rc(server.returncode))
                return 1
            if time.monotonic() > deadline:
                log("FAIL: timeout after %.0f s; killing client and server" % opts["timeout"])
                return 1
            time.sleep(0.05)
        client_rc = client.returncode
        log("client finished: %s" % describe_rc(client_rc))

        if server.poll() is not None and not opts["server_exits"]:
            log("FAIL: server exited before it was asked to (%s)" % describe_rc(server.returncode))
            return 1
        if not opts["server_exits"]:
            if os.name == "nt":
                server.send_signal(signal.CTRL_BREAK_EVENT)
            else:
                server.send_signal(signal.SIGTERM)
        wait = min(STOP_TIMEOUT, max(1.0, deadline - time.monotonic())) \
            if not opts["server_exits"] else max(1.0, deadline - time.monotonic())
        try:
            server_rc = server.wait(wait)
        except subprocess.TimeoutExpired:
            log("FAIL: server did not exit within %.0f s of %s" %
                (wait, "its --seconds" if opts["server_exits"] else "SIGTERM"))
            return 1
        reader.join(2)
        log("server finished: %s" % describe_rc(server_rc))

        if client_rc != 0:
            log("FAIL: client failed (%s)" % describe_rc(client_rc))
            return 1
        if server_rc != 0:
            log("FAIL: server did not exit cleanly (%s)" % describe_rc(server_rc))
            return 1
        log("PASS")
        return 0
    finally:
        kill_group(client)
        kill_group(server)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
