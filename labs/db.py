"""MariaDB helpers for notebooks and tests, on top of PyMySQL.

Connection settings come from ``labs.config`` (``LABS_MARIADB_DSN``). Labs give each run its
own database (``c1_<run>``) so that runs never see each other's tables and the closing cell
can drop everything at once.
"""

from __future__ import annotations

import re

import pymysql

from labs import config

_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def _checked(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"database name {name!r}: use 1-64 letters, digits or underscores")
    return name


def connect(database: str | None = None, autocommit: bool = True, **kwargs) -> pymysql.connections.Connection:
    """A new connection to the course's MariaDB (``database`` defaults to the DSN's)."""
    settings = config.mariadb().connect_kwargs()
    settings["autocommit"] = autocommit
    if database is not None:
        settings["database"] = _checked(database)
    settings.setdefault("connect_timeout", 10)
    settings.update(kwargs)
    return pymysql.connect(**settings)


def create_database(name: str) -> str:
    """Create ``name`` if it does not exist (utf8mb4) and return it."""
    with connect() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS `{_checked(name)}` CHARACTER SET utf8mb4")
    return name


def drop_database(name: str) -> None:
    with connect() as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{_checked(name)}`")


def drop_databases(prefix: str) -> list[str]:
    """Drop every database whose name starts with ``prefix``; returns the dropped names."""
    with connect() as conn, conn.cursor() as cur:
        cur.execute("SHOW DATABASES")
        doomed = [row[0] for row in cur.fetchall() if row[0].startswith(prefix)]
    for name in doomed:
        drop_database(name)
    return doomed


def query(sql: str, args=None, database: str | None = None) -> list[tuple]:
    """Run one statement on a fresh connection and return all rows."""
    with connect(database) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())
