"""SessionListener: one shared endpoint for many subprocess launchers, each routed by its hello.

    listener = SessionListener()
    args = listener.create_listener(TransportConfig())     # every child launcher gets these
    listener.expect("child-1")                               # then start the child with
    manager = listener.accept("child-1", timeout=10.0)     # --session-id child-1 ...
    manager.hello        # {"event": "dapper/sessionHello", "body": {"sessionId": ..., ...}}
    manager.send({...}); manager.start_reader(handler)      # IPCManager's API

Each accepted session is an IPCManager (sending commands by default, as a listener does):
start_reader, send, send_message, messages(), recv, cleanup, ... work on it. The library
reads each client's first frame on a thread of its own within hello_timeout and
max_hello_size, and refuses (closes and logs, on the "dapper.ipc.native" logger) a late,
too large, malformed, unknown or duplicate hello without disturbing the other sessions.
cleanup() ends every session the listener accepted.
"""

import asyncio
import ctypes
import json
import logging
import threading
import time

from . import _native as native
from ._closing import CleansUpOnExit
from .config import TransportConfig
from .errors import IPCTimeoutError
from .manager import IPCManager

logger = logging.getLogger("dapper.ipc")
_SLICE_MS = 50  # the main thread's longest uninterruptible wait in accept


class SessionListener(CleansUpOnExit):
    """A session listener (dapper_ipc_session_listener_*): bind once, expect session ids,
    accept each as an IPCManager. Usable as a context manager (cleanup on exit)."""

    def __init__(self, hello_timeout: float = None, max_hello_size: int = None, offer=None):
        """hello_timeout: seconds a client may take from its connect to its whole hello (5 by
        default); max_hello_size: the largest hello payload in bytes (16384 by default).
        offer: see set_offer_callback."""
        self._lib = native.lib()
        self._handle = native.SessionListener()
        native.check(self._lib.dapper_ipc_session_listener_create(ctypes.byref(self._handle)))
        self._destroyed = False
        self._lock = threading.Lock()
        self._accepted = []  # the managers handed out: cleanup() finishes their Python side
        self._offer = None
        self._offer_thunk = None  # kept alive while the library may call it
        if hello_timeout is not None or max_hello_size is not None:
            # The library checks the ranges; here only what its int32/uint32 cannot carry.
            if hello_timeout is not None and not hello_timeout > 0:
                raise native._invalid(f"hello_timeout must be above 0 seconds (got {hello_timeout!r})")
            if max_hello_size is not None and not (isinstance(max_hello_size, int) and 0 < max_hello_size < 2**32):
                raise native._invalid(f"max_hello_size must be a positive number of bytes (got {max_hello_size!r})")
            ms = 0 if hello_timeout is None else native._seconds_to_ms("hello_timeout", hello_timeout, 1)
            native.check(self._lib.dapper_ipc_session_listener_set_hello_limits(
                self._handle, ms, max_hello_size or 0))
        if offer is not None:
            self.set_offer_callback(offer)

    def create_listener(self, config: TransportConfig = None) -> list:
        """Binds the shared endpoint (the same defaults and security as
        IPCManager.create_listener: a unix socket, or a named pipe on Windows; or tcp) and starts accepting. Returns the launcher
        arguments every child gets (plus its own --session-id and --parent-session-id)."""
        c, _keep = native.new_config(config if config is not None else TransportConfig())
        native.check(self._lib.dapper_ipc_session_listener_listen(self._handle, ctypes.byref(c)))
        return self.launcher_args

    @property
    def launcher_args(self) -> list:
        return native.launcher_args(self._lib.dapper_ipc_session_listener_launcher_args, self._handle)

    @property
    def auth_token(self) -> str:
        """The token every child presents before its hello (require_auth=True): hand it over
        in the DAPPER_IPC_AUTH_TOKEN environment variable, never argv."""
        return native.text_result(self._lib.dapper_ipc_session_listener_auth_token, self._handle).decode("ascii")

    def expect(self, session_id: str) -> None:
        """Announces a session id before its child starts: its hello is routed here, once.
        IPCStateError if the id is expected or connected already."""
        native.check(self._lib.dapper_ipc_session_listener_expect(self._handle, session_id.encode("utf-8")))

    def accept(self, session_id: str, timeout: float = None) -> IPCManager:
        """Waits up to timeout seconds (None: no limit) for the session's child and returns
        an IPCManager that owns its connection, with .hello the hello as a dict.
        IPCTimeoutError when it did not come; IPCStateError for an id not expected (without
        an offer callback) or already accepted, and with status E_CANCELLED (-15) when
        cleanup() ran meanwhile. On the main thread it waits in slices, so Ctrl-C
        interrupts it."""
        out = native.Manager()
        sid = session_id.encode("utf-8")
        deadline = None if timeout is None else time.monotonic() + timeout
        on_main = threading.current_thread() is threading.main_thread()
        while True:
            ms = -1 if deadline is None else native.timeout_ms(max(0.0, deadline - time.monotonic()))
            if on_main and (ms < 0 or ms > _SLICE_MS):
                ms = _SLICE_MS  # Ctrl-C is seen between slices: nothing is taken by a wait that ends
            status = self._lib.dapper_ipc_session_listener_accept(self._handle, sid, ms, ctypes.byref(out))
            if status != native.E_TIMEOUT or (deadline is not None and time.monotonic() >= deadline):
                break
        if status == native.E_TIMEOUT:
            # The library's words, for the whole wait (its own would name the last slice).
            raise IPCTimeoutError(f"session '{session_id}' did not connect within {native.timeout_ms(timeout)} ms",
                                  status)
        native.check(status)
        manager = IPCManager._adopt(self._lib, out)
        with self._lock:
            self._accepted = [m for m in self._accepted if m.is_enabled]
            self._accepted.append(manager)
        return manager

    async def aaccept(self, session_id: str, timeout: float = None) -> IPCManager:
        """accept() for asyncio: the wait runs on an executor thread, so the loop goes on. A
        cancelled aaccept closes the manager its accept still returns."""
        future = asyncio.get_running_loop().run_in_executor(None, self.accept, session_id, timeout)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            future.add_done_callback(_close_unclaimed)
            raise

    def set_offer_callback(self, offer) -> None:
        """offer(hello: dict) -> bool is asked about each hello whose session id nobody
        expected, on the library's thread that read it (several may run at once): True
        accepts the session (accept(session_id) then returns it; while a callback is set,
        accept waits for ids nobody expected), False refuses it. An exception refuses it
        and is logged. None removes the callback (unexpected ids are refused)."""
        if offer is None:
            native.check(self._lib.dapper_ipc_session_listener_set_offer_callback(self._handle, native.OFFER_CB(),
                                                                                  None))
            self._offer = None
            return

        def thunk(_user, _session_id, hello, length):
            try:
                return 1 if offer(json.loads(ctypes.string_at(hello, length).decode("utf-8"))) else 0
            except Exception:  # the host's bug refuses the session; it must not reach C
                logger.exception("the session offer callback raised; the session is refused")
                return 0

        callback = native.OFFER_CB(thunk)
        native.check(self._lib.dapper_ipc_session_listener_set_offer_callback(self._handle, callback, None))
        # The previous thunk stays referenced too: a hello being offered may still be in it.
        self._offer, self._offer_thunk = offer, (callback, self._offer_thunk)

    def cleanup(self) -> None:
        """Closes the endpoint (and removes its socket file), refuses the hellos still coming,
        and ends every session it accepted (their lingers run side by side). Idempotent;
        the listener is unusable afterwards."""
        if self._destroyed:
            return
        self._destroyed = True
        status = self._lib.dapper_ipc_session_listener_destroy(self._handle)
        with self._lock:
            accepted, self._accepted = self._accepted, []
        for manager in accepted:
            manager.cleanup()  # the library has ended the session: this finishes the Python side
        native.check(status)

    async def acleanup(self) -> None:
        """cleanup() off the event loop (it waits for the sessions' readers)."""
        await asyncio.get_running_loop().run_in_executor(None, self.cleanup)

    def __del__(self):
        try:
            if not getattr(self, "_destroyed", True):
                self._destroyed = True
                self._lib.dapper_ipc_session_listener_destroy(self._handle)
        except Exception:
            pass


def _close_unclaimed(future):
    if not future.cancelled() and future.exception() is None:
        future.result().close()
