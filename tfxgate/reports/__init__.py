"""The report of a run: the verdict every report opens with (`verdict.py`, shared with the notebook,
`tfxgate validate`, the Kubeflow task and MLflow), the evidence beside each reason (`evidence.py`),
the HTML page (`report.py`) with its tables (`tables.py`), figures (`figures.py`, drawing the
shares per bin of `bins.py`) and lineage diagram (`diagram.py`), and what changed between two
schema versions (`schema_diff.py`).

May import: common.
"""
