"""Where rows are, for every source that finds them by reading its records in order."""

from typing import Dict, Iterable, List, Sequence, Tuple


def locate(records: Iterable[Tuple[int, List[str]]], indices: Sequence[int]) -> Dict[int, int]:
    """{0-based row index: its place (line or row)} for the rows asked, reading `records` (place,
    fields) only as far as the last of them."""
    wanted = set(indices)
    if not wanted:
        return {}
    found, last = {}, max(wanted)
    for index, (place, _) in enumerate(records):
        if index in wanted:
            found[index] = place
        if index >= last:
            break
    return found
