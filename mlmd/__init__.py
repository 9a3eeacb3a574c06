"""ML Metadata: where the store is (settings, opening, redaction), one run at a time (the run
lock), and reading runs back (queries, runs, lineage and history). Imports `core` only."""
