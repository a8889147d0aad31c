"""Writes the seed corpus (tests/fuzz/corpus/<target>/) in each harness's input format
(tests/fuzz/README.md). Run from anywhere: python3 tests/fuzz/make_seeds.py. The launcher
traffic is captured live: python/tests/launcher_peer.py (a launcher written from
docs/protocol.md) talks to a listener here, and the bytes it sent, with the read
boundaries the listener saw, become frame-reader seeds."""
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")

# FrameReaderTarget.Maxima indexes (the low 4 bits of the mode byte).
MAX_DEFAULT, MAX_0, MAX_1, MAX_7, MAX_8, MAX_16, MAX_255, MAX_1024 = range(8)
MAX_64K_MINUS_9, MAX_64K_MINUS_8, MAX_64K_MINUS_7, MAX_64K = 8, 9, 10, 11
PULL, STOP_EACH, BATCH = 0x10, 0x20, 0x40


def frame(kind, payload, magic=b"DP", version=1, length=None):
    return magic + struct.pack(">BBI", version, kind, len(payload) if length is None else length) + payload


def reader_input(stream, chunks=(), max_index=MAX_DEFAULT, flags=0):
    chunks = list(chunks)[:15]
    return bytes([max_index | flags, len(chunks)]) + b"".join(struct.pack(">H", c) for c in chunks) + stream


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def capture_launcher():
    """The bytes launcher_peer.py sends in its echo and junk modes, and the recv sizes seen."""
    captures = {}
    for mode in ("echo", "junk"):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "s")
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(path)
            listener.listen(1)
            peer = subprocess.Popen([sys.executable, os.path.join(ROOT, "python", "tests", "launcher_peer.py"),
                                     mode, "--ipc", "unix", "--ipc-path", path], stdout=subprocess.DEVNULL)
            conn, _ = listener.accept()
            conn.settimeout(10)
            received, sizes = b"", []

            def read_some():
                nonlocal received
                chunk = conn.recv(65536)
                if chunk:
                    received += chunk
                    sizes.append(len(chunk))
                return chunk

            while len(received) < 8 or len(received) < 8 + struct.unpack(">I", received[4:8])[0]:
                read_some()
            if mode == "echo":
                for seq, command in enumerate(("initialize", "setBreakpoints", "configurationDone"), 1):
                    conn.sendall(frame(2, json.dumps({"seq": seq, "type": "request", "command": command}).encode()))
                    want = len(received) + 8
                    while len(received) < want or len(received) < want + struct.unpack(">I", received[want - 4:want])[0]:
                        read_some()
                conn.sendall(frame(3, b"{}"))  # a kind the launcher ignores
                conn.shutdown(socket.SHUT_WR)
            else:
                while received.count(b"DP\x01") < 2 or not received.endswith(b"}"):
                    read_some()
                conn.sendall(frame(2, b'{"seq": 1, "command": "threads"}'))
                while not received.endswith(b"XX\x01\x01\x00\x00\x00\x00"):
                    read_some()
                conn.shutdown(socket.SHUT_WR)
            while read_some():
                pass
            peer.wait(10)
            conn.close()
            listener.close()
            captures[mode] = (received, sizes)
    return captures


def frame_reader_seeds():
    t = "frame-reader"
    sizes = [0, 1, 7, 8, 9, 100, 1024]
    for kind in (1, 2, 0, 3, 255):
        for size in sizes:
            write(t, f"kind{kind}-len{size}", reader_input(frame(kind, b"x" * size)))
    event = frame(1, b'{"event": "output", "body": {"output": "x"}}')
    command = frame(2, b'{"seq": 1, "type": "request", "command": "initialize"}')
    two = event + command
    for split in (1, 2, 3, 7, 8, 9, 15, 16, 17):
        write(t, f"two-frames-split{split}", reader_input(two, [split]))
    write(t, "two-frames-header-split-3-5", reader_input(two, [3, 5, 100]))
    write(t, "burst-64-one-read", reader_input(event * 64, [0]))
    write(t, "burst-64-odd-reads", reader_input(event * 64, [61, 13, 1000]))
    write(t, "pull-two-frames-split1", reader_input(two, [1], flags=PULL))
    write(t, "pull-burst", reader_input(event * 16, [100, 3], flags=PULL))
    write(t, "stop-each-two-frames", reader_input(two, [5], flags=STOP_EACH))
    # The batch handler: one call per read, 256 frames at most per call, the frames before a
    # bad header handed over before the refusal.
    write(t, "batch-two-frames-split3", reader_input(two, [3], flags=BATCH))
    write(t, "batch-300-empty-frames", reader_input(frame(1, b"") * 300, [0], MAX_16, BATCH))
    write(t, "batch-300-then-bad-magic", reader_input(frame(2, b"") * 300 + b"XX\x01\x01\x00\x00\x00\x00", [0], MAX_0, BATCH))
    write(t, "batch-stop-each", reader_input(event * 5 + frame(1, b"", length=17), [100], MAX_16, BATCH | STOP_EACH))
    # Edges of the configured maximum.
    write(t, "len-at-max16", reader_input(frame(1, b"y" * 16) + event, [9], MAX_16))
    write(t, "len-max16-plus1", reader_input(frame(1, b"y" * 17), [], MAX_16))
    write(t, "len-at-max0", reader_input(frame(2, b"") * 3, [4], MAX_0))
    write(t, "len-max1024-pull", reader_input(frame(1, b"z" * 1024), [512, 1], MAX_1024, PULL))
    write(t, "len-max1024-plus1", reader_input(frame(1, b"", length=1025), [], MAX_1024))
    write(t, "len-huge", reader_input(frame(1, b"", length=0xFFFFFFFF)))
    write(t, "len-default-max-plus1", reader_input(frame(1, b"", length=64 * 1024 * 1024 + 1)))
    write(t, "len-default-max-truncated", reader_input(frame(1, b"abc", length=64 * 1024 * 1024), [5]))
    # Frames that fill the 64 KiB initial buffer exactly, and one byte past it.
    for index, size in ((MAX_64K_MINUS_8, 65536 - 8), (MAX_64K_MINUS_7, 65536 - 7)):
        write(t, f"buffer-edge-{size}", reader_input(event + frame(1, b"q" * size), [4096, 7], index))
    # Garbage: the stream must end at the bad header, whatever follows.
    write(t, "bad-magic", reader_input(event + b"XX\x01\x01\x00\x00\x00\x00" + event))
    write(t, "bad-version", reader_input(event + frame(1, b"{}", version=2) + event, [11]))
    write(t, "valid-then-garbage", reader_input(event + b"\xff" * 20 + event, [3]))
    write(t, "truncated-header", reader_input(event + b"DP\x01", [1]))
    write(t, "truncated-payload", reader_input(event + frame(1, b"abcdef")[:-2], [8]))
    write(t, "header-only-eof", reader_input(b"DP\x01\x01\x00\x00\x00\x04"))
    write(t, "empty", reader_input(b""))
    for mode, (stream, sizes) in capture_launcher().items():
        write(t, f"launcher-{mode}-as-read", reader_input(stream, sizes))
        write(t, f"launcher-{mode}-bytewise", reader_input(stream, [1], flags=PULL))
        write(token_target, f"launcher-{mode}-first-frame", b"\x00" + stream)


token_target = "token-handshake"


def token_seeds():
    t = token_target
    token = "3f2a9c1e5b7d4f60a8e2c9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1"
    def auth(tok, extra=""):
        return f'{{"event": "dapper/auth", "token": "{tok}"{extra}}}'.encode()
    write(t, "valid", b"\x00" + frame(1, auth(token)))
    write(t, "valid-then-frame", b"\x00" + frame(1, auth(token)) + frame(1, b'{"event": "x"}'))
    write(t, "valid-short-token", b"\x01" + frame(1, auth("t")))
    write(t, "valid-escaped-token", b"\x02" + frame(1, json.dumps({"event": "dapper/auth", "token": "t\u00f8ken \"quoted\" \\ \u2603"}).encode()))
    write(t, "valid-empty-token", b"\x03" + frame(1, auth("")))
    write(t, "token-first", b"\x01" + frame(1, b'{"token": "t", "event": "dapper/auth"}'))
    write(t, "wrong-token", b"\x00" + frame(1, auth("0" * 64)))
    write(t, "no-token", b"\x00" + frame(1, b'{"event": "dapper/auth"}'))
    write(t, "token-number", b"\x01" + frame(1, b'{"event": "dapper/auth", "token": 1}'))
    write(t, "nested", b"\x01" + frame(1, b'{"body": {"token": "t"}, "event": "dapper/auth", "token": "t", "x": [1, {"a": null}]}'))
    write(t, "kind2", b"\x01" + frame(2, auth("t")))
    write(t, "len-1024", b"\x01" + frame(1, auth("t", ', "pad": "' + "p" * (1024 - len(auth("t")) - 11) + '"')))
    write(t, "len-1025", b"\x01" + frame(1, b"", length=1025))
    write(t, "truncated", b"\x01" + frame(1, auth("t"))[:-3])
    write(t, "bad-magic", b"\x01" + b"XX" + frame(1, auth("t"))[2:])
    write(t, "not-json", b"\x01" + frame(1, b"\xff\xfe not json"))
    write(t, "invalid-utf8-token", b"\x01" + frame(1, b'{"event": "dapper/auth", "token": "\xff"}'))
    write(t, "empty", b"\x00")


def config_seeds():
    t = "native-config"
    def config(size_choice, strings, choices, maxf=0, port=0, ct=0, st=0, flags=0, cw=0, raw_size=None):
        head = bytes([size_choice]) + (struct.pack(">I", raw_size) if raw_size is not None else b"")
        nums = struct.pack(">IiiiIi", maxf, port, ct, st, flags, cw)
        return head + nums + bytes(choices) + b"\x00".join(strings)
    unix = [b"unix", b"/tmp/dapper.sock"]
    for choice in range(12):
        write(t, f"size{choice}-unix", config(choice, unix, [1, 0, 2, 0, 0]))
    write(t, "tcp-auth-full", config(9, [b"tcp", b"127.0.0.1", b"s3cret"], [1, 2, 0, 0, 3], 1024, 4711, 500, 200, 1, 2000))
    write(t, "pipe", config(9, [b"pipe", b"dapper-pipe"], [1, 0, 0, 2, 0], port=-1, ct=-1, st=-1, cw=-1))
    write(t, "auto-defaults", config(9, [], [0, 0, 0, 0, 0]))
    write(t, "raw-size-huge", config(200, unix, [1, 0, 2, 0, 0], raw_size=0xFFFFFFFF))
    write(t, "raw-size-44", config(200, unix, [1, 0, 2, 0, 1], flags=1, raw_size=44))
    write(t, "utf8-path", config(9, [b"unix", "/tmp/d\u00e9j\u00e0 \u2603".encode()], [1, 0, 2, 0, 0]))
    write(t, "invalid-utf8-path", config(9, [b"unix", b"/tmp/\xc3\x28"], [1, 0, 2, 0, 0]))
    write(t, "invalid-utf8-token", config(9, [b"tcp", b"ok\xe2\x82"], [1, 0, 0, 0, 2]))
    write(t, "overlong-host", config(9, [b"tcp", b"\xc0\xaf"], [1, 2, 0, 0, 0]))


def argv_seeds():
    t = "launcher-argv"
    def argv(*args):
        return b"\x00".join(a.encode() if isinstance(a, str) else a for a in args)
    # What the tests' launchers are given (python/tests/launcher_peer.py, tests/cpython_host).
    write(t, "unix", argv("launcher_peer.py", "echo", "--ipc", "unix", "--ipc-path", "/tmp/dapper-test/s"))
    write(t, "tcp", argv("launcher_peer.py", "echo", "--ipc", "tcp", "--ipc-host", "127.0.0.1", "--ipc-port", "40123"))
    write(t, "tcp-no-host", argv("--ipc=tcp", "--ipc-port=65535"))
    write(t, "pipe", argv("--ipc", "pipe", "--ipc-pipe", "dapper-ipc-1234"))
    write(t, "tls", argv("--ipc", "tls", "--ipc-host", "10.0.0.2", "--ipc-port", "40123",
                         "--ipc-tls-fingerprint", "sha256:" + "ab" * 32))
    write(t, "wss-colons", argv("--ipc=wss", "--ipc-port=443", "--ipc-tls-fingerprint=SHA256:" + ":".join(["0F"] * 32)))
    write(t, "tls-bad-fingerprint", argv("--ipc", "tls", "--ipc-port", "1", "--ipc-tls-fingerprint", "sha256:abc"))
    write(t, "tcp-with-fingerprint", argv("--ipc", "tcp", "--ipc-port", "1", "--ipc-tls-fingerprint", "sha256:" + "00" * 32))
    write(t, "equals-forms", argv("prog", "--ipc=UNIX", "--ipc-path=/tmp/a=b"))
    write(t, "repeated-same", argv("--ipc", "unix", "--ipc-path", "/p", "--ipc-path=/p"))
    write(t, "repeated-different", argv("--ipc", "unix", "--ipc-path", "/p", "--ipc-path=/q"))
    write(t, "contradiction", argv("--ipc", "unix", "--ipc-path", "/p", "--ipc-port", "1"))
    write(t, "missing-value", argv("--ipc", "unix", "--ipc-path"))
    write(t, "null-entry", argv("--ipc", "unix", "--ipc-path", b"\x01"))
    write(t, "port-edges", argv("--ipc", "tcp", "--ipc-port", "0", "--ipc-port=65536"))
    write(t, "port-plus", argv("--ipc", "tcp", "--ipc-port", "+80"))
    write(t, "empty-host", argv("--ipc", "tcp", "--ipc-host=", "--ipc-port", "80"))
    write(t, "utf8-path", argv("--ipc", "unix", "--ipc-path", "/tmp/d\u00e9j\u00e0"))
    write(t, "invalid-utf8-path", argv("--ipc", "unix", "--ipc-path", b"/tmp/\xff"))
    write(t, "foreign-invalid-utf8", argv("launcher", b"\xff\xfe", "--ipc", "unix", "--ipc-path", "/p"))
    write(t, "empty", b"")


def hello_seeds():
    """The subprocess launcher's first frame (the payload only), as docs/protocol.md specifies it."""
    t = "session-hello"
    def hello(body, **top):
        return json.dumps({"event": "dapper/sessionHello", "body": body, **top}).encode()
    write(t, "valid", hello({"sessionId": "s-1", "parentSessionId": "s-0", "pid": 4242}))
    write(t, "valid-minimal", hello({"sessionId": "s"}))
    write(t, "valid-nulls", hello({"sessionId": "s-2", "parentSessionId": None, "pid": None}))
    write(t, "valid-extra-members", hello({"sessionId": "\u00e9\u2603", "x": [1, {"y": None}]}, seq=1, type="event"))
    write(t, "body-first", b'{"body": {"pid": -1, "sessionId": "a"}, "event": "dapper/sessionHello"}')
    write(t, "empty-session", hello({"sessionId": ""}))
    write(t, "no-body", b'{"event": "dapper/sessionHello"}')
    write(t, "wrong-event", hello({"sessionId": "s"}).replace(b"sessionHello", b"output"))
    write(t, "duplicate-event", b'{"event": "dapper/sessionHello", "event": "dapper/sessionHello", "body": {"sessionId": "s"}}')
    write(t, "duplicate-session", b'{"event": "dapper/sessionHello", "body": {"sessionId": "s", "sessionId": "t"}}')
    write(t, "pid-float", hello({"sessionId": "s", "pid": 1.5}))
    write(t, "pid-huge", b'{"event": "dapper/sessionHello", "body": {"sessionId": "s", "pid": 99999999999999999999}}')
    write(t, "trailing-bytes", hello({"sessionId": "s"}) + b" x")
    write(t, "trailing-space", hello({"sessionId": "s"}) + b" \n")
    write(t, "invalid-utf8-session", b'{"event": "dapper/sessionHello", "body": {"sessionId": "\xff"}}')
    write(t, "invalid-utf8-other", b'{"event": "dapper/sessionHello", "body": {"sessionId": "s", "z": "\xc0\xaf"}}')
    write(t, "deep", b'{"event": "dapper/sessionHello", "body": {"sessionId": "s", "d": ' + b"[" * 70 + b"]" * 70 + b"}}")
    write(t, "truncated", hello({"sessionId": "s"})[:-2])
    write(t, "not-object", b'["dapper/sessionHello"]')
    write(t, "empty", b"")


def ws_request(path="/", protocols="dapper.dp.v1", origin=None, version="13", extra=""):
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1:9000", "Upgrade: websocket", "Connection: keep-alive, Upgrade",
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", f"Sec-WebSocket-Version: {version}"]
    if protocols is not None:
        lines.append(f"Sec-WebSocket-Protocol: {protocols}")
    if origin is not None:
        lines.append(f"Origin: {origin}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode("latin-1")


def ws_handshake_seeds():
    t = "ws-handshake"
    token = "3f2a9c1e5b7d4f60a8e2c9b1d3f5a7c9"
    write(t, "valid", b"\x00" + ws_request())
    write(t, "valid-token", b"\x01" + ws_request(protocols=f"dapper.dp.v1, dapper.token.{token}"))
    write(t, "wrong-token", b"\x01" + ws_request(protocols="dapper.dp.v1, dapper.token.x"))
    write(t, "origin-loopback", b"\x00" + ws_request(origin="http://localhost:3000"))
    write(t, "origin-listed", b"\x02" + ws_request(origin="https://ide.example.com"))
    write(t, "origin-ipv6", b"\x04" + ws_request(origin="http://[::1]:8080"))
    write(t, "origin-evil", b"\x00" + ws_request(origin="https://127.0.0.1.evil.example"))
    write(t, "origin-null", b"\x00" + ws_request(origin="null"))
    write(t, "path", b"\x00" + ws_request(path="/x"))
    write(t, "version", b"\x00" + ws_request(version="8"))
    write(t, "no-protocol", b"\x00" + ws_request(protocols=None))
    write(t, "folded", b"\x00" + ws_request(extra="X-A: 1\r\n continued\r\n"))
    write(t, "cut", b"\x00" + ws_request()[:40])
    write(t, "answer-101", b"\x00" + b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: dapper.dp.v1\r\n\r\n")
    write(t, "answer-401", b"\x00" + b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 3\r\n\r\nno\n")


def ws_frame(opcode, payload, fin=True, mask=b"\x01\x02\x03\x04", rsv=0, length=None):
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | rsv | opcode
    m = 0x80 if mask else 0
    if n < 126:
        head = bytes([b0, m | n])
    elif n < 65536:
        head = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


def ws_frames_seeds():
    t = "ws-frames"
    mode_server_1k = 4  # bits 1-2 = 2: maximum 1024; bit 0 clear: we are the server (masked input)
    one = frame(1, b'{"a": 1}')
    write(t, "one", bytes([mode_server_1k, 0]) + ws_frame(2, one))
    write(t, "split", bytes([mode_server_1k, 2, 0, 1, 0, 3]) + ws_frame(2, one) + ws_frame(2, frame(2, b"x" * 200)))
    write(t, "fragments-ping", bytes([mode_server_1k, 0]) + ws_frame(2, one[:3], fin=False) + ws_frame(9, b"p")
          + ws_frame(0, one[3:9], fin=False) + ws_frame(0, one[9:]))
    write(t, "client-unmasked", bytes([mode_server_1k | 1, 0]) + ws_frame(2, one, mask=None) + ws_frame(8, b"\x03\xe8bye", mask=None))
    write(t, "unmasked", bytes([mode_server_1k, 0]) + ws_frame(2, one, mask=None))
    write(t, "text", bytes([mode_server_1k, 0]) + ws_frame(1, b"{}"))
    write(t, "rsv", bytes([mode_server_1k, 0]) + ws_frame(2, one, rsv=0x40))
    write(t, "length-lies", bytes([mode_server_1k, 0]) + ws_frame(2, b"DP\x01\x01", length=1 << 62))
    write(t, "too-big", bytes([mode_server_1k, 0]) + ws_frame(2, frame(1, b"y" * 1100)))
    write(t, "two-in-one", bytes([mode_server_1k, 0]) + ws_frame(2, one + one))
    write(t, "control-fragmented", bytes([mode_server_1k, 0]) + ws_frame(9, b"p", fin=False))
    write(t, "close", bytes([mode_server_1k, 0]) + ws_frame(2, one) + ws_frame(8, b"\x0f\xa1done"))
    write(t, "close-bad-utf8", bytes([mode_server_1k, 0]) + ws_frame(8, b"\x03\xe8\xc0\xaf"))
    write(t, "empty-message", bytes([mode_server_1k, 0]) + ws_frame(2, b""))
    write(t, "cut", bytes([mode_server_1k, 0]) + ws_frame(2, one)[:7])


def shm_ring_seeds():
    # ShmRingTarget's script: a size byte, then operations (op % 6: 0 the peer sets the write
    # index, 1 writes ring bytes, 2 our reader reads, 3 the peer sets the read index, 4 our
    # writer writes, 5 a wait or closed word; 132 and 135: 0 and 3 with any 64-bit value).
    t = "shm-ring"
    u16 = lambda v: v.to_bytes(2, "big")
    u64 = lambda v: v.to_bytes(8, "big")
    peer_bytes = bytes([1]) + u16(0) + bytes([100]) + bytes(range(100))
    write(t, "stream", bytes([0]) + peer_bytes + bytes([0]) + u16(100) + bytes([2]) + u16(64) + bytes([2]) + u16(64))
    write(t, "wrap", bytes([0, 4]) + u16(4000) + bytes([3]) + u16(1000) + bytes([4]) + u16(2000)
          + bytes([0]) + u16(4096) + bytes([2]) + u16(5000))
    write(t, "hostile-write-index", bytes([1, 132]) + u64(2**64 - 5) + bytes([2]) + u16(100))
    write(t, "one-past-full", bytes([0, 0]) + u16(4097) + bytes([2]) + u16(10))
    write(t, "hostile-read-index", bytes([2, 4]) + u16(300) + bytes([135]) + u64(2**63) + bytes([4]) + u16(10))
    write(t, "waits", bytes([0, 5]) + u16(0) + u16(1) + bytes([11]) + u16(0xFFFF) + u16(0xFFFF) + bytes([17]) + u16(0) + u16(2))


if __name__ == "__main__":
    shm_ring_seeds()
    ws_handshake_seeds()
    ws_frames_seeds()
    frame_reader_seeds()
    token_seeds()
    config_seeds()
    argv_seeds()
    hello_seeds()
