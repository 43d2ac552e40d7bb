"""A generated SQL pipeline: the shop's three raw tables and N transformation steps on top of them.

``generate(seed, steps)`` returns SQL text only, in the order it runs: three ``CREATE TABLE``
statements for the raw tables (``raw_customers``, ``raw_products``, ``raw_orders``, with the
columns of :mod:`labs.data.ecommerce`), then ``steps`` statements ``CREATE TABLE <name> AS ...``,
each reading the raw tables or tables made by earlier steps. Steps are named ``stg_NN``,
``int_NN`` and ``gold_NN`` (NN is the step's number, from 1) by where they sit in the pipeline.

The statements use what real transformation code uses: aliases, qualified and unqualified
column references, joins (self joins too), CTEs, subqueries in ``FROM``, ``GROUP BY`` with
aggregates and ``COUNT(*)``, window functions, ``CASE``, ``UNION ALL``, ``SELECT *`` and
``alias.*``, literals, ``WHERE`` and ``JOIN ... ON`` conditions on columns that are not
selected. Every statement runs in DuckDB (the types fit), so the pipeline can be executed
on the shop's data as well as parsed.

``column_graph(seed, steps)`` gives the column graph the generator built the statements from:
for every column of every table a step makes, ``"table.column"``, the set of ``"table.column"``
of the tables the step reads (never a CTE or subquery) that its defining expression reads
(through CTEs and subqueries; conditions in ``WHERE``, ``ON`` and ``GROUP BY`` do not count,
columns inside a window's ``PARTITION BY``/``ORDER BY`` do). Literals and ``COUNT(*)`` read none.
"""

from __future__ import annotations

import random

SOURCES = {
    "raw_customers": [("customer_id", "n", "BIGINT"), ("name", "t", "VARCHAR"), ("email", "t", "VARCHAR"),
                      ("country", "t", "VARCHAR"), ("signup_time", "d", "TIMESTAMP")],
    "raw_products": [("product_id", "n", "BIGINT"), ("sku", "t", "VARCHAR"), ("category", "t", "VARCHAR"),
                     ("price", "n", "DOUBLE")],
    "raw_orders": [("order_id", "n", "BIGINT"), ("version", "n", "BIGINT"), ("customer_id", "n", "BIGINT"),
                   ("product_id", "n", "BIGINT"), ("quantity", "n", "BIGINT"), ("amount", "n", "DOUBLE"),
                   ("status", "t", "VARCHAR"), ("order_time", "d", "TIMESTAMP"), ("ingest_time", "d", "TIMESTAMP")],
}
_WORDS = ["amount", "total", "qty", "label", "code", "score", "ratio", "flag", "tag", "value", "metric", "key",
          "region", "level", "bucket", "weight", "rank", "share", "note", "span"]


class _Col:
    """A column visible in a query scope: how to refer to it, its type, the physical columns it stands for."""

    def __init__(self, ref, typ, deps, name):
        self.ref, self.typ, self.deps, self.name = ref, typ, frozenset(deps), name


def _pick(rng, cols, typ):
    same = [c for c in cols if c.typ == typ]
    return rng.choice(same) if same else None


def _expr(rng, cols, typ):
    """An expression of type typ over cols: (sql, deps)."""
    n, t, d = _pick(rng, cols, "n"), _pick(rng, cols, "t"), _pick(rng, cols, "d")
    n2 = _pick(rng, cols, "n")
    options = []
    if typ == "n":
        if n:
            options += [(f"{n.ref}", n.deps), (f"{n.ref} * 2", n.deps), (f"ROUND({n.ref}, 2)", n.deps),
                        (f"COALESCE({n.ref}, 0)", n.deps), (f"{n.ref} + {n2.ref}", n.deps | n2.deps),
                        (f"ABS({n.ref} - {n2.ref})", n.deps | n2.deps),
                        (f"CASE WHEN {n.ref} > {n2.ref} THEN {n.ref} ELSE 0 END", n.deps | n2.deps),
                        (f"GREATEST({n.ref}, {n2.ref}, 1)", n.deps | n2.deps)]
        if t:
            options += [(f"LENGTH({t.ref})", t.deps)]
            if n:
                options += [(f"CASE WHEN {t.ref} LIKE 'a%' THEN {n.ref} ELSE -1 END", t.deps | n.deps)]
        if d:
            options += [(f"EXTRACT(year FROM {d.ref})", d.deps)]
    elif typ == "t":
        if t:
            t2 = _pick(rng, cols, "t")
            options += [(f"{t.ref}", t.deps), (f"UPPER({t.ref})", t.deps), (f"LOWER(TRIM({t.ref}))", t.deps),
                        (f"{t.ref} || '-' || {t2.ref}", t.deps | t2.deps), (f"COALESCE({t.ref}, 'n/a')", t.deps)]
        if n:
            options += [(f"CAST({n.ref} AS VARCHAR)", n.deps)]
            if t:
                options += [(f"CONCAT({t.ref}, '_', CAST({n.ref} AS VARCHAR))", t.deps | n.deps)]
    else:
        if d:
            options += [(f"{d.ref}", d.deps), (f"DATE_TRUNC('day', {d.ref})", d.deps),
                        (f"{d.ref} + INTERVAL 1 DAY", d.deps)]
    if not options or rng.random() < 0.08:       # a constant column: it reads nothing
        options = [{"n": ("1", frozenset()), "t": ("'static'", frozenset()),
                    "d": ("TIMESTAMP '2026-01-01 00:00:00'", frozenset())}[typ]]
    sql, deps = rng.choice(options)
    return sql, frozenset(deps)


class _Names:
    def __init__(self, rng):
        self.rng, self.used = rng, set()

    def reset(self, taken=()):
        self.used = set(taken)

    def new(self, hint=None):
        while True:
            name = hint if hint and hint not in self.used else f"{self.rng.choice(_WORDS)}_{self.rng.randint(1, 99)}"
            hint = None
            if name not in self.used:
                self.used.add(name)
                return name


def _on(rng, left, right):
    """A join condition: equal columns of one type, or TRUE when the two sides share no type."""
    for typ in rng.sample(["n", "n", "t", "d"], 4):
        a, b = _pick(rng, left, typ), _pick(rng, right, typ)
        if a and b:
            return f"{a.ref} = {b.ref}"
    return "TRUE"


def _scope(table, schema, alias, qualify=True):
    return [_Col(f"{alias}.{name}" if qualify else name, typ, {f"{table}.{name}"}, name)
            for name, typ in schema[table]]


def _items(rng, cols, names, k, keep_identity=0.35):
    """k select items over cols: list of (sql, name, type, deps)."""
    out = []
    for _ in range(k):
        present = {c.typ for c in cols}
        typ = rng.choice([t for t in ["n", "n", "t", "t", "d"] if t in present] or ["n"])
        if rng.random() < keep_identity:
            col = rng.choice(cols)
            if col.name not in names.used:
                names.used.add(col.name)
                bare = col.ref.split(".")[-1] == col.name
                out.append((col.ref if bare and rng.random() < 0.6 else f"{col.ref} AS {col.name}",
                            col.name, col.typ, col.deps))
                continue
        sql, deps = _expr(rng, cols, typ)
        name = names.new()
        out.append((f"{sql} AS {name}", name, typ, deps))
    return out


def _where(rng, cols):
    if rng.random() < 0.4:
        return ""
    col = rng.choice(cols)
    cond = {"n": f"{col.ref} >= 0", "t": f"{col.ref} IS NOT NULL", "d": f"{col.ref} > TIMESTAMP '2000-01-01'"}
    return f" WHERE {cond[col.typ]}"


def _build(seed, steps):
    rng = random.Random(f"sqlpipeline-{seed}-{steps}")
    schema = {t: [(c, typ) for c, typ, _ in cols] for t, cols in SOURCES.items()}
    statements = [f"CREATE TABLE {t} ({', '.join(f'{c} {sqltype}' for c, _, sqltype in cols)})"
                  for t, cols in SOURCES.items()]
    graph, names = {}, _Names(rng)
    tables = list(schema)
    shapes = ["select", "join", "cte", "subquery", "aggregate", "star", "union", "window"]
    for i in range(1, steps + 1):
        layer = "stg" if i <= steps * 0.4 else "int" if i <= steps * 0.8 else "gold"
        target = f"{layer}_{i:02d}"

        def source():
            recent = tables[-6:]
            return rng.choice(recent if rng.random() < 0.7 else tables)

        shape = shapes[(i - 1) % len(shapes)] if i <= len(shapes) else rng.choice(shapes)
        names.reset()
        p = source()
        if shape == "select":
            qualify = rng.random() < 0.5
            cols = _scope(p, schema, "a", qualify)
            items = _items(rng, cols, names, rng.randint(2, 6))
            from_ = f"{p} AS a" if qualify else p
            body = f"SELECT {', '.join(s for s, *_ in items)} FROM {from_}{_where(rng, cols)}"
        elif shape == "star" and len(schema[p]) <= 9:
            names.reset(c for c, _ in schema[p])
            if rng.random() < 0.5:                      # SELECT *, ... over one table
                cols = _scope(p, schema, "a", qualify=False)
                extra = _items(rng, cols, names, rng.randint(1, 3), keep_identity=0)
                body = f"SELECT *, {', '.join(s for s, *_ in extra)} FROM {p}{_where(rng, cols)}"
            else:                                       # SELECT a.*, b.... over a join
                q = source()
                left, right = _scope(p, schema, "a"), _scope(q, schema, "b")
                on = _on(rng, left, right)
                extra = _items(rng, right, names, rng.randint(1, 3), keep_identity=0.5)
                body = (f"SELECT a.*, {', '.join(s for s, *_ in extra)} FROM {p} AS a JOIN {q} AS b ON {on}"
                        f"{_where(rng, left + right)}")
            items = [(c, c, typ, {f"{p}.{c}"}) for c, typ in schema[p]] + extra
        elif shape in ("join", "star"):
            q = source()
            left, right = _scope(p, schema, "a"), _scope(q, schema, "b")
            on = _on(rng, left, right)
            items = _items(rng, left + right, names, rng.randint(3, 7))
            body = (f"SELECT {', '.join(s for s, *_ in items)} FROM {p} AS a JOIN {q} AS b ON {on}"
                    f"{_where(rng, left + right)}")
        elif shape in ("cte", "subquery"):
            inner_cols = _scope(p, schema, "a")
            inner = _items(rng, inner_cols, names, rng.randint(2, 5))
            inner_sql = f"SELECT {', '.join(s for s, *_ in inner)} FROM {p} AS a{_where(rng, inner_cols)}"
            alias = "w" if shape == "cte" else "s"
            mid = [_Col(f"{alias}.{n}", typ, deps, n) for _, n, typ, deps in inner]
            names.reset()
            extra_from = ""
            scope = mid
            if rng.random() < 0.4:
                q = source()
                right = _scope(q, schema, "b")
                key_m, key_b = _pick(rng, mid, "n"), _pick(rng, right, "n")
                if key_m and key_b:
                    extra_from = f" JOIN {q} AS b ON {key_m.ref} = {key_b.ref}"
                    scope = mid + right
            items = _items(rng, scope, names, rng.randint(2, 5))
            select = f"SELECT {', '.join(s for s, *_ in items)}"
            if shape == "cte":
                body = f"WITH w AS ({inner_sql}) {select} FROM w{extra_from}"
            else:
                body = f"{select} FROM ({inner_sql}) AS s{extra_from}"
        elif shape == "aggregate":
            cols = _scope(p, schema, "a")
            keys = rng.sample(cols, min(len(cols), rng.randint(1, 2)))
            names.reset()
            items = []
            for key in keys:
                names.used.add(key.name)
                items.append((key.ref, key.name, key.typ, key.deps))
            nums = [c for c in cols if c.typ == "n"] or cols
            for _ in range(rng.randint(1, 3)):
                c = rng.choice(nums)
                fn = rng.choice(["SUM", "AVG", "MIN", "MAX"]) if c.typ == "n" else rng.choice(["MIN", "MAX"])
                name = names.new()
                expr = f"{fn}({c.ref})" if rng.random() < 0.6 or c.typ != "n" else f"{fn}({c.ref} * 2)"
                items.append((f"{expr} AS {name}", name, c.typ if fn in ("MIN", "MAX") else "n", c.deps))
            if rng.random() < 0.7:
                name = names.new("row_count")
                items.append((f"COUNT(*) AS {name}", name, "n", frozenset()))
            if rng.random() < 0.4:
                c = rng.choice(cols)
                name = names.new()
                items.append((f"COUNT(DISTINCT {c.ref}) AS {name}", name, "n", c.deps))
            body = (f"SELECT {', '.join(s for s, *_ in items)} FROM {p} AS a{_where(rng, cols)} "
                    f"GROUP BY {', '.join(k.ref for k in keys)}")
        elif shape == "union":
            q = source()
            left, right = _scope(p, schema, "a"), _scope(q, schema, "b")
            items, right_items = [], []
            for _ in range(rng.randint(2, 4)):
                typ = rng.choice(["n", "t", "d"])
                name = names.new()
                sql_l, deps_l = _expr(rng, left, typ)
                sql_r, deps_r = _expr(rng, right, typ)
                items.append((f"{sql_l} AS {name}", name, typ, deps_l | deps_r))
                right_items.append(sql_r)
            body = (f"SELECT {', '.join(s for s, *_ in items)} FROM {p} AS a{_where(rng, left)} UNION ALL "
                    f"SELECT {', '.join(right_items)} FROM {q} AS b{_where(rng, right)}")
        else:   # window
            cols = _scope(p, schema, "a")
            items = _items(rng, cols, names, rng.randint(1, 4))
            part, order = rng.choice(cols), rng.choice(cols)
            num = _pick(rng, cols, "n")
            name = names.new()
            if num and rng.random() < 0.6:
                items.append((f"SUM({num.ref}) OVER (PARTITION BY {part.ref}) AS {name}", name, "n",
                              num.deps | part.deps))
            else:
                items.append((f"ROW_NUMBER() OVER (PARTITION BY {part.ref} ORDER BY {order.ref}) AS {name}",
                              name, "n", part.deps | order.deps))
            body = f"SELECT {', '.join(s for s, *_ in items)} FROM {p} AS a{_where(rng, cols)}"
        statements.append(f"CREATE TABLE {target} AS {body}")
        schema[target] = [(name, typ) for _, name, typ, _ in items]
        for _, name, _, deps in items:
            graph[f"{target}.{name}"] = set(deps)
        tables.append(target)
    return statements, graph


def generate(seed: int = 0, steps: int = 50) -> list[str]:
    """The pipeline's SQL statements in run order: 3 raw tables' DDL, then ``steps`` CREATE TABLE ... AS."""
    if steps < 1:
        raise ValueError("steps must be at least 1")
    return _build(seed, steps)[0]


def column_graph(seed: int = 0, steps: int = 50) -> dict[str, set[str]]:
    """The generator's own column graph of ``generate(seed, steps)`` (see the module's docstring)."""
    return _build(seed, steps)[1]
