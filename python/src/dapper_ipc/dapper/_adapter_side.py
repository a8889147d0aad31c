"""The classes the hook serves as Dapper's dapper.ipc: dapper_ipc's, with one difference.

Dapper's own IPCManager sends every message as a command (kind 2), whether it listens
(launch) or connects (attach); dapper_ipc's sends events (kind 1) from a manager that
connected. Dapper's adapter only ever sends commands, so its IPCManager here does so in
both roles, and a launcher that attaches receives commands it acts on.
"""

from .. import IPCManager as _IPCManager, KIND_COMMAND, TransportConfig, TransportFactory


class IPCManager(_IPCManager):
    async def send_message(self, message: dict, kind: int = KIND_COMMAND) -> None:
        await super().send_message(message, kind)


__all__ = ["IPCManager", "TransportConfig", "TransportFactory"]
