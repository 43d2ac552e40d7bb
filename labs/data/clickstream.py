"""Click-stream events of an online shop, with labelled fraud bursts.

About 10,000 events per unit of ``scale`` over ``days`` days (7 by default). Users are
Zipf-skewed (user 1 is the most active: a hot key; at large scales the top users behave like
crawlers), visits come in sessions of about 8 events some 20 seconds apart, and traffic
follows the time of day. A few users (about 4 per unit of scale) also produce a **fraud
burst**: 40 or more events, mostly add-to-cart and purchase with high amounts, within 20-120
seconds, in a session of its own. Those events have ``is_fraud = True``; :func:`fraud_bursts`
lists the bursts (user, session, start, end, events), and ``df.attrs["fraud_bursts"]`` holds
the same list (without sessions) as plain values.

=========== ================== ===========================================================
column      type               meaning
=========== ================== ===========================================================
event_id    int64              unique id, increasing with ``event_time`` (starts at 1)
user_id     int64              user, ``1..n_users``; lower ids are more active
session_id  int64              visit the event belongs to; a fraud burst is one session
event_time  datetime64[ns,UTC] when the event happened (millisecond precision)
event_type  string             ``view``, ``click``, ``add_to_cart`` or ``purchase``
page        string             ``home``, ``search``, ``category``, ``product``, ``cart``,
                               ``checkout``
product_id  Int64 (nullable)   product shown or bought; null on home/search/category pages
amount      float64            order value of a ``purchase`` in USD; NaN for other events
is_fraud    bool               ground truth: the event belongs to a fraud burst
=========== ================== ===========================================================

Options: ``days`` (span of the data), ``n_fraud_bursts`` (default about ``4 * scale``),
``session_length`` (mean events per ordinary session, default 8).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import DAY, count, diurnal_seconds, iso, labels, money, rng_for, segment_cumsum, timestamps, zipf_keys

EVENT_TYPES = ("view", "click", "add_to_cart", "purchase")
BROWSE_PAGES = ("home", "search", "category", "product")
PAGE_OF = {"click": "product", "add_to_cart": "cart", "purchase": "checkout"}
COLUMNS = ["event_id", "user_id", "session_id", "event_time", "event_type", "page", "product_id", "amount", "is_fraud"]
KAFKA_KEYS = {"clickstream": "user_id"}


def generate(
    seed: int = 0, scale: float = 1.0, *, days: float = 7, n_fraud_bursts: int | None = None,
    session_length: float = 8.0,
) -> pd.DataFrame:
    """Click-stream events; see the module documentation for the columns."""
    rng = rng_for(seed)
    n_users, n_products = count(1_000, scale, 10), count(500, scale, 10)
    n_bursts = min(n_users, count(4, scale) if n_fraud_bursts is None else n_fraud_bursts)
    burst_sizes = 40 + rng.poisson(50, n_bursts)
    n_sessions = max(1, round((count(10_000, scale) - burst_sizes.sum()) / session_length))

    # Ordinary sessions: a Zipf-skewed user, a start at a busy hour, ~20 s between events.
    lengths = 1 + rng.poisson(session_length - 1, n_sessions)
    first = np.zeros(lengths.sum(), dtype=bool)
    first[np.cumsum(lengths) - lengths] = True
    gaps = np.where(first, 0.0, rng.lognormal(np.log(20.0), 0.8, len(first)))
    normal = pd.DataFrame({
        "user_id": np.repeat(zipf_keys(rng, n_users, n_sessions, a=0.9), lengths),
        "session_id": np.repeat(np.arange(1, n_sessions + 1), lengths),
        "seconds": np.repeat(diurnal_seconds(rng, n_sessions, days), lengths) + segment_cumsum(gaps, lengths),
        "event_type": labels(rng, EVENT_TYPES, lengths.sum(), p=(0.62, 0.25, 0.09, 0.04)),
    })
    normal.loc[first, "event_type"] = "view"  # every visit starts by looking at a page
    normal["amount"] = money(rng, len(normal), median=35.0)

    # Fraud bursts: distinct users, each firing dozens of cart/purchase events within minutes.
    start = rng.uniform(0, days * DAY - 600, n_bursts)
    duration = rng.uniform(20, 120, n_bursts)
    burst = np.repeat(np.arange(n_bursts), burst_sizes)
    fraud = pd.DataFrame({
        "user_id": np.repeat(rng.choice(n_users, n_bursts, replace=False) + 1, burst_sizes),
        "session_id": n_sessions + 1 + burst,
        "seconds": start[burst] + rng.random(len(burst)) * duration[burst],
        "event_type": labels(rng, EVENT_TYPES, len(burst), p=(0.1, 0.0, 0.4, 0.5)),
        "amount": money(rng, len(burst), median=180.0, sigma=0.5),
    })

    df = pd.concat([normal.assign(is_fraud=False), fraud.assign(is_fraud=True)], ignore_index=True)
    n = len(df)
    browse = labels(rng, BROWSE_PAGES, n, p=(0.3, 0.2, 0.2, 0.3))
    page = np.where(df["event_type"] == "view", browse, df["event_type"].map(PAGE_OF)).astype(object)
    product = pd.array(zipf_keys(rng, n_products, n, a=1.2), dtype="Int64")
    product[np.isin(page, ("home", "search", "category"))] = pd.NA
    df = df.assign(page=page, product_id=product, amount=df["amount"].where(df["event_type"] == "purchase"))
    df = df.sort_values("seconds", kind="stable", ignore_index=True)
    df = df.assign(event_id=np.arange(1, n + 1), event_time=timestamps(df["seconds"].to_numpy()))[COLUMNS]
    df.attrs["fraud_bursts"] = [
        {"user_id": int(row.user_id), "start": iso(row.start), "end": iso(row.end), "events": int(row.events)}
        for row in fraud_bursts(df).itertuples()
    ]
    return df


def fraud_bursts(df: pd.DataFrame) -> pd.DataFrame:
    """Ground truth of the injected fraud: one row per burst with ``user_id``, ``session_id``,
    ``start`` and ``end`` (first and last event time) and ``events`` (how many)."""
    fraud = df[df["is_fraud"]]
    return (fraud.groupby("session_id")
            .agg(user_id=("user_id", "first"), start=("event_time", "min"), end=("event_time", "max"),
                 events=("event_id", "size"))
            .sort_values("start").reset_index()[["user_id", "session_id", "start", "end", "events"]])
