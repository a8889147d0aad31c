"""A host process that exits while its peer floods it: the package's listener with a
reader running, a peer (this file again, as `flood`) sending as fast as it can, then an
exit of the kind named on the command line. Prints "exiting" (flushed) just before the
exit starts; the parent times from that line to the process's end.

    exit_under_flood.py <transport> <exit|slow-handler|pull|system-exit|os-exit>
    exit_under_flood.py flood <launcher args...>
"""
import asyncio
import os
import struct
import subprocess
import sys
import threading
import time

from _support import WAIT, child_env, raw_client

MODES = ("exit", "slow-handler", "pull", "system-exit", "os-exit")


def flood(args):
    peer = raw_client(args)
    payload = b'{"event": "output", "body": {"output": "x"}}'
    burst = (b"DP" + struct.pack(">BBI", 1, 1, len(payload)) + payload) * 64
    try:
        while True:
            peer.sendall(burst)
    except OSError:
        return  # the host is gone


def host(transport, mode):
    from dapper_ipc import IPCManager, TransportConfig

    manager = IPCManager()
    args = manager.create_listener(TransportConfig(transport=transport))
    # Left running: it floods until the connection ends, then exits by itself.
    subprocess.Popen([sys.executable, os.path.abspath(__file__), "flood", *args], env=child_env())
    count = [0]
    flowing = threading.Event()

    def handler(_message):
        count[0] += 1
        if count[0] >= 200:
            flowing.set()
        if mode == "slow-handler":
            time.sleep(0.001)  # a handler doing real work per message

    if mode == "pull":
        async def pull():
            async for _message in manager.messages():
                count[0] += 1
                if count[0] >= 200:
                    return
        asyncio.run(pull())
    else:
        manager.start_reader(handler)
        if not flowing.wait(WAIT):
            sys.exit("messages never started flowing")
    print("exiting", flush=True)
    if mode == "os-exit":
        os._exit(0)
    if mode == "system-exit":
        raise SystemExit(0)
    # Otherwise: fall off the end; the package's atexit cleans the manager up.


if __name__ == "__main__":
    if sys.argv[1] == "flood":
        flood(sys.argv[2:])
    else:
        host(sys.argv[1], sys.argv[2])
