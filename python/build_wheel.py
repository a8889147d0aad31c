#!/usr/bin/env python3
"""Builds the platform wheel of the dapper_ipc package with the published library inside.

    python3 python/build_wheel.py --library build/default/dapper_ipc/libdapper_ipc.so --out build/default/wheels

(`cmake --build --preset default --target wheel` runs this with --if-stale.) The wheel is
tagged for the platforms the library runs on, computed from the library: on Linux
manylinux_2_<X>_<arch>, X the highest GLIBC_2.X symbol version it imports. Standard
library only; nothing is downloaded. Older wheels of the same version in --out are
removed first, so --out holds one wheel per version and platform.

--if-stale: build only when the wheel is missing, older than one of its inputs (the
library, the package's files, README.md, the header, LICENSE, the build scripts) or holds
other files than the package has now. The wheel file itself is what is checked: its name
depends on the library (the platform tag), so a build system cannot name it in advance.
"""
import argparse
import glob
import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "build_backend"))

import dapper_build  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--library", required=True, help="the published libdapper_ipc.so / .dylib / dapper_ipc.dll")
    parser.add_argument("--out", required=True, help="the folder to write the wheel to")
    parser.add_argument("--if-stale", action="store_true", help="build only when the wheel is missing or out of date")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.if_stale:
        wheel = os.path.join(args.out, dapper_build.platform_wheel_name(args.library))
        if _up_to_date(wheel, args.library):
            print(f"{wheel}: up to date")
            return
    for old in glob.glob(os.path.join(args.out, f"dapper_ipc-{dapper_build._version()}-*.whl")):
        os.remove(old)
    name = dapper_build.build_wheel(args.out, {"library": os.path.abspath(args.library)})
    print(os.path.join(args.out, name))


def _inputs(library):
    sources = [path for path, _arcname in dapper_build._files()]
    scripts = glob.glob(os.path.join(HERE, "build_backend", "*.py")) + [os.path.abspath(__file__)]
    return [library, dapper_build.HEADER, dapper_build.LICENSE, os.path.join(HERE, "README.md"), *sources, *scripts]


def _up_to_date(wheel, library):
    if not os.path.isfile(wheel):
        return False
    built = os.path.getmtime(wheel)
    if any(os.path.exists(p) and os.path.getmtime(p) > built for p in _inputs(library)):
        return False
    try:
        with zipfile.ZipFile(wheel) as z:
            packaged = {n for n in z.namelist() if n.startswith(dapper_build.NAME + "/") and n.endswith(".py")}
    except zipfile.BadZipFile:  # a write that was interrupted
        return False
    expected = {arcname for _path, arcname in dapper_build._files() if arcname.endswith(".py")}
    return packaged == expected | {f"{dapper_build.NAME}/{dapper_build.GENERATED_VERSION}"}


if __name__ == "__main__":
    main()
