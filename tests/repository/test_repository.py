"""The repository explains itself: every test the README's Guarantees table names exists,
and every document the code points at is in the repository (a clone has nothing else)."""
import glob
import os
import re
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def read_all(pattern):
    return "\n".join(read(p) for p in glob.glob(os.path.join(ROOT, pattern), recursive=True))


def cmake_lists():
    """The repository's CMakeLists.txt files, without entering build trees: a glob of
    **/CMakeLists.txt walked build/wine/prefix, whose dosdevices/z: is a link to /."""
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [d for d in subfolders if d not in ("build", "node_modules", ".git")]
        if "CMakeLists.txt" in files:
            yield os.path.relpath(os.path.join(folder, "CMakeLists.txt"), ROOT)


def c_table(path):
    """The test names of a C test program's dispatch table: {"name", test_...}."""
    return set(re.findall(r'\{"([a-z0-9-]+)", test_', read(path)))


def guarantee_rows():
    text = read("README.md")
    section = text.split("\n## Guarantees", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| promise")]
    return [row.rstrip(" |").rsplit(" | ", 1) for row in rows if not set(row) <= set("|- ")]


class GuaranteesTableTests(unittest.TestCase):
    def setUp(self):
        self.finders = {
            "H": lambda t: t in c_table("tests/native/hardening.c"),
            "L": lambda t: t in c_table("tests/native/lifecycle.c"),
            "S": lambda t: t in c_table("tests/native/sessions.c"),
            "M": lambda t: re.search(r"\b" + re.escape(t), read_all("tests/DapperIpc.Native.Tests/**/*.cs")),
            "A": lambda t: re.search(r"\b" + re.escape(t), read_all("tests/DapperIpc.Native.AbiTests/**/*.cs")),
            "P": self.python_test_exists,
            "N": lambda t: os.path.exists(os.path.join(ROOT, "node", "test", t)) if t.endswith(".js")
            else re.search(re.escape(t), read_all("node/test/**/*.js")),
            "W": lambda t: re.search(re.escape(t), read_all("tests/wine/**/*.cs") + read_all("tests/wine/**/*.c")),
            "C": self.ctest_exists,
        }

    @staticmethod
    def python_test_exists(token):
        parts = token.split(".")
        if token.startswith("…"):  # "…test_name": a method of the class named just before
            return re.search(r"def " + re.escape(parts[-1].lstrip("…")) + r"\b", read_all("python/tests/*.py"))
        module = os.path.join(ROOT, "python", "tests", parts[0] + ".py")
        if not os.path.exists(module):
            return False
        source = read(module)
        return all(re.search(r"(class|def) " + re.escape(name) + r"\b", source) for name in parts[1:])

    @staticmethod
    def ctest_exists(token):
        if "/" in token:
            return os.path.exists(os.path.join(ROOT, token))
        cmake = "\n".join(read(p) for p in cmake_lists())
        return re.search(r"add_test\(NAME " + re.escape(token) + r"\b", cmake)

    def test_every_row_names_tests_that_exist(self):
        rows = guarantee_rows()
        self.assertGreater(len(rows), 20, "the Guarantees table was not found")
        for promise, tests in rows:
            # Parenthesised remarks say how, not which test.
            cited = re.sub(r"\([^)]*\)", "", tests)
            with self.subTest(promise=promise[:70]):
                self.assertTrue(re.search(r"`[^`]+`", cited), "the row names no test")
                for group in cited.split(";"):
                    match = re.match(r"\s*([A-Z]):", group)
                    kind = match.group(1) if match else "C"
                    self.assertIn(kind, self.finders, f"unknown test kind {kind}: in {group!r}")
                    for token in re.findall(r"`([^`]+)`", group):
                        name = token.rstrip("…").strip()
                        self.assertTrue(self.finders[kind](name), f"{kind}: {token} names no test that exists")


class DocumentReferenceTests(unittest.TestCase):
    def test_documents_the_code_points_at_exist(self):
        sources = [p for pattern in ("src/**/*.cs", "src/**/*.c", "include/*.h", "python/**/*.py", "tests/**/*.c",
                                     "tests/**/*.cs", "tests/**/*.py", "bench/*", "*.md", "docs/*.md", "python/*.md")
                   for p in glob.glob(os.path.join(ROOT, pattern), recursive=True)
                   if os.path.isfile(p) and os.path.abspath(p) != os.path.abspath(__file__)]
        self.assertGreater(len(sources), 50)
        for path in sources:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            for doc in set(re.findall(r"\bdocs/[A-Za-z0-9_.-]+\.md\b", text)):
                with self.subTest(source=os.path.relpath(path, ROOT), doc=doc):
                    self.assertTrue(os.path.exists(os.path.join(ROOT, doc)), f"{doc} is not in the repository")
            for stale in ("the design document", "shared/protocol.md", "ipc-architecture"):
                with self.subTest(source=os.path.relpath(path, ROOT), stale=stale):
                    self.assertFalse(stale in text, f"mentions {stale!r}: a document a clone does not have")


if __name__ == "__main__":
    unittest.main()
