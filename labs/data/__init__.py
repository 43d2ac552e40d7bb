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
import importlib.util
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

# public name -> (module, attribute); resolved on first access by __getattr__ below, like every
# ``generate_<dataset>`` (the ``generate`` of that dataset's module)
_EXPORTS = {
    "fraud_bursts": ("clickstream", "fraud_bursts"),
    "expected_balances": ("payments", "expected_balances"),
    "drift_start": ("timeseries", "drift_start"),
    **{fn: ("io", fn) for fn in ("to_parquet", "to_jsonl", "to_arrow", "to_kafka", "to_records",
                                 "KafkaUnavailableError")},
    "write": ("export", "write"),
}

__all__ = [
    "DATASETS", "NAMES", "dataset_module", "describe", "generate",
    "fraud_bursts", "expected_balances", "drift_start",
    "to_parquet", "to_jsonl", "to_arrow", "to_kafka", "to_records", "write", "KafkaUnavailableError",
]

if TYPE_CHECKING:
    from .clickstream import fraud_bursts
    from .export import write
    from .io import KafkaUnavailableError, to_arrow, to_jsonl, to_kafka, to_parquet, to_records
    from .payments import expected_balances
    from .timeseries import drift_start

    DATASETS: dict[str, Callable[..., Any]]
    NAMES: tuple[str, ...]

    def __getattr__(attr: str) -> Any: ...  # generate_<dataset>: that dataset's generate(seed, scale, **options)


def _names() -> tuple[str, ...]:
    # read from the catalog only by what looks a dataset up by name, so that a new dataset (a new module
    # and a new name in the catalog) changes nothing for a lab that uses ``generate_<other dataset>``
    return importlib.import_module(f"{__name__}.catalog").NAMES


def dataset_module(name: str) -> ModuleType:
    """The module of dataset ``name`` (it has ``generate`` and ``KAFKA_KEYS``)."""
    if name not in _names():
        raise KeyError(f"unknown dataset {name!r}; choose one of {', '.join(_names())}")
    return importlib.import_module(f"{__name__}.{name}")


def describe(name: str) -> str:
    """One line about dataset ``name`` (the first line of its documentation)."""
    return (dataset_module(name).__doc__ or "").strip().splitlines()[0]


def generate(name: str, seed: int = 0, scale: float = 1.0, **options):
    """Generate dataset ``name``: a DataFrame, or a dict of DataFrames for several tables."""
    return dataset_module(name).generate(seed=seed, scale=scale, **options)


def __getattr__(attr: str):
    dataset = attr[len("generate_"):] if attr.startswith("generate_") else ""
    if attr == "NAMES":
        value = _names()
    elif attr == "DATASETS":
        value = {name: dataset_module(name).generate for name in _names()}
    elif dataset.isidentifier() and importlib.util.find_spec(f"{__name__}.{dataset}") is not None:
        value = importlib.import_module(f"{__name__}.{dataset}").generate
    elif attr in _EXPORTS:
        module, name = _EXPORTS[attr]
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
    globals()[attr] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | {f"generate_{name}" for name in _names()})
