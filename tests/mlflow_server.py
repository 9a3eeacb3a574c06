"""A throwaway MLflow tracking server for tests: the full `mlflow` package in a venv of its own,
a SQLite backend and an artifact folder in a temporary folder, loopback only.

The project's venv holds only the client (`mlflow-skinny`); the server's package (and its many
dependencies) must not enter it. `MLflowServer.start(folder)` installs `mlflow` of the client's
major.minor version, when missing, into `~/.cache/tfxgate/mlflow-<major.minor>/` (`python3.10 -m
uv venv`, `uv pip install`), then serves on 127.0.0.1 at a free port with `--serve-artifacts`:
clients upload and download artifacts through the server (`mlflow-artifacts:/`), never from its
folder. `stop()` terminates it (then kills it).
"""

import dataclasses
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from importlib import metadata
from typing import Optional

from tests.ports import free_port

CACHE = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache") / "tfxgate"


class MLflowServerUnavailable(RuntimeError):
    pass


def client_version() -> str:
    """major.minor of the tracking client in this venv (mlflow-skinny)."""
    return ".".join(metadata.version("mlflow-skinny").split(".")[:2])


def _uv() -> list:
    for python in ("python3.10", sys.executable):
        if shutil.which(python) or os.path.isfile(python):
            probe = subprocess.run([python, "-m", "uv", "--version"], capture_output=True, text=True)
            if probe.returncode == 0:
                return [python, "-m", "uv"]
    raise MLflowServerUnavailable("no `python3.10 -m uv` to install the MLflow server with (pip install uv)")


def ensure_installed(version: Optional[str] = None) -> pathlib.Path:
    """The `mlflow` command of a venv holding mlflow==<version>.* (installed when missing)."""
    version = version or client_version()
    venv = CACHE / f"mlflow-{version}"
    command = venv / "bin" / "mlflow"
    if (venv / ".installed").is_file() and command.is_file():
        return command
    uv = _uv()
    steps = [[*uv, "venv", "--python", "3.10", str(venv)],
             [*uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), f"mlflow=={version}.*"]]
    for step in steps:
        proc = subprocess.run(step, capture_output=True, text=True, timeout=1200)
        if proc.returncode != 0:
            raise MLflowServerUnavailable(f"installing the MLflow server failed: {' '.join(step)}: "
                                          f"{(proc.stderr or proc.stdout).strip()[-800:]}")
    (venv / ".installed").write_text(f"mlflow=={version}.*\n")
    return command


@dataclasses.dataclass
class MLflowServer:
    folder: str
    port: int
    process: Optional[subprocess.Popen] = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> str:
        return os.path.join(self.folder, "server.log")

    @classmethod
    def start(cls, folder: str) -> "MLflowServer":
        command = ensure_installed()
        os.makedirs(folder, exist_ok=True)
        server = cls(folder=folder, port=free_port())
        log = open(server.log_path, "wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PYTHON", "VIRTUAL_ENV"))}
        server.process = subprocess.Popen(
            [str(command), "server", "--host", "127.0.0.1", "--port", str(server.port), "--workers", "1",
             "--backend-store-uri", f"sqlite:///{os.path.join(folder, 'mlflow.db')}",
             "--artifacts-destination", os.path.join(folder, "artifacts"), "--serve-artifacts"],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder, start_new_session=True,
        )
        log.close()
        server._wait_ready()
        return server

    def _wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise MLflowServerUnavailable(f"mlflow server exited with {self.process.returncode}: "
                                              f"{self._log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        raise MLflowServerUnavailable(f"mlflow server did not answer /health within {timeout:.0f} s: {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return pathlib.Path(self.log_path).read_text(errors="replace").strip()[-800:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Terminates the server and its workers (its own process group), then kills them."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
