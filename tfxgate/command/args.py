"""Argument parsing shared by the `tfxgate` commands and the runners: one-line errors, and the
MLMD store flags (a SQLite file or MySQL settings; never a password on the command line)."""

import argparse

from mlmd import store as store_lib

EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    """Argument errors as one line on stderr, exit 2; no abbreviated flags (`--mysql-pass` must
    not silently mean `--mysql-password-file`)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def add_store_arguments(parser: argparse.ArgumentParser, sqlite_default=None, shown_default=None) -> None:
    """--metadata (the SQLite file; --metadata-path is the same flag) and the MySQL flags.
    `shown_default`: the default the help names, where the caller fills it in after parsing."""
    shown = shown_default or sqlite_default
    parser.add_argument("--metadata", "--metadata-path", dest="metadata", default=sqlite_default,
                        help="SQLite MLMD file, used when no MySQL host is set" + (f" (default: {shown})" if shown else ""))
    group = parser.add_argument_group(f"MLMD on MySQL/MariaDB (or {store_lib.ENV_PREFIX}* in the environment)")
    group.add_argument("--mysql-host", help="the server's host; MySQL is used when it is set")
    group.add_argument("--mysql-port", type=int, help=f"the server's port (default {store_lib.DEFAULT_MYSQL_PORT})")
    group.add_argument("--mysql-database", help="the database that holds MLMD's tables")
    group.add_argument("--mysql-user", help="the user to connect as")
    group.add_argument("--mysql-password-file",
                       help=f"a file holding the password (or set {store_lib.ENV_PREFIX}PASSWORD)")
    group.add_argument("--mysql-password", help=argparse.SUPPRESS, action=_RefusePassword, nargs="?")


class _RefusePassword(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string} is not accepted: a password on a command line is visible to every "
                     f"user of the machine; use --mysql-password-file or {store_lib.ENV_PREFIX}PASSWORD")


def store_settings(args: argparse.Namespace) -> store_lib.StoreSettings:
    """The MLMD store the parsed flags name (each MySQL flag falls back to its variable)."""
    return store_lib.settings(
        sqlite_path=getattr(args, "metadata", None), host=args.mysql_host, port=args.mysql_port,
        database=args.mysql_database, user=args.mysql_user, password_file=args.mysql_password_file,
    )
