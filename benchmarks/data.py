"""Benchmark data made here, never downloaded: the shipped taxi rows resampled with small noise.

Numeric columns are jittered by about 1 % (integers by a second or so), so that larger files are
not the same few thousand rows repeated and every statistic (quantiles, uniques) does real work.
A column a rule across columns reads (the schema's constraints.yaml: trip_start_timestamp and the
hour, weekday and month derived from it) is never jittered, so every row keeps satisfying the
rules the real rows satisfy and the rules cost what they cost on clean data (no quarantine).

A file's name carries a tag of the recipe that made it (`train-150000.<tag>.csv`), so a file
cached by an earlier recipe is never reused.
"""

import hashlib
import json
import os
import pathlib
from typing import Set

import numpy as np
import pandas as pd

from pipeline.config import PROJECT_ROOT

_CHUNK = 100_000
_JITTER = {"fare": 0.01, "trip_miles": 0.01, "tips": 0.01}  # relative noise of float columns
_SECONDS_JITTER = {"trip_seconds": 2}  # integer columns: plus or minus this many


def rule_columns() -> Set[str]:
    """Every column a rule across columns of the default schema version reads."""
    from core.settings import check_settings
    from core import rules as rules_lib
    from core.common import names
    from pipeline import config

    path = check_settings.path_beside(config.default_schema_path(), names.CONSTRAINTS_FILE)
    if not os.path.isfile(path):
        return set()
    return set().union(*(rule.columns() for rule in rules_lib.load(path)))


def _recipe(kept: Set[str]) -> str:
    """A short tag of everything that decides a file's content besides its rows and seed."""
    recipe = {"version": 2, "chunk": _CHUNK, "jitter": _JITTER, "seconds": _SECONDS_JITTER, "kept": sorted(kept)}
    return hashlib.sha1(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:8]


def training_rows() -> pd.DataFrame:
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False)
              for p in sorted((PROJECT_ROOT / "data" / "train").glob("span-*/*.csv"))]
    return pd.concat(frames, ignore_index=True)


def make_csv(path: pathlib.Path, rows: int, label: bool = True, seed: int = 0) -> pathlib.Path:
    """Writes `rows` resampled rows (streamed in chunks) unless the file exists already; returns its
    path: `path` with the recipe's tag before the suffix."""
    kept = rule_columns()
    path = path.with_name(f"{path.stem}.{_recipe(kept)}{path.suffix}")
    if path.exists():
        return path
    source = training_rows()
    if not label:
        source = source.drop(columns=["tips"])
    rng = np.random.default_rng(seed)
    os.makedirs(path.parent, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    written = 0
    with open(tmp, "w", newline="") as f:
        while written < rows:
            n = min(_CHUNK, rows - written)
            chunk = source.iloc[rng.integers(0, len(source), n)].reset_index(drop=True)
            for column, scale in _JITTER.items():
                if column in chunk and column not in kept:
                    values = pd.to_numeric(chunk[column], errors="coerce")
                    noisy = (values * (1 + rng.normal(0, scale, n))).clip(lower=0).round(2)
                    chunk[column] = noisy.map(lambda v: "" if pd.isna(v) else f"{v:g}")
            for column, spread in _SECONDS_JITTER.items():
                if column in chunk and column not in kept:
                    seconds = pd.to_numeric(chunk[column], errors="coerce")
                    chunk[column] = (seconds + rng.integers(-spread, spread + 1, n)).clip(lower=0).map(
                        lambda v: "" if pd.isna(v) else str(int(v)))
            chunk.to_csv(f, header=written == 0, index=False)
            written += n
    os.replace(tmp, path)
    return path
