"""Remove what notebook runs left on the stack: connectors, topics, consumer groups, schema subjects and databases.

Every lab names what it creates from its run id (``labs.runs``): topics ``s1-<run>-...``,
databases ``c1_<run>``, connectors ``c1-<run>-...``. A run that finishes cleans up in its last
cell; one that crashed, timed out or was interrupted does not, and a Debezium connector left
running keeps reading the binlog for ever. The grader sweeps each run's id after the run;
``labs sweep`` does it by hand.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from urllib.parse import urlparse

from labs import config, runs


@dataclass
class Swept:
    connectors: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return (len(self.connectors) + len(self.topics) + len(self.groups) + len(self.databases) + len(self.accounts)
                + len(self.subjects))

    def summary(self) -> str:
        parts = [f"{len(v)} {k}" for k, v in (("connector(s)", self.connectors), ("topic(s)", self.topics),
                                              ("consumer group(s)", self.groups),
                                              ("database(s)", self.databases),
                                              ("database account(s)", self.accounts),
                                              ("schema subject(s)", self.subjects)) if v]
        return ", ".join(parts) or "nothing"


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def sweep(run: str | None = None) -> Swept:
    """Delete every connector, topic, consumer group and database whose name contains ``run``
    (or, with ``run=None``, that any lab run created). Services that do not answer are skipped."""
    match, out = runs.matcher(run), Swept()
    connect = urlparse(config.connect_url())
    if _answers(connect.hostname, connect.port or 80):
        try:
            from labs import connectors

            out.connectors = [n for n in connectors.names() if match(n) and connectors.delete(n)]
            still = [n for n in connectors.names() if match(n)]
            if still:
                out.errors.append(f"connect: connectors still there after deletion: {', '.join(still)}")
        except Exception as exc:  # noqa: BLE001 (report, and go on with the other services)
            out.errors.append(f"connect: {exc}")
    host, _, port = config.kafka_bootstrap().split(",")[0].rpartition(":")
    if _answers(host, int(port)):
        try:
            from labs import kafka as lk

            out.topics = lk.delete_topics([t for t in lk.list_topics() if match(t)])
            still = [t for t in lk.list_topics() if match(t)]  # deleted, and not re-created since
            if still:
                out.errors.append(f"kafka: topics still there after deletion: {', '.join(still)}")
            client = lk.admin()
            try:
                # only empty groups: one whose members have not timed out yet expires on its own later
                empty = [g["group_id"] for g in client.list_groups()
                         if match(g["group_id"]) and g.get("group_state") in ("Empty", "Dead")]
                if empty:
                    result = client.delete_groups(empty)
                    pairs = result.items() if isinstance(result, dict) else result
                    out.groups = [g for g, err in pairs if err in (None, "OK") or getattr(err, "errno", 1) == 0]
            finally:
                client.close()
        except Exception as exc:  # noqa: BLE001
            out.errors.append(f"kafka: {exc}")
    address = urlparse(config.registry_url())
    if _answers(address.hostname, address.port or 80):
        try:
            from labs import registry

            # a run's subjects are soft-deleted (hidden, their schema texts kept): removing texts for good
            # while other runs register the same texts fails their registrations (see labs.registry);
            # `labs sweep --all`, run when no notebook runs, removes every run's subjects for good
            out.subjects = [s for s in registry.subjects(deleted=run is None) if match(s)]
            for subject in out.subjects:
                registry.delete_subject(subject, permanent=run is None)
            still = [s for s in registry.subjects() if match(s)]
            if still:
                out.errors.append(f"registry: subjects still there after deletion: {', '.join(still)}")
        except Exception as exc:  # noqa: BLE001
            out.errors.append(f"registry: {exc}")
    db = config.mariadb()
    if _answers(db.host, db.port):
        try:
            from labs import db as labs_db

            out.databases = labs_db.drop_databases_where(match)
            out.accounts = labs_db.drop_run_accounts(match)
        except Exception as exc:  # noqa: BLE001
            out.errors.append(f"mariadb: {exc}")
    return out


def register(sub) -> None:
    p = sub.add_parser("sweep", help="remove connectors, topics, groups and databases that lab runs left behind")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--run", metavar="ID", help="one run's id (the RUN a notebook printed, 8 hex digits)")
    which.add_argument("--all", action="store_true",
                       help="everything any lab run created (stop running notebooks first)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    swept = sweep(None if args.all else args.run)
    for kind in ("connectors", "topics", "groups", "databases", "accounts", "subjects"):
        for name in getattr(swept, kind):
            print(f"removed {kind[:-1]} {name}")
    for error in swept.errors:
        print(f"could not sweep {error}")
    print(f"removed {swept.summary()}")
    return 1 if swept.errors else 0


def run_environment(run: str) -> dict:
    """Environment for a graded run (when MariaDB answers): a DSN for an account that may only
    touch databases named after the run. ``sweep(run)`` removes the account afterwards."""
    db = config.mariadb()
    if not _answers(db.host, db.port):
        return {}
    from labs import db as labs_db

    return {"LABS_MARIADB_DSN": labs_db.create_run_account(run)}
