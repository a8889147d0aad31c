"""A ws listener made by the dapper_ipc package against peers that break RFC 6455 or the
listener's rules on purpose, spoken to over raw sockets: each refusal is the code or HTTP
status the header documents, has a log line, and leaves the listener serving its real
client; a flood of half-open handshakes and a client that dribbles its request hold up
nobody, and memory stays bounded. Also: pings, the close handshake both ways, the origin
and token rules, the session listener and the pull mode over ws.
Exit 0: passed, 1: failed."""

import base64
import logging
import os
import select
import socket
import ssl
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsframes  # noqa: E402
from dapper_ipc import IPCManager, SessionListener, TransportConfig  # noqa: E402
from dapper_ipc.errors import IPCError  # noqa: E402

failures = []
log_lines = []


class Capture(logging.Handler):
    def emit(self, record):
        log_lines.append(record.getMessage())


logging.getLogger("dapper.ipc").addHandler(Capture())
logging.getLogger("dapper.ipc").setLevel(logging.DEBUG)


def check(ok, what):
    print(("ok: " if ok else "FAILED: ") + what, flush=True)
    if not ok:
        failures.append(what)


def logged(*words, since=0):
    return any(all(w in line for w in words) for line in log_lines[since:])


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class RawClient:
    """A websocket client written out by hand, so it can break every rule."""

    def __init__(self, port, *, path="/", origin=None, protocols="dapper.dp.v1", version="13",
                 method="GET", connect_only=False, tls=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        if tls:  # wss: the same upgrade inside TLS; a test that needs the pin compares fingerprints itself
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            self.sock = context.wrap_socket(self.sock, server_hostname="localhost")
        self.key = base64.b64encode(os.urandom(16)).decode()
        self.buffer = b""
        if connect_only:
            return
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
                 "Connection: keep-alive, Upgrade", f"Sec-WebSocket-Key: {self.key}",
                 f"Sec-WebSocket-Version: {version}"]
        if protocols is not None:
            lines.append(f"Sec-WebSocket-Protocol: {protocols}")
        if origin is not None:
            lines.append(f"Origin: {origin}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

    def response(self):
        """(status, head, body) of the listener's answer."""
        while b"\r\n\r\n" not in self.buffer:
            data = self.sock.recv(4096)
            if not data:
                break
            self.buffer += data
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        self.buffer = rest
        status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.1 ") else 0
        if status != 101:
            self.sock.settimeout(5)
            try:
                while True:
                    data = self.sock.recv(4096)
                    if not data:
                        break
                    self.buffer += data
            except OSError:
                pass
        return status, head.decode("latin-1"), self.buffer

    def send_frame(self, opcode, payload, *, fin=True, mask=True, rsv=0, length=None):
        n = len(payload) if length is None else length
        first = (0x80 if fin else 0) | rsv | opcode
        if n < 126:
            header = struct.pack("!BB", first, (0x80 if mask else 0) | n)
        elif n < 65536:
            header = struct.pack("!BBH", first, (0x80 if mask else 0) | 126, n)
        else:
            header = struct.pack("!BBQ", first, (0x80 if mask else 0) | 127, n)
        if mask:
            key = os.urandom(4)
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if len(payload) < 4096 else \
                (int.from_bytes(payload, "big") ^ int.from_bytes((key * (len(payload) // 4 + 1))[:len(payload)], "big")).to_bytes(len(payload), "big")
            header += key
        self.sock.sendall(header + payload)

    def read_frame(self):
        """(opcode, payload) of the listener's next frame (never masked), or None at end of stream."""
        def need(n):
            while len(self.buffer) < n:
                data = self.sock.recv(65536)
                if not data:
                    return False
                self.buffer += data
            return True
        if not need(2):
            return None
        b0, b1 = self.buffer[0], self.buffer[1]
        check(not (b1 & 0x80), "the listener's frames are not masked") if b1 & 0x80 else None
        n, at = b1 & 0x7F, 2
        if n == 126:
            need(4)
            n, at = struct.unpack("!H", self.buffer[2:4])[0], 4
        elif n == 127:
            need(10)
            n, at = struct.unpack("!Q", self.buffer[2:10])[0], 10
        if not need(at + n):
            return None
        payload = self.buffer[at:at + n]
        self.buffer = self.buffer[at + n:]
        return b0 & 0x0F, payload

    def close_code(self):
        """The code of the listener's close frame (skipping data frames), or None."""
        while True:
            frame = self.read_frame()
            if frame is None:
                return None
            if frame[0] == 8:
                return struct.unpack("!H", frame[1][:2])[0] if len(frame[1]) >= 2 else 1005

    def close(self):
        self.sock.close()


class Listener:
    """A ws listener (the package's) whose reader echoes every frame and records the disconnect."""

    def __init__(self, **config):
        self.manager = IPCManager()
        args = self.manager.create_listener(TransportConfig(transport="ws", **config))
        self.port = int(args[args.index("--ipc-port") + 1])
        self.ended = threading.Event()
        self.disconnect = None
        self.frames = 0

    def echo(self):
        def on_frame(kind_and_payload):
            self.frames += 1
            kind, data = kind_and_payload
            self.manager.send_bytes(data, kind)

        def on_disconnect(status, reason):
            self.disconnect = (int(status), reason)
            self.ended.set()
        self.manager.start_reader(on_frame, raw=True, include_kind=True, on_disconnect=on_disconnect)
        return self

    def cleanup(self):
        self.manager.cleanup()


def upgraded(port, **kw):
    c = RawClient(port, **kw)
    status, head, _ = c.response()
    return c, status, head


def exchange_one(client, payload=b"hello"):
    client.send_frame(2, wsframes.dp_frame(1, payload))
    frame = client.read_frame()
    return frame is not None and frame[0] == 2 and wsframes.dp_parse(frame[1]) == (1, payload)


def test_protocol_violations():
    # (what the peer does, the close code, the status the host hears)
    cases = [
        ("an unmasked frame", lambda c: c.send_frame(2, wsframes.dp_frame(1, b"x"), mask=False), 1002, -11),
        ("a 64-bit length that lies (2^62 bytes)", lambda c: c.send_frame(2, b"DP\x01\x01", length=1 << 62), 1009, -12),
        ("a fragmented control frame", lambda c: c.send_frame(9, b"ping", fin=False), 1002, -11),
        ("a text message", lambda c: c.send_frame(1, b"{}"), 1003, -11),
        ("reserved bits", lambda c: c.send_frame(2, wsframes.dp_frame(1, b"x"), rsv=0x40), 1002, -11),
        ("a reserved opcode", lambda c: c.send_frame(3, b""), 1002, -11),
        ("a continuation with no message", lambda c: c.send_frame(0, b"x"), 1002, -11),
        ("two DP frames in one message", lambda c: c.send_frame(2, wsframes.dp_frame(1, b"a") + wsframes.dp_frame(1, b"b")), 1002, -11),
        ("a message above max_frame_size + 8", lambda c: c.send_frame(2, wsframes.dp_frame(1, b"y" * 2000)), 1009, -12),
    ]
    for what, act, code, status in cases:
        listener = Listener(max_frame_size=1024).echo()
        before = len(log_lines)
        c, s, _ = upgraded(listener.port)
        check(s == 101 and exchange_one(c), f"{what}: the client was upgraded and served first")
        rss = rss_kib()
        act(c)
        got = c.close_code()
        check(got == code, f"{what}: the listener closed with {code} (got {got})")
        check(listener.ended.wait(10) and listener.disconnect[0] == status,
              f"{what}: the host heard DISCONNECTED with status {status}: {listener.disconnect}")
        check(logged("websocket", since=before), f"{what}: a log line says why: {log_lines[before:][-1:]}")
        check(rss_kib() - rss < 16 * 1024, f"{what}: nothing large was allocated ({rss_kib() - rss} KiB more)")
        c.close()
        listener.cleanup()


def test_handshake_refusals():
    cases = [
        ({"path": "/other"}, {}, 404, "path"),
        ({"version": "8"}, {}, 426, "version"),
        ({"method": "POST"}, {}, 405, "method"),
        ({"protocols": None}, {}, 400, "dapper.dp.v1"),
        ({"protocols": "chat"}, {}, 400, "dapper.dp.v1"),
        ({"origin": "https://evil.example"}, {}, 403, "https://evil.example"),
        ({"origin": "null"}, {}, 403, "origin 'null'"),
        ({"origin": "http://127.0.0.1.evil.example:80"}, {}, 403, "127.0.0.1.evil.example"),
    ]
    for client, config, status, words in cases:
        listener = Listener(**config).echo()
        before = len(log_lines)
        c, s, head = upgraded(listener.port, **client)
        check(s == status, f"{client}: HTTP {status} (got {s}: {head.splitlines()[0] if head else ''})")
        check(logged("refused a websocket client", str(status), words, since=before),
              f"{client}: a log line names the refusal ({log_lines[before:][-1:]})")
        c.close()
        # The listener still serves a proper client afterwards.
        good, s, _ = upgraded(listener.port)
        check(s == 101 and exchange_one(good), f"{client}: a proper client is served after the refusal")
        good.close()
        listener.cleanup()

    for origin in ["http://localhost:3000", "https://127.0.0.1", "http://[::1]:8080", "https://ide.example.com"]:
        listener = Listener(ws_origins="https://ide.example.com, http://other.example").echo()
        c, s, _ = upgraded(listener.port, origin=origin)
        check(s == 101 and exchange_one(c), f"origin {origin} is allowed (HTTP {s})")
        c.close()
        listener.cleanup()


def test_token():
    listener = Listener(require_auth=True).echo()
    token = listener.manager.auth_token
    for protocols, status in [("dapper.dp.v1", 401), ("dapper.dp.v1, dapper.token.wrong", 401),
                              (f"dapper.dp.v1, dapper.token.{token}", 101)]:
        before = len(log_lines)
        c, s, head = upgraded(listener.port, protocols=protocols)
        check(s == status, f"subprotocols '{protocols[:40]}': HTTP {status} (got {s})")
        check(token not in head, "the token is never echoed")
        if s == 101:
            check("Sec-WebSocket-Protocol: dapper.dp.v1\r\n" in head + "\r\n", "only dapper.dp.v1 is selected")
            check(exchange_one(c), "the client with the right token is served")
        else:
            check(logged("401", "auth token", since=before), "a log line says the token was missing or wrong")
        c.close()
    listener.cleanup()
    # The library's own client offers the token as a subprotocol.
    listener = Listener(require_auth=True).echo()
    with IPCManager() as client:
        client.connect(TransportConfig(transport="ws", host="127.0.0.1", port=listener.port,
                                       auth_token=listener.manager.auth_token))
        client.send({"token": "ok"})
        check(client.recv(10) == {"token": "ok"}, "the library's client presents the token and is served")
    try:
        with IPCManager() as client:
            client.connect(TransportConfig(transport="ws", host="127.0.0.1", port=listener.port, auth_token="wrong"))
        check(False, "a wrong token is refused at connect")
    except IPCError as e:
        check("401" in str(e), f"a wrong token is refused at connect: {e}")
    listener.cleanup()


def test_ping_and_close():
    listener = Listener().echo()
    c, s, _ = upgraded(listener.port)
    c.send_frame(9, b"are you there")
    frame = c.read_frame()
    check(frame == (10, b"are you there"), f"a ping is answered by a pong with its payload ({frame})")
    # A ping between the fragments of a message.
    frame_bytes = wsframes.dp_frame(1, b"fragmented")
    c.send_frame(2, frame_bytes[:5], fin=False)
    c.send_frame(9, b"mid")
    c.send_frame(0, frame_bytes[5:12], fin=False)
    c.send_frame(0, frame_bytes[12:])
    got = [c.read_frame(), c.read_frame()]
    check(got[0] == (10, b"mid") and got[1][0] == 2 and wsframes.dp_parse(got[1][1]) == (1, b"fragmented"),
          f"a fragmented message with a ping between its fragments arrives whole ({got})")
    c.send_frame(8, struct.pack("!H", 4001) + b"bye now")
    check(c.close_code() == 4001, "the peer's close is answered with its code")
    check(listener.ended.wait(10) and listener.disconnect[0] == 0 and "4001" in listener.disconnect[1]
          and "bye now" in listener.disconnect[1], f"DISCONNECTED carries the close code and reason: {listener.disconnect}")
    c.close()
    listener.cleanup()
    # cleanup sends close 1000, within the linger, without waiting for the peer to answer
    listener = Listener().echo()
    c, s, _ = upgraded(listener.port)
    check(exchange_one(c), "served")
    start = time.monotonic()
    listener.cleanup()
    check(time.monotonic() - start < 2.5, f"cleanup took {time.monotonic() - start:.2f} s (within the 2 s linger)")
    check(c.close_code() == 1000, "cleanup sent close 1000")
    c.close()


def test_dribble_and_flood():
    listener = Listener().echo()
    request = (f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: dapper.dp.v1\r\n\r\n").encode()
    dribbler = RawClient(listener.port, connect_only=True)
    stop = threading.Event()

    def dribble():
        for byte in request:
            if stop.wait(1.0):
                return
            try:
                dribbler.sock.send(bytes([byte]))
            except OSError:
                return
    t = threading.Thread(target=dribble)
    t.start()
    rss_before = rss_kib()
    flood = []
    for _ in range(1000):
        s = socket.create_connection(("127.0.0.1", listener.port))
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finished
        flood.append(s)
    start = time.monotonic()
    real, status, _ = upgraded(listener.port)
    served = status == 101 and exchange_one(real, b"x" * 100000)
    check(served, f"with a dribbling client and 1,000 half-open handshakes, the real client is served "
                  f"({time.monotonic() - start:.2f} s)")
    check(rss_kib() - rss_before < 64 * 1024, f"memory stays bounded ({rss_kib() - rss_before} KiB more with 1,001 handshakes waiting)")
    real.close()
    listener.cleanup()
    stop.set()
    t.join()
    dribbler.close()
    for s in flood:
        s.close()

    # The time limit: a dribbler gets 408 and a log line, and a client waiting behind it is served.
    listener = Listener()
    before = len(log_lines)
    slow = RawClient(listener.port, connect_only=True)
    slow.sock.sendall(request[:10])
    accepted = []
    t = threading.Thread(target=lambda: accepted.append(listener.manager.wait_for_client(20)))
    t.start()
    deadline = time.monotonic() + 15
    status = 0
    while time.monotonic() < deadline:
        r, _, _ = select.select([slow.sock], [], [], 0.5)
        if r:
            status, _, _ = slow.response()
            break
        try:
            slow.sock.send(request[10:11])  # a byte now and then, never the whole request
        except OSError:
            break
    check(status == 408, f"a request not whole within the time limit gets HTTP 408 (got {status})")
    check(logged("refused a websocket client", "408", "not whole within", since=before), "a log line says so")
    good, s, _ = upgraded(listener.port)
    t.join(20)
    check(s == 101, "a proper client is served after it")
    good.close()
    slow.close()
    listener.cleanup()


def test_pull_mode_and_batches():
    """recv on the listener and on the library's client: frames sent as a batch and one by one,
    small and large, taken one at a time on the caller's thread (the readable handle's path)."""
    listener = Listener()
    with IPCManager() as client:
        client.connect(TransportConfig(transport="ws", host="127.0.0.1", port=listener.port))
        listener.manager.wait_for_client(10)
        messages = [{"seq": i, "pad": "z" * (i * 9973)} for i in range(60)]
        got = []
        reader = threading.Thread(target=lambda: got.extend(listener.manager.recv(10) for _ in messages))
        reader.start()
        client.send_many(messages[:30])
        for m in messages[30:]:
            client.send(m)
        reader.join(30)
        check(got == messages, "the listener's recv takes batch-sent and single frames over ws in order")
        got = []
        reader = threading.Thread(target=lambda: got.extend(client.recv(10) for _ in messages))
        reader.start()  # the client reads while the listener sends more than the socket buffers hold
        listener.manager.send_many(messages)
        reader.join(30)
        check(got == messages, "the client's recv takes the listener's masked-free frames in order")
    listener.cleanup()


def test_session_listener():
    with SessionListener() as sessions:
        args = sessions.create_listener(TransportConfig(transport="ws"))
        port = int(args[args.index("--ipc-port") + 1])
        sessions.expect("child-1")
        c, s, _ = upgraded(port)
        hello = b'{"event": "dapper/sessionHello", "body": {"sessionId": "child-1", "pid": 1}}'
        c.send_frame(2, wsframes.dp_frame(1, hello))
        manager = sessions.accept("child-1", timeout=10)
        check(manager.hello["body"]["sessionId"] == "child-1", "the session listener routes a ws client by its hello")
        manager.send_bytes(b'{"x": 1}', 2)
        frame = c.read_frame()
        check(frame and wsframes.dp_parse(frame[1]) == (2, b'{"x": 1}'), "and the session's frames reach it")
        manager.cleanup()
        c.close()


def main():
    for test in [test_protocol_violations, test_handshake_refusals, test_token, test_ping_and_close,
                 test_dribble_and_flood, test_pull_mode_and_batches, test_session_listener]:
        print(f"-- {test.__name__}", flush=True)
        try:
            test()
        except Exception as e:  # a test that raised failed; the others still run
            check(False, f"{test.__name__} raised {type(e).__name__}: {e}")
    print(f"{'FAILED' if failures else 'passed'}: {len(failures)} failures", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
