"""Raw JSON events of an online shop as they reach the pipeline: out of order, late, duplicated, some broken.

About 10,000 records per unit of ``scale`` over ``hours`` hours of event time (48 by default),
in the order they arrived (``arrival``). Each record's ``raw`` is the text a producer sent:
a JSON object with an ``event_id``, a ``type`` (``view``, ``cart``, ``purchase`` or
``correction``), an ISO 8601 UTC timestamp ``ts`` with milliseconds, a nested ``user``
(``id``, optional ``country``), for views, carts and purchases a nested ``item`` (``sku``,
``category``, ``price``), for purchases an ``order`` (``id``, ``quantity``, ``amount =
quantity * price``, ``version`` 1) and for corrections an ``order`` (``id`` of an earlier
purchase, ``version`` 2 or 3, the new ``amount``, 0 for a cancelled order, and a ``reason``).
Optional fields (``user.country``, ``session``) are sometimes absent.

Four kinds of trouble are injected:

* **late** (about ``late_fraction``): an event that arrives 1 to 26 hours after its ``ts``
  instead of seconds after it (a phone that was offline, a partner's batch upload);
* **duplicates** (about ``duplicate_fraction``): the same text sent again seconds to minutes
  after the first copy (a producer's retry);
* **bad** (about ``bad_fraction``): text that is not JSON (cut short), an event without
  ``event_id``, ``ts`` or ``type``, a ``ts`` that is no timestamp, an unknown ``type``, or a
  purchase whose quantity or amount is not positive;
* **corrections** (about ``correction_fraction`` of purchases): a later event that changes an
  order's amount; some orders are corrected twice.

=========== ================== ============================================================
column      type               meaning
=========== ================== ============================================================
seq         int64              arrival order, ``0..n-1``
arrival     datetime64[ns,UTC] when the record reached the pipeline (event-time clock)
key         string             the user id as text (the Kafka key); empty for broken text
raw         string             the record's text, as sent
kind        string             ``on_time``, ``late``, ``duplicate`` or ``bad`` (ground truth)
=========== ================== ============================================================

Options: ``hours`` (span of event time), ``bad_fraction`` (0.03), ``duplicate_fraction``
(0.02), ``late_fraction`` (0.05), ``correction_fraction`` (0.08).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ._common import EPOCH, count, diurnal_seconds, labels, money, rng_for, timestamps

CATEGORIES = ("electronics", "books", "home", "fashion", "toys", "sports", "beauty", "grocery")
COUNTRIES = ("US", "DE", "GB", "FR", "NL", "ES", "IT", "PL")
TYPES = ("view", "cart", "purchase")
BAD_KINDS = ("unparseable", "missing_field", "bad_timestamp", "unknown_type", "bad_value")
COLUMNS = ["seq", "arrival", "key", "raw", "kind"]
KAFKA_KEYS = {"shopevents": "key"}


def generate(
    seed: int = 0, scale: float = 1.0, *, hours: float = 48, bad_fraction: float = 0.03,
    duplicate_fraction: float = 0.02, late_fraction: float = 0.05, correction_fraction: float = 0.08,
) -> pd.DataFrame:
    """Raw event records in arrival order; see the module documentation for the columns."""
    if not hours > 0:
        raise ValueError(f"hours must be a positive number, got {hours!r}")
    rng = rng_for(seed)
    n = count(10_000, scale, 20)
    n_items, n_users = count(300, scale, 10), count(800, scale, 10)
    span = hours * 3600.0
    items = pd.DataFrame({
        "sku": [f"SKU-{i:05d}" for i in range(1, n_items + 1)],
        "category": labels(rng, CATEGORIES, n_items),
        "price": money(rng, n_items, median=20.0, sigma=0.8),
    })
    countries = labels(rng, COUNTRIES, n_users, p=(30, 15, 12, 10, 8, 7, 6, 5))

    n_base = max(1, int(round(n * (1 - bad_fraction - duplicate_fraction))))
    seconds = np.mod(diurnal_seconds(rng, n_base, hours / 24), span)
    kind_of = labels(rng, TYPES, n_base, p=(0.72, 0.17, 0.11))
    users = rng.integers(1, n_users + 1, n_base)
    item = rng.integers(0, n_items, n_base)
    quantity = 1 + rng.poisson(0.5, n_base)
    has_country = rng.random(n_base) >= 0.1
    session = rng.integers(1, 10**6, n_base)
    has_session = rng.random(n_base) >= 0.3
    events = []
    order_no = 0
    for i in range(n_base):
        row = items.iloc[item[i]]
        event = {"event_id": None, "type": str(kind_of[i]), "ts": seconds[i],
                 "user": {"id": int(users[i])}, "item": {"sku": row["sku"], "category": row["category"],
                                                         "price": float(row["price"])}}
        if has_country[i]:
            event["user"]["country"] = str(countries[users[i] - 1])
        if has_session[i]:
            event["session"] = f"s-{session[i]:06d}"
        if kind_of[i] == "purchase":
            order_no += 1
            q = int(quantity[i])
            event["order"] = {"id": f"o-{order_no:06d}", "quantity": q,
                              "amount": round(q * float(row["price"]), 2), "version": 1}
        events.append(event)

    # corrections: a later event for an earlier purchase; a fifth of those corrected again
    purchases = [e for e in events if e["type"] == "purchase"]
    chosen = [purchases[j] for j in np.flatnonzero(rng.random(len(purchases)) < correction_fraction)]
    corrections = []
    for version, batch in ((2, chosen), (3, [e for e in chosen if rng.random() < 0.2])):
        for original in batch:
            previous = next((c for c in reversed(corrections) if c["order"]["id"] == original["order"]["id"]),
                            original)
            cancel = rng.random() < 0.3
            amount = 0.0 if cancel else max(0.01, round(previous["order"]["amount"] * rng.uniform(0.5, 0.95), 2))
            corrections.append({
                "event_id": None, "type": "correction",
                "ts": min(span - 0.001, previous["ts"] + rng.uniform(600, 8 * 3600)),
                "user": dict(original["user"]),
                "order": {"id": original["order"]["id"], "version": version, "amount": amount,
                          "reason": "cancelled" if cancel else "refund"},
            })
    events += corrections
    events.sort(key=lambda e: e["ts"])
    for number, event in enumerate(events, start=1):
        event["event_id"] = f"ev-{number:07d}"

    # arrival: seconds after the event, or hours for late ones
    m = len(events)
    ts = np.array([e["ts"] for e in events])
    delay = rng.lognormal(np.log(20.0), 0.7, m)
    late = rng.random(m) < late_fraction
    delay[late] += rng.uniform(3600.0, 26 * 3600.0, int(late.sum()))
    arrival = ts + delay
    texts = [_text(e) for e in events]
    records = pd.DataFrame({"arrival": arrival, "key": [str(e["user"]["id"]) for e in events], "raw": texts,
                            "kind": np.where(late, "late", "on_time")})

    n_dup = max(0, int(round(n * duplicate_fraction)))
    first = rng.choice(m, size=min(n_dup, m), replace=False)
    dups = records.iloc[first].assign(arrival=arrival[first] + rng.uniform(1.0, 600.0, len(first)), kind="duplicate")

    n_bad = max(0, n - m - len(dups))
    bad_ts = np.mod(diurnal_seconds(rng, n_bad, hours / 24), span)
    bad_kinds = labels(rng, BAD_KINDS, n_bad)
    bad = pd.DataFrame({
        "arrival": bad_ts + rng.lognormal(np.log(20.0), 0.7, n_bad),
        "key": [str(int(u)) for u in rng.integers(1, n_users + 1, n_bad)],
        "raw": [_broken(rng, str(k), t, j, items) for j, (k, t) in enumerate(zip(bad_kinds, bad_ts, strict=True))],
        "kind": "bad",
    })
    bad.loc[bad_kinds == "unparseable", "key"] = ""

    feed = pd.concat([records, dups, bad], ignore_index=True).sort_values("arrival", kind="stable", ignore_index=True)
    feed.insert(0, "seq", np.arange(len(feed), dtype=np.int64))
    feed["arrival"] = timestamps(feed["arrival"].to_numpy())
    return feed[COLUMNS]


def _iso(seconds: float) -> str:
    stamp = EPOCH + pd.Timedelta(milliseconds=int(round(seconds * 1000)))
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _text(event: dict) -> str:
    return json.dumps({**event, "ts": _iso(event["ts"])}, separators=(",", ":"))


def _broken(rng: np.random.Generator, kind: str, seconds: float, j: int, items: pd.DataFrame) -> str:
    """The text of one bad record of the given kind (ids ``bad-...`` never collide with good ones)."""
    row = items.iloc[int(rng.integers(0, len(items)))]
    event = {"event_id": f"bad-{j:06d}", "type": "purchase", "ts": seconds, "user": {"id": int(rng.integers(1, 500))},
             "item": {"sku": row["sku"], "category": row["category"], "price": float(row["price"])},
             "order": {"id": f"ox-{j:06d}", "quantity": 1, "amount": float(row["price"]), "version": 1}}
    if kind == "unparseable":
        text = _text(event)
        return text[: int(rng.integers(5, len(text) - 5))]
    if kind == "missing_field":
        del event[("event_id", "ts", "type")[int(rng.integers(0, 3))]]
        return json.dumps({**event, **({"ts": _iso(seconds)} if "ts" in event else {})}, separators=(",", ":"))
    if kind == "bad_timestamp":
        stamp = ("2026-01-05 25:61:00", "yesterday", "", "2026-13-01T00:00:00.000Z")[int(rng.integers(0, 4))]
        return json.dumps({**event, "ts": stamp}, separators=(",", ":"))
    if kind == "unknown_type":
        event["type"] = ("wishlist", "click", "Purchase")[int(rng.integers(0, 3))]
        return _text(event)
    # bad_value: a purchase with a quantity or amount that is not positive
    if rng.random() < 0.5:
        event["order"]["quantity"] = int(rng.integers(-2, 1))
    else:
        event["order"]["amount"] = -event["order"]["amount"]
    return _text(event)
