"""TransportFactory: transport resolution, as the original's, without touching a socket."""

import socket
import sys

from .errors import IPCConfigError

_KNOWN = ("unix", "tcp", "pipe")


class TransportFactory:
    @staticmethod
    def get_default_transport() -> str:
        """Named pipes on Windows, unix sockets where AF_UNIX exists, else tcp."""
        if sys.platform == "win32":
            return "pipe"
        return "unix" if hasattr(socket, "AF_UNIX") else "tcp"

    @staticmethod
    def resolve_transport(transport=None) -> str:
        """'auto' (or None, or '') means the platform default; names are case-insensitive."""
        name = (transport or "auto").strip().lower()
        if name == "auto":
            return TransportFactory.get_default_transport()
        if name not in _KNOWN:
            raise IPCConfigError(f"Unsupported transport: {transport!r} (expected auto, unix, tcp or pipe)")
        return name
