"""Ride-hailing events: every ride goes through a consistent lifecycle inside a city box.

About 2,800 rides per unit of ``scale`` over ``days`` days (7), which makes about 10,000
events. Riders are Zipf-skewed; a driver never has two rides at once. Each ride follows
exactly one of:

* ``requested -> accepted -> started -> completed`` (about 85 %),
* ``requested -> cancelled`` (no driver found, about 7 %),
* ``requested -> accepted -> cancelled`` (cancelled while the driver was on the way, 8 %),

with strictly increasing ``event_time`` along the way. Pick-up and drop-off points lie in
the box :data:`CITY_BOX`; the trip duration follows the distance, and the fare (on the
``completed`` event only) is base + distance + time, sometimes with surge pricing.

=========== ================== ===========================================================
column      type               meaning
=========== ================== ===========================================================
event_id    int64              unique id, increasing with ``event_time`` (starts at 1)
ride_id     int64              ride, ``1..n_rides`` in order of request
rider_id    int64              rider; lower ids ride more often
driver_id   Int64 (nullable)   driver; null on ``requested`` and on a cancellation
                               before any driver accepted
event_type  string             ``requested``, ``accepted``, ``started``, ``completed``,
                               ``cancelled``
event_time  datetime64[ns,UTC] when the event happened (millisecond precision)
lat         float64            latitude where it happened (pick-up, driver position on
                               ``accepted``, drop-off on ``completed``)
lon         float64            longitude, same place
fare        float64            price in USD on ``completed`` events; NaN otherwise
=========== ================== ===========================================================

Options: ``days`` (span, default 7).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import count, diurnal_seconds, rng_for, timestamps, zipf_keys

CITY_BOX = {"lat": (40.70, 40.80), "lon": (-74.02, -73.93)}  # south/north, west/east edges
KM_PER_DEG_LAT, KM_PER_DEG_LON = 111.0, 84.0  # at this latitude
LIFECYCLES = {  # outcome: events after "requested", with their probability
    "completed": (("accepted", "started", "completed"), 0.85),
    "no_driver": (("cancelled",), 0.07),
    "rider_cancelled": (("accepted", "cancelled"), 0.08),
}
COLUMNS = ["event_id", "ride_id", "rider_id", "driver_id", "event_type", "event_time", "lat", "lon", "fare"]
KAFKA_KEYS = {"rides": "ride_id"}


def generate(seed: int = 0, scale: float = 1.0, *, days: float = 7) -> pd.DataFrame:
    """Ride lifecycle events ordered by time; see the module documentation for the columns."""
    rng = rng_for(seed)
    n = count(2_800, scale)
    outcome = rng.choice(list(LIFECYCLES), n, p=[p for _, p in LIFECYCLES.values()])
    requested = np.sort(diurnal_seconds(rng, n, days))
    pickup, dropoff, driver_pos = (_points(rng, n) for _ in range(3))
    driver_pos = pickup + (driver_pos - pickup) * 0.1  # drivers are matched nearby
    km = 1.3 * np.hypot(*((dropoff - pickup) * [KM_PER_DEG_LAT, KM_PER_DEG_LON]).T)  # street detour of 30 %
    minutes = 2 + km / rng.lognormal(np.log(20), 0.3, n) * 60  # average speed around 20 km/h
    surge = np.where(rng.random(n) < 0.1, rng.uniform(1.2, 2.0, n), 1.0)
    accepted = requested + 5 + rng.exponential(40, n)
    started = accepted + 30 + rng.exponential(240, n)  # the driver reaches the pick-up point
    times = {
        "requested": requested, "accepted": accepted, "started": started, "completed": started + minutes * 60,
        "cancelled": np.where(outcome == "rider_cancelled", accepted, requested) + 10 + rng.exponential(120, n),
    }
    places = {"requested": pickup, "accepted": driver_pos, "started": pickup, "cancelled": pickup,
              "completed": dropoff}
    ride = pd.DataFrame({
        "ride_id": np.arange(1, n + 1),
        "rider_id": zipf_keys(rng, count(1_000, scale, 10), n, a=0.6),
        "driver_id": _drivers(rng, count(200, scale, 5), n),
        "fare": np.round((2.5 + 1.25 * km + 0.35 * minutes) * surge, 2),
        "outcome": outcome,
    })

    parts = []
    for name, (steps, _) in LIFECYCLES.items():
        mask = outcome == name
        for step in ("requested", *steps):
            parts.append(ride[mask].assign(event_type=step, seconds=times[step][mask],
                                           lat=places[step][mask, 0], lon=places[step][mask, 1]))
    df = pd.concat(parts, ignore_index=True).sort_values("seconds", kind="stable", ignore_index=True)
    no_driver = (df["event_type"] == "requested") | (df["outcome"] == "no_driver")
    return df.assign(event_id=np.arange(1, len(df) + 1), event_time=timestamps(df["seconds"]),
                     driver_id=df["driver_id"].astype("Int64").mask(no_driver),
                     event_type=df["event_type"].astype(object), fare=df["fare"].where(df["event_type"] == "completed"),
                     lat=df["lat"].round(6), lon=df["lon"].round(6))[COLUMNS]


def _drivers(rng: np.random.Generator, n_drivers: int, n: int) -> np.ndarray:
    """Drivers for ``n`` rides in request order: each driver takes every ``n_drivers``-th
    request, so by the time a driver is asked again the previous ride is long over."""
    return (rng.permutation(n_drivers) + 1)[np.arange(n) % n_drivers]


def _points(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` uniform (lat, lon) points inside :data:`CITY_BOX`, as an ``(n, 2)`` array."""
    return np.column_stack([rng.uniform(*CITY_BOX["lat"], n), rng.uniform(*CITY_BOX["lon"], n)])
