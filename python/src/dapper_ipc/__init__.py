"""dapper_ipc: a drop-in for dapper.ipc backed by libdapper_ipc.

    from dapper_ipc import IPCManager, TransportConfig   # instead of: from dapper.ipc import ...

The native library is loaded on first use (the first IPCManager()): DAPPER_IPC_LIBRARY,
then this package's folder (a platform wheel bundles it), then the system loader
(libdapper_ipc.so.0 installed with cmake --install, or on LD_LIBRARY_PATH), then, for
the package in a checkout's python/src only, that checkout's build/ folder.
"""

from ._about import VERSION as __version__
from ._abi import Status
from ._native import KIND_COMMAND, KIND_EVENT, find_library, version as library_version
from .config import TransportConfig
from .errors import IPCConfigError, IPCConnectionError, IPCError, IPCStateError, IPCTimeoutError
from .factory import TransportFactory
from .manager import IPCManager
from .sessions import SessionListener

__all__ = [
    "IPCManager",
    "SessionListener",
    "TransportConfig",
    "TransportFactory",
    "IPCError",
    "IPCConfigError",
    "IPCStateError",
    "IPCConnectionError",
    "IPCTimeoutError",
    "Status",
    "KIND_COMMAND",
    "KIND_EVENT",
    "find_library",
    "library_version",
]
