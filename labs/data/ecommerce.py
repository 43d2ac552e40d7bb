"""An online shop: customers, products and an order feed with late and corrected records.

Returns three tables. ``orders`` is the feed as it arrived (sorted by ``ingest_time``), one
line per order and version, about 10,000 orders per unit of ``scale`` plus corrections.
Product popularity is Zipf-skewed (product 1 sells best), and every ``customer_id`` and
``product_id`` of an order exists in its table. Two kinds of trouble are injected:

* **late records** (about 3 %, ``is_late``): the first version of an order ingested hours or
  days after ``order_time`` instead of seconds after it;
* **corrections** (about 5 % of orders, ``is_correction``): the same ``order_id`` emitted again
  with a higher ``version`` and a changed ``amount`` or ``status``; a few orders get two. The
  current state of an order is its row with the highest ``version``.

``customers`` (about 2,000 per unit of scale)

============ ================== ==========================================================
column       type               meaning
============ ================== ==========================================================
customer_id  int64              primary key, ``1..n``
name         string             first and last name
email        string             unique address (``first.last.<id>@example.com``)
country      string             ISO 3166 alpha-2 code
signup_time  datetime64[ns,UTC] account creation, during the year before the first order
============ ================== ==========================================================

``products`` (about 500 per unit of scale)

============ ================== ==========================================================
product_id   int64              primary key, ``1..n``; lower ids sell more
sku          string             stock keeping unit, ``SKU-000001``
category     string             e.g. ``books``, ``electronics``
price        float64            unit price in USD
============ ================== ==========================================================

``orders``

============= ================== =========================================================
order_id      int64              order, increasing with ``order_time`` (not unique here:
                                 corrections repeat it)
version       int64              1 for the original record, 2, 3 for corrections
customer_id   int64              foreign key to ``customers``
product_id    int64              foreign key to ``products``
quantity      int64              units ordered
amount        float64            order value in USD (``quantity * price``, less any
                                 correction)
status        string             ``placed``, ``paid``, ``shipped``; corrections may set
                                 ``cancelled`` or ``refunded``
order_time    datetime64[ns,UTC] when the customer ordered (same for every version)
ingest_time   datetime64[ns,UTC] when this record reached the pipeline
is_late       bool               version 1 ingested more than an hour after ``order_time``
is_correction bool               ``version > 1``
============= ================== =========================================================

Options: ``days`` (order span, default 30), ``late_fraction`` (0.03),
``correction_fraction`` (0.05).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import DAY, count, delays, diurnal_seconds, labels, money, rng_for, timestamps, zipf_keys

FIRST_NAMES = ("Ada", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kenji", "Lea",
               "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wei", "Yara")
LAST_NAMES = ("Adams", "Berg", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Horvat", "Ivanova", "Jensen",
              "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Petrov", "Rossi", "Silva", "Tanaka", "Weber")
COUNTRIES = ("US", "DE", "GB", "FR", "NL", "ES", "IT", "PL", "SE", "BR")
CATEGORIES = ("electronics", "books", "home", "fashion", "toys", "sports", "beauty", "grocery")
KAFKA_KEYS = {"customers": "customer_id", "products": "product_id", "orders": "order_id"}


def generate(
    seed: int = 0, scale: float = 1.0, *, days: float = 30, late_fraction: float = 0.03,
    correction_fraction: float = 0.05,
) -> dict[str, pd.DataFrame]:
    """``{"customers": ..., "products": ..., "orders": ...}``; see the module documentation."""
    rng = rng_for(seed)
    customers = _customers(rng, count(2_000, scale, 10))
    products = _products(rng, count(500, scale, 10))
    orders = _orders(rng, count(10_000, scale), customers, products, days, late_fraction, correction_fraction)
    return {"customers": customers, "products": products, "orders": orders}


def _customers(rng: np.random.Generator, n: int) -> pd.DataFrame:
    first = pd.Series(labels(rng, FIRST_NAMES, n))
    last = pd.Series(labels(rng, LAST_NAMES, n))
    ids = np.arange(1, n + 1)
    return pd.DataFrame({
        "customer_id": ids,
        "name": first + " " + last,
        "email": (first + "." + last + "." + ids.astype(str) + "@example.com").str.lower(),
        "country": labels(rng, COUNTRIES, n, p=(30, 15, 12, 10, 8, 7, 6, 5, 4, 3)),
        "signup_time": timestamps(rng.uniform(-365 * DAY, 0, n)),
    })


def _products(rng: np.random.Generator, n: int) -> pd.DataFrame:
    ids = np.arange(1, n + 1)
    return pd.DataFrame({
        "product_id": ids,
        "sku": pd.Series(ids).map("SKU-{:06d}".format),
        "category": labels(rng, CATEGORIES, n),
        "price": money(rng, n, median=25.0, sigma=0.9),
    })


def _orders(rng, n, customers, products, days, late_fraction, correction_fraction) -> pd.DataFrame:
    seconds = np.sort(diurnal_seconds(rng, n, days))
    product_id = zipf_keys(rng, len(products), n, a=1.2)
    quantity = 1 + rng.poisson(0.6, n)
    delay, late = delays(rng, n, median=2.0, late_fraction=late_fraction, late_range=(2 * 3600, 3 * DAY))
    orders = pd.DataFrame({
        "order_id": np.arange(1, n + 1),
        "version": 1,
        "customer_id": zipf_keys(rng, len(customers), n, a=0.7),
        "product_id": product_id,
        "quantity": quantity,
        "amount": np.round(quantity * products["price"].to_numpy()[product_id - 1], 2),
        "status": labels(rng, ("placed", "paid", "shipped"), n, p=(0.2, 0.5, 0.3)),
        "order_time": seconds,
        "ingest_time": seconds + delay,
        "is_late": late,
    })
    second = _correct(rng, orders.sample(frac=correction_fraction, random_state=rng))
    third = _correct(rng, second.sample(frac=0.2, random_state=rng))
    feed = pd.concat([orders, second, third], ignore_index=True)
    feed["is_correction"] = feed["version"] > 1
    feed = feed.sort_values("ingest_time", kind="stable", ignore_index=True)
    return feed.assign(order_time=timestamps(feed["order_time"]), ingest_time=timestamps(feed["ingest_time"]))


def _correct(rng: np.random.Generator, previous: pd.DataFrame) -> pd.DataFrame:
    """The next version of ``previous``: about half get a lower amount (discount, partial
    refund), the others a final status (cancelled or refunded); orders that already have a
    final status always get a lower amount. All are ingested minutes to days later."""
    fix = previous.copy().assign(version=previous["version"] + 1, is_late=False)
    n = len(fix)
    discount = (rng.random(n) < 0.5) | fix["status"].isin(("cancelled", "refunded")).to_numpy()
    factor = np.where(discount, rng.uniform(0.5, 0.95, n), 1.0)
    fix["amount"] = np.maximum(0.01, np.round(fix["amount"] * factor - discount * 0.01, 2))
    fix["status"] = np.where(discount, fix["status"], labels(rng, ("cancelled", "refunded"), n))
    fix["ingest_time"] += rng.uniform(600, 2 * DAY, n)
    return fix
