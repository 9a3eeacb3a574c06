"""What every face shares: a file written whole or not at all (`files.py`), and library noise kept
out of what a person reads (`quiet.py`).

May import: no other face of tfxgate.
"""
