"""A launcher written from docs/protocol.md alone (it does not import dapper_ipc):
it parses the --ipc arguments, connects with the launcher's retry policy (60 attempts,
50 ms apart), sends kind 1 (event) frames, answers each kind 2 (command) frame with a
kind 1 response, ignores frames of any other kind, and exits 0 at end-of-file.

    python3 launcher_peer.py MODE --ipc unix --ipc-path P
    python3 launcher_peer.py MODE --ipc tcp --ipc-host H --ipc-port N
    python  launcher_peer.py MODE --ipc pipe --ipc-pipe PIPE-PATH         (Windows)

MODE
  echo   send {"event": "stopped"}, answer commands until end-of-file, then print
         "eof commands=N ignored=M" (M: frames whose kind was not 2)
  flood  send small events as fast as the socket takes them until the connection fails
  junk   send a frame whose payload is not UTF-8 JSON, then a good event, then wait for
         one command, then a header with a wrong magic; print "eof" at end-of-file
  drain  send one event (which the adapter may never read), print "sent", then read
         every frame until the connection ends; print "frames=N end=eof" (or end=reset,
         end=eof-mid-frame, end=<error>)
  drain-stay  the same, then keep the connection open until standard input ends: a
         peer that is alive and never closes
  session  a subprocess launcher (--session-id ID --parent-session-id P among the
         arguments): send the dapper/sessionHello event, then {"event": "stopped"}, answer
         each command with a response naming its session id, until end-of-file
"""
import os
import json
import socket
import struct
import sys
import time

from _pipe_stream import connect_pipe, recv_exactly

HEADER = struct.Struct(">2sBBI")  # magic "DP", version 1, kind, payload length (big-endian)


def connect(args):
    opts = dict(zip(args[::2], args[1::2]))
    for _attempt in range(60):
        try:
            if opts["--ipc"] == "pipe":  # as the launcher: multiprocessing.connection, AF_PIPE
                return connect_pipe(opts["--ipc-pipe"])
            if opts["--ipc"] == "unix":
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(opts["--ipc-path"])
            elif opts["--ipc"] == "tcp":
                s = socket.create_connection((opts["--ipc-host"], int(opts["--ipc-port"])))
            else:
                sys.exit(f"unknown transport {opts['--ipc']}")
            return s
        except OSError:
            time.sleep(0.05)  # the launcher's retry interval
    sys.exit("could not connect")


def frame(kind, payload):
    return HEADER.pack(b"DP", 1, kind, len(payload)) + payload


def send(s, kind, message):
    s.sendall(frame(kind, json.dumps(message).encode("utf-8")))


def read_frame(s):
    """(kind, message) or None at end-of-file. Exits 3 on a bad header."""
    header = recv_exactly(s, HEADER.size)
    if header is None:
        return None
    magic, version, kind, length = HEADER.unpack(header)
    if magic != b"DP" or version != 1:
        sys.exit(3)
    payload = recv_exactly(s, length)
    if payload is None:
        return None
    return kind, json.loads(payload.decode("utf-8"))


def echo(s):
    send(s, 1, {"event": "stopped", "body": {"reason": "entry", "threadId": 1}})
    commands = ignored = 0
    while True:
        got = read_frame(s)
        if got is None:
            print(f"eof commands={commands} ignored={ignored}", flush=True)
            return 0
        kind, message = got
        if kind != 2:
            ignored += 1  # the launcher ignores frames whose kind is not 2
            continue
        commands += 1
        send(s, 1, {"event": "response", "id": message.get("seq"), "success": True,
                    "body": {"command": message.get("command")}})


def flood(s):
    burst = frame(1, b'{"event": "output", "body": {"output": "x"}}') * 256
    try:
        while True:
            s.sendall(burst)
    except OSError:
        return 0  # the adapter closed the connection


def junk(s):
    s.sendall(frame(1, b"\xff\xfe not json"))
    send(s, 1, {"event": "after-junk"})
    if read_frame(s) is None:
        return 4
    s.sendall(b"XX\x01\x01\x00\x00\x00\x00")
    try:
        while s.recv(4096):
            pass
    except ConnectionResetError:
        pass
    print("eof", flush=True)
    return 0


def drain(s):
    send(s, 1, {"event": "unread"})
    print("sent", flush=True)
    frames, end = 0, "eof"
    try:
        while True:  # frame by frame, as the launcher reads
            header = recv_exactly(s, HEADER.size)
            if header is None:
                break
            magic, version, _kind, length = HEADER.unpack(header)
            if magic != b"DP" or version != 1:
                sys.exit(3)
            if recv_exactly(s, length) is None:
                end = "eof-mid-frame"
                break
            frames += 1
    except ConnectionResetError:
        end = "reset"
    except OSError as error:
        end = type(error).__name__
    print(f"frames={frames} end={end}", flush=True)
    return 0


def session(s, args):
    opts = dict(zip(args[::2], args[1::2]))
    sid = opts["--session-id"]
    send(s, 1, {"event": "dapper/sessionHello",
                "body": {"sessionId": sid, "parentSessionId": opts.get("--parent-session-id"), "pid": os.getpid()}})
    send(s, 1, {"event": "stopped", "body": {"sessionId": sid}})
    while True:
        got = read_frame(s)
        if got is None:
            return 0
        kind, message = got
        if kind == 2:
            send(s, 1, {"event": "response", "id": message.get("seq"),
                        "body": {"sessionId": sid, "command": message.get("command")}})


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    s = connect(args)
    with s:
        if mode == "session":
            return session(s, args)
        if mode == "drain-stay":
            drain(s)
            sys.stdin.read()  # the socket stays open until the test lets go
            return 0
        return {"echo": echo, "flood": flood, "junk": junk, "drain": drain}[mode](s)


if __name__ == "__main__":
    sys.exit(main())
