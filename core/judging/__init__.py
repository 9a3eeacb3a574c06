"""Judging findings: the gate policy (`policy.py`) and what to do about a verdict
(`next_steps.py`).

May import every other core subpackage (today it needs only core.common).
"""
