# The adapter side: listen, start the launcher with the arguments the listener returns, talk.
import os
import subprocess
import sys

from dapper_ipc import IPCManager, TransportConfig  # was: from dapper.ipc import ...

launcher_py = os.path.join(os.path.dirname(os.path.abspath(__file__)), "readme_launcher.py")

manager = IPCManager()
args = manager.create_listener(TransportConfig())  # ["--ipc", "unix", "--ipc-path", "/tmp/dapper-.../ipc.sock"]
launcher = subprocess.Popen([sys.executable, launcher_py, *args])
manager.send({"id": 1, "command": "configurationDone", "arguments": {}})  # waits (10 s at most) for the launcher
print("adapter got", manager.recv(timeout=10))  # the launcher's answer, an event (kind 1)
manager.cleanup()  # the launcher sees end-of-file
sys.exit(launcher.wait())
