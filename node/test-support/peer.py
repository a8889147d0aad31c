"""The other side of the Node tests, in its own process: raw sockets and DP v1 frames,
written from the protocol alone (it does not load libdapper_ipc).

    python3 peer.py MODE --ipc unix --ipc-path P            (connects: the launcher side)
    python3 peer.py MODE --ipc tcp --ipc-host H --ipc-port N
    python3 peer.py listen-echo unix|tcp|pipe                (listens: prints "listening ARGS...")

On Windows the local transport is the named pipe (CPython there has no AF_UNIX): the
peer is a multiprocessing.connection pipe client or listener, as the Python launcher
uses, through python/tests/_pipe_stream.py (one message per write).

MODE
  echo         answer each kind 2 frame with a kind 1 frame {"echo": <message>}; exit 0 at EOF
  count N      send N events {"seq": i} (i = 0..N-1) in large writes, then read to EOF
  flood        send small events as fast as the socket takes them, until the connection fails
  junk         send a payload that is not JSON, then {"after": "junk"}; read to EOF
  listen-echo  listen, accept one client, echo as `echo`; exit 0 at EOF
  session ID   a subprocess launcher on a shared endpoint: send the dapper/sessionHello
               event for session ID first, then echo as `echo`
"""
import json
import os
import socket
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python", "tests"))
from _pipe_stream import PipeStream, connect_pipe  # noqa: E402

HEADER = struct.Struct(">2sBBI")


def frame(kind, payload):
    return HEADER.pack(b"DP", 1, kind, len(payload)) + payload


def connect(args):
    opts = dict(zip(args[::2], args[1::2]))
    for _ in range(100):
        try:
            if opts["--ipc"] == "pipe":
                return connect_pipe(opts["--ipc-pipe"])
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
        try:
            chunk = s.recv(n - len(data))
        except ConnectionResetError:
            return None
        if not chunk:
            return None
        data += chunk
    return data


def read_frame(s):
    header = read_exactly(s, 8)
    if header is None:
        return None
    magic, version, kind, length = HEADER.unpack(header)
    if magic != b"DP" or version != 1:
        sys.exit(3)
    payload = read_exactly(s, length)
    return None if payload is None else (kind, payload)


def echo(s):
    while True:
        got = read_frame(s)
        if got is None:
            return 0
        kind, payload = got
        if kind == 2:
            s.sendall(frame(1, json.dumps({"echo": json.loads(payload)}).encode()))


def count(s, n):
    batch = []
    for i in range(n):
        batch.append(frame(1, json.dumps({"seq": i}).encode()))
        if len(batch) == 512:
            s.sendall(b"".join(batch))
            batch = []
    s.sendall(b"".join(batch))
    while read_frame(s) is not None:
        pass
    return 0


def flood(s):
    burst = frame(1, b'{"event": "output", "body": {"output": "x"}}') * 256
    try:
        while True:
            s.sendall(burst)
    except OSError:
        return 0


def junk(s):
    s.sendall(frame(1, b"\xff\xfe not json") + frame(1, b'{"after": "junk"}'))
    while read_frame(s) is not None:
        pass
    return 0


def listen_echo(transport):
    if transport == "pipe":
        from multiprocessing.connection import Listener

        name = rf"\\.\pipe\dapper-node-peer-{os.getpid()}"
        with Listener(name, family="AF_PIPE") as server:
            print("listening --ipc pipe --ipc-pipe " + name, flush=True)
            s = PipeStream(server.accept())
        with s:
            return echo(s)
    if transport == "unix":
        directory = tempfile.mkdtemp(prefix="dapper-node-peer-")
        path = os.path.join(directory, "s.sock")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        args = ["--ipc", "unix", "--ipc-path", path]
    else:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind(("127.0.0.1", 0))
        args = ["--ipc", "tcp", "--ipc-host", "127.0.0.1", "--ipc-port", str(server.getsockname()[1])]
    server.listen(1)
    print("listening " + " ".join(args), flush=True)
    server.settimeout(60)
    s, _ = server.accept()
    server.close()
    if transport == "unix":
        os.unlink(path)
        os.rmdir(directory)
    with s:
        return echo(s)


def main():
    mode = sys.argv[1]
    if mode == "listen-echo":
        return listen_echo(sys.argv[2])
    if mode == "session":
        sid, args = sys.argv[2], sys.argv[3:]
        with connect(args) as s:
            hello = {"event": "dapper/sessionHello", "body": {"sessionId": sid, "parentSessionId": "root", "pid": os.getpid()}}
            s.sendall(frame(1, json.dumps(hello).encode()))
            return echo(s)
    if mode == "count":
        n, args = int(sys.argv[2]), sys.argv[3:]
        with connect(args) as s:
            return count(s, n)
    with connect(sys.argv[2:]) as s:
        return {"echo": echo, "flood": flood, "junk": junk}[mode](s)


if __name__ == "__main__":
    sys.exit(main())
