"""The real Dapper on libdapper_ipc, without an edit to Dapper.

    python -m dapper_ipc.dapper adapter ARGS...    # Dapper's `python -m dapper.adapter ARGS...`
    python -m dapper_ipc.dapper launcher ARGS...   # Dapper's `python -m dapper.launcher ARGS...`

Each installs the import hook (``_hook``: dapper_ipc serves the adapter's ``dapper.ipc`` and
the launcher's connector) and runs Dapper's own entry point with ARGS as they are. The
adapter starts its launcher as ``python -m dapper.launcher``: the runner puts ``_site`` first
on PYTHONPATH, whose sitecustomize installs the same hook in that child (and in any Python
process started below it) when it first imports ``dapper``.
"""

import os

from ._hook import DapperIpcFinder, install

SITE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_site")


def export_to_children(environ=os.environ):
    """Puts the child shim first on PYTHONPATH in environ (os.environ: every process this
    one starts from now on, Dapper's launcher included)."""
    parts = [p for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if SITE_DIR not in parts:
        environ["PYTHONPATH"] = os.pathsep.join([SITE_DIR, *parts])


__all__ = ["DapperIpcFinder", "install", "export_to_children", "SITE_DIR"]
