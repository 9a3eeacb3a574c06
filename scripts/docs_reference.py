"""The documentation site's command reference, generated from the argparse parsers at build time.

A MkDocs hook (mkdocs.yml `hooks:`): `on_files` adds `reference.md` to the site, built from the
parsers themselves (`tfxgate` and each of its subcommands, `runner_local.py`, `runner_kubeflow.py`),
so the reference cannot drift from the code. Nothing is written into docs/. `tests/test_docs.py`
uses `parsers()` too, to check every flag the pages name.

Importing the parsers loads no TensorFlow, TFX or Beam: `tfxgate/command/parser.py` is built for that, and
the runners import `core`, `mlmd` and `pipeline` modules that import TensorFlow only inside their
functions (about half a second).
"""

import argparse
import contextlib
import html
import re
import sys
from pathlib import Path
from typing import Callable, Dict, Iterator

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_PAGE = "reference.md"
_USAGE_WIDTH = 100
_MARKDOWN = re.compile(r"([|*_\[\]])")  # characters Markdown would read as markup


class _Built(Exception):
    def __init__(self, parser: argparse.ArgumentParser):
        super().__init__(parser.prog)
        self.parser = parser


@contextlib.contextmanager
def _parsers_caught() -> Iterator[None]:
    """Within: `parse_args` raises `_Built` carrying its parser instead of parsing.

    The runners build their parser inside `parse_args(argv)` and return the parsed namespace;
    this takes the parser itself, before anything is parsed or run."""
    original = argparse.ArgumentParser.parse_args

    def caught(self, args=None, namespace=None):
        raise _Built(self)

    argparse.ArgumentParser.parse_args = caught
    try:
        yield
    finally:
        argparse.ArgumentParser.parse_args = original


def _parser_of(parse_args: Callable, prog: str) -> argparse.ArgumentParser:
    with _parsers_caught():
        try:
            parse_args([])
        except _Built as built:
            built.parser.prog = prog
            return built.parser
    raise RuntimeError(f"{prog}: parse_args returned without parsing")


def _subcommands(parser: argparse.ArgumentParser) -> Dict[str, argparse.ArgumentParser]:
    """{"tfxgate validate": parser, "tfxgate schema diff": parser, ...}, depth first."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[sub.prog] = sub
                found.update(_subcommands(sub))
    return found


def parsers() -> Dict[str, argparse.ArgumentParser]:
    """Every command the docs describe, by how it is typed: `tfxgate`, `tfxgate validate`, ...,
    `runner_local.py`, `runner_kubeflow.py`, `runner_airflow.py`. The one place that names where each parser lives."""
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(PROJECT_ROOT))
    import runner_airflow
    import runner_kubeflow
    import runner_local
    from tfxgate.command.parser import build_parser

    tfxgate = build_parser()
    commands = {"tfxgate": tfxgate}
    commands.update(_subcommands(tfxgate))
    commands["runner_local.py"] = _parser_of(runner_local.parse_args, "runner_local.py")
    commands["runner_kubeflow.py"] = _parser_of(runner_kubeflow.parse_args, "runner_kubeflow.py")
    commands["runner_airflow.py"] = _parser_of(runner_airflow.parse_args, "runner_airflow.py")
    return commands


def flags_of(parser: argparse.ArgumentParser) -> set:
    """Every option string the parser accepts and shows in --help (suppressed ones left out)."""
    return {option for action in parser._actions if action.help != argparse.SUPPRESS
            for option in action.option_strings}


def slug(command: str) -> str:
    """The anchor of a command's section, as the page's table of contents makes it."""
    from markdown.extensions.toc import slugify

    return slugify(command, "-")


def _text(help_text: str) -> str:
    """Help text as Markdown: HTML's `<`, `>` and Markdown's `| * _ [ ]` escaped outside code spans."""
    pieces = re.split(r"(`[^`]*`)", help_text)
    return "".join(piece if piece.startswith("`") else _MARKDOWN.sub(r"\\\1", html.escape(piece, quote=False))
                   for piece in pieces)


def _value(action: argparse.Action) -> str:
    if action.nargs == 0 or not action.option_strings:
        return ""
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        return " \\| ".join(f"`{choice}`" for choice in action.choices)
    metavar = action.metavar or (action.dest if not action.option_strings else action.dest.upper())
    return f"`{metavar}`"


def _help(action: argparse.Action, parser: argparse.ArgumentParser) -> str:
    text = action.help or ""
    if "%(" in text:
        text = text % {**vars(action), "prog": parser.prog}
    notes = []
    if action.required and action.option_strings:
        notes.append("required")
    if isinstance(action, argparse._AppendAction) and "repeatable" not in text:
        notes.append("repeatable")
    if action.option_strings and action.nargs == "?":
        notes.append("the value is optional")
    return _text(text) + (f" ({', '.join(notes)})" if notes else "")


def _section(command: str, parser: argparse.ArgumentParser) -> str:
    # A fixed width: the usage lines wrap the same whatever terminal builds the site.
    usage = argparse.HelpFormatter(prog=parser.prog, width=_USAGE_WIDTH)
    usage.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups, prefix="")
    usage = usage.format_help().strip()
    lines = [f"## {command}", ""]
    if parser.description:
        lines += [_text(parser.description), ""]
    lines += ["```", usage, "```", ""]
    for group in parser._action_groups:
        actions = [a for a in group._group_actions if a.help != argparse.SUPPRESS
                   and not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]
        if not actions:
            continue
        lines += [f"**{_text(group.title)}**", "", "| argument | value | meaning |", "|---|---|---|"]
        for action in actions:
            names = ", ".join(f"`{o}`" for o in action.option_strings) or f"`{action.dest}`"
            lines.append(f"| {names} | {_value(action)} | {_help(action, parser)} |")
        lines.append("")
    subs = _subcommands(parser)
    direct = [name for name in subs if name.count(" ") == command.count(" ") + 1]
    if direct:
        lines += ["| subcommand | what it does |", "|---|---|"]
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    name = f"{command} {choice.dest}"
                    lines.append(f"| [`{name}`](#{slug(name)}) | {_text(choice.help or '')} |")
        lines.append("")
    if parser.epilog:
        lines += [_text(parser.epilog), ""]
    return "\n".join(lines)


def reference_markdown() -> str:
    commands = parsers()
    lines = ["# Command reference", "",
             "Generated from the commands' own argument parsers when the site is built "
             "(`scripts/docs_reference.py`), so it says what `--help` says (each command also takes `-h`, `--help`).", ""]
    lines += [_section(command, parser) for command, parser in commands.items()]
    return "\n".join(lines)


def on_files(files, config):
    """MkDocs hook: the reference page joins the site's files (generated, never on disk)."""
    from mkdocs.structure.files import File

    files.append(File.generated(config, REFERENCE_PAGE, content=reference_markdown()))
    return files
