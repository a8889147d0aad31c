"""ctypes bindings of include/dapper_ipc.h, the library search, and the log bridge."""

import _thread
import ctypes
import glob
import logging
import os
import sys
import threading

from . import _about, errors
from ._abi import *  # noqa: F401,F403 - the header's constants and structs, generated

LIBRARY_ENV = "DAPPER_IPC_LIBRARY"

# dapper_ipc_readable_handle gives a file descriptor for loop.add_reader on Linux (epoll)
# and macOS (kqueue). On Windows it is an event HANDLE, which the Proactor loop cannot
# watch with add_reader: the pull mode waits on an executor thread there.
PULL_HANDLE_SUPPORTED = sys.platform.startswith("linux") or sys.platform == "darwin"

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
    E_INTERNAL: errors.IPCError,
    E_TIMEOUT: errors.IPCTimeoutError,
    E_SEND_TIMEOUT: errors.IPCTimeoutError,
    # everything else (closed, refused, protocol, i/o, address in use): IPCConnectionError
}


# DAPPER_IPC_CALL is __cdecl on Windows and nothing elsewhere: CFUNCTYPE on every platform.
MESSAGE_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_char), ctypes.c_size_t)
BATCH_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(Frame), ctypes.c_size_t)
STATE_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32, ctypes.c_char_p)
LOG_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_char_p)
OFFER_CB = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_char),
                            ctypes.c_size_t)


# ---- finding and loading the library -------------------------------------------------
#
# In this order (python/README.md says the same):
#   1. DAPPER_IPC_LIBRARY: a path, taken as it is (no fallback when it is wrong);
#   2. next to this package: the library a platform wheel bundles;
#   3. the system loader, by the library's versioned name then its plain name: a library
#      installed with `cmake --install` into a directory the loader searches (ldconfig),
#      or one in a directory named by LD_LIBRARY_PATH (DYLD_LIBRARY_PATH, PATH);
#   4. only for the package as it sits in a checkout (python/src/dapper_ipc, run with
#      PYTHONPATH): that checkout's build/ folder, newest first.

def library_names():
    """The file name of the library next to the package (and in a build folder)."""
    if sys.platform == "win32":
        return ["dapper_ipc.dll"]
    if sys.platform == "darwin":
        return ["libdapper_ipc.dylib"]
    return ["libdapper_ipc.so"]


def loader_names():
    """The names asked of the system loader: the versioned name first (what an installed
    runtime package provides), then the development symlink."""
    if sys.platform == "win32":
        return ["dapper_ipc.dll"]
    if sys.platform == "darwin":
        return [f"libdapper_ipc.{ABI_MAJOR}.dylib", "libdapper_ipc.dylib"]
    return [f"libdapper_ipc.so.{ABI_MAJOR}", "libdapper_ipc.so"]


# The library's ABI major (its SONAME): the package's own major version (the header's).
ABI_MAJOR = _about.MAJOR

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

BUILD_COMMAND = "cmake --preset default && cmake --build --preset default"


def _repository_of(package_dir):
    """The checkout whose python/src this package is (the folder holding
    include/dapper_ipc.h), or None: an installed package (site-packages, a venv, even one
    inside a checkout's build/) never searches a build folder."""
    src = os.path.dirname(package_dir)
    python = os.path.dirname(src)
    repository = os.path.dirname(python)
    if (os.path.basename(src) == "src" and os.path.basename(python) == "python"
            and os.path.isfile(os.path.join(repository, "include", "dapper_ipc.h"))):
        return repository
    return None


def _try_load(path):
    loaded = ctypes.CDLL(path)
    loaded.dapper_ipc_version  # noqa: B018 - an AttributeError here: not this library
    return loaded


def _loader_path_variable():
    if sys.platform == "win32":
        return "PATH"
    if sys.platform == "darwin":
        return "DYLD_LIBRARY_PATH"
    return "LD_LIBRARY_PATH"


def _load(package_dir=PACKAGE_DIR):
    """(CDLL, path): see the order above. Raises IPCError that names every place it looked
    and says what to do in the case at hand."""
    explicit = os.environ.get(LIBRARY_ENV)
    if explicit:
        # An explicit choice is not second-guessed: if it is wrong, say so, do not fall back.
        if not os.path.isfile(explicit):
            raise errors.IPCError(
                f"{LIBRARY_ENV}={explicit}: no such file. Point {LIBRARY_ENV} at the library file "
                f"({library_names()[0]}; a build puts it in build/default/dapper_ipc/), or unset it "
                "to use the library bundled with the package or installed on the loader's path.")
        try:
            return _try_load(explicit), explicit
        except (OSError, AttributeError) as error:
            raise errors.IPCError(
                f"{LIBRARY_ENV}={explicit} cannot be loaded: {error}. It must be libdapper_ipc built for "
                f"this platform ({sys.platform}, {_machine()}); point {LIBRARY_ENV} at such a build, "
                "or unset it.") from error
    looked = [f"{LIBRARY_ENV} (not set)"]
    for name in library_names():
        candidate = os.path.join(package_dir, name)
        if os.path.isfile(candidate):
            try:
                return _try_load(candidate), candidate
            except (OSError, AttributeError) as error:
                raise errors.IPCError(
                    f"the library bundled with this package, {candidate}, cannot be loaded: {error}. "
                    "The wheel was built for another platform or a newer C library than this system's: "
                    "install the dapper_ipc wheel built for this platform, or set "
                    f"{LIBRARY_ENV} to a library built here.") from error
        looked.append(f"{candidate} (none)")
    for name in loader_names():
        try:
            loaded = _try_load(name)
        except (OSError, AttributeError) as error:
            looked.append(f"the system loader for {name} ({error})")
            continue
        return loaded, _loaded_path(loaded, name)
    repository = _repository_of(package_dir)
    if repository is not None:
        for name in library_names():
            pattern = os.path.join(repository, "build", "**", name)
            # isfile follows links: CMake leaves build/*/install-links/ pointing at names
            # that exist only once installed.
            found = sorted(filter(os.path.isfile, glob.glob(pattern, recursive=True)), key=os.path.getmtime,
                           reverse=True)
            looked.append(pattern + ("" if found else " (nothing)"))
            for candidate in found:
                try:
                    return _try_load(candidate), candidate
                except (OSError, AttributeError) as error:  # another platform's build, an IL assembly
                    looked.append(f"{candidate} (skipped: {error})")
        advice = (
            f"This package runs from the checkout {repository}, which has no library built: run "
            f"`{BUILD_COMMAND}` there, or set {LIBRARY_ENV} to the library's path.")
    else:
        advice = (
            "This installation of dapper_ipc has no library of its own (it was installed from source, "
            "not from the platform wheel). Do one of: install the platform wheel (at the repository: "
            f"`{BUILD_COMMAND} --target wheel`, then `pip install build/default/wheels/dapper_ipc-*.whl`); "
            "or install the library (`cmake --install build/default --prefix <dir>`) into a directory the "
            f"loader searches (e.g. /usr/local, then run ldconfig) or add <dir>/lib to {_loader_path_variable()}; "
            f"or set {LIBRARY_ENV} to the library's path.")
    raise errors.IPCError("libdapper_ipc not found; looked at: " + "; ".join(looked) + ". " + advice)


def _machine():
    import platform
    return platform.machine()


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def _loaded_path(loaded, name):
    """Where the system loader found `name` (dladdr on one of its functions); the name
    itself where that cannot be asked."""
    if sys.platform == "win32":
        return name
    try:
        dladdr = ctypes.CDLL(None).dladdr
        dladdr.argtypes, dladdr.restype = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)], ctypes.c_int
        info = _DlInfo()
        if dladdr(ctypes.cast(loaded.dapper_ipc_version, ctypes.c_void_p), ctypes.byref(info)) and info.dli_fname:
            return os.path.abspath(os.fsdecode(info.dli_fname))
    except (OSError, AttributeError):
        pass
    return name


def find_library():
    """The path of the library this package loads (or would load)."""
    if _lib is not None:
        return _lib_path
    return _load()[1]


# ---- the log bridge ------------------------------------------------------------------

_LEVELS = {LOG_DEBUG: logging.DEBUG, LOG_INFO: logging.INFO, LOG_WARNING: logging.WARNING, LOG_ERROR: logging.ERROR}
native_logger = logging.getLogger("dapper.ipc.native")


def _on_log(_user, level, message):
    try:
        native_logger.log(_LEVELS.get(level, logging.ERROR), "%s", message.decode("utf-8", "replace"))
    except KeyboardInterrupt:
        # Ctrl-C landed in this callback (it runs on the thread of the library call, the
        # main thread for calls made there). ctypes would print it as "Exception ignored"
        # and drop it: keep it, to be raised by check() once the library call returned.
        # (Re-delivering it as a signal would raise it here again, at the next call.)
        global _interrupt_pending
        if _thread.get_ident() != _MAIN_THREAD:
            raise
        _interrupt_pending = True


_MAIN_THREAD = threading.main_thread().ident
_interrupt_pending = False


def raise_pending_interrupt():
    """Raises the KeyboardInterrupt that reached the log callback, if one did."""
    global _interrupt_pending
    if _interrupt_pending and _thread.get_ident() == _MAIN_THREAD:
        _interrupt_pending = False
        raise KeyboardInterrupt


_log_callback = LOG_CB(_on_log)  # module-level, never freed: the library may call it until exit
_lib = None
_lib_path = None
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
        "dapper_ipc_set_callback": (i32, [Manager, MESSAGE_CB, STATE_CB, ctypes.c_void_p]),
        "dapper_ipc_set_batch_callback": (i32, [Manager, BATCH_CB, STATE_CB, ctypes.c_void_p]),
        "dapper_ipc_create_listener": (i32, [Manager, ptr(Config)]),
        "dapper_ipc_launcher_args": (i32, [Manager, ctypes.c_char_p, size_t, ptr(size_t), ptr(i32)]),
        "dapper_ipc_auth_token": (i32, [Manager, ctypes.c_char_p, size_t, ptr(size_t)]),
        "dapper_ipc_tls_fingerprint": (i32, [Manager, ctypes.c_char_p, size_t, ptr(size_t)]),
        "dapper_ipc_connect": (i32, [Manager, ptr(Config)]),
        "dapper_ipc_adopt": (i32, [Manager, ctypes.c_ssize_t, ctypes.c_ssize_t, ctypes.c_uint32]),
        "dapper_ipc_wait_for_client": (i32, [Manager, i32]),
        "dapper_ipc_start_reader": (i32, [Manager]),
        "dapper_ipc_send": (i32, [Manager, i32, ctypes.c_char_p, size_t]),
        "dapper_ipc_send_batch": (i32, [Manager, ptr(Frame), size_t, ptr(size_t)]),
        "dapper_ipc_cleanup": (i32, [Manager]),
        "dapper_ipc_abort": (i32, [Manager]),
        "dapper_ipc_is_connected": (i32, [Manager, ptr(i32)]),
        "dapper_ipc_get_stats": (i32, [Manager, ptr(Stats)]),
        "dapper_ipc_recv": (i32, [Manager, ctypes.c_void_p, size_t, ptr(size_t), ptr(i32), i32]),
        "dapper_ipc_recv_batch": (i32, [Manager, ctypes.c_void_p, size_t, ptr(Frame), size_t, ptr(size_t), i32]),
        "dapper_ipc_readable_handle": (i32, [Manager, ptr(ctypes.c_ssize_t)]),
        "dapper_ipc_session_listener_create": (i32, [ptr(SessionListener)]),
        "dapper_ipc_session_listener_destroy": (i32, [SessionListener]),
        "dapper_ipc_session_listener_set_hello_limits": (i32, [SessionListener, i32, ctypes.c_uint32]),
        "dapper_ipc_session_listener_set_offer_callback": (i32, [SessionListener, OFFER_CB, ctypes.c_void_p]),
        "dapper_ipc_session_listener_listen": (i32, [SessionListener, ptr(Config)]),
        "dapper_ipc_session_listener_launcher_args": (
            i32, [SessionListener, ctypes.c_char_p, size_t, ptr(size_t), ptr(i32)]),
        "dapper_ipc_session_listener_auth_token": (i32, [SessionListener, ctypes.c_char_p, size_t, ptr(size_t)]),
        "dapper_ipc_session_listener_expect": (i32, [SessionListener, ctypes.c_char_p]),
        "dapper_ipc_session_listener_accept": (i32, [SessionListener, ctypes.c_char_p, i32, ptr(Manager)]),
        "dapper_ipc_session_hello": (i32, [Manager, ctypes.c_char_p, size_t, ptr(size_t)]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes


def lib():
    """The loaded library (loaded once, with its log messages routed to logging).

    Every call through it is a plain ctypes.CDLL call, which releases the GIL for its
    duration: a call that blocks (cleanup joining the reader, a send to a slow peer)
    never keeps a callback into Python from running."""
    global _lib, _lib_path
    with _lib_lock:
        if _lib is None:
            loaded, path = _load()
            _declare(loaded)
            # DEBUG and up: the library logs per connection, never per frame; the logger
            # filters further.
            loaded.dapper_ipc_set_log_callback(_log_callback, None, 0)
            _lib, _lib_path = loaded, path
        return _lib


def hot(name, restype=ctypes.c_int32):
    """An unprototyped handle on one export, for the per-message calls. ctypes converts
    every argument through argtypes on each call (about 0.4 µs an argument here): the
    caller passes ctypes objects of the exact C types instead (the Manager struct,
    c_size_t, byref, buffers; a Python int only for an int32_t). Same library, same
    GIL release."""
    function = _hot.get(name)
    if function is None:
        global _hot_lib
        loaded = lib()
        if _hot_lib is None:
            _hot_lib = type(loaded)(loaded._name, handle=loaded._handle)  # the same dlopen handle
        function = _hot[name] = getattr(_hot_lib, name)
        function.restype = restype
    return function


_hot, _hot_lib = {}, None


def launcher_args(fn, handle):
    """The launcher arguments fn (dapper_ipc_launcher_args or the session listener's) copies out."""
    length, argc = ctypes.c_size_t(), ctypes.c_int32()
    status = fn(handle, None, 0, ctypes.byref(length), ctypes.byref(argc))
    if status != E_BUFFER_TOO_SMALL:
        check(status)
    buf = ctypes.create_string_buffer(length.value)
    check(fn(handle, buf, len(buf), None, None))
    return [a.decode("utf-8") for a in buf.raw[: length.value].split(b"\0")[: argc.value]]


def text_result(fn, *args):
    """A NUL-terminated result (a token, a hello) that fn copies into a buffer, as bytes."""
    length = ctypes.c_size_t()
    status = fn(*args, None, 0, ctypes.byref(length))
    if status != E_BUFFER_TOO_SMALL:
        check(status)
    buf = ctypes.create_string_buffer(length.value)
    check(fn(*args, buf, len(buf), None))
    return buf.value


def version():
    return lib().dapper_ipc_version().decode("ascii")


def stop_logging():
    """Interpreter exit: no library thread may call into Python once it is torn down."""
    if _lib is not None:
        _lib.dapper_ipc_set_log_callback(LOG_CB(), None, 0)


def last_error():
    native = lib()
    needed = ctypes.c_size_t()
    native.dapper_ipc_last_error(None, 0, ctypes.byref(needed))
    buf = ctypes.create_string_buffer(max(needed.value, 1))
    native.dapper_ipc_last_error(buf, len(buf), None)
    return buf.value.decode("utf-8", "replace")


def error_for(status):
    """The exception that fits a failing status, with the library's message for this thread."""
    message = last_error() or lib().dapper_ipc_status_string(status).decode()
    return _ERROR_TYPES.get(status, errors.IPCConnectionError)(message, status)


def check(status):
    """Raises the exception that fits a failing status. Call it right after the failing
    call, on the same thread: the message is per thread. First, a Ctrl-C that reached
    the log callback during the call."""
    if _interrupt_pending:
        raise_pending_interrupt()
    if status != OK:
        raise error_for(status)


# ---- configs ---------------------------------------------------------------------------

_INT32_MAX = 2**31 - 1
_UINT32_MAX = 2**32 - 1
# The library's limit for max_frame_size (header + payload stay below 2 GiB) and its words
# for a field out of range: a value the C field cannot even hold (ctypes would wrap it
# silently, and the library would see another number) is refused here in those words.
_MAX_FRAME_LIMIT = _INT32_MAX - 8
_RANGE_MESSAGES = {
    "port": "port must be between 0 and 65535 (got {})",
    "max_frame_size": "max_frame_size must be between 1 and %d bytes (got {})" % _MAX_FRAME_LIMIT,
    "heartbeat_ms": "heartbeat_ms must fit a signed 32-bit integer (got {})",
    "reconnect_timeout_ms": "reconnect_timeout_ms must fit a signed 32-bit integer (got {})",
    "resume_buffer_bytes": "resume_buffer_bytes must be between 0 and 4294967295 (got {})",
    "shm_ring_bytes": "shm_ring_bytes must be between 0 and 4294967295 (got {})",
    "shm_spin_us": "shm_spin_us must fit a signed 32-bit integer (got {})",
}


def _invalid(message):
    return errors.IPCConfigError(message, E_INVALID_ARGUMENT)


def _int_field(name, value, low, high):
    """value as the C field (low..high) holds it. The library checks the range it accepts;
    this only refuses what the field cannot carry, with the library's status and words."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _invalid(f"{name} must be an integer (got {value!r})") from None
    if not low <= number <= high:
        raise _invalid(_RANGE_MESSAGES[name].format(number))
    return number


def _seconds_to_ms(name, seconds, low):
    """Seconds as int32 ms, at least low; a time longer than int32 ms (24.8 days, or
    infinite) is that long."""
    try:
        return min(_INT32_MAX, max(low, round(seconds * 1000)))
    except OverflowError:
        return _INT32_MAX
    except (TypeError, ValueError):
        raise _invalid(f"{name} must be a number of seconds (got {seconds!r})") from None


def _ms(name, seconds):
    """Seconds (None: the library's default; negative: no limit / one attempt) to ms."""
    if seconds is None:
        return 0
    if isinstance(seconds, (int, float)) and seconds < 0:
        return -1
    return _seconds_to_ms(name, seconds, 1)


def timeout_ms(seconds):
    """A wait in seconds (None: no limit) as the library's int32 milliseconds (-1: no limit)."""
    return -1 if seconds is None else _seconds_to_ms("timeout", seconds, 0)


def new_config(config):
    """A ctypes dapper_ipc_config for a TransportConfig, and the byte strings it points to
    (keep them alive for the call)."""
    c = Config()
    check(lib().dapper_ipc_config_init(ctypes.byref(c), ctypes.sizeof(c)))
    keep = []

    def text(value):
        if value is None:
            return None
        data = str(value).encode("utf-8")
        keep.append(data)
        return data

    # Checked by the library, which reports them with its status and message (an unknown
    # transport, a port out of range, a missing port or path to connect to, ...).
    c.transport = text(config.transport)  # None and "" are auto, as in C
    c.host = text(config.host)
    c.path = text(os.fspath(config.path) if config.path is not None else None)
    c.pipe_name = text(config.pipe_name)
    # In the library's order: max_frame_size, then port.
    c.max_frame_size = _int_field("max_frame_size", config.max_frame_size or 0, 0, _UINT32_MAX)
    c.port = _int_field("port", config.port or 0, -_INT32_MAX - 1, _INT32_MAX)
    c.connect_timeout_ms = _ms("connect_timeout", config.connect_timeout)
    c.send_timeout_ms = _ms("send_timeout", config.send_timeout)
    c.flags = (FLAG_REQUIRE_AUTH if config.require_auth else 0) | (
        FLAG_RECONNECT if getattr(config, "reconnect", False) else 0
    ) | (FLAG_ALLOW_TLS12 if getattr(config, "allow_tls12", False) else 0)
    c.auth_token = text(config.auth_token)
    c.client_wait_ms = _ms("client_wait", getattr(config, "client_wait", None))
    c.heartbeat_ms = _int_field("heartbeat_ms", getattr(config, "heartbeat_ms", None) or 0, -_INT32_MAX - 1, _INT32_MAX)
    c.ws_origins = text(getattr(config, "ws_origins", None))
    c.reconnect_timeout_ms = _int_field(
        "reconnect_timeout_ms", getattr(config, "reconnect_timeout_ms", None) or 0, -_INT32_MAX - 1, _INT32_MAX
    )
    c.resume_buffer_bytes = _int_field("resume_buffer_bytes", getattr(config, "resume_buffer_bytes", None) or 0, 0, _UINT32_MAX)
    c.shm_ring_bytes = _int_field("shm_ring_bytes", getattr(config, "shm_ring_bytes", None) or 0, 0, _UINT32_MAX)
    c.shm_spin_us = _int_field("shm_spin_us", getattr(config, "shm_spin_us", None) or 0, -_INT32_MAX - 1, _INT32_MAX)
    for field in ("tls_cert_file", "tls_key_file"):
        value = getattr(config, field, None)
        setattr(c, field, text(os.fspath(value) if value is not None else None))
    c.tls_fingerprint = text(getattr(config, "tls_fingerprint", None))
    return c, keep
