"""Where a benchmark's figures come from: the machine, the commit measured (and files changed
beside it), and sections carried over from an earlier results file (benchmarks/results/)."""

import json
import os
import pathlib
import platform
import re
import subprocess
from typing import List

from pipeline.config import PROJECT_ROOT

_RESULTS_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")


def carried_over(results_dir: pathlib.Path, names: List[str]) -> dict:
    """{section: (its results, where from)} for each section in the latest earlier results file
    (benchmarks/results/<date>.json) that has it; a section already carried keeps its origin."""
    found = {}
    for path in sorted((p for p in results_dir.glob("*.json") if _RESULTS_FILE.match(p.name)), reverse=True):
        earlier = json.loads(path.read_text())
        for name in names:
            if name in found or name not in earlier:
                continue
            origin = earlier.get("carried", {}).get(name) or {
                "date": earlier["date"], "repeats": earlier.get("repeats"), "command": earlier.get("command", ""),
                "file": f"benchmarks/results/{path.name}"}
            found[name] = (earlier[name], origin)
    return found


def code_version() -> dict:
    """The commit measured, and the files of the code it runs that differed from it (others may be
    editing the tree while a benchmark runs)."""
    def git(*args):
        proc = subprocess.run(["git", *args], capture_output=True, text=True, cwd=PROJECT_ROOT)
        return proc.stdout.rstrip("\n") if proc.returncode == 0 else ""
    changed = git("status", "--porcelain", "--", "core", "components", "pipeline", "tfxgate", "schema", "benchmarks")
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "uncommitted": sorted(line[3:] for line in changed.splitlines() if line[3:] and "results/" not in line)}


def machine() -> dict:
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}
