"""The launcher side of the stdio test: connects over its own stdin/stdout and prints to
stdout with print() the whole time (which must reach stderr, not the stream), echoing each
command and sending one event of its own per command."""
import sys

import _support  # noqa: F401 - makes dapper_ipc importable from a checkout
from dapper_ipc import IPCManager, TransportConfig

count = int(sys.argv[1])
print("before connect: this line must not reach the stream either")
manager = IPCManager()
manager.connect(TransportConfig.from_launcher_args(["--ipc", "stdio"]))
for i in range(count):
    print(f"stray print {i}", flush=(i % 100 == 0))
    message = manager.recv(30)
    manager.send({"echo": message})
    manager.send({"child": i})
print("done", flush=True)
manager.close()
