"""Statuses are members of Status, an IntEnum generated from the header: an error's
.status and the status disconnect_reason and on_disconnect give, each equal to the plain
code the C API returns, so code that compares with integers keeps working."""
import pickle
import unittest

from _support import Inbox
from dapper_ipc import IPCError, IPCManager, IPCStateError, Status, TransportConfig
from dapper_ipc import _native


class StatusTests(unittest.TestCase):
    def test_an_error_from_the_library_carries_its_status_as_a_member(self):
        server = IPCManager()
        server.create_listener(TransportConfig(transport="tcp"))
        try:
            with self.assertRaises(IPCStateError) as caught:
                server.create_listener(TransportConfig(transport="tcp"))
        finally:
            server.cleanup()
        status = caught.exception.status
        self.assertIs(status, Status.E_INVALID_STATE)
        self.assertEqual(status, -3)
        self.assertEqual(status.name, "E_INVALID_STATE")

    def test_a_pickled_error_keeps_its_status_member(self):
        error = pickle.loads(pickle.dumps(IPCStateError("cleanup ran", -15)))
        self.assertIs(error.status, Status.E_CANCELLED)

    def test_a_code_the_header_does_not_list_stays_an_integer(self):
        error = IPCError("from a newer library", -18)
        self.assertEqual(error.status, -18)
        self.assertNotIsInstance(error.status, Status)
        self.assertIsNone(IPCError("the library cannot be loaded").status)

    def test_every_member_is_a_status_the_library_describes(self):
        describe = _native.lib().dapper_ipc_status_string
        for status in Status:
            with self.subTest(status=status.name):
                self.assertNotEqual(describe(status), b"unknown status")
        self.assertEqual(describe(-98), b"unknown status")

    def test_the_disconnect_status_is_a_member(self):
        server = IPCManager()
        args = server.create_listener(TransportConfig(transport="tcp"))
        inbox, ended = Inbox(), Inbox()
        server.start_reader(inbox.put, on_disconnect=lambda status, reason: ended.put(status))
        with IPCManager() as client:
            client.connect(TransportConfig.from_launcher_args(args))
            # A client that leaves before sending anything is taken for a probe and never
            # reported: this one is connected once its message arrived.
            client.send({"seq": 1})
            inbox.wait(1)
        try:
            (status,) = ended.wait(1)
            self.assertIs(status, Status.OK)
            self.assertIs(server.disconnect_reason[0], Status.OK)
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
