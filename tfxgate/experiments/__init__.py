"""A run logged to MLflow tracking (`tracking.py`): read back from MLMD, with the report's verdict
and page; `mlflow` is imported only inside its functions.

May import: common, reports.
"""
