"""A PEP 517 build backend in the standard library only.

The machines this project targets may have no `wheel` package and no index to fetch
one from, and setuptools cannot build a wheel without it. A pure-Python package needs
little: this writes the wheel (a zip with METADATA, WHEEL and RECORD) itself, so
`pip install ./python` works offline, with or without build isolation.
"""

import base64
import hashlib
import os
import re
import tarfile
import zipfile

NAME = "dapper_ipc"
DIST = "dapper_ipc"
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(HERE, "src", NAME)


def _version():
    with open(os.path.join(SOURCE, "__init__.py"), encoding="utf-8") as f:
        return re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)


def _metadata():
    with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    return (
        "Metadata-Version: 2.1\n"
        f"Name: dapper-ipc\nVersion: {_version()}\n"
        "Summary: Drop-in replacement for dapper.ipc backed by libdapper_ipc\n"
        "Requires-Python: >=3.9\n"
        "Description-Content-Type: text/markdown\n\n" + readme
    )


def _files():
    for root, _dirs, names in os.walk(SOURCE):
        for name in sorted(names):
            if name.endswith((".py", ".so", ".dylib", ".dll")):
                path = os.path.join(root, name)
                yield path, os.path.relpath(path, os.path.dirname(SOURCE)).replace(os.sep, "/")


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    version = _version()
    info = f"{DIST}-{version}.dist-info"
    wheel_name = f"{DIST}-{version}-py3-none-any.whl"
    records = []
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w", zipfile.ZIP_DEFLATED) as wheel:
        def add(arcname, data):
            wheel.writestr(arcname, data)
            records.append(_record_line(arcname, data))

        for path, arcname in _files():
            with open(path, "rb") as f:
                add(arcname, f.read())
        add(f"{info}/METADATA", _metadata().encode("utf-8"))
        add(f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: dapper_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        records.append(f"{info}/RECORD,,")
        wheel.writestr(f"{info}/RECORD", "\n".join(records) + "\n")
    return wheel_name


def build_sdist(sdist_directory, config_settings=None):
    base = f"{DIST}-{_version()}"
    name = f"{base}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as sdist:
        for entry in ("pyproject.toml", "README.md", "build_backend", "src"):
            sdist.add(os.path.join(HERE, entry), arcname=f"{base}/{entry}",
                      filter=lambda t: None if "__pycache__" in t.name else t)
        pkg_info = _metadata().encode("utf-8")
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        info.size = len(pkg_info)
        import io
        sdist.addfile(info, io.BytesIO(pkg_info))
    return name
