"""A Debug Adapter Protocol client on tcp, as Dapper's IDE side speaks to its adapter: each
DAP message is one DP v1 frame (docs/protocol.md), as Dapper 0.9.4's tcp server reads and
writes them (not the Content-Length headers of DAP's stdio convention)."""

import json
import queue
import socket
import struct
import threading
import time

_HEADER = struct.Struct(">2sBBI")
_KIND_COMMAND = 2


class DapClient:
    def __init__(self, host, port, timeout=60.0):
        self.timeout = timeout
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._sock.settimeout(None)
        self._seq = 0
        self._inbox = queue.SimpleQueue()
        self.seen = []  # every message received, in order
        self._taken = set()  # ids of the events event() returned
        threading.Thread(target=self._read, daemon=True).start()

    def close(self):
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()

    def _read(self):
        stream = self._sock.makefile("rb")
        try:
            while True:
                header = stream.read(_HEADER.size)
                if len(header) < _HEADER.size:
                    return
                magic, version, _kind, length = _HEADER.unpack(header)
                if magic != b"DP" or version != 1:
                    raise ValueError(f"not a DP v1 frame from the adapter: {header!r}")
                self._inbox.put(json.loads(stream.read(length)))
        except (OSError, ValueError):
            return
        finally:
            self._inbox.put(None)

    def send(self, command, arguments=None):
        self._seq += 1
        body = json.dumps({"seq": self._seq, "type": "request", "command": command,
                           "arguments": arguments or {}}).encode("utf-8")
        self._sock.sendall(_HEADER.pack(b"DP", 1, _KIND_COMMAND, len(body)) + body)
        return self._seq

    def next_matching(self, predicate, what):
        """The first message from now on that predicate accepts; AssertionError naming what
        was awaited (and the last messages seen) if the adapter closes or the time runs out."""
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            try:
                message = self._inbox.get(timeout=max(left, 0.001)) if left > 0 else None
            except queue.Empty:
                message = None
            if message is None:
                tail = json.dumps(self.seen[-8:], indent=1)[-3000:]
                raise AssertionError(f"no {what} within {self.timeout} s; last messages:\n{tail}")
            self.seen.append(message)
            if predicate(message):
                return message

    def request(self, command, arguments=None):
        """Sends a request and returns its response (events meanwhile are kept in seen)."""
        seq = self.send(command, arguments)
        return self.next_matching(
            lambda m: m.get("type") == "response" and m.get("request_seq") == seq, f"response to {command}")

    def event(self, name):
        """The next event of that name not returned before, including one that arrived while
        a response was awaited."""
        def wanted(message):
            return message.get("type") == "event" and message.get("event") == name and id(message) not in self._taken

        found = next((m for m in self.seen if wanted(m)), None) or self.next_matching(wanted, f"{name} event")
        self._taken.add(id(found))
        return found

    def output_until(self, text):
        """The program's output so far, once it holds text (Dapper forwards the launcher's
        output from a thread of its own, so it may come after the exited event)."""
        if text not in self.output():
            self.next_matching(lambda m: m.get("event") == "output" and text in self.output(), f"output {text!r}")
        return self.output()

    def output(self):
        return "".join(m["body"].get("output", "") for m in self.seen
                       if m.get("type") == "event" and m.get("event") == "output")
