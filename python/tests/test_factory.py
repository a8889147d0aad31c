"""The calls the original dapper.ipc tests make, with the same outcomes; and config
errors that are the library's own, status and message."""
import ctypes
import dataclasses
import sys
import unittest
from unittest import mock

import _support  # noqa: F401  (makes dapper_ipc importable)
from dapper_ipc import (IPCConfigError, IPCConnectionError, IPCManager, IPCStateError, TransportConfig,
                        TransportFactory, find_library)

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
        # The library's message (the original said "Unsupported transport: bogus").
        with self.assertRaisesRegex(ValueError, "unknown transport 'bogus'"):
            manager.create_listener(TransportConfig(transport="bogus"))
        with self.assertRaisesRegex(ValueError, "unknown transport 'bogus'"):
            manager.connect(TransportConfig(transport="bogus"))
        self.assertFalse(manager.is_enabled)

    def test_connecting_without_a_port_or_a_path_is_a_value_error(self):
        manager = IPCManager()
        with self.assertRaisesRegex(ValueError, "needs a path to connect to"):
            manager.connect(TransportConfig(transport="unix"))
        with self.assertRaisesRegex(ValueError, "needs a port to connect to"):
            manager.connect(TransportConfig(transport="tcp"))
        with self.assertRaisesRegex(ValueError, "needs a port to connect to"):
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


class _CApi:
    """The C API, loaded and declared here from include/dapper_ipc.h (not through the
    package): the status and dapper_ipc_last_error message of one call with a config."""

    class Config(ctypes.Structure):
        _fields_ = [("struct_size", ctypes.c_uint32), ("max_frame_size", ctypes.c_uint32),
                    ("transport", ctypes.c_char_p), ("host", ctypes.c_char_p), ("path", ctypes.c_char_p),
                    ("pipe_name", ctypes.c_char_p), ("port", ctypes.c_int32), ("connect_timeout_ms", ctypes.c_int32),
                    ("send_timeout_ms", ctypes.c_int32), ("flags", ctypes.c_uint32), ("auth_token", ctypes.c_char_p)]

    class Manager(ctypes.Structure):
        _fields_ = [("id", ctypes.c_uint64)]

    def __init__(self):
        lib = self.lib = ctypes.CDLL(find_library())
        lib.dapper_ipc_config_init.argtypes = [ctypes.POINTER(self.Config), ctypes.c_size_t]
        lib.dapper_ipc_manager_create.argtypes = [ctypes.POINTER(self.Manager)]
        lib.dapper_ipc_manager_destroy.argtypes = [self.Manager]
        for name in ("dapper_ipc_create_listener", "dapper_ipc_connect"):
            getattr(lib, name).argtypes = [self.Manager, ctypes.POINTER(self.Config)]
        lib.dapper_ipc_last_error.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]

    def error(self, call, **fields):
        config = self.Config()
        self.lib.dapper_ipc_config_init(ctypes.byref(config), ctypes.sizeof(config))
        for name, value in fields.items():
            setattr(config, name, value.encode() if isinstance(value, str) else value)
        manager = self.Manager()
        self.lib.dapper_ipc_manager_create(ctypes.byref(manager))
        try:
            status = getattr(self.lib, "dapper_ipc_" + call)(manager, ctypes.byref(config))
            buf = ctypes.create_string_buffer(1024)
            self.lib.dapper_ipc_last_error(buf, len(buf), None)
            return status, buf.value.decode()
        finally:
            self.lib.dapper_ipc_manager_destroy(manager)


# (what, call, the TransportConfig's fields, the same input in C). "in C: None" marks a
# value C cannot carry (beyond int32/uint32): the expected message is the library's for
# the representable stand-in, with the number as given.
_LONG_PATH = "/tmp/" + "x" * 200 + "/ipc.sock"
BAD_CONFIGS = [
    ("unknown transport", "create_listener", dict(transport="bogus"), dict(transport="bogus")),
    ("unknown transport, connect", "connect", dict(transport="bogus", port=1), dict(transport="bogus", port=1)),
    ("unknown transport, spaces and case", "create_listener", dict(transport=" Bogus "), dict(transport=" Bogus ")),
    ("port above 65535", "create_listener", dict(transport="tcp", port=99999), dict(transport="tcp", port=99999)),
    ("negative port", "create_listener", dict(transport="tcp", port=-1), dict(transport="tcp", port=-1)),
    ("port above 65535, connect", "connect", dict(transport="tcp", port=70000), dict(transport="tcp", port=70000)),
    ("bad port before unknown transport", "create_listener", dict(transport="bogus", port=-5),
     dict(transport="bogus", port=-5)),
    ("tcp connect without a port", "connect", dict(transport="tcp"), dict(transport="tcp")),
    ("unix connect without a path", "connect", dict(transport="unix"), dict(transport="unix")),
    ("max_frame_size above the reader's limit", "create_listener", dict(transport="unix", max_frame_size=2**31),
     dict(transport="unix", max_frame_size=2**31)),
    ("max_frame_size 2**32-1", "create_listener", dict(transport="unix", max_frame_size=2**32 - 1),
     dict(transport="unix", max_frame_size=2**32 - 1)),
    ("unix path longer than sun_path", "create_listener", dict(transport="unix", path=_LONG_PATH),
     dict(transport="unix", path=_LONG_PATH)),
    ("port beyond int32", "create_listener", dict(transport="tcp", port=2**40), ("port", 70000)),
    ("negative port beyond int32", "connect", dict(transport="tcp", port=-2**40), ("port", 70000)),
    ("negative max_frame_size", "create_listener", dict(transport="unix", max_frame_size=-1),
     ("max_frame_size", 2**31)),
    ("max_frame_size beyond uint32", "create_listener", dict(transport="unix", max_frame_size=2**40),
     ("max_frame_size", 2**31)),
]
if sys.platform != "win32":  # Windows has the pipe transport: no error to compare there
    BAD_CONFIGS.insert(3, ("pipe on POSIX", "create_listener", dict(transport="pipe"), dict(transport="pipe")))
_TYPES = {-1: IPCConfigError, -7: IPCConfigError, -14: IPCConfigError, -3: IPCStateError}


class ConfigErrorsAreTheLibrarysTests(unittest.TestCase):
    """Each bad config raises what the C API reports for the same input: the status as
    .status, dapper_ipc_last_error's message as the message, and the subclass for it."""

    def test_each_bad_config_raises_the_librarys_status_and_message(self):
        c_api = _CApi()
        for what, call, fields, in_c in BAD_CONFIGS:
            with self.subTest(what):
                if isinstance(in_c, dict):
                    status, message = c_api.error(call, **in_c)
                else:  # the library's words for a representable stand-in, with this number
                    name, stand_in = in_c
                    status, message = c_api.error(call, transport=fields["transport"], **{name: stand_in})
                    message = message.replace(f"(got {stand_in})", f"(got {fields[name]})")
                self.assertLess(status, 0, message)
                manager = IPCManager()
                with self.assertRaises(Exception) as caught:
                    getattr(manager, call)(TransportConfig(**fields))
                error = caught.exception
                self.assertIs(type(error), _TYPES[status], repr(error))
                self.assertEqual((getattr(error, "status", None), str(error)), (status, message))
                self.assertFalse(manager.is_enabled)
                manager.close()

    def test_values_of_the_wrong_type_are_invalid_arguments(self):
        for fields in (dict(transport="tcp", port="eighty"), dict(transport="unix", max_frame_size="big"),
                       dict(transport="unix", connect_timeout="soon")):
            with self.subTest(fields=fields), self.assertRaises(IPCConfigError) as caught:
                IPCManager().create_listener(TransportConfig(**fields))
            self.assertEqual(caught.exception.status, -1, str(caught.exception))


if __name__ == "__main__":
    unittest.main()
