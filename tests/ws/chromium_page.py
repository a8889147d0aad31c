"""A real browser as the peer: Debian's chromium, headless, loads tests/ws/page/exchange.html
(plain JavaScript: new WebSocket(url, ["dapper.dp.v1", ...]), DataView framing) from a
local HTTP server and talks to a ws listener made by C (tests/ws/ws_peer.c, --c-peer PATH)
and by the Python package. Against each: a page from an origin that is not allowed is
refused (HTTP 403, logged), a page with a wrong token is refused (401), then a page
exchanges 10,000 frames each way (0 B to 1 MiB, every byte checked on both sides) and
closes with code 4321, which the host sees as DISCONNECTED with that code.
Exit 0: passed, 1: failed, 77: skipped (no chromium and no way to install it)."""

import argparse
import http.server
import json
import logging
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsframes  # noqa: E402

COUNT = 10000
HERE = os.path.dirname(os.path.abspath(__file__))
PAGES = {"/exchange.html": os.path.join(HERE, "page", "exchange.html"),
         "/hello.html": os.path.join(HERE, "..", "..", "samples", "web", "hello.html")}  # the README's sample
failures = []
results = queue.Queue()


def check(ok, what):
    print(("ok: " if ok else "FAILED: ") + what, flush=True)
    if not ok:
        failures.append(what)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        page = PAGES.get(self.path.split("?")[0])
        if page is None:
            self.send_error(404)
            return
        with open(page, "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        results.put(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


class PythonPeer:
    """The listener made by the Python package, answering as ws_peer.c does."""

    def __init__(self):
        from dapper_ipc import IPCManager, TransportConfig
        self.lines = []
        handler = logging.Handler()
        handler.emit = lambda record: self.lines.append("log: " + record.getMessage())
        logging.getLogger("dapper.ipc").addHandler(handler)
        logging.getLogger("dapper.ipc").setLevel(logging.DEBUG)
        self.manager = IPCManager()
        args = self.manager.create_listener(TransportConfig(transport="ws", require_auth=True))
        self.url = f"ws://{args[args.index('--ipc-host') + 1]}:{args[args.index('--ipc-port') + 1]}/"
        self.token = self.manager.auth_token
        self.done = threading.Event()
        self.received = self.bad = 0

        def on_frame(kind_and_payload):
            kind, data = kind_and_payload
            i = self.received
            self.received += 1
            self.bad += kind != 1 or data != wsframes.payload(0, i)
            self.manager.send_bytes(wsframes.payload(1, i), 2)

        def on_disconnect(status, reason):
            self.lines.append(f"received {self.received} bad {self.bad}")
            self.lines.append(f"disconnected {int(status)} {reason}")
            self.done.set()
        self.manager.start_reader(on_frame, raw=True, include_kind=True, on_disconnect=on_disconnect)

    def finish(self):
        self.done.wait(60)
        self.manager.cleanup()


class CPeer:
    def __init__(self, path):
        self.proc = subprocess.Popen([path, str(COUNT)], stdout=subprocess.PIPE, text=True)
        self.lines = []
        self.url = self.token = None
        while self.token is None:  # log lines may come first
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("ws_peer ended before it printed its url and token")
            self.lines.append(line.rstrip("\n"))
            if line.startswith("url "):
                self.url = line.split()[1]
            elif line.startswith("token "):
                self.token = line.split()[1]
        self.thread = threading.Thread(target=self._read)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def finish(self):
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.thread.join(10)


_pages = [0]


def open_page(chromium, url, profile, timeout):
    """Loads the page and returns what it POSTed (matched by an id, so a late report of an
    earlier page is never taken for this one's), or None after the timeout."""
    _pages[0] += 1
    page_id = str(_pages[0])
    url += f"&id={page_id}"
    browser = subprocess.Popen([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                                "--host-resolver-rules=MAP evil.example 127.0.0.1", url],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + timeout
        while True:
            result = results.get(timeout=max(0.1, end - time.monotonic()))
            if result.get("id") == page_id:
                return result
    except queue.Empty:
        return None
    finally:
        browser.terminate()
        try:
            browser.wait(10)
        except subprocess.TimeoutExpired:
            browser.kill()


def eventually(condition, seconds=10):
    """The log line comes from the listener's thread, maybe just after the page's report."""
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def run(name, peer, chromium, http_port, profile):
    ws = urllib.parse.quote(peer.url)
    page = f"/exchange.html?ws={ws}&close=4321"
    before = len(peer.lines)
    r = open_page(chromium, f"http://evil.example:{http_port}{page}&token={peer.token}&count=0", profile, 120)
    check(r is not None and not r["opened"], f"{name}: a page from http://evil.example is refused ({r})")
    check(eventually(lambda: any("403" in line and "evil.example" in line for line in peer.lines[before:])),
          f"{name}: the listener logged the refused origin by name")
    before = len(peer.lines)
    r = open_page(chromium, f"http://127.0.0.1:{http_port}{page}&token=wrong&count=0", profile, 60)
    check(r is not None and not r["opened"], f"{name}: a page with a wrong token is refused ({r})")
    check(eventually(lambda: any("401" in line for line in peer.lines[before:])), f"{name}: the listener logged the wrong token")
    r = open_page(chromium, f"http://127.0.0.1:{http_port}{page}&token={peer.token}&count={COUNT}", profile, 600)
    check(r is not None and r["received"] == COUNT and r["bad"] == 0 and r["protocol"] == "dapper.dp.v1",
          f"{name}: the page got {COUNT} frames from the library, byte for byte ({r})")
    check(r is not None and r["code"] == 4321, f"{name}: the library answered the page's close 4321 with its code")
    peer.finish()
    summary = [line for line in peer.lines if line.startswith(("received", "disconnected"))]
    print("\n".join(summary), flush=True)
    check(f"received {COUNT} bad 0" in summary, f"{name}: the library got {COUNT} frames from the page, byte for byte")
    check(any(line.startswith("disconnected 0 ") and "4321" in line and "page done" in line for line in summary),
          f"{name}: the page's close shows up as DISCONNECTED with its code 4321")


def hello_sample(chromium, http_port, profile):
    """samples/web/hello.html, the README's page: its hello reaches a listener and the answer the page."""
    from dapper_ipc import IPCManager, TransportConfig
    got = queue.Queue()
    with IPCManager() as manager:
        args = manager.create_listener(TransportConfig(transport="ws"))
        url = f"ws://127.0.0.1:{args[args.index('--ipc-port') + 1]}/"
        manager.start_reader(lambda message: (got.put(message), manager.send({"event": "welcome"})))
        browser = subprocess.Popen([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                    f"--user-data-dir={profile}", f"http://127.0.0.1:{http_port}/hello.html?ws={urllib.parse.quote(url)}"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            message = got.get(timeout=60)
        except queue.Empty:
            message = None
        check(message == {"event": "hello"}, f"the README's sample page sent its hello frame ({message})")
        browser.terminate()
        browser.wait(10)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--c-peer")
    options = parser.parse_args()
    chromium = wsframes.apt_install("chromium", lambda: shutil.which("chromium") or shutil.which("chromium-browser"))
    if not chromium:
        print("SKIP: no chromium (Debian's chromium package) and it could not be installed", flush=True)
        return wsframes.SKIP
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as profile:
        # A fresh profile's first start sets itself up and may not load the page: a warm-up
        # page (a websocket nobody listens on, so it reports at once) is not counted.
        open_page(chromium, f"http://127.0.0.1:{server.server_address[1]}/exchange.html?ws=ws://127.0.0.1:9/&count=0",
                  profile, 120)
        if options.c_peer:
            run("C listener", CPeer(options.c_peer), chromium, server.server_address[1], profile)
        run("Python listener", PythonPeer(), chromium, server.server_address[1], profile)
        hello_sample(chromium, server.server_address[1], profile)
    server.shutdown()
    print(f"{'FAILED' if failures else 'passed'}: {len(failures)} failures", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
