"""IPCManager in one process: a listener and a client manager, or a plain socket peer."""
import asyncio
import gc
import json
import logging
import os
import signal
import struct
import sys
import threading
import unittest
import weakref

from _support import LOCAL, TRANSPORTS, WAIT, Inbox, raw_client, recv_exactly
from dapper_ipc import (KIND_COMMAND, KIND_EVENT, IPCConfigError, IPCConnectionError, IPCManager, IPCStateError,
                        IPCTimeoutError, TransportConfig)

def read_frame(sock):
    header = recv_exactly(sock, 8)
    if header is None:
        return None
    length = struct.unpack(">I", header[4:])[0]
    return header[:4], recv_exactly(sock, length)


class Pair:
    """A listener and a client manager, connected, both readers collecting messages."""

    def __init__(self, transport, **reader_options):
        self.server, self.client = IPCManager(), IPCManager()
        self.args = self.server.create_listener(TransportConfig(transport=transport))
        self.at_server, self.at_client = Inbox(), Inbox()
        self.server.start_reader(self.at_server.put, **reader_options)
        self.client.connect(TransportConfig.from_launcher_args(self.args))
        self.client.start_reader(self.at_client.put, **reader_options)
        self.server.wait_for_client(WAIT)

    def close(self):
        self.client.close()
        self.server.close()


class RoundTripTests(unittest.TestCase):
    def test_dicts_flow_both_ways_with_the_default_kinds(self):
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                pair = Pair(transport, include_kind=True)
                try:
                    request = {"seq": 1, "type": "request", "command": "configurationDone", "arguments": {}}
                    pair.server.send(request)
                    self.assertEqual(pair.at_client.wait(1), [(KIND_COMMAND, request)])
                    pair.client.send({"event": "stopped", "body": {"text": "é✓"}})
                    self.assertEqual(pair.at_server.wait(1), [(KIND_EVENT, {"event": "stopped", "body": {"text": "é✓"}})])
                    pair.server.send({"seq": 2}, kind=KIND_EVENT)  # the kind is the caller's to choose
                    self.assertEqual(pair.at_client.wait(2)[1], (KIND_EVENT, {"seq": 2}))
                finally:
                    pair.close()

    def test_the_raw_bytes_path(self):
        pair = Pair(LOCAL, raw=True)
        try:
            pair.client.send_bytes(b'{"raw": true}')
            pair.client.send_bytes(bytearray(b"not json at all"))
            pair.client.send_bytes(b"")
            self.assertEqual(pair.at_server.wait(3), [b'{"raw": true}', b"not json at all", b""])
        finally:
            pair.close()

    def test_many_messages_arrive_in_order(self):
        pair = Pair("tcp")
        try:
            for i in range(2000):
                pair.client.send({"i": i})
            self.assertEqual([m["i"] for m in pair.at_server.wait(2000)], list(range(2000)))
        finally:
            pair.close()

    def test_send_many_sends_a_batch_in_order_and_reports_what_went_out(self):
        pair = Pair(LOCAL, include_kind=True)
        try:
            pair.client.send_many([{"i": i} for i in range(700)])  # more than one write's worth
            pair.client.send_many_bytes([b'{"raw": 1}', bytearray(b'{}')], kind=KIND_COMMAND)
            pair.client.send_many([])
            got = pair.at_server.wait(702)
            self.assertEqual(got[:700], [(KIND_EVENT, {"i": i}) for i in range(700)])
            self.assertEqual(got[700:], [(KIND_COMMAND, {"raw": 1}), (KIND_COMMAND, {})])
            with self.assertRaises(ValueError) as caught:  # a bad kind: nothing is sent
                pair.client.send_many([{"a": 1}], kind=9)
            self.assertEqual(caught.exception.sent, 0)
        finally:
            pair.close()

    def test_send_message_is_a_coroutine(self):
        pair = Pair(LOCAL)
        try:
            asyncio.run(pair.server.send_message({"seq": 7, "command": "threads"}))
            self.assertEqual(pair.at_client.wait(1), [{"seq": 7, "command": "threads"}])
        finally:
            pair.close()

    def test_a_frame_above_max_frame_size_is_refused_before_it_is_sent(self):
        server = IPCManager()
        args = server.create_listener(TransportConfig(transport=LOCAL))
        inbox = Inbox()
        server.start_reader(inbox.put)
        client = IPCManager()
        config = TransportConfig.from_launcher_args(args)
        config.max_frame_size = 64
        client.connect(config)
        with self.assertRaises(ValueError) as caught:
            client.send({"data": "x" * 100})
        self.assertEqual(caught.exception.status, -12)
        client.send({"small": 1})  # the connection is still good
        self.assertEqual(inbox.wait(1), [{"small": 1}])
        client.close()
        server.close()


class SendBeforeAClientTests(unittest.TestCase):
    """The original treated the listening socket as the connection here and closed it."""

    def test_send_before_a_client_fails_clearly_and_the_listener_stays_usable(self):
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                server = IPCManager()
                args = server.create_listener(TransportConfig(transport=transport, client_wait=-1))
                with self.assertRaises(IPCStateError) as caught:
                    server.send({"seq": 1})
                self.assertIn("no client is connected yet", str(caught.exception))
                self.assertIsInstance(caught.exception, RuntimeError)
                self.assertEqual(caught.exception.status, -5)
                peer = raw_client(args)  # the listener still accepts
                server.send({"seq": 2}, wait_for_client=WAIT)
                self.assertEqual(read_frame(peer), (b"DP\x01\x02", b'{"seq": 2}'))
                peer.close()
                server.cleanup()

    def test_send_before_a_client_with_the_reader_accepting(self):
        server = IPCManager()
        args = server.create_listener(TransportConfig(transport=LOCAL, client_wait=-1))
        inbox = Inbox()
        server.start_reader(inbox.put)
        with self.assertRaises(IPCStateError):
            server.send({"seq": 1})
        client = IPCManager()
        client.connect(TransportConfig.from_launcher_args(args))
        client.send({"event": "hello"})
        self.assertEqual(inbox.wait(1), [{"event": "hello"}])
        server.send({"seq": 2}, wait_for_client=WAIT)
        client.cleanup()
        server.cleanup()

    def test_waiting_for_a_client_that_never_comes_times_out(self):
        server = IPCManager()
        server.create_listener(TransportConfig(transport="tcp"))
        with self.assertRaises(IPCTimeoutError):
            server.wait_for_client(0.05)
        with self.assertRaises(TimeoutError):
            server.send({}, wait_for_client=0.05)
        server.cleanup()

    def test_wait_for_client_before_create_listener_is_a_runtime_error(self):
        with self.assertRaises(RuntimeError):
            IPCManager().wait_for_client(0.05)


class SendWaitsForTheClientTests(unittest.TestCase):
    """Commands sent right after the launcher was started, before it connected,
    were lost ("no client is connected yet"). They wait for the client now."""

    def test_send_before_the_client_waits_for_it_and_sends(self):
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                server = IPCManager()
                args = server.create_listener(TransportConfig(transport=transport))
                peer = raw_client(args)  # connected, but nobody has accepted it yet
                server.send({"command": "setBreakpoints"})
                self.assertEqual(read_frame(peer), (b"DP\x01\x02", b'{"command": "setBreakpoints"}'))
                peer.close()
                server.cleanup()

    def test_a_send_gives_up_after_client_wait(self):
        server = IPCManager()
        server.create_listener(TransportConfig(transport=LOCAL, client_wait=0.05))
        with self.assertRaises(IPCTimeoutError) as caught:
            server.send({"seq": 1})
        self.assertIn("no client connected within 50 ms", str(caught.exception))
        server.cleanup()

    def test_send_message_waits_for_the_client_without_blocking_the_loop(self):
        async def scenario(transport):
            server = IPCManager()
            args = server.create_listener(TransportConfig(transport=transport))
            sending = asyncio.ensure_future(server.send_message({"command": "configurationDone"}))
            await asyncio.sleep(0)  # the send has begun to wait
            self.assertFalse(sending.done())
            peer = raw_client(args)  # runs only because the loop is free while the send waits
            await asyncio.wait_for(sending, WAIT)
            self.assertEqual(read_frame(peer), (b"DP\x01\x02", b'{"command": "configurationDone"}'))
            peer.close()
            await server.acleanup()

        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                asyncio.run(scenario(transport))

    def test_cleanup_while_send_message_waits_cancels_it(self):
        async def scenario():
            server = IPCManager()
            server.create_listener(TransportConfig(transport="tcp"))
            sending = asyncio.ensure_future(server.send_message({"seq": 1}))
            await asyncio.sleep(0)
            self.assertFalse(sending.done())
            await server.acleanup()
            with self.assertRaises(IPCStateError) as caught:
                await asyncio.wait_for(sending, WAIT)
            self.assertEqual(caught.exception.status, -15)

        asyncio.run(scenario())


def when_main_thread_is_inside(function_name, action, module=None):
    """Runs action() on a helper thread once the main thread's stack holds the package
    function named function_name, of module (dapper_ipc.manager by default): the call
    under test has begun. Returns the thread."""
    import dapper_ipc.manager
    main, path = threading.main_thread().ident, (module or dapper_ipc.manager).__file__

    def watch():
        deadline = threading.Event()
        for _ in range(WAIT * 500):
            frame = sys._current_frames().get(main)
            while frame is not None:
                if frame.f_code.co_name == function_name and frame.f_code.co_filename == path:
                    action()
                    return
                frame = frame.f_back
            deadline.wait(0.002)

    helper = threading.Thread(target=watch)
    helper.start()
    return helper


@unittest.skipUnless(threading.current_thread() is threading.main_thread(), "needs the main thread")
class CleanupCancelsAWaitTests(unittest.TestCase):
    """wait_for_client on the main thread, ended by cleanup() elsewhere: the error says
    cleanup cancelled it (E_CANCELLED), not that the manager has no listener."""

    def assert_cancelled_by_cleanup(self, caught):
        error = caught.exception
        self.assertIsInstance(error, IPCStateError)
        self.assertEqual(error.status, -15, str(error))
        self.assertRegex(str(error), "(cleanup ran|was closed) while waiting for a client")

    def test_cleanup_from_another_thread_cancels_wait_for_client(self):
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                server = IPCManager()
                server.create_listener(TransportConfig(transport=transport))
                helper = when_main_thread_is_inside("wait_for_client", server.cleanup)
                with self.assertRaises(IPCStateError) as caught:
                    server.wait_for_client(WAIT)
                helper.join(WAIT)
                self.assert_cancelled_by_cleanup(caught)
                self.assertFalse(server.is_enabled)
                server.close()

    @unittest.skipIf(sys.platform == "win32", "pthread_kill")
    def test_cleanup_from_a_signal_handler_cancels_wait_for_client(self):
        for transport in TRANSPORTS:
            with self.subTest(transport=transport):
                server = IPCManager()
                server.create_listener(TransportConfig(transport=transport))
                previous = signal.signal(signal.SIGUSR1, lambda *_: server.cleanup())
                try:
                    main = threading.main_thread().ident
                    helper = when_main_thread_is_inside("wait_for_client",
                                                        lambda: signal.pthread_kill(main, signal.SIGUSR1))
                    with self.assertRaises(IPCStateError) as caught:
                        server.wait_for_client(WAIT)
                    helper.join(WAIT)
                finally:
                    signal.signal(signal.SIGUSR1, previous)
                self.assert_cancelled_by_cleanup(caught)
                self.assertFalse(server.is_enabled)
                server.close()


@unittest.skipIf(sys.platform == "win32", "pthread_kill")
@unittest.skipUnless(threading.current_thread() is threading.main_thread(), "needs the main thread")
class CtrlCAtAnyMomentTests(unittest.TestCase):
    """A SIGINT can land between any two bytecodes of the main thread's wait for a blocking
    call. With the wait slice at 0 the main thread spends its time in the waiting code
    itself, so SIGINTs sent at scattered moments land all over it, including where
    threading's Event.wait has let go of its lock and not yet entered its try (there a
    KeyboardInterrupt turns into RuntimeError("release unlocked lock"), which CI saw once
    in test_interop's Ctrl-C test). Each must come out as KeyboardInterrupt, the manager
    cleaned up, whatever the moment."""

    def test_a_sigint_anywhere_in_the_wait_is_a_keyboard_interrupt(self):
        import random
        import time
        from dapper_ipc import _interruptible
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        wait_slice = _interruptible.WAIT_SLICE
        _interruptible.WAIT_SLICE = 0
        switch = sys.getswitchinterval()
        sys.setswitchinterval(1e-4)  # the spinning main thread hands the GIL to the others soon
        rng, main = random.Random(13), threading.main_thread().ident
        try:
            for _ in range(100):
                server = IPCManager()
                server.create_listener(TransportConfig(transport=LOCAL))
                delay = rng.random() * 0.001  # scatters the signal over the wait, not a wait for something

                def interrupt():
                    time.sleep(delay)
                    signal.pthread_kill(main, signal.SIGINT)

                helper = when_main_thread_is_inside("blocking", interrupt, _interruptible)
                with self.assertRaises(KeyboardInterrupt):
                    server.wait_for_client(WAIT)
                helper.join(WAIT)
                self.assertFalse(server.is_enabled)
                server.close()
        finally:
            _interruptible.WAIT_SLICE = wait_slice
            sys.setswitchinterval(switch)
            signal.signal(signal.SIGINT, previous)

    @unittest.skipUnless(os.name == "posix", "sends SIGINT with kill")
    def test_a_sigint_before_cleanups_worker_began_still_cleans_up(self):
        # cleanup on the main thread waits for a busy handler through a worker thread. With
        # a long switch interval the spinning main thread keeps the GIL, so the worker has
        # not begun when the SIGINT (from another process: it needs no GIL) lands. The
        # cleanup must still happen: the peer sees end-of-file, and create_listener
        # afterwards succeeds (it waits for the cleanup to finish).
        import subprocess
        from dapper_ipc import _interruptible
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        wait_slice = _interruptible.WAIT_SLICE
        _interruptible.WAIT_SLICE = 0
        switch = sys.getswitchinterval()
        server = IPCManager()
        try:
            peer = raw_client(server.create_listener(TransportConfig(transport=LOCAL)))
            server.wait_for_client(WAIT)
            busy, release = threading.Event(), threading.Event()
            server.start_reader(lambda _m: (busy.set(), release.wait(WAIT)))
            peer.sendall(b"DP\x01\x01\x00\x00\x00\x02{}")
            self.assertTrue(busy.wait(WAIT))
            kill = subprocess.Popen(["sh", "-c", f"sleep 0.2; kill -INT {os.getpid()}"])
            sys.setswitchinterval(5.0)
            try:
                with self.assertRaises(KeyboardInterrupt):
                    server.cleanup()
            finally:
                sys.setswitchinterval(switch)
                kill.wait(WAIT)
            self.assertFalse(server.is_enabled)
            self.assertEqual(peer.recv(1), b"", "the interrupted cleanup left the connection open")
            release.set()
            server.create_listener(TransportConfig(transport=LOCAL))
            peer.close()
        finally:
            release.set()
            server.close()
            _interruptible.WAIT_SLICE = wait_slice
            signal.signal(signal.SIGINT, previous)


class CleanupTests(unittest.TestCase):
    """The original's cleanup() from the main thread did not close the connection."""

    def test_cleanup_from_the_main_thread_ends_the_connection_so_the_peer_sees_eof(self):
        for transport in TRANSPORTS:
            for reader in (False, True):
                with self.subTest(transport=transport, reader=reader):
                    server = IPCManager()
                    args = server.create_listener(TransportConfig(transport=transport))
                    peer = raw_client(args)
                    server.wait_for_client(WAIT)
                    if reader:
                        server.start_reader(lambda m: None)
                    server.cleanup()
                    self.assertEqual(peer.recv(1), b"")
                    self.assertFalse(server.is_enabled)
                    if transport == "unix":
                        self.assertFalse(os.path.exists(args[3]))
                    server.cleanup()  # idempotent
                    with self.assertRaises(IPCStateError):
                        server.send({"seq": 1})
                    peer.close()

    def test_a_client_managers_cleanup_ends_the_connection_too(self):
        server = IPCManager()
        args = server.create_listener(TransportConfig(transport="tcp"))
        ended = Inbox()
        server.start_reader(lambda m: None, on_disconnect=lambda status, reason: ended.put(status))
        with IPCManager() as client:  # __exit__ is cleanup(), as the original's
            client.connect(TransportConfig.from_launcher_args(args))
            client.start_reader(lambda m: None)
        self.assertFalse(client.is_enabled)
        self.assertEqual(ended.wait(1), [0])  # a clean end-of-file
        with self.assertRaises(IPCConnectionError):
            server.send({"seq": 9})
        server.cleanup()

    def test_a_manager_can_listen_again_after_cleanup(self):
        manager = IPCManager()
        for transport in TRANSPORTS:
            args = manager.create_listener(TransportConfig(transport=transport))
            inbox = Inbox()
            manager.start_reader(inbox.put)
            with IPCManager() as client:
                client.connect(TransportConfig.from_launcher_args(args))
                client.send({"transport": transport})
                self.assertEqual(inbox.wait(1), [{"transport": transport}])
            manager.cleanup()

    def test_cleanup_from_inside_the_handler(self):
        server = IPCManager()
        args = server.create_listener(TransportConfig(transport=LOCAL))
        cleaned, release, finished = threading.Event(), threading.Event(), threading.Event()

        def handler(_message):
            server.cleanup()
            cleaned.set()
            release.wait(WAIT)
            finished.set()

        server.start_reader(handler)
        peer = raw_client(args)
        payload = b'{"event": "x"}'
        peer.sendall(b"DP\x01\x01" + struct.pack(">I", len(payload)) + payload)
        self.assertTrue(cleaned.wait(WAIT))
        self.assertFalse(server.is_enabled)
        self.assertEqual(peer.recv(1), b"")  # closed while the handler still runs
        # A cleanup on another thread returns only once that handler has returned.
        result = {}
        closer = threading.Thread(target=lambda: (server.close(), result.setdefault("finished", finished.is_set())))
        closer.start()
        release.set()
        closer.join(WAIT)
        self.assertEqual(result, {"finished": True})
        peer.close()

    def test_no_handler_call_after_cleanup_inside_a_burst(self):
        # The reader hands a whole read's frames to Python in one callback: cleanup from
        # the handler at the first frame must still end the deliveries there.
        server = IPCManager()
        args = server.create_listener(TransportConfig(transport=LOCAL))
        calls, cleaned = [], threading.Event()

        def handler(message):
            calls.append(message)
            if len(calls) == 1:
                server.cleanup()
                cleaned.set()

        server.start_reader(handler)
        peer = raw_client(args)
        frames = b"".join(b"DP\x01\x01" + struct.pack(">I", len(p)) + p
                          for p in (b'{"seq": %d}' % i for i in range(500)))
        peer.sendall(frames)  # one write: the reader takes many frames per read
        self.assertTrue(cleaned.wait(WAIT))
        server.close()  # joins the reader: no handler runs after this
        self.assertEqual(calls, [{"seq": 0}])
        peer.close()

    def test_acleanup_and_async_with(self):
        async def scenario():
            async with IPCManager() as server:
                args = server.create_listener(TransportConfig(transport="tcp"))
                peer = raw_client(args)
                server.wait_for_client(WAIT)
            self.assertFalse(server.is_enabled)
            with peer:
                return await asyncio.get_running_loop().run_in_executor(None, peer.recv, 1)

        self.assertEqual(asyncio.run(scenario()), b"")

    def test_an_open_manager_is_kept_alive_while_its_reader_may_call_back(self):
        got = Inbox()

        def listen():
            server = IPCManager()
            args = server.create_listener(TransportConfig(transport=LOCAL))
            server.start_reader(got.put)
            return args, weakref.ref(server)

        args, ref = listen()  # nothing refers to the manager any more
        gc.collect()
        self.assertIsNotNone(ref(), "an open manager was collected while its reader ran")
        with IPCManager() as client:
            client.connect(TransportConfig.from_launcher_args(args))
            client.send({"still": "delivered"})
            self.assertEqual(got.wait(1), [{"still": "delivered"}])
        ref().cleanup()
        gc.collect()
        self.assertIsNone(ref(), "a manager cleaned up and dropped is freed")


class HandlerTests(unittest.TestCase):
    def test_a_handler_exception_is_logged_and_the_reader_goes_on(self):
        inbox = Inbox()

        def handler(message):
            if message.get("boom"):
                raise RuntimeError("handler bug")
            inbox.put(message)

        server = IPCManager()
        args = server.create_listener(TransportConfig(transport=LOCAL))
        with self.assertLogs("dapper.ipc", "ERROR") as logs:
            server.start_reader(handler)
            with IPCManager() as client:
                client.connect(TransportConfig.from_launcher_args(args))
                client.send({"boom": True})
                client.send({"after": 1})
                self.assertEqual(inbox.wait(1), [{"after": 1}])
        self.assertTrue(any("handler raised" in line and "handler bug" in line for line in logs.output))
        server.cleanup()

    def test_the_handler_can_send_from_the_reader_thread(self):
        server = IPCManager()
        args = server.create_listener(TransportConfig(transport="tcp"))
        server.start_reader(lambda m: server.send({"seq": m["n"], "command": "ack"}))
        client = IPCManager()
        client.connect(TransportConfig.from_launcher_args(args))
        inbox = Inbox()
        client.start_reader(inbox.put)
        for n in range(50):
            client.send({"n": n})
        self.assertEqual([m["seq"] for m in inbox.wait(50)], list(range(50)))
        client.cleanup()
        server.cleanup()

    def test_messages_can_be_iterated_in_an_event_loop(self):
        async def scenario():
            server = IPCManager()
            args = server.create_listener(TransportConfig(transport="tcp"))
            client = IPCManager()
            await asyncio.get_running_loop().run_in_executor(None, client.connect, TransportConfig.from_launcher_args(args))
            for i in range(3):
                client.send({"i": i})
            received = []
            async for message in server.messages():
                received.append(message)
                if len(received) == 3:
                    break
            await server.send_message({"seq": 1})
            # The iteration ends when the peer leaves.
            client.cleanup()
            rest = [message async for message in server.messages()]
            await server.acleanup()
            return received, rest

        received, rest = asyncio.run(asyncio.wait_for(scenario(), WAIT))
        self.assertEqual(received, [{"i": 0}, {"i": 1}, {"i": 2}])
        self.assertEqual(rest, [])

    def test_a_burst_through_messages_arrives_whole_and_in_order_then_ends(self):
        # The loop is woken once per burst, not per message: none may be stranded.
        count = 3000

        async def scenario():
            server = IPCManager()
            args = server.create_listener(TransportConfig(transport=LOCAL))
            client = IPCManager()
            await asyncio.get_running_loop().run_in_executor(None, client.connect, TransportConfig.from_launcher_args(args))

            def flood():
                for n in range(count):
                    client.send({"n": n})
                client.cleanup()  # the iteration then ends

            sender = threading.Thread(target=flood)
            received = []
            iterator = server.messages()
            sender.start()
            async for message in iterator:
                received.append(message["n"])
            sender.join()
            await server.acleanup()
            return received

        self.assertEqual(asyncio.run(asyncio.wait_for(scenario(), WAIT)), list(range(count)))

    def test_messages_are_delivered_into_the_loop_thread(self):
        async def scenario():
            server = IPCManager()
            args = server.create_listener(TransportConfig(transport=LOCAL))
            loop_thread = threading.get_ident()
            threads = []
            client = IPCManager()
            await asyncio.get_running_loop().run_in_executor(None, client.connect, TransportConfig.from_launcher_args(args))
            client.send({"x": 1})
            async for _message in server.messages():
                threads.append(threading.get_ident())
                break
            await server.acleanup()
            client.cleanup()
            return threads == [loop_thread]

        self.assertTrue(asyncio.run(asyncio.wait_for(scenario(), WAIT)))


class LoggingAndErrorTests(unittest.TestCase):
    def test_a_manager_finalized_between_a_failing_call_and_its_message_leaves_the_message(self):
        # The cyclic collector can run __del__ (which destroys a manager) at any allocation,
        # also between a failing call and the read of its message on that thread.
        from dapper_ipc import _native as native
        garbage = IPCManager()
        bogus = native.Manager(2**64 - 1)
        status = native.lib().dapper_ipc_cleanup(bogus)
        self.assertEqual(status, native.E_INVALID_HANDLE)
        del garbage
        gc.collect()
        self.assertIn("invalid handle", native.last_error())

    def test_the_non_loopback_warning_is_a_logging_warning(self):
        with self.assertLogs("dapper.ipc.native", "WARNING") as logs:
            server = IPCManager()
            server.create_listener(TransportConfig(transport="tcp", host="0.0.0.0"))
            server.cleanup()
        self.assertTrue(any(r.levelno == logging.WARNING and "security warning" in r.getMessage()
                            for r in logs.records), logs.output)

    def test_library_debug_messages_are_debug_records(self):
        with self.assertLogs("dapper.ipc.native", "DEBUG") as logs:
            server = IPCManager()
            server.create_listener(TransportConfig(transport="tcp"))
            server.cleanup()
        self.assertTrue(any(r.levelno == logging.DEBUG and "listening on" in r.getMessage() for r in logs.records))

    @unittest.skipUnless(threading.current_thread() is threading.main_thread(), "needs the main thread")
    def test_ctrl_c_inside_the_log_callback_reaches_the_caller(self):
        # The library calls the log callback on the thread of the call that logs; Ctrl-C
        # arriving there must not end as ctypes' "Exception ignored".
        from dapper_ipc import _native

        class Interrupting(logging.Handler):
            def emit(self, record):
                raise KeyboardInterrupt

        native_logger = logging.getLogger("dapper.ipc.native")
        handler = Interrupting()
        native_logger.addHandler(handler)
        unraisable, hook = [], sys.unraisablehook
        sys.unraisablehook = unraisable.append
        interrupted = False
        try:
            try:
                _native._log_callback(None, 2, b"a library warning")  # through ctypes, as the library calls it
                IPCManager().is_connected  # the package's next library call on this thread raises it
            except KeyboardInterrupt:
                interrupted = True
        finally:
            sys.unraisablehook = hook
            native_logger.removeHandler(handler)
        self.assertEqual([u.exc_type for u in unraisable], [])
        self.assertTrue(interrupted, "the KeyboardInterrupt never reached the caller")

    def test_errors_carry_the_library_message_and_status(self):
        server = IPCManager()
        server.create_listener(TransportConfig(transport="tcp"))
        with self.assertRaises(IPCStateError) as caught:
            server.create_listener(TransportConfig(transport="tcp"))
        self.assertIn("call cleanup first", str(caught.exception))
        self.assertEqual(caught.exception.status, -3)
        port = int(server.launcher_args[-1])
        other = IPCManager()
        with self.assertRaises(IPCConnectionError) as caught:  # also an OSError, as the original's bind failure
            other.create_listener(TransportConfig(transport="tcp", port=port))
        self.assertIn(str(port), str(caught.exception))
        server.cleanup()

    def test_state_errors_the_package_finds_carry_the_librarys_status(self):
        server = IPCManager()
        server.create_listener(TransportConfig(transport=LOCAL))
        with self.assertRaises(IPCStateError) as caught:
            server.start_reader(accept=False)  # no client yet
        self.assertEqual(caught.exception.status, -3)
        server.start_reader(None)
        with self.assertRaises(IPCStateError) as caught:
            server.start_reader(None)
        self.assertEqual((caught.exception.status, str(caught.exception)), (-3, "the reader is already running"))
        server.cleanup()

    def test_exceptions_survive_pickling(self):
        import pickle
        error = pickle.loads(pickle.dumps(IPCConfigError("bad", -1)))
        self.assertEqual((type(error), str(error), error.status), (IPCConfigError, "bad", -1))

    def test_auth_token_reaches_a_client_through_the_environment_variable(self):
        server = IPCManager()
        args = server.create_listener(TransportConfig(transport="tcp", require_auth=True))
        token = server.auth_token
        self.assertEqual(len(token), 64)
        self.assertNotIn(token, " ".join(args))
        inbox = Inbox()
        server.start_reader(inbox.put)
        client = IPCManager()
        client.connect(TransportConfig(transport="tcp", port=int(args[-1]), auth_token=token))
        client.send({"ok": True})
        self.assertEqual(inbox.wait(1), [{"ok": True}])
        client.cleanup()
        server.cleanup()

    def test_json_goes_out_as_utf8(self):
        server = IPCManager()
        args = server.create_listener(TransportConfig(transport=LOCAL))
        peer = raw_client(args)
        server.wait_for_client(WAIT)
        server.send({"text": "é"})
        header, payload = read_frame(peer)
        self.assertEqual(json.loads(payload.decode("utf-8")), {"text": "é"})
        peer.close()
        server.cleanup()


if __name__ == "__main__":
    unittest.main()
