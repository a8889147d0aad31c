"""Against a launcher written from protocol.md alone, in a separate process."""
import os
import subprocess
import sys
import threading
import unittest

from dapper_ipc import IPCManager, TransportConfig

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "launcher_peer.py")
WAIT = 20


class InteropTests(unittest.TestCase):
    def exchange(self, transport):
        with IPCManager() as adapter:
            args = adapter.create_listener(TransportConfig(transport=transport))
            received, changed = [], threading.Condition()

            def handler(message):
                with changed:
                    received.append(message)
                    changed.notify_all()

            adapter.start_reader(handler)
            peer = subprocess.Popen([sys.executable, PEER, "echo", *args], stdout=subprocess.PIPE, text=True)
            try:
                adapter.wait_for_client(WAIT)
                commands = ["initialize", "setBreakpoints", "configurationDone"]
                for seq, command in enumerate(commands, 1):
                    adapter.send({"seq": seq, "type": "request", "command": command, "arguments": {}})
                with changed:
                    self.assertTrue(changed.wait_for(lambda: len(received) >= 4, WAIT), received)
                self.assertEqual(received[0]["event"], "stopped")
                responses = [m for m in received if m["event"] == "response"]
                self.assertEqual([r["body"]["command"] for r in responses], commands)
                self.assertEqual([r["id"] for r in responses], [1, 2, 3])
            finally:
                adapter.cleanup()
                out, _ = peer.communicate(timeout=WAIT)
            self.assertEqual(peer.returncode, 0)
            self.assertEqual(out.strip(), "eof", "the launcher must see end-of-file after cleanup")

    def test_the_launcher_talks_to_the_library_over_unix(self):
        self.exchange("unix")

    def test_the_launcher_talks_to_the_library_over_tcp(self):
        self.exchange("tcp")

    def test_cleanup_while_a_launcher_floods_returns(self):
        for transport in ("unix", "tcp"):
            with self.subTest(transport=transport):
                adapter = IPCManager()
                args = adapter.create_listener(TransportConfig(transport=transport))
                flowing, count = threading.Event(), [0]

                def handler(_m):
                    count[0] += 1
                    if count[0] == 500:
                        flowing.set()

                adapter.start_reader(handler)
                peer = subprocess.Popen([sys.executable, PEER, "flood", *args])
                self.assertTrue(flowing.wait(WAIT))
                done = threading.Event()
                threading.Thread(target=lambda: (adapter.cleanup(), done.set()), daemon=True).start()
                self.assertTrue(done.wait(WAIT), "cleanup deadlocked while the handler was being called")
                self.assertEqual(peer.wait(WAIT), 0)
                adapter.close()


class ShutdownTests(unittest.TestCase):
    def test_interpreter_exit_with_a_manager_still_open_neither_hangs_nor_crashes(self):
        script = (
            "import sys, threading\n"
            "from dapper_ipc import IPCManager, TransportConfig\n"
            "server = IPCManager()\n"
            "args = server.create_listener(TransportConfig(transport='unix'))\n"
            "got = threading.Event()\n"
            "server.start_reader(lambda m: got.set())\n"
            "client = IPCManager()\n"
            "client.connect(TransportConfig.from_launcher_args(args))\n"
            "client.start_reader(lambda m: None)\n"
            "client.send({'event': 'x'})\n"
            "assert got.wait(20)\n"
            "print(args[3])\n"
            "sys.exit(0)  # no cleanup\n"
        )
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=WAIT,
                                env=dict(os.environ))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertFalse(os.path.exists(result.stdout.strip()), "the socket file outlived the interpreter")


if __name__ == "__main__":
    unittest.main()
