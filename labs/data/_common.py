"""Helpers shared by the dataset generators: sizes, skewed keys, event times, delays.

Every generator draws from one ``numpy.random.default_rng(seed)`` passed down to these
helpers, in a fixed order, so the same seed and scale always give the same data.
Times are seconds after :data:`EPOCH`, turned into UTC timestamps (millisecond precision)
only at the end by :func:`timestamps`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

EPOCH = pd.Timestamp("2026-01-05T00:00:00Z")  # a Monday; every dataset starts here
DAY = 86_400.0

# Relative activity per hour of the day (UTC): quiet nights, a lunch bump, busy evenings.
DIURNAL = np.array([2, 1, 1, 1, 1, 2, 3, 5, 7, 8, 8, 9, 10, 9, 8, 8, 9, 10, 12, 13, 12, 9, 6, 4], dtype=float)


def rng_for(seed: int) -> np.random.Generator:
    """The only source of randomness of a generator."""
    return np.random.default_rng(seed)


def count(base: float, scale: float, minimum: int = 1) -> int:
    """``base * scale`` rounded, never below ``minimum``: how many rows/entities to make."""
    if not scale > 0:
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    return max(minimum, int(round(base * scale)))


def zipf_keys(rng: np.random.Generator, n_keys: int, size: int, a: float = 1.1) -> np.ndarray:
    """``size`` keys in ``1..n_keys`` with Zipf-like popularity: key k has weight ``1 / k**a``.

    Key 1 is the most frequent. Unlike ``rng.zipf`` the range is bounded, and ``a`` may be
    below 1 for a milder skew.
    """
    weights = 1.0 / np.arange(1, n_keys + 1, dtype=float) ** a
    return rng.choice(n_keys, size=size, p=weights / weights.sum()) + 1


def labels(rng: np.random.Generator, values: Sequence[str], size: int, p: Sequence[float] | None = None) -> np.ndarray:
    """``size`` strings drawn from ``values`` (optionally with probabilities ``p``)."""
    probs = None if p is None else np.asarray(p, dtype=float) / np.sum(p)
    return np.asarray(values, dtype=object)[rng.choice(len(values), size=size, p=probs)]


def diurnal_seconds(rng: np.random.Generator, size: int, days: float) -> np.ndarray:
    """``size`` moments in ``[0, days)`` days after the epoch, denser at busy hours of the day."""
    whole_days = max(1, int(np.ceil(days)))
    day = rng.integers(0, whole_days, size)
    hour = rng.choice(24, size=size, p=DIURNAL / DIURNAL.sum())
    return day * DAY + (hour + rng.random(size)) * 3600.0


def segment_cumsum(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``values`` restarted at each consecutive segment of the given lengths
    (all at least 1, summing to ``len(values)``). Integer input gives exact integer sums."""
    total = np.cumsum(values)
    before = np.concatenate((np.zeros(1, dtype=total.dtype), total[np.cumsum(lengths)[:-1] - 1]))
    return total - np.repeat(before, lengths)


def delays(
    rng: np.random.Generator, size: int, median: float, late_fraction: float, late_range: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Transport delays in seconds: lognormal around ``median``, plus a ``late_fraction`` of
    records held back by an extra uniform ``late_range``. Returns ``(delays, is_late)``."""
    delay = rng.lognormal(np.log(median), 0.6, size)
    late = rng.random(size) < late_fraction
    delay[late] += rng.uniform(*late_range, int(late.sum()))
    return delay, late


def money(rng: np.random.Generator, size: int, median: float, sigma: float = 0.7) -> np.ndarray:
    """Lognormal amounts around ``median``, rounded to cents (at least 0.50)."""
    return np.maximum(0.5, np.round(rng.lognormal(np.log(median), sigma, size), 2))


def timestamps(seconds: np.ndarray) -> pd.DatetimeIndex:
    """Seconds after :data:`EPOCH` as UTC timestamps, rounded to the millisecond."""
    millis = np.round(np.asarray(seconds, dtype=float) * 1000.0).astype(np.int64)
    return pd.DatetimeIndex((EPOCH.value + millis * 1_000_000).view("M8[ns]"), tz="UTC")


def iso(ts: pd.Timestamp) -> str:
    """A UTC timestamp as ISO 8601 text with milliseconds, e.g. ``2026-01-05T08:30:00.000Z``."""
    return ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def opaque_ids(rng: np.random.Generator, n: int, prefix: str) -> np.ndarray:
    """``n`` distinct opaque ids ``prefix`` + 10 hex digits: an odd multiplier makes
    ``i -> (a*i + b) mod 2**40`` one-to-one."""
    a, b = int(rng.integers(1, 2**39)) * 2 + 1, int(rng.integers(0, 2**40))
    values = (np.arange(n, dtype=np.uint64) * np.uint64(a) + np.uint64(b)) % np.uint64(2**40)
    return pd.Series(values).map((prefix + "{:010x}").format).to_numpy(dtype=object)
