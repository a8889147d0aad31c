"""The per-message JSON decoder takes what json.loads takes, returns what it returns, and
raises what it raises."""

import json
import unittest

from dapper_ipc._json_fast import loads


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


if __name__ == "__main__":
    unittest.main()
