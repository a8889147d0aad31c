"""Ctrl-C for a send that blocks the main thread.

A send blocks while the peer does not read (up to send_timeout, 30 s by default), inside
one library call, where Python cannot run its SIGINT handler. Handing every send from
the main thread to a worker, as the rarer blocking calls are, would cost more than the
send (about 140 µs a hand-off here, against a few µs). Instead, while the main thread is
inside a send, the signal module's wakeup fd is this watch's socket: CPython's C-level
signal handler writes each signal's number there, from whichever thread the signal
lands on. The watch's thread reads it; for SIGINT with Python's default handler (the
one that raises KeyboardInterrupt), it cleans the manager up, which ends the send
(E_CLOSED), and KeyboardInterrupt is raised in the caller as the call returns. Every
byte is passed on to the wakeup fd that was set before (an asyncio loop's), so nothing
is taken from it. Cost on the main thread: two set_wakeup_fd calls per send (~1.6 µs).
POSIX only; one watch (a socket pair and a thread) per manager that sends from the main
thread, from its first such send until its cleanup.
"""

import os
import signal
import socket
import threading

from ._fast import getsignal as _getsignal

_get_ident = threading.get_ident
_MAIN_THREAD = threading.main_thread().ident
_WATCH_SENDS = os.name == "posix"
_SIGINT, _DEFAULT_INT_HANDLER = signal.SIGINT, signal.default_int_handler


def needed():
    # Only Python's default SIGINT handler raises KeyboardInterrupt, which the watch turns
    # into a cleanup; under another (asyncio.run's cancels the main task once the send
    # returns) the watch would only pass the signal on, so it costs 2-3 µs for nothing.
    return _get_ident() == _MAIN_THREAD and _WATCH_SENDS and _getsignal(_SIGINT) is _DEFAULT_INT_HANDLER


class SendWatch:
    def __init__(self, cancel):
        self._cancel = cancel              # ends the send: the manager's library cleanup
        self._read, self._write = socket.socketpair()
        self._write.setblocking(False)     # set_wakeup_fd wants a non-blocking fd
        self._lock = threading.Lock()
        self._previous = []                # [the wakeup fd in place before this send]
        self._sending = False
        self._closing = False
        self.cancelled = False             # a SIGINT ended the send
        self._thread = threading.Thread(target=self._run, name="dapper-ipc-send-watch", daemon=True)
        self._thread.start()

    def enter(self):
        """On the main thread (set_wakeup_fd's rule), before the send. Call exit() after,
        also when this raises."""
        with self._lock:
            if self._closing:
                return
            self._sending, self.cancelled = True, False
            del self._previous[:]
            # extend(map(...)) stores the old fd inside one C call: a KeyboardInterrupt
            # raised as that call returns cannot lose it.
            self._previous.extend(map(signal.set_wakeup_fd, (self._write.fileno(),)))

    def exit(self):
        with self._lock:
            if not self._sending:
                return
            self._sending = False
            if self._previous:
                signal.set_wakeup_fd(self._previous[0])
            closing = self._closing
        if closing:  # close() left the socket open while it was the wakeup fd
            self._write.close()

    def _run(self):
        while True:
            try:
                data = self._read.recv(512)
            except OSError:
                return
            if not data:
                return  # close()
            with self._lock:
                previous = self._previous[0] if self._previous else -1
                sending = self._sending
            if previous >= 0:
                try:
                    os.write(previous, data)
                except OSError:
                    pass
            if sending and signal.SIGINT in data and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                self.cancelled = True
                self._cancel()

    def close(self):
        """Stops the watch's thread and closes its sockets; any thread but the watch's."""
        with self._lock:
            self._closing = True
            close_write = not self._sending  # else exit() closes it, once it is no wakeup fd
        self._read.shutdown(socket.SHUT_RDWR)
        self._thread.join()
        self._read.close()
        if close_write:
            self._write.close()
