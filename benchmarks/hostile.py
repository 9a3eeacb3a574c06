"""The worst request of issue 29 against a real `tfxgate serve`: its time to answer and the memory it cost.

The body: the real header of data/serving/data.csv plus 100,000 extra columns, and three real
rows of it (each extra cell "1"), about 1.2 MB, posted to /v1/validate with a client timeout of
60 s (as the review's client had). Printed: the answer's status and reason (or the timeout), the
seconds to it, how long the service then stayed busy (its CPU time still growing), the peak
resident memory of the service and of its children (VmHWM), the seconds SIGTERM took to end it,
and whether its temporary folder was left behind.

    .venv/bin/python -m benchmarks.hostile [--busy-limit 120] [-- extra `tfxgate serve` flags]

Figures, not assertions: tests/test_serve_hostile.py asserts the outcomes.
"""

import argparse
import csv
import glob
import http.client
import io
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import threading
import time

from benchmarks import online

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXTRA_COLUMNS = 100_000
ROWS = 3


def hostile_body() -> bytes:
    with open(ROOT / "data" / "serving" / "data.csv", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [next(reader) for _ in range(ROWS)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header + [f"x{i}" for i in range(EXTRA_COLUMNS)])
    for row in rows:
        writer.writerow(row + ["1"] * EXTRA_COLUMNS)
    return out.getvalue().encode()


def _tree(pid: int) -> list:
    """The process and its descendants (from /proc)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for children in glob.glob(f"/proc/{p}/task/*/children"):
            try:
                todo.extend(int(c) for c in open(children).read().split())
            except OSError:
                pass
    return found


def _status(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next((int(line.split()[1]) for line in f if line.startswith(key + ":")), 0)
    except OSError:
        return 0


def _cpu_seconds(pid: int) -> float:
    total = 0.0
    for p in _tree(pid):
        try:
            fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return total


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy-limit", type=float, default=120.0,
                        help="stop watching the busy service after this many seconds past the answer")
    parser.add_argument("serve_args", nargs="*", help="extra `tfxgate serve` flags (after --)")
    args = parser.parse_args(argv)
    tfxgate = str(pathlib.Path(sys.executable).parent / "tfxgate")
    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    env_tmp = work / "tmp"
    env_tmp.mkdir()
    os.environ["TMPDIR"] = str(env_tmp)  # the service's temporary folder lands here, to be seen after
    proc, port = online.start(tfxgate, work, ROOT, "--baseline", "none", *args.serve_args)
    body = hostile_body()
    rss_before = _status(proc.pid, "VmRSS")
    peak_children = [0]
    answered_event = threading.Event()

    def sample_children():  # the children's peak while the request is judged
        while not answered_event.wait(0.2):
            for p in _tree(proc.pid)[1:]:
                peak_children[0] = max(peak_children[0], _status(p, "VmHWM"))

    threading.Thread(target=sample_children, daemon=True).start()
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", "/v1/validate", body=body, headers={"Content-Type": "text/csv"})
        response = connection.getresponse()
        status, answer = response.status, response.read().decode("utf-8", "replace")
    except TimeoutError:
        status, answer = None, "no answer within the client's 60 s"
    answered = time.monotonic() - started
    answered_event.set()
    # Busy: the service's CPU time (children included) still grows, sampled each second.
    busy_until, last = time.monotonic(), _cpu_seconds(proc.pid)
    while time.monotonic() - started < answered + args.busy_limit:
        time.sleep(1.0)
        for p in _tree(proc.pid)[1:]:
            peak_children[0] = max(peak_children[0], _status(p, "VmHWM"))
        now = _cpu_seconds(proc.pid)
        if now - last > 0.2:
            busy_until, last = time.monotonic(), now
        elif time.monotonic() - busy_until > 5:
            break
    still_busy = time.monotonic() - busy_until < 2
    peak = _status(proc.pid, "VmHWM")
    healthz = online._request(http.client.HTTPConnection("127.0.0.1", port, timeout=10), "GET", "/healthz")[0]
    service_tmp = glob.glob(str(env_tmp / "tfxgate-serve-*"))
    term = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
        ended = f"{time.monotonic() - term:.1f} s"
    except subprocess.TimeoutExpired:
        ended = "still alive 60 s after SIGTERM (killed)"
        proc.kill()
        proc.wait()
    left = [p for p in service_tmp if os.path.exists(p)]
    figures = {
        "body_bytes": len(body),
        "status": status,
        "answer": answer[:300],
        "seconds_to_answer": round(answered, 2),
        "busy_after_answer_s": ("still busy at the limit" if still_busy else round(max(0.0, busy_until - started - answered), 1)),
        "rss_before_mib": round(rss_before / 1024),
        "peak_rss_service_mib": round(peak / 1024),
        "peak_rss_children_mib": round(peak_children[0] / 1024),
        "healthz_after": healthz,
        "sigterm_to_exit": ended,
        "tmp_left_behind": left,
    }
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
