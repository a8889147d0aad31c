"""Dapper's launcher on the library, in the processes Dapper's adapter starts.

python -m dapper_ipc.dapper puts this folder first on PYTHONPATH, so the adapter's child
(`python -m dapper.launcher ...`, which the runner cannot rewrite without editing Dapper)
reads this file at startup. It installs dapper_ipc's import hook when the process first
imports ``dapper`` (a process that never does pays nothing more), then runs the
sitecustomize it hides on sys.path, if there is one.
"""

import importlib.machinery
import importlib.util
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(_HERE)))  # holds dapper_ipc/


class _OnFirstDapperImport:
    """Installs the hook as ``dapper`` is imported; stays inert on sys.meta_path afterwards
    (the import system is iterating over that list when this runs)."""

    done = False

    def find_spec(self, fullname, path=None, target=None):
        if self.done or fullname != "dapper":
            return None
        self.done = True
        if importlib.util.find_spec("dapper_ipc") is None:  # the adapter found it by its cwd
            sys.path.append(_PACKAGE_ROOT)
        from dapper_ipc.dapper import install

        install()
        return None  # the usual finders find Dapper itself


def _run_hidden_sitecustomize():
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.loader is not None:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


sys.meta_path.insert(0, _OnFirstDapperImport())
_run_hidden_sitecustomize()
