"""Card transactions of a payment processor, with quality defects injected at known rates.

About 10,000 transactions per unit of ``scale`` over ``days`` days (1 by default), on about
500 accounts and 100 merchants per unit of scale (Zipf-skewed), with the two reference tables
they point at. Rows are in **delivery order** (``ingest_time``). Each row carries at most one
injected defect, named in ``defect`` (an empty string for a clean row), so a lab can check a
quality rule or metric against the truth:

==================== =====================================================================
defect               what is wrong with the row
==================== =====================================================================
``null_amount``      ``amount`` is missing (NaN)
``null_currency``    ``currency`` is missing (None)
``null_merchant``    ``merchant_id`` is missing (``<NA>``)
``out_of_range``     ``amount`` is zero, negative or above :data:`MAX_AMOUNT`
``bad_currency``     ``currency`` is not an ISO code of the domain (``"XXX"``, ``"eur"``, ``""``)
``bad_card``         ``card_last4`` is not four digits
``currency_mismatch`` ``currency`` differs from the account's currency (cross-table rule)
``wrong_country``    ``merchant_country`` differs from the merchant reference (accuracy)
``orphan_merchant``  ``merchant_id`` is not in ``merchants`` (referential integrity)
``late``             delivered 1 to 24 hours after ``event_time`` (clean rows: seconds)
``future_time``      ``event_time`` is after ``ingest_time`` (a card terminal's clock ahead)
``duplicate``        a second delivery of an earlier row: same ``txn_id``, same content
==================== =====================================================================

``txns`` columns:

================= ================== =====================================================
column            type               meaning
================= ================== =====================================================
txn_id            string             ``tx_`` + 10 hex digits, unique but for duplicates
account_id        int64              ``1..n_accounts``
merchant_id       Int64 (nullable)   ``1..n_merchants``, larger for orphans, ``<NA>`` if null
amount            float64            in the currency's units, two decimals; NaN if null
currency          string or None     ``EUR``, ``GBP`` or ``USD``: the account's currency
merchant_country  string             ``DE``, ``FR``, ``ES``, ``GB`` or ``US``
channel           string             ``pos``, ``web`` or ``app``
card_last4        string             four digits
status            string             ``approved`` (about 95 %) or ``declined``
event_time        datetime64[ns,UTC] when the card was used
ingest_time       datetime64[ns,UTC] when this copy reached the processor (delivery order)
defect            string             the injected defect, ``""`` when clean
================= ================== =====================================================

Reference tables, ``merchants`` and ``accounts``:

================= ================== =====================================================
column            type               meaning
================= ================== =====================================================
merchant_id       int64              ``1..n_merchants`` (``merchants``)
name              string             ``merchant 0001``, ... (``merchants``)
country           string             where the merchant or the account is
category          string             one of :data:`CATEGORIES` (``merchants``)
account_id        int64              ``1..n_accounts`` (``accounts``)
currency          string             the account's currency, set by its country (``accounts``)
opened            datetime64[ns,UTC] a day before the first transaction (``accounts``)
================= ================== =====================================================

Options: ``days`` (span, default 1), ``defect_rates`` (a dict from defect name to the
fraction of rows that get it, for ``duplicate`` the fraction of clean rows delivered twice;
missing names keep :data:`DEFECT_RATES`; ``{}`` or all zeros give a clean batch),
``start`` (offset in days from the datasets' common epoch, default 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import DAY, EPOCH, count, diurnal_seconds, labels, money, opaque_ids, rng_for, timestamps, zipf_keys

KAFKA_KEYS = {"txns": "account_id"}

MAX_AMOUNT = 10_000.0
CURRENCIES = ("EUR", "GBP", "USD")
COUNTRIES = ("DE", "FR", "ES", "GB", "US")
CURRENCY_OF = {"DE": "EUR", "FR": "EUR", "ES": "EUR", "GB": "GBP", "US": "USD"}
CATEGORIES = ("grocery", "fuel", "travel", "electronics", "restaurant")
CHANNELS = ("pos", "web", "app")

DEFECT_RATES = {
    "null_amount": 0.01, "null_currency": 0.01, "null_merchant": 0.01, "out_of_range": 0.01,
    "bad_currency": 0.005, "bad_card": 0.005, "currency_mismatch": 0.01, "wrong_country": 0.01,
    "orphan_merchant": 0.005, "late": 0.02, "future_time": 0.005, "duplicate": 0.03,
}
DEFECTS = tuple(DEFECT_RATES)


def generate(
    seed: int = 0, scale: float = 1.0, *, days: float = 1, defect_rates: dict[str, float] | None = None,
    start: float = 0,
) -> dict[str, pd.DataFrame]:
    """``{"txns", "merchants", "accounts"}``; see the module documentation for the columns."""
    rates = _rates(defect_rates)
    rng = rng_for(seed)
    n, n_accounts, n_merchants = count(10_000, scale), count(500, scale, 5), count(100, scale, 5)

    merchants = pd.DataFrame({
        "merchant_id": np.arange(1, n_merchants + 1, dtype=np.int64),
        "name": [f"merchant {i:04d}" for i in range(1, n_merchants + 1)],
        "country": labels(rng, COUNTRIES, n_merchants, p=(4, 3, 2, 3, 3)),
        "category": labels(rng, CATEGORIES, n_merchants, p=(4, 2, 1, 1, 3)),
    })
    account_country = labels(rng, COUNTRIES, n_accounts, p=(4, 3, 2, 3, 3))
    accounts = pd.DataFrame({
        "account_id": np.arange(1, n_accounts + 1, dtype=np.int64),
        "country": account_country,
        "currency": np.array([CURRENCY_OF[c] for c in account_country], dtype=object),
        "opened": (EPOCH + pd.to_timedelta(start, unit="D")
                   - pd.to_timedelta(rng.integers(30, 3000, n_accounts), unit="D")).normalize(),
    })

    account = zipf_keys(rng, n_accounts, n, a=0.7)
    merchant = zipf_keys(rng, n_merchants, n, a=0.9)
    event = start * DAY + np.sort(diurnal_seconds(rng, n, days))
    rows = pd.DataFrame({
        "txn_id": opaque_ids(rng, n, "tx_"),
        "account_id": account,
        "merchant_id": pd.array(merchant, dtype="Int64"),
        "amount": np.minimum(money(rng, n, median=40.0, sigma=1.0), MAX_AMOUNT * 0.9),
        "currency": accounts["currency"].to_numpy()[account - 1],
        "merchant_country": merchants["country"].to_numpy()[merchant - 1],
        "channel": labels(rng, CHANNELS, n, p=(5, 3, 2)),
        "card_last4": pd.Series(rng.integers(0, 10_000, n)).map("{:04d}".format).to_numpy(dtype=object),
        "status": np.where(rng.random(n) < 0.95, "approved", "declined").astype(object),
        "event_time": event,
        "ingest_time": event + rng.lognormal(np.log(2.0), 0.5, n),
        "defect": np.full(n, "", dtype=object),
    })

    # one defect per row at most: draw a label per row from the rates (duplicates are added after)
    in_place = [d for d in DEFECTS if d != "duplicate"]
    p = np.array([rates[d] for d in in_place])
    if p.sum() >= 1:
        raise ValueError(f"defect rates add up to {p.sum():.2f}; they must leave room for clean rows")
    pick = rng.choice(len(in_place) + 1, size=n, p=np.append(p, 1 - p.sum()))
    for k, name in enumerate(in_place):
        idx = np.flatnonzero(pick == k)
        if len(idx):
            _inject(rng, rows, idx, name, accounts, n_merchants)
            rows.loc[idx, "defect"] = name

    copies = rows[rows["defect"] == ""].sample(frac=rates["duplicate"], random_state=rng)
    copies = copies.assign(ingest_time=copies["ingest_time"] + rng.uniform(1, 600, len(copies)), defect="duplicate")
    feed = pd.concat([rows, copies], ignore_index=True).sort_values("ingest_time", kind="stable", ignore_index=True)
    feed["event_time"] = timestamps(feed["event_time"].to_numpy())
    feed["ingest_time"] = timestamps(feed["ingest_time"].to_numpy())
    return {"txns": feed, "merchants": merchants, "accounts": accounts}


def _rates(defect_rates: dict[str, float] | None) -> dict[str, float]:
    if defect_rates is None:
        return dict(DEFECT_RATES)
    unknown = set(defect_rates) - set(DEFECTS)
    if unknown:
        raise ValueError(f"unknown defects {sorted(unknown)}; choose among {', '.join(DEFECTS)}")
    bad = {k: v for k, v in defect_rates.items() if not 0 <= v < 1}
    if bad:
        raise ValueError(f"defect rates must be fractions in [0, 1), got {bad}")
    if not defect_rates:
        return dict.fromkeys(DEFECTS, 0.0)
    return {**DEFECT_RATES, **defect_rates}


def _inject(rng, rows: pd.DataFrame, idx: np.ndarray, name: str, accounts: pd.DataFrame, n_merchants: int) -> None:
    """Damage rows ``idx`` with defect ``name`` (in place)."""
    k = len(idx)
    if name == "null_amount":
        rows.loc[idx, "amount"] = np.nan
    elif name == "null_currency":
        rows.loc[idx, "currency"] = None
    elif name == "null_merchant":
        rows.loc[idx, "merchant_id"] = pd.NA
    elif name == "out_of_range":
        rows.loc[idx, "amount"] = np.where(rng.random(k) < 0.5, -np.round(rng.uniform(0, 500, k), 2),
                                           np.round(rng.uniform(MAX_AMOUNT + 0.01, 5 * MAX_AMOUNT, k), 2))
    elif name == "bad_currency":
        rows.loc[idx, "currency"] = labels(rng, ("XXX", "eur", "", "EURO"), k)
    elif name == "bad_card":
        rows.loc[idx, "card_last4"] = labels(rng, ("123", "12345", "12a4", "****"), k)
    elif name == "currency_mismatch":
        own = rows.loc[idx, "currency"].to_numpy()
        shift = rng.integers(1, len(CURRENCIES), k)
        rows.loc[idx, "currency"] = [CURRENCIES[(CURRENCIES.index(c) + s) % len(CURRENCIES)]
                                     for c, s in zip(own, shift, strict=True)]
    elif name == "wrong_country":
        own = rows.loc[idx, "merchant_country"].to_numpy()
        shift = rng.integers(1, len(COUNTRIES), k)
        rows.loc[idx, "merchant_country"] = [COUNTRIES[(COUNTRIES.index(c) + s) % len(COUNTRIES)]
                                             for c, s in zip(own, shift, strict=True)]
    elif name == "orphan_merchant":
        rows.loc[idx, "merchant_id"] = pd.array(n_merchants + rng.integers(1, 1000, k), dtype="Int64")
    elif name == "late":
        rows.loc[idx, "ingest_time"] = rows.loc[idx, "event_time"] + rng.uniform(3600, DAY, k)
    elif name == "future_time":
        rows.loc[idx, "event_time"] = rows.loc[idx, "ingest_time"] + rng.uniform(60, 3600, k)

