"""The reader's Python thread state, kept across callbacks.

ctypes gives a foreign thread a new Python thread state for every callback and deletes it
afterwards; for a reader calling back per frame that costs more than all the rest
(measured: 38k messages/s, against 424k with the state kept). So the reader's state is
kept from its first callback (one more PyGILState_Ensure) and let go of on that thread in
its last callback (a disconnect, or a callback that ran cleanup), or deleted by the
cleanup that joined the reader. Only on CPython with a GIL, where this is how ctypes
callbacks work, and only when _fast.py chose it (bind() found the functions): otherwise
nothing is kept, and ReaderStates holds nothing.
"""

import ctypes
import sys
import sysconfig
import threading

_py = None  # CPython's thread-state functions, once bind() found them


def bind():
    """Finds the functions (called by _fast.py, which keeps no state when this raises)."""
    global _py
    if sys.implementation.name != "cpython" or sysconfig.get_config_var("Py_GIL_DISABLED"):
        raise RuntimeError("not CPython with a GIL, where ctypes callbacks work this way")
    py = ctypes.PyDLL(None, handle=ctypes.pythonapi._handle)  # own function objects, GIL held
    py.PyGILState_Ensure.restype = ctypes.c_int
    py.PyGILState_Ensure.argtypes = []
    py.PyGILState_Release.restype = None
    py.PyGILState_Release.argtypes = [ctypes.c_int]
    py.PyGILState_GetThisThreadState.restype = ctypes.c_void_p
    py.PyGILState_GetThisThreadState.argtypes = []
    py.PyThreadState_Clear.restype = None
    py.PyThreadState_Clear.argtypes = [ctypes.c_void_p]
    py.PyThreadState_Delete.restype = None
    py.PyThreadState_Delete.argtypes = [ctypes.c_void_p]
    _py = py


class ReaderStates:
    """One manager's kept reader states, and its readers retiring after a callback that
    ran cleanup. ``kept`` and ``retiring`` are read directly on the per-frame path."""

    __slots__ = ("kept", "retiring")

    def __init__(self):
        self.kept = {}      # reader ident -> (PyThreadState*, what our Ensure returned)
        self.retiring = {}  # reader ident -> Event set when its callback that ran cleanup returns

    def keep(self, ident):
        """On the reader thread, inside a callback: keep this thread's state."""
        held = _py.PyGILState_Ensure()  # one more hold: the state now outlives each callback
        self.kept[ident] = (_py.PyGILState_GetThisThreadState(), held)

    def mark_retiring(self, ident):
        """A callback on reader ``ident`` is running cleanup: that reader ends when it returns."""
        self.retiring.setdefault(ident, threading.Event())

    def retire(self, ident, last=False):
        """On the reader thread, as a callback ends: let go of the kept state if this
        thread calls this manager no more (``last``, or it ran cleanup)."""
        retiring = self.retiring.pop(ident, None)
        if last or retiring is not None:
            # Let go of the kept state here, on its own thread (ctypes deletes it as this
            # callback returns).
            kept = self.kept.pop(ident, None)
            if kept is not None:
                _py.PyGILState_Release(kept[1])
        if retiring is not None:
            retiring.set()

    def wait_for_retiring(self):
        for event in list(self.retiring.values()):
            event.wait()

    def delete_joined(self, in_callback):
        """After the library's cleanup joined the reader: delete the states of readers
        that are not inside a callback nor retiring (they have been joined)."""
        for reader in list(self.kept):
            if reader not in in_callback and reader not in self.retiring:
                state, _held = self.kept.pop(reader)
                _py.PyThreadState_Clear(state)
                _py.PyThreadState_Delete(state)
