import asyncio
import os
import socket
import struct
import threading
import unittest

from dapper_ipc import (KIND_COMMAND, KIND_EVENT, IPCConnectionError, IPCManager, IPCStateError, IPCTimeoutError,
                        TransportConfig)

WAIT = 20


def raw_client(args):
    if args[1] == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(args[3])
    else:
        s = socket.create_connection((args[3], int(args[5])))
    return s


class Pair:
    """A listener and a client manager, connected, both readers collecting messages."""

    def __init__(self, transport):
        self.server, self.client = IPCManager(), IPCManager()
        self.args = self.server.create_listener(TransportConfig(transport=transport))
        self.at_server, self.at_client = Inbox(), Inbox()
        self.server.start_reader(self.at_server.put)
        self.client.connect(TransportConfig.from_launcher_args(self.args))
        self.client.start_reader(self.at_client.put)
        self.server.wait_for_client(WAIT)

    def close(self):
        self.client.close()
        self.server.close()


class Inbox:
    def __init__(self):
        self.items, self.changed = [], threading.Condition()

    def put(self, item):
        with self.changed:
            self.items.append(item)
            self.changed.notify_all()

    def wait(self, count):
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.items) >= count, WAIT):
                raise AssertionError(f"{len(self.items)} of {count} messages arrived")
            return self.items[:count]


class ManagerTests(unittest.TestCase):
    def test_dicts_flow_both_ways_over_unix_and_tcp(self):
        for transport in ("unix", "tcp"):
            with self.subTest(transport=transport):
                pair = Pair(transport)
                try:
                    pair.server.send({"seq": 1, "type": "request", "command": "configurationDone", "arguments": {}})
                    self.assertEqual(pair.at_client.wait(1)[0]["command"], "configurationDone")
                    pair.client.send({"event": "stopped"})
                    self.assertEqual(pair.at_server.wait(1), [{"event": "stopped"}])
                finally:
                    pair.close()

    def test_the_raw_path_and_the_kind_are_available(self):
        server = IPCManager()
        args = server.create_listener(TransportConfig(transport="unix"))
        inbox = Inbox()
        server.start_reader(inbox.put, raw=True, include_kind=True)
        with IPCManager() as client:
            client.connect(TransportConfig.from_launcher_args(args))
            client.send_bytes(b'{"raw": true}')
            self.assertEqual(inbox.wait(1), [(KIND_EVENT, b'{"raw": true}')])
        server.close()

    def test_send_before_a_client_fails_clearly_and_the_listener_stays_usable(self):
        # The original treated the listening socket as the connection here and closed it.
        with IPCManager() as server:
            args = server.create_listener(TransportConfig(transport="unix"))
            with self.assertRaises(IPCStateError) as caught:
                server.send({"seq": 1})
            self.assertIn("no client is connected yet", str(caught.exception))
            peer = raw_client(args)
            server.send({"seq": 2}, wait_for_client=WAIT)
            header = peer.recv(8, socket.MSG_WAITALL)
            self.assertEqual(header[:4], b"DP\x01\x02")
            self.assertEqual(peer.recv(struct.unpack(">I", header[4:])[0], socket.MSG_WAITALL), b'{"seq": 2}')
            peer.close()

    def test_waiting_for_a_client_that_never_comes_times_out(self):
        with IPCManager() as server:
            server.create_listener(TransportConfig(transport="tcp"))
            with self.assertRaises(IPCTimeoutError):
                server.wait_for_client(0.1)
            with self.assertRaises(TimeoutError):
                server.send({}, wait_for_client=0.1)

    def test_cleanup_from_the_main_thread_ends_the_connection_so_the_peer_sees_eof(self):
        # The original's cleanup() from the main thread left the connection open.
        for transport in ("unix", "tcp"):
            with self.subTest(transport=transport):
                server = IPCManager()
                args = server.create_listener(TransportConfig(transport=transport))
                peer = raw_client(args)
                server.wait_for_client(WAIT)
                server.cleanup()
                peer.settimeout(WAIT)
                self.assertEqual(peer.recv(1), b"")
                self.assertFalse(server.is_enabled)
                if transport == "unix":
                    self.assertFalse(os.path.exists(args[3]))
                server.cleanup()  # idempotent
                server.close()
                peer.close()

    def test_a_handler_exception_is_logged_and_the_reader_goes_on(self):
        server = IPCManager()
        args = server.create_listener(TransportConfig(transport="unix"))
        inbox = Inbox()

        def handler(message):
            if message.get("boom"):
                raise RuntimeError("handler bug")
            inbox.put(message)

        with self.assertLogs("dapper.ipc", "ERROR") as logs:
            server.start_reader(handler)
            with IPCManager() as client:
                client.connect(TransportConfig.from_launcher_args(args))
                client.send({"boom": True})
                client.send({"after": 1})
                self.assertEqual(inbox.wait(1), [{"after": 1}])
        self.assertTrue(any("handler raised" in line for line in logs.output))
        server.close()

    def test_cleanup_from_inside_the_handler_works(self):
        server = IPCManager()
        args = server.create_listener(TransportConfig(transport="unix"))
        done = threading.Event()

        def handler(_message):
            server.cleanup()
            done.set()

        server.start_reader(handler)
        with IPCManager() as client:
            client.connect(TransportConfig.from_launcher_args(args))
            client.send({"event": "x"})
            self.assertTrue(done.wait(WAIT))
            self.assertFalse(server.is_enabled)
        server.close()

    def test_the_disconnect_handler_hears_the_peer_leave_and_sends_then_fail(self):
        server = IPCManager()
        args = server.create_listener(TransportConfig(transport="unix"))
        left = threading.Event()
        server.start_reader(lambda _m: None, on_disconnect=lambda status, reason: left.set())
        client = IPCManager()
        client.connect(TransportConfig.from_launcher_args(args))
        server.wait_for_client(WAIT)
        client.close()
        self.assertTrue(left.wait(WAIT))
        with self.assertRaises(IPCConnectionError):
            server.send({"seq": 9})
        server.close()

    def test_messages_can_be_iterated_in_an_event_loop(self):
        async def scenario():
            async with IPCManager() as server:
                args = server.create_listener(TransportConfig(transport="tcp"))
                with IPCManager() as client:
                    client.connect(TransportConfig.from_launcher_args(args))
                    for i in range(3):
                        client.send({"i": i})
                    received = []
                    async for message in server.messages():
                        received.append(message)
                        if len(received) == 3:
                            break
                    await server.send_message({"seq": 1})
                return received

        self.assertEqual(asyncio.run(asyncio.wait_for(scenario(), WAIT)), [{"i": 0}, {"i": 1}, {"i": 2}])

    def test_the_non_loopback_warning_reaches_python_logging(self):
        with self.assertLogs("dapper.ipc.native", "WARNING") as logs, IPCManager() as server:
            server.create_listener(TransportConfig(transport="tcp", host="0.0.0.0"))
        self.assertTrue(any("security warning" in line for line in logs.output))

    def test_errors_carry_the_library_message_and_status(self):
        with IPCManager() as server:
            server.create_listener(TransportConfig(transport="tcp"))
            with self.assertRaises(IPCStateError) as caught:
                server.create_listener(TransportConfig(transport="tcp"))
            self.assertIn("call cleanup first", str(caught.exception))
            self.assertEqual(caught.exception.status, -3)

    def test_auth_token_reaches_a_client_through_the_environment_variable(self):
        with IPCManager() as server:
            args = server.create_listener(TransportConfig(transport="tcp", require_auth=True))
            token = server.auth_token
            self.assertEqual(len(token), 64)
            self.assertNotIn(token, " ".join(args))
            inbox = Inbox()
            server.start_reader(inbox.put)
            os.environ["DAPPER_IPC_AUTH_TOKEN"] = token
            try:
                with IPCManager() as client:
                    client.connect(TransportConfig.from_launcher_args(args))
                    client.send({"ok": True})
                    self.assertEqual(inbox.wait(1), [{"ok": True}])
            finally:
                del os.environ["DAPPER_IPC_AUTH_TOKEN"]

    def test_commands_are_the_default_kind_of_a_listener(self):
        server = IPCManager()
        args = server.create_listener(TransportConfig(transport="unix"))
        peer = raw_client(args)
        server.wait_for_client(WAIT)
        server.send({"seq": 1})
        self.assertEqual(peer.recv(8, socket.MSG_WAITALL)[3], KIND_COMMAND)
        peer.close()
        server.close()


if __name__ == "__main__":
    unittest.main()
