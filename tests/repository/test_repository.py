"""The repository explains itself: every test docs/guarantees.md names exists, every document
the code points at and every link of a document is in the repository (a clone has nothing
else), nothing cites an issue number, and the README stays a short door whose examples are
files that a test runs."""
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


def repository_files():
    """Every file of the checkout, without entering build trees: a glob of ** walked
    build/wine/prefix, whose dosdevices/z: is a link to /."""
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = sorted(d for d in subfolders if d not in ("build", "node_modules", ".git"))
        for name in sorted(files):
            yield os.path.relpath(os.path.join(folder, name), ROOT)


def cmake_lists():
    return [p for p in repository_files() if os.path.basename(p) == "CMakeLists.txt"]


def add_test_calls():
    """The text of every add_test(...) call of the repository's CMakeLists.txt files."""
    calls = []
    for path in cmake_lists():
        text = read(path)
        for match in re.finditer(r"\badd_test\(", text):
            depth, end = 0, match.end() - 1
            for end in range(match.end() - 1, len(text)):
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                if depth == 0:
                    break
            calls.append(text[match.start():end + 1])
    return calls


def c_table(path):
    """The test names of a C test program's dispatch table: {"name", test_...}."""
    return set(re.findall(r'\{"([a-z0-9-]+)", test_', read(path)))


def guarantee_rows():
    text = read("docs", "guarantees.md")
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| promise")]
    return [row.rstrip(" |").rsplit(" | ", 1) for row in rows if not set(row) <= set("|- ")]


class GuaranteesTableTests(unittest.TestCase):
    def setUp(self):
        self.finders = {
            "H": lambda t: t in c_table("tests/native/hardening.c"),
            "L": lambda t: t in c_table("tests/native/lifecycle.c"),
            "S": lambda t: t in c_table("tests/native/sessions.c"),
            "R": lambda t: t in c_table("tests/native/health.c"),
            "X": lambda t: t in c_table("tests/native/reconnect.c"),
            "T": lambda t: t in c_table("tests/native/transports.c"),
            "Q": lambda t: t in c_table("tests/native/shm.c"),
            "G": lambda t: t in c_table("tests/native/aesgcm.c"),
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
        self.assertGreater(len(rows), 20, "the table of docs/guarantees.md was not found")
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


# An issue number, or the card the first design was written on: things a clone does not
# have. The pattern and the samples below are spelt so that this file does not match itself.
CITATION = re.compile(r"\bissues? ?#?[0-9]+|\bdesign[ ]cards?\b", re.IGNORECASE)


def citations(text):
    return [m.group(0) for m in CITATION.finditer(text)]


class NoCitationTests(unittest.TestCase):
    def test_the_pattern_finds_what_it_must(self):
        issue, card = "issue", "card"
        for cited in (f"see {issue} 13", f"{issue.title()} #5, item 2", f"({issue}s 16)", f"the Design {card.title()}'s name"):
            self.assertTrue(citations(cited), cited)
        for plain in (f"an {issue} with 2 frames", f"{issue}d 3 times", f"a design {card}board"):
            self.assertFalse(citations(plain), plain)

    def test_no_file_cites_an_issue_number_or_the_design_card(self):
        """Docs and comments say what they mean, not where it was once discussed."""
        checked = 0
        for path in repository_files():
            with open(os.path.join(ROOT, path), "rb") as f:
                data = f.read(1_000_000)
            if b"\0" in data:
                continue  # binary (fuzz inputs, images)
            checked += 1
            for cited in citations(data.decode("utf-8", errors="replace")):
                with self.subTest(path=path, cited=cited):
                    self.fail(f"{path} cites {cited!r}: say what is meant instead")
        self.assertGreater(checked, 100)


def markdown_files():
    return [p for p in repository_files() if p.endswith(".md")]


def anchors(path):
    """GitHub's anchors for the headings of a markdown file."""
    text = re.sub(r"```.*?```", "", read(path), flags=re.S)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
            for h in re.findall(r"^#+ (.+)$", text, re.M)}


def links(text):
    """Relative links of a markdown text, code blocks and code spans left out."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    return [t for t in re.findall(r"\]\(([^)\s]+)\)", text) if not re.match(r"[a-z]+:", t)]


class LinkTests(unittest.TestCase):
    def test_every_relative_link_of_a_document_resolves(self):
        checked = 0
        for path in markdown_files():
            for target in links(read(path)):
                file_part, _, anchor = target.partition("#")
                resolved = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
                checked += 1
                with self.subTest(source=path, link=target):
                    self.assertTrue(os.path.exists(os.path.join(ROOT, resolved)), f"{resolved} does not exist")
                    if anchor and resolved.endswith(".md"):
                        self.assertIn(anchor, anchors(resolved), f"{resolved} has no heading #{anchor}")
        self.assertGreater(checked, 20)


class ReadmeTests(unittest.TestCase):
    """The README is a door: what it is, the two commands, install, one example per language
    as a linked file a test runs, the platforms, links. Reference material lives in docs/."""

    def setUp(self):
        self.text = read("README.md")

    def test_it_is_short(self):
        size = len(self.text.encode("utf-8"))
        self.assertLess(size, 12_000, f"README.md is {size} bytes: move reference material to docs/")

    def test_its_first_code_block_holds_the_two_commands(self):
        block = re.search(r"```sh\n(.*?)```", self.text, re.S)
        self.assertIsNotNone(block, "no ```sh block")
        self.assertLess(block.start(), self.text.index("\n## "), "the commands come before the first section")
        commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
        self.assertEqual(commands, ["cmake --preset default && cmake --build --preset default --target run_sample",
                                    "cmake --workflow --preset test"])

    def test_it_pastes_no_program(self):
        """An example pasted in the README is a second copy that no test runs: link the file."""
        for language in re.findall(r"^```(\w+)", self.text, re.M):
            with self.subTest(language=language):
                self.assertEqual(language, "sh", "a program in the README: put it in samples/ and link it")

    def test_every_example_it_links_is_run_by_a_test(self):
        examples = sorted({t.split("#")[0] for t in links(self.text) if t.startswith("samples/")
                           and os.path.splitext(t.split("#")[0])[1] in (".c", ".py", ".js")})
        for language in (".c", ".py", ".js"):
            self.assertTrue(any(e.endswith(language) for e in examples), f"no {language} example is linked")
        calls = add_test_calls()
        for example in examples:
            stem = os.path.splitext(os.path.basename(example))[0]
            with self.subTest(example=example):
                # A script is named by its path; a C program by its CMake target.
                named = [c for c in calls if example in c
                         or (example.endswith(".c") and re.search(r"\b" + re.escape(stem) + r"\b", c))]
                self.assertTrue(named, f"no add_test runs {example}")


if __name__ == "__main__":
    unittest.main()
