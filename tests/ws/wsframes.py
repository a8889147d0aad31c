"""What the websocket tests share: DP v1 framing, the payload schedule both sides can
regenerate (so every byte is checked without sending expectations along), and finding a
Debian package's tool, installing it with apt-get the way tests/wine/run.sh does."""

import os
import shutil
import struct
import subprocess

SKIP = 77  # CTest's SKIP_RETURN_CODE for these tests


def dp_frame(kind, payload):
    return b"DP\x01" + bytes([kind]) + struct.pack(">I", len(payload)) + payload


def dp_parse(message):
    """(kind, payload) of one binary message, which must hold exactly one DP frame."""
    if len(message) < 8 or message[:3] != b"DP\x01":
        raise ValueError(f"not a DP v1 frame: {message[:8]!r}")
    (length,) = struct.unpack(">I", message[4:8])
    if len(message) != 8 + length:
        raise ValueError(f"a message of {len(message)} bytes whose DP header says {8 + length}")
    return message[3], message[8:]


def size(i):
    """Frame i's payload size: mostly small, every 100th 64 KiB and up, every 1000th 1 MiB; 0 B first."""
    if i % 1000 == 999:
        return 1 << 20
    if i % 100 == 50:
        return 65536 + i
    return (i * 7919) % 2048


_BLOCK = bytes(range(256)) * 2


def payload(direction, i):
    """Frame i's payload in a direction (0: to the library, 1: from it): bytes that differ by
    frame, direction and 256-byte block, so a dropped, reordered or stale block shows."""
    n = size(i)
    out = bytearray()
    block = 0
    while len(out) < n:
        start = (i * 13 + direction * 101 + block * 7) & 255
        out += _BLOCK[start:start + 256]
        block += 1
    return bytes(out[:n])


def apt_install(package, probe):
    """Runs probe(); when it fails, installs the Debian package with apt-get (root, or sudo
    without a password) and probes again. Returns the probe's result or None."""
    result = probe()
    if result:
        return result
    sudo = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if sudo is None or not shutil.which("apt-get"):
        return None
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print(f"installing {package} (apt-get)", flush=True)
    subprocess.run(sudo + ["apt-get", "update", "-qq"], env=env, check=False)
    subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
                   env=env, check=False, stdout=subprocess.DEVNULL)
    return probe()
