"""Streams the host brings: IPCManager.adopt over a socketpair and a pipe pair (owned
descriptors closed exactly once, borrowed ones left open), and the stdio transport between
this process and a child spawned with IPCManager.spawn_stdio."""
import json
import os
import socket
import sys
import tempfile
import unittest

from _support import HERE, WAIT
from dapper_ipc import IPCConnectionError, IPCManager, IPCStateError

POSIX = unittest.skipIf(sys.platform == "win32", "adopt and stdio are POSIX-only for now (E_UNSUPPORTED on Windows)")


def is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


@POSIX
class AdoptTests(unittest.TestCase):
    def exchange(self, a, b):
        for i in range(100):
            a.send({"n": i})
            self.assertEqual(b.recv(WAIT), {"n": i})
            b.send({"back": i})
            self.assertEqual(a.recv(WAIT), {"back": i})

    def test_socketpair_owned(self):
        s1, s2 = socket.socketpair()
        fd1, fd2 = s1.detach(), s2.detach()
        a, b = IPCManager(), IPCManager()
        a.adopt(fd1)
        b.adopt(fd2)
        self.exchange(a, b)
        a.close()
        with self.assertRaises(IPCConnectionError):
            b.recv(WAIT)
        b.close()
        self.assertFalse(is_open(fd1), "an owned socket is closed at cleanup")
        self.assertFalse(is_open(fd2))

    def test_pipe_pair_owned_closed_exactly_once(self):
        ab_r, ab_w = os.pipe()
        ba_r, ba_w = os.pipe()
        a, b = IPCManager(), IPCManager()
        a.adopt(ba_r, ab_w)
        b.adopt(ab_r, ba_w)
        self.exchange(a, b)
        a.cleanup()
        b.cleanup()
        for fd in (ab_r, ab_w, ba_r, ba_w):
            self.assertFalse(is_open(fd), f"owned pipe end {fd} is closed at cleanup")
        # The numbers are free: take them again; closing the managers must not touch them.
        reused = [os.open(os.devnull, os.O_RDONLY) for _ in range(4)]
        self.assertEqual(sorted(reused), sorted((ab_r, ab_w, ba_r, ba_w)))
        a.close()
        b.close()
        for fd in reused:
            self.assertTrue(is_open(fd), "closed exactly once: a reused number survives close()")
            os.close(fd)

    def test_borrowed_socket_stays_open(self):
        s1, s2 = socket.socketpair()
        with s1, s2:
            a = IPCManager()
            a.adopt(s1.fileno(), borrow=True)
            a.send({"hello": 1})
            a.close()
            self.assertTrue(is_open(s1.fileno()), "a borrowed socket is not closed")
            s2.settimeout(WAIT)
            frame = b""
            while len(frame) < 8 or len(frame) < 8 + int.from_bytes(frame[4:8], "big"):
                chunk = s2.recv(4096)
                self.assertTrue(chunk)
                frame += chunk
            self.assertEqual(json.loads(frame[8:]), {"hello": 1})

    def test_adopt_twice_is_a_state_error_and_closes_the_owned_handle(self):
        s1, s2 = socket.socketpair()
        s3, s4 = socket.socketpair()
        a = IPCManager()
        a.adopt(s1.detach())
        fd = s3.detach()
        with self.assertRaises(IPCStateError):
            a.adopt(fd)
        self.assertFalse(is_open(fd))
        a.close()
        s2.close()
        s4.close()


@POSIX
class StdioTests(unittest.TestCase):
    def test_ten_thousand_frames_each_way_while_the_child_prints(self):
        count = 10_000
        manager = IPCManager()
        child = os.path.join(HERE, "stdio_child.py")
        # Block-buffered stdout, as Python has on a pipe by default: what print() kept in
        # its buffer from before connect is flushed after the takeover, to stderr.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
        # stderr into a file: a pipe nobody reads during the exchange would fill and stall the child.
        stderr_file = tempfile.TemporaryFile()
        process = manager.spawn_stdio([sys.executable, child, str(count)], stderr=stderr_file, env=env)
        try:
            echoes = own = 0
            for i in range(count):
                manager.send({"seq": i})
                for _ in range(2):
                    message = manager.recv(WAIT)
                    if message == {"echo": {"seq": i}}:
                        echoes += 1
                    elif message == {"child": i}:
                        own += 1
                    else:
                        self.fail(f"unexpected message {message!r}")
            self.assertEqual((echoes, own), (count, count))
            with self.assertRaises(IPCConnectionError):
                manager.recv(WAIT)  # the child's exit: end-of-file on its stdout
            self.assertEqual(process.wait(WAIT), 0)
            stderr_file.seek(0)
            stderr = stderr_file.read().decode()
            self.assertIn("stray print 9999", stderr, "the child's print() went to stderr")
            self.assertIn("before connect", stderr, "buffered output flushed later goes to stderr too")
        finally:
            manager.close()
            if process.poll() is None:
                process.kill()
                process.wait()
            stderr_file.close()


if __name__ == "__main__":
    unittest.main()
