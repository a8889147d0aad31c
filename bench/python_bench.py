"""Python round trips and receive rates: the dapper_ipc package (dict in, dict out)
against the original's design (asyncio streams: readexactly(8), readexactly(n),
json.loads, writer.write, await drain()) and against plain blocking sockets.
Every peer is the same C raw-socket program (bench child-raw), so only the Python
side differs. Prints one line per figure: name=value."""
import asyncio
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

BENCH = sys.argv[1]
ITERATIONS = int(sys.argv[2])
FLOOD = int(sys.argv[3])
MESSAGE = {"seq": 1, "type": "request", "command": "evaluate", "arguments": {"expression": "x" * 60}}


def frame(kind, message):
    payload = json.dumps(message).encode()
    return b"DP" + struct.pack(">BBI", 1, kind, len(payload)) + payload


def percentile(samples, p):
    samples = sorted(samples)
    return samples[min(len(samples) - 1, int(len(samples) * p))]


def peer(role, count, path):
    return subprocess.Popen([BENCH, "child-raw", role, str(count), "unix", path])


def package_rtt():
    from dapper_ipc import IPCManager, TransportConfig
    samples, done, state = [], threading.Event(), {"t0": 0.0}
    with IPCManager() as m:
        args = m.create_listener(TransportConfig(transport="unix"))

        def handler(message):  # ping-pong from the reader thread: no hop
            samples.append(time.perf_counter() - state["t0"])
            if len(samples) == ITERATIONS:
                done.set()
                return
            state["t0"] = time.perf_counter()
            m.send(MESSAGE)

        m.start_reader(handler)
        child = peer("echo", 0, args[3])
        m.wait_for_client(10)
        state["t0"] = time.perf_counter()
        m.send(MESSAGE)
        done.wait(120)
        m.cleanup()
        child.wait(10)
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
        m.wait_for_client(10)
        t0 = time.perf_counter()
        m.send({"go": 1})
        done.wait(120)
        elapsed = time.perf_counter() - t0
        m.cleanup()
        child.wait(10)
    return FLOOD / elapsed


def with_unix_server(run):
    directory = tempfile.mkdtemp(prefix="dapper-bench-py-")
    path = os.path.join(directory, "s.sock")
    try:
        return run(path)
    finally:
        if os.path.exists(path):
            os.unlink(path)
        os.rmdir(directory)


def asyncio_rtt():
    async def main(path):
        samples, connected = [], asyncio.get_running_loop().create_future()
        server = await asyncio.start_unix_server(lambda r, w: connected.set_result((r, w)), path=path)
        child = peer("echo", 0, path)
        reader, writer = await connected
        data = frame(2, MESSAGE)
        for _ in range(ITERATIONS):
            t0 = time.perf_counter()
            writer.write(data)
            await writer.drain()
            header = await reader.readexactly(8)
            json.loads(await reader.readexactly(struct.unpack(">I", header[4:])[0]))
            samples.append(time.perf_counter() - t0)
        writer.close()
        await writer.wait_closed()
        server.close()
        child.wait(10)
        return samples

    return with_unix_server(lambda path: asyncio.run(main(path)))


def asyncio_rate():
    async def main(path):
        connected = asyncio.get_running_loop().create_future()
        server = await asyncio.start_unix_server(lambda r, w: connected.set_result((r, w)), path=path)
        child = peer("flood", FLOOD, path)
        reader, writer = await connected
        t0 = time.perf_counter()
        writer.write(frame(2, {"go": 1}))
        await writer.drain()
        for _ in range(FLOOD):
            header = await reader.readexactly(8)
            json.loads(await reader.readexactly(struct.unpack(">I", header[4:])[0]))
        elapsed = time.perf_counter() - t0
        writer.close()
        await writer.wait_closed()
        server.close()
        child.wait(10)
        return FLOOD / elapsed

    return with_unix_server(lambda path: asyncio.run(main(path)))


def recv_exactly(s, n):
    data = bytearray()
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return bytes(data)


def blocking(run):
    def go(path):
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(1)
        return run(server, path)

    return with_unix_server(go)


def blocking_rtt():
    def run(server, path):
        child = peer("echo", 0, path)
        s, _ = server.accept()
        data, samples = frame(2, MESSAGE), []
        for _ in range(ITERATIONS):
            t0 = time.perf_counter()
            s.sendall(data)
            header = recv_exactly(s, 8)
            json.loads(recv_exactly(s, struct.unpack(">I", header[4:])[0]))
            samples.append(time.perf_counter() - t0)
        s.close()
        server.close()
        child.wait(10)
        return samples

    return blocking(run)


def blocking_rate():
    def run(server, path):
        child = peer("flood", FLOOD, path)
        s, _ = server.accept()
        t0 = time.perf_counter()
        s.sendall(frame(2, {"go": 1}))
        for _ in range(FLOOD):
            header = recv_exactly(s, 8)
            json.loads(recv_exactly(s, struct.unpack(">I", header[4:])[0]))
        elapsed = time.perf_counter() - t0
        s.close()
        server.close()
        child.wait(10)
        return FLOOD / elapsed

    return blocking(run)


# Alternate the implementations so machine noise falls on all of them.
for name, rtt, rate in (("package", package_rtt, package_rate), ("asyncio", asyncio_rtt, asyncio_rate),
                        ("blocking", blocking_rtt, blocking_rate)):
    samples = rtt()
    print(f"py_{name}_rtt_p50_us={percentile(samples, 0.5) * 1e6:.2f}", flush=True)
    print(f"py_{name}_rtt_p99_us={percentile(samples, 0.99) * 1e6:.2f}", flush=True)
    print(f"py_{name}_msgs_per_s={rate():.0f}", flush=True)
