"""Builds the benchmarks, runs them all (the library and its baselines alternately, in
rounds, on this machine), and prints one table: metric, library, baseline, ratio, and the
issue's target for that figure. Reports; asserts nothing about timing (exit status 0 when
every benchmark ran). `--quick`: one round of a few iterations each, a smoke check for CI
whose figures mean nothing. See bench/README.md."""
import glob
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from array import array

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
QUICK = "--quick" in sys.argv
STARTED = time.monotonic()

# Sizes of the run. A full run takes about 75 seconds on 2 cores.
if QUICK:
    ROUNDS, RTT_N, RTT_SECONDS = 1, 200, 5
    BIG_COUNT, SMALL_COUNT, RECV_COUNT = 20, 2000, 2000
    PY = dict(iterations=200, flood=2000, rounds=1, seconds=5)
    NODE = dict(iterations=200, flood=2000, rounds=1, seconds=5)
    STARTS, RSS_STARTS = 2, 1
    SESSION_ROUNDS = {1: 10, 16: 2}
    CLOSE_CYCLES, EXIT_RUNS = 4, 1
else:
    ROUNDS, RTT_N, RTT_SECONDS = 5, 8000, 8
    BIG_COUNT, SMALL_COUNT, RECV_COUNT = 1000, 200000, 300000
    PY = dict(iterations=5000, flood=100000, rounds=3, seconds=8)
    NODE = dict(iterations=5000, flood=50000, rounds=3, seconds=8)
    STARTS, RSS_STARTS = 9, 5
    SESSION_ROUNDS = {1: 300, 16: 25}  # children at once: rounds
    CLOSE_CYCLES, EXIT_RUNS = 125, 20  # close: 8 threads x 125 cycles; exit: runs per mode
ORIGINAL_MSGS_PER_S = 27000  # the pure-Python original, measured once on these machines
STEP_TIMEOUT = 150  # seconds, any one benchmark process


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=STEP_TIMEOUT, **kw).stdout


def figures(text):
    return {k: float(v) for k, v in re.findall(r"(\w+)=([0-9.]+)", text)}


def newest_source():
    paths = [os.path.join(ROOT, "include", "dapper_ipc.h")]
    for pattern in ("**/*.cs", "**/*.c", "**/*.h", "*.csproj"):
        paths += [p for p in glob.glob(os.path.join(ROOT, "src", "DapperIpc.Native", pattern), recursive=True)
                  if f"{os.sep}obj{os.sep}" not in p and f"{os.sep}bin{os.sep}" not in p]
    return max(os.path.getmtime(p) for p in paths if os.path.exists(p))


def library():
    """DAPPER_IPC_LIBRARY if set; else the CMake build's library if it is newer than the
    sources; else `dotnet publish` into bench/.build/lib (kept there for the next run)."""
    explicit = os.environ.get("DAPPER_IPC_LIBRARY")
    if explicit:
        return os.path.abspath(explicit), "DAPPER_IPC_LIBRARY"
    source_time = newest_source()
    candidates = [os.path.join(ROOT, "build", "default", "dapper_ipc", "libdapper_ipc.so"),
                  os.path.join(HERE, ".build", "lib", "libdapper_ipc.so")]
    fresh = [c for c in candidates if os.path.exists(c) and os.path.getmtime(c) >= source_time]
    if fresh:
        return fresh[0], "up to date with src/"
    out = os.path.join(HERE, ".build", "lib")
    print(f"building the library: dotnet publish ... -o {os.path.relpath(out, ROOT)}", flush=True)
    try:
        subprocess.run(["dotnet", "publish", os.path.join(ROOT, "src", "DapperIpc.Native", "DapperIpc.Native.csproj"),
                        "-c", "Release", "-r", "linux-x64", "-o", out, "--nologo", "-v", "quiet"],
                       check=True, capture_output=True, text=True, timeout=900)
        return os.path.join(out, "libdapper_ipc.so"), "published now from src/"
    except (OSError, subprocess.SubprocessError) as error:
        stale = [c for c in candidates if os.path.exists(c)]
        if not stale:
            raise SystemExit(f"bench: cannot build the library ({error}); set DAPPER_IPC_LIBRARY")
        print(f"bench: the publish failed ({error}); using the older {stale[0]}", file=sys.stderr)
        return stale[0], "OLDER than src/ (publish failed)"


def compiler():
    return os.environ.get("CC") or shutil.which("gcc") or "cc"


def load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_busy(seconds=1.0):
    """Share of all CPUs busy over `seconds` (from /proc/stat): what others run right now."""
    def sample():
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, total
    try:
        idle0, total0 = sample()
        time.sleep(seconds)
        idle1, total1 = sample()
        return f"{100 * (1 - (idle1 - idle0) / max(1, total1 - total0)):.0f}%"
    except (OSError, ValueError, IndexError):
        return "unknown"


def main():
    lib, lib_origin = library()
    out = tempfile.mkdtemp(prefix="dapper-bench-")
    # The bench program records the library's SONAME (libdapper_ipc.so.<major>): link and
    # run it against a folder holding that name for whichever file was chosen above
    # (a DAPPER_IPC_LIBRARY may sit in a folder that has only libdapper_ipc.so).
    libdir = os.path.join(out, "lib")
    os.makedirs(libdir)
    with open(os.path.join(ROOT, "include", "dapper_ipc.h"), encoding="utf-8") as f:
        major = re.search(r"^#define DAPPER_IPC_VERSION_MAJOR (\d+)", f.read(), re.M).group(1)
    for name in ("libdapper_ipc.so", f"libdapper_ipc.so.{major}"):
        os.symlink(lib, os.path.join(libdir, name))
    try:
        run_all(lib, lib_origin, libdir, out)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def run_all(lib, lib_origin, libdir, out):
    bench, startup = os.path.join(out, "bench"), os.path.join(out, "startup")
    include = os.path.join(ROOT, "include")
    cc = compiler()
    sh(cc, "-O2", "-Wall", "-I", include, os.path.join(HERE, "bench.c"), "-o", bench, f"-L{libdir}", "-ldapper_ipc",
       f"-Wl,-rpath,{libdir}", "-lpthread")
    sh(cc, "-O2", "-Wall", "-I", include, os.path.join(HERE, "startup.c"), "-o", startup, "-ldl", "-lpthread")
    close = os.path.join(out, "close")
    sh(cc, "-O2", "-Wall", "-I", include, os.path.join(HERE, "close.c"), "-o", close, f"-L{libdir}", "-ldapper_ipc",
       f"-Wl,-rpath,{libdir}", "-lpthread")
    sessions = os.path.join(out, "sessions")
    sh(cc, "-O2", "-Wall", "-I", include, os.path.join(HERE, "sessions.c"), "-o", sessions, f"-L{libdir}",
       "-ldapper_ipc", f"-Wl,-rpath,{libdir}", "-lpthread")
    adopt = os.path.join(out, "adopt")
    sh(cc, "-O2", "-Wall", "-I", include, os.path.join(HERE, "adopt.c"), "-o", adopt, f"-L{libdir}", "-ldapper_ipc",
       f"-Wl,-rpath,{libdir}", "-lpthread")
    load_before, busy_before = load(), cpu_busy()
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else None

    # ---- 1. round trips: pooled samples of every round, raw and library alternated ----
    rtt_configs = [("unix", False), ("unix", True), ("tcp", False), ("tcp", True)]
    rtt_impls = {("unix", False): ["raw", "lib", "lib-hb", "lib-wait", "lib-pull"],
                 ("tcp", False): ["raw", "lib", "lib-hb", "lib-wait", "lib-pull"],
                 ("unix", True): ["raw", "lib", "lib-pull"], ("tcp", True): ["raw", "lib", "lib-pull", "lib-nagle"]}
    pooled = {}
    for r in range(ROUNDS):
        for transport, pinned in rtt_configs:
            if pinned and not pin:
                continue
            impls = rtt_impls.get((transport, pinned), ["raw", "lib"])
            if not pin and transport == "tcp":
                impls = impls + ["lib-nagle"]  # pinned runs it otherwise
            for impl in (impls if r % 2 == 0 else impls[::-1]):
                samples = os.path.join(out, f"rtt-{impl}-{transport}-{pinned}.bin")
                # The Nagle peer's first round trips each take a delayed ACK if it is not
                # fixed (40 ms): fewer of them, so a broken run still ends in time.
                n = str(min(RTT_N, 2000)) if impl == "lib-nagle" else str(RTT_N)
                sh(*(pin if pinned else []), bench, "rtt", impl, transport, n, str(RTT_SECONDS), samples)
                pooled[(impl, transport, pinned)] = samples

    def rtt_percentiles(impl, transport, pinned):
        values = array("d")
        with open(pooled[(impl, transport, pinned)], "rb") as f:
            values.frombytes(f.read())
        ordered = sorted(values)
        return {p: ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] for p in (50, 99)}, len(ordered)

    def beside_raw(pinned, runs):
        """p50s of raw C and of each Python run (name -> (python_bench.py mode, environment)),
        alternated round by round, the order turned each round."""
        p50s = {"raw": []}
        for r in range(ROUNDS):
            samples = os.path.join(out, f"rtt-raw-beside-python-{pinned}-{r}.bin")
            sh(*(pin if pinned else []), bench, "rtt", "raw", "unix", str(RTT_N), str(RTT_SECONDS), samples)
            values = array("d")
            with open(samples, "rb") as f:
                values.frombytes(f.read())
            p50s["raw"].append(sorted(values)[len(values) // 2])
            names = list(runs)
            for name in names[r % len(names):] + names[:r % len(names)]:
                mode, run_env = runs[name]
                got = figures(sh(*(pin if pinned else []), sys.executable, os.path.join(HERE, "python_bench.py"), bench,
                                 str(PY["iterations"]), str(PY["flood"]), "1", str(PY["seconds"]), mode, env=run_env))
                p50s.setdefault(name, []).append(got["py_adapter_rtt_p50_us" if mode == "adapter-only"
                                                     else "py_blocking_rtt_p50_us"])
        return p50s

    rows = []  # (metric, library, baseline, baseline-is, target, note)
    for transport, pinned in rtt_configs:
        if pinned and not pin:
            continue
        mode = "pinned" if pinned else "default"
        raw, n = rtt_percentiles("raw", transport, pinned)
        mine, _ = rtt_percentiles("lib", transport, pinned)
        rows.append((f"round trip {transport} {mode} p50 (µs)", mine[50], raw[50], "raw C", ("<=", 1.2), f"n={n}"))
        rows.append((f"round trip {transport} {mode} p99 (µs)", mine[99], raw[99], "raw C", None, ""))
    for transport, pinned in rtt_configs:
        if pinned and not pin:
            continue
        mode = "pinned" if pinned else "default"
        raw, n = rtt_percentiles("raw", transport, pinned)
        pulled, _ = rtt_percentiles("lib-pull", transport, pinned)
        rows.append((f"round trip awaited with dapper_ipc_recv, {transport} {mode} p50 (µs)", pulled[50], raw[50],
                     "raw C", ("<=", 1.1), "request and response on one thread, no reader"))
    nagle_key = ("lib-nagle", "tcp", bool(pin))
    if nagle_key in pooled:
        nagle, n = rtt_percentiles(*nagle_key)
        rows.append(("tcp round trip, peer without TCP_NODELAY writing 2 frames (µs)", nagle[50], None, "",
                     ("<", 2000.0), f"median of {n}; target < 2 ms; 44 ms before the held ACK was flushed"))
    for transport in ("unix", "tcp"):
        wait, _ = rtt_percentiles("lib-wait", transport, False)
        mine, _ = rtt_percentiles("lib", transport, False)
        rows.append((f"  reply from a waiting thread instead, {transport} p50 (µs)", wait[50], mine[50],
                     "lib, reply in callback", None, "why the callback is used"))

    for transport in ("unix", "tcp"):
        beating, n = rtt_percentiles("lib-hb", transport, False)
        mine, _ = rtt_percentiles("lib", transport, False)
        rows.append((f"round trip with heartbeats every 100 ms, {transport} p50 (µs)", beating[50], mine[50],
                     "lib, heartbeats off", ("<=", 1.05), f"n={n}; within noise of off"))

    # ---- 1b. a peer frozen with SIGSTOP: how soon heartbeats (100 ms) declare it dead ----
    for transport in ("unix", "tcp"):
        got = figures(sh(bench, "detect", transport, "100", "3" if QUICK else "20"))
        rows.append((f"frozen peer declared dead, heartbeat_ms 100, {transport}, worst (ms)", got["detect_max_ms"],
                     None, "", ("<=", got["bound_ms"]), f"mean {got['detect_mean_ms']:.0f} ms over {got['runs']:.0f} "
                     "SIGSTOPs; bound 3 x heartbeat_ms + 100 ms"))

    # ---- 2. throughput, one direction: median of the rounds ----
    tput_cases = [(1048576, BIG_COUNT, "unix", ["raw", "lib"]), (1048576, BIG_COUNT, "tcp", ["raw", "lib"]),
                  (128, SMALL_COUNT, "unix", ["raw", "lib", "lib-batch", "raw-bufread"]),
                  (128, SMALL_COUNT, "tcp", ["raw", "lib", "lib-batch", "raw-bufread"])]
    tput = {}
    for r in range(ROUNDS):
        for size, count, transport, impls in tput_cases:
            k = r % len(impls)
            for impl in impls[k:] + impls[:k]:
                f = figures(sh(bench, "tput", impl, transport, str(size), str(count)))
                tput.setdefault((impl, size, transport), []).append(f["MBps"] if size > 128 else f["frames_per_s"])

    recv = {}
    for r in range(ROUNDS):
        for impl in (["raw", "lib"] if r % 2 == 0 else ["lib", "raw"]):
            recv.setdefault(impl, []).append(figures(sh(bench, "recv", impl, "unix", str(RECV_COUNT)))["msgs_per_s"])

    def spread(values):
        return f"{min(values):,.0f}-{max(values):,.0f} over {len(values)}"

    for transport in ("unix", "tcp"):
        mine, raw = tput[("lib", 1048576, transport)], tput[("raw", 1048576, transport)]
        rows.append((f"1 MiB frames, {transport} (MB/s)", statistics.median(mine), statistics.median(raw), "raw C",
                     (">=", 0.9), f"lib {spread(mine)}"))
    for transport in ("unix", "tcp"):
        mine, raw = tput[("lib", 128, transport)], tput[("raw", 128, transport)]
        batched = tput[("lib-batch", 128, transport)]
        buffered = tput[("raw-bufread", 128, transport)]
        # The library queues nothing (a lone frame is never delayed), so frames are written
        # together only when the caller hands them over together: dapper_ipc_send_batch.
        rows.append((f"128-byte frames back to back, send_batch of 64, {transport} (frames/s)",
                     statistics.median(batched), statistics.median(raw), "raw C, 1 write/frame", (">=", 2.0),
                     f"lib {spread(batched)}"))
        rows.append((f"  same, one dapper_ipc_send per frame, {transport} (frames/s)", statistics.median(mine),
                     statistics.median(raw), "raw C, 1 write/frame", None, f"lib {spread(mine)}"))
        rows.append((f"  same, raw receiver reading 64 KiB per recv ({transport})", statistics.median(mine),
                     statistics.median(buffered), "raw C, buffered reads", None, f"raw {spread(buffered)}"))

    rows.append(("receive rate in C, 128-byte frames, unix (msgs/s)", statistics.median(recv["lib"]),
                 statistics.median(recv["raw"]), "raw C, read(8)+read(n)", None,
                 "the library's ceiling under the Python rows"))

    # ---- ws: the websocket transport beside the library's own tcp (and raw C), same run ----
    ws_rtt, ws_tput = {}, {}
    for r in range(ROUNDS):
        for transport in (("ws", "tcp") if r % 2 == 0 else ("tcp", "ws")):
            samples = os.path.join(out, f"rtt-lib-{transport}-ws-section-{r}.bin")
            sh(bench, "rtt", "lib", transport, str(RTT_N), str(RTT_SECONDS), samples)
            values = array("d")
            with open(samples, "rb") as f:
                values.frombytes(f.read())
            ws_rtt.setdefault(transport, []).extend(values)
            f = figures(sh(bench, "tput", "lib", transport, "1048576", str(BIG_COUNT)))
            ws_tput.setdefault(transport, []).append(f["MBps"])
    ws_p50 = {t: sorted(v)[len(v) // 2] for t, v in ws_rtt.items()}
    rows.append(("round trip ws p50, 128 B (µs)", ws_p50["ws"], ws_p50["tcp"], "lib tcp", ("<=", 1.15),
                 f"n={len(ws_rtt['ws'])}; raw C tcp {rtt_percentiles('raw', 'tcp', False)[0][50]:.1f} µs"))
    rows.append(("1 MiB frames, ws (MB/s)", statistics.median(ws_tput["ws"]), statistics.median(ws_tput["tcp"]),
                 "lib tcp", (">=", 0.8), f"ws {spread(ws_tput['ws'])}; raw C tcp {statistics.median(tput[('raw', 1048576, 'tcp')]):,.0f}"))

    # ---- ws2. streams the host brings: an adopted socketpair beside unix, the plugin path beside it ----
    got = {}
    for line in sh(adopt, "adopt", "500" if QUICK else "20000", "2000" if QUICK else "200000").splitlines():
        name, _, value = line.partition("=")
        got.setdefault(name, []).append(float(value))
    med = {k: statistics.median(v) for k, v in got.items()}
    rows.append(("round trip adopted socketpair p50, 128 B, in-process (µs)", med["adopted_rtt_p50_us"],
                 med["unix_rtt_p50_us"], "lib unix, same run", ("<=", 1.05), f"medians of {len(got['unix_rtt_p50_us'])} rounds"))
    rows.append(("round trip through a registered transport p50 (µs)", med["plugin_rtt_p50_us"], med["adopted_rtt_p50_us"],
                 "the same socketpair adopted", ("<=", 1.1), "ops read/write are recv/send on the socket"))
    rows.append(("128 B frames one way, plugin path (ns/frame)", med["plugin_stream_ns_per_frame"],
                 med["adopted_stream_ns_per_frame"], "the same socketpair adopted", None,
                 f"overhead {med['plugin_stream_ns_per_frame'] - med['adopted_stream_ns_per_frame']:+.0f} ns/frame"))

    # ---- shm: shared-memory rings against raw C over a unix socket, same run, default and pinned ----
    shm_rtt, shm_tput = {}, {}
    for r in range(ROUNDS):
        for pinned in ((False, True) if pin else (False,)):
            impls = [("lib", "shm"), ("raw", "unix")]
            for impl, transport in (impls if r % 2 == 0 else impls[::-1]):
                samples = os.path.join(out, f"rtt-shm-section-{impl}-{pinned}-{r}.bin")
                sh(*(pin if pinned else []), bench, "rtt", impl, transport, str(RTT_N), str(RTT_SECONDS), samples)
                values = array("d")
                with open(samples, "rb") as f:
                    values.frombytes(f.read())
                shm_rtt.setdefault((impl, pinned), []).extend(values)
        for impl, transport, size, count in ((("lib", "shm", 1048576, BIG_COUNT), ("raw", "unix", 1048576, BIG_COUNT),
                                              ("lib-batch", "shm", 128, SMALL_COUNT * 10))[::1 if r % 2 == 0 else -1]):
            f = figures(sh(bench, "tput", impl, transport, str(size), str(count)))
            shm_tput.setdefault((impl, size), []).append(f["MBps"] if size > 128 else f["frames_per_s"])
    for pinned in ((False, True) if pin else (False,)):
        mode = "pinned to one CPU" if pinned else "default"
        mine = sorted(shm_rtt[("lib", pinned)])
        raw = sorted(shm_rtt[("raw", pinned)])
        rows.append((f"round trip shm p50, 128 B, C, {mode} (µs)", mine[len(mine) // 2], raw[len(raw) // 2],
                     "raw C unix", ("<=", 0.7 if pinned else 0.25),
                     f"n={len(mine)}; p99 {mine[min(len(mine) - 1, len(mine) * 99 // 100)]:.1f}"))
    batched = shm_tput[("lib-batch", 128)]
    rows.append(("128-byte frames, send_batch of 64, shm (frames/s)", statistics.median(batched), None, "",
                 (">=", 10e6), f"lib {spread(batched)}"))
    mine, raw = shm_tput[("lib", 1048576)], shm_tput[("raw", 1048576)]
    rows.append(("1 MiB frames, shm (MB/s)", statistics.median(mine), statistics.median(raw), "raw C unix",
                 (">=", 2.0), f"lib {spread(mine)}; raw {spread(raw)}"))
    shm_p50 = {p: sorted(shm_rtt[("lib", p)])[len(shm_rtt[("lib", p)]) // 2] for p in ((False, True) if pin else (False,))}
    rows.extend(iceoryx_rows(out, cc, pin, shm_p50))

    # ---- tls: beside the library's own tcp and stunnel4 in front of it, same run ----
    import tls_section
    rows.extend(tls_section.rows(bench, out, sh, figures, ROUNDS, RTT_N, RTT_SECONDS, BIG_COUNT,
                                 20 if QUICK else 200))

    # ---- 3. Python ----
    env = dict(os.environ, DAPPER_IPC_LIBRARY=lib, PYTHONPATH=os.path.join(ROOT, "python", "src"))
    have_package = os.path.isdir(os.path.join(ROOT, "python", "src", "dapper_ipc"))
    if have_package:
        py = figures(sh(sys.executable, os.path.join(HERE, "python_bench.py"), bench, str(PY["iterations"]),
                        str(PY["flood"]), str(PY["rounds"]), str(PY["seconds"]), env=env))
        raw_c, _ = rtt_percentiles("raw", "unix", False)
        rows.append(("Python round trip p50, dict in/out, unix (µs)", py["py_package_rtt_p50_us"], raw_c[50], "raw C",
                     ("<=", 1.5), f"n={py['py_package_rtt_n']:.0f}"))
        rows.append(("Python round trip p99 (µs)", py["py_package_rtt_p99_us"], raw_c[99], "raw C", None, ""))
        # The adapter pattern against raw C run right beside it, round by round: this VM's
        # speed drifts by a third over a minute, and these rows run a minute after section 1.
        # The fast and the plain path (DAPPER_IPC_PLAIN=1, public APIs only) against the
        # pure-Python floor: one thread, a blocking socket, struct + json, the same C echo peer.
        plain_env = dict(env, DAPPER_IPC_PLAIN="1")
        fast_env = {k: v for k, v in env.items() if k != "DAPPER_IPC_PLAIN"}
        for pinned in ((False, True) if pin else (False,)):
            runs = {"fast": ("adapter-only", fast_env)}
            if pinned or not pin:
                runs.update(plain=("adapter-only", plain_env), floor=("floor-only", env))
            p50s = beside_raw(pinned, runs)
            mine, base = p50s["fast"], p50s["raw"]
            where = ", pinned" if pinned else ""
            rows.append((f"Python adapter pattern p50, send_message + await recv(), unix{where} (µs)",
                         statistics.median(mine), statistics.median(base),
                         "raw C pinned, beside it" if pinned else "raw C, beside it", ("<=", 2.0 if pinned else 1.3),
                         f"median of {len(mine)} rounds' p50s, each run after a raw C run; lib {spread(mine)}"))
            if "floor" in p50s:
                floor, plain = p50s["floor"], p50s["plain"]
                rows.append((f"  same against the pure-Python floor{where} (µs)", statistics.median(mine),
                             statistics.median(floor), "one thread, blocking socket, struct + json", ("<=", 1.3),
                             f"floor {spread(floor)}"))
                rows.append((f"  same, plain path (DAPPER_IPC_PLAIN=1){where} (µs)", statistics.median(plain),
                             statistics.median(floor), "one thread, blocking socket, struct + json", None,
                             f"plain {spread(plain)}"))
        for name, what in (("asyncio", "asyncio streams (original)"), ("blocking", "blocking sockets")):
            rows.append(("Python round trip p50 (µs)", py["py_package_rtt_p50_us"], py[f"py_{name}_rtt_p50_us"], what,
                         None, ""))
        # The target is against the original itself, which measured about 27,000 msgs/s here
        # (its reader thread and dispatch cost more than the bare asyncio loop below).
        rows.append(("Python receive rate, handler (msgs/s)", py["py_package_msgs_per_s"], ORIGINAL_MSGS_PER_S,
                     "the original, as measured once here", (">=", 5.0), "a recorded figure, not run here"))
        rows.append(("Python receive rate, handler (msgs/s)", py["py_package_msgs_per_s"], py["py_asyncio_msgs_per_s"],
                     "asyncio streams (original's framing loop)", None, "no reader thread, no dispatch"))
        rows.append(("Python receive rate, handler (msgs/s)", py["py_package_msgs_per_s"], py["py_blocking_msgs_per_s"],
                     "blocking sockets", None, ""))
        rows.append(("Python receive rate, async for messages() (msgs/s)", py["py_async_msgs_per_s"],
                     py["py_asyncio_msgs_per_s"], "asyncio streams (original)", None, "the pull mode"))
        rows.append(("Python receive rate, async for messages() (msgs/s)", py["py_async_msgs_per_s"], None, "",
                     (">=", 300000.0), "target: 300k/s"))
    else:
        print("bench: python/src/dapper_ipc is missing: the Python rows are skipped", file=sys.stderr)

    # ---- 3b. Node ----
    node = shutil.which("node")
    if node is None:
        print("bench: node is not on PATH: the Node rows are skipped", file=sys.stderr)
    elif not os.path.isdir(os.path.join(ROOT, "node", "node_modules", "koffi")):
        print("bench: node/node_modules has no koffi (run `npm ci` in node/): the Node rows are skipped",
              file=sys.stderr)
    else:
        nd = figures(sh(node, os.path.join(HERE, "node_bench.js"), bench, str(NODE["iterations"]), str(NODE["flood"]),
                        str(NODE["rounds"]), str(NODE["seconds"]), env=dict(os.environ, DAPPER_IPC_LIBRARY=lib)))
        # The same package with the loop path off: the library's reader thread and sends on
        # worker threads, what macOS, Windows, the reconnect flag and heartbeats still use.
        nt = figures(sh(node, os.path.join(HERE, "node_bench.js"), bench, str(NODE["iterations"]), str(NODE["flood"]),
                        str(NODE["rounds"]), str(NODE["seconds"]),
                        env=dict(os.environ, DAPPER_IPC_LIBRARY=lib, DAPPER_IPC_NODE_READER_THREAD="1")))
        framer = "Node net + hand-written framer (the extension's way)"
        rows.append(("Node round trip p50, JSON in/out, unix (µs)", nd["node_package_rtt_p50_us"],
                     nd["node_net_rtt_p50_us"], framer, ("<=", 1.2),
                     f"n={nd['node_package_rtt_n']:.0f}; read and written on the loop (Linux)"))
        rows.append(("Node round trip p99 (µs)", nd["node_package_rtt_p99_us"], nd["node_net_rtt_p99_us"], framer,
                     None, ""))
        raw_c, _ = rtt_percentiles("raw", "unix", False)
        rows.append(("Node round trip p50 (µs)", nd["node_package_rtt_p50_us"], raw_c[50], "raw C", None, ""))
        rows.append(("Node receive rate, 'message' handler (msgs/s)", nd["node_package_msgs_per_s"],
                     nd["node_net_msgs_per_s"], framer, None, "recv_batch on the loop when libuv finds the handle readable"))
        rows.append(("Node receive rate, for await messages() (msgs/s)", nd["node_async_msgs_per_s"],
                     nd["node_net_msgs_per_s"], framer, None, ""))
        rows.append(("Node round trip p50, reader thread (µs)", nt["node_package_rtt_p50_us"],
                     nt["node_net_rtt_p50_us"], framer, None,
                     "macOS, Windows, reconnect, heartbeats: a koffi hop per read, a worker per send"))
        rows.append(("Node receive rate, reader thread (msgs/s)", nt["node_package_msgs_per_s"],
                     nt["node_net_msgs_per_s"], framer, None, "one hop to the loop per socket read (batch callback)"))

    # ---- 3c. subprocess sessions on one shared listener: a child's connect to its session ready ----
    session_runs = {}
    for r in range(ROUNDS):
        for children, rounds in SESSION_ROUNDS.items():
            for impl in (["raw", "run"] if r % 2 == 0 else ["run", "raw"]):
                f = figures(sh(sessions, impl, "unix", str(children), str(max(1, rounds // ROUNDS))))
                session_runs.setdefault((impl, children), []).append(f["p50_us"])
    for children in SESSION_ROUNDS:
        mine, raw = session_runs[("run", children)], session_runs[("raw", children)]
        at_once = "1 child" if children == 1 else f"{children} children at once"
        rows.append((f"session ready after a child's connect, {at_once}, unix p50 (µs)", statistics.median(mine),
                     statistics.median(raw), "raw C endpoint: one thread, blocking reads", None,
                     f"median of {len(mine)} round p50s; lib {spread(mine)}"))

    # ---- 3d. closing with the peer alive: destroy both managers of a connected pair ----
    for transport in ("unix", "tcp"):
        f = figures(sh(close, transport, "8", str(CLOSE_CYCLES)))
        for order in ("server_first", "client_first"):
            rows.append((f"destroy both, peer alive, {order.replace('_', ' ')}, {transport} p99 (ms)",
                         f[f"{order}_p99_ms"], None, "", ("<=", 50.0),
                         f"8 threads at once, n={f[f'{order}_n']:.0f}; p50 {f[f'{order}_p50_ms']:.2f}, "
                         f"max {f[f'{order}_max_ms']:.1f}; the linger is 2000"))

    # ---- 3e. a Python process exiting while its peer floods it ----
    if have_package:
        exit_script = os.path.join(ROOT, "python", "tests", "exit_under_flood.py")
        exit_env = dict(env, PYTHONPATH=os.pathsep.join((os.path.join(ROOT, "python", "tests"), env["PYTHONPATH"])))
        for transport in ("unix", "tcp"):
            for mode in ("exit", "slow-handler", "pull", "system-exit", "os-exit"):
                took = []
                for _ in range(EXIT_RUNS):
                    host = subprocess.Popen([sys.executable, exit_script, transport, mode], stdout=subprocess.PIPE,
                                            env=exit_env, text=True)
                    host.stdout.readline()
                    start = time.monotonic()
                    host.wait(STEP_TIMEOUT)
                    took.append((time.monotonic() - start) * 1000)
                    host.stdout.close()
                rows.append((f"Python exit while the peer floods, {mode}, {transport}, max (ms)", max(took), None, "",
                             ("<", 300.0), f"{len(took)} runs; median {statistics.median(took):.0f}"))

    # ---- 4. the library's own cost ----
    starts = sorted((figures(sh(startup, "time", lib)) for _ in range(STARTS)),
                    key=lambda f: f["load_to_first_round_trip_ms"])
    median = starts[len(starts) // 2]
    rss = statistics.median(figures(sh(startup, "rss", lib, bench))["rss_gain_kib"] for _ in range(RSS_STARTS))
    stripped = os.path.join(out, "stripped.so")
    shutil.copy(lib, stripped)
    if shutil.which("strip"):
        sh("strip", stripped)
    rows.append(("dlopen to first round trip (ms)", median["load_to_first_round_trip_ms"], None, "", ("<", 10.0),
                 f"dlopen {median['dlopen_ms']:.1f}, first call {median['first_call_ms']:.1f}, listen "
                 f"{median['listen_ms']:.1f}, connect {median['connect_ms']:.1f}, round trip {median['round_trip_ms']:.1f}"))
    rows.append(("library size, stripped (MiB)", os.path.getsize(stripped) / 2**20, None, "", ("<", 3.0),
                 f"unstripped {os.path.getsize(lib) / 2**20:.1f}"))
    rows.append(("resident memory gained: load + 1 connection (MiB)", rss / 1024, None, "", None, "VmRSS delta"))

    print_table(rows, lib, lib_origin, load_before, busy_before)


def iceoryx_rows(out, cc, pin, shm_p50):
    """iceoryx's C binding beside the shm transport (bench/iceoryx_rtt.c), when its headers
    and library are installed (Debian: apt-get install iceoryx libiceoryx-binding-c-dev);
    otherwise no row, and a line saying why."""
    headers = sorted(glob.glob("/usr/include/iceoryx/*/iceoryx_binding_c"))
    roudi = shutil.which("iox-roudi")
    if not headers or not roudi:
        print("bench: iceoryx's C binding or iox-roudi is not installed (apt-get install iceoryx "
              "libiceoryx-binding-c-dev): the iceoryx rows are skipped", file=sys.stderr)
        return []
    program = os.path.join(out, "iceoryx_rtt")
    try:
        sh(cc, "-O2", "-Wall", "-I", os.path.dirname(headers[-1]), os.path.join(HERE, "iceoryx_rtt.c"), "-o", program,
           "-liceoryx_binding_c")
    except subprocess.CalledProcessError as error:
        print(f"bench: iceoryx's C binding did not build ({error.stderr.strip()[:200]}): its rows are skipped",
              file=sys.stderr)
        return []
    rows = []
    daemon = subprocess.Popen([roudi], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)  # RouDi's shared memory is set up; a client started earlier only waits for it
        for pinned in ((False, True) if pin else (False,)):
            values = array("d")
            for r in range(ROUNDS):
                prefix = pin if pinned else []
                pong = subprocess.Popen(prefix + [program, "pong"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                try:
                    samples = os.path.join(out, f"rtt-iceoryx-{pinned}-{r}.bin")
                    sh(*prefix, program, "ping", str(RTT_N), str(RTT_SECONDS), samples)
                    with open(samples, "rb") as f:
                        values.frombytes(f.read())
                finally:
                    pong.kill()
                    pong.wait()
            ordered = sorted(values)
            mode = "pinned to one CPU" if pinned else "default"
            rows.append((f"  iceoryx C binding round trip p50, 128 B, WaitSet, {mode} (µs)", ordered[len(ordered) // 2],
                         shm_p50[pinned], "lib shm, same run", None, f"n={len(ordered)}; iceoryx 2.x (Debian)"))
    finally:
        daemon.terminate()
        daemon.wait()
    return rows


def verdict(target, value):
    if not target:
        return "", ""
    op, limit = target
    ok = {"<=": value <= limit, ">=": value >= limit, "<": value < limit}[op]
    return f"{op} {limit:g}", "met" if ok else "MISSED"


def print_table(rows, lib, lib_origin, load_before, busy_before):
    print(f"\nlibdapper_ipc benchmarks, {time.strftime('%Y-%m-%d %H:%M')}, {platform.node()}, {os.cpu_count()} CPUs, "
          f"{'--quick' if QUICK else f'{ROUNDS} rounds'}")
    print(f"library: {lib} ({lib_origin})")
    print(f"machine: CPUs {busy_before} busy in the second before the run (other work: figures are noisy above a "
          f"few %); load average {load_before} at the start, {load()} at the end")
    print("ratio = library / baseline (times: below 1 is faster; rates: above 1 is better); "
          "target applies to the ratio, or to the value where there is no baseline\n")
    header = f"{'metric':<58} {'library':>11} {'baseline':>11} {'ratio':>6}  {'target':<7} {'':<6}  baseline is / note"
    print(header)
    print("-" * len(header))
    met = missed = 0
    for metric, mine, base, what, target, note in rows:
        ratio = mine / base if base else None
        goal, result = verdict(target, ratio if base else mine)
        met += result == "met"
        missed += result == "MISSED"
        base_text = f"{base:,.1f}" if base is not None else ""
        ratio_text = f"{ratio:.2f}" if ratio is not None else ""
        detail = "; ".join(x for x in (what, note) if x)
        print(f"{metric:<58} {mine:>11,.1f} {base_text:>11} {ratio_text:>6}  {goal:<7} {result:<6}  {detail}")
    print(f"\ntargets: {met} met, {missed} missed (reported, not asserted); "
          f"run took {time.monotonic() - STARTED:.0f} s")
    if QUICK:
        print("(--quick: one round of a few iterations each; a smoke check, not a measurement)")


if __name__ == "__main__":
    main()
