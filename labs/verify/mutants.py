"""Mutants of a lab's solution cells: small, plausible slips in the instructor's solution that
the graded tests should notice.

Generation uses Python's ``ast`` and ``tokenize``. The well-known mutation tools do not fit
here: mutmut rewrites whole module files into trampolines run under pytest, and cosmic-ray
mutates module files on disk through its own session database; neither works on a notebook
cell's code string, and neither knows pandas slips (a dropped ``.dropna()``, ``keep="first"``).

Only nodes lying wholly inside a cell's ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region
are mutated, and a mutant replaces only the source segment of the changed node, so the given
lines, comments and formatting of the cell stay byte-identical. Mutants that do not compile or
do not change the text are dropped.
"""

from __future__ import annotations

import ast
import hashlib
import io
import random
import tokenize
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from . import notebook

COMPARISONS = {ast.Lt: "<=", ast.LtE: "<", ast.Gt: ">=", ast.GtE: ">", ast.Eq: "!=", ast.NotEq: "==",
               ast.Is: "is not", ast.IsNot: "is", ast.In: "not in", ast.NotIn: "in"}
ARITHMETIC = {ast.Add: ("-",), ast.Sub: ("+",), ast.Mult: ("/",), ast.Div: ("*", "//"), ast.FloorDiv: ("/",)}
BUILTINS = {"min": "max", "max": "min", "sum": "len", "len": "sum", "any": "all", "all": "any"}
METHODS = {"sum": "mean", "mean": "sum", "min": "max", "max": "min", "first": "last", "last": "first",
           "any": "all", "all": "any", "cummax": "cummin", "cummin": "cummax", "idxmax": "idxmin",
           "idxmin": "idxmax", "nlargest": "nsmallest", "nsmallest": "nlargest"}
AGG_NAMES = {"sum": "mean", "mean": "sum", "min": "max", "max": "min", "first": "last", "last": "first",
             "any": "all", "all": "any"}
AGG_CALLS = {"agg", "aggregate", "transform"}
FILTER_CALLS = {"filter", "where", "query", "dropna", "drop_duplicates"}
MODULE_ALIASES = {"np", "numpy", "pd", "pandas", "F", "sf", "functions"}  # np.where(...) is no filter
OPERATORS = ("comparison", "constant", "negate_condition", "drop_statement", "drop_filter", "swap_arguments",
             "aggregation", "arithmetic", "boolean")
PARSE_FLAGS = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


@dataclass(frozen=True)
class Mutant:
    """One change to one solution cell."""
    id: str
    cell: str       # grade_id of the solution cell
    operator: str   # one of OPERATORS
    line: int       # line of the change in the cell, from 1
    original: str   # the source segment that changed
    mutated: str    # what it became
    source: str     # the whole new cell source

    def as_dict(self) -> dict:
        """The mutant as a JSON-ready dict."""
        return asdict(self)


def python_of(source: str) -> str:
    """The cell with IPython magic and shell lines blanked (line numbers unchanged)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))


def compiles(source: str) -> bool:
    """Whether a cell's Python compiles."""
    try:
        compile(python_of(source), "<cell>", "exec", ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except (SyntaxError, ValueError):
        return False
    return True


def regions(source: str) -> list[tuple[int, int]]:
    """(BEGIN line, END line) of each solution region, 1-based; the region is the lines strictly between."""
    out, begin = [], None
    for number, line in enumerate(source.split("\n"), start=1):
        text = line.strip()
        if text.startswith("#") and "BEGIN SOLUTION" in text:
            begin = number
        elif text.startswith("#") and "END SOLUTION" in text and begin is not None:
            out.append((begin, number))
            begin = None
    return out


class Cell:
    """A parsed solution cell: its text, syntax tree, tokens and solution regions."""

    def __init__(self, source: str):
        self.source = source
        self.tree = compile(python_of(source), "<cell>", "exec", PARSE_FLAGS)
        self.regions = regions(source)
        self.starts = [0]
        for line in source.split("\n"):
            self.starts.append(self.starts[-1] + len(line) + 1)
        self.lines = source.split("\n")
        self.tokens = self._tokens()
        self.in_fstring = {id(n) for j in ast.walk(self.tree) if isinstance(j, ast.JoinedStr)
                           for n in ast.walk(j)}
        functions = [f for f in ast.walk(self.tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))]
        self.sole_returns = {id(r) for f in functions if len(_returns(f)) == 1 for r in _returns(f)}

    def _tokens(self) -> list[tuple[str, int, int]]:
        """(text, start, end) of each operator and name token, as character offsets."""
        out = []
        try:
            for tok in tokenize.generate_tokens(io.StringIO(python_of(self.source)).readline):
                if tok.type in (tokenize.OP, tokenize.NAME):
                    start = self.starts[tok.start[0] - 1] + tok.start[1]
                    out.append((tok.string, start, self.starts[tok.end[0] - 1] + tok.end[1]))
        except (tokenize.TokenError, IndentationError, SyntaxError):
            return []
        return out

    def offset(self, line: int, col_bytes: int) -> int:
        """Character offset of an ast position (line from 1, column in UTF-8 bytes)."""
        return self.starts[line - 1] + len(self.lines[line - 1].encode()[:col_bytes].decode(errors="ignore"))

    def span(self, node) -> tuple[int, int]:
        """(start, end) character offsets of a node's source segment."""
        return self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset)

    def text(self, node) -> str:
        """The source segment of a node."""
        start, end = self.span(node)
        return self.source[start:end]

    def region_line(self, node) -> int | None:
        """The node's first line counted from its region's BEGIN line, or None outside every region."""
        if not hasattr(node, "lineno") or id(node) in self.in_fstring:
            return None
        for begin, end in self.regions:
            if begin < node.lineno and node.end_lineno < end:
                return node.lineno - begin
        return None

    def between(self, a, b) -> list[tuple[str, int, int]]:
        """Tokens between the end of node ``a`` and the start of node ``b``, parentheses left out."""
        lo, hi = self.span(a)[1], self.span(b)[0]
        return [t for t in self.tokens if t[1] >= lo and t[2] <= hi and t[0] not in "()"]

    def rewrite(self, node, edits: list[tuple[int, int, str]]) -> str:
        """The node's segment with (start, end, text) edits applied (absolute character offsets)."""
        start, end = self.span(node)
        text, last = [], start
        for lo, hi, new in sorted(edits):
            text += [self.source[last:lo], new]
            last = hi
        return "".join(text) + self.source[last:end]


# operators: each yields (anchor node, operator, new text of the anchor's segment) ------------

def _swap_token(cell: Cell, node, a, b, new: str) -> str | None:
    """The node's text with the operator token(s) between ``a`` and ``b`` replaced by ``new``."""
    tokens = cell.between(a, b)
    return cell.rewrite(node, [(tokens[0][1], tokens[-1][2], new)]) if tokens else None


def comparison(cell: Cell, node) -> Iterator[tuple]:
    """``<``/``<=``, ``>``/``>=``, ``==``/``!=``, ``is``/``is not``, ``in``/``not in``."""
    if isinstance(node, ast.Compare):
        operands = [node.left, *node.comparators]
        for i, op in enumerate(node.ops):
            new = _swap_token(cell, node, operands[i], operands[i + 1], COMPARISONS[type(op)])
            if new:
                yield node, "comparison", new


def constant(cell: Cell, node) -> Iterator[tuple]:
    """An integer literal off by one, both ways."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        yield node, "constant", str(node.value + 1)
        yield node, "constant", str(node.value - 1)


def negate_condition(cell: Cell, node) -> Iterator[tuple]:
    """The test of an ``if``, ``while``, conditional expression or comprehension filter negated."""
    tests = [node.test] if isinstance(node, (ast.If, ast.While, ast.IfExp)) else []
    if isinstance(node, ast.comprehension):
        tests = list(node.ifs)
    for test in tests:
        yield test, "negate_condition", f"not ({cell.text(test)})"


def _returns(function) -> list:
    """The return statements of a function, not counting those of nested functions."""
    out, todo = [], list(ast.iter_child_nodes(function))
    while todo:
        n = todo.pop()
        if isinstance(n, ast.Return):
            out.append(n)
        elif not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            todo += list(ast.iter_child_nodes(n))
    return out


def drop_statement(cell: Cell, node) -> Iterator[tuple]:
    """A statement of a block replaced by ``pass`` (never a docstring, nor a function's only return)."""
    blocks = [getattr(node, f, None) for f in ("body", "orelse", "finalbody")]
    for block in (b for b in blocks if isinstance(b, list)):
        for i, stmt in enumerate(block):
            docstring = (i == 0 and block is getattr(node, "body", None)
                         and isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                         and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
                         and isinstance(stmt.value.value, str))
            if not (docstring or isinstance(stmt, ast.Pass) or id(stmt) in cell.sole_returns):
                yield stmt, "drop_statement", "pass"


def _drop_if(cell: Cell, node, previous, cond) -> str | None:
    """The comprehension's text without the clause ``if cond`` that follows ``previous``."""
    lo, hi = cell.span(previous)[1], cell.span(cond)[0]
    keywords = [t for t in cell.tokens if t[0] == "if" and t[1] >= lo and t[2] <= hi]
    if not keywords:
        return None
    start, end = keywords[-1][1], cell.span(cond)[1]
    opened = sum(1 for t in cell.tokens if t[0] == "(" and keywords[-1][2] <= t[1] < hi)
    closing = [t for t in cell.tokens if t[0] == ")" and t[1] >= end][:opened]
    end = closing[-1][2] if closing else end
    while start > 0 and cell.source[start - 1] in " \t":
        start -= 1
    return cell.rewrite(node, [(start, end, "")])


def drop_filter(cell: Cell, node) -> Iterator[tuple]:
    """A comprehension's ``if`` clause removed; ``x.filter(...)``, ``.dropna(...)``... replaced by ``x``."""
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
        for gen in node.generators:
            previous = gen.iter
            for cond in gen.ifs:
                new = _drop_if(cell, node, previous, cond)
                if new:
                    yield node, "drop_filter", new
                previous = cond
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in FILTER_CALLS
            and not (isinstance(node.func.value, ast.Name) and node.func.value.id in MODULE_ALIASES)):
        receiver = node.func.value
        text = cell.text(receiver)
        simple = isinstance(receiver, (ast.Name, ast.Attribute, ast.Call, ast.Subscript))
        yield node, "drop_filter", text if simple else f"({text})"


def swap_arguments(cell: Cell, node) -> Iterator[tuple]:
    """The first two positional arguments of a call exchanged."""
    if isinstance(node, ast.Call) and len(node.args) >= 2:
        a, b = node.args[:2]
        if not any(isinstance(x, ast.Starred) for x in (a, b)) and cell.text(a) != cell.text(b):
            (a0, a1), (b0, b1) = cell.span(a), cell.span(b)
            yield node, "swap_arguments", cell.rewrite(node, [(a0, a1, cell.text(b)), (b0, b1, cell.text(a))])


def _swap_word(cell: Cell, node, word: str, new: str) -> str:
    """The node's text with its last occurrence of ``word`` replaced by ``new``."""
    text = cell.text(node)
    at = text.rfind(word)
    return text[:at] + new + text[at + len(word):]


def _agg_strings(call: ast.Call) -> Iterator[ast.Constant]:
    """String constants among a call's arguments, looking into tuples, lists and dicts."""
    todo = [*call.args, *(k.value for k in call.keywords)]
    while todo:
        n = todo.pop(0)
        if isinstance(n, ast.Constant) and isinstance(n.value, str):
            yield n
        elif isinstance(n, (ast.Tuple, ast.List)):
            todo += n.elts
        elif isinstance(n, ast.Dict):
            todo += [v for v in n.values if v is not None]


def aggregation(cell: Cell, node) -> Iterator[tuple]:
    """``min``/``max``, ``sum``/``len``, ``any``/``all``; ``.sum``/``.mean``, ``.first``/``.last``...;
    ``keep="first"``/``"last"``; aggregation names given as strings to ``.agg(...)``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in BUILTINS:
        yield node.func, "aggregation", BUILTINS[node.func.id]
    if isinstance(node, ast.Attribute) and node.attr in METHODS:
        yield node, "aggregation", _swap_word(cell, node, node.attr, METHODS[node.attr])
    if isinstance(node, ast.keyword) and node.arg == "keep" and isinstance(node.value, ast.Constant) \
            and node.value.value in ("first", "last"):
        word = node.value.value
        yield node.value, "aggregation", _swap_word(cell, node.value, word, AGG_NAMES[word])
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in AGG_CALLS:
        for const in _agg_strings(node):
            if const.value in AGG_NAMES:
                yield const, "aggregation", _swap_word(cell, const, const.value, AGG_NAMES[const.value])


def arithmetic(cell: Cell, node) -> Iterator[tuple]:
    """``+``/``-``, ``*``/``/``, ``//``/``/`` in expressions and augmented assignments."""
    if isinstance(node, ast.BinOp) and type(node.op) in ARITHMETIC:
        for new in ARITHMETIC[type(node.op)]:
            text = _swap_token(cell, node, node.left, node.right, new)
            if text:
                yield node, "arithmetic", text
    if isinstance(node, ast.AugAssign) and type(node.op) in ARITHMETIC:
        for new in ARITHMETIC[type(node.op)]:
            text = _swap_token(cell, node, node.target, node.value, new + "=")
            if text:
                yield node, "arithmetic", text


def boolean(cell: Cell, node) -> Iterator[tuple]:
    """``and``/``or`` (every operator of one chain)."""
    if isinstance(node, ast.BoolOp):
        new = "or" if isinstance(node.op, ast.And) else "and"
        edits = []
        for a, b in zip(node.values, node.values[1:], strict=False):
            tokens = cell.between(a, b)
            if not tokens:
                return
            edits.append((tokens[0][1], tokens[-1][2], new))
        yield node, "boolean", cell.rewrite(node, edits)


GENERATORS = (comparison, constant, negate_condition, drop_statement, drop_filter, swap_arguments, aggregation,
              arithmetic, boolean)


# mutants of cells and notebooks -------------------------------------------------------------

def mutant_id(cell_id: str, operator: str, original: str, mutated: str, region_line: int) -> str:
    """First 10 hex digits of a hash of what the mutant is (stable while the region is unchanged)."""
    key = "\0".join([cell_id, operator, original, mutated, str(region_line)])
    return hashlib.sha256(key.encode()).hexdigest()[:10]


def of_cell(cell_id: str, source: str) -> list[Mutant]:
    """Every valid mutant of one solution cell, in source order."""
    try:
        cell = Cell(source)
    except (SyntaxError, ValueError):
        return []
    found = []
    for node in ast.walk(cell.tree):
        for generate in GENERATORS:
            for anchor, operator, new in generate(cell, node):
                line = cell.region_line(anchor)
                if line is None:
                    continue
                start, end = cell.span(anchor)
                found.append((start, OPERATORS.index(operator), len(found), new, anchor, operator, line, end))
    out, seen, ids = [], {source}, set()
    for start, _, _, new, anchor, operator, line, end in sorted(found, key=lambda f: f[:3]):
        text = source[:start] + new + source[end:]
        if text in seen or not compiles(text):
            continue
        seen.add(text)
        original = source[start:end]
        base = mutant_id(cell_id, operator, original, new, line)
        mid, k = base, 1
        while mid in ids:
            mid, k = f"{base}-{k}", k + 1
        ids.add(mid)
        out.append(Mutant(mid, cell_id, operator, anchor.lineno, original, new, text))
    return out


def of_notebook(nb) -> list[Mutant]:
    """Every mutant of every solution cell, in notebook order."""
    return [m for cell in nb.cells if notebook.meta(cell).get("solution") and cell.cell_type == "code"
            for m in of_cell(notebook.meta(cell)["grade_id"], cell.source)]


def sample(mutants: list[Mutant], budget: int | None, seed: int = 0) -> list[Mutant]:
    """At most ``budget`` mutants spread evenly over the cells (seeded), kept in their original order."""
    if budget is None or budget >= len(mutants):
        return list(mutants)
    by_cell: dict[str, list[Mutant]] = {}
    for m in mutants:
        by_cell.setdefault(m.cell, []).append(m)
    quota = dict.fromkeys(by_cell, 0)
    left = max(0, budget)
    while left:
        open_cells = [c for c in by_cell if quota[c] < len(by_cell[c])]
        for c in open_cells[:left]:
            quota[c] += 1
        left -= min(left, len(open_cells))
    chosen = {m.id for c, ms in by_cell.items() for m in random.Random(f"{seed}:{c}").sample(ms, quota[c])}
    return [m for m in mutants if m.id in chosen]
