"""Shared by the tls tests: certificates made with the openssl command, DP frames, checks.

Exit codes of every test: 0 passed, 1 failed, 77 skipped (a tool missing that apt-get
could not install, said with the reason)."""

import hashlib
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ws"))
import wsframes  # noqa: E402  (apt_install, shared with the ws tests)

SKIP = 77
failures = []


def check(ok, what):
    print(("ok: " if ok else "FAILED: ") + what, flush=True)
    if not ok:
        failures.append(what)
    return ok


def finish():
    print(f"{'FAILED' if failures else 'passed'}: {len(failures)} failures", flush=True)
    return 1 if failures else 0


def need_openssl():
    """The openssl command, installed with apt-get when missing; None when it cannot be."""
    return wsframes.apt_install("openssl", lambda: shutil.which("openssl"))


def dp_frame(kind, payload):
    """A DP v1 frame (docs/protocol.md): "DP", version 1, kind, big-endian length, payload."""
    return struct.pack(">2sBBI", b"DP", 1, kind, len(payload)) + payload


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError(f"end of stream after {len(data)} of {n} bytes")
        data += chunk
    return data


def read_frame(sock):
    magic, version, kind, length = struct.unpack(">2sBBI", read_exact(sock, 8))
    if magic != b"DP" or version != 1:
        raise EOFError(f"not a DP v1 header: {magic!r} {version}")
    return kind, read_exact(sock, length)


def fingerprint_of_der(der):
    return "sha256:" + hashlib.sha256(der).hexdigest()


def openssl_fingerprint(pem_path):
    """The fingerprint as the openssl command computes it ("AB:CD:..." made "sha256:abcd...")."""
    out = subprocess.run(["openssl", "x509", "-in", pem_path, "-noout", "-fingerprint", "-sha256"],
                         capture_output=True, text=True, check=True).stdout
    return "sha256:" + out.strip().split("=", 1)[1].replace(":", "").lower()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Certs:
    """A test CA and certificates it signed (P-256), in a temporary directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="dapper-tls-test-")
        self.ca = self._path("ca.pem")
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                      "-keyout", self._path("ca.key"), "-out", self.ca, "-subj", "/CN=dapper test ca", "-days", "2")

    def _path(self, name):
        return os.path.join(self.dir, name)

    def _openssl(self, *args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    def issue(self, name, san, days=2):
        """(cert, key) for san ("DNS:localhost"), signed by the CA; days=-1: already expired."""
        key, csr, ext, cert = (self._path(name + s) for s in (".key", ".csr", ".ext", ".pem"))
        self._openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                      "-out", csr, "-subj", "/CN=" + name)
        with open(ext, "w") as f:
            f.write(f"subjectAltName={san}\n")
        self._openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self._path("ca.key"), "-CAcreateserial",
                      "-out", cert, "-days", str(days), "-extfile", ext)
        return cert, key

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
