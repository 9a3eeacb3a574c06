"""The checks of a batch: what happens to a block of rows once read (`rows.py`), TFDV's and our
custom checks (`validation.py`, `custom_checks.py`), the checks on two profiles
(`profile_checks.py`; degenerate columns in `degenerate.py`, tails and distances in
`distances.py`, their thresholds and words in `profile_terms.py`), which column of a broken rule changed
(`rule_cause.py`), and single instances for the online service (`instances.py`).

May import core.common, core.rules, core.reading, core.statistics and core.settings.
"""
