"""Each room of core/ has tests a newcomer can run alone (`make test-room ROOM=<room>`): the
conftest marks a test module with every room it imports (tests/conftest.py, `rooms_of`)."""

import subprocess
import sys

import pytest

from tests.conftest import ROOMS, rooms_of
from tests.paths import PROJECT_ROOT

pytestmark = pytest.mark.unit


def test_every_room_of_core_has_test_modules_of_its_own():
    marked = {room: [p.name for p in sorted((PROJECT_ROOT / "tests").glob("test_*.py")) if room in rooms_of(str(p))]
              for room in ROOMS}
    assert ROOMS and set(ROOMS) == {p.parent.name for p in (PROJECT_ROOT / "core").glob("*/__init__.py")}
    assert {room for room, modules in marked.items() if not modules} == set(), marked


def test_a_room_marker_selects_the_modules_that_import_it():
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "room_rules", "tests/test_rule_cause.py",
                           "tests/test_architecture.py", "-p", "no:cacheprovider"], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    selected = {line.split("::")[0] for line in proc.stdout.splitlines() if "::" in line}
    assert selected == {"tests/test_rule_cause.py"}, proc.stdout[-2000:]
