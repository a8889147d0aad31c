"""Exceptions carrying the native library's status code and message.

They subclass the built-in types the pure-Python dapper.ipc raised (ValueError for bad
configuration, RuntimeError for state, ConnectionError / TimeoutError for the connection),
so existing ``except`` clauses keep working. Every one is also an ``IPCError`` and so a
``RuntimeError``.
"""

from ._abi import Status


def as_status(code):
    """A status code as a ``Status`` member; a code the header does not list (a newer
    library's) and None stay as they are."""
    try:
        return Status(code)
    except ValueError:
        return code


class IPCError(RuntimeError):
    """Base class: ``status`` is the dapper_ipc_status code, a ``Status`` (an IntEnum, so
    it equals the plain integer too), and the message is the library's
    (dapper_ipc_last_error). A bad value the C field cannot even carry (a port
    beyond int32, a string for a number) is refused by the package with the status the
    library gives bad values (E_INVALID_ARGUMENT, -1) and, for ranges, the library's words.
    ``status`` is None only when the library itself cannot be found or loaded."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = as_status(status)

    def __reduce__(self):
        return type(self), (str(self), self.status)


class IPCConfigError(IPCError, ValueError):
    """A bad transport name or config field, a transport this platform lacks, a frame
    above max_frame_size."""


class IPCStateError(IPCError):
    """The call does not fit the manager's state (no client yet, already listening, ...)."""


class IPCConnectionError(IPCError, ConnectionError):
    """The connection failed or ended (peer gone, refused, protocol error, i/o error)."""


class IPCTimeoutError(IPCError, TimeoutError):
    """A wait or a send ran out of time."""
