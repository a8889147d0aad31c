"""A launcher-like peer written from docs/protocol.md alone: connects to the given
--ipc arguments and sends kind 1 frames as fast as it can until the connection
ends. Exits 0 when the other side closed the connection."""
import socket
import struct
import sys
import time


def connect(argv):
    opts = dict(zip(argv[::2], argv[1::2]))
    for _ in range(60):  # the launcher's retry policy: 60 x 50 ms
        try:
            if opts["--ipc"] == "pipe":
                # Windows, as the launcher connects: multiprocessing.connection's AF_PIPE
                # client (message mode); each send_bytes is one message.
                from multiprocessing.connection import Client

                return Client(opts["--ipc-pipe"], family="AF_PIPE").send_bytes
            if opts["--ipc"] == "unix":
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(opts["--ipc-path"])
            else:
                s = socket.create_connection((opts["--ipc-host"], int(opts["--ipc-port"])))
            return s.sendall
        except OSError:
            time.sleep(0.05)
    sys.exit("could not connect")


def main():
    send = connect(sys.argv[1:])
    payload = b'{"event": "output", "body": {"output": "x"}}'
    frame = b"DP" + struct.pack(">BBI", 1, 1, len(payload)) + payload
    burst = frame * 64
    try:
        while True:
            send(burst)
    except (BrokenPipeError, ConnectionResetError):
        return 0


if __name__ == "__main__":
    sys.exit(main())
