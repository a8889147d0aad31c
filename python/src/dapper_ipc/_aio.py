"""The asyncio half of IPCManager: its coroutines and async iterators, as a mixin over the
synchronous class (manager.py), the way pyzmq's zmq/asyncio.py puts an asyncio socket over
its blocking one. Nothing here blocks the loop longer than a send into a full socket
buffer: waits for a client run on an executor thread, and receiving waits on the library's
readable handle with loop.add_reader (or an idle wait, see _idle_wait.py).

The mixin uses the manager's state and its synchronous helpers (_pull_state, _decode,
_recv_blocking, _default_kind, send_bytes, start_reader, cleanup, ...), which manager.py
defines.
"""

import asyncio
import collections
import ctypes
import threading

from . import _native as native
from ._fast import json_dumps as _json_dumps
from ._interruptible import status_and_error
from ._pull import END as _END, NOTHING as _NOTHING, TIMED_OUT as _TIMED_OUT
from ._send_watch import needed as _watch_needed
from .errors import IPCStateError, IPCTimeoutError

_size_t = ctypes.c_size_t


class _Subscriber:
    """One ``messages()`` iterator: the reader thread appends, the loop drains. The loop
    is woken once per burst, not once per message: call_soon_threadsafe writes to the
    loop's wake-up socket, and per message that cost more than everything else (measured:
    44,000 messages/s through messages() against 350,000 through a handler)."""

    __slots__ = ("loop", "pending", "wakeup", "_lock", "_scheduled")

    def __init__(self, loop):
        self.loop = loop
        self.pending = collections.deque()
        self.wakeup = asyncio.Event()  # touched on the loop's thread only
        self._lock = threading.Lock()
        self._scheduled = False

    def push(self, item):
        # Reader thread. Appended before the flag is read, so a wake-up already on its
        # way (flag set) will find this item when the iterator drains.
        self.pending.append(item)
        with self._lock:
            if self._scheduled:
                return
            self._scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._wake)
        except RuntimeError:
            pass  # that loop is closed

    def _wake(self):
        with self._lock:
            self._scheduled = False
        self.wakeup.set()


class AsyncIPC:
    """IPCManager's asyncio API."""

    async def send_message(self, message: dict, kind: int = None) -> None:
        """The original's coroutine. The frame is handed to the kernel inline (it blocks
        the loop only while the peer's receive buffer is full), so sends keep their order.

        On a listener whose client has not arrived yet it first waits for the client
        without blocking the loop, up to TransportConfig.client_wait (10 s by default),
        then sends: IPCTimeoutError if none came (nothing sent), IPCStateError with status
        E_CANCELLED (-15) if cleanup ran meanwhile."""
        if self._is_listener and not self._client_arrived:
            if self._client_wait_ms >= 0 and not self.is_connected:
                await self._await_client_for_send()
            # A listener serves one client: once it came, no send waits again (and the
            # per-message path makes no is_connected call).
            self._client_arrived = self.is_connected
        # send_bytes, inline: this is the request path of every adapter.
        data = _json_dumps(message).encode()
        if _watch_needed():
            self.send_bytes(data, kind)
            return
        status = self._send(self._handle, self._default_kind() if kind is None else kind, data, _size_t(len(data)))
        if status or native._interrupt_pending:
            native.check(status)

    async def _await_client_for_send(self):
        # The wait runs on an executor thread (the library accepts there), so the loop goes on.
        ms = self._client_wait_ms
        generation = self._generation
        status, error = await asyncio.get_running_loop().run_in_executor(
            None, status_and_error, self._lib.dapper_ipc_wait_for_client, self._handle, ms)
        if self._generation != generation and status in (native.E_INVALID_STATE, native.OK):
            raise IPCStateError("cleanup ran while the send waited for a client", native.E_CANCELLED)
        if status == native.E_TIMEOUT:
            raise IPCTimeoutError(f"no client connected within {ms} ms: the send waited for one "
                                  "(TransportConfig.client_wait) and sent nothing; the listener still accepts",
                                  native.E_TIMEOUT)
        if error is not None:
            raise error

    async def arecv(self, timeout: float = None):
        """``await manager.recv()`` under an unambiguous name."""
        return await self._arecv(timeout, asyncio.get_running_loop())

    async def _arecv(self, timeout, loop):
        if not native.PULL_HANDLE_SUPPORTED:  # Windows: the handle is an event, not for add_reader: a worker thread waits
            return await loop.run_in_executor(None, self._recv_blocking, timeout)
        pull = self._pull or self._pull_state()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            # Asked first, not after a trip through the loop: a response often arrives while
            # the request's send returns (the peer runs on the other CPU, or preempts the
            # sender on the same one), and then the loop is not entered at all.
            item = pull.take(0, self._decode)
            if item is _END:
                raise pull.error
            if item is not _NOTHING:
                return item
            if pull.readable_while_idle(loop, deadline):
                continue
            item = await pull.readable(self, loop, deadline, self._decode)
            if item is _TIMED_OUT:
                raise IPCTimeoutError(f"no message arrived within {timeout} s", native.E_TIMEOUT)
            if item is _END:
                raise pull.error
            if item is not _NOTHING:
                return item

    async def _await_client(self):
        """A listener without a client: wait for one on an executor thread (the loop runs on)."""
        if self._is_listener and not self.is_connected:
            generation = self._generation
            status, error = await asyncio.get_running_loop().run_in_executor(
                None, status_and_error, self._lib.dapper_ipc_wait_for_client, self._handle, -1)
            if self._generation != generation:
                raise IPCStateError("cleanup ran while waiting for a client", native.E_CANCELLED)
            if error is not None:
                raise error

    # ---- receiving into asyncio -------------------------------------------------------

    async def messages(self):
        """Async iterator over received messages, delivered into the running loop; ends
        when the peer leaves or at cleanup. Without a reader thread (nobody called
        start_reader) it takes frames on the loop's thread in the pull mode, woken by
        loop.add_reader on the library's readable handle: no thread, no hand-off (with
        reconnect=True the library's own thread reads and queues them, so that a drop is
        resumed). With a reader running, the reader hands each message to the loop (only
        messages received after the iterator started)."""
        if self._reader_started or not self._enabled or not native.PULL_HANDLE_SUPPORTED:
            async for item in self._reader_messages():
                yield item
            return
        # The pull mode, in this one generator (a nested one would cost per message).
        loop = asyncio.get_running_loop()
        pull = self._pull_state()
        take, decode = pull.take, self._decode
        while True:
            item = take(0, decode)
            if item is _NOTHING:
                if pull.readable_while_idle(loop, None):
                    continue
                try:
                    item = await pull.readable(self, loop, None, decode)
                except IPCStateError:
                    return  # cleanup ran
                if item is _NOTHING:
                    continue
            if item is _END:
                if pull.error is not None and pull.error.status == native.E_CLOSED:
                    self.disconnect_reason = (native.OK, str(pull.error))
                return
            yield item

    async def _reader_messages(self):
        subscriber = _Subscriber(asyncio.get_running_loop())
        with self._lock:
            self._subscribers.append(subscriber)
            ended = self._ended
        try:
            if ended:
                return
            if not self._reader_started:
                self.start_reader(None)
            pending = subscriber.pending
            while True:
                while pending:
                    item = pending.popleft()
                    if item is _END:
                        return
                    yield item
                subscriber.wakeup.clear()
                if not pending:  # anything pushed after the drain has scheduled a wake-up
                    await subscriber.wakeup.wait()
        finally:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

    async def acleanup(self) -> None:
        """cleanup() off the event loop (it waits for the reader, which may be delivering
        into this very loop)."""
        await asyncio.get_running_loop().run_in_executor(None, self.cleanup)
