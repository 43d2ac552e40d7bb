"""Trades on a small stock exchange, received out of order.

About 10,000 trades per unit of ``scale`` during ``days`` trading days (5 by default; Monday to
Friday, 14:30-21:00 UTC). Symbol popularity is Zipf-skewed (the first symbols of :data:`SYMBOLS`
trade most). Each symbol's price follows a random walk (geometric Brownian motion) from a
starting price of its own. Rows are in **arrival order**: most trades arrive within
~50 ms, about 2 % one to 30 seconds late, so ``trade_id`` and ``event_time`` are not
increasing in row order.

============ ================== ==========================================================
column       type               meaning
============ ================== ==========================================================
trade_id     int64              unique id, increasing with ``event_time`` (starts at 1)
symbol       string             ticker, one of :data:`SYMBOLS`
side         string             aggressor side, ``buy`` or ``sell``
price        float64            price per share in USD (cents precision)
qty          int64              shares traded; round lots (multiples of 100) and odd lots
event_time   datetime64[ns,UTC] execution time at the exchange (millisecond precision)
arrival_time datetime64[ns,UTC] when the trade reached the pipeline
============ ================== ==========================================================

Options: ``days`` (trading days, default 5), ``late_fraction`` (0.02).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import DAY, count, delays, labels, rng_for, segment_cumsum, timestamps, zipf_keys

SYMBOLS = ("ACME", "BOLT", "CRWN", "DLTA", "ECHO", "FLUX", "GRID", "HALO", "IONX", "JADE", "KITE", "LUMN", "MAPL",
           "NOVA", "ORCA", "PIKE", "QUAD", "RUBY", "SOLR", "TIDE", "UNIT", "VOLT", "WAVE", "XENO", "YARN", "ZETA")
OPEN, SESSION = 14.5 * 3600, 6.5 * 3600  # the trading day starts at 14:30 UTC and lasts 6.5 hours
KAFKA_KEYS = {"transactions": "symbol"}


def generate(seed: int = 0, scale: float = 1.0, *, days: int = 5, late_fraction: float = 0.02) -> pd.DataFrame:
    """Trades in arrival order; see the module documentation for the columns."""
    rng = rng_for(seed)
    n = count(10_000, scale)
    start_price = np.round(rng.lognormal(np.log(80), 0.8, len(SYMBOLS)), 2)
    volatility = rng.uniform(0.01, 0.04, len(SYMBOLS))  # daily standard deviation of log returns
    symbol = zipf_keys(rng, len(SYMBOLS), n, a=1.1) - 1
    session_time = rng.uniform(0, days * SESSION, n)  # seconds of trading, all days joined
    order = np.lexsort((session_time, symbol))
    symbol, session_time = symbol[order], session_time[order]

    # Random walk per symbol: log-returns scaled by the trading time since its previous trade.
    lengths = np.bincount(symbol, minlength=len(SYMBOLS))
    lengths = lengths[lengths > 0]
    elapsed = np.diff(session_time, prepend=0.0)
    elapsed[np.cumsum(lengths) - lengths] = session_time[np.cumsum(lengths) - lengths]
    steps = rng.normal(0, 1, n) * volatility[symbol] * np.sqrt(elapsed / SESSION)
    price = np.maximum(0.01, np.round(start_price[symbol] * np.exp(segment_cumsum(steps, lengths)), 2))

    round_lot = rng.random(n) < 0.6
    qty = np.where(round_lot, 100 * rng.geometric(0.5, n), np.ceil(rng.lognormal(np.log(30), 1.0, n)))
    day = session_time // SESSION
    seconds = (day // 5 * 7 + day % 5) * DAY + OPEN + session_time % SESSION  # weekends skipped
    delay, _ = delays(rng, n, median=0.05, late_fraction=late_fraction, late_range=(1, 30))
    df = pd.DataFrame({
        "symbol": np.asarray(SYMBOLS, dtype=object)[symbol],
        "side": labels(rng, ("buy", "sell"), n),
        "price": price,
        "qty": qty.astype(np.int64),
        "event_time": seconds,
        "arrival_time": seconds + delay,
    }).sort_values("event_time", kind="stable", ignore_index=True)
    df.insert(0, "trade_id", np.arange(1, n + 1))
    df = df.sort_values("arrival_time", kind="stable", ignore_index=True)
    return df.assign(event_time=timestamps(df["event_time"]), arrival_time=timestamps(df["arrival_time"]))
