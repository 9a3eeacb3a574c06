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
one-line JSON reason; a bug is a 500 with one line, its traceback in the log only. Every query
parameter is checked here, at the boundary (unknown or repeated ones refused). No answer names a
server path (schema, MLMD store, statistics): the schema version and the baseline's run do; the
paths are in the log. A request is read and checked at the boundary by request.py; the process
around the application (uvicorn, its signals) is server.py.

Limits bound the work a request causes, not only its bytes: a body is read as it arrives and
refused (413) past its limit; a batch or a request with more columns the schema does not know
than --max-unknown-columns is refused (413) before anything is computed; a batch (and a window)
is judged in a child process (tfxgate/online/judging.py) killed past --deadline-seconds (503, naming
the limit), so abandoned work stops and frees its memory. A thread pool waits for the children,
so health checks and metrics answer while batches are judged. On SIGTERM uvicorn finishes the
requests in flight for at most --grace-seconds, then the children still judging are killed
(their requests answered 503) and the process ends, its temporary folder removed. SIGHUP reloads
the schema, the policy and the baseline, and so does a newer accepted run in MLMD (polled).
"""

import asyncio
import concurrent.futures
import json
import logging
import os
import secrets
import shutil
import signal
import tempfile
import threading
import time
from typing import Optional

import prometheus_client
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from core.checks import instances as instances_lib
from core.common import names
from core.common.errors import UserError
from tfxgate.online import judging, service, windows
from tfxgate.online import request
from tfxgate.online.request import HttpError

log = logging.getLogger("tfxgate.online.serve")

_PARAMETERS = {"/v1/validate": ("environment", "delimiter", "name", "format"), "/v1/check": ("environment",)}
ANSWER_SECONDS = 2.0  # the end of the grace period left to answer the requests whose work was stopped


class App:
    """The ASGI application."""

    def __init__(self, options: service.Options, threads: int = 2):
        prometheus_client.disable_created_metrics()  # no `_created` series beside every counter
        self.options = options
        self.metrics = service.Metrics()
        self.tmp_dir = tempfile.mkdtemp(prefix="tfxgate-serve-")
        self.children = judging.Children()
        self.windows = windows.Windows(options, self.metrics, self.tmp_dir, self.children)
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="judge")
        self.window_pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="window")
        self.loaded: Optional[service.Loaded] = None
        self.reloading: Optional[asyncio.Lock] = None  # created in the running loop (lifespan)
        self.tasks = set()  # background tasks, held so that none is collected while it runs

    def _keep(self, task: asyncio.Task) -> None:
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def stopping(self, sig: int) -> None:
        """SIGTERM or SIGINT: the requests in flight may finish until shortly before the grace
        period ends; then the children still judging are killed (their requests get a 503) and,
        should anything still hold the process at the end of it, it ends anyway, with the exit
        status of a clean stop (what was asked: to stop) and a line in the log."""
        grace = self.options.grace_seconds
        for delay, action, args in ((max(0.0, grace - ANSWER_SECONDS), self.children.kill_all, ()),
                                    (grace, self._hard_exit, (130 if sig == signal.SIGINT else 0,))):
            timer = threading.Timer(delay, action, args)
            timer.daemon = True
            timer.start()

    def _hard_exit(self, status: int) -> None:
        log.warning("still running %g s after the signal to stop (--grace-seconds): ending now",
                    self.options.grace_seconds)
        self.children.kill_all()
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        logging.shutdown()
        os._exit(status)

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
            status, body, headers = e.status, request.error_body(str(e)), {}
        except service.LimitExceeded as e:
            status, body, headers = 413, request.error_body(str(e)), {}
        except UserError as e:
            status, body, headers = 400, request.error_body(str(e)), {}
        except Exception as e:  # a bug: one line to the client, the traceback to the log
            log.exception("internal error answering %s %s", method, path)
            status, body, headers = 500, request.error_body(f"internal error (a bug in tfxgate, not in your request): "
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
                self.children.kill_all()
                self.pool.shutdown(wait=True, cancel_futures=True)
                self.window_pool.shutdown(wait=True, cancel_futures=True)
                shutil.rmtree(self.tmp_dir, ignore_errors=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _answer(self, scope, receive, path, method):
        if path in ("/healthz", "/readyz"):
            request.allow(method, "GET")
            if path == "/readyz" and self.loaded is None:
                return 503, request.as_json({"ready": False}), {}
            answer = {"ok": True} if path == "/healthz" else {"ready": True, **self.loaded.names_json()}
            return 200, request.as_json(answer), {}
        if path not in _ROUTES:
            raise HttpError(404, f"no such path: {path} (try /v1/validate, /v1/check, /v1/windows, /metrics)")
        self._authorize(scope)
        query = request.query(scope, _PARAMETERS.get(path, ()))
        if path == "/metrics":
            request.allow(method, "GET")
            return 200, generate_latest(self.metrics.registry), {"content-type": CONTENT_TYPE_LATEST}
        if path == "/v1/windows":
            request.allow(method, "GET")
            answer = {"windows": list(self.windows.results), "open_window_rows": len(self.windows.rows),
                      **self.loaded.names_json()}
            return 200, request.as_json(answer), {}
        request.allow(method, "POST")
        environment = query.get("environment", names.SERVING).upper()
        if environment not in names.ENVIRONMENTS:
            raise HttpError(400, f"environment must be one of {', '.join(names.ENVIRONMENTS)}, not {environment!r}")
        kind = request.content_type(scope)
        if path == "/v1/check":
            return await self._check(receive, scope, kind, environment)
        return await self._validate(receive, scope, kind, environment, query)

    def _authorize(self, scope) -> None:
        if self.options.token is None:
            return
        scheme, _, credentials = (request.header(scope, b"authorization") or "").strip(" ").partition(" ")
        # The scheme is case-insensitive (RFC 9110, 11.1); the token is compared in constant time.
        if not (scheme.lower() == "bearer"
                and secrets.compare_digest(credentials.strip(" ").encode("latin-1"), self.options.token.encode())):
            raise HttpError(401, "a bearer token is required (Authorization: Bearer <token>)")

    # -- the routes ------------------------------------------------------------------------------

    async def _check(self, receive, scope, kind, environment):
        if kind not in request.JSON_TYPES | request.NDJSON_TYPES:
            raise HttpError(415, f"/v1/check takes JSON instances (application/json), not {kind or 'no content type'}")
        body = await request.read_body(receive, scope, self.options.max_body_bytes)
        found = service.parse_instances(body, kind in request.NDJSON_TYPES)
        if len(found) > self.options.max_instances:
            raise HttpError(413, f"{len(found)} instances: /v1/check takes at most {self.options.max_instances} "
                            "(send a batch to /v1/validate)")
        loaded = self.loaded
        keys = {}
        for instance in found:
            keys.update(dict.fromkeys(instance))
        service.check_columns(keys, loaded.checks.kinds, self.options.max_unknown_columns, "the request")
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
            if self.windows.add([{k: v for k, v in row.items() if v is not None} for row in rows], loaded.checks.kinds):
                self._judge_windows()
        refused = sum(r["outcome"] == instances_lib.REFUSE for r in results)
        return 200, request.as_json({"instances": results, "refused": refused, "environment": environment,
                           **loaded.names_json()}), {}

    async def _validate(self, receive, scope, kind, environment, query):
        if kind not in request.FILE_TYPES | request.JSON_TYPES | request.NDJSON_TYPES:
            raise HttpError(415, "/v1/validate takes a batch as text/csv, application/vnd.apache.parquet, "
                            "application/x-tfrecord or compressed (application/gzip ...), application/json "
                            f"({{\"instances\": [...]}}) or application/x-ndjson, not {kind or 'no content type'}")
        label = request.name(query.get("name"))
        delimiter = request.delimiter(query.get("delimiter", ","))
        output_format = query.get("format", "json")
        if output_format not in request.FORMATS:
            raise HttpError(400, f"format must be one of {', '.join(request.FORMATS)}, "
                            f"not {request.shown(output_format)!r}")
        # The file is named as the client named its data, so that messages naming the file's
        # base name (examples "data.csv line 7") read as the command line's would.
        folder = tempfile.mkdtemp(dir=self.tmp_dir)
        base = os.path.basename(label)
        path = os.path.join(folder, base if base not in ("", ".", "..") else "batch.csv")
        ndjson = None if kind in request.FILE_TYPES else kind in request.NDJSON_TYPES
        body_path = path if ndjson is None else os.path.join(folder, "body.json")
        if ndjson is not None and body_path == path:  # a JSON body and a batch named body.json
            path = os.path.join(folder, "batch.csv")
        try:
            with open(body_path, "wb") as f:
                size = await request.read_body(receive, scope, self.options.max_body_bytes, into=f)
            if size == 0:
                raise HttpError(400, "an empty body: send a batch (CSV with its header, Parquet, ...)" if ndjson is None
                                else "an empty body: send {\"instances\": [...]}")
            args = (self.loaded, self.options, body_path, path, ndjson, label, environment, delimiter,
                    output_format == "text")
            answer, text, rows = await self._judge(service.answer_batch, args, folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        self.metrics.rows.labels("validate").inc(rows)
        for anomaly in answer["anomalies"]:
            self.metrics.findings.labels("validate", anomaly["feature"], anomaly["check"] or "", anomaly["severity"]).inc()
        headers = {"x-tfxgate-result": answer["result"]}
        if text is not None:
            return 200, text.encode(), {"content-type": "text/plain; charset=utf-8", **headers}
        return 200, json.dumps(answer).encode(), headers

    async def _judge(self, fn, args, folder):
        """fn(*args) in a child process under the deadline (tfxgate/online/judging.py)."""
        deadline = self.options.deadline_seconds
        try:
            return await self._run(self.children.run, fn, args, deadline, folder)
        except judging.DeadlineExceeded:
            raise HttpError(503, f"the batch was not judged within the deadline of {deadline:g} s "
                            "(--deadline-seconds); its work was stopped: send fewer rows or columns") from None
        except judging.Stopped:
            raise HttpError(503, "the service is stopping; its work on this batch was stopped: send it again") from None
        except judging.ChildFailed as e:
            log.error("judging a batch failed: %s\n%s", e, e.traceback)
            raise HttpError(500, str(e)) from None

    # -- plumbing --------------------------------------------------------------------------------

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

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
