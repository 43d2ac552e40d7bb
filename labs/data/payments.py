"""Payment events as a consumer receives them: with redeliveries and out of order.

About 10,000 payments per unit of ``scale`` on about 200 accounts per unit of scale (busy
accounts are Zipf-skewed). Each payment happens once (``event_time``, ``sequence``), but the
rows are in **delivery order** (``delivery_offset``, like a Kafka offset):

* **duplicates** (about 5 %): a payment delivered again later with the same ``payment_id``
  (the idempotency key) and identical content; the later copy has ``is_duplicate = True``;
* **out-of-order delivery**: most payments arrive within a second, some minutes to hours
  late, so an account's ``sequence`` numbers are not increasing in delivery order.

The correct balance of an account counts every ``payment_id`` once: credits minus debits.
``balance_after`` is that running balance right after the payment, in ``sequence`` order, so
a lab can check its result row by row; :func:`expected_balances` gives the final balances.

================ ================== =====================================================
column           type               meaning
================ ================== =====================================================
payment_id       string             idempotency key, unique per payment (``pay_`` + hex)
account_id       int64              account, ``1..n_accounts``; lower ids are busier
kind             string             ``credit`` (money in) or ``debit`` (money out); the
                                    first payment of every account is a credit
amount_cents     int64              amount in cents, always positive
currency         string             ``EUR``, ``USD`` or ``GBP``, fixed per account
event_time       datetime64[ns,UTC] when the payment was made
sequence         int64              1, 2, 3, ... per account in ``event_time`` order
balance_after    int64              account balance in cents after this payment
delivery_time    datetime64[ns,UTC] when this copy was delivered
delivery_offset  int64              position in the delivered stream (0, 1, 2, ...)
is_duplicate     bool               an earlier row has the same ``payment_id``
================ ================== =====================================================

Options: ``days`` (span, default 7), ``duplicate_fraction`` (0.05), ``late_fraction`` (0.05).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import (
    count,
    delays,
    diurnal_seconds,
    labels,
    money,
    opaque_ids,
    rng_for,
    segment_cumsum,
    timestamps,
    zipf_keys,
)

KAFKA_KEYS = {"payments": "account_id"}


def generate(
    seed: int = 0, scale: float = 1.0, *, days: float = 7, duplicate_fraction: float = 0.05,
    late_fraction: float = 0.05,
) -> pd.DataFrame:
    """Delivered payment events; see the module documentation for the columns."""
    rng = rng_for(seed)
    n, n_accounts = count(10_000, scale), count(200, scale, 2)
    account = zipf_keys(rng, n_accounts, n, a=0.8)
    seconds = diurnal_seconds(rng, n, days)
    order = np.lexsort((seconds, account))
    account, seconds = account[order], seconds[order]
    per_account = np.bincount(account)[1:]
    per_account = per_account[per_account > 0]
    sequence = segment_cumsum(np.ones(n, dtype=np.int64), per_account)
    credit = (rng.random(n) < 0.25) | (sequence == 1)
    cents = np.where(credit, money(rng, n, median=120.0), money(rng, n, median=30.0)) * 100
    cents = np.round(cents).astype(np.int64)
    payments = pd.DataFrame({
        "payment_id": opaque_ids(rng, n, "pay_"),
        "account_id": account,
        "kind": np.where(credit, "credit", "debit").astype(object),
        "amount_cents": cents,
        "currency": labels(rng, ("EUR", "USD", "GBP"), n_accounts, p=(5, 4, 1))[account - 1],
        "event_time": seconds,
        "sequence": sequence,
        "balance_after": segment_cumsum(np.where(credit, cents, -cents), per_account),
    })
    delay, _ = delays(rng, n, median=0.5, late_fraction=late_fraction, late_range=(60, 6 * 3600))
    payments["delivery_time"] = seconds + delay
    copies = payments.sample(frac=duplicate_fraction, random_state=rng)
    copies["delivery_time"] += rng.uniform(1, 900, len(copies))  # a retry after a lost acknowledgement
    feed = pd.concat([payments, copies], ignore_index=True).sort_values("delivery_time", kind="stable",
                                                                       ignore_index=True)
    return feed.assign(
        event_time=timestamps(feed["event_time"]),
        delivery_time=timestamps(feed["delivery_time"]),
        delivery_offset=np.arange(len(feed)),
        is_duplicate=feed["payment_id"].duplicated(),
    )



def expected_balances(df: pd.DataFrame) -> pd.DataFrame:
    """Final balance per account, counting each ``payment_id`` once: ``account_id``,
    ``currency``, ``balance_cents``, ``payments``."""
    unique = df.drop_duplicates("payment_id")
    signed = unique["amount_cents"].where(unique["kind"] == "credit", -unique["amount_cents"])
    return (unique.assign(signed=signed)
            .groupby("account_id")
            .agg(currency=("currency", "first"), balance_cents=("signed", "sum"), payments=("payment_id", "size"))
            .reset_index())
