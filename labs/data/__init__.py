"""Seeded, deterministic generators of the course's datasets, and writers for them.

Each dataset is a module with ``generate(seed=0, scale=1.0, **options)``: about 10,000 rows
per unit of ``scale``, always the same rows for the same arguments.

>>> from labs.data import DATASETS, generate_clickstream, to_parquet
>>> events = generate_clickstream(seed=1, scale=0.1)
>>> orders = DATASETS["ecommerce"](seed=1)["orders"]

Importing this package is cheap and has no side effects: the dataset modules (and pandas)
load on first use of ``DATASETS``, a ``generate_<name>`` function, a helper or a writer.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

NAMES = ("clickstream", "ecommerce", "payments", "iot", "rides", "transactions", "timeseries", "cardtxns", "incidents")

# public name -> (module, attribute); resolved on first access by __getattr__ below
_EXPORTS = {
    **{f"generate_{name}": (name, "generate") for name in NAMES},
    "fraud_bursts": ("clickstream", "fraud_bursts"),
    "expected_balances": ("payments", "expected_balances"),
    "drift_start": ("timeseries", "drift_start"),
    **{fn: ("io", fn) for fn in ("to_parquet", "to_jsonl", "to_arrow", "to_kafka", "to_records", "write",
                                 "KafkaUnavailableError")},
}

__all__ = [
    "DATASETS", "NAMES", "dataset_module", "describe", "generate",
    "generate_clickstream", "generate_ecommerce", "generate_payments", "generate_iot", "generate_rides",
    "generate_transactions", "generate_timeseries", "generate_cardtxns", "generate_incidents",
    "fraud_bursts", "expected_balances", "drift_start",
    "to_parquet", "to_jsonl", "to_arrow", "to_kafka", "to_records", "write", "KafkaUnavailableError",
]

if TYPE_CHECKING:
    from .cardtxns import generate as generate_cardtxns
    from .clickstream import fraud_bursts
    from .clickstream import generate as generate_clickstream
    from .ecommerce import generate as generate_ecommerce
    from .incidents import generate as generate_incidents
    from .io import KafkaUnavailableError, to_arrow, to_jsonl, to_kafka, to_parquet, to_records, write
    from .iot import generate as generate_iot
    from .payments import expected_balances
    from .payments import generate as generate_payments
    from .rides import generate as generate_rides
    from .timeseries import drift_start
    from .timeseries import generate as generate_timeseries
    from .transactions import generate as generate_transactions

    DATASETS: dict[str, Callable[..., Any]]


def dataset_module(name: str) -> ModuleType:
    """The module of dataset ``name`` (it has ``generate`` and ``KAFKA_KEYS``)."""
    if name not in NAMES:
        raise KeyError(f"unknown dataset {name!r}; choose one of {', '.join(NAMES)}")
    return importlib.import_module(f"{__name__}.{name}")


def describe(name: str) -> str:
    """One line about dataset ``name`` (the first line of its documentation)."""
    return (dataset_module(name).__doc__ or "").strip().splitlines()[0]


def generate(name: str, seed: int = 0, scale: float = 1.0, **options):
    """Generate dataset ``name``: a DataFrame, or a dict of DataFrames for several tables."""
    return dataset_module(name).generate(seed=seed, scale=scale, **options)


def __getattr__(attr: str):
    if attr == "DATASETS":
        value = {name: dataset_module(name).generate for name in NAMES}
    elif attr in _EXPORTS:
        module, name = _EXPORTS[attr]
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
    globals()[attr] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
