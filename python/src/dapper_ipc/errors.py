"""Exceptions carrying the native library's status code and message.

They subclass the built-in types the pure-Python dapper.ipc raised (ValueError for bad
configuration, RuntimeError for state, ConnectionError / TimeoutError for the connection),
so existing ``except`` clauses keep working.
"""


class IPCError(RuntimeError):
    """Base class: ``status`` is the dapper_ipc_status code, the message is the library's."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class IPCConfigError(IPCError, ValueError):
    """A bad transport name or config field, or a transport this platform lacks."""


class IPCStateError(IPCError):
    """The call does not fit the manager's state (no client yet, already listening, ...)."""


class IPCConnectionError(IPCError, ConnectionError):
    """The connection failed or ended (peer gone, refused, protocol error, i/o error)."""


class IPCTimeoutError(IPCError, TimeoutError):
    """A wait or a send ran out of time."""
