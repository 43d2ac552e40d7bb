"""Every lab keeps the authoring conventions of docs/authoring.md (labs/verify/conventions.py),
and the check really fails a notebook that breaks one."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest

from labs.verify import conventions, notebook

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = sorted(p.name for p in (ROOT / "source").iterdir() if (p / f"{p.name}.ipynb").is_file())


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_lab_keeps_the_authoring_conventions(assignment):
    nb = notebook.load(ROOT / "source" / assignment / f"{assignment}.ipynb")
    problems = conventions.problems(nb, assignment)
    assert not problems, f"{assignment} (see docs/authoring.md):\n  " + "\n  ".join(problems)


def _cell(nb, name):
    return next(c for c in nb.cells if conventions.name(c) == name)


@pytest.fixture
def c2():
    return notebook.load(ROOT / "source" / "c2_exactly_once_payments" / "c2_exactly_once_payments.ipynb")


def _broken(nb, change) -> list[str]:
    nb = copy.deepcopy(nb)
    change(nb)
    return conventions.problems(nb, "c2_exactly_once_payments")


def test_each_broken_rule_is_named(c2):
    def rename_test(nb):
        _cell(nb, "c2_3_offsets_test").metadata.nbgrader["grade_id"] = "offsets_check"

    def long_given(nb):
        _cell(nb, "c2_4_given").source += "\n" + "\n".join(f"x{i} = {i}" for i in range(60))

    def points(nb):
        _cell(nb, "c2_5_reconcile_test").metadata.nbgrader["points"] = 4

    def own_cleanup(nb):
        _cell(nb, "cleanup").source = "sweep.sweep(run.id)"

    def shadow_run(nb):
        _cell(nb, "c2_5_reconcile").source += "\nfor run in range(3):\n    pass"

    def hidden_in_given(nb):
        _cell(nb, "c2_data").source += "\n### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS"

    def no_title(nb):
        nb.cells.insert(0, nbformat.v4.new_markdown_cell("# Preface"))

    expected = {rename_test: "graded test cell 'offsets_check'", long_given: "locked cell 'c2_4_given' has 140 lines",
                points: "points add up to 26", own_cleanup: "ends with the cleanup cell: run.clean()",
                shadow_run: "rebinds ['run']", hidden_in_given: "'c2_data' has hidden tests",
                no_title: "first cell must be the markdown cell 'title'"}
    for change, words in expected.items():
        found = _broken(c2, change)
        assert any(words in p for p in found), (change.__name__, found)
    assert any("the heading says 3 points, its test cells give 4" in p for p in _broken(c2, points))
