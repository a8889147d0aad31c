"""ctypes bindings of include/dapper_ipc.h, the library search, and the log bridge."""

import ctypes
import glob
import logging
import os
import sys
import threading

from . import errors

LIBRARY_ENV = "DAPPER_IPC_LIBRARY"

OK = 0
E_INVALID_ARGUMENT = -1
E_INVALID_HANDLE = -2
E_INVALID_STATE = -3
E_BUFFER_TOO_SMALL = -4
E_NOT_CONNECTED = -5
E_TIMEOUT = -6
E_UNSUPPORTED = -7
E_ADDRESS_IN_USE = -8
E_CONNECTION_REFUSED = -9
E_CLOSED = -10
E_PROTOCOL = -11
E_FRAME_TOO_LARGE = -12
E_IO = -13
E_PATH_TOO_LONG = -14
E_CANCELLED = -15
E_PATH_EXISTS = -16
E_SEND_TIMEOUT = -17

KIND_EVENT = 1
KIND_COMMAND = 2
EVENT_CONNECTED = 1
EVENT_DISCONNECTED = 2
FLAG_REQUIRE_AUTH = 1

_ERROR_TYPES = {
    E_INVALID_ARGUMENT: errors.IPCConfigError,
    E_UNSUPPORTED: errors.IPCConfigError,
    E_PATH_TOO_LONG: errors.IPCConfigError,
    E_PATH_EXISTS: errors.IPCConfigError,
    E_FRAME_TOO_LARGE: errors.IPCConfigError,
    E_INVALID_HANDLE: errors.IPCStateError,
    E_INVALID_STATE: errors.IPCStateError,
    E_NOT_CONNECTED: errors.IPCStateError,
    E_CANCELLED: errors.IPCStateError,
    E_TIMEOUT: errors.IPCTimeoutError,
    E_SEND_TIMEOUT: errors.IPCTimeoutError,
}


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


MESSAGE_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_char), ctypes.c_size_t)
STATE_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32, ctypes.c_char_p)
LOG_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_char_p)


def _library_names():
    if sys.platform == "win32":
        return ["dapper_ipc.dll"]
    if sys.platform == "darwin":
        return ["libdapper_ipc.dylib"]
    return ["libdapper_ipc.so"]


def find_library():
    """DAPPER_IPC_LIBRARY, then the package's own folder, then a repository build."""
    looked = []
    explicit = os.environ.get(LIBRARY_ENV)
    if explicit:
        if os.path.exists(explicit):
            return explicit
        looked.append(f"{LIBRARY_ENV}={explicit} (no such file)")
    here = os.path.dirname(os.path.abspath(__file__))
    for name in _library_names():
        candidate = os.path.join(here, name)
        if os.path.exists(candidate):
            return candidate
        looked.append(candidate)
    directory = here
    for _ in range(6):  # python/src/dapper_ipc -> the repository root, whatever the depth
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
        for name in _library_names():
            pattern = os.path.join(directory, "build", "**", name)
            found = sorted(glob.glob(pattern, recursive=True))
            if found:
                return found[0]
            looked.append(pattern)
    raise errors.IPCError(
        "libdapper_ipc not found; looked in: " + "; ".join(looked)
        + ". Set DAPPER_IPC_LIBRARY, or build it: cmake --preset default && cmake --build --preset default"
    )


_LEVELS = {0: logging.DEBUG, 1: logging.INFO, 2: logging.WARNING, 3: logging.ERROR}
native_logger = logging.getLogger("dapper.ipc.native")


def _on_log(_user, level, message):
    native_logger.log(_LEVELS.get(level, logging.ERROR), "%s", message.decode("utf-8", "replace"))


_log_callback = LOG_CB(_on_log)  # module-level: alive as long as the library may call it
_lib = None
_lib_lock = threading.Lock()


def _declare(lib):
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
        "dapper_ipc_auth_token": (i32, [Manager, ctypes.c_char_p, size_t, ptr(size_t)]),
        "dapper_ipc_connect": (i32, [Manager, ptr(Config)]),
        "dapper_ipc_wait_for_client": (i32, [Manager, i32]),
        "dapper_ipc_start_reader": (i32, [Manager]),
        "dapper_ipc_send": (i32, [Manager, i32, ctypes.c_char_p, size_t]),
        "dapper_ipc_cleanup": (i32, [Manager]),
        "dapper_ipc_is_connected": (i32, [Manager, ptr(i32)]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes


def lib():
    """The loaded library (loaded once, with its log messages routed to logging)."""
    global _lib
    with _lib_lock:
        if _lib is None:
            loaded = ctypes.CDLL(find_library())
            _declare(loaded)
            loaded.dapper_ipc_set_log_callback(_log_callback, None, 0)
            _lib = loaded
        return _lib


def last_error():
    native = lib()
    needed = ctypes.c_size_t()
    native.dapper_ipc_last_error(None, 0, ctypes.byref(needed))
    buf = ctypes.create_string_buffer(max(needed.value, 1))
    native.dapper_ipc_last_error(buf, len(buf), None)
    return buf.value.decode("utf-8", "replace")


def check(status):
    """Raises the exception that fits a failing status, with the library's message."""
    if status == OK:
        return
    message = last_error() or lib().dapper_ipc_status_string(status).decode()
    raise _ERROR_TYPES.get(status, errors.IPCConnectionError)(message, status)


def new_config(config):
    """A ctypes dapper_ipc_config for a TransportConfig, and the byte strings it points to."""
    c = Config()
    check(lib().dapper_ipc_config_init(ctypes.byref(c), ctypes.sizeof(c)))
    keep = []

    def text(value):
        if value is None:
            return None
        data = str(value).encode("utf-8")
        keep.append(data)
        return data

    c.transport = text(config.transport or "auto")
    c.host = text(config.host)
    c.path = text(config.path)
    c.pipe_name = text(config.pipe_name)
    c.port = int(config.port or 0)
    c.max_frame_size = int(config.max_frame_size or 0)
    c.connect_timeout_ms = _ms(config.connect_timeout, 0)
    c.send_timeout_ms = _ms(config.send_timeout, 0)
    c.flags = FLAG_REQUIRE_AUTH if config.require_auth else 0
    c.auth_token = text(config.auth_token)
    return c, keep


def _ms(seconds, default):
    if seconds is None:
        return default
    if seconds < 0:
        return -1
    return max(1, int(seconds * 1000))
