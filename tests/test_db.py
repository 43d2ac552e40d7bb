"""labs.db: per-run databases on the stack's MariaDB."""

from __future__ import annotations

import pytest

from labs import db


def test_create_query_drop(stack, unique):
    name = db.create_database(f"dbtest_{unique}")
    with db.connect(name) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY)")
        cur.execute("INSERT INTO t VALUES (1), (2)")
    assert db.query("SELECT COUNT(*) FROM t", database=name) == [(2,)]
    assert db.drop_databases(f"dbtest_{unique}") == [name]
    assert db.query("SHOW DATABASES LIKE %s", (name,)) == []


def test_names_are_checked():
    with pytest.raises(ValueError, match="letters, digits or underscores"):
        db.create_database("x`; DROP DATABASE labs; --")
