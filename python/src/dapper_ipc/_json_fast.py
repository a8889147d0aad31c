"""json.loads and json.dumps for the per-message path.

json.loads(text) spends more time on its own Python-level checks (isinstance, the
decoder's raw_decode, two whitespace regex matches) than the C scanner spends parsing a
128-byte message (measured here: 3.2 µs a call against 1.9 µs for the scanner). So the
scanner is called directly, and anything it does not take cleanly (leading or trailing
whitespace, extra data, invalid JSON) goes to json.loads, which returns the same value or
raises the same error it always would.

json.dumps(message) builds a new C encoder on every call (a dict of markers, a closure,
nine parsed arguments) inside two Python-level frames. dumps keeps one C encoder built
with json.dumps's defaults and no circular-reference markers (so it is safe on any thread);
a message it cannot encode goes to json.dumps, which raises the error it always would
(a circular message ends the fast encoder with RecursionError, then json.dumps finds
the cycle and raises ValueError).
"""

import json
from json import decoder as _decoder, scanner as _scanner

_json_loads = json.loads
_scan = _scanner.make_scanner(_decoder.JSONDecoder())  # the C scanner where _json is built
_JSON_WHITESPACE = " \t\n\r"


try:
    from _json import make_encoder as _make_encoder
except ImportError:  # a Python built without _json
    _make_encoder = None

_json_dumps = json.dumps
if _make_encoder is not None:
    _encode = _make_encoder(None, json.JSONEncoder().default, json.encoder.encode_basestring_ascii, None,
                            ": ", ", ", False, False, True)
    _join = "".join

    def dumps(value) -> str:
        try:
            return _join(_encode(value, 0))
        except (RecursionError, TypeError, ValueError):
            return _json_dumps(value)  # the error json.dumps raises (or its result)
else:
    dumps = json.JSONEncoder().encode


def loads(text: str):
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        return _json_loads(text)
    if end != len(text) and text[end:].strip(_JSON_WHITESPACE):
        return _json_loads(text)  # raises "Extra data"
    return value
