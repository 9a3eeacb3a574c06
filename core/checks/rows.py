"""What happens to a block of rows once its cells are read, in ExampleGen and `tfxgate validate`
alike: a row with a cell its type cannot hold, or that breaks a rule across columns
(`constraints.yaml`), is left out and counted in the ReadingReport; the rows kept are profiled,
and those with a value outside the schema's domain are located (file and line) in the report.

One function, so the pipeline and validate leave out the same rows for the same reasons.
"""

import dataclasses
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from core.reading import cells
from core import rules as rules_lib
from core.statistics import profile as profile_lib
from core.reading import report as reading_lib


@dataclasses.dataclass
class Block:
    bad: np.ndarray  # per row: left out
    reasons: Dict[int, Dict[str, str]]  # row -> {feature or "rule <name>": reason}, for the quarantine
    columns: Dict[str, Tuple[str, np.ndarray]]  # feature -> (kind, one value per row: core.statistics.profile.dense)
    broken: np.ndarray = None  # per row: left out only for breaking a rule (its cells readable)
    ruled: Tuple[str, ...] = ()  # the features the rules read


def judge(read: Mapping[str, cells.Column], kinds: Mapping[str, str], rules: Sequence,
          report: reading_lib.ReadingReport, where: Callable[[int], tuple], texts: Callable[[str], List[str]],
          domains: Optional[Mapping[str, reading_lib.Domain]] = None) -> Block:
    """Judges a block whose schema-known columns were read by core.reading.cells.read_column.

    Args:
      read: {feature: its column read as its schema kind}, every row of the block.
      kinds: {feature: kind}.
      rules: core.rules rules (constraints.yaml beside the schema).
      report: counts what was unreadable and which rules were broken, with examples.
      where: row index -> (file, line or row index) for the examples kept.
      texts: feature -> the column's cells as text (for the examples of unreadable cells).
      domains: {feature: core.reading.report.Domain} of the curated schema (core.reading.report.schema_domains):
        the rows kept whose value lies outside are counted in the report by value, with where
        they are (TFDV's domain check finds them in the statistics; this says where).

    Returns:
      The rows left out with their reasons, and the dense columns of the whole block.
    """
    rows = len(next(iter(read.values())).present) if read else 0
    bad = np.zeros(rows, dtype=bool)
    unreadable = {}
    for name, column in read.items():
        if column.bad.any():
            report.add_column(name, column, texts(name), where)
            bad |= column.bad
            unreadable[name] = column
    reasons = reading_lib.bad_row_reasons(unreadable) if unreadable else {}
    columns = {name: (kinds[name], profile_lib.dense(column, kinds[name])) for name, column in read.items()}
    unreadable_rows = bad.copy()
    ruled = sorted(set().union(*(rule.columns() for rule in rules)) & set(columns)) if rules else []
    if rules:
        values = {name: column for name, (_, column) in columns.items()}
        for rule in rules:
            result = rules_lib.evaluate([rule], values, rows)[rule.name]
            evaluated = result.evaluated & ~bad
            broken = np.flatnonzero(result.violating & ~bad)
            used = sorted(rule.columns() & set(values))
            report.add_constraint(rule, int(evaluated.sum()), broken, where,
                                  lambda i, used=used: ", ".join(f"{n}={_show(values[n][i])}" for n in used))
            for i in broken:
                reasons.setdefault(int(i), {})[f"rule {rule.name}"] = "broken"
        for i in reasons:
            bad[i] = True
    report.dropped += int(bad.sum())
    for name, domain in (domains or {}).items():
        if name in columns:
            dense = columns[name][1]
            outside = np.flatnonzero(domain.outside(dense, read[name]) & ~bad)
            if len(outside):
                report.add_outside(name, outside, lambda i, dense=dense: _show(dense[i]), where)
    return Block(bad, reasons, columns, bad & ~unreadable_rows, tuple(ruled))


def kept(block: Block) -> Dict[str, Tuple[str, np.ndarray]]:
    """The dense columns of the rows kept."""
    keep = ~block.bad
    return {name: (kind, column[keep]) for name, (kind, column) in block.columns.items()}


def profile(block: Block, target: profile_lib.Profile, slice_keys=()) -> None:
    """Adds the block to a batch's profile: the rows kept, and the columns the rules read of the
    rows left out for breaking one (`Profile.broken`: the columns as they arrived, which
    core/checks/rule_cause.py judges against the baseline's)."""
    target.add(kept(block), slice_keys)
    if block.broken is not None and block.broken.any():
        target.add_broken({name: (block.columns[name][0], block.columns[name][1][block.broken])
                           for name in block.ruled})


def _show(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.7g}"
    return str(value)
