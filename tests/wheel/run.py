"""The platform wheel works where a user installs it: outside the repository, with no
build/ folder, no DAPPER_IPC_LIBRARY, no PYTHONPATH, no LD_LIBRARY_PATH.

    run.py WHEEL_DIR PYTHON_TESTS_DIR LIBRARY

Checks the wheel (one, tagged as computed from LIBRARY, with the library inside and
Root-Is-Purelib false); installs it offline into a fresh venv made in a temporary
folder outside the repository (pip install --target when this Python has no venv);
checks the installed package loads the library it carries, from a directory that is
not the repository; then runs the Python package's unittest suite, copied next to the
venv, against the installed package."""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

wheel_dir, tests_dir, library = sys.argv[1:4]
repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(repo, "python", "build_backend"))
import dapper_build  # noqa: E402


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


wheels = glob.glob(os.path.join(wheel_dir, f"dapper_ipc-{dapper_build._version()}-*.whl"))
if len(wheels) != 1:
    fail(f"expected one wheel of version {dapper_build._version()} in {wheel_dir}, found {wheels}")
wheel = wheels[0]
name = os.path.basename(wheel)
print("wheel:", name)

library_name = dapper_build._library_name()
with zipfile.ZipFile(wheel) as z:
    names = z.namelist()
    if f"dapper_ipc/{library_name}" not in names:
        fail(f"{name} has no dapper_ipc/{library_name}: it carries {names}")
    wheel_meta = z.read(f"dapper_ipc-{dapper_build._version()}.dist-info/WHEEL").decode()
expected_tag = "py3-none-" + dapper_build.platform_tag(library)
if not name.endswith(f"-{expected_tag}.whl") or f"Tag: {expected_tag}\n" not in wheel_meta:
    fail(f"{name} is not tagged {expected_tag}")
if "Root-Is-Purelib: false" not in wheel_meta:
    fail("a wheel with a native library must say Root-Is-Purelib: false")
if sys.platform.startswith("linux"):
    if not re.fullmatch(r"py3-none-manylinux_2_\d+_(x86_64|aarch64)", expected_tag):
        fail(f"{expected_tag} is not a manylinux tag")
    # The same figure another way: the highest GLIBC_ version objdump lists.
    objdump = shutil.which("objdump")
    if objdump:
        listing = subprocess.run([objdump, "-T", library], capture_output=True, text=True, check=True).stdout
        highest = max(int(m) for m in re.findall(r"GLIBC_2\.(\d+)", listing))
        if f"manylinux_2_{max(highest, 17)}_" not in expected_tag:
            fail(f"objdump -T says GLIBC_2.{highest}, the tag is {expected_tag}")
        print(f"tag {expected_tag}: objdump -T agrees (highest GLIBC_2.{highest})")

scratch = tempfile.mkdtemp(prefix="wheel-test-")  # outside the repository
try:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DAPPER_IPC_LIBRARY", "PYTHONPATH", "LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    venv = os.path.join(scratch, "venv")
    made = subprocess.run([sys.executable, "-m", "venv", venv], capture_output=True, text=True)
    if made.returncode == 0:
        python = os.path.join(venv, "Scripts" if os.name == "nt" else "bin", "python")
        subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", wheel],
                       env=env, check=True)
        print("installed into a fresh venv:", venv)
    else:
        print("no venv here (" + made.stderr.strip().splitlines()[-1] + "): pip install --target")
        site = os.path.join(scratch, "site")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
                        "--target", site, wheel], env=env, check=True)
        python = sys.executable
        env["PYTHONPATH"] = site

    where = subprocess.run(
        [python, "-c", "import dapper_ipc, os; print(dapper_ipc.find_library()); "
                       "print(os.path.dirname(dapper_ipc.__file__)); print(dapper_ipc.library_version()); "
                       "print(dapper_ipc.__version__)"],
        env=env, cwd=scratch, capture_output=True, text=True)
    if where.returncode != 0:
        fail("the installed package cannot load its library:\n" + where.stderr)
    found, package, library_version, package_version = where.stdout.split("\n")[:4]
    print("installed package:", package, "loads", found)
    if os.path.dirname(found) != package or package.startswith(repo + os.sep):
        fail(f"the installed package loaded {found}, not the library in its own folder {package}")
    if library_version != package_version or library_version != dapper_build._version():
        fail(f"versions differ: library {library_version}, package {package_version}, header {dapper_build._version()}")

    # The package's tests, away from the checkout: _support imports the installed package.
    tests = os.path.join(scratch, "tests")
    shutil.copytree(tests_dir, tests, ignore=shutil.ignore_patterns("__pycache__"))
    suite = subprocess.run([python, "-m", "unittest", "discover", "-s", tests, "-v"], env=env, cwd=scratch)
    if suite.returncode != 0:
        fail("the Python tests failed against the installed wheel")
    print("the Python tests passed against the installed wheel")
finally:
    shutil.rmtree(scratch, ignore_errors=True)
