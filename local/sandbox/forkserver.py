"""The sandbox as a fork server: bootstrapped once, forked for each sandbox a test asks for.

    python -m sandbox.forkserver --template ../template.yaml

Starting a sandbox costs about 3 s of one core (importing moto and boto3, deploying both
stacks through moto's API), and ferry's end-to-end tests start about a hundred. The fork server
pays it once per test process: it prepares a sandbox as the launcher does (`launcher.prepare`),
stops its moto server, and prints one JSON line, `{"forkServer": "127.0.0.1:PORT", "pid": N}`.
Each connection to that port is a request for a sandbox: one JSON line,
`{"lifetime": SECONDS, "log": PATH}`. The fork server forks; the child serves its own copy of the
deployed accounts on new ports (its log in PATH), answers on the connection with the launcher's
ready line, and exits when the connection closes, on POST /stop, or after `lifetime` seconds.
So every sandbox starts from the same deployed state and shares nothing with another.

The fork server forks only while it has no other thread (moto's server stopped, every client's
connection closed), so no lock is held across a fork. It exits when its standard input closes
(the test process is gone).
"""

import argparse
import json
import os
import selectors
import signal
import socket
import sys
import threading
import time

from . import launcher

# How long the fork server waits for the threads of its bootstrap to end before it forks.
QUIET_SECONDS = 10.0


def quiet(prepared: launcher.Prepared) -> None:
    """Stops the bootstrap's server and connections and waits until this is the only thread."""
    prepared.server.stop()
    prepared.world.disconnect(prepared.world.endpoint)
    import gc

    gc.collect()
    # The bootstrap's objects out of the collector's reach: a child's collections then do not
    # touch (and so copy) every page it shares with this process.
    gc.freeze()
    deadline = time.monotonic() + QUIET_SECONDS
    while threading.active_count() > 1:
        if time.monotonic() > deadline:
            names = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
            raise SystemExit(f"forkserver: threads still running after bootstrap: {names}")
        time.sleep(0.01)


def child(prepared: launcher.Prepared, conn: socket.socket) -> int:
    """One sandbox: the request read from `conn`, served until `conn` closes."""
    reader = conn.makefile("r", encoding="utf-8")
    request = json.loads(reader.readline())
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 2)
    os.close(log)
    # moto's own generator (ids, keys, tokens) is its own Random, which a fork does not reseed
    # (the random module's is): each sandbox its own sequence, as separate launchers had.
    from moto.moto_api._internal import mock_random

    mock_random.seed()
    # Port 0: the kernel's free port, taken at once.
    prepared.server.listen(0)
    prepared.world.disconnect(f"http://127.0.0.1:{prepared.server.port}")
    prepared.server.start()
    out = conn.makefile("w", encoding="utf-8")
    return launcher.serve(prepared, float(request["lifetime"]), out, reader.read)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", default="template.yaml")
    args = parser.parse_args()
    prepared = launcher.prepare(args.template)
    quiet(prepared)
    # Children are reaped by the kernel: a test that kills its sandbox leaves no zombie here.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    host, port = listener.getsockname()
    print(json.dumps({"forkServer": f"{host}:{port}", "pid": os.getpid()}), flush=True)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "listener")
    selector.register(sys.stdin, selectors.EVENT_READ, "parent")
    while True:
        for key, _ in selector.select():
            if key.data == "parent":
                if not sys.stdin.buffer.read1(4096):
                    return 0
                continue
            conn, _ = listener.accept()
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                rc = 1
                try:
                    selector.close()
                    listener.close()
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    rc = child(prepared, conn)
                except BaseException as e:  # the parent reads the log this names
                    print(f"forkserver child: {e!r}", file=sys.stderr, flush=True)
                finally:
                    os._exit(rc)
            conn.close()


if __name__ == "__main__":
    sys.exit(main())
