"""Hosts that the tests run in a child process, where a hang or a crash cannot take the
test runner down. Exit status 0 and the printed lines are what the tests check.

    python3 host_script.py MODE [TRANSPORT]      (TRANSPORT: unix, tcp or pipe; the platform's own by default)

MODE
  exit-open              listener and client in this process, both readers running, a
                         message exchanged; exit without cleanup (prints the socket path,
                         or the transport's name where there is no socket file)
  exit-flooding          a launcher floods the listener; exit without cleanup while the
                         handler is being called
  exit-after-handler-cleanup
                         the handler calls cleanup(); exit at once, without waiting
  cleanup-flooding       a launcher floods the listener; the main thread calls cleanup()
                         and reports whether any handler ran after it returned
  ctrl-c CALL [TRANSPORT]
                         a blocking call on the main thread that only Ctrl-C ends: CALL is
                         connect (nobody listens; connect_timeout 10 s), wait (wait_for_client
                         on a listener nobody connects to), send-wait (send with
                         wait_for_client=60), send (a 16 MiB frame to a client that
                         does not read; send_timeout 10 s) or cleanup (the handler is
                         busy for 10 s).
                         Prints "log" for each library log line on the way, "inside" once
                         the main thread is inside the call, then, after the SIGINT,
                         "interrupted <monotonic seconds>" and what was left: "enabled=",
                         "extra-threads=" (threads that outlived the call), "usable=" (the
                         manager listens again), "peer=" (what a connected peer read)
"""
import os
import select
import socket
import subprocess
import sys
import threading
import time

from _support import LOCAL, PEER, WAIT  # noqa: E402  (also makes dapper_ipc importable)
from dapper_ipc import IPCManager, TransportConfig  # noqa: E402

_OUT = threading.Lock()


def say(line):
    """One whole line per write: print() writes its pieces separately, so a library log
    line from another thread could land inside "inside" and the test would miss it."""
    with _OUT:
        sys.stdout.write(f"{line}\n")
        sys.stdout.flush()


def flooded_listener(transport, on_message=None):
    server = IPCManager()
    args = server.create_listener(TransportConfig(transport=transport))
    flowing = threading.Event()
    count = [0]

    def handler(message):
        count[0] += 1
        if count[0] >= 1000:
            flowing.set()
        if on_message is not None:
            on_message(message)

    server.start_reader(handler)
    # The launcher inherits stdout: the test reads it to the end, so it also waits for the
    # launcher to be gone.
    peer = subprocess.Popen([sys.executable, PEER, "flood", *args])
    if not flowing.wait(WAIT):
        sys.exit("messages never started flowing")
    return server, peer


def exit_open(transport):
    server = IPCManager()
    args = server.create_listener(TransportConfig(transport=transport))
    got = threading.Event()
    server.start_reader(lambda m: got.set())
    client = IPCManager()
    client.connect(TransportConfig.from_launcher_args(args))
    client.start_reader(lambda m: None)
    client.send({"event": "stopped"})
    if not got.wait(WAIT):
        sys.exit("the message never arrived")
    server.send({"seq": 1, "command": "continue"})
    say(args[3] if args[1] == "unix" else args[1])
    return 0  # no cleanup


def exit_flooding(transport):
    flooded_listener(transport)
    say("flowing")
    return 0  # no cleanup, messages still arriving


def exit_after_handler_cleanup(transport):
    cleaned = threading.Event()
    holder = {}

    def on_message(_message):
        holder["server"].cleanup()
        cleaned.set()

    server = IPCManager()
    holder["server"] = server
    args = server.create_listener(TransportConfig(transport=transport))
    server.start_reader(on_message)
    peer = subprocess.Popen([sys.executable, PEER, "echo", *args], stdout=subprocess.DEVNULL)
    if not cleaned.wait(WAIT):
        sys.exit("the handler never ran")
    say("cleaned")
    peer.wait(WAIT)
    return 0  # exit at once: the reader may still be returning from the handler


def cleanup_flooding(transport):
    state = {"cleaned": False, "late": 0}

    def on_message(_message):
        if state["cleaned"]:
            state["late"] += 1

    server, peer = flooded_listener(transport, on_message)
    server.cleanup()  # the main thread, while the reader is calling the handler
    state["cleaned"] = True
    say("cleaned")
    say(f"late={state['late']}")
    say(f"peer={peer.wait(WAIT)}")
    say(f"enabled={server.is_enabled}")
    return 0


def _announce_when_inside(main_ident, names, stop, ready):
    """Prints "inside" once the main thread's stack holds one of the package's functions
    named in names and ready() is true: the state the test waits for before it sends
    SIGINT."""
    manager_file = sys.modules["dapper_ipc.manager"].__file__
    while not stop.is_set():
        frame = sys._current_frames().get(main_ident)
        while frame is not None:
            if frame.f_code.co_name in names and frame.f_code.co_filename == manager_file and ready():
                say("inside")
                return
            frame = frame.f_back
        stop.wait(0.002)


def _python_threads():
    return {t for t in threading.enumerate() if not isinstance(t, threading._DummyThread)}


def ctrl_c(call, transport):
    import logging

    class Lines(logging.Handler):
        def emit(self, record):
            say(f"log {record.getMessage()}")

    native_log = logging.getLogger("dapper.ipc.native")
    native_log.addHandler(Lines())
    native_log.setLevel(logging.DEBUG)

    manager = IPCManager()
    peer = stalled = None
    release = threading.Event()
    ready = lambda: True  # noqa: E731
    if call == "connect":
        if transport == "unix":
            config = TransportConfig(transport="unix", path=os.path.join(os.environ["TMPDIR"], "nobody.sock"))
        else:
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
            probe.close()  # nobody listens there now
            config = TransportConfig(transport="tcp", port=port)
        config.connect_timeout = 10
        blocking, names = (lambda: manager.connect(config)), {"connect"}
    elif call in ("wait", "send-wait"):
        manager.create_listener(TransportConfig(transport=transport))
        if call == "wait":
            blocking, names = manager.wait_for_client, {"wait_for_client"}
        else:
            blocking, names = (lambda: manager.send({"seq": 1}, wait_for_client=60)), {"wait_for_client"}
    elif call == "send":
        args = manager.create_listener(TransportConfig(transport=transport, send_timeout=10))
        if transport == "tcp":
            stalled = socket.create_connection(("127.0.0.1", int(args[-1])))
        else:
            stalled = socket.socket(socket.AF_UNIX)
            stalled.connect(args[3])
        manager.wait_for_client(WAIT)
        frame = b"x" * (16 << 20)  # far more than the socket buffers hold
        blocking, names = (lambda: manager.send_bytes(frame)), {"send_bytes"}
        ready = lambda: bool(select.select([stalled], [], [], 0)[0])  # noqa: E731 - the send has begun
    elif call == "cleanup":
        args = manager.create_listener(TransportConfig(transport=transport))
        busy = threading.Event()

        def handler(_message):
            busy.set()
            release.wait(10)  # a handler that takes its time: cleanup waits for it

        manager.start_reader(handler)
        peer = socket.create_connection(("127.0.0.1", int(args[-1]))) if transport == "tcp" else socket.socket(socket.AF_UNIX)
        if transport == "unix":
            peer.connect(args[3])
        peer.sendall(b"DP\x01\x01\x00\x00\x00\x02{}")
        if not busy.wait(WAIT):
            sys.exit("the handler never ran")
        blocking, names = manager.cleanup, {"cleanup"}
    else:
        sys.exit(f"unknown call {call}")
    before = _python_threads()
    stop = threading.Event()
    watcher = threading.Thread(target=_announce_when_inside, args=(threading.get_ident(), names, stop, ready))
    watcher.start()
    try:
        blocking()
    except KeyboardInterrupt:
        say(f"interrupted {time.monotonic()!r}")
    else:
        say("returned")
        return 1
    finally:
        stop.set()
        watcher.join()
    say(f"enabled={manager.is_enabled}")
    if peer is not None:
        peer.settimeout(WAIT)
        try:
            say(f"peer={peer.recv(1)!r}")
        except OSError as error:
            say(f"peer={error!r}")
        peer.close()
    if stalled is not None:
        stalled.close()
    if call == "cleanup":
        # The handler ends: the interrupted cleanup completes in its worker (create_listener
        # below waits for it).
        release.set()
        for thread in _python_threads() - before:
            thread.join(WAIT)
    say(f"extra-threads={sorted(t.name for t in _python_threads() - before if t.is_alive())}")
    manager.create_listener(TransportConfig(transport="unix"))
    manager.cleanup()
    say("usable=True")
    return 0


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "ctrl-c":
        sys.exit(ctrl_c(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else LOCAL))
    transport = sys.argv[2] if len(sys.argv) > 2 else LOCAL
    sys.exit({
        "exit-open": exit_open,
        "exit-flooding": exit_flooding,
        "exit-after-handler-cleanup": exit_after_handler_cleanup,
        "cleanup-flooding": cleanup_flooding,
    }[mode](transport))
