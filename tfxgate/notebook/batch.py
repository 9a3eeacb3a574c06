"""`tfxgate.validate(data)`: a DataFrame, a pyarrow Table or a path judged as `tfxgate validate`
judges it, by the same code (tfxgate/validation/validate.py: `load_checks`, `read_batch`,
`load_baseline`, `judge`), and its `Result`: the verdict, the findings and the rows left out as
DataFrames, the command's JSON, and the report's headline and evidence (tfxgate/notebook/shown.py).

A DataFrame or a Table is written to a temporary Parquet file named for it (`DataFrame`,
`pyarrow Table`; tfxgate/notebook/frames.py), removed afterwards: the findings and the JSON name the
data as the caller knows it. TensorFlow and TFDV load on the first call, not on import.
"""

import os
import tempfile
from typing import Optional

from tfxgate.notebook.errors import DataError, Error, ProjectError

ENVIRONMENTS = ("SERVING", "TRAINING")


def validate(data, project=None, environment: str = "SERVING", baseline: str = "auto") -> "Result":
    """Validates `data` against a project's curated schema and gate policy, as `tfxgate validate`.

    Args:
        data: a pandas DataFrame, a pyarrow Table, or a path (a file or a folder, in any format
            `tfxgate validate --data` reads: CSV, compressed, Parquet, JSON lines, TFRecord).
        project: a project folder (`--project`); None: the folder you stand in when it holds
            tfxgate.yaml, else the shipped example.
        environment: "SERVING" (a batch to predict on, without the label) or "TRAINING".
        baseline: "auto" (the training span the data gate accepted last, in the project's MLMD
            store), "none", or a path (statistics, or data in any format read), as `--baseline`.

    Returns:
        A `Result`.

    Raises:
        DataError: the data cannot be validated (bad column names, no rows, an unreadable file).
        ProjectError: the project, its schema, policy or store, or the baseline cannot be used.
    """
    from core.common.errors import InputError, UserError
    from tfxgate.notebook import frames

    environment = str(environment).upper()
    if environment not in ENVIRONMENTS:
        raise ProjectError(f"environment {environment!r}: one of {', '.join(ENVIRONMENTS)}")
    kind = frames.kind_of(data)
    if not kind and not isinstance(data, (str, os.PathLike)):
        raise DataError(f"data: a pandas DataFrame, a pyarrow Table or a path, not a {type(data).__name__}")
    try:
        with tempfile.TemporaryDirectory(prefix="tfxgate-") as folder:
            if kind:
                table = frames.to_table(data, kind)
                return _judged(frames.write_parquet(table, os.path.join(folder, kind)), kind, project,
                               environment, str(baseline), folder)
            path = os.fspath(data)
            return _judged(path, path, project, environment, str(baseline), folder)
    except Error:
        raise
    except InputError as e:
        raise DataError(_one_line(e)) from None
    except UserError as e:
        raise ProjectError(_one_line(e)) from None


def _one_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__).replace("--project ", "project ", 1)


def _judged(path: str, name: str, project, environment: str, baseline: str, folder: str) -> "Result":
    """The batch at `path` judged; `name`: what the caller calls it; `folder`: a scratch folder."""
    from pipeline import config as config_lib
    from tfxgate.common import quiet
    from tfxgate.notebook import shown
    from tfxgate.validation import validate as validate_lib

    quiet.settings()
    where = _project(project)
    metadata = _store(where, baseline)
    checks = validate_lib.load_checks(config_lib.default_schema_path(where.schema_dir), str(where.policy_path))
    delimiter, missing, input_format = _declared(path)
    rows_path = os.path.join(folder, "left_out.csv")
    batch = validate_lib.read_batch(checks, path, delimiter, rows_path, missing, input_format)
    loaded = validate_lib.load_baseline(baseline, metadata, _pipeline(metadata, baseline, where),
                                        checks.kinds, delimiter, checks.settings.slices)
    outcome = validate_lib.judge(checks, path, batch, environment, loaded)  # no rows file named: the command's JSON
    if name != path:
        outcome = shown.renamed(outcome, path, name)
    evidence = shown.evidence_of(outcome, batch, loaded, folder, path, name)
    return Result(outcome, shown.findings_frame(outcome), shown.left_out_frame(rows_path, path, name), evidence)


def _project(project):
    from core.common import project as project_lib

    return project_lib.resolve(os.fspath(project) if project else None)


def _store(where, baseline: str):
    """The project's MLMD store (TFXGATE_MYSQL_* where set, as the command reads them)."""
    from mlmd import store as store_lib

    return store_lib.from_environment(str(where.metadata_path)) if baseline == "auto" else None


def _pipeline(metadata, baseline: str, where) -> Optional[str]:
    """Whose accepted span `auto` means: the store's one pipeline; of several, the project's."""
    if baseline != "auto" or not metadata.exists():
        return None
    from mlmd import query

    found = query.pipeline_names(metadata.open())
    if len(found) > 1 and where.name not in found:
        raise ProjectError(f"the MLMD store holds the runs of {len(found)} pipelines ({', '.join(found)}), "
                           f"none named {where.name!r}: say baseline='none' or a path, or the latest may be another's")
    return where.name if len(found) > 1 else (found[0] if found else None)


def _declared(path: str):
    """(delimiter, missing markers, format) declared beside the data, as the command reads them."""
    from core.reading import input_settings
    from core.reading.sources import csv_structure
    from pipeline import config as config_lib

    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    declared = input_settings.of_data(path)
    delimiter = config_lib.check_delimiter(csv_structure.folder_delimiter(folder) or ",")
    return delimiter, declared.missing, declared.format


class Result:
    """A batch judged: `verdict` ("pass", "warn" or "block"), `findings` and `left_out` (pandas
    DataFrames), `to_json()` (what `tfxgate validate --format json` prints), `to_text()`,
    `save_html(path)`, and in Jupyter the verdict headline and the evidence figures."""

    def __init__(self, outcome, findings, left_out, evidence):
        self.outcome = outcome  # tfxgate.validation.validate.Outcome
        self.findings = findings
        self.left_out = left_out
        self._evidence = evidence  # [(verdict, Evidence or None)], blocking first

    @property
    def verdict(self) -> str:
        return self.outcome.result

    @property
    def rows(self) -> int:
        return self.outcome.rows

    def to_json(self) -> str:
        """The JSON text `tfxgate validate --format json` prints for the same data (without the
        newline `print` ends it with)."""
        import json

        return json.dumps(self.outcome.to_json(), indent=1)

    def to_text(self) -> str:
        """What `tfxgate validate` prints."""
        return self.outcome.to_text()

    def save_html(self, path) -> str:
        """The report's page for this batch (self-contained: no script, no request); returns its path."""
        from tfxgate.common import files
        from tfxgate.notebook import shown

        return files.write_atomic(os.fspath(path), shown.page(self.outcome, self._evidence, self.findings))

    def _repr_html_(self) -> str:
        from tfxgate.notebook import shown

        return shown.inline(self.outcome, self._evidence)

    def __repr__(self) -> str:
        blocking = int((self.findings["severity"] == "block").sum()) if len(self.findings) else 0
        return (f"<tfxgate.Result {self.verdict}: {self.outcome.data}, {self.rows:,} rows, {blocking} blocking, "
                f"{len(self.findings) - blocking} warning(s), {len(self.left_out):,} row(s) left out>")
