"""Closing never waits on a live peer: cleanup with a flooding peer delivers nothing more
once it has begun, and a process exits while its peer floods it (how soon is a benchmark
figure: bench/run.sh's "Python exit while the peer floods" rows, under 300 ms)."""
import os
import subprocess
import sys
import threading
import time
import unittest

from _support import HERE, TRANSPORTS, WAIT, child_env
from dapper_ipc import IPCManager, TransportConfig

EXIT_SCRIPT = os.path.join(HERE, "exit_under_flood.py")


class CleanupUnderFloodTests(unittest.TestCase):
    def test_no_message_is_handed_over_once_cleanup_has_begun(self):
        # A reader batch that started after cleanup() was entered used to deliver every
        # frame of its socket read (hundreds, each costing the handler's time) before the
        # library noticed the cleanup.
        for transport in TRANSPORTS:
            for attempt in range(5):
                with self.subTest(transport=transport, attempt=attempt):
                    self.cleanup_while_flooded(transport)

    def cleanup_while_flooded(self, transport):
        manager = IPCManager()
        args = manager.create_listener(TransportConfig(transport=transport))
        peer = subprocess.Popen([sys.executable, EXIT_SCRIPT, "flood", *args], env=child_env())
        self.addCleanup(peer.wait, WAIT)
        began = [False]
        after = [0]
        flowing = threading.Event()

        def handler(_message):
            if began[0]:
                after[0] += 1
            flowing.set()
            time.sleep(0.001)

        manager.start_reader(handler)
        self.assertTrue(flowing.wait(WAIT), "messages never started flowing")
        began[0] = True
        manager.cleanup()
        # The call under way when cleanup began, and one that began just before it was entered.
        self.assertLessEqual(after[0], 2, f"{after[0]} messages were handed over after cleanup() began")


class ExitUnderFloodTests(unittest.TestCase):
    def test_a_process_exits_while_its_peer_floods(self):
        # The peer floods and never closes: every kind of exit ends the process, with status
        # 0 (no hang, no crash in the exit path). That it does not wait the 2 s linger for
        # the peer's end-of-file, as it once did, is timed by the benchmark, not here.
        for transport in TRANSPORTS:
            for mode in ("exit", "slow-handler", "pull", "system-exit", "os-exit"):
                if mode == "pull" and sys.platform == "win32":
                    continue  # messages() takes the reader path there: the handler rows cover it
                with self.subTest(transport=transport, mode=mode):
                    host = subprocess.Popen([sys.executable, EXIT_SCRIPT, transport, mode], stdout=subprocess.PIPE,
                                            env=child_env(), text=True)
                    self.assertEqual(host.stdout.readline().strip(), "exiting")
                    self.assertEqual(host.wait(WAIT), 0)
                    host.stdout.close()


if __name__ == "__main__":
    unittest.main()
