"""labs.data: the dataset generators and writers (no services needed)."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pandas.testing import assert_frame_equal

import labs.data as data
from labs import cli
from labs.data import io

TS = "datetime64[ns, UTC]"
SCHEMAS = {
    "clickstream": {"event_id": "int64", "user_id": "int64", "session_id": "int64", "event_time": TS,
                    "event_type": "object", "page": "object", "product_id": "Int64", "amount": "float64",
                    "is_fraud": "bool"},
    "customers": {"customer_id": "int64", "name": "object", "email": "object", "country": "object",
                  "signup_time": TS},
    "products": {"product_id": "int64", "sku": "object", "category": "object", "price": "float64"},
    "orders": {"order_id": "int64", "version": "int64", "customer_id": "int64", "product_id": "int64",
               "quantity": "int64", "amount": "float64", "status": "object", "order_time": TS, "ingest_time": TS,
               "is_late": "bool", "is_correction": "bool"},
    "payments": {"payment_id": "object", "account_id": "int64", "kind": "object", "amount_cents": "int64",
                 "currency": "object", "event_time": TS, "sequence": "int64", "balance_after": "int64",
                 "delivery_time": TS, "delivery_offset": "int64", "is_duplicate": "bool"},
    "iot": {"device_id": "int64", "sensor_type": "object", "unit": "object", "seq": "int64", "event_time": TS,
            "arrival_time": TS, "value": "float64", "battery": "float64"},
    "rides": {"event_id": "int64", "ride_id": "int64", "rider_id": "int64", "driver_id": "Int64",
              "event_type": "object", "event_time": TS, "lat": "float64", "lon": "float64", "fare": "float64"},
    "transactions": {"trade_id": "int64", "symbol": "object", "side": "object", "price": "float64", "qty": "int64",
                     "event_time": TS, "arrival_time": TS},
    "txns": {"txn_id": "object", "account_id": "int64", "merchant_id": "Int64", "amount": "float64",
             "currency": "object", "merchant_country": "object", "channel": "object", "card_last4": "object",
             "status": "object", "event_time": TS, "ingest_time": TS, "defect": "object"},
    "merchants": {"merchant_id": "int64", "name": "object", "country": "object", "category": "object"},
    "accounts": {"account_id": "int64", "country": "object", "currency": "object", "opened": TS},
    "metric": {"timestamp": TS, "orders": "int64"},
    "incidents": {"incident_id": "int64", "start": TS, "end": TS, "drop": "float64", "on_holiday": "bool"},
    "holidays": {"date": TS, "name": "object"},
    "shopevents": {"seq": "int64", "arrival": TS, "key": "object", "raw": "object", "kind": "object"},
    "timeseries": {"timestamp": TS, "value": "float64", "is_anomaly": "bool", "anomaly_type": "object",
                   "after_drift": "bool"},
}
MAIN_TABLE = {"ecommerce": "orders", "cardtxns": "txns", "incidents": "metric"}


def tables(name: str, seed: int = 0, scale: float = 1.0, **options) -> dict[str, pd.DataFrame]:
    out = data.generate(name, seed=seed, scale=scale, **options)
    return out if isinstance(out, dict) else {name: out}


def main_table(name: str, **kwargs) -> pd.DataFrame:
    return tables(name, **kwargs)[MAIN_TABLE.get(name, name)]


@pytest.fixture(scope="module")
def default() -> dict[str, dict[str, pd.DataFrame]]:
    """Every dataset at seed 0, scale 1, generated once for the read-only checks."""
    return {name: tables(name) for name in data.NAMES}


# --- properties shared by every dataset -------------------------------------------------------------------------

def test_registry_lists_every_dataset():
    assert list(data.DATASETS) == list(data.NAMES)
    for name, fn in data.DATASETS.items():
        assert callable(fn) and fn is getattr(data, f"generate_{name}")
        assert data.describe(name)
    for public in data.__all__:
        assert getattr(data, public) is not None
    with pytest.raises(KeyError, match="unknown dataset"):
        data.generate("nope")


def test_import_is_light():
    code = "import sys, labs.data, labs.data.commands; sys.exit('pandas' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.parametrize("name", data.NAMES)
def test_same_seed_same_data(name):
    first, second = tables(name, seed=7), tables(name, seed=7)
    assert first.keys() == second.keys()
    for table in first:
        assert_frame_equal(first[table], second[table])
        assert first[table].attrs == second[table].attrs


@pytest.mark.parametrize("name", data.NAMES)
def test_different_seed_different_data(name):
    assert not main_table(name, seed=1).equals(main_table(name, seed=2))


@pytest.mark.parametrize("name", data.NAMES)
def test_global_random_state_neither_used_nor_changed(name):
    np.random.seed(1)
    before = np.random.get_state()[1].copy()
    first = main_table(name, seed=3)
    assert (np.random.get_state()[1] == before).all()
    np.random.seed(2)
    assert_frame_equal(first, main_table(name, seed=3))


@pytest.mark.parametrize("name", data.NAMES)
def test_size_grows_linearly_with_scale(name):
    small, large = tables(name, scale=1), tables(name, scale=4)
    for table in small:
        assert 3.5 <= len(large[table]) / len(small[table]) <= 4.5, table
    assert 5_000 <= len(main_table(name)) <= 15_000


@pytest.mark.parametrize("name", data.NAMES)
def test_documented_columns_and_dtypes(name, default):
    doc = data.dataset_module(name).__doc__
    for table, df in default[name].items():
        assert {column: str(dtype) for column, dtype in df.dtypes.items()} == SCHEMAS[table]
        for column in df.columns:
            assert re.search(rf"^{column}\s", doc, re.MULTILINE), f"{column} is not documented"


@pytest.mark.parametrize("name", data.NAMES)
def test_tiny_scale_still_works(name):
    assert all(len(df) > 0 for df in tables(name, scale=0.01).values())


def test_scale_must_be_positive():
    with pytest.raises(ValueError, match="scale"):
        data.generate("iot", scale=0)


# --- injected properties, dataset by dataset ---------------------------------------------------------------------

def events_in_last_minute(df: pd.DataFrame) -> pd.Series:
    """For each event, how many events of the same user happened in the 60 s up to it."""
    d = df.sort_values(["user_id", "event_time"])
    key = d["user_id"].to_numpy() * 10**13 + d["event_time"].astype("int64").to_numpy() // 10**6
    return pd.Series(np.arange(len(d)) - np.searchsorted(key, key - 60_000) + 1, index=d.index)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clickstream_fraud_bursts_are_labelled_and_detectable(seed):
    df = data.generate_clickstream(seed=seed)
    bursts = data.fraud_bursts(df)
    assert 1 <= len(bursts) and bursts["user_id"].is_unique
    assert df.attrs["fraud_bursts"] == io.to_records(bursts.drop(columns="session_id"))
    for b in bursts.itertuples():
        window = df[(df["user_id"] == b.user_id) & df["event_time"].between(b.start, b.end)]
        assert window["is_fraud"].sum() == b.events >= 40
        assert (b.end - b.start).total_seconds() <= 120
        assert b.events / max((b.end - b.start).total_seconds(), 1) > 0.3  # events per second
    # A simple detector (20+ events of one user within a minute) finds every burst and nothing else.
    flagged = events_in_last_minute(df) >= 20
    assert set(df.loc[flagged, "user_id"]) == set(bursts["user_id"])
    assert df.loc[flagged, "is_fraud"].all()


def test_clickstream_users_are_skewed_and_events_consistent(default):
    df = default["clickstream"]["clickstream"]
    counts = df["user_id"].value_counts()
    assert counts.index[0] == 1 and counts.iloc[0] > 20 * counts.median()
    assert df["event_id"].is_monotonic_increasing and df["event_time"].is_monotonic_increasing
    assert df["amount"].notna().equals(df["event_type"] == "purchase") and (df["amount"].dropna() > 0).all()
    assert df["product_id"].isna().equals(df["page"].isin(["home", "search", "category"]))
    assert set(df["event_type"]) == {"view", "click", "add_to_cart", "purchase"}
    assert df.groupby("session_id")["user_id"].nunique().eq(1).all()


def test_ecommerce_keys_late_records_and_corrections(default):
    shop = default["ecommerce"]
    customers, products, orders = shop["customers"], shop["products"], shop["orders"]
    assert customers["customer_id"].is_unique and products["product_id"].is_unique and customers["email"].is_unique
    assert orders["customer_id"].isin(customers["customer_id"]).all()
    assert orders["product_id"].isin(products["product_id"]).all()
    assert not orders.duplicated(["order_id", "version"]).any()
    assert orders["ingest_time"].is_monotonic_increasing
    first = orders.merge(customers, on="customer_id")
    assert (first["signup_time"] < first["order_time"]).all()
    popularity = orders.loc[orders["version"] == 1, "product_id"].value_counts()
    assert popularity.index[0] == 1 and popularity.iloc[0] > 10 * popularity.median()

    lag = orders["ingest_time"] - orders["order_time"]
    late = orders[orders["is_late"]]
    assert 0.01 < len(late) / orders["order_id"].nunique() < 0.06 and (late["version"] == 1).all()
    assert (lag[orders["is_late"]] > pd.Timedelta("1h")).all()
    assert (lag[(orders["version"] == 1) & ~orders["is_late"]] < pd.Timedelta("1min")).all()
    assert (orders["order_time"].diff() < -pd.Timedelta("1h")).any()  # late rows come after newer orders

    assert orders["is_correction"].equals(orders["version"] > 1)
    fixes = orders[orders["is_correction"]]
    assert 0.03 < fixes["order_id"].nunique() / orders["order_id"].nunique() < 0.07 and (fixes["version"] == 3).any()
    previous = orders.assign(version=orders["version"] + 1)
    pairs = fixes.merge(previous, on=["order_id", "version"], suffixes=("", "_before"), validate="one_to_one")
    assert len(pairs) == len(fixes)  # every correction follows the version before it
    assert (pairs["ingest_time"] > pairs["ingest_time_before"]).all()
    assert (pairs["order_time"] == pairs["order_time_before"]).all()
    assert ((pairs["amount"] < pairs["amount_before"]) | (pairs["status"] != pairs["status_before"])).all()
    assert set(pairs["status"]) >= {"cancelled", "refunded"}


def test_payments_duplicates_out_of_order_and_balances(default):
    df = default["payments"]["payments"]
    assert (df["delivery_offset"] == np.arange(len(df))).all() and df["delivery_time"].is_monotonic_increasing
    dups = df[df["is_duplicate"]]
    assert 0.03 < len(dups) / len(df) < 0.07
    assert df["is_duplicate"].equals(df["payment_id"].duplicated())
    content = [c for c in df.columns if c not in ("delivery_time", "delivery_offset", "is_duplicate")]
    originals = df[~df["is_duplicate"]].set_index("payment_id")
    assert_frame_equal(dups.set_index("payment_id")[content[1:]], originals.loc[dups["payment_id"], content[1:]])

    unique = df[~df["is_duplicate"]]
    assert (unique.groupby("account_id")["sequence"].agg(lambda s: sorted(s) == list(range(1, len(s) + 1)))).all()
    assert unique.groupby("account_id")["currency"].nunique().eq(1).all()
    by_time = unique.sort_values(["account_id", "event_time"])
    assert by_time.groupby("account_id")["sequence"].is_monotonic_increasing.all()
    inversions = unique.groupby("account_id")["sequence"].agg(lambda s: (s.diff() < 0).sum())
    assert inversions.sum() > 10  # delivered out of sequence order
    assert (df["amount_cents"] > 0).all() and set(df["kind"]) == {"credit", "debit"}
    assert (unique.loc[unique["sequence"] == 1, "kind"] == "credit").all()

    # The running balance, re-computed from unique payments in sequence order, matches the helper.
    signed = unique["amount_cents"].where(unique["kind"] == "credit", -unique["amount_cents"])
    ordered = unique.assign(signed=signed).sort_values(["account_id", "sequence"])
    assert (ordered.groupby("account_id")["signed"].cumsum() == ordered["balance_after"]).all()
    final = ordered.groupby("account_id")["balance_after"].last()
    expected = data.expected_balances(df).set_index("account_id")
    assert (final == expected["balance_cents"]).all()
    naive = df.assign(signed=df["amount_cents"].where(df["kind"] == "credit", -df["amount_cents"]))
    assert not naive.groupby("account_id")["signed"].sum().equals(expected["balance_cents"])


def test_iot_gaps_nulls_and_late_arrivals(default):
    df = default["iot"]["iot"]
    assert df["arrival_time"].is_monotonic_increasing and (df["arrival_time"] > df["event_time"]).all()
    assert not df.groupby("device_id")["event_time"].is_monotonic_increasing.all()  # out-of-order arrival
    assert not df.duplicated(["device_id", "seq"]).any()
    present = df.groupby("device_id")["seq"].agg(["count", "max"])
    assert (present["count"] < present["max"] + 1).all()  # every device misses readings
    assert 0 < df["value"].isna().mean() < 0.02
    assert df.groupby("device_id")[["sensor_type", "unit"]].nunique().eq(1).all().all()
    units = {"temperature": "celsius", "humidity": "percent", "pressure": "hPa", "co2": "ppm"}
    assert (df["unit"] == df["sensor_type"].map(units)).all()
    ranges = {"temperature": (5, 40), "humidity": (10, 90), "pressure": (980, 1040), "co2": (300, 1200)}
    for sensor, (low, high) in ranges.items():
        assert df.loc[df["sensor_type"] == sensor, "value"].dropna().between(low, high).all(), sensor
    assert df["battery"].between(0, 100).all()
    ordered = df.sort_values(["device_id", "seq"])
    assert (ordered.groupby("device_id")["battery"].agg(lambda b: b.iloc[-1] < b.iloc[0])).all()


def test_rides_lifecycles_are_consistent(default):
    df = default["rides"]["rides"]
    assert df["event_time"].is_monotonic_increasing and df["event_id"].is_unique
    paths = df.groupby("ride_id")["event_type"].agg(tuple)
    allowed = {("requested", "accepted", "started", "completed"), ("requested", "cancelled"),
               ("requested", "accepted", "cancelled")}
    assert set(paths) == allowed
    assert (paths == ("requested", "accepted", "started", "completed")).mean() > 0.75
    assert df.groupby("ride_id")["event_time"].agg(lambda t: t.diff().dropna().gt(pd.Timedelta(0)).all()).all()
    assert df.groupby("ride_id")[["rider_id"]].nunique().eq(1).all().all()
    assert df.groupby("ride_id")["driver_id"].nunique().le(1).all()
    assert df.loc[df["event_type"].isin(["accepted", "started", "completed"]), "driver_id"].notna().all()
    assert df.loc[df["event_type"] == "requested", "driver_id"].isna().all()
    assert df["fare"].notna().equals(df["event_type"] == "completed") and (df["fare"].dropna() > 2.5).all()
    assert df["lat"].between(40.70, 40.80).all() and df["lon"].between(-74.02, -73.93).all()
    # No driver is on two rides at once.
    busy = (df.dropna(subset=["driver_id"]).groupby("ride_id")
            .agg(driver=("driver_id", "first"), start=("event_time", "min"), end=("event_time", "max"))
            .sort_values(["driver", "start"]))
    assert not (busy["start"] <= busy.groupby("driver")["end"].shift()).any()


def test_transactions_out_of_order_and_skewed(default):
    df = default["transactions"]["transactions"]
    assert df["arrival_time"].is_monotonic_increasing and (df["arrival_time"] >= df["event_time"]).all()
    assert not df["trade_id"].is_monotonic_increasing and not df["event_time"].is_monotonic_increasing
    assert df.sort_values("trade_id")["event_time"].is_monotonic_increasing and df["trade_id"].is_unique
    late = df["arrival_time"] - df["event_time"] > pd.Timedelta("1s")
    assert 0.01 < late.mean() < 0.04
    assert (df["event_time"].cummax() - df["event_time"] > pd.Timedelta("1s")).any()  # overtaken by newer trades
    counts = df["symbol"].value_counts()
    assert counts.index[0] == "ACME" and counts.iloc[0] > 10 * counts.iloc[-1]
    assert (df["price"] > 0).all() and (df["qty"] > 0).all() and set(df["side"]) == {"buy", "sell"}
    times = df["event_time"]
    assert (times.dt.dayofweek < 5).all()
    minutes = times.dt.hour * 60 + times.dt.minute
    assert minutes.between(14 * 60 + 30, 21 * 60).all()
    moves = df.sort_values("trade_id").groupby("symbol")["price"].agg(lambda p: (p.pct_change().abs() < 0.05).mean())
    assert (moves > 0.95).all()  # a random walk, not independent draws


def test_cardtxns_defects_are_labelled_at_their_rates_and_detectable(default):
    from labs.data import cardtxns

    d = default["cardtxns"]
    tx, merchants, accounts = d["txns"], d["merchants"].set_index("merchant_id"), d["accounts"].set_index("account_id")
    assert tx["ingest_time"].is_monotonic_increasing
    share = tx["defect"].value_counts(normalize=True)
    for name, rate in cardtxns.DEFECT_RATES.items():
        assert 0.5 * rate < share.get(name, 0) < 1.6 * rate, (name, share.get(name, 0))
    # every labelled defect is found by its own rule, and no clean row breaks any rule
    known = tx["merchant_id"].isin(merchants.index).fillna(False).astype(bool)
    lag = (tx["ingest_time"] - tx["event_time"]).dt.total_seconds()
    ref_country = tx["merchant_id"].map(merchants["country"].to_dict())
    rules = {
        "null_amount": tx["amount"].isna(),
        "null_currency": tx["currency"].isna(),
        "null_merchant": tx["merchant_id"].isna(),
        "out_of_range": (tx["amount"] <= 0) | (tx["amount"] > cardtxns.MAX_AMOUNT),
        "bad_currency": tx["currency"].notna() & ~tx["currency"].isin(cardtxns.CURRENCIES),
        "bad_card": ~tx["card_last4"].str.fullmatch(r"\d{4}"),
        "currency_mismatch": tx["currency"].isin(cardtxns.CURRENCIES)
        & (tx["currency"] != tx["account_id"].map(accounts["currency"])),
        "wrong_country": known & (tx["merchant_country"] != ref_country),
        "orphan_merchant": tx["merchant_id"].notna() & ~known,
        "late": lag > 3600,
        "future_time": lag < 0,
        "duplicate": tx["txn_id"].duplicated(),
    }
    for name, hit in rules.items():
        assert (hit.to_numpy() == (tx["defect"] == name).to_numpy()).all(), name
    content = [c for c in tx.columns if c not in ("ingest_time", "defect")]
    dups = tx[tx["defect"] == "duplicate"]
    firsts = tx.drop_duplicates("txn_id").set_index("txn_id")
    assert_frame_equal(dups.set_index("txn_id")[content[1:]], firsts.loc[dups["txn_id"], content[1:]])
    clean = data.generate_cardtxns(seed=3, scale=0.2, defect_rates={})["txns"]
    assert (clean["defect"] == "").all() and clean["txn_id"].is_unique
    with pytest.raises(ValueError, match="unknown defects"):
        data.generate_cardtxns(defect_rates={"typo": 0.1})


def test_shopevents_trouble_is_labelled_at_its_rates(default):
    import json

    feed = default["shopevents"]["shopevents"]
    assert feed["arrival"].is_monotonic_increasing and (feed["seq"] == range(len(feed))).all()
    share = feed["kind"].value_counts(normalize=True)
    assert 0.015 < share["bad"] < 0.045 and 0.015 < share["duplicate"] < 0.03 and 0.03 < share["late"] < 0.07
    parsed, broken = [], 0
    for raw, kind, arrival in zip(feed["raw"], feed["kind"], feed["arrival"], strict=True):
        try:
            event = json.loads(raw)
        except ValueError:
            assert kind == "bad"
            broken += 1
            continue
        if kind == "bad":
            continue
        lag = (arrival - pd.Timestamp(event["ts"])).total_seconds()
        assert lag > 0 and (kind == "duplicate" or (lag >= 3600) == (kind == "late")), (kind, lag)
        parsed.append(event)
    assert broken > 0
    ids = pd.Series([e["event_id"] for e in parsed])
    assert ids.duplicated().sum() == (feed["kind"] == "duplicate").sum()
    by_order = {}
    for e in parsed:
        if e["type"] in ("purchase", "correction"):
            by_order.setdefault(e["order"]["id"], []).append(e)
    corrected = [v for v in by_order.values() if any(e["type"] == "correction" for e in v)]
    assert corrected, "some orders are corrected"
    for versions in corrected:
        first = min(versions, key=lambda e: e["order"]["version"])
        assert first["type"] == "purchase" and all(e["ts"] >= first["ts"] for e in versions)
        assert all(e["order"]["amount"] <= first["order"]["amount"] for e in versions)


@pytest.mark.parametrize("drift", ["level", "variance", "both"])
def test_timeseries_anomalies_and_drift(drift):
    df = data.generate_timeseries(drift=drift)
    assert df["is_anomaly"].equals(df["anomaly_type"].notna())
    assert set(df["anomaly_type"].dropna()) == {"spike", "dip", "flatline"}
    start = data.drift_start(df)
    assert df.attrs["drift_start"] == io.to_records(pd.DataFrame({"t": [start]}))[0]["t"]
    assert df["after_drift"].equals(df["timestamp"] >= start)
    week = pd.Timedelta("7D")
    normal = df[~df["is_anomaly"]]
    before = normal[normal["timestamp"].between(start - week, start, inclusive="left")]["value"]
    after = normal[normal["timestamp"].between(start, start + week, inclusive="left")]["value"]
    level_moved = after.mean() - before.mean() > 15
    noise_grew = after.diff().std() > 2 * before.diff().std()
    assert (level_moved, noise_grew) == {"level": (True, False), "variance": (False, True), "both": (True, True)}[drift]

    residual = df["value"] - df["value"].rolling(25, center=True, min_periods=1).median()
    sigma = np.where(df["after_drift"] & (drift != "level"), 9.0, 3.0)
    spikes = df["anomaly_type"] == "spike"
    assert (residual[spikes] > 4 * sigma[spikes]).all()
    assert (residual[df["anomaly_type"] == "dip"] < -4 * sigma[df["anomaly_type"] == "dip"]).all()
    flat = df["anomaly_type"] == "flatline"
    runs = (flat != flat.shift()).cumsum()[flat]
    assert df.loc[flat].groupby(runs)["value"].nunique().eq(1).all()
    assert df.loc[flat].groupby(runs).size().ge(12).all()


def test_timeseries_has_daily_and_weekly_seasonality(default):
    df = default["timeseries"]["timeseries"]
    normal = df[~df["is_anomaly"] & ~df["after_drift"]]
    hour = normal["timestamp"].dt.hour
    assert normal.loc[hour == 12, "value"].mean() - normal.loc[hour == 0, "value"].mean() > 20
    weekend = normal["timestamp"].dt.dayofweek >= 5
    assert normal.loc[~weekend, "value"].mean() - normal.loc[weekend, "value"].mean() > 10


# --- writers and the command line --------------------------------------------------------------------------------

def normalized(df: pd.DataFrame) -> pd.DataFrame:
    """Nulls as None in text columns and nanosecond timestamps, for comparisons after a round trip."""
    out = df.copy()
    for column, dtype in df.dtypes.items():
        if pd.api.types.is_object_dtype(dtype):
            out[column] = out[column].astype(object).where(out[column].notna(), None)
        elif str(dtype).startswith("datetime64"):
            out[column] = out[column].astype(TS)
    return out


@pytest.mark.parametrize("name", data.NAMES)
def test_parquet_round_trip(name, tmp_path):
    for table, df in tables(name, scale=0.2).items():
        path = data.to_parquet(df, tmp_path / "nested" / f"{table}.parquet")
        back = pd.read_parquet(path)
        assert_frame_equal(normalized(back), normalized(df))


@pytest.mark.parametrize("name", data.NAMES)
def test_jsonl_round_trip(name, tmp_path):
    for table, df in tables(name, scale=0.2).items():
        path = data.to_jsonl(df, tmp_path / "nested" / f"{table}.jsonl")
        lines = path.read_text().splitlines()
        assert len(lines) == len(df)
        first = json.loads(lines[0])
        for column, dtype in df.dtypes.items():
            if str(dtype).startswith("datetime64"):
                assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first[column])
        back = pd.read_json(path, lines=True, dtype=False).astype(df.dtypes.to_dict())
        assert_frame_equal(normalized(back), normalized(df))


def test_to_arrow_and_records():
    df = data.generate_rides(scale=0.05)
    table = data.to_arrow(df)
    assert isinstance(table, pa.Table) and table.num_rows == len(df) and table.column_names == list(df.columns)
    assert pa.types.is_timestamp(table.schema.field("event_time").type)
    records = data.to_records(df)
    assert len(records) == len(df)
    requested = next(r for r in records if r["event_type"] == "requested")
    assert requested["driver_id"] is None and requested["fare"] is None
    assert requested["event_time"].endswith("Z")


def test_write_uses_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LABS_DATA_DIR", str(tmp_path / "data"))
    written = data.write("ecommerce", "parquet", seed=4, scale=0.1)
    assert [table for table, _, _ in written] == ["customers", "products", "orders"]
    for table, path, rows in written:
        assert path == str(tmp_path / "data" / "ecommerce" / f"{table}.parquet")
        assert len(pd.read_parquet(path)) == rows
    expected = data.generate("ecommerce", seed=4, scale=0.1)["orders"]
    assert_frame_equal(normalized(pd.read_parquet(written[2][1])), normalized(expected))


def test_write_jsonl_to_a_chosen_folder_with_options(tmp_path):
    [(table, path, rows)] = data.write("timeseries", "jsonl", seed=1, scale=0.1, out_dir=tmp_path, drift="both")
    assert (table, path) == ("timeseries", str(tmp_path / "timeseries" / "timeseries.jsonl"))
    assert rows == len(data.generate_timeseries(seed=1, scale=0.1)) == len(open(path).readlines())
    with pytest.raises(ValueError, match="unknown format"):
        data.write("timeseries", "csv")


def test_to_kafka_without_a_broker_says_how_to_start_one():
    with socket.socket() as s:  # a local port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    df = data.generate_iot(scale=0.01)
    with pytest.raises(data.KafkaUnavailableError, match="labs stack up") as info:
        data.to_kafka(df, "nowhere", bootstrap=f"127.0.0.1:{port}", bootstrap_timeout_ms=1_000)
    assert "LABS_KAFKA_BOOTSTRAP" in str(info.value) and f"127.0.0.1:{port}" in str(info.value)


def test_cli_lists_and_generates(tmp_path, capsys):
    assert cli.main(["data", "list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in data.NAMES)

    args = ["data", "generate", "payments", "--seed", "5", "--scale", "0.1", "--out", str(tmp_path)]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    path = tmp_path / "payments" / "payments.parquet"
    rows = len(pd.read_parquet(path))
    assert str(path) in out and f"{rows:,} rows" in out
    assert rows == len(data.generate_payments(seed=5, scale=0.1))

    assert cli.main(["data", "generate", "iot", "--format", "jsonl", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "iot" / "iot.jsonl").exists()
    with pytest.raises(SystemExit):
        cli.main(["data", "generate", "iot", "--scale", "-1"])
