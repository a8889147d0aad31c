"""Where the package looks for libdapper_ipc: DAPPER_IPC_LIBRARY, then its own folder (a
wheel may bundle the library), then the build/ folder of the checkout it sits in."""
import os
import shutil
import sys
import tempfile
import time
import unittest
from unittest import mock

import _support  # noqa: F401  (makes dapper_ipc importable)
import dapper_ipc
from dapper_ipc import IPCError, _native

NAME = _native.library_names()[0]


@unittest.skipIf(sys.platform == "win32", "uses symlinks to the library already loaded")
class LibrarySearchTests(unittest.TestCase):
    def setUp(self):
        self.real = dapper_ipc.find_library()  # the library these tests run against
        self.root = tempfile.mkdtemp(prefix="dapper-search-")
        self.addCleanup(shutil.rmtree, self.root)
        self.repo = os.path.join(self.root, "repo")
        self.package = os.path.join(self.repo, "python", "src", "dapper_ipc")
        os.makedirs(self.package)
        os.makedirs(os.path.join(self.repo, "include"))
        open(os.path.join(self.repo, "include", "dapper_ipc.h"), "w").close()

    def link(self, *parts):
        path = os.path.join(*parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink(self.real, path)  # the same file: loading it again loads nothing new
        return path

    def load(self, env=None):
        with mock.patch.dict(os.environ, env or {}, clear=False):
            if env is None:
                os.environ.pop(_native.LIBRARY_ENV, None)
            return _native._load(self.package)[1]

    def test_nothing_found_says_where_it_looked(self):
        with self.assertRaises(IPCError) as caught:
            self.load()
        message = str(caught.exception)
        self.assertIn("DAPPER_IPC_LIBRARY", message)
        self.assertIn(os.path.join(self.package, NAME), message)
        self.assertIn(os.path.join(self.repo, "build", "**", NAME), message)

    def test_outside_a_checkout_no_build_folder_is_searched(self):
        self.package = os.path.join(self.root, "site-packages", "dapper_ipc")
        os.makedirs(self.package)
        with self.assertRaises(IPCError) as caught:
            self.load()
        self.assertIn("not inside a dapper_ipc checkout", str(caught.exception))

    def test_the_repository_build_the_newest_loadable_one(self):
        good = self.link(self.repo, "build", "default", "dapper_ipc", NAME)
        bogus = os.path.join(self.repo, "build", "other-platform", NAME)
        os.makedirs(os.path.dirname(bogus))
        with open(bogus, "wb") as f:
            f.write(b"not a shared library")
        future = time.time() + 60
        os.utime(bogus, (future, future))  # newer, but cannot be loaded: skipped
        self.assertEqual(self.load(), good)

    def test_the_package_folder_comes_before_the_build(self):
        self.link(self.repo, "build", "default", NAME)
        bundled = self.link(self.package, NAME)
        self.assertEqual(self.load(), bundled)

    def test_the_environment_variable_comes_first_and_is_not_second_guessed(self):
        self.link(self.package, NAME)
        chosen = self.link(self.root, "elsewhere", NAME)
        self.assertEqual(self.load({_native.LIBRARY_ENV: chosen}), chosen)
        missing = os.path.join(self.root, "missing", NAME)
        with self.assertRaises(IPCError) as caught:
            self.load({_native.LIBRARY_ENV: missing})
        self.assertIn(missing, str(caught.exception))

    def test_the_version_matches_the_header(self):
        header = os.path.join(os.path.dirname(_support.SOURCE), "..", "include", "dapper_ipc.h")
        if not os.path.exists(header):
            self.skipTest("not in a checkout")
        with open(header, encoding="utf-8") as f:
            text = f.read()
        self.assertIn(f'#define DAPPER_IPC_VERSION_STRING "{dapper_ipc.library_version()}"', text)


if __name__ == "__main__":
    unittest.main()
