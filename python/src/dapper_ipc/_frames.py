"""Reading a dapper_ipc_frame array that the library filled (dapper_ipc_recv_batch, the
batch callback): the frames' payloads lie in order in one buffer, so one copy of the span
they cover, then a slice per frame, is cheaper than a copy per frame."""

import ctypes
import struct

from . import _native as native

# dapper_ipc_frame as struct's format: payload pointer, length, kind, the struct's tail padding.
_FORMAT = "@PNi%dx" % (ctypes.sizeof(native.Frame) - struct.calcsize("@PNi"))
_ROW = struct.Struct(_FORMAT)
_iter_rows = _ROW.iter_unpack
first_row = _ROW.unpack_from  # (payload pointer, length, kind) of frames[0], from a memoryview
SIZE = ctypes.sizeof(native.Frame)
_string_at = ctypes.string_at


def payloads(frames, count):
    """[(kind, payload as bytes)] for frames[0 .. count), count >= 1."""
    rows = list(_iter_rows(_string_at(frames, count * SIZE)))
    first = rows[0][0]
    last, length, _ = rows[-1]
    data = _string_at(first, last - first + length)
    return [(kind, data[at - first:at - first + length]) for at, length, kind in rows]
