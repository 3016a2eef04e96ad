"""Class names on axes that fit: the full names where they fit side by side, else class numbers with
a key naming each number (never a name cut in the middle)."""
from __future__ import annotations

AXIS_CHARACTERS = 48  # the names of one axis, together, that fit beside each other in a dock-sized plot


def axis_labels(names: list[str], room: int = AXIS_CHARACTERS) -> tuple[list[str], str]:
    """(the tick labels, a key for them): the names themselves when they fit in `room` characters,
    else "0", "1", ... and the key "0 malignant · 1 normal, benign"; the key is "" when not needed."""
    if sum(len(name) + 2 for name in names) <= room:
        return list(names), ""
    return [str(number) for number in range(len(names))], " · ".join(f"{n} {name}" for n, name in enumerate(names))
