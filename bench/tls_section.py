"""The tls section of bench/run.py: tls beside the library's own tcp and beside stunnel4 in
front of that tcp (a client-side stunnel and a server-side one, the usual way to put TLS
on a plaintext protocol), in the same run, rounds alternated. Rows: (metric, library,
baseline, baseline-is, target, note), as run.py prints them."""

import os
import shutil
import socket
import statistics
import subprocess
import time
from array import array


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    """Whether a socket listens on 127.0.0.1:port, from /proc/net/tcp. Not by connecting: a
    probe through the client stunnel would reach the library's listener as its one client."""
    try:
        with open("/proc/net/tcp") as f:
            rows = f.read().splitlines()[1:]
    except OSError:
        time.sleep(0.5)  # not Linux: give stunnel the time it needs
        return True
    want = f":{port:04X}"
    return any(r.split()[1].endswith(want) and r.split()[3] == "0A" for r in rows)


def wait_listening(port, seconds=10):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if listening(port):
            return True
        time.sleep(0.02)
    return False


class Stunnel:
    """stunnel4 client (plain in, tls out) and server (tls in, plain out to the library's
    tcp listener on `lib_port`), fresh per benchmark process."""

    def __init__(self, out, cert, key):
        self.lib_port, server_port, self.client_port = free_port(), free_port(), free_port()
        self.procs = []
        for name, body in (("server", f"[s]\naccept = 127.0.0.1:{server_port}\nconnect = 127.0.0.1:{self.lib_port}\n"
                                      f"cert = {cert}\nkey = {key}\n"),
                           ("client", f"[c]\nclient = yes\naccept = 127.0.0.1:{self.client_port}\n"
                                      f"connect = 127.0.0.1:{server_port}\n")):
            conf = os.path.join(out, f"stunnel-{name}.conf")
            with open(conf, "w") as f:
                f.write(f"foreground = yes\npid =\ndebug = 0\n{body}")
            self.procs.append(subprocess.Popen([shutil.which("stunnel4") or "stunnel", conf],
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        if not (wait_listening(server_port) and wait_listening(self.client_port)):
            self.close()
            raise RuntimeError("stunnel did not start listening")

    def env(self):
        return dict(os.environ, DAPPER_BENCH_LISTEN_PORT=str(self.lib_port), DAPPER_BENCH_CONNECT_PORT=str(self.client_port))

    def close(self):
        for p in self.procs:
            p.terminate()
            p.wait(10)


def aesgcm_note():
    """Which AES-GCM the tls rows ran: the library's needs AVX-512 with VAES and VPCLMULQDQ."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return "no /proc/cpuinfo: which AES-GCM ran is not known"
    wide = all(x in flags for x in ("avx512f", "avx512bw", "avx512vl", "vaes", "vpclmulqdq"))
    return "the library's AES-GCM (VAES, 16 blocks a step)" if wide else "this CPU has no VAES: both rows are OpenSSL's"


def rows(bench, out, sh, figures, rounds, rtt_n, rtt_seconds, big_count, handshakes):
    stunnel = shutil.which("stunnel4") or shutil.which("stunnel")
    cert, key = os.path.join(out, "stunnel.pem"), os.path.join(out, "stunnel.key")
    if stunnel:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", key, "-out", cert, "-subj", "/CN=localhost", "-days", "1"],
                       check=True, capture_output=True)
    # tls-openssl: the same tls with OpenSSL's own AES-GCM (DAPPER_IPC_TLS_AESGCM=openssl), for
    # the gain of the library's (Native/aesgcm.c) on this CPU; throughput only.
    kinds = ["tcp", "tls", "tls-openssl"] + (["stunnel"] if stunnel else [])
    rtt, tput = {}, {}

    def measure(kind, what, r):
        relay = Stunnel(out, cert, key) if kind == "stunnel" else None
        env = relay.env() if relay else None
        if kind == "tls-openssl":
            env = dict(os.environ, DAPPER_IPC_TLS_AESGCM="openssl")
        transport = "tls" if kind.startswith("tls") else "tcp"
        try:
            if what == "rtt":
                samples = os.path.join(out, f"rtt-tls-section-{kind}-{r}.bin")
                sh(bench, "rtt", "lib", transport, str(rtt_n), str(rtt_seconds), samples, env=env)
                values = array("d")
                with open(samples, "rb") as f:
                    values.frombytes(f.read())
                rtt.setdefault(kind, []).extend(values)
            else:
                f = figures(sh(bench, "tput", "lib", transport, "1048576", str(big_count), env=env))
                tput.setdefault(kind, []).append(f["MBps"])
        finally:
            if relay:
                relay.close()

    for r in range(rounds):
        for kind in kinds[r % len(kinds):] + kinds[:r % len(kinds)]:
            for what in ("tput",) if kind == "tls-openssl" else ("rtt", "tput"):
                try:
                    measure(kind, what, r)
                except subprocess.CalledProcessError:
                    # The relay's ephemeral ports are picked before stunnel binds them: a rare
                    # collision with another process fails a run; it gets one more try.
                    if kind != "stunnel":
                        raise
                    measure(kind, what, r)
    p50 = {k: sorted(v)[len(v) // 2] for k, v in rtt.items()}
    mbps = {k: statistics.median(v) for k, v in tput.items()}
    result = [("round trip tls p50, 128 B (µs)", p50["tls"], p50["tcp"], "lib tcp", ("<=", 1.3), f"n={len(rtt['tls'])}"),
              ("1 MiB frames, tls (MB/s)", mbps["tls"], mbps["tcp"], "lib tcp", (">=", 0.5),
               f"tls {min(tput['tls']):,.0f}-{max(tput['tls']):,.0f}"),
              ("  1 MiB frames, tls against tls with OpenSSL's AES-GCM (MB/s)", mbps["tls"], mbps["tls-openssl"],
               "DAPPER_IPC_TLS_AESGCM=openssl", None, aesgcm_note())]
    if stunnel:
        result += [("  round trip tls p50 against stunnel4 in front of tcp (µs)", p50["tls"], p50["stunnel"],
                    "lib tcp + 2 stunnel4", ("<", 1.0), "client and server stunnel, TLS 1.3"),
                   ("  1 MiB frames, tls against stunnel4 in front of tcp (MB/s)", mbps["tls"], mbps["stunnel"],
                    "lib tcp + 2 stunnel4", (">=", 1.0), "")]
    else:
        result.append(("  stunnel4 comparison", 0.0, None, "", None, "skipped: no stunnel4 (apt-get install stunnel4)"))
    hs = {t: figures(sh(bench, "handshake", t, str(handshakes))) for t in ("tcp", "tls")}
    result.append(("handshake tls, connect to first round trip p50 (µs)", hs["tls"]["p50_us"], None, "", ("<", 5000.0),
                   f"p99 {hs['tls']['p99_us']:.0f} µs over {handshakes}; tcp p50 {hs['tcp']['p50_us']:.0f} µs"))
    return result
