"""A PEP 517 / PEP 660 build backend in the standard library only.

This machine's setuptools cannot build a wheel without the `wheel` package, and there is
no index to fetch it from. A pure-Python package needs little: this writes the wheel (a
zip with METADATA, WHEEL and RECORD) itself, so `pip install ./python` works offline,
with or without --no-build-isolation, and `pip install -e ./python` too.

The version is the library's, read from include/dapper_ipc.h (DAPPER_IPC_VERSION_STRING)
and written into the package as dapper_ipc/_version.py; an sdist carries that file.

Two kinds of wheel:
- without a library (`pip install ./python`): py3-none-any; the package then finds the
  library through DAPPER_IPC_LIBRARY or the system loader.
- with the library inside (the platform wheel): config setting `library=<path>` (what
  python/build_wheel.py and the CMake target `wheel` pass; `pip wheel --config-settings
  library=<path>` works too). The library is stored as dapper_ipc/libdapper_ipc.so (.dylib,
  .dll) and the wheel is tagged for the platform it can run on, computed from the library:
  on Linux manylinux_2_<X>_<arch>, X being the highest GLIBC_2.X symbol version the
  library imports (read from its .gnu.version_r section); macosx_* and win_* elsewhere.
"""

import base64
import hashlib
import io
import os
import re
import struct
import sys
import sysconfig
import tarfile
import zipfile

NAME = "dapper_ipc"
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(HERE, "src", NAME)
HEADER = os.path.join(os.path.dirname(HERE), "include", "dapper_ipc.h")
LICENSE = os.path.join(os.path.dirname(HERE), "LICENSE")
NATIVE = (".so", ".dylib", ".dll")
GENERATED_VERSION = "_version.py"


def _version():
    if os.path.isfile(HEADER):
        with open(HEADER, encoding="utf-8") as f:
            return re.search(r'^#define DAPPER_IPC_VERSION_STRING "([^"]+)"', f.read(), re.M).group(1)
    # An sdist: no header, the version file written when it was made.
    with open(os.path.join(SOURCE, GENERATED_VERSION), encoding="utf-8") as f:
        return re.search(r'^VERSION = "([^"]+)"', f.read(), re.M).group(1)


def _version_file():
    return (f'# Written by the build backend from include/dapper_ipc.h.\nVERSION = "{_version()}"\n').encode()


def _license_text():
    for path in (LICENSE, os.path.join(HERE, "LICENSE")):
        if os.path.isfile(path):
            with open(path, "rb") as f:
                return f.read()
    return None


def _metadata():
    with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    return (
        "Metadata-Version: 2.1\n"
        f"Name: {NAME}\nVersion: {_version()}\n"
        "Summary: Drop-in replacement for dapper.ipc backed by libdapper_ipc\n"
        "License: MIT\n"
        "Requires-Python: >=3.9\n"
        "Description-Content-Type: text/markdown\n\n" + readme
    )


def _files():
    for root, dirs, names in os.walk(SOURCE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(names):
            if name == GENERATED_VERSION and root == SOURCE:
                continue  # always written afresh from the header
            if name.endswith((".py",) + NATIVE):
                path = os.path.join(root, name)
                yield path, os.path.relpath(path, os.path.dirname(SOURCE)).replace(os.sep, "/")


def _library_name():
    if sys.platform == "win32":
        return "dapper_ipc.dll"
    if sys.platform == "darwin":
        return "libdapper_ipc.dylib"
    return "libdapper_ipc.so"


# ---- the platform tag, from the library itself -----------------------------------------

# The libraries a manylinux wheel may use from the system (PEP 600: those every
# glibc-based distribution has; auditwheel's policy list, the parts a C ABI library links).
MANYLINUX_SYSTEM_LIBRARIES = {
    "libc.so.6", "libm.so.6", "libdl.so.2", "librt.so.1", "libpthread.so.0", "libutil.so.1",
    "libresolv.so.2", "libnsl.so.1", "libcrypt.so.1", "libgcc_s.so.1", "libstdc++.so.6",
    "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "ld-linux.so.2",
}
_ELF_ARCH = {62: "x86_64", 183: "aarch64"}
_SHT_DYNAMIC = 6
_SHT_GNU_VERNEED = 0x6FFFFFFE
_DT_NEEDED = 1


def elf_dependencies(path):
    """(architecture, NEEDED libraries, {library: set of version names it requires}) of an
    ELF shared object: its .dynamic NEEDED entries and its .gnu.version_r section (the
    symbol versions it imports, e.g. GLIBC_2.34 from libc.so.6). What `readelf -V -d`
    shows, in the standard library."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF":
        raise ValueError(f"{path} is not an ELF file")
    is64 = data[4] == 2
    endian = "<" if data[5] == 1 else ">"
    machine = struct.unpack_from(endian + "H", data, 18)[0]
    if is64:
        shoff, = struct.unpack_from(endian + "Q", data, 0x28)
        shentsize, shnum, _shstrndx = struct.unpack_from(endian + "HHH", data, 0x3A)
        section = endian + "IIQQQQIIQQ"
    else:
        shoff, = struct.unpack_from(endian + "I", data, 0x20)
        shentsize, shnum, _shstrndx = struct.unpack_from(endian + "HHH", data, 0x2E)
        section = endian + "IIIIIIIIII"
    sections = []
    for i in range(shnum):
        _name, sh_type, _flags, _addr, offset, size, link, info, _align, _entsize = struct.unpack_from(
            section, data, shoff + i * shentsize)
        sections.append((sh_type, offset, size, link, info))

    def string(table, at):
        start = sections[table][1] + at
        return data[start:data.index(b"\0", start)].decode("ascii", "replace")

    needed, versions = [], {}
    for sh_type, offset, size, link, info in sections:
        if sh_type == _SHT_DYNAMIC:
            entry = endian + ("qQ" if is64 else "iI")
            step = struct.calcsize(entry)
            for at in range(offset, offset + size, step):
                tag, value = struct.unpack_from(entry, data, at)
                if tag == 0:
                    break
                if tag == _DT_NEEDED:
                    needed.append(string(link, value))
        elif sh_type == _SHT_GNU_VERNEED:
            at = offset
            for _ in range(info):  # sh_info: the number of Verneed entries
                _vn_version, count, file_name, aux, following = struct.unpack_from(endian + "HHIII", data, at)
                library = string(link, file_name)
                aux_at = at + aux
                for _ in range(count):
                    _hash, _flags, _other, name, aux_next = struct.unpack_from(endian + "IHHII", data, aux_at)
                    versions.setdefault(library, set()).add(string(link, name))
                    aux_at += aux_next
                at += following
    return _ELF_ARCH.get(machine, f"machine{machine}"), needed, versions


def manylinux_tag(library):
    """manylinux_2_<X>_<arch> for a Linux library: X is the highest GLIBC_2.X version it
    imports. Refuses a library that needs anything a manylinux wheel may not assume."""
    arch, needed, versions = elf_dependencies(library)
    if arch not in ("x86_64", "aarch64"):
        raise ValueError(f"{library}: architecture {arch} has no manylinux tag here")
    outside = [n for n in needed if n not in MANYLINUX_SYSTEM_LIBRARIES]
    if outside:
        raise ValueError(f"{library} needs {', '.join(outside)}, which a manylinux wheel cannot assume")
    glibc = [tuple(int(p) for p in v[len("GLIBC_"):].split("."))
             for names in versions.values() for v in names if re.fullmatch(r"GLIBC_\d+\.\d+(\.\d+)?", v)]
    others = sorted(v for names in versions.values() for v in names
                    if not v.startswith("GLIBC_") and v != "GLIBC_PRIVATE")
    if others:
        # GLIBCXX_/CXXABI_/GCC_ versions also bound the manylinux level; none are expected
        # of this library, so say so rather than guess.
        raise ValueError(f"{library} imports {', '.join(others)}: work out their manylinux level (auditwheel)")
    if any(v == "GLIBC_PRIVATE" for names in versions.values() for v in names):
        raise ValueError(f"{library} imports GLIBC_PRIVATE symbols: it would only run on this exact glibc")
    major, minor = max(glibc)[:2] if glibc else (2, 17)
    if major != 2:
        raise ValueError(f"{library}: glibc {major}.{minor} is not 2.x")
    return f"manylinux_2_{max(minor, 17)}_{arch}"


def platform_tag(library):
    """The wheel platform tag of a wheel that carries `library`."""
    if sys.platform.startswith("linux"):
        return manylinux_tag(library)
    # macOS: macosx_<major>_<minor>_<arch> of the deployment target this Python builds for
    # (the .NET SDK's minimum macOS is below it); Windows: win_amd64 / win_arm64.
    # Not exercised on these Linux machines: the GitHub workflow's macOS/Windows jobs are.
    return re.sub(r"[^A-Za-z0-9]", "_", sysconfig.get_platform())


def _wheel_name(tag):
    return f"{NAME}-{_version()}-{tag}.whl"


def platform_wheel_name(library):
    """The file name build_wheel gives the wheel that carries `library`."""
    return _wheel_name("py3-none-" + platform_tag(library))


# ---- writing wheels ----------------------------------------------------------------------

def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def _write_wheel(wheel_directory, contents, tag, purelib):
    version = _version()
    info = f"{NAME}-{version}.dist-info"
    wheel_name = _wheel_name(tag)
    records = []
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w", zipfile.ZIP_DEFLATED) as wheel:
        def add(arcname, data, mode=0o644):
            entry = zipfile.ZipInfo(arcname, date_time=(2026, 1, 1, 0, 0, 0))
            entry.external_attr = (0o100000 | mode) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(entry, data)
            records.append(_record_line(arcname, data))

        for arcname, data in contents:
            add(arcname, data, 0o755 if arcname.endswith(NATIVE) else 0o644)
        license_text = _license_text()
        if license_text is not None:
            add(f"{info}/LICENSE", license_text)
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
    contents = [(f"{NAME}/{GENERATED_VERSION}", _version_file())]
    for path, arcname in _files():
        with open(path, "rb") as f:
            contents.append((arcname, f.read()))
    library = (config_settings or {}).get("library")
    natives = [arcname for arcname, _data in contents if arcname.endswith(NATIVE)]
    if library:
        if not os.path.isfile(library):
            raise FileNotFoundError(f"library={library}: no such file")
        with open(library, "rb") as f:
            contents = [(a, d) for a, d in contents if not a.endswith(NATIVE)]
            contents.append((f"{NAME}/{_library_name()}", f.read()))
    elif natives:
        # A library copied into src/dapper_ipc/ by hand: tag for it.
        library = os.path.join(os.path.dirname(SOURCE), natives[0])
    if library:
        return _write_wheel(wheel_directory, contents, "py3-none-" + platform_tag(library), False)
    return _write_wheel(wheel_directory, contents, "py3-none-any", True)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    # A .pth file that puts src/ on sys.path: edits to the checkout take effect at once.
    return _write_wheel(wheel_directory, [(f"__editable__.{NAME}.pth", (os.path.join(HERE, "src") + "\n").encode())],
                        "py3-none-any", True)


def build_sdist(sdist_directory, config_settings=None):
    base = f"{NAME}-{_version()}"
    name = f"{base}.tar.gz"

    def add_bytes(sdist, arcname, data):
        info = tarfile.TarInfo(arcname)
        info.size = len(data)
        sdist.addfile(info, io.BytesIO(data))

    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as sdist:
        for entry in ("pyproject.toml", "README.md", "build_backend", "src"):
            sdist.add(os.path.join(HERE, entry), arcname=f"{base}/{entry}",
                      filter=lambda t: None if "__pycache__" in t.name or t.name.endswith(NATIVE) else t)
        add_bytes(sdist, f"{base}/src/{NAME}/{GENERATED_VERSION}", _version_file())
        license_text = _license_text()
        if license_text is not None:
            add_bytes(sdist, f"{base}/LICENSE", license_text)
        add_bytes(sdist, f"{base}/PKG-INFO", _metadata().encode("utf-8"))
    return name


