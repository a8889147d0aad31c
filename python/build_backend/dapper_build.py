"""A PEP 517 / PEP 660 build backend in the standard library only.

This machine's setuptools cannot build a wheel without the `wheel` package, and there is
no index to fetch it from. A pure-Python package needs little: this writes the wheel (a
zip with METADATA, WHEEL and RECORD) itself, so `pip install ./python` works offline,
with or without --no-build-isolation, and `pip install -e ./python` too.

A libdapper_ipc.so / .dylib / dapper_ipc.dll copied into src/dapper_ipc/ before building
is bundled (the package loads it from there), and the wheel is then tagged for this
platform instead of py3-none-any.
"""

import base64
import hashlib
import io
import os
import re
import sysconfig
import tarfile
import zipfile

NAME = "dapper_ipc"
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(HERE, "src", NAME)
NATIVE = (".so", ".dylib", ".dll")


def _version():
    with open(os.path.join(SOURCE, "__init__.py"), encoding="utf-8") as f:
        return re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)


def _metadata():
    with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    return (
        "Metadata-Version: 2.1\n"
        f"Name: {NAME}\nVersion: {_version()}\n"
        "Summary: Drop-in replacement for dapper.ipc backed by libdapper_ipc\n"
        "Requires-Python: >=3.9\n"
        "Description-Content-Type: text/markdown\n\n" + readme
    )


def _files():
    for root, dirs, names in os.walk(SOURCE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(names):
            if name.endswith((".py",) + NATIVE):
                path = os.path.join(root, name)
                yield path, os.path.relpath(path, os.path.dirname(SOURCE)).replace(os.sep, "/")


def _tag(files):
    if any(arcname.endswith(NATIVE) for _path, arcname in files):
        return "py3-none-" + re.sub(r"[^A-Za-z0-9]", "_", sysconfig.get_platform()), False
    return "py3-none-any", True


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def _write_wheel(wheel_directory, contents, tag, purelib):
    version = _version()
    info = f"{NAME}-{version}.dist-info"
    wheel_name = f"{NAME}-{version}-{tag}.whl"
    records = []
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w", zipfile.ZIP_DEFLATED) as wheel:
        def add(arcname, data):
            wheel.writestr(arcname, data)
            records.append(_record_line(arcname, data))

        for arcname, data in contents:
            add(arcname, data)
        add(f"{info}/METADATA", _metadata().encode("utf-8"))
        add(f"{info}/WHEEL", (
            "Wheel-Version: 1.0\nGenerator: dapper_build\n"
            f"Root-Is-Purelib: {'true' if purelib else 'false'}\nTag: {tag}\n").encode("ascii"))
        records.append(f"{info}/RECORD,,")
        wheel.writestr(f"{info}/RECORD", "\n".join(records) + "\n")
    return wheel_name


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = list(_files())
    tag, purelib = _tag(files)
    contents = []
    for path, arcname in files:
        with open(path, "rb") as f:
            contents.append((arcname, f.read()))
    return _write_wheel(wheel_directory, contents, tag, purelib)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    # A .pth file that puts src/ on sys.path: edits to the checkout take effect at once.
    return _write_wheel(wheel_directory, [(f"__editable__.{NAME}.pth", (os.path.join(HERE, "src") + "\n").encode())],
                        "py3-none-any", True)


def build_sdist(sdist_directory, config_settings=None):
    base = f"{NAME}-{_version()}"
    name = f"{base}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as sdist:
        for entry in ("pyproject.toml", "README.md", "build_backend", "src"):
            sdist.add(os.path.join(HERE, entry), arcname=f"{base}/{entry}",
                      filter=lambda t: None if "__pycache__" in t.name else t)
        pkg_info = _metadata().encode("utf-8")
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        info.size = len(pkg_info)
        sdist.addfile(info, io.BytesIO(pkg_info))
    return name
