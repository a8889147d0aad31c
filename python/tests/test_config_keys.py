"""A misspelt TransportConfig field is an error, never a silent default: the dataclass
refuses keyword arguments it does not declare (as the original dapper.ipc's does)."""
import dataclasses
import unittest

import _support  # noqa: F401  (makes dapper_ipc importable)
from dapper_ipc import TransportConfig


class UnknownConfigFieldTests(unittest.TestCase):
    def test_a_misspelt_field_is_a_type_error_naming_it(self):
        for key in ("max_frame_sise", "maxFrameSize", "client_wait_ms"):
            with self.subTest(key=key), self.assertRaises(TypeError) as caught:
                TransportConfig(**{key: 10})
            self.assertIn(repr(key), str(caught.exception))

    def test_every_declared_field_is_accepted(self):
        names = [field.name for field in dataclasses.fields(TransportConfig)]
        self.assertIn("max_frame_size", names)
        TransportConfig(**{name: None for name in names if name not in ("transport", "require_auth")})


if __name__ == "__main__":
    unittest.main()
