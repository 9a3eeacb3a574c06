"""The documentation site: it builds strictly (a broken link or anchor fails the build), and every
command and flag its pages and the README name is one the code has.

The site is built once for the module (`make docs`' command, into a temporary folder). Flags are
read from code spans and code blocks; a flag that follows a command (`tfxgate validate ...`,
`runner_local.py ...`, `make run ARGS="..."`) must be one of that command's, a flag in a span of
its own one of a command the same page names. Flags of other programs the pages show (Beam's
pipeline options, curl, ...) are listed below with their owner.
"""

import argparse
import html
import importlib.util
import os
import re
import subprocess
import sys

import pytest
import yaml

from tests.paths import PROJECT_ROOT

pytestmark = pytest.mark.unit

MKDOCS_YML = PROJECT_ROOT / "mkdocs.yml"
DOCS = PROJECT_ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md")) + [PROJECT_ROOT / "README.md"]
MKDOCS_ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}

# Flags of programs that are not ours, which the pages show as they are typed.
FOREIGN = {
    # Apache Beam's pipeline options, passed through --beam-arg
    "--runner": "beam", "--direct_running_mode": "beam", "--direct_num_workers": "beam",
    "--job_endpoint": "beam", "--environment_type": "beam", "--environment_config": "beam",
    "--flink_master": "beam", "--spark_master_url": "beam", "--region": "beam",
    "--temp_location": "beam", "--sdk_container_image": "beam", "--job_server_timeout": "beam",
    "--setup_file": "beam",
    # python -m apache_beam.runners.worker.worker_pool_main
    "--service_port": "beam worker pool",
    # the task entrypoint's argument (pipeline/kfp_entrypoint.py), written by the compiler
    "--tfxgate_declared_outputs": "pipeline/kfp_entrypoint.py",
    "--data-binary": "curl",
    "--serve-artifacts": "mlflow server",
    "--strict": "mkdocs",
}
FOREIGN_PROGRAMS = {"curl", "docker", "mkdocs", "mlflow", "pytest", "grep", "git", "pip", "uv", "apt-get", "airflow"}


def _hook():
    spec = importlib.util.spec_from_file_location("docs_reference", PROJECT_ROOT / "scripts" / "docs_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def commands():
    """{"tfxgate validate": parser, ..., "runner_local.py": parser, "benchmarks.run": parser}."""
    hook = _hook()
    found = hook.parsers()
    from benchmarks import run as bench_run

    found["benchmarks.run"] = hook._parser_of(bench_run.main, "benchmarks.run")
    return found


def _all_options(parser: argparse.ArgumentParser) -> set:
    """Every option string the parser takes, including one it takes only to refuse it with a
    reason (--mysql-password, which the pages name as refused)."""
    return {option for action in parser._actions for option in action.option_strings}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                          cwd=PROJECT_ROOT, env=MKDOCS_ENV, capture_output=True, text=True, timeout=300)
    return proc, out


def test_site_builds_strictly_with_every_page(site):
    proc, out = site
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr
    config = yaml.safe_load(MKDOCS_YML.read_text())
    nav_pages = [page for entry in config["nav"] for page in entry.values()]
    on_disk = {path.name for path in DOCS.glob("*.md")}
    assert set(nav_pages) == on_disk | {"reference.md"}  # every page in the nav, the reference generated
    for page in nav_pages:
        assert (out / page.replace(".md", ".html")).is_file(), page


def test_site_reads_offline(site):
    """No page fetches anything: no web fonts, scripts or stylesheets from elsewhere."""
    proc, out = site
    assert proc.returncode == 0, proc.stderr
    for page in out.rglob("*.html"):
        remote = re.findall(r'<(?:link|script)[^>]+(?:href|src)="(?:https?:)?//[^"]+"', page.read_text())
        assert not remote, (page.name, remote)


def test_reference_is_generated_from_every_parser(site, commands):
    proc, out = site
    reference = (out / "reference.html").read_text()
    assert not (DOCS / "reference.md").exists()  # generated at build time, never a file that could drift
    for command, parser in commands.items():
        if command == "benchmarks.run":
            continue
        assert f">{command}<" in reference, command
        for action in parser._actions:
            if action.help != argparse.SUPPRESS and not isinstance(action, argparse._HelpAction):
                for option in action.option_strings:
                    assert f"<code>{option}</code>" in reference, (command, option)
    assert "<code>--mysql-password</code>" not in reference  # refused, so not offered
    shown = " ".join(html.unescape(re.sub(r"<[^>]+>", "", reference)).split())
    for command, parser in commands.items():
        for action in parser._actions:
            if (action.help and action.help != argparse.SUPPRESS and command != "benchmarks.run"
                    and not isinstance(action, argparse._HelpAction)):
                text = action.help % {**vars(action), "prog": parser.prog} if "%(" in action.help else action.help
                assert " ".join(text.replace("`", "").split()) in shown, (command, text)  # read as written


def test_reference_loads_no_tensorflow():
    """The site's build imports the parsers only: no TensorFlow, TFX, Beam or MLMD (each costs seconds)."""
    code = ("import importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('r', {str(PROJECT_ROOT / 'scripts' / 'docs_reference.py')!r})\n"
            "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
            "assert len(module.parsers()) > 3\n"
            "print(sorted(m for m in ('tensorflow', 'tfx', 'apache_beam', 'ml_metadata', 'tensorflow_data_validation') "
            "if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", proc.stdout


@pytest.mark.parametrize("defect, page, expected", [
    ("broken anchor", "See [it](other.md#no-such-heading).", "no-such-heading"),
    ("missing page", "See [it](no-such-page.md).", "no-such-page.md"),
    ("missing anchor on the same page", "See [it](#nowhere).", "nowhere"),
    ("page left out of the nav", None, "left-out.md"),
])
def test_strict_settings_fail_the_build_on(defect, page, expected, tmp_path):
    """mkdocs.yml's own strict and validation settings, on a two-page site holding the defect."""
    config = yaml.safe_load(MKDOCS_YML.read_text())
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other\n\n## A heading\n")
    (tmp_path / "docs" / "index.md").write_text("# Home\n\nSee [a heading](other.md#a-heading).\n\n" + (page or ""))
    if page is None:
        (tmp_path / "docs" / "left-out.md").write_text("# Left out\n")
    site_config = {"site_name": "t", "docs_dir": "docs", "strict": config["strict"],
                   "validation": config["validation"], "markdown_extensions": config["markdown_extensions"],
                   "nav": [{"Home": "index.md"}, {"Other": "other.md"}]}
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(site_config))
    build = [sys.executable, "-m", "mkdocs", "build", "--site-dir", str(tmp_path / "site")]
    proc = subprocess.run(build, cwd=tmp_path, env=MKDOCS_ENV, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0, defect
    output = proc.stdout + proc.stderr
    assert expected in output and "Aborted with 1 warnings in strict mode" in output, output


def test_strict_settings_pass_a_site_without_defects(tmp_path):
    """The control of the test above: the same two pages with good links build."""
    config = yaml.safe_load(MKDOCS_YML.read_text())
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other\n\n## A heading\n")
    (tmp_path / "docs" / "index.md").write_text("# Home\n\nSee [a heading](other.md#a-heading).\n")
    site_config = {"site_name": "t", "docs_dir": "docs", "strict": config["strict"],
                   "validation": config["validation"], "markdown_extensions": config["markdown_extensions"],
                   "nav": [{"Home": "index.md"}, {"Other": "other.md"}]}
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(site_config))
    build = [sys.executable, "-m", "mkdocs", "build", "--site-dir", str(tmp_path / "site")]
    proc = subprocess.run(build, cwd=tmp_path, env=MKDOCS_ENV, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


# --- the commands and flags the pages name --------------------------------------------------------

def _code_regions(text: str):
    """(line number, text) of every code span and every line of a code block, a line ending in
    a backslash joined to the next."""
    in_block, joined, start = False, "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith("```"):
            in_block = not in_block
            continue
        if in_block:
            joined, start = (joined + " " + line.rstrip("\\"), start or number)
            if not line.rstrip().endswith("\\"):
                yield start, joined
                joined, start = "", 0
        else:
            for span in re.findall(r"`([^`]+)`", line):
                yield number, span


def _tokens(region: str):
    for token in re.split(r"[\s\[\]()|;&]+|(?<=\S)=(?=--)", region.replace('"', " ").replace("'", " ")):
        if token:
            yield token


def _invocations(region: str, commands: dict, makefile_targets: set):
    """(command, [flags]) for each command the region types; command None for flags typed alone
    and "foreign" for another program's. Problems (an unknown subcommand or make target) raise."""
    tfxgate_subcommands = {name.split(" ", 1)[1] for name in commands if name.startswith("tfxgate ")}
    command, flags, found = None, [], []
    tokens = list(_tokens(region))
    i = 0
    while i < len(tokens):
        token = tokens[i]
        base = token.rsplit("/", 1)[-1]
        if base == "tfxgate" and token not in ("tfxgate", ".venv/bin/tfxgate"):
            base = token  # gs://BUCKET/tfxgate is a path, not the command
        new = None
        if base == "tfxgate" or (i == 0 and token in tfxgate_subcommands and " " not in token):
            words = tokens[i + 1:i + 3] if base == "tfxgate" else tokens[i:i + 2]
            new, step = "tfxgate", 1 if base == "tfxgate" else 0
            if words and not words[0].startswith("-") and base == "tfxgate":
                assert f"tfxgate {words[0]}" in commands, f"no command tfxgate {words[0]}"
            for word in words:
                if f"{new} {word}" in commands:
                    new, step = f"{new} {word}", step + 1
                else:
                    break
            i += max(step, 1) - 1
        elif base in ("runner_local.py", "runner_kubeflow.py", "runner_airflow.py"):
            new = base
        elif base == "benchmarks.run":
            new = "benchmarks.run"
        elif token == "make" and i + 1 < len(tokens):
            target = tokens[i + 1]
            if not target.startswith("-") and "=" not in target:
                assert target in makefile_targets, f"no make target {target}"
                new = {"run": "runner_local.py", "bench": "benchmarks.run"}.get(target, "foreign")
                i += 1
        elif base in FOREIGN_PROGRAMS:
            new = "foreign"
        if new:
            found.append((command, flags))
            command, flags = new, []
        elif token.startswith("--") and len(token) > 2:
            flags.append(token.split("=", 1)[0].rstrip(".,:"))
        i += 1
    found.append((command, flags))
    return [(command, flags) for command, flags in found if flags or command not in (None, "foreign")]


def _makefile_targets() -> set:
    return set(re.findall(r"^([a-z][a-z-]*):", (PROJECT_ROOT / "Makefile").read_text(), flags=re.M))


def test_every_flag_the_pages_name_is_one_its_command_takes(commands):
    ours = set().union(*(_all_options(parser) for parser in commands.values()))
    assert not ours & set(FOREIGN), ours & set(FOREIGN)  # the foreign list hides none of ours
    targets = _makefile_targets()
    problems, checked = [], 0
    for page in PAGES:
        regions = list(_code_regions(page.read_text()))
        invocations = [(number, command, flags) for number, region in regions
                       for command, flags in _invocations(region, commands, targets)]
        named = {command for _, command, _ in invocations if command not in (None, "foreign")}
        for number, command, flags in invocations:
            for flag in flags:
                checked += 1
                if flag in FOREIGN:
                    continue
                if command == "foreign":
                    continue
                owners = [command] if command else sorted(named) or sorted(commands)
                if not any(flag in _all_options(commands[owner]) for owner in owners):
                    problems.append(f"{page.name}:{number}: {flag} is not an option of {' or '.join(owners)}")
    assert checked > 200  # the pages name their flags in code, where this test reads them
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("region, expected", [
    ("tfxgate validate --data x.csv --no-such-flag", ("tfxgate validate", "--no-such-flag")),
    ("make run ARGS=\"--span 2 --no-such-flag\"", ("runner_local.py", "--no-such-flag")),
    ("python runner_kubeflow.py --image I --span 3", ("runner_kubeflow.py", "--span")),
    ("tfxgate schema accept --force --run 3", ("tfxgate schema accept", "--run")),
])
def test_a_flag_of_another_command_is_found(region, expected, commands):
    """The reader above attributes a flag to the command typed before it, so a flag that exists
    elsewhere (--span is runner_local's, --run is report's) is still wrong here."""
    command, flag = expected
    invocations = _invocations(region, commands, _makefile_targets())
    assert (command, flag) in [(c, f) for c, flags in invocations for f in flags]
    assert flag not in _all_options(commands[command])


@pytest.mark.parametrize("region, expected", [
    ("tfxgate valdate --data x.csv", "no command tfxgate valdate"),
    ("make docz", "no make target docz"),
])
def test_an_unknown_command_is_found(region, expected, commands):
    with pytest.raises(AssertionError, match=expected):
        _invocations(region, commands, _makefile_targets())


def test_readme_is_short_and_its_links_lead_to_files():
    """The README stays a front page (the site holds the manual) whose links open on any forge."""
    text = (PROJECT_ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    assert text.startswith("# tfxgate\n\n```sh\nmake run ")  # the two commands come first
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    assert links
    missing = [link for link in links if not (PROJECT_ROOT / link).is_file()]
    assert not missing, missing
