"""Small statistics shared by the quality tools and the staff dashboard: shares and the
two kinds of percentile.

Two percentiles on purpose: the benchmark reports latency the way numpy does, linear
between the closest ranks (:func:`interpolated_percentile`); the regression summary
reports a value some case really took, the nearest rank (:func:`nearest_rank_percentile`),
and so do the cluster benchmark and the staff dashboard's p95 latency.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def fraction(part: float, whole: float) -> float | None:
    """part / whole, or None for an empty whole."""
    return part / whole if whole else None


def _checked(q: float) -> float:
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    return q


def interpolated_percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100), linear between closest ranks (numpy's default)."""
    _checked(q)
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def nearest_rank_percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by nearest rank: the smallest value with at least q %
    of the values at or below it (always one of the values)."""
    _checked(q)
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]
