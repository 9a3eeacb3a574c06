"""The report as a Kubeflow task (`kfp_report.py`, run in the container as
`python -m tfxgate.kubeflow.kfp_report`): the validators' findings judged, and the report and the
decision written as outputs the run's UI shows.

May import: common, reports.
"""
