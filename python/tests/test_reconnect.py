"""TransportConfig.reconnect from Python: a fault-injecting tcp proxy cuts the connection
every ~500 frames (at any byte, mid-frame included) while 100,000 numbered frames flow each
way, and both hosts see each frame exactly once and in order; a listener process that was
restarted refuses the resume, and on_disconnect says so; so does a client whose listener
never answered its offer (it lacks the flag), at once. The same cuts with the client in the
pull mode (asyncio: ``messages()`` woken through the readable handle)."""
import asyncio
import os
import random
import select
import socket
import struct
import subprocess
import sys
import threading
import unittest

from _support import PACKAGE_ROOT, WAIT
from dapper_ipc import IPCManager, TransportConfig

FRAMES = 100_000
CUT_EVERY = 500
FRAME_BYTES = 8 + 8


class CuttingProxy:
    """One client at a time: relays both ways, and after about CUT_EVERY frames' worth of
    bytes in both directions together relays only up to a random byte, then closes both."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cuts = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        rng = random.Random(7)
        while not self.stopping:
            if not select.select([self.listener], [], [], 0.1)[0]:
                continue
            down, _ = self.listener.accept()
            try:
                up = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                down.close()
                continue
            budget = CUT_EVERY * 2 * FRAME_BYTES + rng.randrange(4 * FRAME_BYTES)
            alive = True
            while alive and not self.stopping:
                for src in select.select([down, up], [], [], 0.1)[0]:
                    dst = up if src is down else down
                    try:
                        data = src.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        alive = False
                        break
                    cut = len(data) >= budget
                    if cut:
                        data = data[:budget]
                    budget -= len(data)
                    try:
                        dst.sendall(data)
                    except OSError:
                        alive = False
                    if cut:
                        self.cuts += 1
                        alive = False
                        break
            down.close()
            up.close()

    def close(self):
        self.stopping = True
        self.thread.join()
        self.listener.close()


class Host:
    def __init__(self):
        self.manager = IPCManager()
        self.next = 0
        self.disorder = 0
        self.done = threading.Event()
        self.first = threading.Event()
        self.disconnected = threading.Event()
        self.reason = None

    def on_message(self, payload):
        self.first.set()
        (n,) = struct.unpack(">Q", payload)
        if n != self.next:
            self.disorder += 1
            if n < self.next:
                return  # a duplicate
            self.next = n
        self.next += 1
        if self.next == FRAMES:
            self.done.set()

    def on_disconnect(self, status, reason):
        self.reason = (status, reason)
        self.disconnected.set()

    def start(self):
        self.manager.start_reader(self.on_message, raw=True, on_disconnect=self.on_disconnect)


def send_numbered(manager, errors):
    try:
        for start in range(0, FRAMES, 100):
            manager.send_many_bytes([struct.pack(">Q", n) for n in range(start, start + 100)])
    except Exception as e:  # noqa: BLE001 - reported by the test
        errors.append(e)


class ReconnectTests(unittest.TestCase):
    def test_cut_mid_frame_every_500_frames_loses_and_duplicates_nothing(self):
        server, client = Host(), Host()
        args = server.manager.create_listener(TransportConfig(transport="tcp", reconnect=True))
        upstream = TransportConfig.from_launcher_args(args).port
        proxy = CuttingProxy(upstream)
        try:
            server.start()
            client.manager.connect(TransportConfig(transport="tcp", port=proxy.port, reconnect=True,
                                                   reconnect_timeout_ms=WAIT * 1000))
            client.start()
            errors = []
            senders = [threading.Thread(target=send_numbered, args=(m, errors)) for m in (server.manager, client.manager)]
            for t in senders:
                t.start()
            for t in senders:
                t.join()
            self.assertEqual([], errors)
            self.assertTrue(server.done.wait(4 * WAIT) and client.done.wait(4 * WAIT),
                            f"received: server {server.next}, client {client.next}")
            self.assertEqual((0, 0), (server.disorder, client.disorder))
            self.assertGreaterEqual(proxy.cuts, FRAMES * 2 // CUT_EVERY // 4)
            self.assertFalse(server.disconnected.is_set() or client.disconnected.is_set(),
                             f"{server.reason} {client.reason}")
            stats = client.manager.stats()
            self.assertEqual((FRAMES, FRAMES), (stats["frames_sent"], stats["frames_received"]))
            self.assertEqual(proxy.cuts + 1, stats["connects"])
        finally:
            client.manager.close()
            server.manager.close()
            proxy.close()

    def test_restarted_listener_refuses_the_resume(self):
        script = (
            "import sys, threading\n"
            "from dapper_ipc import IPCManager, TransportConfig\n"
            "m = IPCManager()\n"
            "args = m.create_listener(TransportConfig(transport='tcp', port=int(sys.argv[1]), reconnect=True))\n"
            "m.start_reader(m.send_bytes, raw=True)\n"
            "print(TransportConfig.from_launcher_args(args).port, flush=True)\n"
            "threading.Event().wait()\n"
        )
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [PACKAGE_ROOT, os.environ.get("PYTHONPATH")])))

        def listener(port):
            p = subprocess.Popen([sys.executable, "-c", script, str(port)], stdout=subprocess.PIPE, env=env)
            return p, int(p.stdout.readline())

        first, port = listener(0)
        second = None
        client = Host()
        try:
            client.manager.connect(TransportConfig(transport="tcp", port=port, reconnect=True,
                                                   reconnect_timeout_ms=WAIT * 1000))
            client.start()
            client.manager.send_many_bytes([struct.pack(">Q", n) for n in range(10)])
            # The listener answers the offer before it reads these frames: with the first
            # echo the answer is in, so only the new process can refuse the resume.
            self.assertTrue(client.first.wait(WAIT))
            first.kill()
            first.wait()
            second, again = listener(port)
            self.assertEqual(port, again)
            self.assertTrue(client.disconnected.wait(WAIT))
            status, reason = client.reason
            self.assertIn("resume refused", reason)
            self.assertIn("new process", reason)
        finally:
            client.manager.close()
            for p in (first, second):
                if p is not None:
                    p.kill()
                    p.wait()
                    p.stdout.close()

    def test_a_listener_without_the_flag_ends_the_client_at_once(self):
        # The listener drops the client's resume offer unanswered; once it is gone the
        # client's one rejoin try finds nobody, and on_disconnect says why at once rather
        # than after reconnect_timeout_ms (ten minutes: only the quick end fits the wait).
        server = IPCManager()
        client = Host()
        try:
            args = server.create_listener(TransportConfig(transport="tcp"))
            port = TransportConfig.from_launcher_args(args).port
            client.manager.connect(TransportConfig(transport="tcp", port=port, reconnect=True,
                                                   reconnect_timeout_ms=600_000))
            client.start()
            server.wait_for_client(WAIT)
            client.manager.send_bytes(struct.pack(">Q", 0))
            got = threading.Event()
            server.start_reader(lambda p: got.set(), raw=True)
            self.assertTrue(got.wait(WAIT))
            server.cleanup()
            self.assertTrue(client.disconnected.wait(WAIT), "no on_disconnect before reconnect_timeout_ms")
            status, reason = client.reason
            self.assertIn("never answered", reason)
            self.assertIn("DAPPER_IPC_FLAG_RECONNECT", reason)
        finally:
            client.manager.close()
            server.close()


    def test_messages_in_the_pull_mode_resume_across_cuts(self):
        # The client takes the listener's frames with messages() (the pull mode), the
        # listener the client's with a handler; each sees every frame once, in order.
        server, client = Host(), IPCManager()
        args = server.manager.create_listener(TransportConfig(transport="tcp", reconnect=True))
        proxy = CuttingProxy(TransportConfig.from_launcher_args(args).port)
        errors = []

        def send_json(manager):
            try:
                for start in range(0, FRAMES, 100):
                    manager.send_many([{"n": n} for n in range(start, start + 100)])
            except Exception as e:  # noqa: BLE001 - reported by the test
                errors.append(e)

        async def pull():
            expected = disorder = 0
            async for message in client.messages():
                n = message["n"]
                if n != expected:
                    disorder += 1
                    if n < expected:
                        continue  # a duplicate
                    expected = n
                expected += 1
                if expected == FRAMES:
                    break
            return expected, disorder

        try:
            server.start()
            client.connect(TransportConfig(transport="tcp", port=proxy.port, reconnect=True,
                                           reconnect_timeout_ms=WAIT * 1000))
            senders = [threading.Thread(target=send_json, args=(server.manager,)),
                       threading.Thread(target=send_numbered, args=(client, errors))]
            for t in senders:
                t.start()
            received, disorder = asyncio.run(asyncio.wait_for(pull(), 4 * WAIT))
            for t in senders:
                t.join()
            self.assertEqual([], errors)
            self.assertEqual((FRAMES, 0), (received, disorder))
            self.assertTrue(server.done.wait(4 * WAIT), f"the listener received {server.next}")
            self.assertEqual(0, server.disorder)
            self.assertGreaterEqual(proxy.cuts, FRAMES * 2 // CUT_EVERY // 4)
            self.assertFalse(server.disconnected.is_set(), f"{server.reason}")
            stats = client.stats()
            self.assertEqual((FRAMES, FRAMES), (stats["frames_sent"], stats["frames_received"]))
            self.assertEqual(proxy.cuts + 1, stats["connects"])
        finally:
            client.close()
            server.manager.close()
            proxy.close()


if __name__ == "__main__":
    unittest.main()
