"""dapper_ipc.dapper, the runner of the real Dapper on the library, in the parts that need no
Dapper: the launcher's link (Dapper's DP frames as bytes, carried by the library), the child
shim's promise to run the sitecustomize it hides, and the command line. The whole runner
against the real Dapper is tests/dapper_peer (CTest python_real_dapper)."""
import asyncio
import os
import queue
import struct
import subprocess
import sys
import tempfile
import unittest

import _support
from _support import LOCAL, TRANSPORTS, WAIT
from dapper_ipc import IPCManager, TransportConfig
from dapper_ipc.dapper import SITE_DIR, export_to_children
from dapper_ipc.dapper._launcher_link import LibraryConnector

HEADER = struct.Struct(">2sBBI")


def frame(kind, payload):
    return HEADER.pack(b"DP", 1, kind, len(payload)) + payload


def read_exactly(stream, n):
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


class LauncherLinkTests(unittest.TestCase):
    def connect(self, transport):
        adapter = IPCManager()
        self.addCleanup(adapter.close)
        config = TransportConfig.from_launcher_args(adapter.create_listener(TransportConfig(transport=transport)))
        connector = LibraryConnector()
        link = (connector.connect_unix(config.path) if transport == "unix"
                else connector.connect_tcp(config.host, config.port))
        self.addCleanup(link.close)
        adapter.wait_for_client(WAIT)
        return adapter, link

    def test_frames_dapper_writes_arrive_whole_even_when_written_in_pieces(self):
        for transport in TRANSPORTS:
            if transport == "pipe":
                continue  # Dapper's launcher reaches a pipe without its connector
            with self.subTest(transport=transport):
                adapter, link = self.connect(transport)
                received = queue.SimpleQueue()
                adapter.start_reader(received.put, include_kind=True)
                wfile = link.makefile("wb", buffering=0)
                first, second = frame(1, b'{"event": "stopped"}'), frame(1, b'{"event": "exited"}')
                wfile.write(first[:5])
                wfile.write(first[5:] + second[:9])
                wfile.write(second[9:])
                self.assertEqual((1, {"event": "stopped"}), received.get(timeout=WAIT))
                self.assertEqual((1, {"event": "exited"}), received.get(timeout=WAIT))

    def test_commands_read_as_dp_frames_then_end_of_file_when_the_adapter_leaves(self):
        for transport in TRANSPORTS:
            if transport == "pipe":
                continue
            with self.subTest(transport=transport):
                adapter, link = self.connect(transport)
                rfile = link.makefile("rb", buffering=0)
                adapter.send({"command": "continue"})
                header = read_exactly(rfile, HEADER.size)
                magic, version, kind, length = HEADER.unpack(header)
                self.assertEqual((b"DP", 1, 2), (magic, version, kind))
                self.assertEqual(b'{"command": "continue"}', read_exactly(rfile, length))
                adapter.cleanup()
                self.assertEqual(b"", rfile.read(HEADER.size))

    @_support.UNIX_ONLY
    def test_a_failed_connect_raises_the_library_error(self):
        # Dapper reports it as the cause of its "failed to connect socket".
        missing = os.path.join(tempfile.mkdtemp(), "nobody.sock")
        connector = LibraryConnector()
        with self.assertRaises(ConnectionError) as caught:
            connector.connect_unix(missing)  # after the library's retries (3 s)
        self.assertIn(missing, str(caught.exception))
        self.assertIsNone(connector.connect_unix(None))  # as Dapper's: no path, no socket
        self.assertIsNone(connector.connect_tcp("127.0.0.1", None))

    def test_a_writer_refuses_bytes_that_are_not_a_dp_frame(self):
        adapter, link = self.connect(LOCAL if LOCAL != "pipe" else "tcp")
        with self.assertRaisesRegex(ValueError, "not a DP v1 frame header"):
            link.makefile("wb").write(b"Content-Length: 2\r\n\r\n{}")


class AdapterSideTests(unittest.TestCase):
    def test_the_adapter_sends_commands_when_it_connects_too_as_dappers_own_manager(self):
        # Dapper's attach: its adapter connects to a listening debuggee and sends commands.
        from dapper_ipc.dapper._adapter_side import IPCManager as DappersIPCManager

        debuggee = IPCManager()
        self.addCleanup(debuggee.close)
        args = debuggee.create_listener(TransportConfig(transport="tcp"))
        received = queue.SimpleQueue()
        debuggee.start_reader(received.put, include_kind=True)
        adapter = DappersIPCManager()
        self.addCleanup(adapter.close)
        adapter.connect(TransportConfig.from_launcher_args(args))
        asyncio.run(adapter.send_message({"command": "threads"}))
        self.assertEqual((2, {"command": "threads"}), received.get(timeout=WAIT))


class ChildShimTests(unittest.TestCase):
    def test_export_puts_the_shim_first_on_pythonpath_once(self):
        environ = {"PYTHONPATH": os.pathsep.join(["a", "b"])}
        export_to_children(environ)
        export_to_children(environ)
        self.assertEqual([SITE_DIR, "a", "b"], environ["PYTHONPATH"].split(os.pathsep))

    def test_the_sitecustomize_it_hides_still_runs(self):
        hidden = tempfile.mkdtemp()
        with open(os.path.join(hidden, "sitecustomize.py"), "w") as f:
            f.write("import builtins\nbuiltins.HIDDEN_SITECUSTOMIZE_RAN = True\n")
        env = _support.child_env()
        env["PYTHONPATH"] = os.pathsep.join([SITE_DIR, hidden, env["PYTHONPATH"]])
        out = subprocess.run([sys.executable, "-c", "import builtins, sys; "
                              "print(getattr(builtins, 'HIDDEN_SITECUSTOMIZE_RAN', False), "
                              "type(sys.meta_path[0]).__name__)"],
                             env=env, capture_output=True, text=True, timeout=WAIT)
        self.assertEqual("True _OnFirstDapperImport", out.stdout.strip(), out.stderr)


class CommandLineTests(unittest.TestCase):
    def test_an_unknown_role_prints_the_usage_and_exits_2(self):
        out = subprocess.run([sys.executable, "-m", "dapper_ipc.dapper", "debugger", "--port", "1"],
                             env=_support.child_env(), capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(2, out.returncode)
        self.assertIn("usage: python -m dapper_ipc.dapper {adapter|launcher} ARGS...", out.stderr)


if __name__ == "__main__":
    unittest.main()
