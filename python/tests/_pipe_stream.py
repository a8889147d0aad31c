"""A Windows named-pipe client with the few socket calls the tests make on a raw peer
(sendall, recv, settimeout, close, `with`), over a multiprocessing.connection pipe
connection: connect_pipe() connects the way the Python launcher connects (the AF_PIPE
client: WaitNamedPipe, CreateFile overlapped, PIPE_READMODE_MESSAGE); a connection a
multiprocessing Listener accepted can be wrapped as well. Each sendall is one message;
recv hands out the bytes of the messages in order, b"" once the other end has closed
the pipe. Imports nothing of dapper_ipc: the launchers written from the protocol alone
(launcher_peer.py, node/test-support/peer.py) use it too, and recv_exactly, which reads
from a socket or a PipeStream alike."""
import socket


def recv_exactly(s, n):
    """n bytes from s (a socket or a PipeStream), or None at end-of-file before them."""
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def connect_pipe(name):
    """A PipeStream connected to the named pipe (\\\\.\\pipe\\...), as the launcher connects."""
    from multiprocessing.connection import Client  # AF_PIPE exists on Windows only

    return PipeStream(Client(name, family="AF_PIPE"))


class PipeStream:
    def __init__(self, conn):
        self._conn = conn
        self._pending = b""
        self._timeout = None

    def settimeout(self, timeout):
        self._timeout = timeout

    def sendall(self, data):
        self._conn.send_bytes(bytes(data))  # BrokenPipeError (an OSError) once the server is gone

    def recv(self, n):
        if not self._pending:
            try:
                if self._timeout is not None and not self._conn.poll(self._timeout):
                    raise socket.timeout("timed out")
                self._pending = self._conn.recv_bytes()
            except (EOFError, BrokenPipeError):
                return b""  # the server closed its end: end-of-file, as a socket reports it
        chunk, self._pending = self._pending[:n], self._pending[n:]
        return chunk

    def close(self):
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
