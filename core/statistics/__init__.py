"""What a batch's values look like: sampling noise of a batch's size (`noise.py`), TFDV's
equal-width histograms (`histograms.py`), a view over TFDV statistics (`stats_view.py`), and a
batch's profile beyond TFDV's statistics (`profile.py`, one feature's in `feature_profile.py`).

May import core.common, core.rules and core.reading.
"""
