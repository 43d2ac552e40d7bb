"""Mutation testing of a lab's graded tests: which mutants are made, how runs are packed and
attributed, and one real pass over s0_warmup."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import nbformat
import pytest

from labs.verify import mutants, mutate, notebook

ROOT = Path(__file__).resolve().parents[1]
GIVEN = 'def f(a, b, c, xs, n, s, df, g):\n    """Given: a < b and 1 + 2."""\n    y = a < b + 1  # given\n'


def solution_cell(body: str, given: str = GIVEN, after: str = "    return y\n") -> str:
    """A function cell whose solution region holds ``body``."""
    return (given + "    ### BEGIN SOLUTION\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
            + "\n    ### END SOLUTION\n" + after)


def changes(body: str, operator: str, **kw) -> list[tuple[str, str]]:
    """(original, mutated) of each mutant of ``operator`` made from a cell with ``body``."""
    return [(m.original, m.mutated) for m in mutants.of_cell("q", solution_cell(body, **kw)) if m.operator == operator]


# operators --------------------------------------------------------------------------------

def test_comparisons_swap_each_operator():
    body = "k = [a < b, a <= b, a > b, a >= b, a == b, a != b, a is b, a is not b, a in b, a not in b]"
    assert [m for _, m in changes(body, "comparison")] == [
        "a <= b", "a < b", "a >= b", "a > b", "a != b", "a == b", "a is not b", "a is b", "a not in b", "a in b"]


def test_integer_constants_go_off_by_one_both_ways_but_booleans_and_floats_stay():
    assert changes("k = xs[0] + 5\nflag = True\nx = 2.5", "constant") == [
        ("0", "1"), ("0", "-1"), ("5", "6"), ("5", "4")]


def test_conditions_are_negated_in_if_while_ternary_and_comprehension():
    body = """
    if a > 0:
        a = 1
    while n:
        n = 0
    k = 1 if s else 2
    ks = [x for x in xs if x]
    """
    assert [m for _, m in changes(body, "negate_condition")] == ["not (a > 0)", "not (n)", "not (s)", "not (x)"]


def test_statements_are_dropped_but_not_docstrings_nor_a_sole_return():
    body = '''
    def inner():
        """Inner docstring."""
        return 1
    k = inner()
    if k:
        return k
    return 0
    '''
    dropped = [o for o, _ in changes(body, "drop_statement", after="")]
    assert dropped[0].startswith("def inner():")
    assert dropped[1:] == ["k = inner()", "if k:\n        return k", "return k", "return 0"]
    sole = changes("k = 1\nreturn k", "drop_statement", after="")
    assert sole == [("k = 1", "pass")]  # the function's only return stays


def test_filters_are_dropped_from_comprehensions_and_method_chains():
    body = """
    ks = [x for x in xs if x > 0 if (x < 9)]
    d = df.dropna()
    e = (a + b).query("x > 1")
    w = np.where(a, b, c)
    """
    assert [m for _, m in changes(body, "drop_filter")] == [
        "[x for x in xs if (x < 9)]", "[x for x in xs if x > 0]", "df", "(a + b)"]


def test_the_first_two_positional_arguments_are_swapped_when_they_differ():
    assert changes("k = g(a, b, c=1)\nj = g(a, a)\nh = g(*xs, b)", "swap_arguments") == [
        ("g(a, b, c=1)", "g(b, a, c=1)")]


def test_aggregations_are_swapped():
    body = """
    k = [min(xs), sum(xs), any(xs), s.sum(), s.max(), g.first()]
    d = df.drop_duplicates("k", keep="first")
    t = g.agg(total=("v", "sum"))
    name = "sum"
    """
    assert [m for _, m in changes(body, "aggregation")] == [
        "max", "len", "all", "s.mean", "s.min", "g.last", '"last"', '"mean"']


def test_arithmetic_and_boolean_operators_are_swapped():
    body = "k = [a + b, a - b, a * b, a / b, a // b]\nn += 1\nok = a and b and c"
    assert [m for _, m in changes(body, "arithmetic")] == [
        "a - b", "a + b", "a / b", "a * b", "a // b", "a / b", "n -= 1"]
    assert changes(body, "boolean") == [("a and b and c", "a or b or c")]


# where and how mutants are made -----------------------------------------------------------

def test_only_the_solution_region_changes_and_the_rest_stays_byte_identical():
    source = solution_cell("k = a < b + 1  # keep this comment\nreturn k * 2")
    found = mutants.of_cell("q", source)
    assert found
    (begin, end), = mutants.regions(source)
    lines = source.split("\n")
    for m in found:
        new = m.source.split("\n")
        assert new[:begin] == lines[:begin] and new[-(len(lines) - end + 1):] == lines[end - 1:]
        assert begin < m.line < end
        assert "# keep this comment" in m.source or m.operator == "drop_statement"
        assert mutants.compiles(m.source)


def test_ids_are_stable_unique_and_ignore_edits_above_the_region():
    source = solution_cell("k = [a < b, a < b]\nreturn sum(k) + 1")
    first, again = mutants.of_cell("q", source), mutants.of_cell("q", source)
    assert [m.id for m in first] == [m.id for m in again]
    assert len({m.id for m in first}) == len(first)
    moved = mutants.of_cell("q", "import math\n\n" + source)
    assert [m.id for m in moved] == [m.id for m in first]
    assert {m.id for m in mutants.of_cell("other", source)}.isdisjoint(m.id for m in first)


def test_mutants_that_do_not_compile_or_change_nothing_are_dropped():
    source = solution_cell("@staticmethod\ndef inner():\n    return 1\nk = [a, a]", after="    return k\n")
    found = mutants.of_cell("q", source)
    assert all(mutants.compiles(m.source) and m.source != source for m in found)
    assert not any(m.original.startswith("def inner") for m in found)  # would leave a bare decorator
    assert len({m.source for m in found}) == len(found)
    assert mutants.of_cell("q", solution_cell("k = (")) == []


def test_offsets_count_characters_after_non_ascii_text_and_magic_lines_are_kept():
    source = "%load_ext autoreload\n### BEGIN SOLUTION\nlabel = 'é'; ok = label < 'z'\n### END SOLUTION"
    found = [m for m in mutants.of_cell("q", source) if m.operator == "comparison"]
    assert [m.source for m in found] == [
        "%load_ext autoreload\n### BEGIN SOLUTION\nlabel = 'é'; ok = label <= 'z'\n### END SOLUTION"]


def test_a_budget_spreads_evenly_over_cells_and_keeps_the_order():
    pool = [mutants.Mutant(f"{c}{i}", c, "constant", i, "1", "2", "")
            for c in "abc" for i in range(10 if c != "c" else 1)]
    chosen = mutants.sample(pool, 7, seed=0)
    assert [m.cell for m in chosen].count("c") == 1 and len(chosen) == 7
    assert abs([m.cell for m in chosen].count("a") - [m.cell for m in chosen].count("b")) <= 1
    assert chosen == [m for m in pool if m in chosen]
    assert chosen == mutants.sample(pool, 7, seed=0)
    assert mutants.sample(pool, None) == pool


# packing and attribution, with an in-process runner -------------------------------------

def _code(source: str, gid: str, **nbgrader) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade_id": gid, "schema_version": 3, "locked": False, "solution": False,
                                 "grade": False, **nbgrader}
    return cell


def lab() -> nbformat.NotebookNode:
    """Two solution cells with disjoint tests, a weak test, and a test no solution cell influences."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _code("data = [3, 1, 2]", "setup"),
        _code(solution_cell("return min(xs)", given='def smallest(xs):\n    """The smallest."""\n', after=""),
              "small", solution=True),
        _code("assert smallest([3, 1, 2]) == 1", "small_test", grade=True, points=1),
        _code(solution_cell("return sum(1 for x in xs if x > limit)",
                            given='def count_big(xs, limit):\n    """How many exceed limit."""\n', after=""),
              "count", solution=True),
        _code("assert count_big([1, 7], 5) == 1  # weak: x >= limit passes too", "count_test", grade=True, points=1),
        _code("assert data == [3, 1, 2]", "data_test", grade=True, points=1),
    ]
    return nb


def exec_runner(log: list | None = None):
    """A stand-in for ``notebook.run``: executes the cells in-process; a cell containing HANG raises."""
    def runner(nb, cwd, timeout=0):
        if log is not None:
            log.append([c.source for c in nb.cells if notebook.meta(c).get("solution")])
        if any("HANG" in c.source for c in nb.cells):
            raise TimeoutError("a cell timed out")
        namespace, tests, passed = {}, notebook.graded_tests(nb), {}
        for cell in nb.cells:
            try:
                exec(compile(cell.source, "<cell>", "exec"), namespace)
                ok = True
            except Exception:  # noqa: BLE001 - a failed cell, as in a notebook
                ok = False
            if notebook.meta(cell).get("grade_id") in tests:
                passed[notebook.meta(cell)["grade_id"]] = ok
        return notebook.Run(passed=passed)
    return runner


def hand_made(cell: str, code: str) -> mutants.Mutant:
    """A mutant written out by hand: ``code`` is the whole new cell."""
    return mutants.Mutant(f"{cell}-{len(code)}", cell, "constant", 1, "", "", code)


def test_calibration_finds_each_cells_influence_set():
    baseline, influence = mutate.calibrate(lab(), exec_runner(), 1, 10, log=lambda _: None)
    assert all(baseline.passed.values())
    assert influence == {"small": {"small_test"}, "count": {"count_test"}}


def test_only_mutants_of_different_cells_with_disjoint_influence_share_a_run():
    ms = [hand_made(c, "x" * i) for i, c in enumerate("aabcc")]
    groups = mutate.pack(ms, {"a": {"t1", "t2"}, "b": {"t2"}, "c": {"t3"}})
    assert [[m.cell for m in g] for g in groups] == [["a", "c"], ["a", "c"], ["b"]]


def test_each_failure_of_a_packed_run_is_credited_to_the_cell_that_influences_it():
    runs = []
    small = hand_made("small", "def smallest(xs):\n    return max(xs)")
    count = hand_made("count", "def count_big(xs, limit):\n    return sum(1 for x in xs if x >= limit)")
    outcomes, n = mutate.run_mutants(lab(), [small, count], {"small": {"small_test"}, "count": {"count_test"}},
                                     exec_runner(runs), jobs=1, log=lambda _: None)
    assert n == 1 and len(runs) == 1
    assert outcomes[small.id]["status"] == "killed" and outcomes[small.id]["failed"] == ["small_test"]
    assert outcomes[count.id]["status"] == "survived" and outcomes[count.id]["run"] == "packed"


def test_a_failure_no_packed_cell_influences_reruns_the_mutants_one_by_one():
    runs = []
    small = hand_made("small", "data.append(0)\ndef smallest(xs):\n    return min(xs)")  # breaks data_test
    count = hand_made("count", "def count_big(xs, limit):\n    return 0")
    outcomes, n = mutate.run_mutants(lab(), [small, count], {"small": {"small_test"}, "count": {"count_test"}},
                                     exec_runner(runs), jobs=2, log=lambda _: None)
    assert n == 3 and len(runs) == 3
    assert (outcomes[small.id]["status"], outcomes[small.id]["failed"]) == ("killed", ["data_test"])
    assert outcomes[small.id]["run"] == "alone"
    assert outcomes[count.id]["failed"] == ["count_test"] and outcomes[count.id]["run"] == "alone"


def test_a_broken_packed_run_is_rerun_and_a_broken_single_run_kills():
    small = hand_made("small", "HANG = 1\ndef smallest(xs):\n    return min(xs)")
    count = hand_made("count", "def count_big(xs, limit):\n    return sum(1 for x in xs if x > limit)")
    outcomes, n = mutate.run_mutants(lab(), [small, count], {"small": {"small_test"}, "count": {"count_test"}},
                                     exec_runner(), jobs=2, log=lambda _: None)
    assert n == 3
    assert outcomes[small.id]["status"] == "killed" and "timed out" in outcomes[small.id]["error"]
    assert outcomes[count.id]["status"] == "survived"


def test_a_whole_pass_scores_without_recorded_equivalents(tmp_path):
    (tmp_path / "source" / "lab").mkdir(parents=True)
    nbformat.write(lab(), tmp_path / "source" / "lab" / "lab.ipynb")
    weak = next(m for m in mutants.of_notebook(lab()) if m.mutated == "x >= limit")
    fixtures = tmp_path / "tests" / "fixtures" / "lab"
    fixtures.mkdir(parents=True)
    (fixtures / "equivalent_mutants.json").write_text(json.dumps([
        {"id": weak.id, "cell": "count", "reason": "the test data has no item equal to the limit"},
        {"id": "0000000000", "cell": "count", "reason": "gone"}]))
    lines: list[str] = []
    result = mutate.mutate(tmp_path, "lab", jobs=2, runner=exec_runner(), log=lines.append)
    mutate.report(result, log=lines.append)
    assert result["problems"] == [] and len(result["warnings"]) == 1 and "0000000000" in result["warnings"][0]
    assert result["influence"] == {"small": ["small_test"], "count": ["count_test"]}
    by_id = {m["id"]: m for m in result["mutants"]}
    assert by_id[weak.id]["status"] == "equivalent"
    assert result["equivalent"] == 1 and result["killed"] + result["survived"] == result["chosen"] - 1
    assert set(result["cells"]) == {"small", "count"}
    survivors = [m for m in result["mutants"] if m["status"] == "survived"]
    assert all(any(m["id"] in line for line in lines) for m in survivors)
    assert result["passed"] == (result["kill_rate"] >= 0.85)


def test_a_pass_is_recorded_fresh_until_the_lab_changes_and_never_over_files_edited_meanwhile(tmp_path):
    from labs.verify import record

    (tmp_path / "source" / "lab").mkdir(parents=True)
    path = tmp_path / "source" / "lab" / "lab.ipynb"
    nbformat.write(lab(), path)
    assert not record.mutation_state(tmp_path, "lab").fresh  # nothing recorded yet
    ran_on = record.mutation_inputs(tmp_path, "lab")
    result = mutate.mutate(tmp_path, "lab", jobs=2, runner=exec_runner(), min_kill=0.0, log=lambda _: None)
    written = record.write_mutation(tmp_path, "lab", result, ran_on)
    entry = json.loads(written.read_text())
    assert written.name == "mutation.json" and entry["kill_rate"] == result["kill_rate"]
    assert len(entry["survivors"]) == result["survived"] and "mutants" not in entry
    assert record.mutation_state(tmp_path, "lab").fresh
    edited = lab()
    edited.cells[0].source += "\n# edited"
    nbformat.write(edited, path)
    state = record.mutation_state(tmp_path, "lab")
    assert not state.fresh and "source/lab/lab.ipynb" in state.describe()
    with pytest.raises(ValueError, match="files changed during the mutation pass"):
        record.write_mutation(tmp_path, "lab", result, ran_on)
    high = {**result, "passed": False}
    record.write_mutation(tmp_path, "lab", high, record.mutation_inputs(tmp_path, "lab"))
    assert "below" in record.mutation_state(tmp_path, "lab").describe()


# the command and one real pass ------------------------------------------------------------

def test_the_command_is_registered():
    from labs import cli

    args = cli.build_parser().parse_args(["mutate", "s0_warmup", "--budget", "3", "--min-kill", "0.5"])
    assert args.func is mutate.run and args.budget == 3 and args.min_kill == 0.5 and args.jobs == 2


@pytest.mark.slow
def test_a_small_real_pass_over_s0_warmup(tmp_path, monkeypatch):
    monkeypatch.setenv("LABS_VAR_DIR", str(tmp_path))
    result = mutate.mutate(ROOT, "s0_warmup", budget=4, seed=0, jobs=2, timeout=120, log=lambda _: None)
    nb = notebook.load(ROOT / "source" / "s0_warmup" / "s0_warmup.ipynb")
    assert result["problems"] == [] and result["chosen"] == 4
    assert set(result["cells"]) == set(notebook.solution_ids(nb))
    assert set(result["influence"]) == set(notebook.solution_ids(nb))
    assert all(m["status"] in ("killed", "survived") for m in result["mutants"])
    assert result["killed"] >= 1
    for key in ("id", "cell", "operator", "line", "original", "mutated", "source", "failed"):
        assert all(key in m for m in result["mutants"])
    path = mutate.write(result)
    assert path == tmp_path / "mutate" / "s0_warmup.json"
    assert json.loads(path.read_text())["kill_rate"] == result["kill_rate"]
