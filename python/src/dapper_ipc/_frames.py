"""Reading a dapper_ipc_frame array that the library filled (dapper_ipc_recv_batch, the
batch callback) with struct rather than ctypes' field access, which makes a Python object
per field read: the frames' payloads lie in order in one buffer, so one copy of the span
they cover, then a slice per frame, is cheaper than a copy per frame. Relies on struct's
native layout matching the C struct's, which check() verifies (_fast.py falls back to
ctypes fields otherwise)."""

import ctypes
import struct

from . import _native as native

# dapper_ipc_frame as struct's format: payload pointer, length, kind, the struct's tail padding.
_FORMAT = "@PNi%dx" % (ctypes.sizeof(native.Frame) - struct.calcsize("@PNi"))
_ROW = struct.Struct(_FORMAT)
_iter_rows = _ROW.iter_unpack
_first_row = _ROW.unpack_from  # (payload pointer, length, kind) of frames[0], from a memoryview
SIZE = ctypes.sizeof(native.Frame)
_string_at = ctypes.string_at


def payloads(frames, count):
    """[(kind, payload as bytes)] for frames[0 .. count), count >= 1."""
    rows = list(_iter_rows(_string_at(frames, count * SIZE)))
    first = rows[0][0]
    last, length, _ = rows[-1]
    data = _string_at(first, last - first + length)
    return [(kind, data[at - first:at - first + length]) for at, length, kind in rows]


def first_frame(_frames, rows, view):
    """(kind, payload) of dapper_ipc_recv_batch's frames[0], read from rows (a memoryview of
    the frame array) with no foreign call and no ctypes object. The payload is a memoryview
    of view, the receive buffer, where the library copies the first payload (valid until the
    next call)."""
    _, length, kind = _first_row(rows)
    return kind, view[:length]


def check():
    """Raises unless struct reads a frame as ctypes lays it out."""
    frames = (native.Frame * 2)()
    data = ctypes.create_string_buffer(b"abcde")
    address = ctypes.addressof(data)
    frames[0].payload, frames[0].length, frames[0].kind = address, 2, -7
    frames[1].payload, frames[1].length, frames[1].kind = address + 2, 3, 5
    if _ROW.size != SIZE or payloads(frames, 2) != [(-7, b"ab"), (5, b"cde")]:
        raise RuntimeError("struct's layout of dapper_ipc_frame differs from ctypes'")
    if _first_row(memoryview(frames).cast("B")) != (address, 2, -7):
        raise RuntimeError("struct's layout of dapper_ipc_frame differs from ctypes'")
