"""A batch end to end without Beam (`batch_stats.py`): read through its source
(core.reading), its rows judged (core.checks.rows), its TFDV statistics and profile computed.

May import every core subpackage but core.judging.
"""
