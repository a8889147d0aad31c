"""The per-message JSON decoder takes what json.loads takes, returns what it returns, and
raises what it raises; the encoder gives and raises what json.dumps does."""

import json
import unittest

try:
    from dapper_ipc._json_fast import dumps, loads
except ImportError as error:  # a Python without json's C accelerator: _fast.py uses json itself
    raise unittest.SkipTest(f"json's C scanner and encoder are missing ({error})") from None


class JsonFastTests(unittest.TestCase):
    def test_same_value_as_json_loads(self):
        texts = ['{"seq": 1, "body": {"a": [1, 2.5, null, true, false, "x\\u00e9"]}}', '[]', '0', '"s"',
                 ' {"leading": 1}', '{"trailing": 1} \t\r\n', '\n[1]\n', '{"nan": NaN, "inf": -Infinity}',
                 '{"a": 1, "a": 2}', '"\\ud83d\\ude00"', '{"big": 123456789012345678901234567890}']
        for text in texts:
            with self.subTest(text=text):
                self.assertEqual(repr(json.loads(text)), repr(loads(text)))

    def test_same_error_as_json_loads(self):
        for text in ['', ' ', '{', '{"a": 1} x', '{"a": 1}{"b": 2}', 'nul', '[1,]', '{"a" 1}', '\x00', '{} \x0b']:
            with self.subTest(text=text):
                with self.assertRaises(json.JSONDecodeError) as expected:
                    json.loads(text)
                with self.assertRaises(json.JSONDecodeError) as got:
                    loads(text)
                self.assertEqual(str(expected.exception), str(got.exception))

    def test_dumps_gives_what_json_dumps_gives(self):
        values = [{"seq": 1, "type": "request", "arguments": {"expression": "x\u00e9\n\"", "n": [1, 2.5, None]}},
                  [], {}, 0, -1.5e300, "s\ud83d\ude00", True, None, {"nan": float("nan"), "inf": float("-inf")},
                  {1: "int key", 2.5: "float key", True: "bool key", None: "none key"},
                  [[[[{"deep": [1]}]]]], 123456789012345678901234567890]
        for value in values:
            with self.subTest(value=value):
                self.assertEqual(json.dumps(value), dumps(value))

    def test_dumps_raises_what_json_dumps_raises(self):
        circular = {"a": 1}
        circular["self"] = circular
        looped = []
        looped.append({"list": looped})
        for value in [circular, looped, {"x": object()}, {(1, 2): "tuple key"}, {"b": b"bytes"}, {1, 2}]:
            with self.subTest(value=type(value).__name__):
                with self.assertRaises(Exception) as expected:
                    json.dumps(value)
                with self.assertRaises(Exception) as got:
                    dumps(value)
                self.assertIs(type(expected.exception), type(got.exception))
                self.assertEqual(str(expected.exception), str(got.exception))

    def test_dumps_is_right_after_a_failure(self):
        circular = {}
        circular["c"] = circular
        with self.assertRaises(ValueError):
            dumps(circular)
        self.assertEqual(dumps({"after": [1, {"x": 2}]}), json.dumps({"after": [1, {"x": 2}]}))


if __name__ == "__main__":
    unittest.main()
