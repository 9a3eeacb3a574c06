"""The `tfxgate` command line.

    tfxgate validate --data PATH [--environment SERVING|TRAINING] [--schema PATH] [--policy PATH]
                     [--baseline auto|none|PATH] [--metadata PATH] [--format text|json]
    tfxgate schema diff OLD NEW
    tfxgate schema propose [--metadata PATH] [--schema-dir DIR]

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

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line on stderr, exit 2."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tfxgate", description="tfxgate: data validation around a TFX pipeline.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    validate = commands.add_parser("validate", help="check a CSV batch against the curated schema")
    validate.add_argument("--data", required=True, help="a CSV file or a directory of CSV files")
    validate.add_argument("--environment", default="SERVING", choices=["SERVING", "TRAINING"])
    validate.add_argument("--schema", help="default: the newest schema/v<N>/schema.pbtxt")
    validate.add_argument("--policy", default=str(config_lib.POLICY_PATH))
    validate.add_argument("--baseline", default="auto", help="auto (latest accepted run in MLMD), none, or a path")
    validate.add_argument("--metadata", default=str(config_lib.DEFAULT_OUTPUTS / "metadata.sqlite"))
    validate.add_argument("--format", default="text", choices=["text", "json"])

    schema = commands.add_parser("schema", help="schema versions: diff and propose")
    schema_commands = schema.add_subparsers(dest="schema_command", required=True, parser_class=_Parser)
    diff = schema_commands.add_parser("diff", help="a semantic diff of two schema versions")
    diff.add_argument("old")
    diff.add_argument("new")
    propose = schema_commands.add_parser("propose", help="draft the next schema version from the latest run")
    propose.add_argument("--metadata", default=str(config_lib.DEFAULT_OUTPUTS / "metadata.sqlite"))
    propose.add_argument("--schema-dir", default=str(config_lib.SCHEMA_DIR))
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
        if args.command == "validate":
            return _validate(args)
        if args.schema_command == "diff":
            from tfxgate import schema_versions

            print(schema_versions.diff_files(args.old, args.new))
            return 0
        from tfxgate import schema_versions

        print(schema_versions.propose(args.metadata, args.schema_dir))
        return 0
    except (ValueError, OSError) as e:  # InputError, ConfigError, SchemaError: the user's to fix
        print(f"tfxgate {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE


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
    print(json.dumps(outcome.to_json(), indent=1) if args.format == "json" else outcome.to_text())
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())
