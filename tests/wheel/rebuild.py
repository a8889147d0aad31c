"""The build's `wheel` target makes the wheel whenever the wheel file is missing, and
leaves an up-to-date one alone.

    rebuild.py CMAKE BUILD_DIR WHEEL_DIR

Deletes the wheels in WHEEL_DIR, builds the target `wheel` in BUILD_DIR, checks one
wheel is there again; builds the target once more and checks that wheel was not
rewritten. (CTest runs it under a lock shared with the test that installs the wheel.)"""
import glob
import os
import subprocess
import sys

cmake, build_dir, wheel_dir = sys.argv[1:4]


def build_wheel_target():
    run = subprocess.run([cmake, "--build", build_dir, "--target", "wheel"], capture_output=True, text=True)
    print(run.stdout, run.stderr, sep="")
    if run.returncode != 0:
        sys.exit(f"FAIL: building the target wheel exited {run.returncode}")


def wheels():
    return glob.glob(os.path.join(wheel_dir, "dapper_ipc-*.whl"))


for old in wheels():
    os.remove(old)
build_wheel_target()
rebuilt = wheels()
if len(rebuilt) != 1:
    sys.exit(f"FAIL: after deleting the wheel, the target wheel left {rebuilt} in {wheel_dir}, not one wheel")
stamp = os.stat(rebuilt[0]).st_mtime_ns
build_wheel_target()
if wheels() != rebuilt or os.stat(rebuilt[0]).st_mtime_ns != stamp:
    sys.exit(f"FAIL: the target wheel rewrote {rebuilt[0]}, which was up to date")
print(f"{os.path.basename(rebuilt[0])}: made again after it was deleted, then left alone")
