"""The calls the original dapper.ipc tests make, with the same outcomes."""
import dataclasses
import sys
import unittest
from unittest import mock

import _support  # noqa: F401  (makes dapper_ipc importable)
from dapper_ipc import IPCConfigError, IPCConnectionError, IPCManager, TransportConfig, TransportFactory

DEFAULT = "pipe" if sys.platform == "win32" else "unix"


class TransportFactoryTests(unittest.TestCase):
    def test_resolve_transport_none_auto_and_explicit(self):
        with mock.patch.object(TransportFactory, "get_default_transport", staticmethod(lambda: "unix")):
            self.assertEqual(TransportFactory.resolve_transport(None), "unix")
            self.assertEqual(TransportFactory.resolve_transport("auto"), "unix")
            self.assertEqual(TransportFactory.resolve_transport("TCP"), "tcp")

    def test_the_platform_default(self):
        self.assertEqual(TransportFactory.get_default_transport(), DEFAULT)
        for name in (None, "", "auto", "AUTO", " Auto "):
            self.assertEqual(TransportFactory.resolve_transport(name), DEFAULT)
        self.assertEqual(TransportFactory.resolve_transport("Unix"), "unix")
        self.assertEqual(TransportFactory.resolve_transport("PIPE"), "pipe")

    def test_resolve_transport_passes_unknown_names_through_as_the_original(self):
        self.assertEqual(TransportFactory.resolve_transport("Bogus"), "bogus")
        self.assertFalse(TransportFactory.is_supported("bogus"))

    def test_an_unsupported_transport_is_a_value_error_on_listen_and_connect(self):
        manager = IPCManager()
        with self.assertRaisesRegex(ValueError, "Unsupported transport"):
            manager.create_listener(TransportConfig(transport="bogus"))
        with self.assertRaisesRegex(ValueError, "Unsupported transport"):
            manager.connect(TransportConfig(transport="bogus"))
        self.assertFalse(manager.is_enabled)

    def test_connecting_without_a_port_or_a_path_is_a_value_error(self):
        manager = IPCManager()
        with self.assertRaisesRegex(ValueError, "path is required"):
            manager.connect(TransportConfig(transport="unix"))
        with self.assertRaisesRegex(ValueError, "port is required"):
            manager.connect(TransportConfig(transport="tcp"))
        with self.assertRaisesRegex(ValueError, "port is required"):
            manager.connect(TransportConfig(transport="tcp", host="127.0.0.1", port=None))

    def test_out_of_range_numbers_are_value_errors_not_wrapped_around(self):
        manager = IPCManager()
        for config in (TransportConfig(transport="tcp", port=99999),
                       TransportConfig(transport="tcp", port=-1),
                       TransportConfig(transport="tcp", max_frame_size=2**40)):
            with self.subTest(config=config), self.assertRaises(ValueError):
                manager.create_listener(config)
        self.assertFalse(manager.is_enabled)

    @unittest.skipIf(sys.platform == "win32", "pipes are the Windows default")
    def test_pipe_on_posix_is_refused_with_the_library_message(self):
        # The original raised RuntimeError("Named pipes are only supported on Windows");
        # this is both a RuntimeError and a ValueError.
        manager = IPCManager()
        with self.assertRaises(RuntimeError) as caught:
            manager.create_listener(TransportConfig(transport="pipe"))
        self.assertIsInstance(caught.exception, IPCConfigError)
        self.assertIn("not supported on this platform", str(caught.exception))
        self.assertEqual(caught.exception.status, -7)

    def test_connecting_to_nobody_is_a_runtime_and_connection_error(self):
        # The original: RuntimeError("Failed to connect to ..."). Nobody listens on a path
        # in a directory that does not exist.
        manager = IPCManager()
        config = TransportConfig(transport="unix", path="/nonexistent-dapper-dir/ipc.sock", connect_timeout=0.1)
        if sys.platform == "win32":
            config = TransportConfig(transport="tcp", port=1, connect_timeout=0.1)
        with self.assertRaises(RuntimeError) as caught:
            manager.connect(config)
        self.assertIsInstance(caught.exception, IPCConnectionError)
        self.assertIsInstance(caught.exception, ConnectionError)
        self.assertTrue(str(caught.exception))

    def test_transport_config_has_the_original_fields_and_defaults(self):
        config = TransportConfig()
        self.assertEqual((config.transport, config.host, config.port, config.path, config.pipe_name),
                         ("auto", None, None, None, None))
        names = [f.name for f in dataclasses.fields(TransportConfig)]
        self.assertEqual(names[:5], ["transport", "host", "port", "path", "pipe_name"])
        self.assertIn("max_frame_size", names)
        self.assertIn("connect_timeout", names)

    def test_launcher_args_turn_into_a_client_config(self):
        config = TransportConfig.from_launcher_args(
            ["--subprocess", "--ipc", "tcp", "--ipc-host", "127.0.0.1", "--ipc-port", "4711", "--other"])
        self.assertEqual((config.transport, config.host, config.port), ("tcp", "127.0.0.1", 4711))
        config = TransportConfig.from_launcher_args(["--ipc", "unix", "--ipc-path", "/tmp/x/ipc.sock"])
        self.assertEqual((config.transport, config.path), ("unix", "/tmp/x/ipc.sock"))
        with self.assertRaises(ValueError):
            TransportConfig.from_launcher_args(["--ipc-port", "1"])


if __name__ == "__main__":
    unittest.main()
