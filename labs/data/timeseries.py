"""A service metric (requests per minute) with seasonality, a trend, a drift and anomalies.

One point every ``step`` seconds (300), about 10,000 points per unit of ``scale`` (about
35 days). The clean signal is a level of 100 plus a slow upward trend, a daily cycle
(peak at noon UTC) and quieter weekends, with Gaussian noise. Two things are injected:

* a **drift** at ``drift_at`` (60 % of the series): the level jumps (``drift="level"``,
  default), the noise triples (``"variance"``) or both (``"both"``). ``after_drift`` marks
  the points from the drift on; ``df.attrs["drift_start"]`` holds its time and
  :func:`drift_start` recovers it from the data;
* **anomalies** (``is_anomaly``): single-point spikes and dips of 6-10 noise standard
  deviations, and flat-lines where the metric is stuck at one value for 1-3 hours.

============ ================== ==========================================================
column       type               meaning
============ ================== ==========================================================
timestamp    datetime64[ns,UTC] time of the point, every ``step`` seconds from the epoch
value        float64            metric value
is_anomaly   bool               ground truth: an injected spike, dip or flat-line
anomaly_type string (nullable)  ``spike``, ``dip``, ``flatline``; null for normal points
after_drift  bool               the point is at or after the drift start
============ ================== ==========================================================

Options: ``step`` (seconds, 300), ``drift`` (``level``, ``variance``, ``both``),
``drift_at`` (fraction of the series, 0.6), ``anomaly_rate`` (spikes and dips per point,
0.003), ``flatlines`` (count, default one per ~3,000 points).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import DAY, count, iso, rng_for, timestamps

DRIFTS = ("level", "variance", "both")
KAFKA_KEYS: dict[str, str] = {}


def generate(
    seed: int = 0, scale: float = 1.0, *, step: float = 300.0, drift: str = "level", drift_at: float = 0.6,
    anomaly_rate: float = 0.003, flatlines: int | None = None,
) -> pd.DataFrame:
    """The metric series; see the module documentation for the columns."""
    if drift not in DRIFTS:
        raise ValueError(f"drift must be one of {DRIFTS}, got {drift!r}")
    if not 0 < drift_at < 1:
        raise ValueError(f"drift_at must be a fraction between 0 and 1, got {drift_at!r}")
    rng = rng_for(seed)
    n = count(10_000, scale, 100)
    seconds = np.arange(n) * step
    days = seconds / DAY
    weekend = (np.floor(days) % 7) >= 5  # the epoch is a Monday
    after = np.arange(n) >= int(n * drift_at)
    sigma = np.where(after & (drift != "level"), 9.0, 3.0)
    value = (100 + 0.3 * days + 15 * np.sin(2 * np.pi * (days - 0.25)) - 20 * weekend
             + np.where(after & (drift != "variance"), 25.0, 0.0) + rng.normal(0, 1, n) * sigma)
    kind = np.full(n, None, dtype=object)

    # Flat-lines: one per equal slice of the series so that they never overlap.
    n_flat = max(1, n // 3_000) if flatlines is None else flatlines
    edges = np.linspace(0, n, n_flat + 1).astype(int)
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        length = min(int(rng.integers(12, 37)), hi - lo - 1)
        start = int(rng.integers(lo, hi - length))
        value[start:start + length] = value[start]
        kind[start:start + length] = "flatline"

    free = np.flatnonzero(pd.isna(kind))
    points = rng.choice(free, min(len(free), int(round(n * anomaly_rate))), replace=False)
    up = rng.random(len(points)) < 0.5
    value[points] += np.where(up, 1, -1) * rng.uniform(6, 10, len(points)) * sigma[points]
    kind[points] = np.where(up, "spike", "dip")

    df = pd.DataFrame({"timestamp": timestamps(seconds), "value": np.round(value, 3), "is_anomaly": pd.notna(kind),
                       "anomaly_type": kind, "after_drift": after})
    df.attrs.update(drift_start=iso(df["timestamp"][int(after.argmax())]), drift=drift)
    return df


def drift_start(df: pd.DataFrame) -> pd.Timestamp:
    """The first timestamp after the drift (ground truth)."""
    return df.loc[df["after_drift"], "timestamp"].min()
