# The launcher side: connect with the arguments the adapter passed, answer each command.
import sys

from dapper_ipc import IPCConnectionError, IPCManager, TransportConfig

manager = IPCManager()
manager.connect(TransportConfig.from_launcher_args(sys.argv[1:]))  # retries for 3 s while nobody listens
while True:
    try:
        command = manager.recv()  # a command (kind 2) from the adapter
    except IPCConnectionError:  # the adapter closed the connection
        break
    manager.send({"event": "response", "id": command["id"], "success": True})
manager.cleanup()
