"""Python round trips and receive rates, one process, implementations alternated per round.

  package   the dapper_ipc package (libdapper_ipc underneath): dict in, dict out. Round trips
            are driven from the message handler (the reader thread), so there is no hop.
  async     the package's receive path for asyncio code: `async for m in manager.messages()`
            (the pull mode: no reader thread; the loop watches the library's readable handle).
  adapter   the adapter's pattern: on the event loop, `await send_message(request)` then
            `await manager.recv()` for the response (the pull mode), against the C echo peer.
  asyncio   the pure-Python original's design: asyncio streams, readexactly(8),
            readexactly(n), json.loads, writer.write, await drain().
  blocking  plain blocking sockets: sendall, and a buffered reader (makefile) read(8), read(n).
            One thread, struct + json: the pure-Python floor the adapter pattern is read against.

Every implementation encodes each message it sends with json.dumps and decodes each one it
receives with json.loads. Every peer is the same C program (`bench child-raw`: echo for round
trips, flood for receive rates: 128-byte JSON frames written in large batches), so only the
Python side differs. Payloads are 128 bytes of JSON, as in the C benchmark.

Usage: python_bench.py <bench-binary> <iterations> <flood-count> <rounds> <max-seconds> [adapter-only|floor-only]
(adapter-only: just the adapter round trips; floor-only: just the blocking round trips. run.py
runs them round by round beside a raw C run, default and pinned to one CPU, instead of in the
full run; the adapter with and without DAPPER_IPC_PLAIN=1, the package's plain path)
Prints name=value lines: py_<impl>_rtt_{n,p50_us,p90_us,p99_us} (samples of all rounds pooled)
and py_<impl>_msgs_per_s (median of the rounds).
"""
import asyncio
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

BENCH = sys.argv[1]
ITERATIONS = int(sys.argv[2])
FLOOD = int(sys.argv[3])
ROUNDS = int(sys.argv[4])
SECONDS = float(sys.argv[5])  # cap for any one measurement
ONLY = sys.argv[6] if len(sys.argv) > 6 else None
WAIT = 60  # any single wait for a peer

MESSAGE = {"seq": 1, "type": "request", "command": "evaluate", "arguments": {"expression": ""}}
MESSAGE["arguments"]["expression"] = "x" * (128 - len(json.dumps(MESSAGE)))
assert len(json.dumps(MESSAGE).encode()) == 128
GO = {"seq": 0, "type": "request", "command": "go", "arguments": {}}
HEADER = struct.Struct(">2sBBI")


def frame(kind, message):
    payload = json.dumps(message).encode("utf-8")
    return HEADER.pack(b"DP", 1, kind, len(payload)) + payload


def peer(role, count, path):
    return subprocess.Popen([BENCH, "child-raw", role, str(count), "unix", path])


def finish(child):
    try:
        child.wait(10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


# ---- the package --------------------------------------------------------------------

def package_rtt():
    from dapper_ipc import IPCManager, TransportConfig
    samples, done, state = [], threading.Event(), {"t0": 0.0}
    deadline = time.perf_counter() + SECONDS
    with IPCManager() as m:
        args = m.create_listener(TransportConfig(transport="unix"))

        def handler(message):  # dict in; the next dict goes out from the reader thread
            t = time.perf_counter()
            samples.append(t - state["t0"])
            if len(samples) >= ITERATIONS or t > deadline:
                done.set()
                return
            state["t0"] = time.perf_counter()
            m.send(MESSAGE)

        m.start_reader(handler)
        child = peer("echo", 0, args[3])
        m.wait_for_client(WAIT)
        state["t0"] = time.perf_counter()
        m.send(MESSAGE)
        if not done.wait(SECONDS + WAIT):
            raise TimeoutError("package round trips did not finish")
        m.cleanup()
        finish(child)
    return samples


def package_rate():
    from dapper_ipc import IPCManager, TransportConfig
    done, state = threading.Event(), {"n": 0}
    with IPCManager() as m:
        args = m.create_listener(TransportConfig(transport="unix"))

        def handler(_message):
            state["n"] += 1
            if state["n"] == FLOOD:
                done.set()

        m.start_reader(handler)
        child = peer("flood", FLOOD, args[3])
        m.wait_for_client(WAIT)
        t0 = time.perf_counter()
        m.send(GO)
        if not done.wait(WAIT):
            raise TimeoutError("package receive did not finish")
        elapsed = time.perf_counter() - t0
        m.cleanup()
        finish(child)
    return FLOOD / elapsed


def package_async_rate():
    from dapper_ipc import IPCManager, TransportConfig

    async def main():
        with IPCManager() as m:
            args = m.create_listener(TransportConfig(transport="unix"))
            child = peer("flood", FLOOD, args[3])
            m.wait_for_client(WAIT)
            stream = m.messages().__aiter__()
            first = asyncio.ensure_future(stream.__anext__())
            await asyncio.sleep(0)  # the generator subscribes and starts the reader

            async def consume():
                await first
                for _ in range(FLOOD - 1):
                    await stream.__anext__()

            t0 = time.perf_counter()
            m.send(GO)
            await asyncio.wait_for(consume(), WAIT)
            elapsed = time.perf_counter() - t0
            await stream.aclose()
            await m.acleanup()
            finish(child)
        return FLOOD / elapsed

    return asyncio.run(main())


def adapter_rtt():
    from dapper_ipc import IPCManager, TransportConfig

    async def main():
        samples, deadline = [], time.perf_counter() + SECONDS
        with IPCManager() as m:
            args = m.create_listener(TransportConfig(transport="unix"))
            child = peer("echo", 0, args[3])
            m.wait_for_client(WAIT)

            async def run():
                while len(samples) < ITERATIONS and time.perf_counter() < deadline:
                    t0 = time.perf_counter()
                    await m.send_message(MESSAGE)
                    await m.recv()
                    samples.append(time.perf_counter() - t0)

            await asyncio.wait_for(run(), SECONDS + WAIT)
            await m.acleanup()
            finish(child)
        return samples

    return asyncio.run(main())


# ---- the original's design: asyncio streams ---------------------------------------------

def with_unix_path(run):
    directory = tempfile.mkdtemp(prefix="dapper-bench-py-")
    path = os.path.join(directory, "s.sock")
    try:
        return run(path)
    finally:
        if os.path.exists(path):
            os.unlink(path)
        os.rmdir(directory)


async def asyncio_connection(path, role, count):
    connected = asyncio.get_running_loop().create_future()
    server = await asyncio.start_unix_server(lambda r, w: connected.set_result((r, w)), path=path)
    child = peer(role, count, path)
    reader, writer = await asyncio.wait_for(connected, WAIT)
    return server, child, reader, writer


async def asyncio_close(server, child, writer):
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    finish(child)


async def read_message(reader):
    header = await reader.readexactly(8)
    return json.loads(await reader.readexactly(HEADER.unpack(header)[3]))


def asyncio_rtt():
    async def main(path):
        server, child, reader, writer = await asyncio_connection(path, "echo", 0)
        samples, deadline = [], time.perf_counter() + SECONDS

        async def run():
            while len(samples) < ITERATIONS and time.perf_counter() < deadline:
                t0 = time.perf_counter()
                writer.write(frame(2, MESSAGE))
                await writer.drain()
                await read_message(reader)
                samples.append(time.perf_counter() - t0)

        await asyncio.wait_for(run(), SECONDS + WAIT)
        await asyncio_close(server, child, writer)
        return samples

    return with_unix_path(lambda path: asyncio.run(main(path)))


def asyncio_rate():
    async def main(path):
        server, child, reader, writer = await asyncio_connection(path, "flood", FLOOD)

        async def run():
            for _ in range(FLOOD):
                await read_message(reader)

        t0 = time.perf_counter()
        writer.write(frame(2, GO))
        await writer.drain()
        await asyncio.wait_for(run(), WAIT)
        elapsed = time.perf_counter() - t0
        await asyncio_close(server, child, writer)
        return FLOOD / elapsed

    return with_unix_path(lambda path: asyncio.run(main(path)))


# ---- plain blocking sockets -------------------------------------------------------------

def blocking(role, count, run):
    def go(path):
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(1)
        server.settimeout(WAIT)
        child = peer(role, count, path)
        s, _ = server.accept()
        s.settimeout(WAIT)
        reader = s.makefile("rb", buffering=65536)
        try:
            return run(s, reader)
        finally:
            reader.close()
            s.close()
            server.close()
            finish(child)

    return with_unix_path(go)


def read_exactly(reader, n):
    data = reader.read(n)
    if len(data) != n:
        raise EOFError("the peer closed")
    return data


def blocking_message(reader):
    return json.loads(read_exactly(reader, HEADER.unpack(read_exactly(reader, 8))[3]))


def blocking_rtt():
    def run(s, reader):
        samples, deadline = [], time.perf_counter() + SECONDS
        while len(samples) < ITERATIONS and time.perf_counter() < deadline:
            t0 = time.perf_counter()
            s.sendall(frame(2, MESSAGE))
            blocking_message(reader)
            samples.append(time.perf_counter() - t0)
        return samples

    return blocking("echo", 0, run)


def blocking_rate():
    def run(s, reader):
        t0 = time.perf_counter()
        s.sendall(frame(2, GO))
        for _ in range(FLOOD):
            blocking_message(reader)
        return FLOOD / (time.perf_counter() - t0)

    return blocking("flood", FLOOD, run)


# ---- alternate the implementations so machine noise falls on all of them ------------

def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


IMPLEMENTATIONS = [("package", package_rtt, package_rate), ("asyncio", asyncio_rtt, asyncio_rate),
                   ("blocking", blocking_rtt, blocking_rate), ("async", None, package_async_rate)]
if ONLY == "adapter-only":
    IMPLEMENTATIONS = [("adapter", adapter_rtt, None)]
elif ONLY == "floor-only":
    IMPLEMENTATIONS = [("blocking", blocking_rtt, None)]
rtts = {name: [] for name, _, _ in IMPLEMENTATIONS}
rates = {name: [] for name, _, _ in IMPLEMENTATIONS}
for r in range(ROUNDS):
    order = IMPLEMENTATIONS[r % len(IMPLEMENTATIONS):] + IMPLEMENTATIONS[:r % len(IMPLEMENTATIONS)]
    for name, rtt, rate in order:
        if rtt:
            samples = rtt()
            rtts[name] += samples[len(samples) // 10:]  # the first tenth of each run warms up
        if rate:
            rates[name].append(rate())
for name, _, _ in IMPLEMENTATIONS:
    samples = rtts[name]
    if samples:
        print(f"py_{name}_rtt_n={len(samples)}")
        for p in (50, 90, 99):
            print(f"py_{name}_rtt_p{p}_us={percentile(samples, p / 100) * 1e6:.2f}")
    if rates[name]:
        print(f"py_{name}_msgs_per_s={statistics.median(rates[name]):.0f}")
