#!/usr/bin/env python3
"""Start-up time and idle memory of gateway binaries, alternating run by run.

    load/footprint/idle.py [--runs 9] [--idle 1.0] NAME=BINARY[:extra args] ...

Each run starts the binary without models (--Auth:Mode none, a fresh SQLite file), polls
GET /v2/health/ready about every millisecond over a raw socket, and reads /proc/PID/status and
smaps_rollup after --idle seconds: exec -> ready, VmRSS, anonymous and file-backed pages.
One unrecorded start of each binary first warms the page cache. Prints every run, then medians.
"""
import argparse, os, shlex, socket, statistics, subprocess, tempfile, time

def ready(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
            s.sendall(b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False

def field(path, name):
    for line in open(path):
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0

def run(binary, extra, port, idle):
    data = tempfile.mkdtemp(prefix="gateway-idle-")
    models = os.path.join(data, "models")
    os.mkdir(models)
    args = [binary, "--urls", f"http://127.0.0.1:{port}", "--model-repository", models, "--Auth:Mode", "none",
            "--Storage:SqlitePath", os.path.join(data, "g.db")] + extra
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not ready(port):
            if proc.poll() is not None:
                raise SystemExit(f"{binary} exited with {proc.returncode}")
            time.sleep(0.001)
        ready_ms = (time.perf_counter() - started) * 1000
        time.sleep(idle)
        status, rollup = f"/proc/{proc.pid}/status", f"/proc/{proc.pid}/smaps_rollup"
        return ready_ms, field(status, "VmRSS") / 1024, field(rollup, "Anonymous") / 1024, (field(rollup, "Rss") - field(rollup, "Anonymous")) / 1024
    finally:
        proc.terminate()
        proc.wait(10)

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--idle", type=float, default=1.0)
    parser.add_argument("--port", type=int, default=19081)
    parser.add_argument("binaries", nargs="+")
    options = parser.parse_args()
    configs = []
    for spec in options.binaries:
        name, _, rest = spec.partition("=")
        binary, _, extra = rest.partition(":")
        configs.append((name, binary, shlex.split(extra)))
    results = {name: [] for name, _, _ in configs}
    for i in range(-1, options.runs):
        for name, binary, extra in configs:
            r = run(binary, extra, options.port, options.idle)
            if i >= 0:
                results[name].append(r)
                print(f"run {i + 1} {name:10} ready {r[0]:7.1f} ms  rss {r[1]:5.1f} MiB  anon {r[2]:5.1f}  file {r[3]:5.1f}", flush=True)
    for name, rows in results.items():
        med = [statistics.median(col) for col in zip(*rows)]
        print(f"median {name:10} ready {med[0]:7.1f} ms ({min(r[0] for r in rows):.1f}-{max(r[0] for r in rows):.1f})  "
              f"rss {med[1]:5.1f} MiB  anon {med[2]:5.1f}  file {med[3]:5.1f}")

if __name__ == "__main__":
    main()
