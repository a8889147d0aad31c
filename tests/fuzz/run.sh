#!/usr/bin/env bash
# Runs one fuzz target under afl-fuzz for N seconds (tests/fuzz/README.md):
#   tests/fuzz/run.sh <target> <seconds> [output-dir]
#   tests/fuzz/run.sh build      (only build and instrument)
# Targets: frame-reader, token-handshake, native-config, launcher-argv, session-hello.
# The output dir (default build/fuzz/out/<target>) is afl's; the instrumented build the run
# uses is copied into it, so rebuilding during a long run does not disturb it. Exits 1 when
# the run saved a crash or a hang (their inputs are listed), 0 otherwise.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
fuzz="$root/tests/fuzz"
bin="${FUZZ_BIN:-$root/build/fuzz/bin}" # FUZZ_BIN: an instrumented build made earlier (run.sh build)

build() {
  command -v afl-fuzz >/dev/null || { echo "afl-fuzz not found: apt-get install -y afl++" >&2; exit 2; }
  rm -rf "$bin"
  dotnet publish "$fuzz/DapperIpc.Fuzz/DapperIpc.Fuzz.csproj" -c Release -o "$bin" --nologo -v quiet
  # SharpFuzz rewrites the library in place: every branch of the real dapper_ipc.dll reports to afl.
  (cd "$root" && dotnet tool restore >/dev/null && dotnet tool run sharpfuzz "$bin/dapper_ipc.dll")
}

if [ "${1:-}" = build ]; then
  build
  exit 0
fi
if [ $# -lt 2 ]; then
  echo "usage: $0 <target> <seconds> [output-dir] | $0 build" >&2
  exit 2
fi
target="$1"
seconds="$2"
out="${3:-$root/build/fuzz/out/$target}"
[ -d "$fuzz/corpus/$target" ] || { echo "no corpus for target '$target' in $fuzz/corpus" >&2; exit 2; }
[ -n "${FUZZ_BIN:-}" ] || build

rm -rf "$out"
mkdir -p "$out"
cp -r "$bin" "$out/bin"

# SharpFuzz is its own fork server inside dotnet (not an afl-instrumented binary); the
# machine is shared (no CPU pinning, no frequency or core-pattern demands); no UI in logs.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
afl-fuzz -i "$fuzz/corpus/$target" -o "$out/afl" -x "$fuzz/dapper.dict" -V "$seconds" -t 5000 -m none \
  -- dotnet "$out/bin/DapperIpc.Fuzz.dll" "$target" >"$out/afl.log" 2>&1 || {
  tail -n 30 "$out/afl.log" >&2
  exit 2
}

stats="$out/afl/default/fuzzer_stats"
grep -E '^(run_time|execs_done|execs_per_sec|corpus_count|edges_found|total_edges|bitmap_cvg|saved_crashes|saved_hangs) ' "$stats"
found=$(find "$out/afl/default/crashes" "$out/afl/default/hangs" -type f -name 'id:*' 2>/dev/null)
if [ -n "$found" ]; then
  echo "$target: afl saved inputs that crash or hang (replay: dotnet $out/bin/../bin/DapperIpc.Fuzz.dll replay $target <file>):" >&2
  echo "$found" >&2
  exit 1
fi
