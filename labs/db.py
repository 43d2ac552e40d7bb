"""MariaDB helpers for notebooks and tests, on top of PyMySQL.

Connection settings come from ``labs.config`` (``LABS_MARIADB_DSN``). Labs give each run its
own database (``c1_<run>``) so that runs never see each other's tables and the closing cell
can drop everything at once.
"""

from __future__ import annotations

import re

import pymysql

from labs import config, runs

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


def drop_databases_where(match) -> list[str]:
    """Drop every database whose name ``match(name)`` accepts; returns the dropped names."""
    with connect() as conn, conn.cursor() as cur:
        cur.execute("SHOW DATABASES")
        doomed = [row[0] for row in cur.fetchall() if match(row[0])]
        for name in doomed:
            cur.execute(f"DROP DATABASE IF EXISTS `{_checked(name)}`")
    return doomed


def drop_databases(prefix: str) -> list[str]:
    """Drop every database whose name starts with ``prefix``; returns the dropped names."""
    return drop_databases_where(lambda name: name.startswith(prefix))


def query(sql: str, args=None, database: str | None = None) -> list[tuple]:
    """Run one statement on a fresh connection and return all rows."""
    with connect(database) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())


def create_run_account(run: str) -> str:
    """A MariaDB account for one run that may only touch databases whose name contains ``run``
    (it can create them, and grant on them, e.g. to Debezium), with a database of its own.
    Returns the DSN for ``LABS_MARIADB_DSN``. The grader gives one to each submission, so a
    submission cannot read or drop what is not its own."""
    import secrets

    user, password, home = runs.account(run), secrets.token_hex(16), runs.home_database(run)
    with connect() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        cur.execute(f"GRANT ALL PRIVILEGES ON `%{run}%`.* TO '{user}'@'%' WITH GRANT OPTION")
        cur.execute(f"CREATE DATABASE IF NOT EXISTS `{home}` CHARACTER SET utf8mb4")
    settings = config.mariadb()
    return f"mysql://{user}:{password}@{settings.host}:{settings.port}/{home}"


_GRANT = re.compile(r"^GRANT (?P<privs>.+?) ON (?P<object>`(?P<db>[^`]+)`\.\S+) TO (?P<who>\S+)")


def drop_run_accounts(match) -> list[str]:
    """Drop the per-run accounts whose run id ``match(name)`` accepts, and revoke what any account
    was granted on databases ``match`` accepts (grants outlive a dropped database)."""
    dropped = []
    with connect() as conn, conn.cursor() as cur:
        try:
            cur.execute("SELECT User, Host FROM mysql.user")
        except (pymysql.err.OperationalError, pymysql.err.ProgrammingError):
            return dropped  # an account without access to the grant tables (a graded run): nothing to do
        accounts = cur.fetchall()
        for user, host in accounts:
            if re.fullmatch(rf"run_{runs.ID}", user) and match(user):
                cur.execute(f"DROP USER IF EXISTS '{user}'@'{host}'")
                dropped.append(user)
                continue
            try:
                cur.execute(f"SHOW GRANTS FOR '{user}'@'{host}'")
            except pymysql.err.OperationalError:  # e.g. system accounts with no grants of their own
                continue
            for (line,) in cur.fetchall():
                grant = _GRANT.match(line)
                if grant and grant["db"] != "*" and match(grant["db"]):
                    privs = grant["privs"].replace(" WITH GRANT OPTION", "")
                    cur.execute(f"REVOKE {privs} ON {grant['object']} FROM '{user}'@'{host}'")
    return dropped


def table_image(database: str, table: str) -> dict:
    """``{primary key tuple: {column: value as text or None}}`` of ``database.table``, without
    bookkeeping columns (names starting with "_"): what a change-data sink should hold. DATETIME
    values become what Debezium's JSON sends: epoch milliseconds for DATETIME(0..3), epoch
    microseconds for DATETIME(4..6). A missing table gives {}."""
    from datetime import datetime, timedelta

    with connect(database) as conn, conn.cursor() as cur:
        cur.execute("SELECT COLUMN_NAME, DATA_TYPE, DATETIME_PRECISION, COLUMN_KEY FROM information_schema.COLUMNS "
                    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION", (table,))
        cols = [c for c in cur.fetchall() if not c[0].startswith("_")]
        if not cols:
            return {}
        cur.execute(f"SELECT {', '.join(f'`{c[0]}`' for c in cols)} FROM `{_checked(table)}`")
        rows = cur.fetchall()
    unit = {c[0]: (timedelta(milliseconds=1) if (c[2] or 0) <= 3 else timedelta(microseconds=1))
            for c in cols if c[1] == "datetime"}
    key_idx = [i for i, c in enumerate(cols) if c[3] == "PRI"]

    def text(name, value):
        if value is None:
            return None
        if name in unit:
            value = (value - datetime(1970, 1, 1)) // unit[name]
        return str(value)

    return {tuple(str(r[i]) for i in key_idx): {c[0]: text(c[0], v) for c, v in zip(cols, r, strict=True)}
            for r in rows}
