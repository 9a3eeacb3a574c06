"""A throwaway MariaDB server for tests: Debian's package, a temporary data folder, loopback only.

`MariaDB.start(folder)` installs `mariadb-server` with apt-get when `mariadbd` is missing, creates
a fresh data folder, starts the server on 127.0.0.1 at a free port (and a private socket), and
creates a user with a random password; `stop()` shuts it down. Nothing listens beyond loopback,
and no system service is touched.
"""

import dataclasses
import os
import secrets
import shutil
import signal
import subprocess
import time
from typing import Optional

from tests.ports import free_port

USER = "tfxgate"


class MariaDBUnavailable(RuntimeError):
    pass


def _ensure_installed() -> str:
    server = shutil.which("mariadbd") or ("/usr/sbin/mariadbd" if os.path.exists("/usr/sbin/mariadbd") else None)
    if server:
        return server
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "mariadb-server", "mariadb-client"]):
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            raise MariaDBUnavailable(f"{' '.join(command)} failed: {proc.stderr.strip()[-500:]}")
    return shutil.which("mariadbd") or "/usr/sbin/mariadbd"


@dataclasses.dataclass
class MariaDB:
    folder: str
    port: int
    password: str = dataclasses.field(repr=False)
    process: Optional[subprocess.Popen] = None

    @property
    def socket_path(self) -> str:
        return os.path.join(self.folder, "mysqld.sock")

    @classmethod
    def start(cls, folder: str) -> "MariaDB":
        server = _ensure_installed()
        data = os.path.join(folder, "data")
        os.makedirs(data, exist_ok=True)
        install = subprocess.run(
            ["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
             "--auth-root-authentication-method=socket", "--skip-test-db"],
            capture_output=True, text=True,
        )
        if install.returncode != 0:
            raise MariaDBUnavailable(f"mariadb-install-db failed: {install.stderr.strip()[-500:]}")
        db = cls(folder=folder, port=free_port(), password=secrets.token_urlsafe(18))
        db.process = subprocess.Popen(
            [server, "--no-defaults", f"--datadir={data}", f"--socket={db.socket_path}", f"--port={db.port}",
             "--bind-address=127.0.0.1", "--user=root", f"--pid-file={os.path.join(folder, 'mysqld.pid')}",
             f"--log-error={os.path.join(folder, 'error.log')}", "--skip-name-resolve",
             "--innodb-buffer-pool-size=64M", "--max-connections=200"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        db._wait_ready()
        db.sql(f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{db.password}'; "
               f"GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'127.0.0.1'; FLUSH PRIVILEGES;")
        return db

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise MariaDBUnavailable(f"mariadbd exited with {self.process.returncode}; see {self.folder}/error.log")
            ping = subprocess.run(["mariadb-admin", "--no-defaults", f"--socket={self.socket_path}", "-uroot", "ping"],
                                  capture_output=True, text=True)
            if ping.returncode == 0:
                return
            time.sleep(0.3)
        raise MariaDBUnavailable(f"mariadbd did not answer within {timeout:.0f} s")

    def sql(self, statements: str) -> str:
        """Runs SQL as root over the private socket (never over TCP, never with a password)."""
        proc = subprocess.run(["mariadb", "--no-defaults", f"--socket={self.socket_path}", "-uroot", "-N", "-e", statements],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise MariaDBUnavailable(f"SQL failed: {proc.stderr.strip()}")
        return proc.stdout

    def env(self, database: str) -> dict:
        """TFXGATE_MYSQL_* settings for `database` as this server's user."""
        return {
            "TFXGATE_MYSQL_HOST": "127.0.0.1", "TFXGATE_MYSQL_PORT": str(self.port),
            "TFXGATE_MYSQL_DATABASE": database, "TFXGATE_MYSQL_USER": USER, "TFXGATE_MYSQL_PASSWORD": self.password,
        }

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
