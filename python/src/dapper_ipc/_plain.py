"""The plain path: what every shortcut in _fast.py falls back to, with public APIs only.

Slower (see bench/README.md's plain row), never broken by a new CPython: json.loads and
json.dumps, prototyped ctypes calls, ctypes' own field access to read frames, signal's own
getsignal, a foreign-thread callback that gets a fresh Python thread state each time (as
ctypes gives it), and an await on the readable handle through loop.add_reader alone.
"""

import ctypes
import json
import signal

from . import _native as native

json_loads = json.loads
json_dumps = json.dumps
getsignal = signal.getsignal
KEEP_THREAD_STATE = False
_string_at = ctypes.string_at


def hot(name):
    """The export as _native declared it (argtypes checked on each call)."""
    return getattr(native.lib(), name)


def payloads(frames, count):
    """[(kind, payload as bytes)] for frames[0 .. count)."""
    return [(frame.kind, _string_at(frame.payload, frame.length)) for frame in frames[:count]]


def first_frame(frames, _rows, _view):
    """(kind, payload as bytes) of frames[0]."""
    frame = frames[0]
    return frame.kind, _string_at(frame.payload, frame.length)


class IdleWait:
    """Never waits itself: the task awaits the readable handle through loop.add_reader."""

    __slots__ = ()

    def readable(self, _loop, _fd, _deadline):
        return False

    def wake(self):
        pass
