"""`tfxgate serve`: online validation over HTTP, on uvicorn, with what judges loaded once.

    POST /v1/validate   a batch (CSV, JSON {"instances": [...]}, or newline-delimited JSON): the
                        answer of `tfxgate validate --format json` (`?format=text`: its text);
                        `?environment=SERVING|TRAINING`, `?delimiter=`, `?name=` (what to call the data)
    POST /v1/check      one or a few instances (JSON): the row-level checks, per instance; the
                        instances not refused enter the sliding window (SERVING)
    GET  /v1/windows    the last windows' findings and distances
    GET  /metrics       Prometheus' text format
    GET  /healthz       the process answers;  GET /readyz: what judges is loaded

A hand-written ASGI callable: five routes need no framework. A bad request is a 4xx with a
one-line JSON reason; a bug is a 500 with one line, its traceback in the log only. CPU work runs
in a small thread pool, so health checks and metrics answer while a batch is judged. A body is
read as it arrives and refused (413) past the limit; a CSV body goes to a temporary file as it
arrives. uvicorn finishes the requests in flight on SIGTERM; SIGHUP reloads the schema, the
policy and the baseline, and so does a newer accepted run in MLMD (polled).
"""

import asyncio
import concurrent.futures
import json
import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
import urllib.parse
from typing import Optional

import prometheus_client
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from core import instances as instances_lib, names
from core.errors import UserError
from tfxgate import service

log = logging.getLogger("tfxgate.serve")

CSV_TYPES = {"text/csv", "text/plain", "application/csv"}
JSON_TYPES = {"application/json"}
NDJSON_TYPES = {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
# A thread judging a batch or a window holds the GIL for up to this long before the event loop's
# thread may take it back (Python's default is 5 ms): a /v1/check waits for it at most about this.
SWITCH_SECONDS = 0.0005
_DRAIN_FACTOR = 16  # an oversized body is read and discarded up to this many limits, so the client hears 413


class HttpError(Exception):
    """A request the service refuses: its status and a one-line reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


class App:
    """The ASGI application."""

    def __init__(self, options: service.Options, threads: int = 2):
        prometheus_client.disable_created_metrics()  # no `_created` series beside every counter
        self.options = options
        self.metrics = service.Metrics()
        self.tmp_dir = tempfile.mkdtemp(prefix="tfxgate-serve-")
        self.windows = service.Windows(options, self.metrics, self.tmp_dir)
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="judge")
        self.window_pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="window")
        self.loaded: Optional[service.Loaded] = None
        self.reloading: Optional[asyncio.Lock] = None  # created in the running loop (lifespan)
        self.tasks = set()  # background tasks, held so that none is collected while it runs

    def _keep(self, task: asyncio.Task) -> None:
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def load(self) -> None:
        """Loads what judges, before the service listens (a UserError when something is unreadable)."""
        self.loaded = service.load(self.options)
        service.warm_up(self.loaded, self.tmp_dir)
        self.metrics.loaded.set(self.loaded.loaded_at)
        log.info("loaded schema %s, baseline: %s", self.loaded.checks.schema_path, self.loaded.baseline[2]["description"])

    # -- ASGI ------------------------------------------------------------------------------------

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        route = path if path in _ROUTES else "other"
        started = time.perf_counter()
        self.metrics.in_flight.labels(route).inc()
        status = 500
        try:
            status, body, headers = await self._answer(scope, receive, path, method)
        except HttpError as e:
            status, body, headers = e.status, _error(str(e)), {}
        except UserError as e:
            status, body, headers = 400, _error(str(e)), {}
        except Exception as e:  # a bug: one line to the client, the traceback to the log
            log.exception("internal error answering %s %s", method, path)
            status, body, headers = 500, _error(f"internal error (a bug in tfxgate, not in your request): "
                                                f"{type(e).__name__}"), {}
        finally:
            self.metrics.in_flight.labels(route).dec()
        content_type = headers.pop("content-type", "application/json")
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
                    + [(k.encode(), v.encode()) for k, v in headers.items()]})
        await send({"type": "http.response.body", "body": body})
        self.metrics.requests.labels(route, str(status)).inc()
        self.metrics.latency.labels(route).observe(time.perf_counter() - started)

    async def _lifespan(self, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                loop = asyncio.get_running_loop()
                self.reloading = asyncio.Lock()
                try:
                    loop.add_signal_handler(signal.SIGHUP, lambda: self._keep(loop.create_task(self.reload("SIGHUP"))))
                except (NotImplementedError, RuntimeError, ValueError):  # not the main thread (tests in process)
                    pass
                self._keep(loop.create_task(self._poll_baseline()))
                self._keep(loop.create_task(self._tick_windows()))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for task in list(self.tasks):
                    task.cancel()
                self.pool.shutdown(wait=True)
                self.window_pool.shutdown(wait=True)
                shutil.rmtree(self.tmp_dir, ignore_errors=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _answer(self, scope, receive, path, method):
        if path in ("/healthz", "/readyz"):
            _allow(method, "GET")
            if path == "/readyz" and self.loaded is None:
                return 503, _json({"ready": False}), {}
            return 200, _json({"ok": True} if path == "/healthz" else {"ready": True, **self.loaded.names_json()}), {}
        if path not in _ROUTES:
            raise HttpError(404, f"no such path: {path} (try /v1/validate, /v1/check, /v1/windows, /metrics)")
        self._authorize(scope)
        query = _query(scope)
        if path == "/metrics":
            _allow(method, "GET")
            return 200, generate_latest(self.metrics.registry), {"content-type": CONTENT_TYPE_LATEST}
        if path == "/v1/windows":
            _allow(method, "GET")
            return 200, _json({"windows": list(self.windows.results), "open_window_rows": len(self.windows.rows),
                               **self.loaded.names_json()}), {}
        _allow(method, "POST")
        environment = query.get("environment", names.SERVING).upper()
        if environment not in names.ENVIRONMENTS:
            raise HttpError(400, f"environment must be one of {', '.join(names.ENVIRONMENTS)}, not {environment!r}")
        kind = _content_type(scope)
        if path == "/v1/check":
            return await self._check(receive, scope, kind, environment)
        return await self._validate(receive, scope, kind, environment, query)

    def _authorize(self, scope) -> None:
        if self.options.token is None:
            return
        given = _header(scope, b"authorization") or ""
        if not (given.startswith("Bearer ") and secrets.compare_digest(given[7:].encode(), self.options.token.encode())):
            raise HttpError(401, "a bearer token is required (Authorization: Bearer <token>)")

    # -- the routes ------------------------------------------------------------------------------

    async def _check(self, receive, scope, kind, environment):
        if kind not in JSON_TYPES | NDJSON_TYPES:
            raise HttpError(415, f"/v1/check takes JSON instances (application/json), not {kind or 'no content type'}")
        body = await self._read_body(receive, scope)
        found = _instances(body, kind)
        if len(found) > self.options.max_instances:
            raise HttpError(413, f"{len(found)} instances: /v1/check takes at most {self.options.max_instances} "
                            "(send a batch to /v1/validate)")
        loaded = self.loaded
        checker = loaded.checkers[environment]
        problems = checker.check(found)  # a few instances: a millisecond or so, on the event loop
        accepted, results = [], []
        for instance, found_problems in zip(found, problems):
            outcome = instances_lib.REFUSE if instances_lib.refused(found_problems) else (
                instances_lib.FLAG if found_problems else "ok")
            self.metrics.instances.labels(outcome).inc()
            for p in found_problems:
                self.metrics.findings.labels("check", p.feature, p.check, p.severity).inc()
            results.append({"outcome": outcome, "problems": [p.to_json() for p in found_problems]})
            if outcome != instances_lib.REFUSE:
                accepted.append(instance)
        self.metrics.rows.labels("check").inc(len(found))
        if environment == names.SERVING and accepted:
            rows = checker.cells(accepted)
            if self.windows.add([{k: v for k, v in row.items() if v is not None} for row in rows]):
                self._judge_windows()
        refused = sum(r["outcome"] == instances_lib.REFUSE for r in results)
        return 200, _json({"instances": results, "refused": refused, "environment": environment,
                           **loaded.names_json()}), {}

    async def _validate(self, receive, scope, kind, environment, query):
        if kind not in CSV_TYPES | JSON_TYPES | NDJSON_TYPES:
            raise HttpError(415, "/v1/validate takes text/csv, application/json ({\"instances\": [...]}) or "
                            f"application/x-ndjson, not {kind or 'no content type'}")
        label = query.get("name") or "request body"
        delimiter = query.get("delimiter", ",")
        if len(delimiter) != 1 or delimiter in "\"\r\n":
            raise HttpError(400, f"delimiter must be one character other than a quote or a newline, not {delimiter!r}")
        # The file is named as the client named its data, so that messages naming the file's
        # base name (examples "data.csv line 7") read as the command line's would.
        folder = tempfile.mkdtemp(dir=self.tmp_dir)
        base = os.path.basename(label)
        path = os.path.join(folder, base if base not in ("", ".", "..") and len(base) < 200 else "batch.csv")
        try:
            if kind in CSV_TYPES:
                with open(path, "wb") as f:
                    size = await self._read_body(receive, scope, into=f)
                if size == 0:
                    raise HttpError(400, "an empty body: send a CSV batch with its header")
            else:
                found = _instances(await self._read_body(receive, scope), kind)
                await self._run(service.instances_csv, found, path)
            loaded = self.loaded
            outcome = await self._run(service.validate_file, loaded, path, label, environment, delimiter)
            text = outcome.to_text() + "\n" if query.get("format") == "text" else None
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        self.metrics.rows.labels("validate").inc(outcome.rows)
        answer = outcome.to_json()
        for anomaly in answer["anomalies"]:
            self.metrics.findings.labels("validate", anomaly["feature"], anomaly["check"] or "", anomaly["severity"]).inc()
        headers = {"x-tfxgate-result": answer["result"]}
        if text is not None:
            return 200, text.replace(path, label).encode(), {"content-type": "text/plain; charset=utf-8", **headers}
        return 200, json.dumps(answer).replace(json.dumps(path)[1:-1], json.dumps(label)[1:-1]).encode(), headers

    # -- plumbing --------------------------------------------------------------------------------

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def _read_body(self, receive, scope, into=None):
        """The request body (bytes), or its size once written to `into`; 413 past the limit."""
        limit = self.options.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _drain(receive, limit * _DRAIN_FACTOR)
            raise HttpError(413, f"the body is {int(declared):,} bytes, over the limit of {limit:,}")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise HttpError(400, "the client went away before the body ended")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _drain(receive, limit * _DRAIN_FACTOR)
                raise HttpError(413, f"the body is over the limit of {limit:,} bytes")
            if into is not None:
                into.write(chunk)
            else:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return size if into is not None else b"".join(chunks)

    def _judge_windows(self) -> None:
        loaded = self.loaded
        self.window_pool.submit(self.windows.judge_waiting, loaded)

    async def _tick_windows(self):
        while True:
            await asyncio.sleep(min(1.0, self.options.window_seconds / 4))
            if self.windows.close_if_due():
                self._judge_windows()

    async def _poll_baseline(self):
        """Reloads when the baseline MLMD names changes (a newer accepted run)."""
        if self.options.baseline != "auto":
            return
        while True:
            await asyncio.sleep(self.options.reload_seconds)
            try:
                key = await self._run(service.baseline_key, self.options)
            except Exception as e:
                log.warning("could not ask MLMD for the newest accepted run: %s", str(e).splitlines()[0] if str(e) else e)
                continue
            if self.loaded is not None and key != self.loaded.baseline_key:
                await self.reload("a newer accepted run in MLMD")

    async def reload(self, why: str) -> bool:
        """Loads what judges again and swaps it in whole; on failure keeps what it had."""
        async with self.reloading:
            try:
                loaded = await self._run(service.load, self.options)
            except Exception as e:
                self.metrics.reloads.labels(why, "failed").inc()
                log.error("reload (%s) failed, still serving the previous schema and baseline: %s", why,
                          str(e).splitlines()[0] if str(e) else type(e).__name__)
                return False
            self.loaded = loaded
            self.metrics.reloads.labels(why, "done").inc()
            self.metrics.loaded.set(loaded.loaded_at)
            log.info("reloaded (%s): schema %s, baseline: %s", why, loaded.checks.schema_path,
                     loaded.baseline[2]["description"])
            return True


_ROUTES = ("/v1/validate", "/v1/check", "/v1/windows", "/metrics", "/healthz", "/readyz")


def _json(data) -> bytes:
    return json.dumps(data).encode()


def _error(reason: str) -> bytes:
    return _json({"error": " ".join(reason.split())})


def _allow(method: str, allowed: str) -> None:
    if method != allowed:
        raise HttpError(405, f"{method} is not allowed here; use {allowed}")


def _header(scope, name: bytes) -> Optional[str]:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _content_type(scope) -> str:
    return (_header(scope, b"content-type") or "").split(";")[0].strip().lower()


def _query(scope) -> dict:
    return dict(urllib.parse.parse_qsl(scope.get("query_string", b"").decode("latin-1")))


async def _drain(receive, most: int) -> None:
    """Reads and discards the rest of a refused body (up to `most` bytes) so the client hears the answer."""
    read = 0
    while read <= most:
        message = await receive()
        read += len(message.get("body", b""))
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return


def _instances(body: bytes, kind: str) -> list:
    """The instances of a JSON body ({"instances": [...]}, a list, or one object) or of NDJSON."""
    if not body.strip():
        raise HttpError(400, "an empty body: send {\"instances\": [...]}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HttpError(400, "the body is not UTF-8 text") from None
    try:
        if kind in NDJSON_TYPES:
            found = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            data = json.loads(text)
            if isinstance(data, dict) and "instances" not in data:
                raise HttpError(400, "expected {\"instances\": [...]}: a list of objects, feature name to value")
            found = data["instances"] if isinstance(data, dict) else data
    except json.JSONDecodeError as e:
        raise HttpError(400, f"malformed JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    except RecursionError:
        raise HttpError(400, "malformed JSON: nested too deeply") from None
    if not isinstance(found, list):
        raise HttpError(400, "expected {\"instances\": [...]}: a list of objects, feature name to value")
    if not found:
        raise HttpError(400, "no instances")
    for i, instance in enumerate(found):
        if not isinstance(instance, dict):
            raise HttpError(400, f"instance {i}: expected an object of feature values, not {type(instance).__name__}")
        if not instance:
            raise HttpError(400, f"instance {i}: no feature values")
    return found


def run(options: service.Options, host: str, port: int, threads: int = 2) -> int:
    """Loads what judges, then serves until SIGTERM or SIGINT; the requests in flight finish.
    Returns the exit status: 0 after SIGTERM, 130 after SIGINT (uvicorn would re-raise the signal
    once shut down; the handlers here take it instead, so a clean shutdown exits cleanly)."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.setswitchinterval(SWITCH_SECONDS)
    app = App(options, threads)
    app.load()
    config = uvicorn.Config(app, host=host, port=port, lifespan="on", access_log=False, log_level="warning",
                            http="h11", loop="asyncio", server_header=False)
    server = uvicorn.Server(config)
    stopped_by = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, frame: stopped_by.append(number))
    log.info("serving on http://%s:%d", host, port)
    server.run()
    if stopped_by:
        log.info("stopped by %s; the requests in flight were answered", signal.Signals(stopped_by[0]).name)
    return 130 if signal.SIGINT in stopped_by else 0
