"""python -m dapper_ipc.dapper {adapter|launcher} ARGS...: Dapper's entry point on the library."""

import runpy
import sys

from . import export_to_children, install

_ENTRY_POINTS = {"adapter": "dapper.adapter", "launcher": "dapper.launcher"}
_USAGE = ("usage: python -m dapper_ipc.dapper {adapter|launcher} ARGS...\n"
          "  runs `python -m dapper.adapter ARGS...` or `python -m dapper.launcher ARGS...` of the\n"
          "  installed Dapper with dapper_ipc in place of its IPC (ARGS are Dapper's, unchanged)")


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in _ENTRY_POINTS:
        print(_USAGE, file=sys.stderr)
        return 2
    role, args = sys.argv[1], sys.argv[2:]
    install()
    try:
        import dapper.ipc
    except ImportError as error:
        print(f"dapper_ipc.dapper: cannot import Dapper ({error}); install it or put its folder on PYTHONPATH",
              file=sys.stderr)
        return 2
    from . import _adapter_side

    if dapper.ipc.IPCManager is not _adapter_side.IPCManager:  # a Dapper laid out otherwise than 0.9.4
        print("dapper_ipc.dapper: this Dapper's dapper.ipc was not replaced; it would run on its own IPC",
              file=sys.stderr)
        return 2
    export_to_children()
    sys.argv = [sys.argv[0], *args]  # run_module sets argv[0] to Dapper's file
    runpy.run_module(_ENTRY_POINTS[role], run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
