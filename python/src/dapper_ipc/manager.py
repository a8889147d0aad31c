"""IPCManager: the original dapper.ipc's API (docs/architecture.md) over one native manager handle.

Threads. The message handler runs on the library's reader thread, straight from the
socket read. Every library call releases the GIL while it runs, so cleanup from any
thread (the main thread, a handler, an event loop's executor) cannot deadlock with a
callback that waits for the GIL.

Ctrl-C. On the main thread, a library call that may block runs on a worker thread while
the main thread waits interruptibly (_interruptible.py). On KeyboardInterrupt the main
thread cleans the manager up (cleanup from another thread cancels connect and
wait_for_client with E_CANCELLED), waits for the worker's call to return and re-raises;
an interrupted cleanup goes on in its worker until the reader has been joined, and the
next create_listener or connect waits for it. Sends are too frequent for a hand-off each:
a send from the main thread stays on it, watched by a SendWatch (_send_watch.py) that
cleans up on SIGINT.

asyncio. The coroutines and async iterators (send_message, arecv, messages, acleanup) are
in _aio.py, a mixin over this synchronous class; recv() hands over to it on a thread with a
running loop.

Lifetime. The library calls into Python through two ctypes callbacks made once for the
whole process and never freed; they find their manager by a token (the user_data) in
``_open``, which holds every manager from create_listener/connect until cleanup. So a
manager whose reader runs is never garbage-collected under the library's feet, and a
callback that arrives for a manager already cleaned up finds nothing and returns.
At interpreter exit every open manager is cleaned up (atexit) before Python tears down.
"""

import asyncio
import atexit
import ctypes
import itertools
import json
import os
import logging
import threading

from . import _abi, _native as native
from ._aio import AsyncIPC
from ._closing import CleansUpOnExit
from ._fast import (KEEP_THREAD_STATE as _KEEP_THREAD_STATE, hot as _hot, json_dumps as _json_dumps,
                    json_loads as _json_loads, payloads as _payloads)
from ._interruptible import WAIT_SLICE as _WAIT_SLICE, blocking as _blocking, status_and_error as _status_and_error
from ._pull import END as _END, NOTHING as _NOTHING, Pull
from ._send_watch import SendWatch, needed as _watch_this_send
from ._thread_state import ReaderStates
from .config import TransportConfig
from .errors import IPCStateError, IPCTimeoutError, as_status

logger = logging.getLogger("dapper.ipc")

_CANCEL_RETRY = 0.01  # after Ctrl-C: cleanup again until the worker's call has returned
_DEFAULT_CLIENT_WAIT_MS = 10_000  # the library's default for client_wait_ms
_tokens = itertools.count(1)
_open = {}  # token -> IPCManager, from create_listener/connect until cleanup


def _on_batch_thunk(user, frames, count):
    # The reader's path: every frame of one socket read in one callback (a ctypes callback
    # costs more than the rest of a small frame's delivery).
    manager = _open_get(user)
    if manager is None:
        return
    generation = manager._reader_generation
    if manager._generation != generation:
        return  # cleanup has begun: frames that arrive meanwhile are not delivered
    ident = _get_ident()
    inside = manager._in_callback
    inside.add(ident)
    try:
        if _KEEP_THREAD_STATE and ident not in manager._kept:
            manager._states.keep(ident)
        if count == 1:
            frame = frames[0]
            manager._deliver(frame.kind, _string_at(frame.payload, frame.length))
        else:
            deliver = manager._deliver
            for kind, data in _payloads(frames, count):
                if manager._generation != generation:
                    break  # cleanup was called (by the handler, or another thread): nothing more
                deliver(kind, data)
    finally:
        if manager._retiring:
            manager._states.retire(ident)
        inside.discard(ident)  # last: cleanup() skips the states of threads in here


def _on_state_thunk(user, event, status, reason):
    manager = _open_get(user)
    if manager is None:
        return
    ident = _get_ident()
    manager._in_callback.add(ident)
    try:
        if _KEEP_THREAD_STATE and ident not in manager._kept:
            manager._states.keep(ident)
        manager._on_state(event, status, reason)
    finally:
        # A disconnect is the reader's last callback.
        manager._states.retire(ident, last=event == native.EVENT_DISCONNECTED)
        manager._in_callback.discard(ident)


_open_get = _open.get
_monotonic = __import__("time").monotonic
_get_ident = threading.get_ident
_MAIN_THREAD = threading.main_thread().ident
_string_at = ctypes.string_at
_size_t = ctypes.c_size_t


_BATCH_THUNK = native.BATCH_CB(_on_batch_thunk)  # never freed
_STATE_THUNK = native.STATE_CB(_on_state_thunk)


@atexit.register
def _cleanup_at_exit():
    # Before the interpreter tears down: no reader may call into Python after this.
    for manager in list(_open.values()):
        try:
            manager.cleanup()
        except Exception:  # pragma: no cover - exit must go on
            logger.exception("cleanup at exit failed")
    native.stop_logging()


# The reader's Python thread state is kept across callbacks (where _fast.py chose it): see _thread_state.py.


class IPCManager(AsyncIPC, CleansUpOnExit):
    """One connection: a listener (the adapter side) or a client (the launcher side).

    A listener sends commands (kind 2) by default, a client made by connect sends
    events (kind 1): the directions of docs/protocol.md. Pass kind= to choose.
    """

    def __init__(self):
        lib = native.lib()
        handle = native.Manager()
        native.check(lib.dapper_ipc_manager_create(ctypes.byref(handle)))
        self._init_state(lib, handle)

    @classmethod
    def _adopt(cls, lib, handle):
        """The manager of a session a SessionListener accepted: connected, its hello read."""
        self = cls.__new__(cls)
        self._init_state(lib, handle)
        self.hello = json.loads(native.text_result(lib.dapper_ipc_session_hello, handle).decode("utf-8"))
        self._opened(is_listener=False)
        return self

    def _init_state(self, lib, handle):
        self._lib = lib
        self._send = _hot("dapper_ipc_send")
        self._handle = handle
        self.hello = None  # a session's hello (dict), for a manager a SessionListener accepted
        self._destroyed = False
        self._token = next(_tokens)
        self._lock = threading.Lock()          # subscribers, the ended flag
        self._cleanup_lock = threading.RLock()  # cleanups from threads other than a reader
        self._pending_cleanup = None  # the Completion of a cleanup Ctrl-C left running
        self._enabled = False
        self._is_listener = False
        self._client_wait_ms = _DEFAULT_CLIENT_WAIT_MS
        self._client_arrived = False
        self._reader_started = False
        self._ended = False
        self._handler = None
        self._raw = False
        self._include_kind = False
        self._on_disconnect = None
        self._subscribers = []
        self.disconnect_reason = None
        self._in_callback = set()  # idents of threads inside one of this manager's callbacks
        self._watch = None  # the SendWatch of sends from the main thread
        self._generation = 0  # counts cleanups: a wait that outlives one was cancelled by it
        self._reader_generation = 0  # _generation when the reader started: it delivers while they match
        self._pull = None  # the pull mode's state, once recv() or messages() without a reader used it
        self._states = ReaderStates()
        self._kept = self._states.kept          # read on the per-frame path
        self._retiring = self._states.retiring

    # ---- lifecycle ----------------------------------------------------------------

    @property
    def is_enabled(self) -> bool:
        """True from create_listener/connect until cleanup."""
        return self._enabled

    @property
    def is_connected(self) -> bool:
        """True while a peer is connected."""
        if self._destroyed:
            return False
        connected = ctypes.c_int32()
        native.check(self._lib.dapper_ipc_is_connected(self._handle, ctypes.byref(connected)))
        return bool(connected.value)

    def stats(self) -> dict:
        """The manager's counters (dapper_ipc_get_stats), over its whole life: state (an
        int: 0 idle, 1 listening, 2 connected, 4 closed), frames_sent, frames_received,
        bytes_sent, bytes_received (8-byte headers included), connects, send_blocked_ns,
        last_send_ms_ago, last_receive_ms_ago (-1: never), heartbeat_rtt_us (-1: none).
        Only the host's own frames are counted, never heartbeats. Any thread."""
        if self._destroyed:
            raise IPCStateError("the manager is destroyed", native.E_INVALID_HANDLE)
        s = native.Stats()
        s.struct_size = ctypes.sizeof(s)
        native.check(self._lib.dapper_ipc_get_stats(self._handle, ctypes.byref(s)))
        return {name: getattr(s, name) for name, _ in native.Stats._fields_ if name != "struct_size"}

    @property
    def is_listener(self) -> bool:
        return self._is_listener

    def _cancel(self, done):
        """After Ctrl-C during connect, create_listener or wait_for_client: cleanup ends the
        call (again until it has returned, in case it had not started yet), then the
        manager is cleaned up as by cleanup(), on this thread."""
        while True:
            self._lib.dapper_ipc_abort(self._handle)
            if done.wait(_CANCEL_RETRY):
                break
        self._cleanup_locked(abort=True)

    @staticmethod
    def _prepare(config):
        # Every check is the library's: its status and message reach the caller.
        return native.new_config(config if config is not None else TransportConfig())

    def _opened(self, is_listener):
        self._enabled, self._is_listener = True, is_listener
        self._client_arrived = False
        self._ended = False
        self.disconnect_reason = None
        _open[self._token] = self

    def create_listener(self, config: TransportConfig = None) -> list:
        """Binds a listener now (a launcher started afterwards finds it) and returns the
        launcher arguments (--ipc ...). A client is accepted by wait_for_client or by the
        reader (start_reader); a late one waits in the backlog."""
        self._await_pending_cleanup()
        c, _keep = self._prepare(config)
        _status, error = _blocking(
            lambda: _status_and_error(self._lib.dapper_ipc_create_listener, self._handle, ctypes.byref(c)),
            self._cancel)
        if error is not None:
            raise error
        self._client_wait_ms = c.client_wait_ms if c.client_wait_ms else _DEFAULT_CLIENT_WAIT_MS
        self._opened(is_listener=True)
        return self.launcher_args

    @property
    def launcher_args(self) -> list:
        return native.launcher_args(self._lib.dapper_ipc_launcher_args, self._handle)

    @property
    def auth_token(self) -> str:
        """The token a launcher must present (listener created with require_auth=True).
        Hand it over in the DAPPER_IPC_AUTH_TOKEN environment variable, never argv."""
        return native.text_result(self._lib.dapper_ipc_auth_token, self._handle).decode("ascii")

    @property
    def tls_fingerprint(self) -> str:
        """The certificate fingerprint of a tls or wss listener, "sha256:<64 hex>" (the
        launcher arguments carry it too, after --ipc-tls-fingerprint)."""
        return native.text_result(self._lib.dapper_ipc_tls_fingerprint, self._handle).decode("ascii")

    def connect(self, config: TransportConfig) -> None:
        """Connects to a listener, retrying while nobody listens (connect_timeout, 3 s by
        default). Blocks the calling thread; IPCConnectionError if nobody came."""
        self._await_pending_cleanup()
        c, _keep = self._prepare(config)
        _status, error = _blocking(
            lambda: _status_and_error(self._lib.dapper_ipc_connect, self._handle, ctypes.byref(c)), self._cancel)
        if error is not None:
            raise error
        self._opened(is_listener=False)

    def adopt(self, read_fd: int, write_fd: int = None, *, borrow: bool = False) -> None:
        """Becomes connected over a stream this process already holds: a connected socket
        (read_fd alone, e.g. one end of socket.socketpair(): pass sock.detach(), or
        borrow=True and keep the socket) or a pipe pair (read_fd the end the peer writes,
        write_fd the end it reads). Owned descriptors (borrow=False) are the library's from
        here: closed exactly once, at cleanup, or before this raises. Borrowed ones are
        never closed by the library (cleanup still ends the stream). POSIX only."""
        self._await_pending_cleanup()
        write_fd = read_fd if write_fd is None else write_fd
        flags = _abi.ADOPT_BORROW if borrow else 0
        native.check(self._lib.dapper_ipc_adopt(self._handle, int(read_fd), int(write_fd), flags))
        self._opened(is_listener=False)

    def spawn_stdio(self, argv, **popen_kwargs):
        """The adapter side of the stdio transport: starts argv (a launcher that connects
        with transport="stdio", or "--ipc stdio" on its command line) with its stdin and
        stdout on pipes, adopts them, and returns the subprocess.Popen (whose stdin and
        stdout are None: the pipes are the library's, closed at cleanup). The child's
        stderr is inherited unless popen_kwargs says otherwise. POSIX only."""
        import subprocess

        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            process = subprocess.Popen(argv, stdin=to_child_r, stdout=from_child_w, **popen_kwargs)
        except BaseException:
            for fd in (to_child_r, to_child_w, from_child_r, from_child_w):
                os.close(fd)
            raise
        os.close(to_child_r)
        os.close(from_child_w)
        try:
            self.adopt(from_child_r, to_child_w)  # owned: closed by the library, even on failure
        except BaseException:
            process.kill()
            process.wait()
            raise
        return process

    def wait_for_client(self, timeout: float = None) -> None:
        """Blocks until a client is connected (None: no limit). IPCTimeoutError when the
        time runs out, IPCStateError before create_listener, and IPCStateError with status
        E_CANCELLED (-15) when cleanup() ran meanwhile (another thread, a signal handler).
        Returns at once on a client. Ctrl-C interrupts it (the manager is cleaned up)."""
        ms = native.timeout_ms(timeout)
        generation = self._generation
        status, error = _blocking(
            lambda: _status_and_error(self._lib.dapper_ipc_wait_for_client, self._handle, ms), self._cancel)
        if status == native.E_INVALID_STATE and self._generation != generation:
            # cleanup() ran before the library call began: it found no listener, but the
            # caller's listener was there until cleanup took it away.
            raise IPCStateError("cleanup ran while waiting for a client", native.E_CANCELLED)
        if error is not None:
            raise error

    def start_reader(self, message_handler=None, accept: bool = True, *, raw: bool = False,
                     include_kind: bool = False, on_disconnect=None) -> None:
        """Starts the reader thread; a listener without a client accepts one first.

        message_handler(message) gets each payload decoded from JSON (raw=True: the bytes,
        for callers that decode themselves); include_kind=True passes (kind, message). It
        runs on the reader thread, one frame at a time, in order; an exception in it is
        logged (logger "dapper.ipc") and the reader goes on. A payload that is not UTF-8
        JSON is logged and skipped (the stream stays in sync). on_disconnect(status,
        reason) runs on the reader thread when the peer leaves or the connection fails
        (not for cleanup). accept=False on a listener with no client yet is an error
        rather than a reader that waits for one.
        """
        if self._reader_started:
            raise IPCStateError("the reader is already running", native.E_INVALID_STATE)  # the library's words
        if not accept and self._is_listener and not self.is_connected:
            raise IPCStateError("start_reader(accept=False) needs a connected client: call wait_for_client first",
                                native.E_INVALID_STATE)
        self._handler, self._raw, self._include_kind = message_handler, raw, include_kind
        self._on_disconnect = on_disconnect
        self._reader_generation = self._generation
        native.check(self._lib.dapper_ipc_set_batch_callback(self._handle, _BATCH_THUNK, _STATE_THUNK,
                                                              ctypes.c_void_p(self._token)))
        native.check(self._lib.dapper_ipc_start_reader(self._handle))
        self._reader_started = True

    # ---- sending --------------------------------------------------------------------

    def _default_kind(self):
        # The adapter's side sends commands: a listener, or a session a SessionListener accepted.
        return native.KIND_COMMAND if self._is_listener or self.hello is not None else native.KIND_EVENT

    def send_bytes(self, payload: bytes, kind: int = None, wait_for_client: float = None) -> None:
        """Sends one frame with a payload the caller encoded; returns once the kernel has
        it. Any thread, including the handler.

        Before a client is connected it waits for one, up to wait_for_client seconds if
        given, else TransportConfig.client_wait (10 s by default; negative: no wait, and
        IPCStateError at once), then sends: IPCTimeoutError if none came, and the listener
        stays usable."""
        if wait_for_client is not None and self._is_listener and not self.is_connected:
            self.wait_for_client(wait_for_client)
        data = payload if type(payload) is bytes else bytes(payload)
        kind = self._default_kind() if kind is None else kind
        if _watch_this_send():
            status = self._watched(self._send, self._handle, kind, data, _size_t(len(data)))
        else:
            status = self._send(self._handle, kind, data, _size_t(len(data)))
        if status or native._interrupt_pending:
            native.check(status)

    def send(self, message: dict, kind: int = None, wait_for_client: float = None) -> None:
        """Sends a dict as JSON: the synchronous send, for threads without an event loop.
        Kind defaults to command (2) on a listener, event (1) on a client."""
        self.send_bytes(_json_dumps(message).encode("utf-8"), kind, wait_for_client)

    def send_many(self, messages, kind: int = None) -> None:
        """Sends several dicts, in order, in one call (dapper_ipc_send_batch): frames that
        are ready together leave in one write, several times faster than send() each, and
        no other sender's frame lands between them. On failure the exception's ``sent``
        says how many went out whole (after a send timeout, resume from there)."""
        self.send_many_bytes([_json_dumps(m).encode("utf-8") for m in messages], kind)

    def send_many_bytes(self, payloads, kind: int = None) -> None:
        """send_many for payloads the caller encoded."""
        payloads = [bytes(p) for p in payloads]  # held here: the frames point into them
        kind = self._default_kind() if kind is None else kind
        frames = (native.Frame * len(payloads))()
        for frame, payload in zip(frames, payloads):
            frame.payload = ctypes.cast(payload, ctypes.c_void_p)
            frame.length = len(payload)
            frame.kind = kind
        sent = ctypes.c_size_t()
        if _watch_this_send():
            status = self._watched(self._lib.dapper_ipc_send_batch, self._handle, frames, len(payloads),
                                   ctypes.byref(sent))
        else:
            status = self._lib.dapper_ipc_send_batch(self._handle, frames, len(payloads), ctypes.byref(sent))
        if native._interrupt_pending:
            native.raise_pending_interrupt()
        if status != native.OK:
            error = native.error_for(status)
            error.sent = sent.value
            raise error

    def _watched(self, send, *args):
        """send(*args) on the main thread, ended by Ctrl-C if it blocks: see _send_watch.py."""
        watch = self._watch
        if watch is None:
            # Ctrl-C means now: abort, not a cleanup that lingers for a peer that stopped reading.
            watch = self._watch = SendWatch(lambda: self._lib.dapper_ipc_abort(self._handle))
        try:
            watch.enter()
            return send(*args)
        except KeyboardInterrupt:
            if watch.cancelled:  # the watch closed the connection: finish the cleanup
                self._cleanup_locked(abort=True)
            raise
        finally:
            watch.exit()

    # ---- the pull mode: frames taken on the caller's thread -------------------------------

    def recv(self, timeout: float = None):
        """The next message, taken on the calling thread with no reader thread (the pull
        mode, dapper_ipc_recv). Blocking, for threaded hosts: waits up to timeout seconds
        (None: no limit) and raises IPCTimeoutError when no message came. On a thread with
        a running event loop it returns an awaitable instead, ``await manager.recv()``,
        which waits on the library's readable handle with loop.add_reader (no thread).

        A listener whose client has not arrived accepts it first. Raises
        IPCConnectionError (status E_CLOSED) once the peer left, IPCStateError while a
        reader thread runs (start_reader and recv exclude each other on one connection).
        Messages decode as in start_reader; a payload that is not UTF-8 JSON is logged and
        skipped. One thread at a time per manager."""
        try:
            loop = asyncio.get_running_loop()  # a getpid() system call: asked once per message
        except RuntimeError:
            return self._recv_blocking(timeout)
        return self._arecv(timeout, loop)

    def _pull_state(self):
        pull = self._pull
        if pull is None:
            pull = self._pull = Pull(self._lib, self._handle)
        return pull

    def _recv_blocking(self, timeout):
        pull = self._pull_state()
        on_main = _get_ident() == _MAIN_THREAD
        deadline = None if timeout is None else _monotonic() + timeout
        while True:
            if deadline is None:
                ms = -1
            else:
                ms = max(0, round((deadline - _monotonic()) * 1000))
            if on_main and (ms < 0 or ms > _WAIT_SLICE * 1000):
                ms = int(_WAIT_SLICE * 1000)  # Ctrl-C is seen between slices
            item = pull.take(ms, self._decode)
            if item is _NOTHING:
                if deadline is not None and _monotonic() >= deadline:
                    raise IPCTimeoutError(f"no message arrived within {timeout} s", native.E_TIMEOUT)
                continue
            if item is _END:
                raise pull.error
            return item

    def _decode(self, kind, data):
        # data: bytes, or a memoryview of the pull buffer (Pull.take), read before it returns.
        if self._raw:
            message = bytes(data)  # the same object for bytes
        else:
            try:
                message = _json_loads(str(data, "utf-8"))  # str: json skips its encoding guess
            except (UnicodeDecodeError, ValueError) as error:
                logger.warning("skipped a frame whose payload is not UTF-8 JSON (%s): %r", error, bytes(data[:80]))
                return _NOTHING
        return (kind, message) if self._include_kind else message

    def _publish(self, item):
        with self._lock:
            if item is _END:
                self._ended = True
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            subscriber.push(item)

    # ---- callbacks (reader thread) ------------------------------------------------------

    def _deliver(self, kind, data):
        if self._raw:
            message = data
        else:
            try:
                message = _json_loads(data.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as error:
                logger.warning("skipped a frame whose payload is not UTF-8 JSON (%s): %r", error, data[:80])
                return
        item = (kind, message) if self._include_kind else message
        handler = self._handler
        if handler is not None:
            try:
                handler(item)
            except Exception:  # the handler's bug must not stop the reader
                logger.exception("the message handler raised")
        if self._subscribers:
            self._publish(item)

    def _on_state(self, event, status, reason):
        if event != native.EVENT_DISCONNECTED:
            return
        self.disconnect_reason = (as_status(status), reason.decode("utf-8", "replace"))
        if self._on_disconnect is not None:
            try:
                self._on_disconnect(*self.disconnect_reason)
            except Exception:
                logger.exception("the disconnect handler raised")
        self._publish(_END)

    # ---- cleanup ----------------------------------------------------------------------

    def cleanup(self) -> None:
        """Closes the connection (the peer sees end-of-file) and the listener, removes the
        socket file, stops the reader and waits for it (unless called from the handler,
        where the reader ends when the handler returns). After it returns on another
        thread, no handler of this manager is running or will run. Idempotent; the
        manager can create a listener or connect again afterwards."""
        if self._destroyed:
            return
        self._generation += 1
        ident = threading.get_ident()
        if ident in self._in_callback:
            # The reader ends when this callback returns; marked before the library call so
            # a cleanup on another thread meanwhile waits for it.
            self._states.mark_retiring(ident)
            if self._pull is not None:
                self._pull.wake_all()
            status = self._lib.dapper_ipc_cleanup(self._handle)
            error = native.error_for(status) if status else None
            self._closed_down()
        else:
            # Ctrl-C leaves it running in its worker until the reader has been joined (the
            # connection is closed and the socket file removed before that).
            self._enabled = False
            error = _blocking(self._cleanup_locked, self._cleanup_goes_on, finish=True)
        if error is not None:
            raise error

    def _cleanup_goes_on(self, done):
        # Ctrl-C: the cleanup finishes in its worker; create_listener and connect wait for
        # it, so it cannot close what they open.
        self._pending_cleanup = done

    def _await_pending_cleanup(self):
        pending = self._pending_cleanup
        if pending is not None:
            while not pending.wait(_WAIT_SLICE):  # slices: Ctrl-C interrupts this wait too
                pass
            self._pending_cleanup = None

    def _cleanup_locked(self, abort=False):
        """cleanup() off the reader thread (abort: without the linger, after Ctrl-C);
        returns the exception to raise, or None."""
        with self._cleanup_lock:
            # A reader that ran cleanup in its callback is not joined by the library once
            # it has forgotten the session (see python/README.md): wait for it here, and
            # first, so a session it opened again is the one the library cleans up.
            self._states.wait_for_retiring()
            if self._pull is not None:
                self._pull.wake_all()  # before the library closes the handle the loop watches
            status = (self._lib.dapper_ipc_abort if abort else self._lib.dapper_ipc_cleanup)(self._handle)
            error = native.error_for(status) if status else None
            self._states.wait_for_retiring()
            # Every other reader of this manager has been joined: its kept state can go.
            self._states.delete_joined(self._in_callback)
            self._closed_down()
            return error

    def _closed_down(self):
        pull, self._pull = self._pull, None
        if pull is not None:
            pull.close()
        self._enabled = False
        self._reader_started = False
        _open.pop(self._token, None)
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.close()
        self._publish(_END)

    def close(self) -> None:
        """cleanup(), then release the native handle: the manager is unusable afterwards.
        Idempotent. (Dropping the last reference to a cleaned-up manager does this too.)"""
        if self._destroyed:
            return
        self.cleanup()
        self._destroyed = True
        self._lib.dapper_ipc_manager_destroy(self._handle)

    def __del__(self):
        # Only managers that are not open get here (_open holds the open ones).
        try:
            if not getattr(self, "_destroyed", True):
                self._destroyed = True
                self._lib.dapper_ipc_manager_destroy(self._handle)
        except Exception:
            pass
