#!/usr/bin/env bash
# The Wine lane: the Windows named-pipe transport run here, under Wine, on every submission.
#
# The library's managed code is published self-contained for win-x64 (JIT: Native AOT for
# Windows cannot link on Linux) inside tests/wine/WineLane, a host that drives IPCManager
# with a pipe listener; it runs under Wine against tests/wine/pipe_client.c, built with
# mingw, which makes exactly the calls CPython's multiprocessing.connection makes for an
# AF_PIPE client. Checks this OS cannot make (Wine ignores FILE_FLAG_FIRST_PIPE_INSTANCE
# and PIPE_REJECT_REMOTE_CLIENTS, and has a single user) are probed and reported SKIP.
#
# Not a CTest test: the README's test command must not need Wine. .ci/run calls this after
# it; run it by hand with tests/wine/run.sh [CHECK-SUBSTRING...].
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$SECONDS

SUDO=
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
need=()
command -v wine >/dev/null 2>&1 || need+=(wine wine64)
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || need+=(gcc-mingw-w64-x86-64)
if [ ${#need[@]} -gt 0 ]; then
  echo "wine lane: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "wine lane: $(wine --version 2>/dev/null), $(x86_64-w64-mingw32-gcc --version | head -n 1) (setup $((SECONDS - start)) s)"

out=build/wine
mkdir -p "$out"
x86_64-w64-mingw32-gcc -std=c99 -O2 -Wall -Wextra -Werror -o "$out/pipe_client.exe" tests/wine/pipe_client.c
dotnet publish tests/wine/WineLane/WineLane.csproj -c Release -o "$out/host" --nologo -v quiet

# A prefix of our own, made without prompts. mscoree stays enabled (Wine loads .NET's
# IL-only DLLs through it); only the browser engine's install prompt is turned off.
export WINEPREFIX="$PWD/$out/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mshtml="
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  wineboot -i >/dev/null 2>&1
fi
echo "wine lane: built and prefix ready ($((SECONDS - start)) s)"

# What the windows-2022 job's CTest registers (configured for Windows with mingw; nothing is
# built): every test by name, the POSIX C programs' listed as disabled.
if [ $# -eq 0 ]; then
  cmake -S . -B "$out/ctest-windows" -DCMAKE_SYSTEM_NAME=Windows -DCMAKE_SYSTEM_PROCESSOR=AMD64 \
    -DCMAKE_C_COMPILER=x86_64-w64-mingw32-gcc -DDAPPER_IPC_RID=win-x64 >/dev/null
  listing=$(cd "$out/ctest-windows" && ctest -N -C Release)
  echo "wine lane: the Windows job's CTest: $(grep -c ' Test *#' <<<"$listing") tests, $(grep -c '(Disabled)' <<<"$listing") disabled:" \
    "$(grep '(Disabled)' <<<"$listing" | awk '{print $3}' | tr '\n' ' ')"
fi

rc=0
# CoreCLR's W^X (code pages mapped twice, writable and executable) does not hold up under
# Wine: the GC's finalizer that releases a dynamic method's code died with "Internal CLR
# error (0x80131506)" in DynamicResolver.DestroyScout in 5 of 14 runs of this lane, and in
# none of 14 with W^X off. It is a setting of the runtime, not of the library; the Windows
# runners keep it on.
DOTNET_EnableWriteXorExecute=0 timeout 600 wine "$out/host/WineLane.exe" "$(winepath -w "$out/pipe_client.exe")" "$@" || rc=$?
wineserver -k 2>/dev/null || true
echo "wine lane: exit $rc after $((SECONDS - start)) s"
exit $rc
