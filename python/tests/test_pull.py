"""The pull mode (issue 13): recv() on the caller's thread, await recv() and messages()
driven by loop.add_reader on the library's readable handle, with no reader thread."""
import asyncio
import json
import threading
import unittest

from _support import LOCAL, TRANSPORTS, WAIT
from dapper_ipc import IPCConnectionError, IPCManager, IPCStateError, IPCTimeoutError, TransportConfig

def reader_threads():
    return [t for t in threading.enumerate() if t.name == "dapper-ipc-reader"]


class Pair:
    """A listener in the pull mode and a client whose handler echoes each command."""

    def __init__(self, transport, echo=True):
        self.server, self.client = IPCManager(), IPCManager()
        args = self.server.create_listener(TransportConfig(transport=transport))
        self.client.connect(TransportConfig.from_launcher_args(args))
        if echo:
            self.client.start_reader(lambda m: self.client.send({"echo": m}))
        self.server.wait_for_client(WAIT)

    def close(self):
        self.client.close()
        self.server.close()


class BlockingRecvTests(unittest.TestCase):
    def test_recv_takes_messages_in_order_and_times_out(self):
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                pair = Pair(transport, echo=False)
                try:
                    pair.client.send_many([{"seq": i} for i in range(100)])
                    self.assertEqual([pair.server.recv(WAIT) for _ in range(100)], [{"seq": i} for i in range(100)])
                    with self.assertRaises(IPCTimeoutError):
                        pair.server.recv(0.05)
                    big = {"data": "x" * 200_000}  # larger than the first buffer: it grows
                    pair.client.send(big)
                    self.assertEqual(pair.server.recv(WAIT), big)
                    pair.client.cleanup()
                    with self.assertRaises(IPCConnectionError) as caught:
                        pair.server.recv(WAIT)
                    self.assertEqual(caught.exception.status, -10)
                finally:
                    pair.close()

    def test_a_request_from_a_thread_and_its_response_awaited_there(self):
        pair = Pair(LOCAL)
        try:
            for seq in range(50):
                pair.server.send({"seq": seq})
                self.assertEqual(pair.server.recv(WAIT), {"echo": {"seq": seq}})
            self.assertFalse(pair.server._reader_started)
        finally:
            pair.close()


class BatchTests(unittest.TestCase):
    """One library call takes every buffered frame (dapper_ipc_recv_batch): what it takes
    beyond the first waits in the package, in order, through buffer growth and skips."""

    BURST = ([{"seq": i} for i in range(300)] + [{"seq": 300, "big": "x" * 100_000}]
             + [{"seq": i} for i in range(301, 600)])

    def send_burst(self, client):
        payloads = [json.dumps(m).encode() for m in self.BURST]
        payloads.insert(150, b"not json")  # skipped and logged, not an end
        client.send_many_bytes(payloads)

    def test_recv_hands_out_a_burst_in_order_through_growth_and_skips(self):
        pair = Pair(LOCAL, echo=False)
        try:
            with self.assertLogs("dapper.ipc", "WARNING"):
                self.send_burst(pair.client)
                self.assertEqual([pair.server.recv(WAIT) for _ in self.BURST], self.BURST)
            with self.assertRaises(IPCTimeoutError):
                pair.server.recv(0.05)
        finally:
            pair.close()

    def test_messages_hands_out_a_burst_in_order_through_growth_and_skips(self):
        async def main(pair):
            got = []
            with self.assertLogs("dapper.ipc", "WARNING"):
                self.send_burst(pair.client)
                pair.client.cleanup()
                async for message in pair.server.messages():
                    got.append(message)
            return got

        pair = Pair("tcp", echo=False)
        try:
            self.assertEqual(asyncio.run(asyncio.wait_for(main(pair), WAIT)), self.BURST)
        finally:
            pair.close()


class AsyncPullTests(unittest.TestCase):
    def test_await_recv_after_send_message(self):
        async def scenario(transport):
            pair = Pair(transport)
            try:
                before = len(reader_threads())
                for seq in range(50):
                    await pair.server.send_message({"seq": seq})
                    self.assertEqual(await pair.server.recv(), {"echo": {"seq": seq}})
                self.assertEqual(len(reader_threads()), before, "no reader thread for the pull mode")
                with self.assertRaises(IPCTimeoutError):
                    await pair.server.recv(0.05)
            finally:
                pair.close()

        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                asyncio.run(scenario(transport))

    def test_messages_without_a_reader_takes_a_burst_and_ends_when_the_peer_leaves(self):
        async def scenario(transport):
            pair = Pair(transport, echo=False)
            try:
                pair.client.send_many([{"seq": i} for i in range(2000)])
                pair.client.cleanup()
                got = [m async for m in pair.server.messages()]
                self.assertEqual(got, [{"seq": i} for i in range(2000)])
                self.assertFalse(pair.server._reader_started)
            finally:
                pair.close()

        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                asyncio.run(scenario(transport))

    def test_messages_on_a_listener_waits_for_the_client(self):
        async def scenario():
            server, client = IPCManager(), IPCManager()
            args = server.create_listener(TransportConfig(transport=LOCAL))

            async def consume():
                return [m async for m in server.messages()]

            consuming = asyncio.ensure_future(consume())
            await asyncio.sleep(0)
            await asyncio.get_running_loop().run_in_executor(
                None, client.connect, TransportConfig.from_launcher_args(args))
            client.send({"event": "initialized"})
            client.cleanup()
            self.assertEqual(await asyncio.wait_for(consuming, WAIT), [{"event": "initialized"}])
            client.close()
            server.close()

        asyncio.run(scenario())

    def test_cleanup_while_await_recv_waits_cancels_it(self):
        async def scenario():
            pair = Pair("tcp", echo=False)
            try:
                waiting = asyncio.ensure_future(pair.server.recv())
                await asyncio.sleep(0)
                await asyncio.sleep(0)
                self.assertFalse(waiting.done())
                await pair.server.acleanup()
                with self.assertRaises(IPCStateError) as caught:
                    await asyncio.wait_for(waiting, WAIT)
                self.assertEqual(caught.exception.status, -15)
            finally:
                pair.close()

        asyncio.run(scenario())


if __name__ == "__main__":
    unittest.main()
