"""Builds the benchmarks and runs them all, library and baselines alternately, then
prints one table: metric, library, baseline, ratio. `--quick`: a few iterations each
(a smoke check for CI; its figures mean nothing)."""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
QUICK = "--quick" in sys.argv


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def library():
    explicit = os.environ.get("DAPPER_IPC_LIBRARY")
    if explicit:
        return os.path.abspath(explicit)
    found = glob.glob(os.path.join(ROOT, "build", "default", "dapper_ipc", "libdapper_ipc.so"))
    if not found:
        print("building the library: cmake --preset default && cmake --build --preset default", flush=True)
        sh("cmake", "--preset", "default", cwd=ROOT)
        sh("cmake", "--build", "--preset", "default", "--target", "dapper_ipc_publish", cwd=ROOT)
        found = glob.glob(os.path.join(ROOT, "build", "default", "dapper_ipc", "libdapper_ipc.so"))
    return found[0]


def figures(text):
    return {k: float(v) for k, v in re.findall(r"(\w+)=([0-9.]+)", text)}


def main():
    lib = library()
    libdir = os.path.dirname(lib)
    out = tempfile.mkdtemp(prefix="dapper-bench-")
    bench, startup = os.path.join(out, "bench"), os.path.join(out, "startup")
    include = os.path.join(ROOT, "include")
    sh("cc", "-O2", "-I", include, os.path.join(HERE, "bench.c"), "-o", bench, f"-L{libdir}", "-ldapper_ipc",
       f"-Wl,-rpath,{libdir}", "-lpthread")
    sh("cc", "-O2", "-I", include, os.path.join(HERE, "startup.c"), "-o", startup, "-ldl", "-lpthread")

    rtt_n = 200 if QUICK else 20000
    rows = []

    def rtt(transport, pinned):
        prefix = ["taskset", "-c", "0"] if pinned and shutil.which("taskset") else []
        raw = figures(sh(*prefix, bench, "rtt", "raw", transport, str(rtt_n)))
        mine = figures(sh(*prefix, bench, "rtt", "lib", transport, str(rtt_n)))
        mode = "pinned" if prefix else "default"
        for p in ("p50", "p99"):
            rows.append((f"round trip {transport} {mode} {p} (µs)", mine[f"{p}_us"], raw[f"{p}_us"], "raw C"))

    for transport in ("unix", "tcp"):
        for pinned in (False, True):
            rtt(transport, pinned)

    big, small = (20, 2000) if QUICK else (2000, 400000)
    raw = figures(sh(bench, "tput", "raw", "unix", "1048576", str(big)))
    mine = figures(sh(bench, "tput", "lib", "unix", "1048576", str(big)))
    rows.append(("1 MiB frames, unix (MB/s)", mine["MBps"], raw["MBps"], "raw C"))
    raw = figures(sh(bench, "tput", "raw", "unix", "128", str(small)))
    mine = figures(sh(bench, "tput", "lib", "unix", "128", str(small)))
    rows.append(("128-byte frames back to back, unix (frames/s)", mine["frames_per_s"], raw["frames_per_s"], "raw C, 1 write/frame"))

    env = dict(os.environ, DAPPER_IPC_LIBRARY=lib, PYTHONPATH=os.path.join(ROOT, "python", "src"))
    py = figures(sh(sys.executable, os.path.join(HERE, "python_bench.py"), bench,
                    "200" if QUICK else "20000", "2000" if QUICK else "300000", env=env))
    raw_c = [r for r in rows if r[0] == "round trip unix default p50 (µs)"][0][2]
    rows.append(("Python round trip p50, dict in/out (µs)", py["py_package_rtt_p50_us"], raw_c, "raw C"))
    rows.append(("Python round trip p50 (µs)", py["py_package_rtt_p50_us"], py["py_asyncio_rtt_p50_us"], "asyncio streams"))
    rows.append(("Python round trip p50 (µs)", py["py_package_rtt_p50_us"], py["py_blocking_rtt_p50_us"], "blocking sockets"))
    rows.append(("Python receive rate (msgs/s)", py["py_package_msgs_per_s"], py["py_asyncio_msgs_per_s"], "asyncio streams"))
    rows.append(("Python receive rate (msgs/s)", py["py_package_msgs_per_s"], py["py_blocking_msgs_per_s"], "blocking sockets"))

    starts = [figures(sh(startup, lib)) for _ in range(3 if QUICK else 7)]
    starts.sort(key=lambda f: f["load_to_first_round_trip_ms"])
    median = starts[len(starts) // 2]
    stripped = os.path.join(out, "stripped.so")
    shutil.copy(lib, stripped)
    if shutil.which("strip"):
        sh("strip", stripped)
    rows.append(("dlopen to first round trip (ms)", median["load_to_first_round_trip_ms"], None, ""))
    rows.append(("library size, stripped (MiB)", os.path.getsize(stripped) / 2**20, None, ""))
    rows.append(("resident memory gained: load + 1 connection (MiB)", median["rss_gain_kib"] / 1024, None, ""))
    shutil.rmtree(out)

    print(f"\n{'metric':<52} {'library':>12} {'baseline':>12} {'ratio':>7}  baseline is")
    for metric, mine, base, what in rows:
        ratio = f"{mine / base:.2f}" if base else ""
        base_text = f"{base:,.1f}" if base is not None else ""
        print(f"{metric:<52} {mine:>12,.1f} {base_text:>12} {ratio:>7}  {what}")
    if QUICK:
        print("\n(--quick: a few iterations each; a smoke check, not a measurement)")


if __name__ == "__main__":
    main()
