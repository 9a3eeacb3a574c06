"""Beam's portable path for tests: a Python job service and an external worker pool on loopback.

`BeamServices.start(folder)` starts, as subprocesses of the venv's Python, Beam's job service
(`apache_beam.runners.portability.local_job_service_main`, the Job API that a Flink or Spark job
server also serves) and a worker pool (`apache_beam.runners.worker.worker_pool_main`, the Fn API
workers of an `EXTERNAL` environment, what a worker-pool sidecar runs), each on a free loopback
port, and waits until both accept connections (`wait=False`: `wait_ready()` does, later).
`beam_args()` are the pipeline arguments that run on them; `stop()` ends both process groups (the
pool's SDK workers included). Logs go to `folder`. The pool itself binds every interface (Beam's
code, no flag changes it); only the test's own processes connect to it.
"""

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from typing import List, Tuple

from tests.ports import free_port

JOB_SERVICE = "apache_beam.runners.portability.local_job_service_main"
WORKER_POOL = "apache_beam.runners.worker.worker_pool_main"


class ServiceFailed(RuntimeError):
    pass


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _environment(folder: str) -> dict:
    """The venv's `python` first on PATH (the pool starts each SDK worker as `python -c ...`),
    Keras 2 (TFX 1.16), quiet TensorFlow, temporary files (the staged artifacts) under `folder`."""
    bin_dir = os.path.dirname(sys.executable)
    return dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""), TMPDIR=folder,
                TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")


@dataclasses.dataclass
class BeamServices:
    folder: str
    job_port: int
    worker_port: int
    processes: List[subprocess.Popen] = dataclasses.field(default_factory=list)

    @classmethod
    def start(cls, folder: str, wait: bool = True) -> "BeamServices":
        """Both services started; ready when this returns unless `wait` is False (then call
        `wait_ready` before using them: they take seconds to import Beam)."""
        job_port = free_port()
        worker_port = free_port()
        while worker_port == job_port:
            worker_port = free_port()
        services = cls(folder=folder, job_port=job_port, worker_port=worker_port)
        try:
            for name, module, args in (("job_service", JOB_SERVICE, ["--port", str(services.job_port)]),
                                       ("worker_pool", WORKER_POOL, ["--service_port", str(services.worker_port)])):
                services._spawn(name, [sys.executable, "-m", module, *args])
            if wait:
                services.wait_ready()
        except BaseException:
            services.stop()
            raise
        return services

    def _spawn(self, name: str, command: List[str]) -> None:
        with open(os.path.join(self.folder, f"{name}.log"), "wb") as log:
            # A session of its own: stop() ends the whole group, the pool's SDK workers with it.
            self.processes.append(subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.folder, env=_environment(self.folder), start_new_session=True))

    def wait_ready(self, timeout: float = 90) -> None:
        """Returns when both ports accept connections; ServiceFailed when a service died or the
        time ran out (with their logs)."""
        deadline = time.monotonic() + timeout
        for port in (self.job_port, self.worker_port):
            while not _accepts(port):
                dead = [p for p in self.processes if p.poll() is not None]
                if dead or time.monotonic() > deadline:
                    raise ServiceFailed(f"Beam service on port {port} did not start: {self.logs()[-2000:]}")
                time.sleep(0.2)

    def beam_args(self) -> Tuple[str, ...]:
        """PortableRunner on the job service, SDK workers from the pool (an EXTERNAL environment)."""
        return ("--runner=PortableRunner", f"--job_endpoint=localhost:{self.job_port}",
                "--environment_type=EXTERNAL", f"--environment_config=localhost:{self.worker_port}")

    def logs(self) -> str:
        texts = []
        for name in ("job_service", "worker_pool"):
            path = os.path.join(self.folder, f"{name}.log")
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    texts.append(f"--- {name} ---\n{f.read()}")
        return "\n".join(texts)

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM to each service's process group, SIGKILL after `timeout` seconds."""
        for process in self.processes:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
            _signal_group(process, signal.SIGKILL)  # SDK workers the pool left behind

    def alive(self) -> List[int]:
        """The services' process ids still running."""
        return [p.pid for p in self.processes if p.poll() is None]


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)  # the group this helper created: the service and its children
    except ProcessLookupError:
        pass
