"""Against a launcher written from docs/protocol.md alone (launcher_peer.py), in its own
process, over the local transport (unix; pipe on Windows) and tcp; and hosts in child processes (host_script.py) for what
could hang or crash: cleanup while messages flow, interpreter exit with managers open."""
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from _support import HOST, LOCAL, PEER, TRANSPORTS, PIPE_ONLY, UNIX_ONLY, WAIT, Inbox, child_env
from dapper_ipc import KIND_EVENT, IPCManager, TransportConfig

def start_peer(mode, args):
    return subprocess.Popen([sys.executable, PEER, mode, *args], stdout=subprocess.PIPE, text=True)


class LauncherInteropTests(unittest.TestCase):
    def exchange(self, transport):
        adapter = IPCManager()
        args = adapter.create_listener(TransportConfig(transport=transport))
        self.assertEqual(args[:2], ["--ipc", transport])
        inbox = Inbox()
        adapter.start_reader(inbox.put, include_kind=True)
        peer = start_peer("echo", args)
        try:
            adapter.wait_for_client(WAIT)
            commands = ["initialize", "setBreakpoints", "configurationDone"]
            for seq, command in enumerate(commands, 1):
                adapter.send({"seq": seq, "type": "request", "command": command, "arguments": {}})
            adapter.send({"event": "not-a-command"}, kind=KIND_EVENT)  # the launcher ignores it
            received = inbox.wait(4)
            self.assertTrue(all(kind == KIND_EVENT for kind, _ in received), received)
            self.assertEqual(received[0][1]["event"], "stopped")
            responses = [m for _, m in received[1:]]
            self.assertEqual([r["event"] for r in responses], ["response"] * 3)
            self.assertEqual([r["id"] for r in responses], [1, 2, 3])
            self.assertEqual([r["body"]["command"] for r in responses], commands)
        finally:
            adapter.cleanup()
            out, _ = peer.communicate(timeout=WAIT)
        self.assertEqual(peer.returncode, 0)
        # cleanup() from the main thread ends the connection: the launcher sees end-of-file.
        self.assertEqual(out.strip(), "eof commands=3 ignored=1")
        if transport == "unix":
            self.assertFalse(os.path.exists(args[3]), "cleanup leaves no socket file")

    @UNIX_ONLY
    def test_a_launcher_talks_to_the_adapter_over_unix(self):
        self.exchange("unix")

    @PIPE_ONLY
    def test_a_launcher_talks_to_the_adapter_over_pipe(self):
        self.exchange("pipe")

    def test_a_launcher_talks_to_the_adapter_over_tcp(self):
        self.exchange("tcp")

    def test_a_launcher_that_connects_before_anyone_accepts_is_accepted(self):
        # The listener is bound by create_listener; the launcher may come before the reader.
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                adapter = IPCManager()
                args = adapter.create_listener(TransportConfig(transport=transport))
                peer = start_peer("echo", args)
                adapter.wait_for_client(WAIT)  # the launcher is connected; nobody reads yet
                inbox = Inbox()
                adapter.start_reader(inbox.put)
                self.assertEqual(inbox.wait(1)[0]["event"], "stopped")  # sent before the reader ran
                adapter.send({"seq": 1, "type": "request", "command": "configurationDone", "arguments": {}})
                self.assertEqual(inbox.wait(2)[1]["id"], 1)
                adapter.cleanup()
                out, _ = peer.communicate(timeout=WAIT)
                self.assertEqual((peer.returncode, out.strip()), (0, "eof commands=1 ignored=0"))

    def test_a_bad_payload_is_skipped_and_a_bad_header_ends_the_connection(self):
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                adapter = IPCManager()
                args = adapter.create_listener(TransportConfig(transport=transport))
                inbox, ended = Inbox(), Inbox()
                with self.assertLogs("dapper.ipc", "WARNING") as logs:
                    adapter.start_reader(inbox.put, on_disconnect=lambda status, reason: ended.put((status, reason)))
                    peer = start_peer("junk", args)
                    self.assertEqual(inbox.wait(1), [{"event": "after-junk"}])  # the stream stayed in sync
                    adapter.send({"seq": 1, "command": "go"})
                    status, reason = ended.wait(1)[0]
                self.assertEqual(status, -11, reason)  # DAPPER_IPC_E_PROTOCOL
                self.assertTrue(any("not UTF-8 JSON" in line for line in logs.output), logs.output)
                out, _ = peer.communicate(timeout=WAIT)
                self.assertEqual((peer.returncode, out.strip()), (0, "eof"))
                self.assertTrue(adapter.is_enabled)  # until cleanup, as the original
                self.assertFalse(adapter.is_connected)
                adapter.cleanup()


class NoFrameLostAtCleanupTests(unittest.TestCase):
    """Frames handed to the kernel before cleanup() or close() reach the peer, then
    end-of-file, even when the host leaves a frame of the peer's unread (closing a socket
    with unread data resets the connection, and a reset discards what the peer had not
    read yet). The peer (launcher_peer.py drain) sends one frame the host never reads,
    then reads everything, frame by frame; the host sends COUNT frames, in batches of
    100 (fast enough to be ahead of the peer when it cleans up), each send returning OK."""

    COUNT = 10_000
    LINGER = 2.0  # the library's bound on waiting for its own data to be delivered

    def host_sends_then(self, transport, end, stay=False):
        """stay: the peer keeps its end open after end-of-file, until told: closing must not
        wait for it (half the linger tells "waited for delivery" from "waited for the peer")."""
        host = IPCManager()
        args = host.create_listener(TransportConfig(transport=transport))
        peer = subprocess.Popen([sys.executable, PEER, "drain-stay" if stay else "drain", *args],
                                stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True)
        try:
            host.wait_for_client(WAIT)
            self.assertEqual(peer.stdout.readline().strip(), "sent")  # in the host's receive buffer now
            payload = b'{"event": "output", "body": {"category": "stdout", "output": "' + b"x" * 64 + b'"}}'
            batch = [payload] * 100
            for _ in range(self.COUNT // len(batch)):
                host.send_many_bytes(batch)  # raises unless every frame went out
            start = time.monotonic()
            end(host)
            took = time.monotonic() - start
            if stay:
                self.assertLess(took, self.LINGER / 2, f"{end.__name__} waited {took:.3f} s for a peer that stays")
            out = peer.stdout.readline()
            peer.communicate(timeout=WAIT)  # closes its standard input: now it goes
        finally:
            host.close()
            if peer.poll() is None:
                peer.kill()
                peer.communicate()
        self.assertEqual((peer.returncode, out.strip()), (0, f"frames={self.COUNT} end=eof"))

    def test_every_frame_then_eof_at_cleanup_over_tcp(self):
        self.host_sends_then("tcp", IPCManager.cleanup)

    @UNIX_ONLY
    def test_every_frame_then_eof_at_cleanup_over_unix(self):
        self.host_sends_then("unix", IPCManager.cleanup)

    @PIPE_ONLY
    def test_every_frame_then_eof_at_cleanup_over_pipe(self):
        self.host_sends_then("pipe", IPCManager.cleanup)

    def test_every_frame_then_eof_at_close_over_tcp(self):
        self.host_sends_then("tcp", IPCManager.close)

    @UNIX_ONLY
    def test_every_frame_then_eof_at_close_over_unix(self):
        self.host_sends_then("unix", IPCManager.close)

    @PIPE_ONLY
    def test_every_frame_then_eof_at_close_over_pipe(self):
        self.host_sends_then("pipe", IPCManager.close)

    def test_every_frame_then_eof_to_a_peer_that_stays(self):
        for transport in TRANSPORTS:
            for end in (IPCManager.cleanup, IPCManager.close):
                with self.subTest(transport=transport, end=end.__name__):
                    self.host_sends_then(transport, end, stay=True)


class ChildHostTests(unittest.TestCase):
    """Each runs host_script.py in a child; run() returns once the child and any launcher
    it started have closed stdout (the launcher inherits it)."""

    def host(self, mode, transport=LOCAL):
        result = subprocess.run([sys.executable, HOST, mode, transport], capture_output=True, text=True,
                                timeout=WAIT * 2, env=child_env(), stdin=subprocess.DEVNULL)
        self.assertEqual(result.returncode, 0, f"stdout: {result.stdout}\nstderr: {result.stderr}")
        self.assertNotIn("Traceback", result.stderr)
        return result.stdout.split()

    def test_cleanup_from_the_main_thread_while_a_launcher_floods_returns(self):
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                lines = self.host("cleanup-flooding", transport)
                self.assertEqual(lines, ["cleaned", "late=0", "peer=0", "enabled=False"])

    def test_exit_with_a_listener_and_a_client_open_neither_hangs_nor_crashes(self):
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                lines = self.host("exit-open", transport)
                if transport == "unix":
                    self.assertFalse(os.path.exists(lines[0]), "the socket file outlived the interpreter")

    def test_exit_while_a_launcher_floods_neither_hangs_nor_crashes(self):
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                self.assertEqual(self.host("exit-flooding", transport), ["flowing"])

    def test_exit_right_after_a_handler_ran_cleanup(self):
        self.assertEqual(self.host("exit-after-handler-cleanup"), ["cleaned"])


class _Lines:
    """A child's stdout, line by line, with a bounded wait for each."""

    def __init__(self, stream):
        self.lines = queue.Queue()
        self.seen = []
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream):
        for line in stream:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def until(self, test):
        """The first line for which test(line) is true; fails on end of output or after WAIT."""
        deadline = time.monotonic() + WAIT
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"timed out waiting; last lines: {self.seen[-6:]}") from None
            if line is None:
                raise AssertionError(f"the child's output ended; last lines: {self.seen[-6:]}")
            self.seen.append(line)
            if test(line):
                return line

    def rest(self):
        self._thread.join(WAIT)
        while True:
            line = self.lines.get_nowait() if not self.lines.empty() else None
            if line is None:
                return self.seen
            self.seen.append(line)


@unittest.skipIf(sys.platform == "win32", "SIGINT")
class CtrlCTests(unittest.TestCase):
    """A real SIGINT (os.kill on a child process) while the child's main thread is blocked
    in a call of the package: KeyboardInterrupt in the caller, fast (target 100 ms; the
    assertion allows 2 s for a loaded machine), nothing printed as "Exception ignored",
    the manager cleaned up and usable again, no thread left over, nothing left in the
    child's temp directory (TMPDIR, where the library makes its dapper-* directories)."""

    BOUND = 2.0

    def interrupt(self, call, transport=LOCAL):
        with tempfile.TemporaryDirectory(prefix="ctrlc-", dir="/tmp") as tmp:
            child = subprocess.Popen([sys.executable, HOST, "ctrl-c", call, transport], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=child_env(TMPDIR=tmp),
                                     stdin=subprocess.DEVNULL)
            try:
                lines = _Lines(child.stdout)
                lines.until(lambda line: line == "inside")
                if call == "connect":  # the library is retrying: connect is under way
                    lines.until(lambda line: line.startswith("log ") and "retrying" in line)
                sent = time.monotonic()
                os.kill(child.pid, signal.SIGINT)
                try:
                    interrupted = lines.until(lambda line: line.startswith(("interrupted", "returned")))
                except AssertionError as error:
                    child.kill()
                    raise AssertionError(f"{error}\nstderr: {child.stderr.read()[-1500:]}") from None
                out = lines.rest()
                err = child.stderr.read()
                child.wait(WAIT)
            finally:
                child.kill()
                child.wait()
                child.stdout.close()
                child.stderr.close()
            self.assertTrue(interrupted.startswith("interrupted"), f"{out}\n{err}")
            latency = float(interrupted.split()[1]) - sent
            sys.stderr.write(f" [Ctrl-C in {call} over {transport}: KeyboardInterrupt after {latency * 1000:.1f} ms] ")
            self.assertNotIn("Exception ignored", err)
            self.assertNotIn("Traceback", err)
            self.assertEqual(child.returncode, 0, f"{out}\n{err}")
            self.assertLess(latency, self.BOUND, f"KeyboardInterrupt came {latency:.3f} s after the signal")
            self.assertIn("enabled=False", out)
            self.assertIn("extra-threads=[]", out)
            self.assertIn("usable=True", out)
            self.assertEqual(os.listdir(tmp), [], "the interrupted call left files behind")
            return out

    def test_ctrl_c_interrupts_connect(self):
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                self.interrupt("connect", transport)

    def test_ctrl_c_interrupts_wait_for_client(self):
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                self.interrupt("wait", transport)

    def test_ctrl_c_interrupts_a_send_waiting_for_a_client(self):
        self.interrupt("send-wait")

    def test_ctrl_c_interrupts_a_send_blocked_by_a_peer_that_does_not_read(self):
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                self.interrupt("send", transport)

    def test_ctrl_c_interrupts_cleanup_waiting_for_a_busy_handler(self):
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                out = self.interrupt("cleanup", transport)
                self.assertIn("peer=b''", out)  # the connection was closed all the same


if __name__ == "__main__":
    unittest.main()
