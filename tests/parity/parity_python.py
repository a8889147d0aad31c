"""The Python side of tests/parity/run.py: runs tests/parity/cases.json through the
dapper_ipc package's public API. Usage: parity_python.py CASES TMP. Prints one line per
case: NAME <tab> STEP <tab> STATUS <tab> MESSAGE (as parity_c.c)."""
import json
import sys

from dapper_ipc import IPCError, IPCManager, SessionListener, TransportConfig

# The C fields in milliseconds, and the TransportConfig fields (seconds) that hold them.
_SECONDS = {"connect_timeout_ms": "connect_timeout", "send_timeout_ms": "send_timeout", "client_wait_ms": "client_wait"}


def transport_config(values):
    fields = {}
    for key, value in values.items():
        if key in _SECONDS:
            fields[_SECONDS[key]] = value / 1000 if value >= 0 else -1
        else:
            fields[key] = value
    return TransportConfig(**fields)


def step(managers, item):
    m = managers[item.get("on", "a")]
    op = item["op"]
    if op == "listen":
        m.create_listener(transport_config(item.get("config", {})))
    elif op == "connect":
        if "to" in item:
            config = TransportConfig.from_launcher_args(managers[item["to"]].launcher_args)
        else:
            config = transport_config(item.get("config", {}))
        m.connect(config)
    elif op == "wait":
        m.wait_for_client(item["timeout_ms"] / 1000)
    elif op == "send":
        m.send_bytes(b"x" * item["size"])
    elif op == "start_reader":
        m.start_reader(None)
    elif op == "launcher_args":
        m.launcher_args  # noqa: B018 - the property makes the call
    elif op == "auth_token":
        m.auth_token  # noqa: B018
    elif op == "cleanup":
        m.cleanup()
    elif op == "session_listen":
        managers["s"].create_listener(transport_config(item.get("config", {})))
    elif op == "expect":
        managers["s"].expect(item["id"])
    elif op == "accept":
        managers["s"].accept(item["id"], item["timeout_ms"] / 1000).close()
    elif op == "session_launcher_args":
        managers["s"].launcher_args  # noqa: B018
    else:
        raise SystemExit(f"parity_python: unknown op {op!r}")


def escape(text):
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def main():
    cases_file, tmp = sys.argv[1], sys.argv[2]
    with open(cases_file, encoding="utf-8") as f:
        cases = json.loads(f.read().replace("{tmp}", tmp))["cases"]
    only = set(sys.argv[3:])
    for case in cases:
        if only and case["name"] not in only:
            continue
        managers = {"a": IPCManager(), "b": IPCManager(), "s": SessionListener()}
        status, message, at = 0, "", -1
        try:
            for at, item in enumerate(case["steps"]):
                step(managers, item)
        except IPCError as error:
            status, message = error.status, str(error)
        except Exception as error:  # not the package's error type: run.py reports it as such
            status, message = "exception", f"{type(error).__name__}: {error}"
        finally:
            managers["s"].cleanup()
            managers["a"].close()
            managers["b"].close()
        print(f"{case['name']}\t{at}\t{status}\t{escape(message)}", flush=True)


if __name__ == "__main__":
    main()
