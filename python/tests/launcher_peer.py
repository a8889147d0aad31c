"""A launcher written from protocol.md alone (no dapper_ipc): parses the --ipc arguments,
connects with the launcher's retry policy (60 x 50 ms), sends kind 1 events, answers each
kind 2 command with a kind 1 response, ignores other kinds, and exits 0 at end-of-file.

    python3 launcher_peer.py <mode> --ipc ...    mode: echo | flood | eof-report
"""
import json
import socket
import struct
import sys
import time


def connect(args):
    opts = dict(zip(args[::2], args[1::2]))
    for _ in range(60):
        try:
            if opts["--ipc"] == "unix":
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(opts["--ipc-path"])
            else:
                s = socket.create_connection((opts["--ipc-host"], int(opts["--ipc-port"])))
            return s
        except OSError:
            time.sleep(0.05)
    sys.exit("could not connect")


def read_exactly(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def send(s, kind, message):
    payload = json.dumps(message).encode("utf-8")
    s.sendall(b"DP" + struct.pack(">BBI", 1, kind, len(payload)) + payload)


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    s = connect(args)
    if mode == "flood":
        frame = b"DP" + struct.pack(">BBI", 1, 1, 2) + b"{}"
        try:
            while True:
                s.sendall(frame * 256)
        except OSError:
            return 0
    send(s, 1, {"event": "stopped", "body": {"reason": "entry"}})
    while True:
        header = read_exactly(s, 8)
        if header is None:
            print("eof", flush=True)
            return 0
        magic, version, kind, length = header[:2], header[2], header[3], struct.unpack(">I", header[4:])[0]
        if magic != b"DP" or version != 1:
            return 3
        message = json.loads(read_exactly(s, length).decode("utf-8"))
        if kind != 2:
            continue  # the launcher ignores frames whose kind is not 2
        send(s, 1, {"event": "response", "id": message.get("seq"), "success": True, "body": {"command": message.get("command")}})


if __name__ == "__main__":
    sys.exit(main())
