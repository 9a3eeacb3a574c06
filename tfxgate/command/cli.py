"""The `tfxgate` command line.

    tfxgate init DIR --data DATA_ROOT --label COLUMN [--task binary|multiclass|regression] [--force]
    tfxgate validate --data PATH [--environment SERVING|TRAINING] [--schema PATH] [--policy PATH]
                     [--baseline auto|none|PATH] [--metadata PATH] [--format text|json] [--out FILE]
    tfxgate schema diff OLD NEW
    tfxgate schema propose [--metadata PATH] [--schema-dir DIR]
    tfxgate schema accept [VERSION] [--schema-dir DIR] [--metadata PATH] [--force]
    tfxgate report [--metadata PATH] [--run latest|ID] --out report.html
    tfxgate lineage [--model latest|ID] [--span N] [--blocked-feature NAME] [--format text|json]
    tfxgate history [--feature NAME] [--format text|json]
    tfxgate validate --server URL --data FILE [...]    (or TFXGATE_SERVER: a running `tfxgate serve` judges)
    tfxgate serve [--host 127.0.0.1] [--port 8470] [--schema PATH] [--policy PATH] [--baseline auto|none|PATH]

Every command but init takes --project DIR: the project whose schema versions, policy and MLMD
store (<DIR>/outputs/metadata.sqlite) it uses; default: the folder you stand in when it holds
tfxgate.yaml, else the shipped example.

Every command that reads MLMD takes --metadata FILE (SQLite) or MySQL settings: --mysql-host,
--mysql-port, --mysql-database, --mysql-user, --mysql-password-file, or TFXGATE_MYSQL_* variables
(the password only from a file or TFXGATE_MYSQL_PASSWORD, never a flag).

Exit status of validate: 0 no blocking anomaly, 1 at least one, 2 unreadable input or bad
arguments (one line on stderr, no traceback). Every command: 2 for anything the user can fix
(one line), 1 with one line for an internal error (a bug: its traceback goes to a log file).
"""

import contextlib
import datetime
import json
import os
import sys
import tempfile
import traceback
from typing import Iterator, List, Optional

import tfxgate  # noqa: F401  (sets Keras 2 before TensorFlow is imported)
from core.common.errors import UserError
from mlmd import store as store_lib
from pipeline import config as config_lib
from tfxgate.command.args import EXIT_USAGE, store_settings
from tfxgate.command.parser import build_parser

EXIT_BUG = 1


def _asks_for_latest(args) -> bool:
    """Whether the command looks something up by "the latest", which only means one thing in a
    store of one pipeline."""
    if args.command == "report":
        return args.run == "latest"
    if args.command == "lineage":
        return args.model == "latest" and args.span is None and not args.blocked_feature
    return args.command == "validate" and args.baseline == "auto"


def _scope_latest(args) -> None:
    """Scopes a "latest" lookup to the store's one pipeline; with several, asks which (one line):
    the latest run, model or baseline of a shared store may be another pipeline's."""
    if getattr(args, "pipeline_name", None) or not _asks_for_latest(args) or not args.metadata.exists():
        return
    from mlmd import query

    found = query.pipeline_names(args.metadata.open())
    if len(found) > 1:
        raise UserError(f"the MLMD store holds the runs of {len(found)} pipelines ({', '.join(found)}): "
                        "say which with --pipeline-name, or the latest may be another pipeline's")
    if found:
        args.pipeline_name = found[0]


def _known_feature(feature: str, schema_dir) -> None:
    """A one-line error when `feature` is in no schema version (a typo, not an empty history)."""
    from core.settings import schema_files

    known = set()
    for _, path in schema_files.versions(schema_dir):
        known |= {f.name for f in schema_files.load(path).feature}
    if feature not in known:
        raise UserError(f"--feature {feature!r}: no schema version has such a feature "
                        f"(known: {', '.join(sorted(known))})")


def _project_defaults(args) -> None:
    """Fills in what the command leaves unsaid from its project (core/common/project.py): the MLMD
    store, the schema versions and the policy."""
    from core.common import project as project_lib

    project = project_lib.resolve(args.project)
    args.project = project
    if hasattr(args, "metadata") and args.metadata is None:
        args.metadata = str(project.metadata_path)
    if hasattr(args, "schema_dir") and not args.schema_dir:
        args.schema_dir = str(project.schema_dir)
    if hasattr(args, "policy") and not args.policy and not getattr(args, "server", None):
        args.policy = str(project.policy_path)


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """TensorFlow's C++ logging writes to file descriptor 2 directly; send that to /dev/null
    while Python's own stderr (errors, tracebacks) stays on the terminal."""
    from tfxgate.common import quiet

    quiet.settings()
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
        return _command(args)
    except BrokenPipeError:  # output piped into `head`: not an error
        return 0
    except UserError as e:  # a file, an argument, a setting: the user's to fix, in one line
        print(f"tfxgate {args.command}: error: {store_lib.redact(str(e))}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:  # a bug: one line here, the traceback in a log
        path = _bug_log(args.command, getattr(args, "project", None))
        print(f"tfxgate {args.command}: internal error (a bug in tfxgate, not in your input): "
              f"{type(e).__name__}: {store_lib.redact(str(e).strip().splitlines()[0] if str(e).strip() else '')} "
              f"(traceback in {path})", file=sys.stderr)
        return EXIT_BUG


def _bug_log(command: str, project=None) -> str:
    """Writes the current exception's traceback, secrets redacted, to a log file under the
    project's outputs (the shipped example's before a project is known); returns its path."""
    folder = (project.outputs if hasattr(project, "outputs") else config_lib.DEFAULT_OUTPUTS) / "logs"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        folder = tempfile.gettempdir()
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    path = os.path.join(str(folder), f"tfxgate-{command}-{stamp}-{os.getpid()}.log")
    with open(path, "w") as f:
        f.write(store_lib.redact(traceback.format_exc()))
    return path


def _command(args) -> int:
    if args.command == "init":
        from tfxgate.command import init

        return init.run(args.dir, args.data, args.label, args.task, args.name, args.delimiter, args.force)
    _project_defaults(args)
    if args.command == "validate" and args.server:
        return _validate_on_server(args)  # no store, no TensorFlow: the service has them
    if args.command == "validate":
        args.baseline = args.baseline or "auto"
    if hasattr(args, "metadata"):
        args.metadata = store_settings(args)  # a SQLite file or a MySQL database
        _scope_latest(args)
    if args.command == "validate":
        return _validate(args)
    if args.command in ("report", "lineage", "history"):
        return _from_metadata(args)
    if args.command == "serve":
        return _serve(args)
    from tfxgate.command import schema_versions
    from tfxgate.reports import schema_diff

    if args.schema_command == "diff":
        print(schema_diff.diff_files(args.old, args.new))
        return 0
    if args.schema_command == "accept":
        print(schema_versions.accept(args.schema_dir, args.version, args.metadata, args.policy, args.force,
                                     args.pipeline_name))
        return 0
    print(schema_versions.propose(args.metadata, args.schema_dir))
    return 0


def _from_metadata(args) -> int:
    from mlmd import lineage, runs
    from tfxgate.reports import report

    if args.command == "report":
        print(f"wrote {report.write_report(args.metadata, args.run, args.out, args.pipeline_name)}")
        return 0
    store = runs.open_store(args.metadata)
    if args.command == "history":
        rows = lineage.history(store, args.feature, args.pipeline_name)
        if args.feature and not rows:
            _known_feature(args.feature, args.project.schema_dir)
        print(json.dumps(rows, indent=1) if args.format == "json" else lineage.format_history(rows))
        return 0
    if args.span is not None:
        data = lineage.models_trained_on_span(store, args.span)
        text = lineage.format_models(data, args.span)
    elif args.blocked_feature:
        data = lineage.runs_blocked_on_feature(store, args.blocked_feature)
        text = "\n".join(f"run {r['run_id']} (spans {r['spans']}): {', '.join(r['anomalies'])}" for r in data)
        text = text or f"no run had a blocking anomaly on {args.blocked_feature}"
    else:
        data = lineage.model_lineage(store, args.model, args.pipeline_name)
        text = lineage.format_lineage(data)
    print(json.dumps(data, indent=1) if args.format == "json" else text)
    return 0


def _declared_delimiter(data: str):
    """The delimiter declared beside the data: in its folder (a folder of CSV files, or a file's)."""
    from core.reading.sources import csv_structure

    return csv_structure.folder_delimiter(data if os.path.isdir(data) else os.path.dirname(os.path.abspath(data)))


def _declared_format(args):
    """The data's format: --format-in, else `format` in a tfxgate-input.yaml beside the data, else None."""
    from core.reading import input_settings

    return args.format_in or input_settings.of_data(args.data).format


def _declared_missing(args):
    """The markers of missing values: --missing, else `missing` in a tfxgate-input.yaml beside the data."""
    from core.reading import input_settings
    from core.reading.sources import missing

    return missing.checked(args.missing) if args.missing else input_settings.of_data(args.data).missing


_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _serve(args) -> int:
    from tfxgate.online import client

    if args.host not in _LOOPBACK and not args.allow_remote:
        raise UserError(f"--host {args.host}: not a loopback address; say --allow-remote to listen there "
                        "(and require a token: --token-file or TFXGATE_TOKEN)")
    import math

    seconds = (args.max_body_mib, args.window_seconds, args.reload_seconds, args.deadline_seconds, args.grace_seconds)
    if not all(math.isfinite(x) and x > 0 for x in seconds):
        raise UserError("--max-body-mib, --window-seconds, --reload-seconds, --deadline-seconds and --grace-seconds "
                        "must be positive numbers")
    if args.max_unknown_columns < 0:
        raise UserError(f"--max-unknown-columns {args.max_unknown_columns}: must be 0 or more")
    from tfxgate.online import server, service

    options = service.Options(
        schema_path=args.schema or config_lib.default_schema_path(args.project.schema_dir), policy_path=args.policy,
        baseline=args.baseline, metadata=args.metadata, pipeline=args.pipeline_name,
        window_rows=args.window_rows, window_seconds=args.window_seconds, windows_kept=args.windows_kept,
        reload_seconds=args.reload_seconds, max_body_bytes=int(args.max_body_mib * 2**20),
        token=client.token(args.token_file), max_unknown_columns=args.max_unknown_columns,
        deadline_seconds=args.deadline_seconds, grace_seconds=args.grace_seconds)
    return server.run(options, args.host, args.port, args.threads)


def _validate_on_server(args) -> int:
    from tfxgate.online import client

    given = [flag for flag, value in (("--schema", args.schema), ("--policy", args.policy),
                                      ("--baseline", args.baseline), ("--rows", args.rows),
                                      ("--missing", args.missing), ("--format-in", args.format_in)) if value]
    if given:
        raise UserError(f"{', '.join(given)}: not with --server (the service judges with its own schema, policy "
                        "and baseline, named in its answer; it writes no rows file)")
    delimiter = config_lib.check_delimiter(args.delimiter or _declared_delimiter(args.data) or ",")
    text, result = client.validate(args.server, args.data, args.environment, args.format, delimiter,
                                   client.token(args.token_file))
    if args.out:
        from tfxgate.common import files

        print(f"wrote {files.write_atomic(args.out, text + chr(10))}")
    else:
        print(text)
    from core.common import names

    return 1 if result == names.BLOCK else 0


def _validate(args) -> int:
    from tfxgate.validation import validate

    outcome = validate.run(
        data=args.data,
        environment=args.environment,
        schema_path=args.schema or config_lib.default_schema_path(args.project.schema_dir),
        policy_path=args.policy,
        baseline=args.baseline,
        metadata_path=args.metadata,
        pipeline=args.pipeline_name,
        delimiter=config_lib.check_delimiter(args.delimiter or _declared_delimiter(args.data) or ","),
        rows_path=args.rows,
        missing=_declared_missing(args),
        input_format=_declared_format(args),
    )
    text = json.dumps(outcome.to_json(), indent=1) if args.format == "json" else outcome.to_text()
    if args.out:
        from tfxgate.common import files

        print(f"wrote {files.write_atomic(args.out, text + chr(10))}")
    else:
        print(text)
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())
