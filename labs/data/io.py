"""Writers shared by all datasets: Parquet, JSON Lines, Arrow tables and Kafka topics.

Timestamps are written as ISO 8601 text in UTC with milliseconds
(``2026-01-05T08:30:00.000Z``) to JSON Lines and Kafka, and as microsecond UTC timestamps to
Parquet (the precision Spark reads). Missing values become ``null``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa

from .. import config
from ..errors import LabsError

CHUNK = 50_000  # rows turned into JSON at a time; also sent to Kafka between two checks of acknowledgements


class KafkaUnavailableError(LabsError, ConnectionError):
    """The Kafka broker does not answer at the bootstrap address."""


def _unavailable(bootstrap: str, exc: Exception) -> KafkaUnavailableError:
    return KafkaUnavailableError(
        f"Kafka is not reachable at {bootstrap} ({exc}). Start the local stack with `labs stack up`, "
        "or set LABS_KAFKA_BOOTSTRAP to the bootstrap servers of your Kafka cluster."
    )


def to_parquet(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` to a Parquet file (creating parent folders); returns the path."""
    path = _prepare(path)
    df.to_parquet(path, index=False, coerce_timestamps="us", allow_truncated_timestamps=True)
    return path


def to_jsonl(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as JSON Lines, one object per row (creating parent folders); returns the path."""
    path = _prepare(path)
    with path.open("w", encoding="utf-8") as out:
        for start in range(0, len(df), CHUNK):
            out.writelines(line + "\n" for line in _json_rows(df.iloc[start:start + CHUNK]))
    return path


def to_arrow(df: pd.DataFrame) -> pa.Table:
    """``df`` as a ``pyarrow.Table``, without the pandas index."""
    return pa.Table.from_pandas(df, preserve_index=False)


def to_records(df: pd.DataFrame) -> list[dict]:
    """The rows of ``df`` as JSON-ready dicts: ISO timestamps, ``None`` for missing values."""
    return [json.loads(row) for row in _json_rows(df)]


def to_kafka(
    df: pd.DataFrame,
    topic: str,
    key: str | None = None,
    bootstrap: str | None = None,
    value_serializer: Callable[[dict], bytes] | None = None,
    *,
    batch_size: int = 256 * 1024,
    linger_ms: int = 50,
    compression_type: str | None = None,
    progress: bool = False,
    **producer_config,
) -> int:
    """Send every row of ``df`` to ``topic`` as one record; returns how many were acknowledged.

    ``key`` names the column used as record key (its text, UTF-8 encoded; no key when
    omitted or missing). Values are JSON objects unless ``value_serializer`` turns the row
    dict (as from :func:`to_records`) into bytes. ``bootstrap`` defaults to
    ``labs.config.kafka_bootstrap()``. ``batch_size``, ``linger_ms``, ``compression_type``
    and any further ``producer_config`` go to ``kafka.KafkaProducer``. Raises
    :class:`KafkaUnavailableError` when no broker answers, and ``RuntimeError`` when the
    broker rejects records. Expect roughly 10,000 records per second from this pure-Python client.
    """
    from kafka import KafkaProducer
    from kafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
    from tqdm.auto import tqdm

    bootstrap = bootstrap or config.kafka_bootstrap()
    settings = {"bootstrap_timeout_ms": 10_000, **producer_config}
    try:
        producer = KafkaProducer(bootstrap_servers=bootstrap, batch_size=batch_size, linger_ms=linger_ms,
                                 compression_type=compression_type, **settings)
    except (KafkaConnectionError, KafkaTimeoutError) as exc:
        raise _unavailable(bootstrap, exc) from exc

    keys = [None] * len(df) if key is None else [None if pd.isna(v) else str(v).encode() for v in df[key]]
    sent, errors = 0, []
    try:
        with tqdm(total=len(df), unit="rec", desc=topic, disable=not progress) as bar:
            for start in range(0, len(df), CHUNK):
                rows = _json_rows(df.iloc[start:start + CHUNK])
                values = ([row.encode() for row in rows] if value_serializer is None
                          else [value_serializer(json.loads(row)) for row in rows])
                futures = [producer.send(topic, value=value, key=k)
                           for value, k in zip(values, keys[start:start + CHUNK], strict=True)]
                producer.flush()
                for future in futures:
                    try:
                        future.get()
                        sent += 1
                    except KafkaError as exc:
                        errors.append(exc)
                bar.update(len(futures))
    finally:
        producer.close()
    if errors:
        raise RuntimeError(f"{len(errors)} of {len(df)} records to topic {topic!r} failed, first: {errors[0]!r}")
    return sent


def _prepare(path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _json_rows(df: pd.DataFrame) -> list[str]:
    """Each row of ``df`` as one line of JSON text (newlines inside values are escaped)."""
    if df.empty:
        return []
    return df.to_json(orient="records", lines=True, date_format="iso", date_unit="ms").rstrip("\n").split("\n")
