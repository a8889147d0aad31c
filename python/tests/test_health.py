"""Connection health from Python: IPCManager.stats() counts exactly (reader and pull mode),
heartbeat_ms is a TransportConfig field, and a peer frozen with SIGSTOP is reported
unresponsive to on_disconnect."""
import os
import signal
import subprocess
import sys
import threading
import unittest

from _support import PACKAGE_ROOT, TRANSPORTS, WAIT
from dapper_ipc import IPCConfigError, IPCManager, TransportConfig

STATS_KEYS = {"state", "frames_sent", "frames_received", "bytes_sent", "bytes_received", "connects",
              "send_blocked_ns", "last_send_ms_ago", "last_receive_ms_ago", "heartbeat_rtt_us"}

PAYLOADS = [("{\"i\":%d,\"pad\":\"%s\"}" % (i, "x" * (i % 97))).encode() for i in range(500)]
EXPECTED_BYTES = sum(8 + len(p) for p in PAYLOADS)


class Pair:
    def __init__(self, transport, heartbeat_ms=None):
        self.server, self.client = IPCManager(), IPCManager()
        args = self.server.create_listener(TransportConfig(transport=transport, heartbeat_ms=heartbeat_ms))
        config = TransportConfig.from_launcher_args(args)
        config.heartbeat_ms = heartbeat_ms
        self.client.connect(config)
        self.server.wait_for_client(WAIT)

    def close(self):
        self.client.close()
        self.server.close()


class StatsTests(unittest.TestCase):
    def test_counts_are_exact_with_the_reader_and_with_recv(self):
        for transport in TRANSPORTS:
            # 100 ms: 3 x 10 ms of silence is within a loaded 2-vCPU machine's reach (a 10 ms
            # period once closed this pair in a full parallel run).
            for heartbeat_ms in (None, 100):
                with self.subTest(transport=transport, heartbeat_ms=heartbeat_ms):
                    pair = Pair(transport, heartbeat_ms)
                    try:
                        fresh = pair.server.stats()
                        self.assertEqual(STATS_KEYS, set(fresh))
                        self.assertEqual((2, 1, 0, -1), (fresh["state"], fresh["connects"], fresh["frames_received"],
                                                         fresh["last_receive_ms_ago"]))
                        got, done = [], threading.Event()

                        def on_message(payload):
                            got.append(payload)
                            if len(got) == len(PAYLOADS):
                                done.set()

                        pair.client.start_reader(on_message, raw=True)
                        pair.client.send_many_bytes(PAYLOADS)      # to the server, which pulls
                        pulled = [pair.server.recv(WAIT) for _ in PAYLOADS]
                        pair.server.send_many_bytes(PAYLOADS)      # to the client's reader
                        self.assertTrue(done.wait(WAIT))
                        self.assertEqual(len(PAYLOADS), len(pulled))
                        server, client = pair.server.stats(), pair.client.stats()
                        for name, value in (("frames_sent", len(PAYLOADS)), ("frames_received", len(PAYLOADS)),
                                            ("bytes_sent", EXPECTED_BYTES), ("bytes_received", EXPECTED_BYTES)):
                            self.assertEqual(value, server[name], f"server {name}")
                            self.assertEqual(value, client[name], f"client {name}")
                        self.assertGreaterEqual(server["last_send_ms_ago"], 0)
                        self.assertGreaterEqual(client["last_receive_ms_ago"], 0)
                    finally:
                        pair.close()

    def test_heartbeat_ms_must_fit_the_c_field(self):
        with self.assertRaises(IPCConfigError) as caught:
            IPCManager().create_listener(TransportConfig(transport="tcp", heartbeat_ms=2 ** 31))
        self.assertIn("heartbeat_ms", str(caught.exception))


FROZEN_PEER = """
import sys, threading
from dapper_ipc import IPCManager, TransportConfig
config = TransportConfig.from_launcher_args(sys.argv[1:])
config.heartbeat_ms = 100
m = IPCManager()
m.connect(config)
m.start_reader(lambda message: None)
print("connected", flush=True)
threading.Event().wait()
"""


@unittest.skipIf(sys.platform == "win32", "SIGSTOP is POSIX (the pipe transport's frozen peer runs in tests/wine)")
class FrozenPeerTests(unittest.TestCase):
    def test_a_frozen_peer_is_reported_unresponsive(self):
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                host = IPCManager()
                args = host.create_listener(TransportConfig(transport=transport, heartbeat_ms=100))
                env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT)
                peer = subprocess.Popen([sys.executable, "-c", FROZEN_PEER, *args], env=env, stdout=subprocess.PIPE,
                                        text=True)
                try:
                    self.assertEqual("connected\n", peer.stdout.readline())
                    ended, why = threading.Event(), []
                    host.start_reader(lambda message: None,
                                      on_disconnect=lambda status, reason: (why.append((status, reason)), ended.set()))
                    while host.stats()["heartbeat_rtt_us"] < 0 and peer.poll() is None:
                        ended.wait(0.01)
                    os.kill(peer.pid, signal.SIGSTOP)
                    self.assertTrue(ended.wait(WAIT), "no disconnect reported")
                    status, reason = why[0]
                    self.assertEqual(-6, status)
                    self.assertRegex(reason, r"^peer unresponsive for \d+ ms$")
                    self.assertEqual(4, host.stats()["state"])
                finally:
                    peer.kill()
                    os.kill(peer.pid, signal.SIGCONT)
                    peer.wait()
                    peer.stdout.close()
                    host.close()


if __name__ == "__main__":
    unittest.main()
