"""Benchmark data made here, never downloaded: the shipped taxi rows resampled with small noise.

Numeric columns are jittered by about 1 % (integers by a second or so), so that larger files are
not the same few thousand rows repeated and every statistic (quantiles, uniques) does real work.
"""

import os
import pathlib

import numpy as np
import pandas as pd

from pipeline.config import PROJECT_ROOT

_CHUNK = 100_000
_JITTER = {"fare": 0.01, "trip_miles": 0.01, "tips": 0.01}


def training_rows() -> pd.DataFrame:
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False)
              for p in sorted((PROJECT_ROOT / "data" / "train").glob("span-*/*.csv"))]
    return pd.concat(frames, ignore_index=True)


def make_csv(path: pathlib.Path, rows: int, label: bool = True, seed: int = 0) -> pathlib.Path:
    """Writes `rows` resampled rows to `path` (streamed in chunks) unless it exists already."""
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
                if column in chunk:
                    values = pd.to_numeric(chunk[column], errors="coerce")
                    noisy = (values * (1 + rng.normal(0, scale, n))).clip(lower=0).round(2)
                    chunk[column] = noisy.map(lambda v: "" if pd.isna(v) else f"{v:g}")
            seconds = pd.to_numeric(chunk["trip_seconds"], errors="coerce")
            chunk["trip_seconds"] = (seconds + rng.integers(-2, 3, n)).clip(lower=0).map(
                lambda v: "" if pd.isna(v) else str(int(v)))
            chunk.to_csv(f, header=written == 0, index=False)
            written += n
    os.replace(tmp, path)
    return path
