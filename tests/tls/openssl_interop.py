"""The tls transport against independent TLS implementations, both ways:

- `openssl s_client` connects to a tls listener made by the dapper_ipc package: the
  certificate it shows has the fingerprint of the launcher arguments (computed by
  `openssl x509`), TLS 1.3 is negotiated, a DP frame goes in and the reply comes out.
- the package's client against `openssl s_server`: pinned to s_server's certificate, a DP
  frame each way; a wrong pin is refused with E_PROTOCOL naming both fingerprints.
- Python's ssl module as the peer both ways (client of a library listener, checking the
  fingerprint itself; server for a library client), and TLS 1.2 refused unless allowed.
- without a pin, the system trust store decides (SSL_CERT_FILE names the test CA): a
  certificate for the right name passes; a wrong-host and an expired one are refused.
- binding a non-loopback address (0.0.0.0) logs the security warning for tcp, not for tls
  or wss.
- what works over tcp works over tls: the session listener routes a tls client (Python's
  ssl) by its hello; the pull mode (recv) and batches between the package's two ends; the
  asyncio pull mode (async for messages(), on the readable handle) takes 3,000 frames sent in
  bursts, in order (tls may hold decrypted bytes the socket no longer shows).
"""

import asyncio
import logging
import os
import select
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tlsutil  # noqa: E402
from tlsutil import check  # noqa: E402

from dapper_ipc import IPCManager, SessionListener, TransportConfig, errors  # noqa: E402


def echo_listener(manager, config, reply=lambda data: b"echo:" + data):
    """A listener whose reader answers every frame with reply(frame) as kind 2."""
    args = manager.create_listener(config)
    threading.Thread(target=lambda: manager.start_reader(
        lambda m: manager.send_bytes(reply(m), 2), raw=True), daemon=True).start()
    return args


def s_client_to_library():
    with IPCManager() as manager:
        args = echo_listener(manager, TransportConfig(transport="tls"))
        port = args[args.index("--ipc-port") + 1]
        check(args[:2] == ["--ipc", "tls"] and "--ipc-tls-fingerprint" in args, f"launcher arguments {args}")
        proc = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-showcerts", "-ign_eof"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.stdin.write(tlsutil.dp_frame(1, b'{"seq":1,"command":"ping"}'))
        proc.stdin.flush()
        want = tlsutil.dp_frame(2, b'echo:{"seq":1,"command":"ping"}')
        out = b""
        deadline = time.monotonic() + 20
        while want not in out and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 1)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                out += chunk
        check(want in out, "s_client sent a DP frame inside tls and got the library's reply frame")
        text = out.decode("latin-1")
        begin, end = text.find("-----BEGIN CERTIFICATE-----"), text.find("-----END CERTIFICATE-----")
        pem = os.path.join(tlsutil.tempfile.gettempdir(), f"dapper-s_client-{os.getpid()}.pem")
        with open(pem, "w") as f:
            f.write(text[begin:end + len("-----END CERTIFICATE-----")] + "\n")
        seen = tlsutil.openssl_fingerprint(pem)
        os.unlink(pem)
        check(seen == args[args.index("--ipc-tls-fingerprint") + 1] == manager.tls_fingerprint,
              f"openssl x509 computes the fingerprint of the launcher arguments ({seen})")
        check("TLSv1.3" in text, "s_client negotiated TLSv1.3")
        proc.stdin.close()
    proc.wait(20)


def library_to_s_server(certs):
    cert, key = certs.issue("s_server", "DNS:localhost")
    pin = tlsutil.openssl_fingerprint(cert)
    port = tlsutil.free_port()
    proc = subprocess.Popen(["openssl", "s_server", "-accept", str(port), "-cert", cert, "-key", key,
                             "-tls1_3", "-quiet", "-naccept", "1"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        got, arrived = [], threading.Event()
        with IPCManager() as manager:
            manager.connect(TransportConfig(transport="tls", host="127.0.0.1", port=port, tls_fingerprint=pin,
                                            connect_timeout=10))
            manager.start_reader(lambda m: (got.append(m), arrived.set()), raw=True)
            manager.send_bytes(b"from the library", 1)
            want = tlsutil.dp_frame(1, b"from the library")
            out = b""
            deadline = time.monotonic() + 20
            while len(out) < len(want) and time.monotonic() < deadline:
                if select.select([proc.stdout], [], [], 1)[0]:
                    out += os.read(proc.stdout.fileno(), 65536)
            check(out == want, f"s_server received the library's frame byte for byte ({out!r})")
            proc.stdin.write(tlsutil.dp_frame(2, b"from s_server"))
            proc.stdin.flush()
            check(arrived.wait(20) and got == [b"from s_server"], f"the library received s_server's frame ({got})")
    finally:
        proc.kill()
        proc.wait()


def wrong_pin_refused(certs):
    cert, key = certs.issue("pinned", "DNS:localhost")
    real = tlsutil.openssl_fingerprint(cert)
    wrong = "sha256:" + "00" * 32
    server = python_tls_server(cert, key, lambda conn: conn.recv(1))
    with IPCManager() as manager:
        try:
            manager.connect(TransportConfig(transport="tls", host="127.0.0.1", port=server.port, tls_fingerprint=wrong))
            check(False, "a wrong pin is refused")
        except errors.IPCError as e:
            check(e.status == -11, f"a wrong pin fails with E_PROTOCOL ({type(e).__name__}, {e.status!r})")
            check(wrong in str(e) and real in str(e), f"the message shows both fingerprints: {e}")
    server.close()


class python_tls_server:
    """Python's ssl module as a tls server on an ephemeral port; handler(conn) per client."""

    def __init__(self, cert, key, handler, maximum=None):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        if maximum:
            ctx.maximum_version = maximum
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.errors = []

        def serve():
            while True:
                try:
                    raw, _ = self.sock.accept()
                except OSError:
                    return
                try:
                    with ctx.wrap_socket(raw, server_side=True) as conn:
                        handler(conn)
                except (OSError, ssl.SSLError, EOFError) as e:
                    self.errors.append(e)
        threading.Thread(target=serve, daemon=True).start()

    def close(self):
        self.sock.close()


def python_ssl_both_ways(certs):
    # Python's client against a library listener, pinning the fingerprint itself.
    with IPCManager() as manager:
        args = echo_listener(manager, TransportConfig(transport="tls"))
        port = int(args[args.index("--ipc-port") + 1])
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # pinned below, as the library's client does
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost") as conn:
            check(tlsutil.fingerprint_of_der(conn.getpeercert(binary_form=True)) == manager.tls_fingerprint,
                  "Python's ssl sees the certificate of tls_fingerprint")
            check(conn.version() == "TLSv1.3", f"TLS 1.3 by default ({conn.version()})")
            big = bytes(range(256)) * 4096  # 1 MiB: many records each way
            conn.sendall(tlsutil.dp_frame(1, b"small") + tlsutil.dp_frame(1, big))
            ok = tlsutil.read_frame(conn) == (2, b"echo:small") and tlsutil.read_frame(conn) == (2, b"echo:" + big)
            check(ok, "two frames (5 B and 1 MiB) went to the library and came back, byte for byte")

    # The library's client against Python's server.
    cert, key = certs.issue("python", "DNS:localhost")
    seen = []

    def handler(conn):
        seen.append(tlsutil.read_frame(conn))
        conn.sendall(tlsutil.dp_frame(2, b"python says hi"))
        tlsutil.read_frame(conn)  # until the library leaves

    server = python_tls_server(cert, key, handler)
    got, arrived = [], threading.Event()
    with IPCManager() as manager:
        manager.connect(TransportConfig(transport="tls", host="127.0.0.1", port=server.port,
                                        tls_fingerprint=tlsutil.openssl_fingerprint(cert)))
        manager.start_reader(lambda m: (got.append(m), arrived.set()), raw=True)
        manager.send_bytes(b"library says hi", 1)
        check(arrived.wait(20) and got == [b"python says hi"], f"the library got Python's frame ({got})")
    check(seen == [(1, b"library says hi")], f"Python got the library's frame ({seen})")
    server.close()

    # TLS 1.2: refused unless the flag allows it.
    for allow in (False, True):
        with IPCManager() as manager:
            args = echo_listener(manager, TransportConfig(transport="tls", allow_tls12=allow))
            port = int(args[args.index("--ipc-port") + 1])
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            try:
                with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="x") as conn:
                    conn.sendall(tlsutil.dp_frame(1, b"1.2"))
                    result = tlsutil.read_frame(conn) == (2, b"echo:1.2") and conn.version() == "TLSv1.2"
            except (ssl.SSLError, OSError, EOFError):
                result = False
            check(result == allow, f"a TLS 1.2 client is {'served' if allow else 'refused'} with allow_tls12={allow}")


def trust_store(certs):
    """No pin: OpenSSL's default verify paths, pointed at the test CA by SSL_CERT_FILE."""
    os.environ["SSL_CERT_FILE"] = certs.ca
    cases = [("good", "DNS:localhost", 2, "localhost", None),
             ("wronghost", "DNS:elsewhere.example", 2, "localhost", "hostname mismatch"),
             ("expired", "DNS:localhost", -1, "localhost", "certificate has expired")]
    for name, san, days, host, refusal in cases:
        cert, key = certs.issue(name, san, days)

        def handler(conn):
            tlsutil.read_frame(conn)
            conn.sendall(tlsutil.dp_frame(2, b"trusted"))
            tlsutil.read_frame(conn)
        server = python_tls_server(cert, key, handler)
        with IPCManager() as manager:
            try:
                manager.connect(TransportConfig(transport="tls", host=host, port=server.port))
                got, arrived = [], threading.Event()
                manager.start_reader(lambda m: (got.append(m), arrived.set()), raw=True)
                manager.send_bytes(b"hello", 1)
                check(refusal is None and arrived.wait(20), f"{name}: a certificate the trust store vouches for, for {host}, is accepted")
            except errors.IPCError as e:
                check(refusal is not None and refusal in str(e) and getattr(e, "status", None) == -11,
                      f"{name}: refused without a pin, E_PROTOCOL with the reason: {e}")
        server.close()
    del os.environ["SSL_CERT_FILE"]


def sessions_pull_and_batches():
    with SessionListener() as sessions:
        args = sessions.create_listener(TransportConfig(transport="tls"))
        port = int(args[args.index("--ipc-port") + 1])
        sessions.expect("child-1")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost") as conn:
            hello = b'{"event": "dapper/sessionHello", "body": {"sessionId": "child-1", "pid": 1}}'
            conn.sendall(tlsutil.dp_frame(1, hello))
            manager = sessions.accept("child-1", timeout=10)
            check(manager.hello["body"]["sessionId"] == "child-1", "the session listener routes a tls client by its hello")
            manager.send_bytes(b'{"x": 1}', 2)
            check(tlsutil.read_frame(conn) == (2, b'{"x": 1}'), "and the session's frames reach it, inside tls")
            manager.cleanup()

    messages = [{"seq": i, "pad": "x" * (i * 37 % 3000)} for i in range(200)]
    with IPCManager() as listener, IPCManager() as client:
        args = listener.create_listener(TransportConfig(transport="tls"))
        client.connect(TransportConfig.from_launcher_args(args))
        listener.wait_for_client(10)
        got = []
        reader = threading.Thread(target=lambda: got.extend(listener.recv(10) for _ in messages))
        reader.start()
        client.send_many(messages[:50])
        for m in messages[50:]:
            client.send(m)
        reader.join(30)
        check(got == messages, "the listener's recv takes batch-sent and single frames over tls in order")
        got = []
        reader = threading.Thread(target=lambda: got.extend(client.recv(10) for _ in messages))
        reader.start()
        listener.send_many(messages)
        reader.join(30)
        check(got == messages, "the client's recv takes a batch over tls in order")


def asyncio_pull():
    count = 3000

    async def run():
        with IPCManager() as server, IPCManager() as client:
            args = server.create_listener(TransportConfig(transport="tls"))
            client.connect(TransportConfig.from_launcher_args(args))

            def produce():
                for i in range(0, count, 50):
                    client.send_many([{"seq": j, "pad": "y" * (j % 5000)} for j in range(i, i + 50)])
            threading.Thread(target=produce, daemon=True).start()
            seen = []

            async def consume():
                async for message in server.messages():
                    seen.append(message["seq"])
                    if len(seen) == count:
                        break
            await asyncio.wait_for(consume(), 60)
            return seen
    try:
        seen = asyncio.run(run())
    except asyncio.TimeoutError:
        seen = None
    check(seen == list(range(count)), f"async for messages() took {count} frames sent in bursts over tls, in order")


def non_loopback_warning():
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    log = logging.getLogger("dapper.ipc")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        for transport, warns in (("tcp", True), ("tls", False), ("wss", False)):
            del lines[:]
            with IPCManager() as manager:
                manager.create_listener(TransportConfig(transport=transport, host="0.0.0.0"))
            warned = any("security warning" in line for line in lines)
            check(warned == warns, f"a {transport} listener on 0.0.0.0 {'logs' if warns else 'does not log'} the "
                                   f"non-loopback security warning ({[line for line in lines if 'warning' in line]})")
    finally:
        log.removeHandler(handler)


def main():
    if not tlsutil.need_openssl():
        print("SKIP: the openssl command is missing and apt-get could not install it", flush=True)
        return tlsutil.SKIP
    certs = tlsutil.Certs()
    try:
        s_client_to_library()
        library_to_s_server(certs)
        wrong_pin_refused(certs)
        python_ssl_both_ways(certs)
        trust_store(certs)
        sessions_pull_and_batches()
        non_loopback_warning()
        asyncio_pull()
    finally:
        certs.cleanup()
    return tlsutil.finish()


if __name__ == "__main__":
    sys.exit(main())
