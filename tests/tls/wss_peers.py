"""wss: the ws transport inside the tls of the tls transport.

- the package's wss client against its wss listener: the pin, the token subprotocol inside
  tls, frames both ways (1 MiB included);
- the session listener over wss: two clients (a websocket client written out by hand, inside
  Python's ssl) routed by their hellos, each session's frames both ways;
- headless chromium (tests/ws/page/exchange.html) against a wss listener made by the
  Python package, trusting the listener's self-signed certificate through
  --ignore-certificate-errors-spki-list for that key only: without the flag the page
  cannot connect; with it, 2,000 frames each way byte for byte and a close code that
  reaches the host.
"""

import base64
import hashlib
import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "ws"))
import tlsutil  # noqa: E402
from tlsutil import check  # noqa: E402
import chromium_page  # noqa: E402  (the page server and the browser runner of the ws test)
import wsframes  # noqa: E402
import hostile_peers  # noqa: E402  (its hand-written websocket client)

from dapper_ipc import IPCManager, SessionListener, TransportConfig  # noqa: E402

COUNT = 2000


def library_both_ends():
    got, arrived = [], threading.Event()
    with IPCManager() as server:
        args = server.create_listener(TransportConfig(transport="wss", require_auth=True))
        check(args[:2] == ["--ipc", "wss"] and args[-1] == server.tls_fingerprint, f"launcher arguments {args}")
        with IPCManager() as client:
            config = TransportConfig.from_launcher_args(args)
            config.auth_token = server.auth_token
            client.connect(config)
            server.start_reader(lambda m: server.send_bytes(b"echo:" + m, 2), raw=True)
            client.start_reader(lambda m: (got.append(m), len(got) == 2 and arrived.set()), raw=True)
            big = bytes(range(256)) * 4096
            client.send_bytes(b"over wss", 1)
            client.send_bytes(big, 1)
            check(arrived.wait(20) and got == [b"echo:over wss", b"echo:" + big],
                  "the package's wss client and listener exchanged frames (5 B, 1 MiB) with the pin and the token")


def session_listener_over_wss():
    with SessionListener() as sessions:
        args = sessions.create_listener(TransportConfig(transport="wss"))
        port = int(args[args.index("--ipc-port") + 1])
        pin = args[args.index("--ipc-tls-fingerprint") + 1]
        clients = {}
        for sid in ("child-1", "child-2"):
            sessions.expect(sid)
            client = hostile_peers.RawClient(port, tls=True)
            status, _, _ = client.response()
            seen = "sha256:" + hashlib.sha256(client.sock.getpeercert(binary_form=True)).hexdigest()
            check(status == 101 and seen == pin, f"{sid}: the websocket upgrade inside tls, from the certificate of the launcher arguments")
            hello = json.dumps({"event": "dapper/sessionHello", "body": {"sessionId": sid, "pid": 1}}).encode()
            client.send_frame(2, wsframes.dp_frame(1, hello))
            clients[sid] = client
        for sid, client in clients.items():
            manager = sessions.accept(sid, timeout=10)
            check(manager.hello["body"]["sessionId"] == sid, f"the session listener routes a wss client by its hello ({sid})")
            manager.send_bytes(json.dumps({"to": sid}).encode(), 2)
            frame = client.read_frame()
            check(frame is not None and wsframes.dp_parse(frame[1]) == (2, json.dumps({"to": sid}).encode()),
                  f"{sid}: the session's frame reaches its client inside tls and ws")
            client.send_frame(2, wsframes.dp_frame(1, json.dumps({"from": sid}).encode()))
            check(manager.recv(10) == {"from": sid}, f"{sid}: and the client's frame reaches its session")
            manager.cleanup()
            client.close()


def spki_hash(port):
    """base64 SHA-256 of the listener certificate's SubjectPublicKeyInfo, as chromium wants it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost") as conn:
        der = conn.getpeercert(binary_form=True)
    pubkey = subprocess.run(["openssl", "x509", "-inform", "der", "-pubkey", "-noout"], input=der,
                            capture_output=True, check=True).stdout
    spki = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pubkey,
                          capture_output=True, check=True).stdout
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def open_page(chromium, url, profile, extra, timeout):
    """chromium_page.open_page with extra chromium switches."""
    original = subprocess.Popen

    def popen(cmd, *a, **k):
        return original(cmd[:-1] + extra + cmd[-1:], *a, **k)
    subprocess.Popen = popen
    try:
        return chromium_page.open_page(chromium, url, profile, timeout)
    finally:
        subprocess.Popen = original


def chromium_over_wss(chromium):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), chromium_page.Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    http_port = server.server_address[1]
    state = {"received": 0, "bad": 0}
    ended = threading.Event()
    with IPCManager() as manager, tempfile.TemporaryDirectory() as profile:
        args = manager.create_listener(TransportConfig(transport="wss", require_auth=True))
        port = int(args[args.index("--ipc-port") + 1])
        url = urllib.parse.quote(f"wss://127.0.0.1:{port}/")
        spki = spki_hash(port)
        page = f"http://127.0.0.1:{http_port}/exchange.html?ws={url}&token={manager.auth_token}"
        open_page(chromium, page + "&count=0", profile, [], 120)  # warm-up of a fresh profile

        r = open_page(chromium, page + "&count=0", profile, [], 60)
        check(r is not None and not r["opened"], f"without the key's hash chromium refuses the self-signed certificate ({r})")

        def on_frame(kind_and_payload):
            kind, data = kind_and_payload
            i = state["received"]
            state["received"] += 1
            state["bad"] += kind != 1 or data != wsframes.payload(0, i)
            manager.send_bytes(wsframes.payload(1, i), 2)

        def on_disconnect(status, reason):
            state["reason"] = reason
            ended.set()
        threading.Thread(target=lambda: manager.start_reader(on_frame, raw=True, include_kind=True,
                                                             on_disconnect=on_disconnect), daemon=True).start()
        r = open_page(chromium, page + f"&count={COUNT}&close=4321", profile,
                      [f"--ignore-certificate-errors-spki-list={spki}"], 600)
        check(r is not None and r["received"] == COUNT and r["bad"] == 0 and r["protocol"] == "dapper.dp.v1",
              f"with the key's hash, the page got {COUNT} frames over wss, byte for byte ({r})")
        check(ended.wait(60) and state["received"] == COUNT and state["bad"] == 0,
              f"the library got {COUNT} frames from the page, byte for byte ({state})")
        check("4321" in state.get("reason", ""), f"the page's close code reached the host ({state.get('reason')})")
    server.shutdown()


def main():
    if not tlsutil.need_openssl():
        print("SKIP: the openssl command is missing and apt-get could not install it", flush=True)
        return tlsutil.SKIP
    library_both_ends()
    session_listener_over_wss()
    chromium = wsframes.apt_install("chromium", lambda: shutil.which("chromium") or shutil.which("chromium-browser"))
    if not chromium:
        print("SKIP: no chromium (Debian's chromium package) and it could not be installed", flush=True)
        return tlsutil.SKIP
    chromium_over_wss(chromium)
    return tlsutil.finish()


if __name__ == "__main__":
    sys.exit(main())
