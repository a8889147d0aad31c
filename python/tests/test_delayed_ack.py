"""Delayed ACKs: a tcp peer that does not set TCP_NODELAY and answers each request
with two frames written separately (the real launcher: an event, then the response).
Nagle holds its second write until the first is acknowledged; a receiver that delays
its ACK (~40 ms on Linux) stalls every round trip. The library acknowledges at once.

The median is timing, asserted with a generous bound: < 20 ms against ~44 ms without
the fix and ~0.2 ms with it (the target is < 2 ms; bench/ measures it)."""
import socket
import statistics
import struct
import threading
import time
import unittest

from _support import WAIT, Inbox, recv_exactly
from dapper_ipc import IPCManager, TransportConfig

ROUNDS = 25
BOUND_MS = 20.0


def frame(kind, payload):
    return b"DP\x01" + bytes([kind]) + struct.pack(">I", len(payload)) + payload


def nagle_peer(port, ready):
    """Connects without TCP_NODELAY; answers each command with an event and a response,
    two separate writes, as the launcher does."""
    s = socket.create_connection(("127.0.0.1", port))
    assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
    s.settimeout(WAIT)
    ready.set()
    try:
        while True:
            header = recv_exactly(s, 8)
            if header is None:
                return
            body = recv_exactly(s, struct.unpack(">I", header[4:])[0])
            s.sendall(frame(1, b'{"event": "output", "seq": ' + body[8:-1] + b'}'))
            s.sendall(frame(1, b'{"type": "response", "seq": ' + body[8:-1] + b'}'))
    finally:
        s.close()


def median_round_trip_ms(receive_two):
    server = IPCManager()
    args = server.create_listener(TransportConfig(transport="tcp"))
    port = int(args[args.index("--ipc-port") + 1])
    ready = threading.Event()
    peer = threading.Thread(target=nagle_peer, args=(port, ready), daemon=True)
    peer.start()
    try:
        assert ready.wait(WAIT)
        server.wait_for_client(WAIT)
        take = receive_two(server)
        times = []
        for seq in range(ROUNDS):
            start = time.perf_counter()
            server.send({"seq": seq})
            take()
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times)
    finally:
        server.cleanup()
        peer.join(WAIT)


class DelayedAckTests(unittest.TestCase):
    def test_reader_thread_round_trip_with_a_nagle_peer_writing_two_frames(self):
        def receive_two(server):
            inbox = Inbox()
            server.start_reader(inbox.put)
            count = [0]

            def take():
                count[0] += 2
                inbox.wait(count[0])
            return take

        median = median_round_trip_ms(receive_two)
        print(f"\nreader thread, Nagle peer, two frames per answer: median {median:.2f} ms", flush=True)
        self.assertLess(median, BOUND_MS)

    def test_pull_mode_round_trip_with_a_nagle_peer_writing_two_frames(self):
        def receive_two(server):
            def take():
                server.recv(WAIT)
                server.recv(WAIT)
            return take

        median = median_round_trip_ms(receive_two)
        print(f"\npull mode (recv), Nagle peer, two frames per answer: median {median:.2f} ms", flush=True)
        self.assertLess(median, BOUND_MS)


if __name__ == "__main__":
    unittest.main()
