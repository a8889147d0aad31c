"""TransportConfig: the original dapper.ipc's dataclass (docs/architecture.md), plus the library's own settings."""

from dataclasses import dataclass
from typing import Optional, Sequence

# The launcher's flags and the TransportConfig field each one fills.
_LAUNCHER_FLAGS = {
    "--ipc": "transport",
    "--ipc-host": "host",
    "--ipc-port": "port",
    "--ipc-path": "path",
    "--ipc-pipe": "pipe_name",
    "--ipc-address": "path",  # a transport registered with dapper_ipc_register_transport
    "--ipc-tls-fingerprint": "tls_fingerprint",
}


@dataclass
class TransportConfig:
    """Where to listen or connect. Every None means the library's default.

    transport: "auto" (unix on POSIX, pipe on Windows), "unix", "tcp", "pipe", "ws" (a
        WebSocket at ws://host:port/, so a browser page can be the peer), "tls" (tcp inside
        TLS 1.3; OpenSSL 3 is loaded on first use), "wss" (ws inside TLS) or "shm" (Linux:
        shared memory between two ends of this library, reached by a unix path); any case.
        "stdio" (connect only, POSIX): the launcher side speaks over its own stdin and
        stdout, which the library moves out of reach (fd 1 then writes to stderr, so
        print() cannot corrupt the stream; see docs/transports.md); the adapter side is
        IPCManager.spawn_stdio. Any other name: a transport registered in C with
        dapper_ipc_register_transport (path is its address).
    host: tcp host (127.0.0.1). Binding a non-loopback address logs a security warning
        (not with tls or wss).
    port: tcp port; 0 or None for a listener means an ephemeral port. Required to connect.
    path: unix socket path; None for a listener means a fresh private directory.
        Required to connect.
    pipe_name: Windows named pipe.
    """

    transport: str = "auto"
    host: Optional[str] = None
    port: Optional[int] = None
    path: Optional[str] = None
    pipe_name: Optional[str] = None
    #: Largest payload sent or accepted, bytes (None: 64 MiB).
    max_frame_size: Optional[int] = None
    #: connect(): seconds to keep retrying while nobody listens (None: 3 s, as the
    #: launcher; negative: one attempt).
    connect_timeout: Optional[float] = None
    #: send(): seconds to wait for a peer that stopped reading (None: 30 s; negative: no limit).
    send_timeout: Optional[float] = None
    #: Listener: require clients to present a token first (see IPCManager.auth_token).
    require_auth: bool = False
    #: Client: the token to present (None: the DAPPER_IPC_AUTH_TOKEN environment variable).
    auth_token: Optional[str] = None
    #: Listener: how long a send made before the client arrived waits for it, then sends,
    #: in seconds (None: 10 s; negative: no wait, IPCStateError at once). After the time,
    #: IPCTimeoutError and nothing was sent. ``await send_message`` waits without blocking
    #: the loop; the synchronous send blocks for it.
    client_wait: Optional[float] = None
    #: Heartbeats every this many milliseconds, between two ends of this library that
    #: both set it (None or 0: off). A peer silent for 3 heartbeat periods is declared
    #: dead: the connection closes and the disconnect reason says "peer unresponsive for
    #: N ms". Stock peers (the launcher) see nothing new. Milliseconds, as the C field.
    heartbeat_ms: Optional[int] = None
    #: ws listener: origins allowed besides loopback and the listener's host, comma-separated
    #: (e.g. "https://ide.example.com"); any other origin gets HTTP 403.
    ws_origins: Optional[str] = None
    #: Survive a dropped connection (DAPPER_IPC_FLAG_RECONNECT), between two ends of this
    #: library that both set it: the connecting end reconnects, the listener takes its
    #: client back, and every frame is delivered exactly once and in order. A resume that
    #: cannot keep that promise (the peer is another process, more unacknowledged data
    #: than resume_buffer_bytes, the time ran out) disconnects with the reason; so does a
    #: client whose listener never answered its offer (it lacks the flag), after one try.
    #: Heartbeats (heartbeat_ms) keep running on each resumed connection. With a handler
    #: and in the pull mode alike (recv, await recv(), messages(): a library thread then
    #: reads and hands messages over a bounded queue, so the pull mode resumes too).
    reconnect: bool = False
    #: After a drop: milliseconds to keep reconnecting, or to wait for the client's return
    #: (None or 0: 30000; negative: no limit). Milliseconds, as the C field.
    reconnect_timeout_ms: Optional[int] = None
    #: The most bytes of sent, unacknowledged frames kept for a resume (None or 0: 4 MiB).
    resume_buffer_bytes: Optional[int] = None
    #: shm listener: bytes of each of its two rings, a power of two from 4096 to 1 GiB
    #: (None or 0: 1 MiB). The client takes the listener's size.
    shm_ring_bytes: Optional[int] = None
    #: shm: microseconds a reader polls the ring, yielding the CPU, before it sleeps on a
    #: futex (None or 0: 50; negative: never poll).
    shm_spin_us: Optional[int] = None
    #: tls/wss listener: PEM certificate (chain) and private key files, both or neither
    #: (None: a fresh self-signed ECDSA P-256 certificate made in memory).
    tls_cert_file: Optional[str] = None
    tls_key_file: Optional[str] = None
    #: tls/wss client: "sha256:<64 hex>" of the listener's certificate, as its launcher
    #: arguments carry it (--ipc-tls-fingerprint); a different certificate is refused
    #: (IPCProtocolError showing both). None: the system trust store and the host name decide.
    tls_fingerprint: Optional[str] = None
    #: tls/wss: accept TLS 1.2 as well as 1.3 (DAPPER_IPC_FLAG_ALLOW_TLS12).
    allow_tls12: bool = False

    @classmethod
    def from_launcher_args(cls, args: Sequence[str]) -> "TransportConfig":
        """The config a launcher connects with, from the arguments create_listener returned
        (other arguments around them are ignored)."""
        args = list(args)
        values = {}
        for i, arg in enumerate(args[:-1]):
            if arg in _LAUNCHER_FLAGS:
                values[_LAUNCHER_FLAGS[arg]] = args[i + 1]
        if "transport" not in values:
            raise ValueError(f"no --ipc in {args!r}")
        if "port" in values:
            values["port"] = int(values["port"])
        return cls(**values)
