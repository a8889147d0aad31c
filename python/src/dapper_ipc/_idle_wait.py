"""Waiting for a response without two trips through an idle event loop.

A task that awaits recv() on a loop with nothing else to do would make the loop block in
its selector until an fd is ready or a timer is due; then one loop iteration runs the
readable handle's callback, which resolves a future, and a second runs the task again:
about half of the Python work of an adapter's round trip. When the loop has nothing else
to do (no callback ready, not stopping), the task blocks instead, in poll() on two fds:
the library's readable handle and the loop's own selector (an epoll or kqueue fd, readable
when any fd the loop watches is ready, the self-pipe that call_soon_threadsafe and
signal wake-ups write to included), for no longer than the earliest timer. If the
handle became readable the frame is taken at once; anything else and the loop takes over
as usual, so no other task waits longer than it would have.

It reads asyncio's selector loop internals (_ready, _scheduled, _stopping, _selector),
which every CPython since 3.4 has; a loop without them (uvloop, the Windows Proactor
loop) or in debug mode (a blocked step would be reported as slow) takes the ordinary path,
and so does macOS for now (its poll() on a kqueue fd has not been run). _fast.py uses it
only when check() finds those internals on a new selector loop, and loop.add_reader alone
otherwise.
"""

import asyncio
import math
import select
import sys

_POLLIN = getattr(select, "POLLIN", 1)


def _nothing():
    pass


def check():
    """Raises unless this platform and asyncio's selector loop have what readable() reads."""
    if not sys.platform.startswith("linux"):
        raise RuntimeError("poll() on an epoll fd is what was run; not on " + sys.platform)
    select.poll  # noqa: B018 - an AttributeError here: no poll()
    loop = asyncio.SelectorEventLoop()
    try:
        timer = loop.call_later(3600, _nothing)
        if not (isinstance(loop._selector.fileno(), int) and len(loop._ready) == 0 and loop._stopping is False
                and isinstance(loop._debug, bool) and loop._scheduled[0]._when == timer.when()):
            raise RuntimeError("asyncio's selector loop keeps its state differently")
        timer.cancel()
    finally:
        loop.close()


class IdleWait:
    """One connection's wait; used by the loop's thread only."""

    __slots__ = ("_loop", "_fd", "_poll")

    def __init__(self):
        self._loop = None
        self._fd = None
        self._poll = None

    def readable(self, loop, fd, deadline):
        """True when fd became readable while the loop had nothing else to do; False when
        the loop has work (or a timer or the deadline, a loop.time(), is due): await the
        ordinary way."""
        if loop is not self._loop or fd != self._fd:
            self._attach(loop, fd)
        if self._poll is None or loop._ready or loop._stopping or loop._debug:
            return False
        timeout = None
        scheduled = loop._scheduled
        if scheduled or deadline is not None:
            now = loop.time()
            if scheduled:
                timeout = scheduled[0]._when - now  # may be a cancelled timer: then it just wakes early
            if deadline is not None and (timeout is None or deadline - now < timeout):
                timeout = deadline - now
            if timeout <= 0:
                return False
            timeout = math.ceil(timeout * 1000)
        for ready, _events in self._poll.poll(timeout):
            if ready == fd:
                return True
        return False

    def wake(self):
        """Ends a wait in progress (any thread): the loop's selector becomes readable."""
        loop = self._loop
        if self._poll is not None:
            try:
                loop.call_soon_threadsafe(_nothing)
            except RuntimeError:
                pass  # that loop is closed

    def _attach(self, loop, fd):
        self._loop, self._fd, self._poll = loop, fd, None
        if not sys.platform.startswith("linux"):
            return  # poll() on an epoll fd is what was run; macOS's poll() and a kqueue fd were not
        try:
            selector = loop._selector.fileno()  # epoll and kqueue selectors have one
            loop._ready, loop._scheduled, loop._stopping, loop._debug  # noqa: B018 - the internals used
        except AttributeError:
            return
        if isinstance(selector, int) and selector >= 0 and hasattr(select, "poll"):
            self._poll = select.poll()
            self._poll.register(fd, _POLLIN)
            self._poll.register(selector, _POLLIN)
