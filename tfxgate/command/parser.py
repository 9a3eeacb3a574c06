"""The `tfxgate` command line's grammar: every command, its arguments and their help (cli.py runs
them). Importing it loads nothing heavy: the docs' reference (scripts/docs_reference.py) reads it.
"""

import argparse
import os

from tfxgate.command.args import OneLineParser, add_store_arguments, positive_int


_EXITS = "exit status: 0 done, 2 bad arguments or input (one line), 1 an internal error (one line; traceback in a log)"
_VALIDATE_EXITS = ("exit status: 0 no blocking anomaly, 1 at least one blocking anomaly, 2 unreadable input or bad "
                   "arguments (one line on stderr)")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="tfxgate", description="tfxgate: data validation around a TFX pipeline.",
                           epilog=_EXITS)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    init = commands.add_parser("init", help="make a project of your own CSV spans and label: a first schema, "
                               "settings and model code to review", epilog=_EXITS)
    init.add_argument("dir", help="the project folder to create (it must not exist, unless --force)")
    init.add_argument("--data", required=True, help="the data root: train/span-N/*.csv, optionally serving/*.csv")
    init.add_argument("--label", required=True, help="the column the model predicts")
    init.add_argument("--task", choices=["binary", "multiclass", "regression"],
                      help="default: inferred from the label's values (said in one line)")
    init.add_argument("--name", help="the pipeline's name in MLMD (default: the folder's name)")
    init.add_argument("--delimiter", help="the field delimiter (default: `delimiter` in a tfxgate-input.yaml "
                      "beside the data, else ',')")
    init.add_argument("--force", action="store_true", help="replace the generated files of an existing project; "
                      "its accepted schema versions are kept")

    validate = commands.add_parser("validate", help="check a CSV batch against the curated schema",
                                   epilog=_VALIDATE_EXITS)
    validate.add_argument("--data", required=True, help="a CSV file or a directory of CSV files")
    validate.add_argument("--environment", default="SERVING", choices=["SERVING", "TRAINING"],
                          help="the schema environment to check in (default SERVING: no label expected)")
    validate.add_argument("--schema", help="default: the project's newest schema/v<N>/schema.pbtxt")
    validate.add_argument("--policy", help="the gate policy (default: the project's schema/policy.yaml)")
    validate.add_argument("--baseline", help="auto (latest accepted run in MLMD; the default), none, or a path")
    validate.add_argument("--server", default=os.environ.get("TFXGATE_SERVER"),
                          help="send the batch (one CSV file) to a running `tfxgate serve` at this URL, which "
                          "judges it with its own schema, policy and baseline (default: $TFXGATE_SERVER)")
    validate.add_argument("--token-file", help="with --server: a file holding the service's bearer token "
                          "(default: $TFXGATE_TOKEN)")
    validate.add_argument("--delimiter", help="the field delimiter (default: `delimiter` in a tfxgate-input.yaml "
                          "beside the data, else ',')")
    validate.add_argument("--missing", action="append", metavar="MARKER",
                          help="a cell text that means a missing value, e.g. NA (R's write.csv) or '\\N' (a MySQL "
                          "dump), in every column; repeat for several (default: `missing` in a tfxgate-input.yaml "
                          "beside the data)")
    validate.add_argument("--format-in", choices=["csv", "jsonl", "parquet", "tfrecord"],
                          help="the data's format, over what its content and names say (default: `format` in a "
                          "tfxgate-input.yaml beside the data, else from each file's content)")
    validate.add_argument("--rows", help="write the rows left out (a value their schema type cannot hold) here, "
                          "as CSV with their file, line and reasons")
    _add_store(validate)
    validate.add_argument("--format", default="text", choices=["text", "json"], help="text for people, json for tools")
    validate.add_argument("--out", help="write the result here (whole or not at all) instead of to stdout")

    schema = commands.add_parser("schema", help="schema versions: diff, propose a draft, accept a draft", epilog=_EXITS)
    schema_commands = schema.add_subparsers(dest="schema_command", required=True, parser_class=OneLineParser)
    diff = schema_commands.add_parser("diff", help="a semantic diff of two schema versions", epilog=_EXITS)
    diff.add_argument("old", help="the older schema.pbtxt")
    diff.add_argument("new", help="the newer schema.pbtxt")
    _add_project(diff)
    propose = schema_commands.add_parser("propose", help="draft the next schema version from the latest run "
                                         "(schema/drafts/vN+1/, used by nothing until accepted)", epilog=_EXITS)
    _add_store(propose)
    propose.add_argument("--schema-dir", help="the folder of schema versions (default: the project's schema/)")
    accept = schema_commands.add_parser("accept", help="make a reviewed draft the newest schema version",
                                        epilog=_EXITS)
    accept.add_argument("version", nargs="?", help="the draft to accept, e.g. v2 (default: the only draft)")
    accept.add_argument("--schema-dir", help="the folder of schema versions (default: the project's schema/)")
    _add_accept_proof(accept)

    report = commands.add_parser("report", help="one self-contained HTML anomaly report of a run", epilog=_EXITS)
    _add_store(report)
    report.add_argument("--run", default="latest", help="latest, or a run id (see `tfxgate history`)")
    report.add_argument("--out", required=True, help="the HTML file to write (whole or not at all)")

    lineage = commands.add_parser("lineage", help="what a model came from; models of a span; blocked runs",
                                  epilog=_EXITS)
    _add_store(lineage)
    lineage.add_argument("--model", default="latest", help="latest, or a Model or PushedModel artifact id")
    lineage.add_argument("--span", type=int, help="instead: the models trained on span N")
    lineage.add_argument("--blocked-feature", help="instead: the runs with a blocking anomaly on this feature")
    lineage.add_argument("--format", default="text", choices=["text", "json"], help="text for people, json for tools")

    serve = commands.add_parser("serve", help="online validation over HTTP: batches, instances, windows, metrics",
                                epilog=_EXITS)
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: %(default)s, loopback)")
    serve.add_argument("--port", type=int, default=8470, help="the port (default: %(default)s)")
    serve.add_argument("--allow-remote", action="store_true",
                       help="needed to listen on an address other than loopback (then set a token too)")
    serve.add_argument("--schema", help="default: the project's newest schema/v<N>/schema.pbtxt")
    serve.add_argument("--policy", help="the gate policy (default: the project's schema/policy.yaml)")
    serve.add_argument("--baseline", default="auto", help="auto (the newest accepted run in MLMD, reloaded when a "
                       "newer one is accepted), none, or a path (default: %(default)s)")
    _add_store(serve)
    serve.add_argument("--window-rows", type=positive_int, default=1000,
                       help="a window of accepted instances is judged after this many (default: %(default)s)")
    serve.add_argument("--window-seconds", type=float, default=60.0,
                       help="... or this many seconds after its first instance (default: %(default)s)")
    serve.add_argument("--windows-kept", type=positive_int, default=20,
                       help="the last windows kept at /v1/windows (default: %(default)s)")
    serve.add_argument("--reload-seconds", type=float, default=30.0,
                       help="how often MLMD is asked for a newer accepted run (default: %(default)s)")
    serve.add_argument("--max-body-mib", type=float, default=64.0,
                       help="the largest request body accepted, MiB (default: %(default)s)")
    serve.add_argument("--threads", type=positive_int, default=2,
                       help="threads judging batches at once (default: %(default)s)")
    serve.add_argument("--token-file", help="require this bearer token (a file holding it; or TFXGATE_TOKEN)")
    serve.add_argument("--max-unknown-columns", type=int, default=100,
                       help="a batch, request or window with more columns the schema does not know is refused "
                       "(413) before any work (default: %(default)s)")
    serve.add_argument("--deadline-seconds", type=float, default=60.0,
                       help="judging a batch stops past this; the answer is a 503 (default: %(default)s)")
    serve.add_argument("--grace-seconds", type=float, default=25.0,
                       help="after SIGTERM the process ends within this; requests in flight finish if they can "
                       "(default: %(default)s)")

    history = commands.add_parser("history", help="skew and drift distances per feature over runs", epilog=_EXITS)
    _add_store(history)
    history.add_argument("--feature", help="only this feature's distances")
    history.add_argument("--format", default="text", choices=["text", "json"], help="text for people, json for tools")
    return parser


def _add_store(parser: argparse.ArgumentParser) -> None:
    add_store_arguments(parser, shown_default="the project's outputs/metadata.sqlite")
    parser.add_argument("--pipeline-name", help="only this pipeline's runs, where a store holds several "
                        "(default: every pipeline in the store)")
    _add_project(parser)


def _add_project(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", help="the project folder (default: the folder you stand in when it holds "
                        "tfxgate.yaml, else the shipped example)")


def _add_accept_proof(accept: argparse.ArgumentParser) -> None:
    """`schema accept` proves a draft on the span the data gate accepted last: where, and under which policy."""
    _add_store(accept)
    accept.add_argument("--policy", help="the gate policy the draft is judged under (default: the project's "
                        "schema/policy.yaml)")
    accept.add_argument("--force", action="store_true",
                        help="accept a draft that would block the last accepted span (said in the output)")
