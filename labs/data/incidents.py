"""An hourly business metric (orders per hour) with a weekly pattern, holidays and an incident log.

One point per hour from the epoch (a Monday, 00:00 UTC), about 10,000 hours per unit of
``scale`` (never fewer than two weeks). The expected number of orders is a level that grows
slowly (about +0.5 % a week) times a profile of the hour of the week: busy weekday business
hours with a lunch peak and an evening peak, quiet nights, a quieter Saturday and a quieter
Sunday. A **holiday** (a weekday in ``holidays``) follows the Sunday profile all day. The
count is Poisson around the expected value times a small day-to-day wobble.

**Incidents** are outages: from ``start`` (inclusive) to ``end`` (exclusive), whole hours,
the orders fall to 10-50 % of what they would have been. Incidents never overlap and lie
at least a day apart; by default one of them falls on a holiday
(``incident_on_holiday``), and ``incident_at_end`` makes the last one end with the series.

``metric`` columns:

============ ================== ==========================================================
column       type               meaning
============ ================== ==========================================================
timestamp    datetime64[ns,UTC] the start of the hour
orders       int64              orders placed in that hour (incidents included)
============ ================== ==========================================================

``incidents`` columns (the labelled incident log, sorted by ``start``):

============ ================== ==========================================================
column       type               meaning
============ ================== ==========================================================
incident_id  int64              ``1..n``
start        datetime64[ns,UTC] first hour of the outage (a timestamp of ``metric``)
end          datetime64[ns,UTC] the hour after the last one (exclusive)
drop         float64            fraction of the orders lost (0.5-0.9)
on_holiday   bool               the incident starts on a holiday
============ ================== ==========================================================

``holidays`` columns:

============ ================== ==========================================================
column       type               meaning
============ ================== ==========================================================
date         datetime64[ns,UTC] midnight UTC of the holiday (always a weekday)
name         string             ``holiday 1``, ``holiday 2``, ...
============ ================== ==========================================================

Options: ``level`` (orders per hour at the busiest weekday hour, 1000), ``incidents``
(count, default one per ~170 hours), ``holidays`` (count, default one per ~4 weeks, never
in the first week), ``incident_on_holiday`` (True), ``incident_at_end`` (False),
``noise`` (day-to-day relative wobble, 0.03).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import DAY, count, rng_for, timestamps

KAFKA_KEYS: dict[str, str] = {}

# Relative activity by hour of day (UTC) on a weekday; Saturday and Sunday scale it down.
WEEKDAY = np.array([0.12, 0.08, 0.06, 0.05, 0.06, 0.10, 0.20, 0.35, 0.55, 0.70, 0.80, 0.90,
                    1.00, 0.95, 0.80, 0.75, 0.75, 0.80, 0.90, 0.95, 0.85, 0.60, 0.35, 0.20])
SATURDAY, SUNDAY = 0.60, 0.45


def generate(
    seed: int = 0, scale: float = 1.0, *, level: float = 1000.0, incidents: int | None = None,
    holidays: int | None = None, incident_on_holiday: bool = True, incident_at_end: bool = False,
    noise: float = 0.03,
) -> dict[str, pd.DataFrame]:
    """The metric, the incident log and the holidays; see the module documentation."""
    rng = rng_for(seed)
    n = count(10_000, scale, 14 * 24)
    hours = np.arange(n)
    day = hours // 24
    hour = hours % 24
    n_days = int(day[-1]) + 1

    n_hol = max(1, n_days // 28) if holidays is None else holidays
    weekdays = np.array([d for d in range(7, n_days) if d % 7 < 5])
    hol_days = np.sort(rng.choice(weekdays, min(n_hol, len(weekdays)), replace=False)) if n_hol else np.array([], int)
    dow = day % 7
    dow_eff = np.where(np.isin(day, hol_days), 6, dow)
    weekday_shape = WEEKDAY[hour]
    shape = np.where(dow_eff >= 5, np.sqrt(weekday_shape) * 0.8, weekday_shape)
    factor = np.select([dow_eff == 5, dow_eff == 6], [SATURDAY, SUNDAY], 1.0)
    wobble = np.exp(rng.normal(0, noise, n_days))[day]
    expected = level * (1 + 0.005 * hours / 168) * factor * shape * wobble

    # Incidents: non-overlapping, at least a day apart, in slices of the series.
    n_inc = max(1, n // 170) if incidents is None else incidents
    free = np.ones(n, dtype=bool)
    spans: list[tuple[int, int]] = []

    def place(lo: int, hi: int, length: int) -> None:
        starts = [s for s in range(max(lo, 0), min(hi, n) - length + 1)
                  if free[max(0, s - 24):min(n, s + length + 24)].all()]
        if starts:
            s = int(rng.choice(starts))
            spans.append((s, s + length))
            free[s:s + length] = False

    if incident_at_end and n_inc:
        length = int(rng.integers(2, 7))
        spans.append((n - length, n))
        free[n - length:] = False
        n_inc -= 1
    if incident_on_holiday and n_inc and len(hol_days):
        d = int(rng.choice(hol_days))
        place(d * 24 + 8, d * 24 + 20, int(rng.integers(2, 5)))
        n_inc -= 1
    edges = np.linspace(0, n, n_inc + 1).astype(int)
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        place(int(lo), int(hi), int(rng.integers(1, 7)))
    spans.sort()

    drops = rng.uniform(0.5, 0.9, len(spans))
    for (s, e), drop in zip(spans, drops, strict=True):
        expected[s:e] *= 1 - drop
    orders = rng.poisson(expected).astype(np.int64)

    stamps = timestamps(hours * 3600.0)
    metric = pd.DataFrame({"timestamp": stamps, "orders": orders})
    starts = np.array([s for s, _ in spans], dtype=int)
    ends = np.array([e for _, e in spans], dtype=int)
    inc = pd.DataFrame({
        "incident_id": np.arange(1, len(spans) + 1, dtype=np.int64),
        "start": timestamps(starts * 3600.0), "end": timestamps(ends * 3600.0),
        "drop": np.round(drops, 3), "on_holiday": np.isin(starts // 24, hol_days)})
    hol = pd.DataFrame({"date": timestamps(np.asarray(hol_days, dtype=float) * DAY),
                        "name": [f"holiday {i}" for i in range(1, len(hol_days) + 1)]})
    return {"metric": metric, "incidents": inc, "holidays": hol}
