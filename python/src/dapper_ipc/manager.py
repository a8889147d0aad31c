"""IPCManager: the design document's API over one native manager handle.

Threads: the message handler runs on the library's reader thread, straight from the
socket read. Every ctypes call releases the GIL, so cleanup from any thread (the main
thread, a handler, an event loop) cannot deadlock with a handler waiting for the GIL.
"""

import asyncio
import atexit
import ctypes
import json
import logging
import threading
import weakref

from . import _native as native
from .config import TransportConfig
from .errors import IPCStateError

logger = logging.getLogger("dapper.ipc")

_END = object()
_live = weakref.WeakSet()

# ctypes gives a native thread a fresh Python thread state for every callback and throws it
# away afterwards; for a reader thread calling back per frame that costs more than all else
# (measured: 38k messages/s, against 424k with the state kept). The reader's state is kept
# from its first callback and deleted by cleanup() once the native reader has been joined.
_api = ctypes.pythonapi
_api.PyGILState_Ensure.restype = ctypes.c_int
_api.PyGILState_GetThisThreadState.restype = ctypes.c_void_p
_api.PyThreadState_Clear.argtypes = [ctypes.c_void_p]
_api.PyThreadState_Delete.argtypes = [ctypes.c_void_p]


@atexit.register
def _cleanup_at_exit():
    # Before the interpreter tears down: no native reader may call into Python after this.
    for manager in list(_live):
        manager.close()


class IPCManager:
    """One connection: a listener (the adapter side) or a client (the launcher side)."""

    def __init__(self):
        self._lib = native.lib()
        self._handle = native.Manager()
        native.check(self._lib.dapper_ipc_manager_create(ctypes.byref(self._handle)))
        self._lock = threading.Lock()
        self._enabled = False
        self._is_listener = False
        self._reader_started = False
        self._handler = None
        self._raw = False
        self._include_kind = False
        self._on_disconnect = None
        self._subscribers = []
        self.disconnect_reason = None
        self._reader_state = None  # (thread ident, PyThreadState*) kept for the reader thread
        # The library calls these from its reader thread: they live as long as the handle.
        self._message_cb = native.MESSAGE_CB(self._on_message)
        self._state_cb = native.STATE_CB(self._on_state)
        self._closed = False
        _live.add(self)

    # ---- lifecycle ------------------------------------------------------------

    @property
    def is_enabled(self) -> bool:
        """True from create_listener/connect until cleanup."""
        return self._enabled

    @property
    def is_connected(self) -> bool:
        connected = ctypes.c_int32()
        if self._closed:
            return False
        native.check(self._lib.dapper_ipc_is_connected(self._handle, ctypes.byref(connected)))
        return bool(connected.value)

    def create_listener(self, config: TransportConfig = None) -> list:
        """Binds a listener now and returns the launcher arguments (--ipc ...)."""
        c, _keep = native.new_config(config or TransportConfig())
        native.check(self._lib.dapper_ipc_create_listener(self._handle, ctypes.byref(c)))
        self._enabled, self._is_listener = True, True
        return self.launcher_args

    @property
    def launcher_args(self) -> list:
        length, argc = ctypes.c_size_t(), ctypes.c_int32()
        status = self._lib.dapper_ipc_launcher_args(self._handle, None, 0, ctypes.byref(length), ctypes.byref(argc))
        if status != native.E_BUFFER_TOO_SMALL:
            native.check(status)
        buf = ctypes.create_string_buffer(length.value)
        native.check(self._lib.dapper_ipc_launcher_args(self._handle, buf, len(buf), None, None))
        return [a.decode("utf-8") for a in buf.raw[: length.value].split(b"\0")[: argc.value]]

    @property
    def auth_token(self) -> str:
        """The token a launcher must present (listener created with require_auth=True).
        Hand it over in the DAPPER_IPC_AUTH_TOKEN environment variable, never argv."""
        length = ctypes.c_size_t()
        buf = ctypes.create_string_buffer(128)
        native.check(self._lib.dapper_ipc_auth_token(self._handle, buf, len(buf), ctypes.byref(length)))
        return buf.value.decode("ascii")

    def connect(self, config: TransportConfig) -> None:
        """Connects to a listener, retrying while nobody listens (3 s by default)."""
        c, _keep = native.new_config(config)
        native.check(self._lib.dapper_ipc_connect(self._handle, ctypes.byref(c)))
        self._enabled, self._is_listener = True, False

    def wait_for_client(self, timeout: float = None) -> None:
        """Blocks until a client is connected (None: no limit); IPCTimeoutError otherwise."""
        ms = -1 if timeout is None else max(0, int(timeout * 1000))
        native.check(self._lib.dapper_ipc_wait_for_client(self._handle, ms))

    def start_reader(self, message_handler=None, accept: bool = True, *, raw: bool = False,
                     include_kind: bool = False, on_disconnect=None) -> None:
        """Starts the reader thread; it accepts first when this is a listener without a client.

        message_handler(message) gets each payload decoded from JSON (raw=True: the bytes);
        include_kind=True passes (kind, message). It runs on the reader thread; an exception
        in it is logged and the reader goes on. on_disconnect(status, reason) runs when the
        peer leaves or the connection fails. accept=False with no client yet is an error,
        as the reader would otherwise wait for one.
        """
        if not accept and self._is_listener and not self.is_connected:
            raise IPCStateError("start_reader(accept=False) needs a connected client: call wait_for_client first")
        self._handler, self._raw, self._include_kind = message_handler, raw, include_kind
        self._on_disconnect = on_disconnect
        native.check(self._lib.dapper_ipc_set_callbacks(self._handle, self._message_cb, self._state_cb, None))
        native.check(self._lib.dapper_ipc_start_reader(self._handle))
        self._reader_started = True

    # ---- sending ----------------------------------------------------------------

    def _default_kind(self):
        return native.KIND_COMMAND if self._is_listener else native.KIND_EVENT

    def send_bytes(self, payload: bytes, kind: int = None, wait_for_client: float = None) -> None:
        """Sends one frame with a payload the caller encoded. Returns once the kernel has it.

        Before a client is connected this raises IPCStateError and the listener stays
        usable, unless wait_for_client gives a number of seconds to wait for one first.
        """
        if wait_for_client is not None and self._is_listener and not self.is_connected:
            self.wait_for_client(wait_for_client)
        data = bytes(payload)
        native.check(self._lib.dapper_ipc_send(self._handle, kind or self._default_kind(), data, len(data)))

    def send(self, message: dict, kind: int = None, wait_for_client: float = None) -> None:
        """Sends a dict as JSON. Kind defaults to command (2) on a listener, event (1) on a client."""
        self.send_bytes(json.dumps(message).encode("utf-8"), kind, wait_for_client)

    async def send_message(self, message: dict, kind: int = None) -> None:
        """The original's coroutine. The write is a hand-off to the kernel, made inline."""
        self.send(message, kind)

    # ---- receiving into asyncio ----------------------------------------------------

    async def messages(self):
        """Async iterator over received messages, delivered into the running loop
        (call_soon_threadsafe). Starts the reader if nobody has; ends at disconnect or cleanup."""
        loop = asyncio.get_running_loop()
        queue = asyncio.Queue()
        subscriber = (loop, queue)
        with self._lock:
            self._subscribers.append(subscriber)
        try:
            if not self._reader_started:
                self.start_reader(None)
            while True:
                item = await queue.get()
                if item is _END:
                    return
                yield item
        finally:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

    def _publish(self, item):
        with self._lock:
            subscribers = list(self._subscribers)
        for loop, queue in subscribers:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:
                pass  # that loop is closed

    # ---- callbacks (reader thread) ----------------------------------------------------

    def _keep_thread_state(self):
        if self._reader_state is None:
            _api.PyGILState_Ensure()  # one more hold: the state now outlives each callback
            self._reader_state = (threading.get_ident(), _api.PyGILState_GetThisThreadState())

    def _release_thread_state(self):
        """After the native reader has been joined: its kept thread state can go."""
        kept, self._reader_state = self._reader_state, None
        if kept is None:
            return
        ident, state = kept
        if ident == threading.get_ident():
            self._reader_state = kept  # cleanup from inside a callback: the thread still runs
            return
        _api.PyThreadState_Clear(state)
        _api.PyThreadState_Delete(state)

    def _on_message(self, _user, kind, payload, length):
        if self._reader_state is None:
            self._keep_thread_state()
        data = ctypes.string_at(payload, length)
        if self._raw:
            message = data
        else:
            try:
                message = json.loads(data.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as error:
                logger.warning("dropped a frame whose payload is not UTF-8 JSON (%s): %r", error, data[:80])
                return
        if self._handler is not None:
            try:
                self._handler((kind, message) if self._include_kind else message)
            except Exception:  # the handler's bug must not stop the reader
                logger.exception("the message handler raised")
        if self._subscribers:
            self._publish((kind, message) if self._include_kind else message)

    def _on_state(self, _user, event, status, reason):
        if self._reader_state is None:
            self._keep_thread_state()
        if event != native.EVENT_DISCONNECTED:
            return
        self.disconnect_reason = (status, reason.decode("utf-8", "replace"))
        if self._on_disconnect is not None:
            try:
                self._on_disconnect(*self.disconnect_reason)
            except Exception:
                logger.exception("the disconnect handler raised")
        self._publish(_END)

    # ---- cleanup ----------------------------------------------------------------------

    def cleanup(self) -> None:
        """Closes the connection (the peer sees end-of-file) and the listener, removes the
        socket file, stops the reader. Idempotent; safe from inside the handler."""
        if self._closed:
            return
        native.check(self._lib.dapper_ipc_cleanup(self._handle))
        self._release_thread_state()
        self._enabled = False
        self._reader_started = False
        self._publish(_END)

    async def acleanup(self) -> None:
        # cleanup waits for the reader to finish its callback; do not hold the loop meanwhile.
        await asyncio.get_running_loop().run_in_executor(None, self.cleanup)

    def close(self) -> None:
        """cleanup, then release the native handle. Idempotent."""
        if self._closed:
            return
        self.cleanup()
        self._closed = True
        self._lib.dapper_ipc_manager_destroy(self._handle)
        _live.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.acleanup()
        self.close()
