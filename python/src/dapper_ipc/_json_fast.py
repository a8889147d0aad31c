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

Both are private to CPython's json: _fast.py uses them only when this module imports and
check() passes, and json.loads / json.dumps otherwise.
"""

import json

from _json import make_encoder as _make_encoder, make_scanner as _make_scanner  # ImportError: _fast.py falls back

_json_loads = json.loads
_scan = _make_scanner(json.JSONDecoder())
_JSON_WHITESPACE = " \t\n\r"

_json_dumps = json.dumps
_encode = _make_encoder(None, json.JSONEncoder().default, json.encoder.encode_basestring_ascii, None,
                        ": ", ", ", False, False, True)
_join = "".join


def dumps(value) -> str:
    try:
        return _join(_encode(value, 0))
    except (RecursionError, TypeError, ValueError):
        return _json_dumps(value)  # the error json.dumps raises (or its result)


def loads(text: str):
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        return _json_loads(text)
    if end != len(text) and text[end:].strip(_JSON_WHITESPACE):
        return _json_loads(text)  # raises "Extra data"
    return value


_SAMPLE = {"seq": 1, "type": "request", "arguments": {"expression": "x\u00e9\n\"", "n": [1, 2.5, None, True]}}


def check():
    """Raises unless both agree with json on a message (an internal whose signature or
    behaviour changed in a new Python)."""
    text = json.dumps(_SAMPLE)
    if dumps(_SAMPLE) != text or loads(text) != _SAMPLE or loads(" " + text + "\n") != _SAMPLE:
        raise RuntimeError("json's C scanner or encoder no longer behaves as json.loads/json.dumps")
