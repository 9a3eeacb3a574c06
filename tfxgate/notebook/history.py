"""A project's runs read back from its MLMD store, for a notebook:

    tfxgate.runs()              # a DataFrame: one row per run, oldest first
    tfxgate.run("latest")       # one run, shown inline as the HTML report shows it
    tfxgate.history("fare")     # one feature's distances over the runs, with their figure

Which project: `project` (a folder holding tfxgate.yaml); else the folder the notebook stands in
when it holds one; else the shipped example (core/common/project.py, as every command). Its
store is `<project>/outputs/metadata.sqlite`, or MySQL when TFXGATE_MYSQL_HOST and the other
TFXGATE_MYSQL_* variables are set (mlmd/store.py). The store is opened read-only after a check
for MLMD's tables, as every command that reads opens it: nothing here writes to it.

What the caller can get wrong (no such project, no store, no such run, a feature never measured)
is a `tfxgate.ProjectError` in one line. Nothing here loads TensorFlow, Beam or TFDV on import;
MLMD and pandas load on the first call.
"""

import contextlib
import dataclasses
import datetime
import functools
import os
from typing import Iterator, List, Optional

from tfxgate.notebook.errors import ProjectError


@contextlib.contextmanager
def _as_project_errors() -> Iterator[None]:
    """A user error of the layers below (a setting, a store, a run not found) as a ProjectError."""
    from core.common.errors import UserError
    from mlmd import store as store_lib

    try:
        yield
    except UserError as e:
        raise ProjectError(store_lib.redact(str(e))) from None


@dataclasses.dataclass
class _Store:
    """A project's store, opened read-only, and the pipeline whose runs are the project's."""

    handle: object
    description: str
    pipeline: Optional[str]
    schema_dir: str


def _open(project) -> _Store:
    from core.common import project as project_lib
    from mlmd import query
    from mlmd import store as store_lib

    with _as_project_errors():
        found = project_lib.load(project) if project is not None else project_lib.resolve(None, cwd=os.getcwd())
        settings = store_lib.from_environment(str(found.metadata_path))
        handle = settings.open()  # read-only, after a check that it holds MLMD's tables
        pipelines = query.pipeline_names(handle)
    if found.name in pipelines or len(pipelines) <= 1:
        pipeline = found.name if found.name in pipelines else None
    else:
        raise ProjectError(f"{settings.describe()} holds the runs of {len(pipelines)} pipelines "
                           f"({', '.join(pipelines)}), none named {found.name!r} as the project {found.root} is")
    return _Store(handle, settings.describe(), pipeline, str(found.schema_dir))


def _time(created_ms: int):
    import pandas as pd

    return pd.Timestamp(datetime.datetime.fromtimestamp(created_ms / 1000, datetime.timezone.utc))


def _model_gate(record) -> Optional[str]:
    judged = record.evaluation
    if judged is None:
        return None
    return {True: "blessed", False: "refused"}.get(judged.get("blessed"), "not judged")


def runs(project=None):
    """The project's runs, oldest first, as a pandas DataFrame.

    Columns: `time` (UTC), `run_id`, `span` (the training span ingested; a list where several),
    `decision` (the data gate's: pass, warn, block, or "not reached"), `reasons` (one line per
    blocking or warning finding, blocking first), `model_gate` (blessed, refused, not judged, or
    None where no Evaluator ran), `pushed_model` (where the model was pushed, or None).

    Raises:
        tfxgate.ProjectError: no such project, or no MLMD store where the project keeps it.
    """
    import pandas as pd

    from mlmd import runs as runs_lib
    from tfxgate.reports import verdict

    store = _open(project)
    with _as_project_errors():
        records = runs_lib.all_runs(store.handle, store.pipeline)
    rows = []
    for record in records:
        spans = [e["span"] for e in record.examples]
        pushed = record.pushed_model or {}
        rows.append({
            "time": _time(record.created_ms), "run_id": record.run_id,
            "span": spans[0] if len(spans) == 1 else (spans or None),
            "decision": record.gate.get("decision"),
            "reasons": [v.line() for v, _ in verdict.of_run(record).reasons],
            "model_gate": _model_gate(record),
            "pushed_model": pushed.get("destination") if pushed.get("pushed") else None,
        })
    columns = ["time", "run_id", "span", "decision", "reasons", "model_gate", "pushed_model"]
    return pd.DataFrame(rows, columns=columns)


class Run:
    """One run read back from MLMD. In a notebook it shows as the HTML report shows it: the
    verdict first, the model gate, the evidence beside each reason, the lineage diagram, the
    anomalies and distances (tfxgate/reports/report.py's own sections).

    Attributes: `run_id`, `time`, `decision` (the data gate's), `summary` (the gate's words),
    `spans`, `model_gate`, `pushed_model`, `verdicts` (a DataFrame: one row per finding with the
    policy's severity), `artifacts` (a DataFrame: what each node wrote, with its MLMD id and URI),
    and `record` (the mlmd.runs.Run everything above is read from)."""

    def __init__(self, record, history: List[dict], source: str):
        self.record, self._history, self._source = record, history, source
        self.run_id = record.run_id
        self.time = _time(record.created_ms)
        self.decision = record.gate.get("decision")
        self.summary = record.gate.get("summary")
        self.spans = [e["span"] for e in record.examples]
        self.model_gate = _model_gate(record)
        pushed = record.pushed_model or {}
        self.pushed_model = pushed.get("destination") if pushed.get("pushed") else None

    @property
    def verdicts(self):
        import pandas as pd

        from tfxgate.reports import tables

        columns = ["dataset", "feature", "slice", "types", "check", "severity", "description"]
        return pd.DataFrame(tables.anomaly_rows(self.record), columns=columns)

    @property
    def artifacts(self):
        import pandas as pd

        from tfxgate.reports import diagram

        return pd.DataFrame(diagram.artifact_rows(self.record), columns=["node", "type", "id", "uri"])

    def to_html(self) -> str:
        """The report as a whole page: what `tfxgate report` writes."""
        from tfxgate.reports import report

        return report.render_html(self.record, self._history, self._source)

    def save_html(self, path) -> str:
        """Writes the report (a self-contained page, `tfxgate report`'s) to `path`; returns the path."""
        from tfxgate.common import files

        return files.write_atomic(os.fspath(path), self.to_html())

    def _repr_html_(self) -> str:
        from tfxgate.reports import report

        return report.fragment(self.record, self._history, self._source)

    def __repr__(self) -> str:
        return (f"<tfxgate run {self.run_id}: {str(self.decision).upper()}, spans {self.spans}, "
                f"model gate {self.model_gate or 'none'}, pushed {self.pushed_model or 'nothing'}>")


def run(which: str = "latest", project=None) -> Run:
    """One run of the project: "latest" or a run id (the `run_id` of `tfxgate.runs()`).

    Raises:
        tfxgate.ProjectError: no such project, store or run (the message lists the latest runs).
    """
    from mlmd import lineage
    from mlmd import runs as runs_lib

    store = _open(project)
    with _as_project_errors():
        record = runs_lib.find_run(store.handle, str(which), store.pipeline)
        history = lineage.history(store.handle, pipeline=record.pipeline or store.pipeline)
    return Run(record, history, f"MLMD store {store.description}")


_HISTORY_COLUMNS = ["time", "run_id", "span", "against", "environment", "check", "type", "split", "slice",
                    "value", "threshold", "noise", "over"]


def history(feature: str, project=None):
    """Every skew and drift distance measured for `feature`, oldest run first, as a pandas
    DataFrame (`over`: at or beyond its threshold); in a notebook it shows the distance over its
    threshold per run as a figure (the report's history figure) above the table.

    Raises:
        tfxgate.ProjectError: no such project or store, or `feature` never measured in its runs.
    """
    import pandas as pd

    from mlmd import lineage

    store = _open(project)
    with _as_project_errors():
        every = lineage.history(store.handle, pipeline=store.pipeline)
    rows = [r for r in every if r["feature"] == feature]
    if not rows:
        measured = sorted({r["feature"] for r in every})
        shown = f"measured: {', '.join(measured)}" if measured else "no distance measured yet"
        raise ProjectError(f"feature {feature!r}: never measured in the runs in {store.description} ({shown})")
    frame = pd.DataFrame([dict(r, time=_time(r["created_ms"])) for r in rows])
    table = _history_class()(frame.reindex(columns=_HISTORY_COLUMNS))
    table.attrs.update(feature=feature, rows=rows)
    return table


@functools.lru_cache(maxsize=None)
def _history_class():
    """`History`: defined on first use, since it derives from pandas' DataFrame."""
    import pandas as pd

    class History(pd.DataFrame):
        """A feature's distances over runs; a notebook shows the history figure above the table.
        Anything derived from it (a filter, a column) is a plain DataFrame."""

        @property
        def _constructor(self):
            return pd.DataFrame

        def figure(self):
            """The distance over its threshold per run (matplotlib Figure; the report's history figure)."""
            from tfxgate.reports import figures

            return figures.history_figure(self.attrs.get("rows", []))

        def _repr_html_(self) -> str:
            from tfxgate.reports import figures

            label = f"history of {self.attrs.get('feature', '')}"
            return figures.svg(self.figure(), "history", label) + pd.DataFrame(self)._repr_html_()

    return History
