import sys
import unittest

from dapper_ipc import IPCConfigError, IPCManager, TransportConfig, TransportFactory


class TransportFactoryTests(unittest.TestCase):
    """The same calls the original's tests make."""

    def test_auto_and_none_resolve_to_the_platform_default(self):
        default = "pipe" if sys.platform == "win32" else "unix"
        self.assertEqual(TransportFactory.get_default_transport(), default)
        for name in (None, "", "auto", "AUTO"):
            self.assertEqual(TransportFactory.resolve_transport(name), default)

    def test_names_are_case_insensitive(self):
        self.assertEqual(TransportFactory.resolve_transport("TCP"), "tcp")
        self.assertEqual(TransportFactory.resolve_transport("Unix"), "unix")
        self.assertEqual(TransportFactory.resolve_transport("pipe"), "pipe")

    def test_an_unsupported_transport_is_a_value_error(self):
        with self.assertRaises(ValueError):
            TransportFactory.resolve_transport("carrier-pigeon")
        with IPCManager() as manager, self.assertRaises(ValueError) as caught:
            manager.create_listener(TransportConfig(transport="carrier-pigeon"))
        self.assertIn("carrier-pigeon", str(caught.exception))

    @unittest.skipIf(sys.platform == "win32", "pipes are the Windows default")
    def test_pipe_on_posix_is_a_value_error_naming_the_platform(self):
        with IPCManager() as manager, self.assertRaises(IPCConfigError) as caught:
            manager.create_listener(TransportConfig(transport="pipe"))
        self.assertIn("not supported on this platform", str(caught.exception))

    def test_connecting_tcp_without_a_port_is_a_value_error(self):
        with IPCManager() as manager, self.assertRaises(ValueError) as caught:
            manager.connect(TransportConfig(transport="tcp"))
        self.assertIn("port", str(caught.exception))

    def test_connecting_unix_without_a_path_is_a_value_error(self):
        with IPCManager() as manager, self.assertRaises(ValueError) as caught:
            manager.connect(TransportConfig(transport="unix"))
        self.assertIn("path", str(caught.exception))

    def test_launcher_args_round_trip_into_a_client_config(self):
        config = TransportConfig.from_launcher_args(["--ipc", "tcp", "--ipc-host", "127.0.0.1", "--ipc-port", "4711"])
        self.assertEqual((config.transport, config.host, config.port), ("tcp", "127.0.0.1", 4711))


if __name__ == "__main__":
    unittest.main()
