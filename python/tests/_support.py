"""Shared by the tests: makes `import dapper_ipc` work from a checkout, and small helpers.

The package under test is the one `import dapper_ipc` finds (an installed one, or
PYTHONPATH); failing that, this checkout's python/src. Child processes get the same.
"""
import os
import socket
import sys
import threading
import unittest

from _pipe_stream import connect_pipe, recv_exactly  # noqa: F401 - recv_exactly: for the tests

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(os.path.dirname(HERE), "src")

try:
    import dapper_ipc  # noqa: F401
except ImportError:
    sys.path.insert(0, SOURCE)
    import dapper_ipc  # noqa: F401

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(dapper_ipc.__file__)))
PEER = os.path.join(HERE, "launcher_peer.py")
HOST = os.path.join(HERE, "host_script.py")

# The transport a test uses where it means "the platform's own": the library's default,
# unix sockets on POSIX and named pipes on Windows (whose CPython has no AF_UNIX). Tests
# about transports in general run over LOCAL and tcp; a test named for unix has a twin
# named for pipe: UNIX_ONLY skips one on Windows, PIPE_ONLY the other elsewhere.
LOCAL = "pipe" if sys.platform == "win32" else "unix"
TRANSPORTS = (LOCAL, "tcp")
UNIX_ONLY = unittest.skipIf(sys.platform == "win32", "unix-socket files: CPython on Windows has no AF_UNIX "
                            "(the pipe transport is tested there instead)")
PIPE_ONLY = unittest.skipUnless(sys.platform == "win32", "named pipes are the Windows transport "
                                "(POSIX runs the same test over unix)")

# Upper bound of every wait: generous for a loaded 2-core machine. Waits end early as
# soon as what they wait for happens; no test depends on how long anything takes.
WAIT = 30


def child_env(**extra):
    """The environment for a child Python that must import the same dapper_ipc."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def raw_client(args):
    """A plain socket (a plain pipe client on Windows) connected to the endpoint that
    launcher args describe."""
    opts = dict(zip(args[::2], args[1::2]))
    if opts["--ipc"] == "pipe":
        s = connect_pipe(opts["--ipc-pipe"])
    elif opts["--ipc"] == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(opts["--ipc-path"])
    else:
        s = socket.create_connection((opts["--ipc-host"], int(opts["--ipc-port"])))
    s.settimeout(WAIT)
    return s


class Inbox:
    """Collects what a handler receives; wait() blocks until enough has arrived."""

    def __init__(self):
        self.items, self.changed = [], threading.Condition()

    def put(self, item):
        with self.changed:
            self.items.append(item)
            self.changed.notify_all()

    def wait(self, count):
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.items) >= count, WAIT):
                raise AssertionError(f"{len(self.items)} of {count} messages arrived: {self.items!r}")
            return self.items[:count]
