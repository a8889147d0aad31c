"""A tls listener (with DAPPER_IPC_FLAG_REQUIRE_AUTH, the token inside tls) refuses what it
must, each with a log line, while the real client keeps working:

- a plaintext client (a DP frame where a ClientHello belongs),
- a client that stalls mid-handshake (half a ClientHello, then nothing): dropped at the
  handshake deadline,
- 500 half-open handshakes at once: the real client connects and round-trips meanwhile,
  and the process's memory stays bounded,
- a tls client without the token (refused at accept, inside tls).
And a peer that stops reading: the send gives up with E_SEND_TIMEOUT after send_timeout, the
stream cut mid-record closes the connection (E_CLOSED after), and the host goes on.
"""

import logging
import os
import resource
import socket
import ssl
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tlsutil  # noqa: E402
from tlsutil import check  # noqa: E402

from dapper_ipc import IPCManager, TransportConfig, errors  # noqa: E402

HALF_OPEN = 500


class Lines(logging.Handler):
    """The library's log lines, with an event per awaited text."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []
        self.changed = threading.Condition()

    def emit(self, record):
        with self.changed:
            self.lines.append(record.getMessage())
            self.changed.notify_all()

    def wait_for(self, text, count=1, timeout=30):
        with self.changed:
            return self.changed.wait_for(lambda: sum(text in line for line in self.lines) >= count, timeout)

    def count(self, text):
        with self.changed:
            return sum(text in line for line in self.lines)


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def client_hello_half():
    """The first half of a real ClientHello (made by Python's ssl into memory)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    return hello[:len(hello) // 2]


def real_client(port, fingerprint, token, payload):
    """The library's own client: connect (pin + token), one round trip; True when it came back."""
    got, arrived = [], threading.Event()
    with IPCManager() as client:
        client.connect(TransportConfig(transport="tls", port=port, tls_fingerprint=fingerprint, auth_token=token,
                                       connect_timeout=10))
        client.start_reader(lambda m: (got.append(m), arrived.set()), raw=True)
        client.send_bytes(payload, 1)
        return arrived.wait(20) and got == [b"echo:" + payload]


def peer_stops_reading():
    with IPCManager() as server:
        args = server.create_listener(TransportConfig(transport="tls", send_timeout=0.5))
        port = int(args[args.index("--ipc-port") + 1])
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost"):
            server.wait_for_client(10)
            status = None
            for _ in range(10000):  # far more than any socket buffer holds
                try:
                    server.send_bytes(b"z" * (1 << 20), 1)
                except errors.IPCError as e:
                    status = e.status
                    break
            check(status == -17, f"a send to a peer that stopped reading gives up with E_SEND_TIMEOUT ({status!r})")
            try:
                server.send_bytes(b"x", 1)
                after = None
            except errors.IPCError as e:
                after = e.status
            check(after == -10, f"the stream cut mid-record closed the connection: the next send is E_CLOSED ({after!r})")


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2 * HALF_OPEN + 200:
        print(f"SKIP: {2 * HALF_OPEN + 200} descriptors are needed; the hard limit is {hard}", flush=True)
        return tlsutil.SKIP
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))
    lines = Lines()
    logging.getLogger("dapper.ipc").addHandler(lines)
    logging.getLogger("dapper.ipc").setLevel(logging.DEBUG)
    hello_half = client_hello_half()
    with IPCManager() as server:
        args = server.create_listener(TransportConfig(transport="tls", require_auth=True))
        port = int(args[args.index("--ipc-port") + 1])
        fingerprint, token = server.tls_fingerprint, server.auth_token

        def serve():
            server.start_reader(lambda m: server.send_bytes(b"echo:" + m, 2), raw=True)
        threading.Thread(target=serve, daemon=True).start()

        # A plaintext client: its DP frame is not a ClientHello.
        plain = socket.create_connection(("127.0.0.1", port))
        plain.sendall(tlsutil.dp_frame(1, b'{"seq":1}'))
        check(lines.wait_for("refused a tls client"), "a plaintext client is refused with a log line")
        plain.settimeout(10)
        try:
            closed = plain.recv(100) == b""  # an alert may come first on some versions: then EOF
            closed = closed or plain.recv(100) == b""
        except ConnectionResetError:
            closed = True
        except OSError:
            closed = False
        check(closed, "the plaintext client's connection is closed")
        plain.close()
        refused = lines.count("refused a tls client")

        # A tls client without the token: refused at accept, inside tls.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        tokenless = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
        tokenless.sendall(tlsutil.dp_frame(1, b'{"seq":1,"command":"initialize"}'))

        # A client that stalls mid-handshake, and 500 half-open ones at once.
        stalled = socket.create_connection(("127.0.0.1", port))
        stalled.sendall(hello_half)
        before = rss_kib()
        flood = []
        for _ in range(HALF_OPEN):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(hello_half)
            flood.append(s)

        # Meanwhile the real client (pin and token) connects and round-trips.
        check(real_client(port, fingerprint, token, b"through the flood"),
              f"the real client connected and got its reply while {HALF_OPEN + 1} handshakes stalled")
        check(lines.wait_for("(the listener requires an auth token)", 1, 20),
              "the tls client without the token was refused with a log line")
        grown = rss_kib() - before
        check(grown < 64 * 1024, f"{HALF_OPEN} half-open handshakes grew the process by {grown} KiB (bound: 64 MiB)")
        check(lines.wait_for("was not done within", HALF_OPEN + 1, 60),
              f"the stalled handshakes were dropped at their deadline, each with a log line "
              f"({lines.count('was not done within')} of {HALF_OPEN + 1})")
        check(lines.count("refused a tls client") >= refused + HALF_OPEN + 1, "every refusal has its log line")
        for s in flood + [stalled, tokenless]:
            s.close()
    peer_stops_reading()
    return tlsutil.finish()


if __name__ == "__main__":
    sys.exit(main())
