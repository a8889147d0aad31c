"""The pull mode of one connection (dapper_ipc_recv_batch): frames taken on the caller's
thread, or on an event loop's thread woken by the library's readable handle. No reader
thread and no hand-off between threads."""

import asyncio
import collections
import ctypes

from . import _native as native
from ._fast import IdleWait, first_frame, hot, payloads
from .errors import IPCStateError

END = object()
NOTHING = object()  # no whole frame within the wait (or every frame taken was skipped)
TIMED_OUT = object()  # a wait on the readable handle reached its deadline

_BUFFER = 64 * 1024  # the first receive buffer; grows for a larger frame
_FRAMES = 512  # frames described per call: a 64 KiB read of 128-byte frames is about 480
_MAX_FRAMES = ctypes.c_size_t(_FRAMES)  # the exact C type: _fast.hot calls may be unprototyped


class Pull:
    """One connection's pull state. Used by one thread (or loop) at a time.

    A call takes every whole frame the library holds (one foreign call per burst, not per
    frame: that call costs more than the library's work on a frame); the frames not handed
    out yet wait in ``pending``, which callers drain before they wait. The readable handle
    says nothing about ``pending``: it reflects what the library still holds."""

    __slots__ = ("_recv", "_handle", "_buf", "_view", "_cap", "_frames", "_rows", "_count", "_count_ref", "pending",
                 "error", "_fd", "_loop", "_waiter", "_decode", "_idle_wakes", "_closed", "_idle")

    def __init__(self, lib, handle):
        self._recv = hot("dapper_ipc_recv_batch")
        self._handle = handle
        self._cap = ctypes.c_size_t(_BUFFER)
        self._buf = ctypes.create_string_buffer(_BUFFER)
        self._view = memoryview(self._buf).cast("B")
        self._frames = (native.Frame * _FRAMES)()
        self._rows = memoryview(self._frames).cast("B")
        self._count = ctypes.c_size_t()
        self._count_ref = ctypes.byref(self._count)
        self.pending = collections.deque()  # (kind, payload) taken from the library, not handed out
        self.error = None
        self._fd = None
        self._loop = None
        self._waiter = None
        self._decode = None
        self._idle_wakes = 0
        self._closed = False
        self._idle = IdleWait()

    def take(self, ms, decode):
        """decode(kind, payload) of the next frame, NOTHING when none came within ms (or
        every frame that came was skipped), END once the stream is over (self.error says
        why). payload is bytes, or a memoryview of the receive buffer valid only during
        decode (which must copy what it keeps)."""
        pending = self.pending
        while pending:
            item = decode(*pending.popleft())
            if item is not NOTHING:
                return item
        if self.error is not None:
            return END
        while True:
            status = self._recv(self._handle, self._buf, self._cap, self._frames, _MAX_FRAMES, self._count_ref, ms)
            if status == 0:
                break
            if status == native.E_TIMEOUT:
                return NOTHING
            if status == native.E_BUFFER_TOO_SMALL:
                self._cap = ctypes.c_size_t(self._frames[0].length)
                self._buf = ctypes.create_string_buffer(self._cap.value)
                self._view = memoryview(self._buf).cast("B")
                continue
            if status in (native.E_INVALID_STATE, native.E_INVALID_ARGUMENT, native.E_UNSUPPORTED,
                          native.E_INVALID_HANDLE):
                if self._closed:
                    # A wait that cleanup on another thread ended: the library has already
                    # forgotten the session when the woken caller takes again.
                    raise IPCStateError("cleanup ran while waiting for a message", native.E_CANCELLED)
                raise native.error_for(status)  # a misuse: the stream is not over
            error = native.error_for(status)
            self.error = error
            return END
        count = self._count.value
        if count == 1:  # a request's response: no list, no deque
            return decode(*first_frame(self._frames, self._rows, self._view))
        pending.extend(payloads(self._frames, count))
        while pending:
            item = decode(*pending.popleft())
            if item is not NOTHING:
                return item
        return NOTHING

    def readable_while_idle(self, loop, deadline):
        """True when the readable handle became readable while the loop had nothing else to
        do (take again); False: await readable() (see _idle_wait.py; never with the plain path)."""
        return self._fd is not None and not self._closed and self._idle.readable(loop, self._fd, deadline)

    async def readable(self, manager, loop, deadline, decode):
        """Waits on the readable handle; the loop's callback takes the frame itself (so a
        wake-up that came before the last frame was taken costs no task step). Returns the
        message, END, NOTHING (woken without one: take again) or TIMED_OUT after the
        deadline (a loop.time()). Raises IPCStateError (E_CANCELLED) when cleanup ran."""
        if self._closed:
            raise IPCStateError("cleanup ran while waiting for a message", native.E_CANCELLED)
        if self._fd is None:
            handle = ctypes.c_ssize_t()
            status = manager._lib.dapper_ipc_readable_handle(self._handle, ctypes.byref(handle))
            if status == native.E_NOT_CONNECTED and manager._is_listener:
                await manager._await_client()
                return NOTHING
            native.check(status)
            self._fd = handle.value
        if self._loop is not loop:
            if self._loop is not None:
                self._loop.remove_reader(self._fd)
            self._loop = None
        waiter = self._waiter = loop.create_future()
        self._decode = decode
        if self._loop is None:
            loop.add_reader(self._fd, self._on_readable)
            self._loop = loop
        self._idle_wakes = 0
        try:
            if deadline is None:
                item = await waiter
            else:
                item = await asyncio.wait_for(waiter, max(0.0, deadline - loop.time()))
        except asyncio.TimeoutError:
            return TIMED_OUT
        finally:
            self._waiter = None
        if self._closed:
            raise IPCStateError("cleanup ran while waiting for a message", native.E_CANCELLED)
        return item

    def _on_readable(self):
        # The loop's thread. The handle is level-triggered and stays registered between
        # waits (no epoll_ctl per message), unless it fires twice with nobody waiting.
        waiter = self._waiter
        if waiter is None or waiter.done():
            self._idle_wakes += 1
            if self._idle_wakes >= 2 and self._loop is not None:
                self._loop.remove_reader(self._fd)
                self._loop = None
            return
        self._idle_wakes = 0
        try:
            item = self.take(0, self._decode)
        except BaseException as error:  # a misuse status: the waiting task raises it
            waiter.set_exception(error)
            return
        if item is not NOTHING:  # NOTHING: part of a frame, or a wake-up already served
            waiter.set_result(item)

    def wake_all(self):
        """Before cleanup closes the handle: stop watching it and wake a waiting task. Any thread."""
        self._closed = True
        # A task in an idle wait polls the handle, which does not wake when another thread
        # closes it: the loop's self-pipe does (its byte stays until the loop reads it, so a
        # wait that begins after this returns at once too).
        self._idle.wake()
        loop = self._loop
        if loop is None:
            return

        def stop():
            if self._loop is not None:
                try:
                    self._loop.remove_reader(self._fd)
                except (ValueError, OSError):
                    pass
                self._loop = None
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(NOTHING)
        try:
            if _loop_thread_is_current(loop):
                stop()
            else:
                loop.call_soon_threadsafe(stop)
        except RuntimeError:
            pass  # that loop is closed

    def close(self):
        self.wake_all()


def _loop_thread_is_current(loop):
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


