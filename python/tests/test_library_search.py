"""Where the package looks for libdapper_ipc, in this order: DAPPER_IPC_LIBRARY; its own
folder (a platform wheel bundles the library there); the system loader (a library
installed with cmake --install on the loader's path, or named by LD_LIBRARY_PATH); and,
for the package as it sits in a checkout only, that checkout's build/ folder. Each
failure says what to do in its case."""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from unittest import mock

import _support  # noqa: F401  (makes dapper_ipc importable)
import dapper_ipc
from dapper_ipc import IPCError, _native

NAME = _native.library_names()[0]
# In this process the real library is already loaded, and the loader answers a request
# for its SONAME with it: the in-process tests ask the loader for names nothing has.
ABSENT = ["libdapper_ipc_absent_for_tests.so.0"]


@unittest.skipIf(sys.platform == "win32", "uses symlinks to the library already loaded")
class LibrarySearchTests(unittest.TestCase):
    def setUp(self):
        self.real = os.path.realpath(dapper_ipc.find_library())  # the library these tests run against
        self.root = tempfile.mkdtemp(prefix="search-test-")
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
        with mock.patch.dict(os.environ, env or {}, clear=False), \
                mock.patch.object(_native, "loader_names", lambda: ABSENT):
            if env is None:
                os.environ.pop(_native.LIBRARY_ENV, None)
            return _native._load(self.package)[1]

    def test_nothing_found_in_a_checkout_says_where_it_looked_and_to_build(self):
        with self.assertRaises(IPCError) as caught:
            self.load()
        message = str(caught.exception)
        self.assertIn("DAPPER_IPC_LIBRARY", message)
        self.assertIn(os.path.join(self.package, NAME), message)
        self.assertIn("the system loader for " + ABSENT[0], message)
        self.assertIn(os.path.join(self.repo, "build", "**", NAME), message)
        self.assertIn("cmake --build --preset default", message)
        self.assertIn(self.repo, message)

    def test_an_installed_package_searches_no_build_folder_and_says_how_to_get_the_library(self):
        self.package = os.path.join(self.root, "site-packages", "dapper_ipc")
        os.makedirs(self.package)
        with self.assertRaises(IPCError) as caught:
            self.load()
        message = str(caught.exception)
        self.assertNotIn("build/**", message)
        self.assertIn("install the platform wheel", message)
        self.assertIn("--target wheel", message)
        self.assertIn("cmake --install", message)
        self.assertIn("LD_LIBRARY_PATH" if sys.platform.startswith("linux") else "PATH", message)

    def test_a_package_installed_inside_a_checkouts_build_folder_does_not_search_it(self):
        # A venv made in build/ is still an installed package: only the wheel's own library counts.
        self.link(self.repo, "build", "default", "dapper_ipc", NAME)
        self.package = os.path.join(self.repo, "build", "venv", "lib", "site-packages", "dapper_ipc")
        os.makedirs(self.package)
        with self.assertRaises(IPCError) as caught:
            self.load()
        self.assertIn("install the platform wheel", str(caught.exception))

    def test_the_repository_build_the_newest_loadable_one(self):
        good = self.link(self.repo, "build", "default", "dapper_ipc", NAME)
        bogus = os.path.join(self.repo, "build", "other-platform", NAME)
        os.makedirs(os.path.dirname(bogus))
        with open(bogus, "wb") as f:
            f.write(b"not a shared library")
        future = time.time() + 60
        os.utime(bogus, (future, future))  # newer, but cannot be loaded: skipped
        self.assertEqual(self.load(), good)

    def test_a_dangling_link_in_the_build_is_passed_over(self):
        # CMake's configure leaves build/<preset>/install-links/libdapper_ipc.so pointing at a
        # name that only exists once installed: the search must not trip over it.
        good = self.link(self.repo, "build", "default", "dapper_ipc", NAME)
        dangling = os.path.join(self.repo, "build", "default", "install-links", NAME)
        os.makedirs(os.path.dirname(dangling))
        os.symlink(NAME + ".0", dangling)
        self.assertEqual(self.load(), good)

    def test_the_package_folder_comes_before_the_build(self):
        self.link(self.repo, "build", "default", NAME)
        bundled = self.link(self.package, NAME)
        self.assertEqual(self.load(), bundled)

    def test_a_bundled_library_that_cannot_load_says_to_install_the_right_wheel(self):
        with open(os.path.join(self.package, NAME), "wb") as f:
            f.write(b"built for another machine")
        with self.assertRaises(IPCError) as caught:
            self.load()
        self.assertIn("install the dapper_ipc wheel built for this platform", str(caught.exception))

    def test_the_environment_variable_comes_first_and_is_not_second_guessed(self):
        self.link(self.package, NAME)
        chosen = self.link(self.root, "elsewhere", NAME)
        self.assertEqual(self.load({_native.LIBRARY_ENV: chosen}), chosen)
        missing = os.path.join(self.root, "missing", NAME)
        with self.assertRaises(IPCError) as caught:
            self.load({_native.LIBRARY_ENV: missing})
        self.assertIn(missing, str(caught.exception))
        self.assertIn("or unset it", str(caught.exception))

    def test_the_version_matches_the_header(self):
        header = os.path.join(os.path.dirname(_support.SOURCE), "..", "include", "dapper_ipc.h")
        if not os.path.exists(header):
            self.skipTest("not in a checkout")
        with open(header, encoding="utf-8") as f:
            text = f.read()
        self.assertIn(f'#define DAPPER_IPC_VERSION_STRING "{dapper_ipc.library_version()}"', text)
        self.assertIn(f'#define DAPPER_IPC_VERSION_STRING "{dapper_ipc.__version__}"', text)


@unittest.skipUnless(sys.platform.startswith("linux"), "LD_LIBRARY_PATH and the SONAME are Linux's")
class SystemLoaderTests(unittest.TestCase):
    """In a fresh process (nothing loaded yet), a package with no library of its own and
    no checkout around it, as after `pip install` from source."""

    def setUp(self):
        self.real = os.path.realpath(dapper_ipc.find_library())
        self.root = tempfile.mkdtemp(prefix="loader-test-")
        self.addCleanup(shutil.rmtree, self.root)
        site = os.path.join(self.root, "site-packages")
        source = os.path.dirname(os.path.abspath(dapper_ipc.__file__))
        shutil.copytree(source, os.path.join(site, "dapper_ipc"),
                        ignore=lambda _d, names: [n for n in names if not n.endswith(".py")])
        # As an installed package has it (the build backend writes it from the header).
        with open(os.path.join(site, "dapper_ipc", "_version.py"), "w", encoding="utf-8") as f:
            f.write(f'VERSION = "{dapper_ipc.__version__}"\n')
        self.env = {k: v for k, v in os.environ.items() if k not in (_native.LIBRARY_ENV, "LD_LIBRARY_PATH")}
        self.env["PYTHONPATH"] = site

    def find(self, **extra):
        child = subprocess.run(
            [sys.executable, "-c", "import dapper_ipc; print(dapper_ipc.find_library()); print(dapper_ipc.library_version())"],
            env=dict(self.env, **extra), cwd=self.root, capture_output=True, text=True, timeout=_support.WAIT)
        return child.returncode, child.stdout.split("\n"), child.stderr

    def test_a_library_installed_with_cmake_install_is_found_through_ld_library_path(self):
        # The layout cmake --install makes: the file, then the SONAME and dev symlinks.
        lib = os.path.join(self.root, "prefix", "lib")
        os.makedirs(lib)
        shutil.copy(self.real, os.path.join(lib, "libdapper_ipc.so.0.1.0"))
        os.symlink("libdapper_ipc.so.0.1.0", os.path.join(lib, "libdapper_ipc.so.0"))
        os.symlink("libdapper_ipc.so.0", os.path.join(lib, "libdapper_ipc.so"))
        rc, out, err = self.find(LD_LIBRARY_PATH=lib)
        self.assertEqual(rc, 0, err)
        self.assertEqual(os.path.dirname(out[0]), lib)
        self.assertEqual(out[1], dapper_ipc.library_version())

    def test_without_a_library_anywhere_the_error_says_what_to_do(self):
        rc, _out, err = self.find()
        self.assertNotEqual(rc, 0)
        self.assertIn("no library of its own", err)
        self.assertIn("add <dir>/lib to LD_LIBRARY_PATH", err)


if __name__ == "__main__":
    unittest.main()
