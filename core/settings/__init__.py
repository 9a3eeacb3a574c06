"""The files beside a schema and on disk: schema versions (`schema_files.py`), `checks.yaml`
(`check_settings.py`), the artifacts' file layout and its readers (`layout.py`), and the first
schema of an uncurated dataset (`inference.py`).

May import core.common, core.rules, core.reading and core.statistics.
"""
