"""Instructions per 128-byte round trip (callgrind), this tree's library against another
revision's: the measure of what the frame path costs, which a loaded machine's speed does
not move.

    python3 bench/callgrind.py [--base REV] [--runs N]

Each side: the library published with `dotnet publish -c Release` (the base from a scratch
`git worktree` that is removed afterwards), that revision's own bench/bench.c compiled
against it, then `bench rtt lib unix` under callgrind (the measuring process only: the
listener whose callback sends the next request) at two lengths. Per round trip is the
difference of the two totals over the difference of the round trips run (warm-up
included), so start-up and teardown cancel. Prints one line per side and the change.
Needs valgrind (apt-get install valgrind); exits 77 without it."""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHORT, LONG = 2000, 6000  # round trips asked; bench adds a tenth + 10 of warm-up


def run(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def publish(tree, out):
    run("dotnet", "publish", os.path.join(tree, "src", "DapperIpc.Native", "DapperIpc.Native.csproj"),
        "-c", "Release", "-r", "linux-x64", "-o", out, "--nologo", "-v", "quiet")


def compile_bench(tree, libdir, exe):
    cc = os.environ.get("CC") or shutil.which("gcc") or "cc"
    run(cc, "-O2", "-Wall", "-I", os.path.join(tree, "include"), os.path.join(tree, "bench", "bench.c"), "-o", exe,
        f"-L{libdir}", "-ldapper_ipc", f"-Wl,-rpath,{libdir}", "-lpthread")


def instructions(exe, n, scratch):
    out = os.path.join(scratch, f"cg-{os.path.basename(exe)}-{n}.out")
    result = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", exe, "rtt", "lib",
                             "unix", str(n), "600"], capture_output=True, text=True, check=True)
    done = re.search(r"n=(\d+)", result.stdout)
    if not done or int(done.group(1)) != n:
        sys.exit(f"{exe}: the run did not finish its {n} round trips: {result.stdout!r}")
    total = re.search(r"Collected\s*:\s*(\d+)", result.stderr)
    return int(total.group(1))


def per_round_trip(exe, runs, scratch):
    def trips(n):
        return n + n // 10 + 10

    values = []
    for _ in range(runs):
        short = instructions(exe, SHORT, scratch)
        long_ = instructions(exe, LONG, scratch)
        values.append((long_ - short) / (trips(LONG) - trips(SHORT)))
    return values


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", help="the revision to compare with (default: none, this tree only)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        print("SKIP: valgrind is not installed (apt-get install valgrind)")
        return 77

    scratch = tempfile.mkdtemp(prefix="dapper-cg-")
    try:
        sides = [("this tree", ROOT)]
        worktree = None
        if args.base:
            worktree = os.path.join(scratch, "base")
            run("git", "-C", ROOT, "worktree", "add", "--detach", worktree, args.base)
            sides.insert(0, (f"base {args.base}", worktree))
        try:
            results = []
            for name, tree in sides:
                libdir = os.path.join(scratch, f"lib-{len(results)}")
                exe = os.path.join(scratch, f"bench-{len(results)}")
                publish(tree, libdir)
                compile_bench(tree, libdir, exe)
                values = per_round_trip(exe, args.runs, scratch)
                results.append(min(values))
                shown = ", ".join(f"{v:,.0f}" for v in values)
                print(f"{name}: {min(values):,.0f} instructions per round trip (runs: {shown})", flush=True)
            if len(results) == 2:
                print(f"change: {results[1] - results[0]:+,.0f} ({(results[1] / results[0] - 1) * 100:+.2f}%)")
        finally:
            if worktree:
                run("git", "-C", ROOT, "worktree", "remove", "--force", worktree)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
