"""TransportFactory: transport resolution, as the original's, without touching a socket."""

import socket
import sys

_KNOWN = ("unix", "tcp", "pipe", "ws", "tls", "wss", "shm")


class TransportFactory:
    @staticmethod
    def get_default_transport() -> str:
        """Named pipes on Windows, unix sockets where AF_UNIX exists, else tcp."""
        if sys.platform == "win32":
            return "pipe"
        return "unix" if hasattr(socket, "AF_UNIX") else "tcp"

    @staticmethod
    def resolve_transport(transport=None) -> str:
        """None, "" or "auto" (any case) mean the platform default; other names are
        lower-cased and returned as they are, like the original's: an unknown one is
        refused where it is used (create_listener, connect), by the library: IPCConfigError
        with status -1 and "unknown transport '...': expected one of auto, unix, tcp, pipe, ws, tls, wss, shm, stdio" and any registered names."""
        name = (transport or "auto").strip().lower()
        if name == "auto":
            return TransportFactory.get_default_transport()
        return name

    @staticmethod
    def is_supported(transport) -> bool:
        """Whether create_listener/connect know the name (pipe only works on Windows)."""
        return TransportFactory.resolve_transport(transport) in _KNOWN
