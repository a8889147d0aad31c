"""Dapper's launcher connected through the library.

Dapper's launcher gets a socket from ``dapper.launcher.launcher_ipc.connector``, opens it
with ``makefile("rb"/"wb", buffering=0)``, parses DP frames from the first (its own
``ipc_binary``) and writes whole DP frames to the second. ``LibraryConnector`` gives it a
``LibraryLink`` instead: the library connects (with its retries, auth token and limits),
its reader takes the frames off the wire, and the link hands Dapper each one as the bytes of
a DP frame again (header rebuilt from the kind and length); each frame Dapper writes is
parsed and its payload sent with the library. So every byte between the processes is read
and written by libdapper_ipc, and Dapper's parsing code runs unchanged.
"""

import io
import queue
import struct
import threading

from ..config import TransportConfig
from ..manager import IPCManager
from .._native import find_library

_HEADER = struct.Struct(">2sBBI")  # docs/protocol.md: magic "DP", version 1, kind, payload length
_END = None


class LibraryConnector:
    """The two calls of Dapper's ``SocketConnector`` the launcher makes. A failed connect
    raises the library's error (Dapper reports it as the cause of "failed to connect
    socket"); the retries are the library's (TransportConfig.connect_timeout, 3 s, as
    Dapper's 60 tries 50 ms apart)."""

    def connect_unix(self, path):
        if not path:
            return None
        return self._connect(TransportConfig(transport="unix", path=path))

    def connect_tcp(self, host, port):
        if port is None:
            return None
        return self._connect(TransportConfig(transport="tcp", host=host or "127.0.0.1", port=int(port)))

    @staticmethod
    def _connect(config):
        manager = IPCManager()
        manager.connect(config)
        return LibraryLink(manager, config)


class LibraryLink:
    """Stands where Dapper keeps its socket (``session.ipc_sock``)."""

    def __init__(self, manager, config):
        self.manager = manager
        self.description = f"{config.transport} {config.path or f'{config.host}:{config.port}'}"
        self._incoming = queue.SimpleQueue()
        manager.start_reader(self._incoming.put, raw=True, include_kind=True,
                             on_disconnect=lambda _status, _reason: self._incoming.put(_END))

    def makefile(self, mode="r", buffering=None, **_ignored):
        if mode == "rb":
            return _FrameReader(self._incoming)
        if mode == "wb":
            return _FrameWriter(self.manager)
        raise ValueError(f"a LibraryLink opens as 'rb' or 'wb' (Dapper's modes), not {mode!r}")

    def close(self):
        """Ends the connection (the adapter sees end-of-file) and this side's reads."""
        self.manager.cleanup()
        self._incoming.put(_END)

    def __repr__(self):
        return f"<dapper_ipc LibraryLink {self.description} via {find_library()}>"


class _FrameReader(io.RawIOBase):
    """The received frames as a byte stream in DP format; end-of-file when the adapter left."""

    def __init__(self, incoming):
        self._incoming = incoming
        self._pending = memoryview(b"")
        self._ended = False

    def readable(self):
        return True

    def readinto(self, buffer):
        if not self._pending:
            if self._ended:
                return 0
            item = self._incoming.get()
            if item is _END:
                self._ended = True
                self._incoming.put(_END)  # for any other reader of this link
                return 0
            kind, payload = item
            self._pending = memoryview(_HEADER.pack(b"DP", 1, kind, len(payload)) + payload)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


class _FrameWriter(io.RawIOBase):
    """Takes Dapper's DP frames as bytes and sends each payload, with its kind, through the
    library; a frame split across writes is sent once it is whole."""

    def __init__(self, manager):
        self._manager = manager
        self._buffer = bytearray()
        self._lock = threading.Lock()

    def writable(self):
        return True

    def write(self, data):
        with self._lock:
            self._buffer += data
            while len(self._buffer) >= _HEADER.size:
                magic, version, kind, length = _HEADER.unpack_from(self._buffer)
                if magic != b"DP" or version != 1:
                    header = bytes(self._buffer[:_HEADER.size])
                    self._buffer.clear()
                    raise ValueError(f"not a DP v1 frame header: {header!r}")
                end = _HEADER.size + length
                if len(self._buffer) < end:
                    break
                payload = bytes(self._buffer[_HEADER.size:end])
                del self._buffer[:end]
                self._manager.send_bytes(payload, kind)
        return len(data)
