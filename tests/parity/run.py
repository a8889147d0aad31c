"""Runs the cases of tests/parity/cases.json through the three bindings (the C ABI, the
Python package, the Node package) and checks that each gives the expected status and a
message matching the expected pattern, and that the three give the very same message.

    run.py --c-runner PATH/parity_c --node-dir node [--only NAME ...]

The Python side runs in this interpreter's environment (PYTHONPATH and DAPPER_IPC_LIBRARY
as CTest sets them); the Node side needs node and the package's node_modules (npm ci):
without them it is skipped, the C and Python sides are still compared, and the exit code
is 77 (CTest's skip) once they agree.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CASES = os.path.join(HERE, "cases.json")
HEADER = os.path.join(ROOT, "include", "dapper_ipc.h")
SKIP = 77


def status_names():
    """Status number -> name (E_TIMEOUT, OK), from the header: the one place they are defined."""
    with open(HEADER, encoding="utf-8") as f:
        return {int(number): name for name, number in re.findall(r"DAPPER_IPC_(OK|E_\w+) = (-?\d+)", f.read())}


def flatten(cases):
    """The cases as parity_c.c reads them: one step a line, values without spaces."""
    lines = []
    for case in cases:
        lines.append(f"case {case['name']}")
        for step in case["steps"]:
            fields = [step.get("on", "a"), step["op"]]
            values = dict(step.get("config", {}))
            for key in ("to", "timeout_ms", "size", "id"):
                if key in step:
                    values[key] = step[key]
            for key, value in values.items():
                text = str(value).lower() if isinstance(value, bool) else str(value)
                if " " in text:
                    raise SystemExit(f"{case['name']}: {key}={text!r} has a space, which parity_c cannot read")
                fields.append(f"{key}={text}")
            lines.append(" ".join(fields))
        lines.append("end")
    return "\n".join(lines) + "\n"


def parse(binding, output):
    results = {}
    for line in output.splitlines():
        name, at, status, message = line.split("\t", 3)
        message = message.replace("\\t", "\t").replace("\\n", "\n").replace("\\\\", "\\")
        results[name] = (int(at), int(status) if status.lstrip("-").isdigit() else status, message)
    return results


def run(command, stdin=None, timeout=300):
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    if done.stderr:
        sys.stderr.write(done.stderr)
    return done.stdout


def node_missing(node_dir):
    if shutil.which("node") is None:
        return "node is not on PATH"
    if not os.path.isdir(os.path.join(node_dir, "node_modules", "koffi")):
        return f"{node_dir}/node_modules has no koffi (run npm ci there)"
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--c-runner", required=True)
    parser.add_argument("--node-dir", default=os.path.join(ROOT, "node"))
    parser.add_argument("--only", nargs="*", default=[])
    options = parser.parse_args()

    with open(CASES, encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    if sys.platform == "win32":
        cases = [c for c in cases if not c.get("posix_only")]
    if options.only:
        cases = [c for c in cases if c["name"] in options.only]
    names = status_names()
    tmp = tempfile.mkdtemp(prefix="dp-")  # short: the too-long path case counts on it
    try:
        cases_text = json.dumps({"cases": cases}).replace("{tmp}", tmp)
        cases_file = os.path.join(tmp, "cases.json")
        with open(cases_file, "w", encoding="utf-8") as f:
            json.dump({"cases": cases}, f)
        results = {
            "c": parse("c", run([options.c_runner], stdin=flatten(json.loads(cases_text)["cases"]))),
            "python": parse("python", run([sys.executable, os.path.join(HERE, "parity_python.py"), cases_file, tmp])),
        }
        skipped = node_missing(options.node_dir)
        if skipped is None:
            results["node"] = parse("node", run(["node", os.path.join(HERE, "parity_node.js"), options.node_dir,
                                                 cases_file, tmp]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def elapsed_free(message):
        # An elapsed time differs from run to run: compared between bindings without it.
        return re.sub(r"after \d+ ms", "after N ms", message)

    failures = []
    for case in cases:
        name, expect = case["name"], case["expect"]
        last = len(case["steps"]) - 1
        messages = {}
        for binding, outcomes in results.items():
            if name not in outcomes:
                failures.append(f"{name} [{binding}]: no outcome")
                continue
            at, status, message = outcomes[name]
            status_name = names.get(status, str(status))
            message = message.replace(tmp, "{tmp}")
            messages[binding] = elapsed_free(message)
            print(f"{name:40} {binding:6} step {at} {status_name:20} {message}")
            if at != last:
                failures.append(f"{name} [{binding}]: step {at} failed ({status_name}: {message}), not the last step")
            elif status_name != expect["status"]:
                failures.append(f"{name} [{binding}]: {status_name} ({message}), expected {expect['status']}")
            elif not re.search(expect["message"], message):
                failures.append(f"{name} [{binding}]: message {message!r} does not match {expect['message']!r}")
        if len(set(messages.values())) > 1:
            failures.append(f"{name}: the bindings' messages differ: {json.dumps(messages, indent=1)}")

    print()
    if failures:
        print(f"{len(failures)} disagreement(s):")
        for failure in failures:
            print(" -", failure)
        return 1
    print(f"{len(cases)} cases: {', '.join(results)} agree on every status and message")
    if skipped:
        print(f"node SKIPPED: {skipped}")
        return SKIP
    return 0


if __name__ == "__main__":
    sys.exit(main())
