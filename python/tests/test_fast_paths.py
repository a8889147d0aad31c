"""The shortcuts into CPython's and asyncio's internals (_fast.py): DAPPER_IPC_PLAIN selects
the plain path for every one of them, and a shortcut whose internal is missing falls back
to the plain path on its own, while the others stay fast. Each case runs in a child Python,
since the choice is made once, at import."""

import json
import subprocess
import sys
import sysconfig
import unittest

from _support import LOCAL, WAIT, child_env

SHORTCUTS = {"json", "frames", "hot_calls", "thread_state", "idle_wait", "getsignal"}
FAST_MODULES = {"dapper_ipc._json_fast", "dapper_ipc._frames", "dapper_ipc._idle_wait"}

# What the child reports: the choices, whether each public name is the plain one, which
# shortcut modules were imported, and a round trip through the package on an event loop
# (send_message, await recv) and on a reader thread (send, handler).
CHILD = """
import asyncio, json, sys, threading
import dapper_ipc
from dapper_ipc import IPCManager, TransportConfig, _fast, _plain

async def round_trips():
    server, client = IPCManager(), IPCManager()
    try:
        client.connect(TransportConfig.from_launcher_args(server.create_listener(TransportConfig(transport=%(transport)r))))
        got, done = [], threading.Event()
        client.start_reader(lambda m: (got.append(m), client.send({"echo": m}), done.set()))
        server.wait_for_client(%(wait)r)
        await server.send_message({"seq": 1})
        answer = await asyncio.wait_for(server.recv(), %(wait)r)
        done.wait(%(wait)r)
        return [answer, got]
    finally:
        client.close()
        server.close()

print(json.dumps({
    "chosen": _fast.chosen,
    "plain": {
        "json": _fast.json_loads is _plain.json_loads and _fast.json_dumps is _plain.json_dumps,
        "frames": _fast.payloads is _plain.payloads and _fast.first_frame is _plain.first_frame,
        "hot_calls": _fast.hot is _plain.hot,
        "thread_state": _fast.KEEP_THREAD_STATE is False,
        "idle_wait": _fast.IdleWait is _plain.IdleWait,
        "getsignal": _fast.getsignal is _plain.getsignal,
    },
    "modules": sorted(m for m in sys.modules if m.startswith("dapper_ipc.")),
    "round_trips": asyncio.run(round_trips()),
}))
"""
ROUND_TRIPS = [{"echo": {"seq": 1}}, [{"seq": 1}]]


def child(preamble="", **env):
    """Runs CHILD after preamble in a child Python with env added; returns its report."""
    script = preamble + "\n" + CHILD % {"transport": LOCAL, "wait": WAIT}
    environment = child_env(**env)
    if "DAPPER_IPC_PLAIN" not in env:
        environment.pop("DAPPER_IPC_PLAIN", None)  # the suite may run in the plain mode
    done = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True,
                          timeout=WAIT * 2)
    if done.returncode != 0:
        raise AssertionError(f"the child failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout)


class PlainVariableTests(unittest.TestCase):
    def test_the_variable_selects_the_plain_path_for_every_shortcut(self):
        report = child(DAPPER_IPC_PLAIN="1")
        self.assertEqual(set(report["chosen"]), SHORTCUTS)
        for name, choice in report["chosen"].items():
            self.assertEqual(choice, "plain: DAPPER_IPC_PLAIN is set", name)
            self.assertTrue(report["plain"][name], f"{name}: the fast implementation is in place")
        self.assertEqual(FAST_MODULES & set(report["modules"]), set(), "a shortcut's module was imported")
        self.assertEqual(report["round_trips"], ROUND_TRIPS)

    def test_unset_or_zero_lets_every_probe_decide(self):
        for value in (None, "0", ""):
            with self.subTest(DAPPER_IPC_PLAIN=value):
                report = child(**({} if value is None else {"DAPPER_IPC_PLAIN": value}))
                for name, choice in report["chosen"].items():
                    self.assertNotIn("DAPPER_IPC_PLAIN", choice, name)
                    self.assertEqual(report["plain"][name], choice != "fast", name)
                self.assertEqual(report["round_trips"], ROUND_TRIPS)

    @unittest.skipUnless(sys.platform.startswith("linux") and sys.implementation.name == "cpython"
                         and not sysconfig.get_config_var("Py_GIL_DISABLED"),
                         "every shortcut was measured on CPython with a GIL on Linux")
    def test_every_shortcut_is_taken_on_the_python_it_was_measured_on(self):
        # A failure here is no user's failure (the plain path runs): it says which
        # shortcut this Python no longer offers, and why.
        report = child()
        self.assertEqual(report["chosen"], {name: "fast" for name in SHORTCUTS})


class FallbackTests(unittest.TestCase):
    """An internal that a new Python took away: that shortcut takes the plain path, the
    others stay fast, and the package works."""

    def fall_back(self, preamble, shortcut, why):
        report = child(preamble)
        self.assertTrue(report["chosen"][shortcut].startswith("plain: "), report["chosen"])
        self.assertIn(why, report["chosen"][shortcut])
        self.assertTrue(report["plain"][shortcut])
        for name, choice in report["chosen"].items():
            if name != shortcut:
                self.assertEqual(report["plain"][name], choice != "fast", name)
        self.assertEqual(report["round_trips"], ROUND_TRIPS)
        return report

    def test_json_without_its_c_encoder(self):
        self.fall_back("import _json; del _json.make_encoder", "json", "make_encoder")

    @unittest.skipUnless(sys.platform.startswith("linux"), "the idle wait is probed on Linux only")
    def test_an_idle_wait_without_poll(self):
        # asyncio's own selector is chosen before poll goes: the loop still works.
        self.fall_back("import asyncio, select; del select.poll", "idle_wait", "poll")

    def test_a_struct_layout_that_does_not_match_the_frame(self):
        self.fall_back("import ctypes, struct\n"
                       "_calcsize = struct.calcsize\n"
                       "struct.calcsize = lambda fmt: _calcsize(fmt) + (8 if fmt == '@PNi' else 0)",
                       "frames", "struct")

    def test_a_python_without_the_gil(self):
        # The reader's callbacks then get a thread state from ctypes each time.
        self.fall_back("import sysconfig\n"
                       "_config = sysconfig.get_config_var\n"
                       "sysconfig.get_config_var = lambda name: 1 if name == 'Py_GIL_DISABLED' else _config(name)",
                       "thread_state", "GIL")


if __name__ == "__main__":
    unittest.main()
