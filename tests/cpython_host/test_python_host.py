"""The library hosted by CPython through ctypes: callbacks into Python need the GIL,
and ctypes releases it during each call, so cleanup from the main thread while the
reader thread is delivering messages must neither deadlock nor leave a callback
running afterwards."""
import ctypes
import os
import subprocess
import sys
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "samples", "python"))
import sample  # noqa: E402  (the sample's ctypes bindings; it finds the library)

# The sample loads the library in main(); its helpers (check, launcher_args) use sample.LIB.
sample.LIB = LIB = sample.load()


class PythonHostTests(unittest.TestCase):
    def start_flooded_listener(self, transport):
        manager = sample.Manager()
        sample.check(LIB.dapper_ipc_manager_create(ctypes.byref(manager)), "manager_create")
        state = {"count": 0, "after_cleanup": 0, "cleaned": False}
        flowing = threading.Event()

        def on_message(_user, _kind, _payload, _length):
            state["count"] += 1
            if state["cleaned"]:
                state["after_cleanup"] += 1
            if state["count"] >= 1000:
                flowing.set()

        message_cb = sample.MESSAGE_CB(on_message)
        state_cb = sample.STATE_CB(lambda *_: None)
        sample.check(LIB.dapper_ipc_set_callback(manager, message_cb, state_cb, None), "set_callback")
        config = sample.Config()
        LIB.dapper_ipc_config_init(ctypes.byref(config), ctypes.sizeof(config))
        config.transport = transport.encode()
        sample.check(LIB.dapper_ipc_create_listener(manager, ctypes.byref(config)), "create_listener")
        args = sample.launcher_args(manager)
        peer = subprocess.Popen([sys.executable, os.path.join(HERE, "flood_peer.py"), *args])
        self.addCleanup(peer.kill)
        sample.check(LIB.dapper_ipc_start_reader(manager), "start_reader")
        return manager, state, flowing, peer, (message_cb, state_cb), args

    def cleanup_while_flowing(self, transport):
        manager, state, flowing, peer, _keep, args = self.start_flooded_listener(transport)
        self.assertTrue(flowing.wait(20), "messages never started flowing")

        done = threading.Event()
        result = {}

        def cleanup():
            result["status"] = LIB.dapper_ipc_cleanup(manager)
            state["cleaned"] = True
            done.set()

        # On its own thread, so a deadlock fails the test instead of hanging it.
        threading.Thread(target=cleanup, daemon=True).start()
        self.assertTrue(done.wait(20), "cleanup deadlocked while callbacks were running")
        self.assertEqual(result["status"], 0)
        self.assertEqual(peer.wait(20), 0, "the peer did not see the connection end")
        self.assertEqual(state["after_cleanup"], 0, "a callback ran after cleanup returned")
        self.assertGreaterEqual(state["count"], 1000)
        if transport == "unix":
            self.assertFalse(os.path.exists(args[3]))
        sample.check(LIB.dapper_ipc_manager_destroy(manager), "manager_destroy")

    # unix on POSIX; on Windows, whose CPython has no AF_UNIX, the local transport is the pipe.
    @unittest.skipIf(sys.platform == "win32", "no AF_UNIX in CPython on Windows: the pipe twin runs there")
    def test_cleanup_from_the_main_thread_while_messages_flow_over_unix(self):
        self.cleanup_while_flowing("unix")

    @unittest.skipUnless(sys.platform == "win32", "named pipes are the Windows transport: the unix twin runs here")
    def test_cleanup_from_the_main_thread_while_messages_flow_over_pipe(self):
        self.cleanup_while_flowing("pipe")

    def test_cleanup_from_the_main_thread_while_messages_flow_over_tcp(self):
        self.cleanup_while_flowing("tcp")

    def test_cleanup_from_inside_the_python_callback(self):
        manager = sample.Manager()
        sample.check(LIB.dapper_ipc_manager_create(ctypes.byref(manager)), "manager_create")
        called = {"n": 0, "status": None}
        cleaned = threading.Event()

        def on_message(_user, _kind, _payload, _length):
            called["n"] += 1
            if called["n"] == 10:
                called["status"] = LIB.dapper_ipc_cleanup(manager)
                cleaned.set()

        message_cb = sample.MESSAGE_CB(on_message)
        state_cb = sample.STATE_CB(lambda *_: None)
        sample.check(LIB.dapper_ipc_set_callback(manager, message_cb, state_cb, None), "set_callback")
        config = sample.Config()
        LIB.dapper_ipc_config_init(ctypes.byref(config), ctypes.sizeof(config))
        config.transport = b"pipe" if sys.platform == "win32" else b"unix"  # the platform's own
        sample.check(LIB.dapper_ipc_create_listener(manager, ctypes.byref(config)), "create_listener")
        peer = subprocess.Popen([sys.executable, os.path.join(HERE, "flood_peer.py"), *sample.launcher_args(manager)])
        self.addCleanup(peer.kill)
        sample.check(LIB.dapper_ipc_start_reader(manager), "start_reader")

        self.assertTrue(cleaned.wait(20))
        self.assertEqual(called["status"], 0)
        self.assertEqual(peer.wait(20), 0)
        self.assertEqual(called["n"], 10, "no callback may follow a cleanup made inside one")
        self.assertEqual(LIB.dapper_ipc_cleanup(manager), 0)
        sample.check(LIB.dapper_ipc_manager_destroy(manager), "manager_destroy")


if __name__ == "__main__":
    unittest.main()
