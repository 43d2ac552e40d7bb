"""Generate a dataset by name and write it in one go: as Parquet or JSON Lines files, or to Kafka.

A dataset of several tables gives one file (or topic) per table, ``<out_dir>/<dataset>/<table>.<ext>``
or ``<topic>.<table>``. This is what ``labs data generate`` runs.
"""

from __future__ import annotations

from pathlib import Path

from .. import config
from . import dataset_module
from .io import _unavailable, to_jsonl, to_kafka, to_parquet

FORMATS = ("parquet", "jsonl", "kafka")


def _ensure_topic(topic: str, bootstrap: str | None = None) -> None:
    """Create ``topic`` with the broker's default partitions and replication, unless it exists (brokers of the
    stack do not create topics on first use)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError, TopicAlreadyExistsError

    bootstrap = bootstrap or config.kafka_bootstrap()
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, bootstrap_timeout_ms=10_000)
    except (KafkaConnectionError, KafkaTimeoutError) as exc:
        raise _unavailable(bootstrap, exc) from exc
    try:
        admin.create_topics({topic: {}}, wait_for_metadata=True)
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()


def write(
    name: str, fmt: str = "parquet", seed: int = 0, scale: float = 1.0, out_dir: str | Path | None = None, *,
    topic: str | None = None, bootstrap: str | None = None, progress: bool = False, **options,
) -> list[tuple[str, str, int]]:
    """Generate dataset ``name`` and write it as ``fmt`` (``parquet``, ``jsonl`` or ``kafka``).

    Files go to ``out_dir`` (default ``labs.config.data_dir()``) as ``<name>/<table>.<ext>``;
    Kafka records go to topic ``topic`` (default ``name``, created when missing), or
    ``<topic>.<table>`` for a dataset of several tables, keyed by the dataset's natural key.
    ``options`` go to the generator. Returns ``(table, path or topic, rows)`` for each table written.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    module = dataset_module(name)
    data = module.generate(seed=seed, scale=scale, **options)
    tables = data if isinstance(data, dict) else {name: data}
    written = []
    for table, df in tables.items():
        if fmt == "kafka":
            target = (topic or name) if len(tables) == 1 else f"{topic or name}.{table}"
            _ensure_topic(target, bootstrap)
            to_kafka(df, target, key=module.KAFKA_KEYS.get(table), bootstrap=bootstrap, progress=progress)
        else:
            path = Path(out_dir or config.data_dir()) / name / f"{table}.{fmt}"
            target = str(to_parquet(df, path) if fmt == "parquet" else to_jsonl(df, path))
        written.append((table, target, len(df)))
    return written
