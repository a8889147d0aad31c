"""python/README.md opens with a two-sided example that runs as printed: its first two
Python blocks are samples/python/readme_adapter.py and readme_launcher.py, character for
character, and the adapter (which starts the launcher) prints the launcher's answer and
exits 0. The environment names the package and the library (CTest: PYTHONPATH,
DAPPER_IPC_LIBRARY)."""
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SAMPLES = os.path.join(ROOT, "samples", "python")
EXPECTED = "adapter got {'event': 'response', 'id': 1, 'success': True}"


def read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def main():
    readme = read("python", "README.md")
    opening = readme.split("\n- ", 1)[0]  # before the first bullet of the reference
    blocks = re.findall(r"```python\n(.*?)```", opening, re.S)
    files = [read("samples", "python", name) for name in ("readme_adapter.py", "readme_launcher.py")]
    if blocks[:2] != files:
        print("python/README.md's first two Python blocks are not samples/python/readme_adapter.py and "
              "readme_launcher.py as they are: copy the files into the README")
        return 1
    run = subprocess.run([sys.executable, os.path.join(SAMPLES, "readme_adapter.py")],
                         capture_output=True, text=True, timeout=60)
    print(run.stdout, run.stderr, sep="")
    if run.returncode != 0 or run.stdout.strip() != EXPECTED:
        print(f"expected exit 0 and {EXPECTED!r}; got exit {run.returncode}")
        return 1
    print("python/README.md's example: as printed, ran (exit 0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
