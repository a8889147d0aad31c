#!/usr/bin/env python3
"""Builds the platform wheel of the dapper_ipc package with the published library inside.

    python3 python/build_wheel.py --library build/default/dapper_ipc/libdapper_ipc.so --out build/default/wheels

(`cmake --build --preset default --target wheel` runs exactly this.) The wheel is tagged
for the platforms the library runs on, computed from the library: on Linux
manylinux_2_<X>_<arch>, X the highest GLIBC_2.X symbol version it imports. Standard
library only; nothing is downloaded. Older wheels of the same version in --out are
removed first, so --out holds one wheel per version and platform.
"""
import argparse
import glob
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "build_backend"))

import dapper_build  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--library", required=True, help="the published libdapper_ipc.so / .dylib / dapper_ipc.dll")
    parser.add_argument("--out", required=True, help="the folder to write the wheel to")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for old in glob.glob(os.path.join(args.out, f"dapper_ipc-{dapper_build._version()}-*.whl")):
        os.remove(old)
    name = dapper_build.build_wheel(args.out, {"library": os.path.abspath(args.library)})
    print(os.path.join(args.out, name))


if __name__ == "__main__":
    main()
