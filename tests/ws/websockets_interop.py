"""The library against a second, independent RFC 6455 implementation, both ways: Python's
`websockets` (Debian python3-websockets, for /usr/bin/python3) as the client of a ws
listener made by the dapper_ipc package, and as the server the package connects to.

Each way: 2,000 frames each way (0 B to 1 MiB, every byte checked), some sent fragmented,
pings answered, then a close whose code and reason reach the other side.
Exit 0: passed, 1: failed, 77: skipped (no websockets and no way to install it)."""

import asyncio
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsframes  # noqa: E402

COUNT = 2000
failures = []


def check(ok, what):
    print(("ok: " if ok else "FAILED: ") + what, flush=True)
    if not ok:
        failures.append(what)


def have_websockets():
    try:
        import websockets  # noqa: F401
        return True
    except ImportError:
        return False


async def client_side(url):
    import websockets
    async with websockets.connect(url, subprotocols=["dapper.dp.v1"], max_size=None) as ws:
        check(ws.subprotocol == "dapper.dp.v1", f"the listener selected dapper.dp.v1 (got {ws.subprotocol})")
        bad = 0
        for i in range(COUNT):
            frame = wsframes.dp_frame(1, wsframes.payload(0, i))
            if i % 7 == 3 and len(frame) > 3:
                third = len(frame) // 3
                await ws.send([frame[:third], frame[third:2 * third], frame[2 * third:]])  # fragments
            else:
                await ws.send(frame)
            if i % 500 == 0:
                await asyncio.wait_for(await ws.ping(b"p%d" % i), 10)  # answered by a pong
            kind, data = wsframes.dp_parse(await ws.recv())
            bad += data != wsframes.payload(1, i) or kind != 2
        check(bad == 0, f"{COUNT} frames came back, each the library's own bytes ({bad} wrong)")
        await ws.close(4001, "client done")


def library_listener():
    from dapper_ipc import IPCManager, TransportConfig
    received = []
    ended = threading.Event()
    reason = []
    with IPCManager() as manager:
        args = manager.create_listener(TransportConfig(transport="ws"))
        host, port = args[args.index("--ipc-host") + 1], args[args.index("--ipc-port") + 1]
        check(args[:2] == ["--ipc", "ws"], f"launcher arguments {args}")

        def on_frame(kind_and_payload):
            kind, data = kind_and_payload
            i = len(received)
            received.append(data == wsframes.payload(0, i) and kind == 1)
            manager.send_bytes(wsframes.payload(1, i), 2)

        manager.start_reader(on_frame, raw=True, include_kind=True,
                             on_disconnect=lambda status, text: (reason.append((status, text)), ended.set()))
        asyncio.run(client_side(f"ws://{host}:{port}/"))
        check(ended.wait(20), "the library saw the client leave")
        check(received.count(True) == COUNT, f"the library got {COUNT} frames byte for byte ({received.count(True)} right of {len(received)})")
        check(bool(reason) and "4001" in reason[0][1] and "client done" in reason[0][1],
              f"the disconnect reason names the client's close code and reason: {reason}")


def library_client():
    import websockets
    from dapper_ipc import IPCManager, TransportConfig
    result = {}
    ready = threading.Event()
    done = threading.Event()

    async def serve():
        async def handler(ws, path=None):
            result["subprotocol"] = ws.subprotocol
            bad = 0
            for i in range(COUNT):
                kind, data = wsframes.dp_parse(await ws.recv())  # websockets refuses unmasked client frames
                bad += data != wsframes.payload(0, i) or kind != 1
                await ws.send(wsframes.dp_frame(2, wsframes.payload(1, i)))
            result["bad"] = bad
            try:
                await ws.recv()
            except websockets.ConnectionClosed as e:
                result["close"] = (e.rcvd.code if e.rcvd else None)
        async with websockets.serve(handler, "127.0.0.1", 0, subprotocols=["dapper.dp.v1"], max_size=None) as server:
            result["port"] = server.sockets[0].getsockname()[1]
            ready.set()
            await asyncio.get_running_loop().run_in_executor(None, done.wait, 120)

    thread = threading.Thread(target=lambda: asyncio.run(serve()))
    thread.start()
    try:
        check(ready.wait(10), "the websockets server listens")
        got = []
        all_in = threading.Event()
        with IPCManager() as manager:
            manager.connect(TransportConfig(transport="ws", host="127.0.0.1", port=result["port"]))

            def on_frame(kind_and_payload):
                kind, data = kind_and_payload
                got.append(data == wsframes.payload(1, len(got)) and kind == 2)
                if len(got) == COUNT:
                    all_in.set()

            manager.start_reader(on_frame, raw=True, include_kind=True)
            manager.send_many_bytes([wsframes.payload(0, i) for i in range(10)], kind=1)  # a batch
            for i in range(10, COUNT):
                manager.send_bytes(wsframes.payload(0, i), 1)
            check(all_in.wait(60), f"{COUNT} frames came from the websockets server")
            check(got.count(True) == COUNT, f"each byte for byte ({got.count(True)} right)")
        deadline = threading.Event()
        for _ in range(100):
            if "close" in result:
                break
            deadline.wait(0.1)
        check(result.get("subprotocol") == "dapper.dp.v1", f"the library offered dapper.dp.v1 ({result.get('subprotocol')})")
        check(result.get("bad") == 0, f"the server got {COUNT} masked frames byte for byte ({result.get('bad')} wrong)")
        check(result.get("close") == 1000, f"cleanup sent close 1000 (the server got {result.get('close')})")
    finally:
        done.set()
        thread.join(30)


def main():
    if not wsframes.apt_install("python3-websockets", have_websockets):
        print(f"SKIP: Python's websockets is not importable by {sys.executable} and could not be installed "
              "(Debian python3-websockets is for /usr/bin/python3)", flush=True)
        return wsframes.SKIP
    library_listener()
    library_client()
    print(f"{'FAILED' if failures else 'passed'}: {len(failures)} failures", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
