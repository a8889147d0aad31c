"""The import hook that puts dapper_ipc in place of Dapper's IPC, for a Dapper left unedited.

What Dapper (0.9.4) imports for the link between its adapter and its launcher, and what
this hook does with each:

- ``dapper.ipc``, ``dapper.ipc.ipc_manager``, ``dapper.ipc.transport_factory``: the
  adapter's side (``IPCManager``, ``TransportConfig``, ``TransportFactory``). Served by
  dapper_ipc: these modules hold the classes of ``_adapter_side`` (dapper_ipc's, the
  manager sending commands in both roles as Dapper's does) and Dapper's files are not run.
- ``dapper.launcher.launcher_ipc``: the launcher's side connects through its module-level
  ``connector`` (which Dapper keeps replaceable) and then reads and writes DP frames on the
  socket it returns. Dapper's module runs, then its ``connector`` is replaced by one that
  connects with the library (``_launcher_link``).
- the rest of ``dapper.ipc`` is not that link and stays Dapper's own, loaded from its
  folder: ``ipc_binary`` (frame helpers the launcher parses with), ``ipc_receiver`` (command
  dispatch) and ``connections`` (the IDE-facing DAP server on tcp or a pipe).
"""

import importlib.abc
import importlib.machinery
import sys

_ADAPTER_SIDE = ("IPCManager", "TransportConfig", "TransportFactory")
_SERVED = {
    "dapper.ipc": _ADAPTER_SIDE,
    "dapper.ipc.ipc_manager": _ADAPTER_SIDE,
    "dapper.ipc.transport_factory": ("TransportConfig", "TransportFactory"),
}
_LAUNCHER_LINK = "dapper.launcher.launcher_ipc"


class _Served(importlib.abc.Loader):
    """A module holding dapper_ipc's classes under the names Dapper imports."""

    def __init__(self, names):
        self._names = names

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        from . import _adapter_side

        for name in self._names:
            setattr(module, name, getattr(_adapter_side, name))
        module.__all__ = list(self._names)


class _WithLibraryConnector(importlib.abc.Loader):
    """Dapper's own launcher_ipc module, whose connector is then the library's."""

    def __init__(self, original):
        self._original = original

    def create_module(self, spec):
        return self._original.create_module(spec)

    def exec_module(self, module):
        self._original.exec_module(module)
        from ._launcher_link import LibraryConnector

        module.connector = LibraryConnector()


class DapperIpcFinder(importlib.abc.MetaPathFinder):
    """First on sys.meta_path: serves the modules above, leaves every other name alone."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in _SERVED:
            original = importlib.machinery.PathFinder.find_spec(fullname, path)
            spec = importlib.machinery.ModuleSpec(fullname, _Served(_SERVED[fullname]), origin="dapper_ipc")
            if fullname == "dapper.ipc":
                # A package whose submodules not served here are Dapper's own files.
                spec.submodule_search_locations = list(original.submodule_search_locations) if original else []
            return spec
        if fullname == _LAUNCHER_LINK:
            original = importlib.machinery.PathFinder.find_spec(fullname, path)
            if original is None or original.loader is None:
                return None
            original.loader = _WithLibraryConnector(original.loader)
            return original
        return None


def install():
    """Puts the hook first on sys.meta_path (once). Raises RuntimeError when Dapper's IPC
    was imported already: a hook installed then would change nothing."""
    if any(isinstance(finder, DapperIpcFinder) for finder in sys.meta_path):
        return
    already = [name for name in (*_SERVED, _LAUNCHER_LINK) if name in sys.modules]
    if already:
        raise RuntimeError(f"install dapper_ipc's hook before Dapper is imported: {', '.join(already)} already loaded")
    sys.meta_path.insert(0, DapperIpcFinder())
