"""Sensor readings from a fleet of IoT devices, with gaps, nulls and late arrivals.

About 14 devices per unit of ``scale``, each sending one reading per ``interval`` seconds
(60) for ``readings_per_device`` readings (720, i.e. 12 hours), so about 10,000 rows per
unit of scale. Every device measures one quantity around a baseline of its own, with a
daily cycle and Gaussian noise; its battery drains slowly. Injected trouble:

* **missing readings**: about 2 % dropped at random, and about one device in five goes
  offline for 10-60 readings in a row (visible as gaps in ``seq``);
* **null values** (about 0.5 %): the reading arrived but ``value`` is NaN;
* **out-of-order arrival**: rows are in ``arrival_time`` order; most arrive within seconds,
  about 3 % are held back for 30 s to 15 min.

============ ================== ==========================================================
column       type               meaning
============ ================== ==========================================================
device_id    int64              device, ``1..n_devices``
sensor_type  string             ``temperature``, ``humidity``, ``pressure`` or ``co2``
unit         string             ``celsius``, ``percent``, ``hPa`` or ``ppm``
seq          int64              reading number of the device (0, 1, 2, ...; gaps = missing)
event_time   datetime64[ns,UTC] when the device took the reading
arrival_time datetime64[ns,UTC] when the reading reached the pipeline
value        float64            measured value in ``unit``; NaN when the sensor failed
battery      float64            battery level in percent (0-100)
============ ================== ==========================================================

Options: ``readings_per_device`` (720), ``interval`` (seconds, 60), ``missing_fraction``
(0.02), ``null_fraction`` (0.005), ``late_fraction`` (0.03).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import DAY, count, delays, rng_for, timestamps

# sensor type: (unit, baseline range, daily amplitude, noise standard deviation)
SENSORS = {
    "temperature": ("celsius", (18.0, 26.0), 2.0, 0.3),
    "humidity": ("percent", (35.0, 60.0), 6.0, 1.0),
    "pressure": ("hPa", (1005.0, 1020.0), 1.5, 0.4),
    "co2": ("ppm", (420.0, 800.0), 90.0, 15.0),
}
KAFKA_KEYS = {"iot": "device_id"}


def generate(
    seed: int = 0, scale: float = 1.0, *, readings_per_device: int = 720, interval: float = 60.0,
    missing_fraction: float = 0.02, null_fraction: float = 0.005, late_fraction: float = 0.03,
) -> pd.DataFrame:
    """Sensor readings in arrival order; see the module documentation for the columns."""
    rng = rng_for(seed)
    n_devices = count(14, scale)
    names, units = np.array(list(SENSORS), dtype=object), np.array([v[0] for v in SENSORS.values()], dtype=object)
    kind = rng.integers(0, len(names), n_devices)
    low, high, amplitude, noise = np.array([(*v[1], v[2], v[3]) for v in SENSORS.values()])[kind].T
    baseline = rng.uniform(low, high)
    phase = rng.uniform(0, 2 * np.pi, n_devices)
    battery_start, drain = rng.uniform(60, 100, n_devices), rng.uniform(0.05, 0.4, n_devices)  # % and %/hour
    outage_start = rng.integers(0, readings_per_device, n_devices)
    outage_length = np.where(rng.random(n_devices) < 0.2, rng.integers(10, 61, n_devices), 0)

    device = np.repeat(np.arange(n_devices), readings_per_device)
    seq = np.tile(np.arange(readings_per_device), n_devices)
    start = rng.uniform(1, interval, n_devices)  # devices are not in lockstep
    seconds = seq * interval + start[device] + rng.normal(0, 0.2, len(seq))
    value = (baseline[device] + amplitude[device] * np.sin(2 * np.pi * seconds / DAY + phase[device])
             + rng.normal(0, 1, len(seq)) * noise[device])
    value[rng.random(len(seq)) < null_fraction] = np.nan
    battery = np.clip(battery_start[device] - drain[device] * seconds / 3600 + rng.normal(0, 0.1, len(seq)), 0, 100)
    delay, _ = delays(rng, len(seq), median=0.8, late_fraction=late_fraction, late_range=(30, 900))
    offline = (seq >= outage_start[device]) & (seq < outage_start[device] + outage_length[device])
    keep = ~offline & (rng.random(len(seq)) >= missing_fraction)

    df = pd.DataFrame({
        "device_id": device + 1,
        "sensor_type": names[kind][device],
        "unit": units[kind][device],
        "seq": seq,
        "event_time": seconds,
        "arrival_time": seconds + delay,
        "value": np.round(value, 2),
        "battery": np.round(battery, 1),
    })[keep].sort_values("arrival_time", kind="stable", ignore_index=True)
    return df.assign(event_time=timestamps(df["event_time"]), arrival_time=timestamps(df["arrival_time"]))
