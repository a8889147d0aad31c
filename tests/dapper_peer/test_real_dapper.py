"""The real Dapper, unedited, runs on the library: `python -m dapper_ipc.dapper adapter`.

Dapper is the copy in ../shared/peer (from the repository's root), used in place. A DAP
client on tcp runs a whole session through Dapper's adapter, whose launcher child runs on
the library too: initialize, launch (ipcTransport unix, then tcp), setBreakpoints once
the launcher has built its debugger, configurationDone, the stop at the breakpoint,
stackTrace, continue, the program's exit. The link between adapter and launcher must have
been libdapper_ipc's on both sides: the library's own log lines ("dapper.ipc.native") in
the adapter's log and in the launcher's, and the program, which runs inside the launcher,
prints what Dapper holds as its socket and which module serves Dapper's dapper.ipc.
`python -m dapper_ipc.dapper launcher` is also run alone, against a dapper_ipc listener.

Run as a script it exits 77 (CTest's skip) with the reason where the peer is missing.
"""

import os
import shutil
import pathlib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from dap_client import DapClient  # noqa: E402

ROOT = HERE.parent.parent
PEER = ROOT.parent / "shared" / "peer"
WAIT = 60.0  # seconds for any one step of a session on a busy machine

PROGRAM = '''\
import sys


def link():
    from dapper.shared import debug_shared
    return repr(debug_shared.get_active_session().ipc_sock)


total = sum(range(4))
print("total:", total, flush=True)  # the breakpoint's line
print("link:", link(), flush=True)
print("served:", sys.modules["dapper.ipc"].IPCManager.__module__, flush=True)
'''
BREAKPOINT_LINE = 10


def find_dapper():
    """(folder to put on PYTHONPATH, None) or (None, why not)."""
    if not PEER.is_dir():
        return None, f"the real Dapper is not at {PEER} (../shared/peer from the repository's root)"
    for folder in sorted(PEER.glob("dapper-*")):
        if (folder / "dapper" / "adapter" / "__main__.py").is_file():
            return folder, None
    return None, f"{PEER} holds no dapper-*/dapper package"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, what, process, log):
    deadline = time.monotonic() + WAIT
    while not condition():
        if process.poll() is not None:
            tail = log.read_text()[-4000:] if log.is_file() else ""
            raise AssertionError(f"the {process.args[3]} exited ({process.returncode}) before {what}:\n{tail}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {WAIT} s")
        time.sleep(0.05)


class RecordingProxy:
    """A tcp proxy for one connection on 127.0.0.1 that keeps every byte it relays."""

    def __init__(self, upstream_port):
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._upstream_port = upstream_port
        self._down, self._up = bytearray(), bytearray()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._serve, daemon=True)]
        self._threads[0].start()

    def _serve(self):
        client, _ = self._server.accept()
        upstream = socket.create_connection(("127.0.0.1", self._upstream_port))
        pumps = [threading.Thread(target=self._pump, args=(upstream, client, self._down), daemon=True),
                 threading.Thread(target=self._pump, args=(client, upstream, self._up), daemon=True)]
        for pump in pumps:
            pump.start()
        for pump in pumps:
            pump.join()
        client.close()
        upstream.close()

    def _pump(self, source, sink, record):
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                try:
                    sink.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            with self._lock:
                record.extend(data)
            sink.sendall(data)

    def downstream_bytes(self):
        with self._lock:
            return bytes(self._down)

    def upstream_bytes(self):
        with self._lock:
            return bytes(self._up)

    def close(self):
        self._server.close()


DAPPER, WHY_NOT = find_dapper()


@unittest.skipIf(DAPPER is None, WHY_NOT)
class RealDapperRunsOnTheLibrary(unittest.TestCase):
    def test_session_over_unix(self):
        self.run_session("unix")

    def test_session_over_tcp(self):
        self.run_session("tcp")

    def workdir(self):
        """A scratch folder (removed after the test) with the debuggee and the launcher's log path."""
        work = pathlib.Path(tempfile.mkdtemp(prefix="dapper-peer-"))
        self.addCleanup(shutil.rmtree, work, ignore_errors=True)
        program = work / "program.py"
        program.write_text(PROGRAM)
        return work, program, work / "launcher.log"

    def test_the_launcher_entry_point_alone(self):
        # `python -m dapper_ipc.dapper launcher ARGS` is Dapper's launcher on the library,
        # here driven by a dapper_ipc listener standing where Dapper's adapter would.
        sys.path.insert(0, str(ROOT / "python" / "src"))
        from dapper_ipc import IPCManager, TransportConfig

        work, program, launcher_log = self.workdir()
        adapter = IPCManager()
        self.addCleanup(adapter.close)
        args = adapter.create_listener(TransportConfig(transport="tcp"))
        env = dict(os.environ, DAPPER_LOG_FILE=str(launcher_log), DAPPER_LOG_LEVEL="DEBUG")
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "python" / "src"), str(DAPPER)])
        launcher = subprocess.Popen([sys.executable, "-m", "dapper_ipc.dapper", "launcher", "--program", str(program),
                                     *args], env=env, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    text=True)
        try:
            adapter.wait_for_client(WAIT)
            wait_until(lambda: launcher_log.is_file() and "Debugger configured" in launcher_log.read_text(),
                       "debugger in the launcher", launcher, launcher_log)
            adapter.send({"id": 1, "command": "configurationDone", "arguments": {}})
            events = []
            while "exited" not in events:
                events.append(adapter.recv(timeout=WAIT).get("event"))
            stdout, _ = launcher.communicate(timeout=WAIT)
        finally:
            if launcher.poll() is None:
                launcher.kill()
                launcher.wait()
        self.assertIn("link: <dapper_ipc LibraryLink tcp ", stdout)
        self.assertIn("served: dapper_ipc.dapper._adapter_side\n", stdout)

    def test_the_stock_launcher_sees_nothing_new_from_a_listener_with_heartbeats(self):
        # Dapper's own launcher (`python -m dapper.launcher`, its original dapper.ipc, no
        # library) against a dapper_ipc listener with heartbeats on. A tcp proxy records
        # every byte the launcher receives: exactly the host's frames, nothing of the
        # library's own, although the session lasts many heartbeat periods.
        sys.path.insert(0, str(ROOT / "python" / "src"))
        from dapper_ipc import IPCConnectionError, IPCManager, TransportConfig

        work, program, launcher_log = self.workdir()
        adapter = IPCManager()
        self.addCleanup(adapter.close)
        args = adapter.create_listener(TransportConfig(transport="tcp", heartbeat_ms=20))
        upstream_port = int(args[args.index("--ipc-port") + 1])
        proxy = RecordingProxy(upstream_port)
        self.addCleanup(proxy.close)
        args[args.index("--ipc-port") + 1] = str(proxy.port)
        env = dict(os.environ, DAPPER_LOG_FILE=str(launcher_log), DAPPER_LOG_LEVEL="DEBUG")
        env["PYTHONPATH"] = str(DAPPER)  # the original package only
        launcher = subprocess.Popen([sys.executable, "-m", "dapper.launcher", "--program", str(program), *args],
                                    env=env, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            adapter.wait_for_client(WAIT)
            wait_until(lambda: launcher_log.is_file() and "Debugger configured" in launcher_log.read_text(),
                       "debugger in the launcher", launcher, launcher_log)
            command = b'{"seq": 1, "type": "request", "command": "configurationDone", "arguments": {}}'
            adapter.send_bytes(command)
            events = []
            while "exited" not in events:
                events.append(adapter.recv(timeout=WAIT).get("event"))
            stdout, _ = launcher.communicate(timeout=WAIT)
            while True:  # what the launcher sent before it closed
                try:
                    adapter.recv(timeout=WAIT)
                except IPCConnectionError:
                    break
        finally:
            if launcher.poll() is None:
                launcher.kill()
                launcher.wait()
        self.assertIn("total: 6", stdout)
        stats = adapter.stats()
        self.assertEqual(-1, stats["heartbeat_rtt_us"], "a stock peer answered heartbeats it was never sent")
        self.assertEqual(1, stats["frames_sent"])
        frame = b"DP\x01\x02" + len(command).to_bytes(4, "big") + command
        self.assertEqual(frame, proxy.downstream_bytes(), "the launcher received something besides the host's frame")
        self.assertEqual(stats["bytes_received"], len(proxy.upstream_bytes()))

    def run_session(self, transport):
        work, program, launcher_log = self.workdir()
        adapter_log = work / "adapter.log"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "python" / "src"), str(DAPPER)])
        # Dapper's launcher writes its log where the adapter's environment says.
        env.update(DAPPER_LOG_FILE=str(launcher_log), DAPPER_LOG_LEVEL="DEBUG")
        port = free_port()
        with open(adapter_log, "w") as log:
            adapter = subprocess.Popen(
                [sys.executable, "-m", "dapper_ipc.dapper", "adapter",
                 "--port", str(port), "--host", "127.0.0.1", "--log-level", "DEBUG"],
                env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT)
        client = None
        try:
            def listening():
                nonlocal client
                try:
                    client = DapClient("127.0.0.1", port, timeout=WAIT)
                except OSError:
                    return False
                return True

            wait_until(listening, "DAP listener", adapter, adapter_log)
            self.assertTrue(client.request("initialize", {"adapterID": "dapper", "clientID": "dapper-ipc-test",
                                                          "linesStartAt1": True, "pathFormat": "path"})["success"])
            launched = client.request("launch", {"program": str(program), "ipcTransport": transport})
            self.assertTrue(launched["success"], launched)
            client.event("process")
            # Dapper's launcher drops a command that arrives before its debugger exists and
            # tells no DAP client when it is ready; its log does.
            wait_until(lambda: launcher_log.is_file() and "Debugger configured" in launcher_log.read_text(),
                       "debugger in the launcher", adapter, adapter_log)
            breakpoints = client.request("setBreakpoints", {"source": {"path": str(program)},
                                                            "breakpoints": [{"line": BREAKPOINT_LINE}]})
            self.assertEqual([{"verified": True, "line": BREAKPOINT_LINE}], breakpoints["body"]["breakpoints"])
            self.assertTrue(client.request("configurationDone")["success"])

            stopped = client.event("stopped")
            self.assertEqual("breakpoint", stopped["body"]["reason"])
            self.assertNotIn("total:", client.output(), "the program ran past its breakpoint")
            # Dapper 0.9.4 answers with its launcher's body nested in "stackFrames"; the
            # request makes its round trip to the launcher and back over the link.
            trace = client.request("stackTrace", {"threadId": stopped["body"]["threadId"]})
            self.assertTrue(trace["success"], trace)
            self.assertTrue(client.request("continue", {"threadId": stopped["body"]["threadId"]})["success"])
            self.assertEqual(0, client.event("exited")["body"]["exitCode"])
            client.event("terminated")

            output = client.output_until("served:")
            self.assertIn("total: 6\n", output)
            # Inside the launcher: Dapper's socket is the library's link, its dapper.ipc is this package.
            self.assertIn(f"link: <dapper_ipc LibraryLink {transport} ", output)
            self.assertIn("libdapper_ipc", output.split("link:")[1].splitlines()[0])
            self.assertIn("served: dapper_ipc.dapper._adapter_side\n", output)
            # The library's own log messages, which only libdapper_ipc writes, on both sides.
            adapter_text, launcher_text = adapter_log.read_text(), launcher_log.read_text()
            self.assertIn(f"dapper.ipc.native: listening on {transport}:", adapter_text)
            self.assertIn(f"dapper.ipc.native: connected: {transport}:", launcher_text)
        finally:
            if client is not None:
                client.close()
            adapter.terminate()
            try:
                adapter.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                adapter.kill()
                adapter.wait()


if __name__ == "__main__":
    if DAPPER is None:
        print(f"real_dapper SKIPPED: {WHY_NOT}")
        sys.exit(77)
    unittest.main(verbosity=2)
