#!/usr/bin/env python3
"""An adapter debugging two subprocesses at once: ONE shared endpoint (a SessionListener),
two child launchers, each routed to its own IPCManager by the hello it sends first.
Run from the repository root:

    PYTHONPATH=python/src python3 samples/python/subprocess_sample.py [--transport auto|unix|tcp|pipe]

The children are this script started again as launchers, with the listener's arguments
plus --subprocess --session-id ID --parent-session-id ID, as Dapper starts them.
"""
import argparse
import os
import subprocess
import sys
import threading

from dapper_ipc import IPCManager, SessionListener, TransportConfig

PARENT = "adapter-root"


def launcher(argv):
    """A child launcher: connect to the shared endpoint, say hello, then answer commands."""
    opts = dict(zip(argv[::2], argv[1::2]))
    session_id = opts["--session-id"]
    done = threading.Event()
    with IPCManager() as manager:
        manager.connect(TransportConfig.from_launcher_args(argv))
        manager.send({"event": "dapper/sessionHello",
                      "body": {"sessionId": session_id, "parentSessionId": opts["--parent-session-id"],
                               "pid": os.getpid()}})

        def on_command(message):
            manager.send({"event": "response", "id": message["seq"], "success": True,
                          "body": {"sessionId": session_id, "command": message["command"]}})

        manager.start_reader(on_command, on_disconnect=lambda status, reason: done.set())
        manager.send({"event": "stopped", "body": {"reason": "entry", "sessionId": session_id}})
        if not done.wait(10):
            return 1
    return 0


def adapter(transport):
    with SessionListener() as listener:
        args = listener.create_listener(TransportConfig(transport=transport))
        print(f"[adapter] shared endpoint: {' '.join(args)}", flush=True)
        children = {}
        for session_id in ("child-a", "child-b"):
            listener.expect(session_id)  # before the child starts: its hello finds the id
            children[session_id] = subprocess.Popen(
                [sys.executable, __file__, "--subprocess", "--session-id", session_id,
                 "--parent-session-id", PARENT, *args])
        sessions = {sid: listener.accept(sid, timeout=10) for sid in children}
        for sid, manager in sessions.items():
            print(f"[adapter] {sid}: hello {manager.hello['body']}", flush=True)
            print(f"[adapter] {sid}: {manager.recv(timeout=10)}", flush=True)
        for seq, command in enumerate(["threads", "continue"], 1):
            for sid, manager in sessions.items():
                manager.send({"seq": seq, "type": "request", "command": command, "arguments": {}})
        for sid, manager in sessions.items():
            for _ in range(2):
                reply = manager.recv(timeout=10)
                print(f"[adapter] {sid}: {reply}", flush=True)
                if reply["body"]["sessionId"] != sid:
                    print(f"[adapter] {sid} got another session's reply", file=sys.stderr)
                    return 1
            manager.cleanup()
        return max(child.wait(10) for child in children.values())


if __name__ == "__main__":
    if "--subprocess" in sys.argv:
        sys.exit(launcher(sys.argv[2:]))
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", default="auto")
    sys.exit(adapter(parser.parse_args().transport))
