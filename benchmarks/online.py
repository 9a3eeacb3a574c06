"""The `online` section of `make bench`: `tfxgate serve` on loopback.

Two services, each a real `tfxgate serve` process: one with no baseline (the figure comparable to
the in-process `tfxgate validate` of section 2: statistics, schema checks, profile) and one with
span 3 as the baseline (skew by TFDV's comparators and tfxgate's profile checks, as in
production). Measured from this process over HTTP/1.1 keep-alive connections:
- /v1/check of one instance (a different real row each time): p50 and p99;
- /v1/validate of a 1,000-row batch: p50 and p99, and rows per second with 4 concurrent clients;
- `tfxgate validate --server` of that batch as a whole process (GNU time's wall time);
- beside them, the same batch through TFDV's Beam path and tfxgate's in-process path, each warm in
  a running process (benchmarks/probe.py), so the ratios are measured in the same run.
"""

import concurrent.futures
import csv
import http.client
import json
import os
import pathlib
import signal
import socket
import statistics
import subprocess
import time
from typing import Dict, List

from benchmarks import data as bench_data

CLIENTS = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(tfxgate: str, work: pathlib.Path, cwd, *args: str):
    """A `tfxgate serve` process, once ready: (process, port)."""
    port = _free_port()
    work.mkdir(parents=True, exist_ok=True)
    log = open(work / f"serve-{port}.log", "w")
    proc = subprocess.Popen([tfxgate, "serve", "--port", str(port), *args], stdout=log, stderr=subprocess.STDOUT,
                            cwd=cwd, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"tfxgate serve exited: {(work / f'serve-{port}.log').read_text()[-2000:]}")
        try:
            status, _ = _request(http.client.HTTPConnection("127.0.0.1", port, timeout=5), "GET", "/readyz")
            if status == 200:
                return proc, port
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("tfxgate serve never became ready")


def stop(proc) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def _request(connection, method: str, path: str, body: bytes = None, content_type: str = None):
    headers = {"Content-Type": content_type} if content_type else {}
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def _percentiles(seconds: List[float]) -> dict:
    ordered = sorted(seconds)
    at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50_ms": 1000 * statistics.median(ordered), "p99_ms": 1000 * at(0.99), "max_ms": 1000 * ordered[-1],
            "n": len(ordered)}


def _timed_requests(port: int, requests: List[tuple], warm_up: int) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    for method, path, body, kind in requests[:warm_up]:
        _request(connection, method, path, body, kind)
    seconds = []
    for method, path, body, kind in requests[warm_up:]:
        started = time.perf_counter()
        status, answer = _request(connection, method, path, body, kind)
        seconds.append(time.perf_counter() - started)
        if status != 200:
            raise RuntimeError(f"{path}: HTTP {status}: {answer[:300]!r}")
    connection.close()
    return _percentiles(seconds)


def _throughput(port: int, body: bytes, rows: int, per_client: int) -> dict:
    def client(_):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        for _ in range(per_client):
            status, answer = _request(connection, "POST", "/v1/validate", body, "text/csv")
            if status != 200:
                raise RuntimeError(f"HTTP {status}: {answer[:300]!r}")
        connection.close()

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))
    wall = time.perf_counter() - started
    return {"clients": CLIENTS, "requests": CLIENTS * per_client, "seconds": wall,
            "rows_per_second": CLIENTS * per_client * rows / wall}


def _instances(path: pathlib.Path, n: int) -> List[bytes]:
    with open(path, newline="") as f:
        return [json.dumps({"instances": [row]}).encode() for _, row in zip(range(n), csv.DictReader(f))]


def bench_online(tfxgate: str, py: str, work: pathlib.Path, cwd, probe, timed, summary, quick: bool,
                 repeats: int) -> Dict:
    """The section's figures (see the module's docstring)."""
    rows = 1000
    batch = bench_data.make_csv(work / "data" / f"serving-{rows}.csv", rows, label=False)
    body = batch.read_bytes()
    checks = 500 if quick else 3000
    batches = 20 if quick else 60
    span = str(pathlib.Path(cwd) / "data" / "train" / "span-3")
    instance_bodies = _instances(batch, rows)
    result = {"rows": rows, "services": {}}
    for name, baseline in (("no_baseline", "none"), ("span_3_baseline", span)):
        proc, port = start(tfxgate, work / "online", cwd, "--baseline", baseline)
        try:
            entry = {}
            check_requests = [("POST", "/v1/check", instance_bodies[i % rows], "application/json")
                              for i in range(checks + 200)]
            entry["check_one_instance"] = _timed_requests(port, check_requests, warm_up=200)
            entry["validate_batch"] = _timed_requests(port, [("POST", "/v1/validate", body, "text/csv")] * (batches + 5),
                                                      warm_up=5)
            entry["throughput"] = _throughput(port, body, rows, per_client=max(3, batches // CLIENTS))
            if name == "no_baseline":
                client = [timed([tfxgate, "validate", "--server", f"http://127.0.0.1:{port}", "--data", str(batch),
                                 "--format", "json"]) for _ in range(max(5, repeats))]
                if any(c["code"] not in (0, 1) for c in client):
                    raise RuntimeError(f"tfxgate validate --server failed: {client[0]['stderr']}")
                entry["client_whole_process_seconds"] = summary([c["wall"] for c in client])
                entry["client_peak_mib"] = summary([c["peak_mib"] for c in client])
            with open(f"/proc/{proc.pid}/status") as f:
                entry["server_rss_mib"] = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
            result["services"][name] = entry
            print(f"bench: online ({name}): check p50 {entry['check_one_instance']['p50_ms']:.2f} ms, "
                  f"validate p50 {entry['validate_batch']['p50_ms']:.1f} ms", flush=True)
        finally:
            stop(proc)
    result["tfdv_beam"] = probe("beam", batch, repeats, "--environment", "SERVING", warm=3)
    result["in_process"] = probe("ours", batch, repeats, "--environment", "SERVING", warm=5)
    served = result["services"]["no_baseline"]["validate_batch"]["p50_ms"] / 1000
    beam = result["tfdv_beam"].get("warm_seconds", {}).get("median")
    result["served_over_tfdv_warm"] = served / beam if beam else None
    return result
