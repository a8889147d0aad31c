"""The library loads, and unix and tcp work, on a machine without OpenSSL; tls there fails
with E_UNSUPPORTED and a message naming the missing library.

"Without OpenSSL" is made with a user and mount namespace (unshare -rm) in which an empty
file is bound over libssl.so.3 and libcrypto.so.3, so nothing else on the machine changes.
Skipped (77), with the reason, where unshare is not permitted."""

import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tlsutil  # noqa: E402
from tlsutil import check  # noqa: E402

LIBRARIES = ("libssl.so.3", "libcrypto.so.3")


def installed_paths():
    """The real files the dynamic loader would open for LIBRARIES."""
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout if shutil.which("ldconfig") else ""
    paths = set()
    for line in out.splitlines():
        name = line.strip().split(" ", 1)[0]
        if name in LIBRARIES and "=>" in line:
            paths.add(os.path.realpath(line.split("=>", 1)[1].strip()))
    return sorted(paths)


def outside():
    if not shutil.which("unshare"):
        print("SKIP: no unshare command (util-linux) to hide libssl in a mount namespace", flush=True)
        return tlsutil.SKIP
    paths = installed_paths()
    empty = tempfile.NamedTemporaryFile(prefix="dapper-no-libssl-", delete=False)
    empty.close()
    mounts = " && ".join(f"mount --bind {empty.name} {p}" for p in paths) or "true"
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        os.unlink(empty.name)
        print(f"SKIP: unshare -rm is not permitted here ({probe.stderr.strip()})", flush=True)
        return tlsutil.SKIP
    try:
        return subprocess.run(["unshare", "-rm", "sh", "-c", f'{mounts} && exec "$0" "$1" --inside',
                               sys.executable, os.path.abspath(__file__)]).returncode
    finally:
        os.unlink(empty.name)


def round_trip(transport):
    from dapper_ipc import IPCManager, TransportConfig
    got, arrived = [], threading.Event()
    with IPCManager() as server:
        args = server.create_listener(TransportConfig(transport=transport))
        with IPCManager() as client:
            client.connect(TransportConfig.from_launcher_args(args))
            server.start_reader(lambda m: (got.append(m), arrived.set()), raw=True)
            client.send_bytes(b"no openssl needed", 1)
            return arrived.wait(20) and got == [b"no openssl needed"]


def inside():
    for name in LIBRARIES:
        try:
            ctypes.CDLL(name)
            check(False, f"{name} is hidden in this namespace")
        except OSError as e:
            check(True, f"{name} is hidden in this namespace ({e})")
    from dapper_ipc import IPCManager, TransportConfig, errors
    check(round_trip("unix"), "a unix round trip works without OpenSSL")
    check(round_trip("tcp"), "a tcp round trip works without OpenSSL")
    for transport in ("tls", "wss"):
        with IPCManager() as manager:
            try:
                manager.create_listener(TransportConfig(transport=transport))
                check(False, f"{transport} without OpenSSL fails")
            except errors.IPCError as e:
                check(e.status == -7 and "libcrypto.so.3" in str(e),
                      f"{transport}: E_UNSUPPORTED naming the missing library ({e.status!r}: {e})")
        with IPCManager() as manager:
            try:
                manager.connect(TransportConfig(transport=transport, port=1))
                check(False, f"{transport} connect without OpenSSL fails")
            except errors.IPCError as e:
                check(e.status == -7, f"{transport} connect: E_UNSUPPORTED ({e})")
    return tlsutil.finish()


if __name__ == "__main__":
    sys.exit(inside() if "--inside" in sys.argv else outside())
