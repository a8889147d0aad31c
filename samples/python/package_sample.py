#!/usr/bin/env python3
"""The adapter and the launcher again, this time through the dapper_ipc package
(python/): the drop-in for dapper.ipc. Run from the repository root:

    PYTHONPATH=python/src python3 samples/python/package_sample.py [--transport unix|tcp]

(or `pip install ./python` first). The launcher half is this script started again
with the --ipc arguments the listener returned.
"""
import argparse
import subprocess
import sys
import threading

from dapper_ipc import IPCManager, TransportConfig


def launcher(args):
    done = threading.Event()
    with IPCManager() as manager:
        manager.connect(TransportConfig.from_launcher_args(args))

        def on_command(message):
            print(f"[launcher] received {message}", flush=True)
            manager.send({"event": "response", "id": message["seq"], "success": True, "body": {}})

        manager.start_reader(on_command, on_disconnect=lambda status, reason: done.set())
        manager.send({"event": "stopped", "body": {"reason": "entry", "threadId": 1}})
        if not done.wait(10):
            return 1
    return 0


def adapter(transport):
    replies, changed = [], threading.Condition()

    def on_event(message):
        print(f"[adapter] received {message}", flush=True)
        with changed:
            replies.append(message)
            changed.notify_all()

    with IPCManager() as manager:
        args = manager.create_listener(TransportConfig(transport=transport))
        print(f"[adapter] launcher arguments: {' '.join(args)}", flush=True)
        child = subprocess.Popen([sys.executable, __file__, *args])
        manager.start_reader(on_event)
        manager.wait_for_client(10)
        for seq, command in enumerate(["initialize", "configurationDone"], 1):
            manager.send({"seq": seq, "type": "request", "command": command, "arguments": {}})
        with changed:
            if not changed.wait_for(lambda: len(replies) >= 3, 10):
                print("[adapter] timed out waiting for replies", file=sys.stderr)
                return 1
        manager.cleanup()
        return child.wait(10)


if __name__ == "__main__":
    if "--ipc" in sys.argv:
        sys.exit(launcher(sys.argv[1:]))
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", default="auto")
    sys.exit(adapter(parser.parse_args().transport))
