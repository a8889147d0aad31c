"""The pull mode: recv() on the caller's thread, await recv() and messages()
driven by loop.add_reader on the library's readable handle, with no reader thread."""
import asyncio
import json
import sys
import threading
import unittest

from _support import LOCAL, TRANSPORTS, WAIT
from dapper_ipc import IPCConnectionError, IPCManager, IPCStateError, IPCTimeoutError, TransportConfig, _fast


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


def when_inside_an_idle_wait(action):
    """A thread that runs action() once the main thread is blocked in IdleWait.readable's
    poll (its frame is on the main thread's stack); .ran says whether it did."""
    from dapper_ipc import _idle_wait
    main, path = threading.main_thread().ident, _idle_wait.__file__

    def watch():
        pause = threading.Event()
        for _ in range(WAIT * 500):
            frame = sys._current_frames().get(main)
            while frame is not None:
                if frame.f_code.co_name == "readable" and frame.f_code.co_filename == path:
                    helper.ran = True
                    action()
                    return
                frame = frame.f_back
            pause.wait(0.002)

    helper = threading.Thread(target=watch)
    helper.ran = False
    helper.start()
    return helper


IDLE_WAIT = _fast.chosen["idle_wait"] == "fast"


class IdleWaitTests(unittest.TestCase):
    """await recv() on a loop with nothing else to do blocks in poll() on the readable
    handle and the loop's own selector (_idle_wait.py, where _fast.py chose it; else the
    plain await through loop.add_reader, which these scenarios hold too). Nothing else on
    the loop may wait longer for it: a timer, an fd another callback watches, a wake-up from another thread
    each get their turn while a response is awaited. Each scenario's response is sent only
    by the callback under test; a watchdog thread sends a different one after WAIT, so a
    wait that kept the loop from the callback returns the watchdog's message (and fails)
    instead of hanging."""

    def scenario(self, trigger):
        async def run():
            pair = Pair(LOCAL, echo=False)
            watchdog_off = threading.Event()

            def watchdog():
                if not watchdog_off.wait(WAIT):
                    pair.client.send({"from": "the watchdog"})

            guard = threading.Thread(target=watchdog)
            guard.start()
            try:
                # Sent once recv waits: that first wait sets up the readable handle.
                asyncio.get_running_loop().call_soon(pair.client.send, {"from": "the priming send"})
                self.assertEqual(await pair.server.recv(), {"from": "the priming send"})
                self.assertIsNotNone(pair.server._pull._fd)
                await trigger(asyncio.get_running_loop(), lambda: pair.client.send({"from": "the callback"}))
                self.assertEqual(await pair.server.recv(), {"from": "the callback"})
                if IDLE_WAIT:
                    self.assertIsNotNone(pair.server._pull._idle._poll, "the idle wait was not used")
            finally:
                watchdog_off.set()
                guard.join()
                pair.close()

        asyncio.run(run())

    def test_a_timer_due_while_a_response_is_awaited_runs(self):
        async def trigger(loop, respond):
            loop.call_later(0.01, respond)
        self.scenario(trigger)

    def test_an_fd_the_loop_watches_is_served_while_a_response_is_awaited(self):
        import socket

        async def trigger(loop, respond):
            ours, theirs = socket.socketpair()

            def readable():
                loop.remove_reader(ours)
                ours.close()
                theirs.close()
                respond()

            loop.add_reader(ours, readable)
            theirs.send(b"x")  # ready before the wait begins: a wait on the handle alone would block
        self.scenario(trigger)

    def test_a_wake_up_from_another_thread_is_served_while_a_response_is_awaited(self):
        async def trigger(loop, respond):
            threading.Thread(target=loop.call_soon_threadsafe, args=(respond,)).start()
        self.scenario(trigger)

    @unittest.skipUnless(IDLE_WAIT, "the idle wait is not used: " + _fast.chosen["idle_wait"])
    def test_cleanup_from_another_thread_ends_an_idle_wait(self):
        async def run():
            pair = Pair(LOCAL, echo=False)
            try:
                loop = asyncio.get_running_loop()
                loop.call_soon(pair.client.send, {"seq": 0})  # once recv waits: the handle is set up
                await pair.server.recv()
                # A frame nobody awaits for a few loop iterations: the loop stops watching the
                # handle (Pull._on_readable), so only the idle wait itself can be woken.
                pair.client.send({"seq": 1})
                for _ in range(5):
                    await asyncio.sleep(0)
                self.assertIsNone(pair.server._pull._loop, "the loop still watches the handle")
                self.assertEqual(await pair.server.recv(), {"seq": 1})
                helper = when_inside_an_idle_wait(pair.server.cleanup)
                woken, done = [], threading.Event()

                def watchdog():  # ends a wait that the cleanup did not end, so the test fails instead of hanging
                    if not done.wait(WAIT):
                        woken.append(True)
                        loop.call_soon_threadsafe(lambda: None)

                guard = threading.Thread(target=watchdog)
                guard.start()
                try:
                    with self.assertRaises(IPCStateError) as caught:
                        await pair.server.recv()
                finally:
                    done.set()
                    guard.join()
                helper.join(WAIT)
                self.assertTrue(helper.ran, "the cleanup did not come during an idle wait")
                self.assertEqual(woken, [], "the idle wait went on after the cleanup until the watchdog woke the loop")
                self.assertEqual(caught.exception.status, -15)
            finally:
                pair.close()

        asyncio.run(run())


if __name__ == "__main__":
    unittest.main()
