"""Where ML Metadata lives: a SQLite file (the default) or a MySQL/MariaDB database.

MySQL is what Kubeflow's metadata service uses, and what two machines (or two concurrent
pipelines) can share. The settings come from flags or from the environment:

    --mysql-host / TFXGATE_MYSQL_HOST          --mysql-port / TFXGATE_MYSQL_PORT (3306)
    --mysql-database / TFXGATE_MYSQL_DATABASE  --mysql-user / TFXGATE_MYSQL_USER
    --mysql-password-file / TFXGATE_MYSQL_PASSWORD_FILE, or TFXGATE_MYSQL_PASSWORD

The password is never a flag: a command line is visible to every user of the machine (`ps`) and
ends up in shell histories. It is kept out of `repr`, and `redact` takes it out of log lines
(TFX's LocalDagRunner logs its whole connection config at INFO).
"""

import contextlib
import dataclasses
import logging
import os
import re
import time
from typing import Mapping, Optional, Set

from core.common.errors import ConfigError

ENV_PREFIX = "TFXGATE_MYSQL_"
DEFAULT_MYSQL_PORT = 3306
REDACTED = "<redacted>"
_OPEN_ATTEMPTS = 8

# Every password this process has loaded, so log filters can remove it wherever it appears.
_SECRETS: Set[str] = set()
# `password: "..."` (proto text, as TFX logs a connection config), `password=...`, `"password": "..."`.
_PASSWORD_FIELD = re.compile(r"""(password["']?\s*[:=]\s*)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,;}]+)""", re.IGNORECASE)


class StoreError(ConfigError):
    """MLMD settings that cannot work; the message says which, in one line, without a secret."""


@dataclasses.dataclass(frozen=True)
class MySQLSettings:
    host: str
    port: int
    database: str
    user: str
    password: str = dataclasses.field(default="", repr=False)

    def describe(self) -> str:
        return f"mysql://{self.user}@{self.host}:{self.port}/{self.database}"


@dataclasses.dataclass(frozen=True)
class StoreSettings:
    """One MLMD store: `sqlite_path`, or `mysql` when set (then `sqlite_path` is unused)."""

    sqlite_path: Optional[str] = None
    mysql: Optional[MySQLSettings] = None

    @property
    def is_mysql(self) -> bool:
        return self.mysql is not None

    def describe(self) -> str:
        return self.mysql.describe() if self.mysql else str(self.sqlite_path)

    __str__ = describe

    def exists(self) -> bool:
        """False only for a SQLite file not created yet; a database server is asked on `open`."""
        return self.is_mysql or os.path.isfile(self.sqlite_path or "")

    def connection_config(self, read_only: bool = False):
        """MLMD's ConnectionConfig: read-write (created when missing) for the pipeline; with
        `read_only`, a SQLite file opened READONLY and a MySQL database never created."""
        from ml_metadata.proto import metadata_store_pb2

        config = metadata_store_pb2.ConnectionConfig()
        if self.mysql:
            m = self.mysql
            config.mysql.host, config.mysql.port, config.mysql.database = m.host, m.port, m.database
            config.mysql.user, config.mysql.password = m.user, m.password
            config.mysql.skip_db_creation = read_only
        else:
            modes = metadata_store_pb2.SqliteMetadataSourceConfig
            config.sqlite.filename_uri = self.sqlite_path
            config.sqlite.connection_mode = modes.READONLY if read_only else modes.READWRITE_OPENCREATE
        return config

    def open(self, must_exist: bool = True, read_only: Optional[bool] = None):
        """The MetadataStore; a StoreError in one line when it is missing, unreachable or not an
        MLMD store. A store that must exist already is only read (every command but the pipeline
        run): it is opened read-only, after a check that it holds MLMD's tables, since MLMD would
        otherwise create them in whatever database it is given. `must_exist=False` (the run
        about to write) creates the store when missing."""
        from ml_metadata import metadata_store

        read_only = must_exist if read_only is None else read_only
        if must_exist and not self.exists():
            raise StoreError(f"{self.describe()}: no MLMD store there (run the pipeline first)")
        if read_only:
            _check_is_mlmd(self)
        for attempt in range(_OPEN_ATTEMPTS):
            try:
                return metadata_store.MetadataStore(self.connection_config(read_only))
            except RuntimeError as e:  # MLMD's C++ layer: "mysql_real_connect failed: errno: , error: "
                # Two processes creating MLMD's tables in one empty database at once: the loser is
                # told to retry ("... due to concurrent connection to the empty database"), or
                # MySQL picks it as a deadlock victim ("try restarting transaction").
                if _transient(e) and attempt + 1 < _OPEN_ATTEMPTS:
                    time.sleep(0.5 * (attempt + 1))
                    continue
                raise StoreError(f"{self.describe()}: cannot open the MLMD store ({_first_line(e)}); check the "
                                 "server, the user and its password") from None


# Tables every MLMD store has (MLMD 1.x); a database without them is someone else's.
MLMD_TABLES = frozenset({"MLMDEnv", "Type", "Artifact", "Execution", "Context", "Event"})
_NOT_WRITTEN = "nothing was written to it; name the store the pipeline writes (--metadata, or the MySQL settings)"


def _check_is_mlmd(settings: StoreSettings) -> None:
    """A StoreError in one line unless the store holds MLMD's tables; reads only.

    MLMD's own READONLY mode keeps a SQLite file unchanged, but its refusal is its CREATE TABLE
    statement, the same for a foreign database, an empty file and a file that is not SQLite;
    and on MySQL MLMD has no read-only mode at all (it creates its tables in any database it
    connects to). So the tables are looked for first, with a reader of our own."""
    tables = _mysql_tables(settings) if settings.mysql else _sqlite_tables(str(settings.sqlite_path))
    missing = sorted(MLMD_TABLES - tables)
    if not missing:
        return
    where = settings.describe()
    if not tables:
        what = "an empty database" if settings.mysql else (
            "an empty file" if os.path.getsize(str(settings.sqlite_path)) == 0 else "a SQLite database with no table")
    elif len(missing) == len(MLMD_TABLES):
        shown = sorted(tables)
        what = f"a database whose tables, {', '.join(shown[:5])}{' ...' if len(shown) > 5 else ''}, are not MLMD's"
    else:
        what = f"an incomplete MLMD store (no {', '.join(missing)} table)"
    raise StoreError(f"{where}: not an MLMD store ({what}); {_NOT_WRITTEN}")


def _sqlite_tables(path: str) -> Set[str]:
    """The tables of a SQLite file, opened read-only (`mode=ro`: SQLite neither creates nor writes it)."""
    import sqlite3
    import urllib.parse

    uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as e:  # "file is not a database", a locked or unreadable file
        if "not a database" in str(e):
            raise StoreError(f"{path}: not an MLMD store (not a SQLite database at all); {_NOT_WRITTEN}") from None
        raise StoreError(f"{path}: cannot read it as a SQLite database ({e})") from None


def _mysql_tables(settings: StoreSettings) -> Set[str]:
    """The tables of the MySQL database, listed by a client of our own (read-only statements)."""
    import pymysql

    m = settings.mysql
    try:
        with contextlib.closing(pymysql.connect(host=m.host, port=m.port, user=m.user, password=m.password,
                                                database=m.database, connect_timeout=10)) as db:
            with db.cursor() as cursor:
                cursor.execute("SHOW TABLES")
                return {row[0] for row in cursor.fetchall()}
    except pymysql.MySQLError as e:
        code = e.args[0] if e.args else None
        if code == 1049:  # ER_BAD_DB_ERROR
            raise StoreError(f"{settings.describe()}: no such database, so no MLMD store there (run the "
                             "pipeline first)") from None
        message = e.args[1] if len(e.args) > 1 else str(e)
        raise StoreError(f"{settings.describe()}: cannot open the MLMD store ({redact(str(message))}); check the "
                         "server, the user and its password") from None


def _transient(error: Exception) -> bool:
    text = str(error).lower()
    return any(sign in text for sign in ("retry", "deadlock", "try restarting transaction", "lock wait timeout"))


def as_settings(target) -> StoreSettings:
    """StoreSettings as given, or those of a SQLite file for a path."""
    return target if isinstance(target, StoreSettings) else StoreSettings(sqlite_path=str(target))


def settings(sqlite_path: Optional[str] = None, host: Optional[str] = None, port=None,
             database: Optional[str] = None, user: Optional[str] = None, password_file: Optional[str] = None,
             env: Mapping[str, str] = os.environ) -> StoreSettings:
    """The store the given values name, each MySQL value falling back to its TFXGATE_MYSQL_*
    variable: MySQL when a host is set, else the SQLite file."""

    def pick(value, name: str) -> Optional[str]:
        return str(value) if value not in (None, "") else env.get(ENV_PREFIX + name) or None

    host = pick(host, "HOST")
    if not host:
        return StoreSettings(sqlite_path=os.path.abspath(sqlite_path) if sqlite_path else None)
    port_text = pick(port, "PORT") or str(DEFAULT_MYSQL_PORT)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise StoreError(f"MySQL port {port_text!r}: not a port number")
    database, user = pick(database, "DATABASE"), pick(user, "USER")
    if not database or not user:
        raise StoreError("MySQL needs a database and a user (--mysql-database, --mysql-user or "
                         f"{ENV_PREFIX}DATABASE, {ENV_PREFIX}USER)")
    password = _password(pick(password_file, "PASSWORD_FILE"), env)
    return StoreSettings(mysql=MySQLSettings(host, int(port_text), database, user, password))


def from_environment(sqlite_path: str, env: Mapping[str, str] = os.environ) -> StoreSettings:
    """Settings from TFXGATE_MYSQL_* alone (a notebook has no flags), else the SQLite file."""
    return settings(sqlite_path=sqlite_path, env=env)


def _password(path: Optional[str], env: Mapping[str, str]) -> str:
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                password = f.read().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as e:
            raise StoreError(f"MySQL password file {path}: cannot read it ({getattr(e, 'strerror', None) or e})") from None
    else:
        password = env.get(ENV_PREFIX + "PASSWORD", "")
    if password:
        _SECRETS.add(password)
    return password


def redact(text: str) -> str:
    """`text` without any password field's value and without any password loaded here."""
    text = _PASSWORD_FIELD.sub(lambda m: m.group(1) + REDACTED, text)
    for secret in _SECRETS:
        text = text.replace(secret, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that formats each record and takes secrets out of it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot format is left for the handler to report
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


def install_log_redaction() -> None:
    """Redacts secrets from every record of the root and absl loggers (and their children)."""
    for name in ("", "absl"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
    # Handlers see records of every logger; a filter on them also covers loggers with their own.
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


def _first_line(error: Exception) -> str:
    """The error's first line, secrets redacted, without the SQL MLMD appends (" query: ...")."""
    text = str(error).strip()
    return redact(text.splitlines()[0].split(" query: ")[0].strip()) if text else type(error).__name__
