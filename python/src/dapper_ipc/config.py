"""TransportConfig: the design document's dataclass, plus the library's own settings."""

from dataclasses import dataclass
from typing import Optional


@dataclass
class TransportConfig:
    transport: str = "auto"
    host: Optional[str] = None
    port: Optional[int] = None
    path: Optional[str] = None
    pipe_name: Optional[str] = None
    #: Largest payload sent or accepted, bytes (None: 64 MiB).
    max_frame_size: Optional[int] = None
    #: connect(): seconds to keep retrying while nobody listens (None: 3 s, as the launcher).
    connect_timeout: Optional[float] = None
    #: send(): seconds to wait for a peer that stopped reading (None: 30 s; negative: no limit).
    send_timeout: Optional[float] = None
    #: Listener: require clients to present a token first (see IPCManager.auth_token).
    require_auth: bool = False
    #: Client: the token to present (None: the DAPPER_IPC_AUTH_TOKEN environment variable).
    auth_token: Optional[str] = None

    @classmethod
    def from_launcher_args(cls, args) -> "TransportConfig":
        """The config a launcher connects with, from the arguments create_listener returned."""
        values = dict(zip(args[::2], args[1::2]))
        if "--ipc" not in values:
            raise ValueError(f"no --ipc in {list(args)!r}")
        port = values.get("--ipc-port")
        return cls(
            transport=values["--ipc"],
            host=values.get("--ipc-host"),
            port=int(port) if port is not None else None,
            path=values.get("--ipc-path"),
            pipe_name=values.get("--ipc-pipe"),
        )
