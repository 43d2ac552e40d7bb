"""The authoring conventions of a lab notebook (docs/authoring.md), checked mechanically.

``problems(nb, assignment)`` lists every rule a source notebook breaks; the repository test runs
it over every lab, so a new lab that drifts from the others fails CI with the rule it broke.
"""

from __future__ import annotations

import ast
import re

from . import notebook

# Points of each assignment, from the exam (s0 is the grader's small fixture lab).
EXAM_POINTS = {
    "s0_warmup": 15, "s1_batch_vs_stream": 50, "s2_etl_elt": 50, "s3_data_quality": 50,
    "s4_schema_evolution": 50, "s5_orchestration": 50, "s6_error_handling": 50,
    "c1_cdc_debezium": 25, "c2_exactly_once_payments": 25, "c3_multistage_transform": 25,
    "c4_quality_monitoring": 25, "d_system_design": 50, "e_case_studies": 30, "f_troubleshooting": 35,
    "g_performance": 20,
}
LOCKED_LINES = 80       # a locked code cell longer than this belongs in a module
STACK_MODULES = {"kafka", "db", "connectors", "spark", "sweep", "runs"}
RESERVED = {"run", "runs"}  # the setup cell's names: no other cell may rebind them
TIME_ESTIMATE = re.compile(r"^About \d+ minutes\.", re.MULTILINE)
HEADING = re.compile(r"^## \S+ .+ \((\d+(?:\.\d+)?) points?\)$")


def prefix(assignment: str) -> str:
    return assignment.split("_", 1)[0]


def name(cell) -> str:
    return notebook.meta(cell).get("grade_id") or cell.get("id", "")


def _code(cell) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines())


def _bound_names(tree: ast.AST) -> set[str]:
    """Names a cell binds at its top level (assignments, loops, imports, definitions, with-as)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
        elif isinstance(node, ast.alias):
            out.add((node.asname or node.name).split(".")[0])
    return out


def _layout(nb, p: str) -> list[str]:
    out = []
    names = [name(c) for c in nb.cells]
    if not nb.cells or nb.cells[0].cell_type != "markdown" or names[0] != "title":
        out.append("the first cell must be the markdown cell 'title'")
    params = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(params) != 1 or params[0].get("id") != "parameters":
        out.append("exactly one code cell tagged 'parameters', with cell id 'parameters'")
    if "setup" not in names:
        out.append("a code cell named 'setup' (imports, the run, endpoints)")
    if names[-2:] != ["cleanup_md", "cleanup"]:
        out.append("the last two cells must be 'cleanup_md' (markdown) and 'cleanup' (code)")
    allowed = re.compile(rf"^(title|parameters|setup|cleanup_md|cleanup|{p}_[a-z][a-z0-9_]*|{p}_\d+_[a-z][a-z0-9_]*)$")
    for c in nb.cells:
        n, m = name(c), notebook.meta(c)
        if m and not allowed.match(n):
            out.append(f"cell {n!r}: name it <lab>_<part>_<what> (e.g. {p}_3_window) or title/parameters/setup/cleanup")
        is_test = m.get("grade") and not m.get("solution") and c.cell_type == "code"
        if is_test and not re.match(rf"^{p}_\d+_\w*test$", n):
            out.append(f"graded test cell {n!r}: name it {p}_<part>_<what>_test")
        if m.get("solution") and c.cell_type == "code" and (not re.match(rf"^{p}_\d+_", n) or n.endswith("_test")):
            out.append(f"solution cell {n!r}: name it {p}_<part>_<what> (not ending in _test)")
    return out


def _regions(nb) -> list[str]:
    out = []
    for c in nb.cells:
        n, m = name(c), notebook.meta(c)
        if "BEGIN SOLUTION" in c.source and not m.get("solution"):
            out.append(f"cell {n!r} has a solution region but is not a solution cell")
        if m.get("solution") and c.cell_type == "code" and "BEGIN SOLUTION" not in c.source:
            out.append(f"solution cell {n!r} has no ### BEGIN SOLUTION region (the release would replace the whole "
                       "cell); lock it if it is given code")
        if "BEGIN HIDDEN TESTS" in c.source and not (m.get("grade") and not m.get("solution")):
            out.append(f"cell {n!r} has hidden tests but is not a graded test cell")
        if c.cell_type == "code" and m.get("grade") and not m.get("solution"):
            first = c.source.lstrip().splitlines()[0] if c.source.strip() else ""
            if not first.startswith(('"""', "#")):
                out.append(f"test cell {n!r}: start with a one-line docstring or comment saying what is checked")
        if c.cell_type == "code" and not m.get("solution") and not m.get("grade") and \
                len(c.source.splitlines()) > LOCKED_LINES:
            out.append(f"locked cell {n!r} has {len(c.source.splitlines())} lines (at most {LOCKED_LINES}): "
                       f"move its code into a module and import it")
    return out


def _points(nb, assignment: str, p: str) -> list[str]:
    out = []
    tests = notebook.graded_tests(nb)
    manual = {name(c): float(notebook.meta(c).get("points", 0)) for c in nb.cells
              if notebook.meta(c).get("grade") and c.cell_type == "markdown"}
    total = sum(tests.values()) + sum(manual.values())
    want = EXAM_POINTS.get(assignment)
    if want is None:
        out.append(f"{assignment} is not in the course's list of assignments (labs/verify/conventions.py)")
    elif total != want:
        out.append(f"points add up to {total:g}, the exam gives this part {want}")
    if want and sum(manual.values()) > 0.2 * want:
        out.append(f"hand-graded points {sum(manual.values()):g} exceed 20 % of {want}")
    parts = sorted({int(m.group(1)) for n in list(tests) + list(manual) if (m := re.match(rf"^{p}_(\d+)_", n))})
    prompts = {name(c): c for c in nb.cells if c.cell_type == "markdown"}
    for part in parts:
        prompt = prompts.get(f"{p}_{part}_prompt")
        got = sum(v for k, v in {**tests, **manual}.items() if k.startswith(f"{p}_{part}_"))
        heading = HEADING.match(prompt.source.splitlines()[0]) if prompt and prompt.source else None
        if not heading:
            out.append(f"part {part}: a markdown cell {p}_{part}_prompt starting '## <number> <title> (N points)'")
        elif float(heading.group(1)) != got:
            out.append(f"part {part}: the heading says {heading.group(1)} points, its test cells give {got:g}")
        if prompt is not None and not TIME_ESTIMATE.search(prompt.source):
            out.append(f"part {part}: its prompt gives the student's working time, a line like 'About 15 minutes.'")
    return out



# the cleanup cell of a lab on the stack: its code lines, comments and a trailing ';' ignored
CLEANUPS = (["run.clean()"], ["private.stop_all(run)", "run.clean()"])


def _cleanup_lines(source: str) -> list[str]:
    lines = (line.split("#")[0].strip().rstrip(";").strip() for line in source.splitlines())
    return [line for line in lines if line]

def _run_names(nb, p: str) -> list[str]:
    out = []
    imports = set()
    for c in nb.cells:
        if c.cell_type == "code":
            for line in c.source.splitlines():
                if m := re.match(r"\s*from labs import (.+)$", line):
                    imports |= {x.strip().split(" as ")[0] for x in m.group(1).split(",")}
                imports |= set(re.findall(r"^\s*(?:import|from) labs\.(\w+)", line))
    if not imports & STACK_MODULES:
        return out
    cells = {name(c): c for c in nb.cells}
    setup, cleanup = cells.get("setup"), cells.get("cleanup")
    if setup is None or f'runs.current("{p}")' not in setup.source:
        out.append(f'a lab on the stack starts its run in setup: run = runs.current("{p}")')
    if cleanup is None or _cleanup_lines(cleanup.source) not in CLEANUPS:
        out.append("a lab on the stack ends with the cleanup cell: run.clean() "
                   "(after private.stop_all(run) when it starts its own servers)")
    for c in nb.cells:
        if c.cell_type != "code" or name(c) == "setup":
            continue
        try:
            bound = _bound_names(ast.parse(_code(c))) & RESERVED
        except SyntaxError:
            continue
        if bound:
            out.append(f"cell {name(c)!r} rebinds {sorted(bound)}: those names belong to the setup cell")
    return out


def problems(nb, assignment: str) -> list[str]:
    """Every convention the source notebook of ``assignment`` breaks (empty when it keeps them all)."""
    p = prefix(assignment)
    return _layout(nb, p) + _regions(nb) + _points(nb, assignment, p) + _run_names(nb, p)
