"""Hosts that the tests run in a child process, where a hang or a crash cannot take the
test runner down. Exit status 0 and the printed lines are what the tests check.

    python3 host_script.py MODE [TRANSPORT]

MODE
  exit-open              listener and client in this process, both readers running, a
                         message exchanged; exit without cleanup (prints the socket path)
  exit-flooding          a launcher floods the listener; exit without cleanup while the
                         handler is being called
  exit-after-handler-cleanup
                         the handler calls cleanup(); exit at once, without waiting
  cleanup-flooding       a launcher floods the listener; the main thread calls cleanup()
                         and reports whether any handler ran after it returned
  interrupt-wait         wait_for_client() with no time limit on the main thread; prints
                         "waiting", then "interrupted" once a SIGINT (Ctrl-C) ends the wait
"""
import os
import subprocess
import sys
import threading

from _support import PEER, WAIT  # noqa: E402  (also makes dapper_ipc importable)
from dapper_ipc import IPCManager, TransportConfig  # noqa: E402


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
    print(args[3] if args[1] == "unix" else "tcp", flush=True)
    return 0  # no cleanup


def exit_flooding(transport):
    flooded_listener(transport)
    print("flowing", flush=True)
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
    print("cleaned", flush=True)
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
    print("cleaned", flush=True)
    print(f"late={state['late']}", flush=True)
    print(f"peer={peer.wait(WAIT)}", flush=True)
    print(f"enabled={server.is_enabled}", flush=True)
    return 0


def interrupt_wait(transport):
    server = IPCManager()
    server.create_listener(TransportConfig(transport=transport))
    print("waiting", flush=True)
    try:
        server.wait_for_client()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        server.cleanup()
        return 0
    return 1


if __name__ == "__main__":
    mode = sys.argv[1]
    transport = sys.argv[2] if len(sys.argv) > 2 else "unix"
    sys.exit({
        "exit-open": exit_open,
        "exit-flooding": exit_flooding,
        "exit-after-handler-cleanup": exit_after_handler_cleanup,
        "cleanup-flooding": cleanup_flooding,
        "interrupt-wait": interrupt_wait,
    }[mode](transport))
