"""The `tfxgate` command line.

    tfxgate validate --data PATH [--environment SERVING|TRAINING] [--schema PATH] [--policy PATH]
                     [--baseline auto|none|PATH] [--metadata PATH] [--format text|json] [--out FILE]
    tfxgate schema diff OLD NEW
    tfxgate schema propose [--metadata PATH] [--schema-dir DIR]
    tfxgate report [--metadata PATH] [--run latest|ID] --out report.html
    tfxgate lineage [--model latest|ID] [--span N] [--blocked-feature NAME] [--format text|json]
    tfxgate history [--feature NAME] [--format text|json]

Every command that reads MLMD takes --metadata FILE (SQLite) or MySQL settings: --mysql-host,
--mysql-port, --mysql-database, --mysql-user, --mysql-password-file, or TFXGATE_MYSQL_* variables
(the password only from a file or TFXGATE_MYSQL_PASSWORD, never a flag).

Exit status of validate: 0 no blocking anomaly, 1 at least one, 2 unreadable input or bad
arguments (one line on stderr, no traceback).
"""

import argparse
import contextlib
import json
import os
import sys
import warnings
from typing import Iterator, List, Optional

import tfxgate  # noqa: F401  (sets Keras 2 before TensorFlow is imported)
from pipeline import config as config_lib
from tfxgate import store as store_lib

EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    """Argument errors as one line on stderr, exit 2; no abbreviated flags (`--mysql-pass` must
    not silently mean `--mysql-password-file`)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="tfxgate", description="tfxgate: data validation around a TFX pipeline.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    validate = commands.add_parser("validate", help="check a CSV batch against the curated schema")
    validate.add_argument("--data", required=True, help="a CSV file or a directory of CSV files")
    validate.add_argument("--environment", default="SERVING", choices=["SERVING", "TRAINING"])
    validate.add_argument("--schema", help="default: the newest schema/v<N>/schema.pbtxt")
    validate.add_argument("--policy", default=str(config_lib.POLICY_PATH))
    validate.add_argument("--baseline", default="auto", help="auto (latest accepted run in MLMD), none, or a path")
    store_lib.add_arguments(validate, str(config_lib.DEFAULT_OUTPUTS / "metadata.sqlite"))
    validate.add_argument("--format", default="text", choices=["text", "json"])
    validate.add_argument("--out", help="write the result here (whole or not at all) instead of to stdout")

    schema = commands.add_parser("schema", help="schema versions: diff and propose")
    schema_commands = schema.add_subparsers(dest="schema_command", required=True, parser_class=OneLineParser)
    diff = schema_commands.add_parser("diff", help="a semantic diff of two schema versions")
    diff.add_argument("old")
    diff.add_argument("new")
    propose = schema_commands.add_parser("propose", help="draft the next schema version from the latest run")
    store_lib.add_arguments(propose, str(config_lib.DEFAULT_OUTPUTS / "metadata.sqlite"))
    propose.add_argument("--schema-dir", default=str(config_lib.SCHEMA_DIR))

    metadata_default = str(config_lib.DEFAULT_OUTPUTS / "metadata.sqlite")
    report = commands.add_parser("report", help="one self-contained HTML anomaly report of a run")
    store_lib.add_arguments(report, metadata_default)
    report.add_argument("--run", default="latest", help="latest, or a run id (see `tfxgate history`)")
    report.add_argument("--out", required=True)

    lineage = commands.add_parser("lineage", help="what a model came from; models of a span; blocked runs")
    store_lib.add_arguments(lineage, metadata_default)
    lineage.add_argument("--model", default="latest", help="latest, or a Model or PushedModel artifact id")
    lineage.add_argument("--span", type=int, help="instead: the models trained on span N")
    lineage.add_argument("--blocked-feature", help="instead: the runs with a blocking anomaly on this feature")
    lineage.add_argument("--format", default="text", choices=["text", "json"])

    history = commands.add_parser("history", help="skew and drift distances per feature over runs")
    store_lib.add_arguments(history, metadata_default)
    history.add_argument("--feature")
    history.add_argument("--format", default="text", choices=["text", "json"])
    return parser


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """TensorFlow's C++ logging writes to file descriptor 2 directly; send that to /dev/null
    while Python's own stderr (errors, tracebacks) stays on the terminal."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    if os.environ.get("TFXGATE_VERBOSE"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    python_stderr = sys.stderr
    sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        sys.stderr.close()
        sys.stderr = python_stderr


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    with quiet_native_stderr():
        return _dispatch(args)


def _dispatch(args) -> int:
    try:
        if hasattr(args, "metadata"):
            args.metadata = store_lib.from_arguments(args)  # a SQLite file or a MySQL database
        if args.command == "validate":
            return _validate(args)
        if args.command in ("report", "lineage", "history"):
            return _from_metadata(args)
        if args.schema_command == "diff":
            from tfxgate import schema_versions

            print(schema_versions.diff_files(args.old, args.new))
            return 0
        from tfxgate import schema_versions

        print(schema_versions.propose(args.metadata, args.schema_dir))
        return 0
    except BrokenPipeError:  # output piped into `head`: not an error
        return 0
    except (ValueError, OSError, LookupError) as e:  # InputError, ConfigError, RunNotFound: the user's to fix
        print(f"tfxgate {args.command}: error: {store_lib.redact(str(e))}", file=sys.stderr)
        return EXIT_USAGE


def _from_metadata(args) -> int:
    from tfxgate import lineage, report, runs

    if args.command == "report":
        print(f"wrote {report.write_report(args.metadata, args.run, args.out)}")
        return 0
    store = runs.open_store(args.metadata)
    if args.command == "history":
        rows = lineage.history(store, args.feature)
        print(json.dumps(rows, indent=1) if args.format == "json" else lineage.format_history(rows))
        return 0
    if args.span is not None:
        data = lineage.models_trained_on_span(store, args.span)
        text = "\n".join(f"model {m['artifact_id']} (schema {m['schema_version']}): {m['uri']}" for m in data)
        text = text or f"no model was trained on span {args.span}"
    elif args.blocked_feature:
        data = lineage.runs_blocked_on_feature(store, args.blocked_feature)
        text = "\n".join(f"run {r['run_id']} (spans {r['spans']}): {', '.join(r['anomalies'])}" for r in data)
        text = text or f"no run had a blocking anomaly on {args.blocked_feature}"
    else:
        data = lineage.model_lineage(store, args.model)
        text = lineage.format_lineage(data)
    print(json.dumps(data, indent=1) if args.format == "json" else text)
    return 0


def _validate(args) -> int:
    from tfxgate import validate

    outcome = validate.run(
        data=args.data,
        environment=args.environment,
        schema_path=args.schema or config_lib.latest_schema_path(),
        policy_path=args.policy,
        baseline=args.baseline,
        metadata_path=args.metadata,
    )
    text = json.dumps(outcome.to_json(), indent=1) if args.format == "json" else outcome.to_text()
    if args.out:
        from tfxgate import files

        print(f"wrote {files.write_atomic(args.out, text + chr(10))}")
    else:
        print(text)
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())
