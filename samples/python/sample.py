#!/usr/bin/env python3
"""The adapter and the launcher in one script, over libdapper_ipc through ctypes.

    python3 sample.py [--transport auto|unix|tcp]
        The adapter: creates a listener, starts this script again as the launcher
        with the listener's arguments, sends commands, prints the replies.
    python3 sample.py --ipc unix --ipc-path P | --ipc tcp --ipc-host H --ipc-port N
        The launcher: connects, sends one unsolicited "stopped" event, answers each
        command with a response event and, once it has answered "disconnect",
        cleans up and exits.

Standard library only. The library is found through DAPPER_IPC_LIBRARY, else in the
repository's build output (cmake --preset default && cmake --build --preset default).
Every wait has a timeout: on any failure the script says what failed (with the
library's last-error text) and exits non-zero instead of hanging.
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
LOG_INFO = 1
LEVEL_NAMES = {0: "debug", 1: "info", 2: "warning", 3: "error"}

COMMANDS = [
    {"seq": 1, "type": "request", "command": "configurationDone", "arguments": {}},
    {"seq": 2, "type": "request", "command": "threads", "arguments": {}},
    {"seq": 3, "type": "request", "command": "disconnect", "arguments": {"terminateDebuggee": True}},
]
LAST_COMMAND = COMMANDS[-1]["command"]


class SampleError(Exception):
    pass


_output = threading.Lock()


def say(who, text, stream=None):
    # One write per line under a lock: the reader thread and the main thread print at once.
    with _output:
        stream = stream or sys.stdout
        stream.write(f"[{who}] {text}\n")
        stream.flush()


# ---- loading the library and declaring its C ABI (include/dapper_ipc.h) ----

def library_name():
    if sys.platform == "win32":
        return "dapper_ipc.dll"
    if sys.platform == "darwin":
        return "libdapper_ipc.dylib"
    return "libdapper_ipc.so"


def find_library():
    explicit = os.environ.get("DAPPER_IPC_LIBRARY")
    if explicit:
        return explicit
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    name = library_name()
    preset = os.path.join(repo, "build", "default", "dapper_ipc", name)
    pattern = os.path.join(repo, "build", "**", name)
    if os.path.isfile(preset):
        return preset
    # Skip build/compile-check: it holds other platforms' outputs.
    found = sorted(f for f in glob.glob(pattern, recursive=True)
                   if "compile-check" not in os.path.relpath(f, repo).split(os.sep))
    if found:
        return found[0]
    raise SampleError(f"{name} not found; looked in: $DAPPER_IPC_LIBRARY (not set), {preset}, {pattern}."
                      " Build it with: cmake --preset default && cmake --build --preset default"
                      " (or point DAPPER_IPC_LIBRARY at the library file)")


class Manager(ctypes.Structure):
    """dapper_ipc_manager: passed by value."""
    _fields_ = [("id", ctypes.c_uint64)]


class Config(ctypes.Structure):
    """dapper_ipc_config, field for field (64 bytes on 64-bit platforms)."""
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


# DAPPER_IPC_CALL is __cdecl on Windows and nothing elsewhere: CFUNCTYPE everywhere.
MESSAGE_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32,
                              ctypes.POINTER(ctypes.c_uint8), ctypes.c_size_t)
STATE_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32, ctypes.c_char_p)
LOG_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_char_p)

LIB = None


def load():
    path = find_library()
    try:
        lib = ctypes.CDLL(path)
    except OSError as error:
        raise SampleError(f"cannot load {path}: {error}") from None
    i32, size_t, ptr = ctypes.c_int32, ctypes.c_size_t, ctypes.POINTER
    signatures = {
        "dapper_ipc_version": (ctypes.c_char_p, []),
        "dapper_ipc_status_string": (ctypes.c_char_p, [i32]),
        "dapper_ipc_last_error": (i32, [ctypes.c_char_p, size_t, ptr(size_t)]),
        "dapper_ipc_set_log_callback": (i32, [LOG_CB, ctypes.c_void_p, i32]),
        "dapper_ipc_config_init": (i32, [ptr(Config), size_t]),
        "dapper_ipc_manager_create": (i32, [ptr(Manager)]),
        "dapper_ipc_manager_destroy": (i32, [Manager]),
        "dapper_ipc_set_callback": (i32, [Manager, MESSAGE_CB, STATE_CB, ctypes.c_void_p]),
        "dapper_ipc_create_listener": (i32, [Manager, ptr(Config)]),
        "dapper_ipc_launcher_args": (i32, [Manager, ctypes.c_char_p, size_t, ptr(size_t), ptr(i32)]),
        "dapper_ipc_connect": (i32, [Manager, ptr(Config)]),
        "dapper_ipc_wait_for_client": (i32, [Manager, i32]),
        "dapper_ipc_start_reader": (i32, [Manager]),
        "dapper_ipc_send": (i32, [Manager, i32, ctypes.c_char_p, size_t]),
        "dapper_ipc_cleanup": (i32, [Manager]),
    }
    for name, (restype, argtypes) in signatures.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise SampleError(f"{path} does not export {name}") from None
        fn.restype, fn.argtypes = restype, argtypes
    return lib


def status_text(status):
    return f"{LIB.dapper_ipc_status_string(status).decode()} ({status})"


def last_error():
    needed = ctypes.c_size_t()
    LIB.dapper_ipc_last_error(None, 0, ctypes.byref(needed))
    buf = ctypes.create_string_buffer(max(needed.value, 1))
    LIB.dapper_ipc_last_error(buf, len(buf), None)
    return buf.value.decode("utf-8", "replace")


def check(status, what):
    if status != 0:
        raise SampleError(f"{what} failed: {status_text(status)}: {last_error() or '(no message)'}")


# Process-wide, so module-level: the library may call it until it is reset.
_log_cb = None


def set_log_callback(who):
    global _log_cb

    def log(_user, level, message):
        say(who, f"library {LEVEL_NAMES.get(level, level)}: {message.decode('utf-8', 'replace')}",
            sys.stderr)

    _log_cb = LOG_CB(log)
    check(LIB.dapper_ipc_set_log_callback(_log_cb, None, LOG_INFO), "set_log_callback")


def reset_log_callback():
    global _log_cb
    check(LIB.dapper_ipc_set_log_callback(LOG_CB(), None, LOG_INFO), "set_log_callback(NULL)")
    _log_cb = None


class Endpoint:
    """One manager, its callbacks, and a condition the reader thread signals."""

    def __init__(self, who, on_message):
        self.who = who
        self.manager = Manager()
        self.changed = threading.Condition()
        self.received = []          # decoded messages, in order
        self.disconnected = None    # (status, reason) once the peer is gone
        self.failure = None         # an error raised inside a callback
        self._on_message = on_message
        # The ctypes callback objects must outlive every call the library may make:
        # they live as long as this object, which outlives manager_destroy.
        self._message_cb = MESSAGE_CB(self._message)
        self._state_cb = STATE_CB(self._state)
        check(LIB.dapper_ipc_manager_create(ctypes.byref(self.manager)), "manager_create")
        check(LIB.dapper_ipc_set_callback(self.manager, self._message_cb, self._state_cb, None),
              "set_callback")

    def _message(self, _user, kind, payload, length):  # on the reader thread
        try:
            data = ctypes.string_at(payload, length) if length else b""  # copy: valid only now
            message = json.loads(data.decode("utf-8"))
            say(self.who, f"received kind {kind}: {json.dumps(message)}")
            self._on_message(self, kind, message)
            with self.changed:
                self.received.append((kind, message))
                self.changed.notify_all()
        except Exception as error:  # never let an exception die silently in a ctypes callback
            with self.changed:
                self.failure = f"message callback: {type(error).__name__}: {error}"
                self.changed.notify_all()

    def _state(self, _user, event, status, reason):  # on the reader thread
        reason = reason.decode("utf-8", "replace")
        name = {EVENT_CONNECTED: "connected", EVENT_DISCONNECTED: "disconnected"}.get(event, event)
        say(self.who, f"state: {name}, {status_text(status)}: {reason}")
        if event == EVENT_DISCONNECTED:
            with self.changed:
                self.disconnected = (status, reason)
                self.changed.notify_all()

    def send(self, kind, message):
        data = json.dumps(message).encode("utf-8")
        say(self.who, f"sending kind {kind}: {data.decode()}")
        check(LIB.dapper_ipc_send(self.manager, kind, data, len(data)), "send")

    def wait_for(self, predicate, what):
        with self.changed:
            ok = self.changed.wait_for(lambda: self.failure or predicate(), timeout=WAIT_SECONDS)
            if self.failure:
                raise SampleError(f"[{self.who}] {self.failure}")
            if not ok:
                raise SampleError(f"[{self.who}] timed out after {WAIT_SECONDS} s waiting for {what}"
                                  f" (received so far: {[m for _, m in self.received]},"
                                  f" disconnected: {self.disconnected})")

    def cleanup(self):
        check(LIB.dapper_ipc_cleanup(self.manager), "cleanup")

    def destroy(self):
        check(LIB.dapper_ipc_manager_destroy(self.manager), "manager_destroy")


# ---- the launcher (the child) ------------------------------------------------

def launcher(args):
    set_log_callback("launcher")
    config = Config()
    check(LIB.dapper_ipc_config_init(ctypes.byref(config), ctypes.sizeof(config)), "config_init")
    config.transport = args.ipc.encode()
    config.path = args.ipc_path.encode() if args.ipc_path else None
    config.host = args.ipc_host.encode() if args.ipc_host else None
    config.pipe_name = args.ipc_pipe.encode() if args.ipc_pipe else None
    config.port = args.ipc_port or 0

    answered = []

    def reply(endpoint, kind, message):  # on the reader thread
        if kind != KIND_COMMAND:  # the launcher ignores anything else
            return
        endpoint.send(KIND_EVENT, {"event": "response", "id": message.get("seq"), "success": True,
                                   "body": {"command": message.get("command")}})
        answered.append(message.get("command"))

    endpoint = Endpoint("launcher", reply)
    try:
        check(LIB.dapper_ipc_connect(endpoint.manager, ctypes.byref(config)), "connect")
        check(LIB.dapper_ipc_start_reader(endpoint.manager), "start_reader")
        endpoint.send(KIND_EVENT, {"event": "stopped",
                                   "body": {"reason": "entry", "threadId": 1, "allThreadsStopped": True}})
        endpoint.wait_for(lambda: LAST_COMMAND in answered or endpoint.disconnected,
                          f"the {LAST_COMMAND!r} command")
        if LAST_COMMAND not in answered:
            raise SampleError(f"[launcher] the adapter left before {LAST_COMMAND!r}: {endpoint.disconnected}")
        endpoint.cleanup()
        say("launcher", f"answered {len(answered)} commands ({', '.join(answered)}), cleaned up, exiting")
    finally:
        endpoint.destroy()
        reset_log_callback()
    return 0


# ---- the adapter (the parent) ------------------------------------------------

def launcher_args(manager):
    length, argc = ctypes.c_size_t(), ctypes.c_int32()
    status = LIB.dapper_ipc_launcher_args(manager, None, 0, ctypes.byref(length), ctypes.byref(argc))
    if status != E_BUFFER_TOO_SMALL:
        check(status, "launcher_args (size)")
    buf = ctypes.create_string_buffer(length.value)
    check(LIB.dapper_ipc_launcher_args(manager, buf, len(buf), ctypes.byref(length), ctypes.byref(argc)),
          "launcher_args")
    args = [a.decode("utf-8") for a in buf.raw[: length.value].split(b"\0")[: argc.value]]
    if len(args) != argc.value or not args or args[0] != "--ipc":
        raise SampleError(f"launcher_args returned {args!r} (argc {argc.value}, length {length.value})")
    return args


def unix_socket_path(args):
    if args[1] == "unix" and "--ipc-path" in args:
        return args[args.index("--ipc-path") + 1]
    return None


def adapter(transport):
    set_log_callback("adapter")
    say("adapter", f"libdapper_ipc {LIB.dapper_ipc_version().decode()}, transport {transport}")
    endpoint = Endpoint("adapter", lambda *_: None)
    child = None
    try:
        config = Config()
        check(LIB.dapper_ipc_config_init(ctypes.byref(config), ctypes.sizeof(config)), "config_init")
        config.transport = transport.encode()
        check(LIB.dapper_ipc_create_listener(endpoint.manager, ctypes.byref(config)), "create_listener")
        args = launcher_args(endpoint.manager)
        say("adapter", f"launcher arguments: {' '.join(args)}")
        socket_path = unix_socket_path(args)
        if socket_path and not os.path.exists(socket_path):
            raise SampleError(f"the listener's socket {socket_path} does not exist")

        # The listener is bound, so the launcher finds it however soon it starts.
        child = subprocess.Popen([sys.executable, os.path.abspath(__file__), *args])
        check(LIB.dapper_ipc_start_reader(endpoint.manager), "start_reader")  # accepts the client
        check(LIB.dapper_ipc_wait_for_client(endpoint.manager, WAIT_SECONDS * 1000), "wait_for_client")

        for command in COMMANDS:
            endpoint.send(KIND_COMMAND, command)

        def responses():
            return sorted(m.get("id") for k, m in endpoint.received
                          if k == KIND_EVENT and m.get("event") == "response")

        def stopped():
            return any(m.get("event") == "stopped" for k, m in endpoint.received if k == KIND_EVENT)

        want = [c["seq"] for c in COMMANDS]
        endpoint.wait_for(lambda: responses() == want and stopped(),
                          f"responses {want} and a 'stopped' event")
        say("adapter", f"got responses {responses()} and the 'stopped' event")

        endpoint.cleanup()
        code = child.wait(timeout=WAIT_SECONDS)
        if code != 0:
            raise SampleError(f"the launcher exited with status {code}")
        say("adapter", "the launcher exited with status 0")
        if socket_path:
            for leftover in (socket_path, os.path.dirname(socket_path)):
                if os.path.exists(leftover):
                    raise SampleError(f"cleanup left {leftover} behind")
            say("adapter", f"cleanup removed {socket_path} and its directory")
    except subprocess.TimeoutExpired:
        raise SampleError(f"the launcher did not exit within {WAIT_SECONDS} s") from None
    finally:
        # Runs on failure too: the library closes everything, the child never outlives us.
        try:
            endpoint.cleanup()  # idempotent
        finally:
            if child is not None and child.poll() is None:
                child.kill()
                child.wait(timeout=WAIT_SECONDS)
            endpoint.destroy()
            reset_log_callback()
    say("adapter", f"done over {args[1]}")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transport", default="auto", help="adapter: auto, unix, tcp (or pipe on Windows)")
    launcher_group = parser.add_argument_group("launcher (the arguments the listener hands out)")
    launcher_group.add_argument("--ipc", help="unix, tcp or pipe: run as the launcher")
    launcher_group.add_argument("--ipc-path")
    launcher_group.add_argument("--ipc-host")
    launcher_group.add_argument("--ipc-port", type=int)
    launcher_group.add_argument("--ipc-pipe")
    args = parser.parse_args()
    global LIB
    try:
        LIB = load()
        return launcher(args) if args.ipc else adapter(args.transport)
    except SampleError as error:
        say("launcher" if args.ipc else "adapter", f"error: {error}", sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
