"""The package's version, which is the library's: DAPPER_IPC_VERSION_STRING in
include/dapper_ipc.h, the one place it is written. A wheel or sdist carries it in
_version.py, written by the build backend from the header; the package as it sits in a
checkout (python/src, run with PYTHONPATH) reads the header itself."""
import os
import re


def _from_header():
    header = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "include", "dapper_ipc.h")
    try:
        with open(header, encoding="utf-8") as f:
            return re.search(r'^#define DAPPER_IPC_VERSION_STRING "([^"]+)"', f.read(), re.M).group(1)
    except (OSError, AttributeError):
        return "0+unknown"


try:
    from ._version import VERSION
except ImportError:
    VERSION = _from_header()

# The library's ABI major: its SONAME is libdapper_ipc.so.<MAJOR>.
MAJOR = int(re.match(r"\d*", VERSION).group() or 0)
