"""Every shortcut the package takes past a public API, chosen once, at import.

Each shortcut below was measured on the per-message path (its module says by how much) and
reaches into CPython's or asyncio's internals, which a new Python release may change
without notice. So each is used only when its probe passes here, on this interpreter;
otherwise (and for all of them when DAPPER_IPC_PLAIN is set to anything but "" or "0") its
counterpart in _plain.py, which uses public APIs only, takes its place. ``chosen`` says
which path each one took, and why not the fast one. The rest of the package imports these
names from here and never a shortcut's module directly.

  json        _json_fast.py: the C scanner and encoder of the json module, called directly
  frames      _frames.py: the library's frame array read with struct, not ctypes fields
  hot_calls   _native.hot: unprototyped foreign calls (no argtypes conversion per call)
  thread_state  _thread_state.py: the reader's Python thread state kept across callbacks
  idle_wait   _idle_wait.py: await recv() on an idle loop polls the handle itself
  getsignal   _signal.getsignal, without signal.getsignal's enum conversion
"""

import ctypes
import os

from . import _native as native, _plain

PLAIN_ENV = "DAPPER_IPC_PLAIN"
PLAIN = os.environ.get(PLAIN_ENV, "") not in ("", "0")

chosen = {}  # shortcut -> "fast", or "plain: <why>"


def _choose(name, probe, plain):
    if PLAIN:
        chosen[name] = f"plain: {PLAIN_ENV} is set"
        return plain
    try:
        fast = probe()
    except Exception as error:  # an internal missing or changed: the public path, never a failed import
        chosen[name] = f"plain: {type(error).__name__}: {error}"
        return plain
    chosen[name] = "fast"
    return fast


def _json():
    from . import _json_fast
    _json_fast.check()
    return _json_fast.loads, _json_fast.dumps


def _frames():
    from . import _frames as frames
    frames.check()
    return frames.payloads, frames.first_frame


def _hot_calls():
    # _native.hot opens a second CDLL on the loaded library's handle (_name and _handle);
    # tried here on Python's own library, as the package's is not loaded before first use.
    api = ctypes.pythonapi
    if not type(api)(api._name, handle=api._handle).Py_IsInitialized():
        raise RuntimeError("a CDLL made from another's handle does not call into it")
    return native.hot


def _thread_state():
    from . import _thread_state as thread_state
    thread_state.bind()
    return True


def _idle_wait():
    from . import _idle_wait as idle_wait
    idle_wait.check()
    return idle_wait.IdleWait


def _getsignal():
    from _signal import getsignal
    import signal
    if getsignal(signal.SIGINT) != signal.getsignal(signal.SIGINT):
        raise RuntimeError("_signal.getsignal disagrees with signal.getsignal")
    return getsignal


json_loads, json_dumps = _choose("json", _json, (_plain.json_loads, _plain.json_dumps))
payloads, first_frame = _choose("frames", _frames, (_plain.payloads, _plain.first_frame))
hot = _choose("hot_calls", _hot_calls, _plain.hot)
KEEP_THREAD_STATE = _choose("thread_state", _thread_state, _plain.KEEP_THREAD_STATE)
IdleWait = _choose("idle_wait", _idle_wait, _plain.IdleWait)
getsignal = _choose("getsignal", _getsignal, _plain.getsignal)
