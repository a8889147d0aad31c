#!/usr/bin/env bash
# Runs the fuzz targets under afl-fuzz (tests/fuzz/README.md):
#   tests/fuzz/run.sh <target> <seconds> [output-dir]   one target for N seconds
#   tests/fuzz/run.sh all <seconds>                     every target in turn (what .ci/run does)
#   tests/fuzz/run.sh build                             only build and instrument
# Installs afl++ with apt-get when afl-fuzz is missing; SharpFuzz's instrumenter comes from
# the repository's dotnet tool manifest. The output dir (default build/fuzz/out/<target>) is
# afl's; the instrumented build the run uses is copied into it, so a rebuild during a long
# run does not disturb it. Exits 1 when a run saved a crash or a hang (their inputs are
# listed; replay one with the replay command below), 2 when afl could not run.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
fuzz="$root/tests/fuzz"
bin="${FUZZ_BIN:-$root/build/fuzz/bin}" # FUZZ_BIN: an instrumented build made earlier (run.sh build)

install_afl() {
  command -v afl-fuzz >/dev/null 2>&1 && return
  echo "fuzz: installing afl++ (apt-get)"
  local sudo=
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq afl++ >/dev/null
}

build() {
  install_afl
  rm -rf "$bin"
  dotnet publish "$fuzz/DapperIpc.Fuzz/DapperIpc.Fuzz.csproj" -c Release -o "$bin" --nologo -v quiet
  # SharpFuzz rewrites the library in place: every branch of the real dapper_ipc.dll reports to afl.
  (cd "$root" && dotnet tool restore >/dev/null && dotnet tool run sharpfuzz "$bin/dapper_ipc.dll")
}

run_target() {
  local target="$1" seconds="$2" out="$3"
  [ -d "$fuzz/corpus/$target" ] || { echo "no corpus for target '$target' in $fuzz/corpus" >&2; return 2; }
  rm -rf "$out"
  mkdir -p "$out"
  cp -r "$bin" "$out/bin"
  # SharpFuzz is its own fork server inside dotnet (not an afl-instrumented binary); the
  # machine may be shared (no CPU pinning, no frequency or core-pattern demands); no UI.
  AFL_SKIP_BIN_CHECK=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
    DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 \
    afl-fuzz -i "$fuzz/corpus/$target" -o "$out/afl" -x "$fuzz/dapper.dict" -V "$seconds" -t 5000 -m none \
    -- dotnet "$out/bin/DapperIpc.Fuzz.dll" "$target" >"$out/afl.log" 2>&1 || {
    tail -n 30 "$out/afl.log" >&2
    return 2
  }

  echo "== $target ($out)"
  grep -E '^(run_time|execs_done|execs_per_sec|corpus_count|edges_found|total_edges|bitmap_cvg|saved_crashes|saved_hangs) ' "$out/afl/default/fuzzer_stats"
  local found
  found=$(find "$out/afl/default/crashes" "$out/afl/default/hangs" -type f -name 'id:*' 2>/dev/null)
  if [ -n "$found" ]; then
    echo "$target: afl saved inputs that crash or hang; replay one with" >&2
    echo "  dotnet build/artifacts/bin/DapperIpc.Fuzz/release/DapperIpc.Fuzz.dll replay $target <file>" >&2
    echo "$found" >&2
    return 1
  fi
}

case "${1:-}" in
  build)
    build
    ;;
  all)
    [ $# -eq 2 ] || { echo "usage: $0 all <seconds>" >&2; exit 2; }
    build
    status=0
    # Every target the build has ('list').
    for target in $(dotnet "$bin/DapperIpc.Fuzz.dll" list); do
      run_target "$target" "$2" "$root/build/fuzz/out/$target" || status=$?
    done
    exit $status
    ;;
  *)
    [ $# -ge 2 ] || { echo "usage: $0 <target> <seconds> [output-dir] | $0 all <seconds> | $0 build" >&2; exit 2; }
    [ -n "${FUZZ_BIN:-}" ] || build
    run_target "$1" "$2" "${3:-$root/build/fuzz/out/$1}"
    ;;
esac
