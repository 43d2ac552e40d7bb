"""``labs data``: list the course datasets and generate them to files or Kafka.

    labs data list
    labs data generate clickstream --seed 1 --scale 10
    labs data generate ecommerce --format jsonl --out /tmp/shop
    labs data generate payments --format kafka --topic payments
"""

from __future__ import annotations

import argparse
import sys
import time

from .catalog import NAMES


def register(subparsers) -> None:
    """Add ``labs data list`` and ``labs data generate`` to the ``labs`` command line."""
    parser = subparsers.add_parser("data", help="list and generate the course datasets",
                                   description="Seeded, deterministic datasets for the labs.")
    actions = parser.add_subparsers(dest="data_command", metavar="ACTION")
    actions.required = True

    actions.add_parser("list", help="the datasets, one line each").set_defaults(func=list_datasets)

    gen = actions.add_parser("generate", help="write a dataset to files or a Kafka topic",
                             description="Generate a dataset (same seed and scale, same data) and write it.")
    gen.add_argument("name", choices=NAMES, help="dataset to generate")
    gen.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    gen.add_argument("--scale", type=_positive, default=1.0,
                     help="size factor; 1 is about 10,000 rows, 100 about a million (default: 1)")
    gen.add_argument("--format", dest="fmt", choices=("parquet", "jsonl", "kafka"), default="parquet",
                     help="output format (default: parquet)")
    gen.add_argument("--out", metavar="DIR", help="output folder for files (default: LABS_DATA_DIR, var/data)")
    gen.add_argument("--topic", metavar="T", help="Kafka topic (default: the dataset name; '<T>.<table>' for "
                                                  "datasets of several tables)")
    gen.set_defaults(func=generate)


def list_datasets(args: argparse.Namespace) -> int:
    from . import describe

    width = max(map(len, NAMES))
    for name in NAMES:
        print(f"{name:<{width}}  {describe(name)}")
    return 0


def generate(args: argparse.Namespace) -> int:
    from .export import write

    began = time.perf_counter()
    written = write(args.name, args.fmt, seed=args.seed, scale=args.scale, out_dir=args.out, topic=args.topic,
                    progress=args.fmt == "kafka" and sys.stderr.isatty())
    where = "topic" if args.fmt == "kafka" else "file"
    for table, target, rows in written:
        print(f"{table:<12} {rows:>10,} rows -> {where} {target}")
    print(f"{args.name} (seed {args.seed}, scale {args.scale:g}) written in {time.perf_counter() - began:.1f} s")
    return 0


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"scale must be positive, got {text}")
    return value
