"""The layers of docs/ARCHITECTURE.md, checked on the code itself: every import points down, and
no two packages import each other (imports are read with `ast`, so a new one fails here)."""

import ast
import pathlib
import subprocess
import sys

import pytest

from tests.paths import PROJECT_ROOT

pytestmark = pytest.mark.unit

# Lower layers first; a module may import its own package and any package of a lower layer.
LAYERS = [
    {"core", "models"},
    {"mlmd", "components"},
    {"pipeline"},
    {"tfxgate"},
    {"runner_local", "runner_kubeflow", "runner_airflow"},
]
OURS = set().union(*LAYERS)
COMMAND_LINE = "tfxgate"


def _layer(unit: str) -> int:
    top = unit.split(".")[0]
    return next(i for i, layer in enumerate(LAYERS) if top in layer)


def _unit(module: str) -> str:
    """The package a module counts for: `components.gate` and `components.validator` are units of
    their own (they must not import each other); every other package is one unit."""
    parts = module.split(".")
    if parts[0] == "components" and len(parts) > 1 and (PROJECT_ROOT / "components" / parts[1]).is_dir():
        return ".".join(parts[:2])
    return parts[0]


def _module_name(path: pathlib.Path) -> str:
    relative = path.relative_to(PROJECT_ROOT).with_suffix("")
    parts = list(relative.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _source_files():
    for top in sorted(OURS):
        path = PROJECT_ROOT / top
        if path.is_dir():
            yield from sorted(path.rglob("*.py"))
        else:
            yield path.with_suffix(".py")


def imports_of(path: pathlib.Path, package: str):
    """Every module of ours that the file imports, at any depth (function-level imports too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names = [".".join(base + ([node.module] if node.module else []))]
            else:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name and name.split(".")[0] in OURS:
                yield node.lineno, name


def _graph():
    """{unit: {imported unit: first place it is imported}} over the project's own modules."""
    edges = {}
    for path in _source_files():
        module = _module_name(path)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0] if "." in module else module
        for line, imported in imports_of(path, package):
            source, target = _unit(module), _unit(imported)
            if source != target:
                edges.setdefault(source, {}).setdefault(target, f"{path.relative_to(PROJECT_ROOT)}:{line}")
    return edges


def test_every_import_points_down():
    wrong = [f"{where}: {source} imports {target}"
             for source, targets in _graph().items() for target, where in targets.items()
             if _layer(target) > _layer(source)
             or (_layer(target) == _layer(source) and source.split(".")[0] != target.split(".")[0])]
    assert wrong == []


def test_no_component_or_pipeline_module_imports_the_command_line():
    offenders = [f"{path.relative_to(PROJECT_ROOT)}:{line}: {name}"
                 for top in ("core", "mlmd", "components", "pipeline")
                 for path in sorted((PROJECT_ROOT / top).rglob("*.py"))
                 for line, name in imports_of(path, _module_name(path))
                 if name.split(".")[0] == COMMAND_LINE]
    assert offenders == []


def test_runners_do_not_import_the_command_line_module():
    for runner in ("runner_local.py", "runner_kubeflow.py", "runner_airflow.py"):
        imported = {name for _, name in imports_of(PROJECT_ROOT / runner, "")}
        assert not any(name.startswith("tfxgate.command.cli") for name in imported), (runner, imported)


def _cycles(edges):
    state, found = {}, []

    def visit(node, path):
        if state.get(node) == "done":
            return
        if state.get(node) == "visiting":
            found.append(" -> ".join(path[path.index(node):] + [node]))
            return
        state[node] = "visiting"
        for target in edges.get(node, {}):
            visit(target, path + [node])
        state[node] = "done"

    for node in list(edges):
        visit(node, [])
    return found


def test_no_package_import_cycle():
    assert _cycles(_graph()) == []


# core's rooms, lower first (docs/ARCHITECTURE.md): a room imports only itself and lower rooms.
CORE_ROOMS = ["common", "rules", "reading", "statistics", "settings", "checks", "batch", "judging"]
MODULE_LINES = 350  # the longest a module of ours may be (docs/ARCHITECTURE.md)
RUNNER_LINES = 150  # the longest a runner may be: parse flags, build the config, call the pipeline layer


def _core_room(module: str):
    parts = module.split(".")
    return parts[1] if parts[0] == "core" and len(parts) > 1 and parts[1] in CORE_ROOMS else None


def _core_edges():
    """[(file:line, room, imported room)] of every import between two of core's rooms."""
    edges = []
    for path in sorted((PROJECT_ROOT / "core").rglob("*.py")):
        module = _module_name(path)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for line, imported in imports_of(path, package):
            source, target = _core_room(module), _core_room(imported)
            if source and target and source != target:
                edges.append((f"{path.relative_to(PROJECT_ROOT)}:{line}", source, target))
    return edges


def test_core_rooms_import_only_lower_rooms():
    wrong = [f"{where}: core.{source} imports core.{target}" for where, source, target in _core_edges()
             if CORE_ROOMS.index(target) > CORE_ROOMS.index(source)]
    assert wrong == []


def test_every_core_module_is_in_a_room_that_says_what_it_holds():
    loose = [p.name for p in (PROJECT_ROOT / "core").glob("*.py") if p.name != "__init__.py"]
    folders = sorted(p.name for p in (PROJECT_ROOT / "core").iterdir() if p.is_dir() and p.name != "__pycache__")
    assert loose == [] and folders == sorted(CORE_ROOMS)
    for room in CORE_ROOMS:
        docstring = ast.get_docstring(ast.parse((PROJECT_ROOT / "core" / room / "__init__.py").read_text()))
        assert docstring and "import" in docstring.lower(), room  # what it holds, and which rooms it may import


def _lines(path: pathlib.Path) -> int:
    return len(path.read_text().splitlines())


def test_no_module_of_ours_is_longer_than_the_guide():
    """Every module of every layer (core, models, mlmd, components, pipeline, tfxgate, the runners),
    and of the benchmarks and scripts beside them."""
    beside = [p for folder in ("benchmarks", "scripts") for p in sorted((PROJECT_ROOT / folder).rglob("*.py"))]
    long = {str(p.relative_to(PROJECT_ROOT)): n for p in [*_source_files(), *beside] if (n := _lines(p)) > MODULE_LINES}
    assert long == {}


def test_every_runner_is_thin():
    long = {name: n for name in sorted(LAYERS[-1]) if (n := _lines(PROJECT_ROOT / f"{name}.py")) > RUNNER_LINES}
    assert long == {}


def test_the_rooms_check_sees_an_upward_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from core.checks import validation\n")
    imported = [name for _, name in imports_of(probe, "core.reading")]
    assert [_core_room(name) for name in imported] == ["checks", "checks"]
    assert CORE_ROOMS.index("checks") > CORE_ROOMS.index("reading")


# tfxgate's faces (docs/ARCHITECTURE.md): each subpackage's docstring ends with the faces it may
# import ("May import: common, reports."), and the imports are checked against those words.
TFXGATE_FACES = ["common", "reports", "validation", "online", "experiments", "kubeflow", "notebook", "command"]


def _face(module: str):
    parts = module.split(".")
    return parts[1] if parts[0] == "tfxgate" and len(parts) > 1 and parts[1] in TFXGATE_FACES else None


def _face_allows(face: str) -> set:
    """The faces `tfxgate/<face>/__init__.py` says it may import."""
    docstring = ast.get_docstring(ast.parse((PROJECT_ROOT / "tfxgate" / face / "__init__.py").read_text())) or ""
    line = next((l for l in docstring.splitlines() if l.startswith("May import:")), None)
    assert line, f"tfxgate/{face}/__init__.py: no 'May import:' line"
    words = line.split(":", 1)[1].strip().rstrip(".")
    return set() if words.startswith("no ") else {w.strip() for w in words.split(",")}


def test_tfxgate_faces_import_only_what_their_docstring_allows():
    wrong = []
    for path in sorted((PROJECT_ROOT / "tfxgate").rglob("*.py")):
        module = _module_name(path)
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        source = _face(module)
        for line, imported in imports_of(path, package):
            target = _face(imported)
            if source and target and target != source and target not in _face_allows(source):
                wrong.append(f"{path.relative_to(PROJECT_ROOT)}:{line}: tfxgate.{source} imports tfxgate.{target}")
    assert wrong == []


def test_every_tfxgate_module_is_in_a_face_that_says_what_it_holds():
    loose = [p.name for p in (PROJECT_ROOT / "tfxgate").glob("*.py") if p.name != "__init__.py"]
    folders = sorted(p.name for p in (PROJECT_ROOT / "tfxgate").iterdir() if p.is_dir() and p.name != "__pycache__")
    assert loose == [] and folders == sorted(TFXGATE_FACES)
    for face in TFXGATE_FACES:
        assert _face_allows(face) <= set(TFXGATE_FACES) - {face}, face


def test_the_faces_check_reads_the_docstring():
    assert _face_allows("common") == set()
    assert "command" not in _face_allows("reports")
    assert _face("tfxgate.reports.verdict") == "reports" and _face("tfxgate") is None


def test_the_check_sees_a_cycle_and_an_upward_import(tmp_path):
    """The walk itself: a function-level upward import and a cycle are found."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from tfxgate.command import cli\n    from .sibling import x\n")
    assert [name for _, name in imports_of(probe, "components.gate")] == [
        "tfxgate.command", "tfxgate.command.cli", "components.gate.sibling"]
    assert _cycles({"a": {"b": ""}, "b": {"a": ""}}) == ["a -> b -> a"]


def test_the_command_line_module_loads_without_tensorflow():
    """And the online service's modules: TensorFlow loads when the service loads what judges, and
    never in `validate --server`'s client (tests/test_serve.py runs that command as a process)."""
    code = ("import sys, tfxgate.command.cli, tfxgate.online.client, tfxgate.online.serve, runner_local, runner_kubeflow, runner_airflow; "
            "heavy = [m for m in ('tensorflow', 'tfx', 'apache_beam', 'tensorflow_data_validation', 'ml_metadata') "
            "if m in sys.modules]; print(heavy)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def _beside() -> list:
    """The modules `make test` runs in its second pytest process (the Makefile's BESIDE)."""
    lines = [l for l in (PROJECT_ROOT / "Makefile").read_text().splitlines() if l.startswith("BESIDE :=")]
    assert len(lines) == 1, lines
    return [module for line in lines for module in line.split(":=", 1)[1].split()]


def _pytest_fills(function: ast.FunctionDef) -> bool:
    """A test or a fixture: pytest passes fixtures by their parameters' names."""
    return function.name.startswith("test") or any("fixture" in ast.unparse(d) for d in function.decorator_list)


def test_modules_run_beside_the_rest_do_not_use_the_session_runs():
    """A module in the second process that took the session's `runs` (conftest.py) would run the
    whole pipeline a second time there; every module listed must exist."""
    beside = _beside()
    assert beside
    for name in beside:
        tree = ast.parse((PROJECT_ROOT / name).read_text())
        takers = [f.name for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and _pytest_fills(f)
                  and "runs" in [a.arg for a in f.args.args]]
        assert not takers, f"{name}: {takers} take the session's runs; remove the module from BESIDE"
