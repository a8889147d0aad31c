#!/usr/bin/env python3
"""The adapter and the launcher in one script, over libdapper_ipc through ctypes.

    python3 sample.py [--transport auto|unix|tcp]
        The adapter: creates a listener, starts this script again as the launcher
        with the listener's arguments, sends commands, prints the replies.
    python3 sample.py --ipc unix --ipc-path P | --ipc tcp --ipc-host H --ipc-port N
        The launcher: connects, answers each command with a response event and
        sends one unsolicited "stopped" event.

Standard library only. The library is found through DAPPER_IPC_LIBRARY, else in the
repository's build output (cmake --preset default && cmake --build --preset default).
"""

import argparse
import ctypes
import glob
import json
import os
import subprocess
import sys
import threading

WAIT_SECONDS = 10
KIND_EVENT, KIND_COMMAND = 1, 2
EVENT_CONNECTED, EVENT_DISCONNECTED = 1, 2
E_BUFFER_TOO_SMALL = -4


def find_library():
    explicit = os.environ.get("DAPPER_IPC_LIBRARY")
    if explicit:
        return explicit
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    looked = []
    for name in ("libdapper_ipc.so", "libdapper_ipc.dylib", "dapper_ipc.dll"):
        pattern = os.path.join(repo, "build", "**", name)
        looked.append(pattern)
        found = sorted(glob.glob(pattern, recursive=True))
        if found:
            return found[0]
    sys.exit("libdapper_ipc not found: DAPPER_IPC_LIBRARY is not set and nothing matched "
             + ", ".join(looked)
             + ". Build it with: cmake --preset default && cmake --build --preset default")


class Manager(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint64)]


class Config(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("max_frame_size", ctypes.c_uint32),
        ("transport", ctypes.c_char_p),
        ("host", ctypes.c_char_p),
        ("path", ctypes.c_char_p),
        ("pipe_name", ctypes.c_char_p),
        ("port", ctypes.c_int32),
        ("connect_timeout_ms", ctypes.c_int32),
        ("send_timeout_ms", ctypes.c_int32),
        ("flags", ctypes.c_uint32),
        ("auth_token", ctypes.c_char_p),
    ]


MESSAGE_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_uint8), ctypes.c_size_t)
STATE_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32, ctypes.c_char_p)
LOG_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_char_p)


def load(path):
    lib = ctypes.CDLL(path)
    i32, size_t, ptr = ctypes.c_int32, ctypes.c_size_t, ctypes.POINTER
    signatures = {
        "dapper_ipc_version": (ctypes.c_char_p, []),
        "dapper_ipc_status_string": (ctypes.c_char_p, [i32]),
        "dapper_ipc_last_error": (i32, [ctypes.c_char_p, size_t, ptr(size_t)]),
        "dapper_ipc_set_log_callback": (i32, [LOG_CB, ctypes.c_void_p, i32]),
        "dapper_ipc_config_init": (i32, [ptr(Config), size_t]),
        "dapper_ipc_manager_create": (i32, [ptr(Manager)]),
        "dapper_ipc_manager_destroy": (i32, [Manager]),
        "dapper_ipc_set_callbacks": (i32, [Manager, MESSAGE_CB, STATE_CB, ctypes.c_void_p]),
        "dapper_ipc_create_listener": (i32, [Manager, ptr(Config)]),
        "dapper_ipc_launcher_args": (i32, [Manager, ctypes.c_char_p, size_t, ptr(size_t), ptr(i32)]),
        "dapper_ipc_connect": (i32, [Manager, ptr(Config)]),
        "dapper_ipc_wait_for_client": (i32, [Manager, i32]),
        "dapper_ipc_start_reader": (i32, [Manager]),
        "dapper_ipc_send": (i32, [Manager, i32, ctypes.c_char_p, size_t]),
        "dapper_ipc_cleanup": (i32, [Manager]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


LIB = load(find_library())


def check(status, what):
    if status != 0:
        needed = ctypes.c_size_t()
        LIB.dapper_ipc_last_error(None, 0, ctypes.byref(needed))
        buf = ctypes.create_string_buffer(needed.value or 1)
        LIB.dapper_ipc_last_error(buf, len(buf), None)
        raise RuntimeError(f"{what} failed: {LIB.dapper_ipc_status_string(status).decode()} "
                           f"({status}): {buf.value.decode()}")


class Endpoint:
    """One manager, its callbacks, and a condition the reader thread signals."""

    def __init__(self, who, on_message):
        self.who = who
        self.manager = Manager()
        self.changed = threading.Condition()
        self.received = []
        self.disconnected = False
        self._on_message = on_message
        # The ctypes callback objects must outlive every call the library may make.
        self._message_cb = MESSAGE_CB(self._message)
        self._state_cb = STATE_CB(self._state)
        check(LIB.dapper_ipc_manager_create(ctypes.byref(self.manager)), "manager_create")
        check(LIB.dapper_ipc_set_callbacks(self.manager, self._message_cb, self._state_cb, None), "set_callbacks")

    def _message(self, _user, kind, payload, length):  # on the reader thread
        message = json.loads(ctypes.string_at(payload, length))
        print(f"[{self.who}] received kind {kind}: {json.dumps(message)}", flush=True)
        self._on_message(self, kind, message)
        with self.changed:
            self.received.append(message)
            self.changed.notify_all()

    def _state(self, _user, event, status, reason):
        name = "connected" if event == EVENT_CONNECTED else "disconnected"
        print(f"[{self.who}] {name} ({LIB.dapper_ipc_status_string(status).decode()}): {reason.decode()}", flush=True)
        if event == EVENT_DISCONNECTED:
            with self.changed:
                self.disconnected = True
                self.changed.notify_all()

    def send(self, kind, message):
        data = json.dumps(message).encode()
        print(f"[{self.who}] sending: {data.decode()}", flush=True)
        check(LIB.dapper_ipc_send(self.manager, kind, data, len(data)), "send")

    def wait_for(self, predicate, what):
        with self.changed:
            if not self.changed.wait_for(predicate, timeout=WAIT_SECONDS):
                raise RuntimeError(f"[{self.who}] timed out after {WAIT_SECONDS} s waiting for {what}")


def launcher(args):
    config = Config()
    check(LIB.dapper_ipc_config_init(ctypes.byref(config), ctypes.sizeof(config)), "config_init")
    config.transport = args.ipc.encode()
    if args.ipc_path:
        config.path = args.ipc_path.encode()
    if args.ipc_host:
        config.host = args.ipc_host.encode()
    config.port = args.ipc_port or 0

    def reply(endpoint, kind, message):
        if kind == KIND_COMMAND:  # the launcher ignores anything else
            endpoint.send(KIND_EVENT, {"event": "response", "id": message.get("seq"), "success": True, "body": {}})

    endpoint = Endpoint("launcher", reply)
    check(LIB.dapper_ipc_connect(endpoint.manager, ctypes.byref(config)), "connect")
    check(LIB.dapper_ipc_start_reader(endpoint.manager), "start_reader")
    endpoint.send(KIND_EVENT, {"event": "stopped", "body": {"reason": "entry", "threadId": 1}})
    endpoint.wait_for(lambda: endpoint.disconnected, "the adapter to close the connection")
    check(LIB.dapper_ipc_manager_destroy(endpoint.manager), "manager_destroy")
    print(f"[launcher] answered {len(endpoint.received)} commands, exiting", flush=True)
    return 0


def launcher_args(manager):
    length, argc = ctypes.c_size_t(), ctypes.c_int32()
    status = LIB.dapper_ipc_launcher_args(manager, None, 0, ctypes.byref(length), ctypes.byref(argc))
    if status != E_BUFFER_TOO_SMALL:
        check(status, "launcher_args")
    buf = ctypes.create_string_buffer(length.value)
    check(LIB.dapper_ipc_launcher_args(manager, buf, len(buf), None, None), "launcher_args")
    return [a.decode() for a in buf.raw[: length.value].split(b"\0")[: argc.value]]


def adapter(transport):
    log_cb = LOG_CB(lambda _u, level, message: print(f"[adapter] library log {level}: {message.decode()}",
                                                     file=sys.stderr, flush=True))
    check(LIB.dapper_ipc_set_log_callback(log_cb, None, 1), "set_log_callback")
    print(f"[adapter] libdapper_ipc {LIB.dapper_ipc_version().decode()}", flush=True)

    endpoint = Endpoint("adapter", lambda *_: None)
    config = Config()
    check(LIB.dapper_ipc_config_init(ctypes.byref(config), ctypes.sizeof(config)), "config_init")
    config.transport = transport.encode()
    check(LIB.dapper_ipc_create_listener(endpoint.manager, ctypes.byref(config)), "create_listener")
    args = launcher_args(endpoint.manager)
    print(f"[adapter] launcher arguments: {' '.join(args)}", flush=True)

    child = subprocess.Popen([sys.executable, os.path.abspath(__file__), *args])
    try:
        check(LIB.dapper_ipc_start_reader(endpoint.manager), "start_reader")
        check(LIB.dapper_ipc_wait_for_client(endpoint.manager, WAIT_SECONDS * 1000), "wait_for_client")
        commands = [
            {"seq": 1, "type": "request", "command": "setBreakpoints", "arguments": {"lines": [3]}},
            {"seq": 2, "type": "request", "command": "configurationDone", "arguments": {}},
            {"seq": 3, "type": "request", "command": "continue", "arguments": {"threadId": 1}},
        ]
        for command in commands:
            endpoint.send(KIND_COMMAND, command)
        # One unsolicited event and a response per command.
        endpoint.wait_for(lambda: len(endpoint.received) >= len(commands) + 1, "the launcher's replies")
        ids = sorted(m["id"] for m in endpoint.received if m.get("event") == "response")
        if ids != [1, 2, 3]:
            raise RuntimeError(f"unexpected responses: {endpoint.received}")
    finally:
        check(LIB.dapper_ipc_cleanup(endpoint.manager), "cleanup")
        code = child.wait(timeout=WAIT_SECONDS)
    if code != 0:
        raise RuntimeError(f"the launcher exited with {code}")
    if args[1] == "unix" and (os.path.exists(args[3]) or os.path.exists(os.path.dirname(args[3]))):
        raise RuntimeError(f"cleanup left {args[3]} behind")
    check(LIB.dapper_ipc_manager_destroy(endpoint.manager), "manager_destroy")
    check(LIB.dapper_ipc_set_log_callback(LOG_CB(), None, 0), "set_log_callback")
    print(f"[adapter] done over {transport}", flush=True)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transport", default="auto")
    parser.add_argument("--ipc")
    parser.add_argument("--ipc-path")
    parser.add_argument("--ipc-host")
    parser.add_argument("--ipc-port", type=int)
    parser.add_argument("--ipc-pipe")
    args = parser.parse_args()
    try:
        return launcher(args) if args.ipc else adapter(args.transport)
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
