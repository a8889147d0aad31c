"""The shm transport (Linux: shared-memory rings set up over a unix socket) under the
package's unchanged API: handlers, send_many, blocking recv, and await recv() driven by the
readable handle."""
import asyncio
import sys
import unittest

from _support import WAIT, Inbox
from dapper_ipc import IPCConnectionError, IPCManager, TransportConfig


def pair(pull=False):
    server, client = IPCManager(), IPCManager()
    args = server.create_listener(TransportConfig(transport="shm", shm_ring_bytes=65536))
    assert args[:2] == ["--ipc", "shm"], args
    at_server, at_client = Inbox(), Inbox()
    if not pull:
        server.start_reader(at_server.put)
    client.connect(TransportConfig.from_launcher_args(args))
    client.start_reader(at_client.put if pull else (lambda m: client.send({"echo": m})))
    server.wait_for_client(WAIT)
    return server, client, at_server, at_client


@unittest.skipUnless(sys.platform.startswith("linux"), "the shm transport is Linux only")
class ShmTests(unittest.TestCase):
    def test_messages_flow_both_ways_through_the_rings(self):
        server, client, at_server, at_client = pair()
        try:
            big = {"data": "x" * 300_000}  # larger than the 64 KiB ring: it goes in pieces
            server.send({"seq": 1})
            self.assertEqual(at_server.wait(1), [{"echo": {"seq": 1}}])
            server.send_many([{"seq": i} for i in range(500)] + [big])
            got = at_server.wait(502)[1:]
            self.assertEqual(got[:500], [{"echo": {"seq": i}} for i in range(500)])
            self.assertTrue(got[500] == {"echo": big}, "the 300 KB message came back intact")
        finally:
            client.close()
            server.close()

    def test_recv_and_await_recv_over_the_readable_handle(self):
        server, client, _, _ = pair(pull=True)
        try:
            client.send_many([{"seq": i} for i in range(100)])
            self.assertEqual([server.recv(WAIT) for _ in range(100)], [{"seq": i} for i in range(100)])

            async def scenario():
                got = []
                for seq in range(50):
                    client.send({"seq": seq})
                    got.append(await server.recv())
                return got

            self.assertEqual(asyncio.run(asyncio.wait_for(scenario(), WAIT)), [{"seq": i} for i in range(50)])
            client.cleanup()
            with self.assertRaises(IPCConnectionError) as caught:
                server.recv(WAIT)
            self.assertIn(caught.exception.status, (-10, 0))
        finally:
            client.close()
            server.close()


if __name__ == "__main__":
    unittest.main()
