"""dapper_ipc: a drop-in for dapper.ipc backed by libdapper_ipc.

    from dapper_ipc import IPCManager, TransportConfig   # instead of: from dapper.ipc import ...

The native library is loaded on first use (the first IPCManager()): DAPPER_IPC_LIBRARY,
then this package's folder, then the build/ folder of the checkout it sits in.
"""

from ._native import KIND_COMMAND, KIND_EVENT, find_library, version as library_version
from .config import TransportConfig
from .errors import IPCConfigError, IPCConnectionError, IPCError, IPCStateError, IPCTimeoutError
from .factory import TransportFactory
from .manager import IPCManager

__version__ = "0.1.0"

__all__ = [
    "IPCManager",
    "TransportConfig",
    "TransportFactory",
    "IPCError",
    "IPCConfigError",
    "IPCStateError",
    "IPCConnectionError",
    "IPCTimeoutError",
    "KIND_COMMAND",
    "KIND_EVENT",
    "find_library",
    "library_version",
]
