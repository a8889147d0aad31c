"""SessionListener with real child processes: launchers (launcher_peer.py session) that
share one endpoint, each routed by its hello to its own IPCManager."""
import asyncio
import json
import logging
import os
import signal
import struct
import subprocess
import sys
import unittest

from _support import PEER, WAIT, Inbox, child_env, raw_client
from dapper_ipc import IPCConfigError, IPCStateError, IPCTimeoutError, SessionListener, TransportConfig


# CPython on Windows has no AF_UNIX for the raw peers: there the tests run over tcp (a session
# listener's pipe is run by the Wine lane and the subprocess sample).
SHARED = "tcp" if sys.platform == "win32" else "unix"
SHARED_TRANSPORTS = ("tcp",) if sys.platform == "win32" else ("unix", "tcp")


def spawn(args, session_id, parent="root"):
    return subprocess.Popen([sys.executable, PEER, "session", *args, "--session-id", session_id,
                             "--parent-session-id", parent], env=child_env())


def frame(kind, payload):
    return struct.pack(">2sBBI", b"DP", 1, kind, len(payload)) + payload


def hello(session_id):
    return frame(1, json.dumps({"event": "dapper/sessionHello", "body": {"sessionId": session_id}}).encode())


class LogCapture(logging.Handler):
    """Warnings of the library's logger; wait_for blocks until one contains a text."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.inbox = Inbox()
        self.logger = logging.getLogger("dapper.ipc.native")

    def emit(self, record):
        self.inbox.put(record.getMessage())

    def wait_for(self, text):
        with self.inbox.changed:
            if not self.inbox.changed.wait_for(lambda: any(text in m for m in self.inbox.items), WAIT):
                raise AssertionError(f"no warning with {text!r}: {self.inbox.items!r}")

    def __enter__(self):
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)


class SessionListenerTests(unittest.TestCase):
    def test_children_on_one_endpoint_each_get_their_own_manager(self):
        for transport in SHARED_TRANSPORTS:
            with self.subTest(transport=transport), SessionListener() as listener:
                args = listener.create_listener(TransportConfig(transport=transport))
                self.assertEqual(args[:2], ["--ipc", transport])
                ids = [f"py-{transport}-{i}" for i in range(4)]
                for sid in ids:
                    listener.expect(sid)
                children = [spawn(args, sid) for sid in ids]
                managers = {sid: listener.accept(sid, timeout=WAIT) for sid in reversed(ids)}
                for sid, manager in managers.items():
                    self.assertEqual(manager.hello["event"], "dapper/sessionHello")
                    self.assertEqual(manager.hello["body"]["sessionId"], sid)
                    self.assertEqual(manager.hello["body"]["parentSessionId"], "root")
                    self.assertEqual(manager.hello["body"]["pid"], children[ids.index(sid)].pid)
                inboxes = {}
                for sid, manager in managers.items():
                    inboxes[sid] = Inbox()
                    manager.start_reader(inboxes[sid].put)
                for sid, manager in managers.items():
                    manager.send({"command": "threads", "seq": 1})  # a command, by default
                for sid in ids:
                    stopped, response = inboxes[sid].wait(2)
                    self.assertEqual(stopped, {"event": "stopped", "body": {"sessionId": sid}})
                    self.assertEqual(response["body"], {"sessionId": sid, "command": "threads"})
                for manager in managers.values():
                    manager.cleanup()
                for child in children:
                    self.assertEqual(child.wait(WAIT), 0)

    def test_refused_hellos_are_logged_and_the_session_goes_on(self):
        with LogCapture() as log, SessionListener(hello_timeout=0.5, max_hello_size=256) as listener:
            args = listener.create_listener(TransportConfig(transport=SHARED))
            listener.expect("kept")
            child = spawn(args, "kept")
            manager = listener.accept("kept", timeout=WAIT)
            cases = [
                (hello("stranger"), "session 'stranger' was not expected"),
                (hello("kept"), "duplicate hello: session 'kept'"),
                (frame(2, b'{"command": "initialize"}'), "its first frame is of kind 2"),
                (frame(1, b'{"event": "output"}'), "is not a session hello"),
                (struct.pack(">2sBBI", b"DP", 1, 1, 100000), "larger than the limit of 256 bytes"),
                (b"", "no whole hello within 500 ms"),
            ]
            for data, reason in cases:
                with self.subTest(reason=reason):
                    with raw_client(args) as s:
                        s.sendall(data)
                        try:
                            self.assertEqual(s.recv(1), b"")  # closed by the listener
                        except ConnectionResetError:
                            pass
                    log.wait_for(reason)
            self.assertEqual(manager.recv(timeout=WAIT), {"event": "stopped", "body": {"sessionId": "kept"}})
            manager.send({"command": "next", "seq": 2})
            self.assertEqual(manager.recv(timeout=WAIT)["body"], {"sessionId": "kept", "command": "next"})
            manager.cleanup()
            self.assertEqual(child.wait(WAIT), 0)

    def test_offer_callback_decides_for_unexpected_sessions(self):
        offered = []

        def offer(hello_message):
            offered.append(hello_message["body"]["sessionId"])
            return hello_message["body"]["sessionId"].startswith("friend")

        with LogCapture() as log, SessionListener(offer=offer) as listener:
            args = listener.create_listener(TransportConfig(transport=SHARED))
            with raw_client(args) as foe:
                foe.sendall(hello("foe"))
                log.wait_for("offer callback refused session 'foe'")
            child = spawn(args, "friend-1")
            manager = listener.accept("friend-1", timeout=WAIT)  # waits: it may be offered
            self.assertEqual(manager.recv(timeout=WAIT)["event"], "stopped")
            self.assertEqual(sorted(offered), ["foe", "friend-1"])
            manager.cleanup()
            self.assertEqual(child.wait(WAIT), 0)

    def test_cleanup_ends_the_sessions_it_accepted(self):
        listener = SessionListener()
        args = listener.create_listener(TransportConfig(transport=SHARED))
        path = args[3]
        listener.expect("a")
        child = spawn(args, "a")
        manager = listener.accept("a", timeout=WAIT)
        inbox = Inbox()
        manager.start_reader(inbox.put)
        inbox.wait(1)
        listener.cleanup()
        self.assertEqual(child.wait(WAIT), 0)  # it saw end-of-file
        self.assertFalse(manager.is_enabled)
        self.assertFalse(manager.is_connected)
        self.assertFalse(os.path.exists(path))
        listener.cleanup()  # idempotent
        manager.close()

    def test_errors(self):
        with SessionListener() as listener:
            with self.assertRaises(IPCStateError):
                listener.accept("nobody", timeout=0)
            listener.expect("once")
            with self.assertRaises(IPCStateError):
                listener.expect("once")
            with self.assertRaises(IPCTimeoutError):
                listener.accept("once", timeout=0)
            if sys.platform != "win32":  # no pipes here: E_UNSUPPORTED (on Windows it listens)
                with self.assertRaises(IPCConfigError):
                    listener.create_listener(TransportConfig(transport="pipe"))
        with self.assertRaises(IPCConfigError):
            SessionListener(hello_timeout=0)

    @unittest.skipIf(sys.platform == "win32", "SIGINT to a child process is POSIX")
    def test_ctrl_c_interrupts_accept_on_the_main_thread(self):
        script = "\n".join([
            "from dapper_ipc import SessionListener",
            "listener = SessionListener()",
            "listener.create_listener()",
            "listener.expect('never')",
            "try:",
            "    print('inside', flush=True)",
            "    listener.accept('never')  # no limit: only Ctrl-C ends it",
            "except KeyboardInterrupt:",
            "    print('interrupted', flush=True)",
            "listener.cleanup()",
        ])
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=child_env())
        try:
            self.assertEqual(child.stdout.readline().strip(), "inside")
            os.kill(child.pid, signal.SIGINT)
            out, _ = child.communicate(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.fail("Ctrl-C did not end accept on the main thread")
        finally:
            child.kill()
            child.wait()
            child.stdout.close()
        self.assertEqual(out.strip(), "interrupted")
        self.assertEqual(child.returncode, 0)

    def test_aaccept_does_not_block_the_loop(self):
        async def main():
            async with SessionListener() as listener:
                args = listener.create_listener(TransportConfig(transport=SHARED))
                listener.expect("async")
                accepting = asyncio.ensure_future(listener.aaccept("async", timeout=WAIT))
                await asyncio.sleep(0)  # the loop runs on while accept waits on its thread
                self.assertFalse(accepting.done())
                child = spawn(args, "async")
                manager = await accepting
                async for message in manager.messages():
                    self.assertEqual(message["body"]["sessionId"], "async")
                    break
                await manager.send_message({"command": "go", "seq": 1})
                async for message in manager.messages():
                    self.assertEqual(message["body"], {"sessionId": "async", "command": "go"})
                    break
                await manager.acleanup()
                return child

        child = asyncio.run(main())
        self.assertEqual(child.wait(WAIT), 0)


if __name__ == "__main__":
    unittest.main()
