"""The decision CI takes per lab: run its full discrimination again, or trust its record."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from labs.verify import discriminate, notebook, record

ROOT = Path(__file__).resolve().parents[1]


def _notebook(code: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%matplotlib inline\n" + code)]
    return nbformat.writes(nb)


@pytest.fixture
def repo(tmp_path):
    files = {
        "labs/__init__.py": "",
        "labs/a.py": "from .b import helper\n",
        "labs/b.py": "def helper():\n    return 1\n",
        "labs/unused.py": "X = 1\n",
        "labs/pkg/__init__.py": "",
        "labs/pkg/deep.py": "import labs.b\n",
        "labs/verify/__init__.py": "",
        "labs/verify/notebook.py": "# verifier\n",
        "labs/verify/discriminate.py": "# verifier\n",
        "source/lab1/lab1.ipynb": _notebook("from labs import a\nfrom labs.pkg.deep import nothing\n"),
        "tests/fixtures/lab1/wrong_variants.json": "[]\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_dependencies_follow_imports_through_labs_modules(repo):
    assert record.labs_dependencies(repo, "lab1") == [
        "labs/__init__.py", "labs/a.py", "labs/b.py", "labs/pkg/__init__.py", "labs/pkg/deep.py"]


def test_a_lab_without_a_record_is_stale_and_a_written_record_is_fresh(repo):
    assert record.freshness(repo, "lab1").reasons == ["no verification record"]
    record.write(repo, "lab1", {"passed": True, "problems": [], "variants": []})
    assert record.freshness(repo, "lab1").fresh


@pytest.mark.parametrize(("path", "stale"), [
    ("labs/unused.py", False),                       # not imported by the lab
    ("labs/b.py", True),                             # imported through labs.a
    ("labs/pkg/__init__.py", True),                  # a package on the way
    ("source/lab1/lab1.ipynb", True),                # the notebook itself
    ("tests/fixtures/lab1/wrong_variants.json", True),
    ("labs/verify/discriminate.py", True),           # the verifier
    ("source/lab2/lab2.ipynb", False),               # another lab
])
def test_a_change_makes_the_lab_stale_only_when_it_depends_on_it(repo, path, stale):
    record.write(repo, "lab1", {"passed": True, "problems": [], "variants": []})
    target = repo / path
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix == ".ipynb":
        target.write_text(_notebook("from labs import a\nfrom labs.pkg.deep import nothing\n# edited\n"))
    else:
        target.write_text((target.read_text() if target.exists() else "") + "\n# edited\n")
    state = record.freshness(repo, "lab1")
    assert state.fresh is not stale, state.reasons
    if stale:
        assert state.reasons == [f"changed {path}"]


def test_new_fixture_files_and_new_imports_make_it_stale(repo):
    record.write(repo, "lab1", {"passed": True, "problems": [], "variants": []})
    (repo / "tests/fixtures/lab1/correct_variants.json").write_text("[]\n")
    assert record.freshness(repo, "lab1").reasons == ["new tests/fixtures/lab1/correct_variants.json"]
    record.write(repo, "lab1", {"passed": True, "problems": [], "variants": []})
    (repo / "source/lab1/lab1.ipynb").write_text(_notebook("import labs.unused\n"))
    assert record.freshness(repo, "lab1").reasons == [
        "changed source/lab1/lab1.ipynb", "new labs/unused.py", "removed labs/a.py", "removed labs/b.py",
        "removed labs/pkg/__init__.py", "removed labs/pkg/deep.py"]


def test_only_a_passed_verification_is_recorded_and_a_failed_record_is_stale(repo):
    with pytest.raises(ValueError, match="only a verification that passed"):
        record.write(repo, "lab1", {"passed": False, "problems": ["x"]})
    path = record.record_path(repo, "lab1")
    path.write_text(json.dumps({"passed": False, "inputs": record.inputs(repo, "lab1")}))
    assert not record.freshness(repo, "lab1").fresh
    path.write_text("{not json")
    with pytest.raises(ValueError, match="make verify-lab LAB=lab1"):
        record.freshness(repo, "lab1")


def test_the_course_labs_depend_on_what_they_import():
    assert "labs/connectors.py" in record.labs_dependencies(ROOT, "c1_cdc_debezium")
    assert "labs/spark.py" in record.labs_dependencies(ROOT, "s1_batch_vs_stream")
    assert record.labs_dependencies(ROOT, "s0_warmup") == []


def test_imports_only_for_type_checkers_do_not_count(repo):
    (repo / "labs/a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import unused\n"
                                    "from .b import helper\n")
    assert "labs/unused.py" not in record.labs_dependencies(repo, "lab1")


def test_a_name_from_a_lazy_package_counts_as_its_modules(repo):
    """A package resolving names on first use: outside the installed course the names cannot be asked, so
    all of the package counts; the cells of a notebook share their imports."""
    (repo / "labs/lazy").mkdir()
    (repo / "labs/lazy/__init__.py").write_text("def __getattr__(name):\n    raise AttributeError(name)\n")
    (repo / "labs/lazy/one.py").write_text("X = 1\n")
    (repo / "labs/lazy/two.py").write_text("Y = 2\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from labs import lazy as lz"), nbformat.v4.new_code_cell("lz.make_one()")]
    (repo / "source/lab1/lab1.ipynb").write_text(nbformat.writes(nb))
    assert record.labs_dependencies(repo, "lab1") == [
        "labs/__init__.py", "labs/lazy/__init__.py", "labs/lazy/one.py", "labs/lazy/two.py"]


def test_a_new_dataset_changes_nothing_for_a_lab_that_uses_another():
    """The course's labs.data resolves ``generate_<dataset>`` to that dataset's module only; the catalog of
    names counts only for what looks datasets up by name."""
    c1 = record.labs_dependencies(ROOT, "c1_cdc_debezium")
    assert "labs/data/ecommerce.py" in c1
    assert not {"labs/data/payments.py", "labs/data/catalog.py", "labs/data/cardtxns.py"} & set(c1)
    assert "labs/data/payments.py" in record.labs_dependencies(ROOT, "c2_exactly_once_payments")


def test_rounds_never_share_a_cell_or_a_test_and_keep_correct_variants_apart():
    wrong = [{"name": "w1", "replace": {"a": ""}, "fails": ["t1"]},
             {"name": "w2", "replace": {"b": ""}, "fails": ["t2"]},
             {"name": "w3", "replace": {"a": ""}, "fails": ["t3"]},
             {"name": "w4", "replace": {"c": ""}, "fails": ["t1"], "may_fail": ["t4"]}]
    packed = discriminate.rounds(wrong)
    assert [[v["name"] for v in r] for r in packed] == [["w1", "w2"], ["w3", "w4"]]


def test_fixture_problems_name_unknown_cells_and_thin_coverage():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {"grade_id": "ans", "solution": True}}),
                nbformat.v4.new_code_cell("assert x", metadata={"nbgrader": {"grade_id": "t", "grade": True,
                                                                             "points": 1}})]
    variants = discriminate.Variants([{"name": "one", "replace": {"ans": "x = 0"}, "fails": ["t"]},
                                      {"name": "one", "replace": {"nope": ""}, "fails": ["t9"]}])
    problems = variants.problems(nb)
    assert "variant name 'one' is used twice" in problems
    assert any("not solution cells: ['nope']" in p for p in problems)
    assert any("not graded test cells: ['t9']" in p for p in problems)
    assert any("fewer than two" in p for p in problems)
    assert notebook.graded_tests(nb) == {"t": 1.0}


def test_a_file_edited_during_the_run_is_not_recorded(repo):
    ran_on = record.inputs(repo, "lab1")
    (repo / "labs/b.py").write_text("def helper():\n    return 2\n")
    with pytest.raises(ValueError, match="changed while lab1 was being verified.*labs/b.py"):
        record.write(repo, "lab1", {"passed": True, "problems": [], "variants": []}, ran_on)
    assert not record.record_path(repo, "lab1").exists()


def test_a_correct_variant_that_fails_a_test_and_a_wrong_one_that_passes_are_both_reported(tmp_path):
    """A real full discrimination of the small s0 lab (no services needed), with two bad fixtures."""
    import json
    import shutil

    shutil.copytree(ROOT / "source" / "s0_warmup", tmp_path / "source" / "s0_warmup")
    fixtures = tmp_path / "tests" / "fixtures" / "s0_warmup"
    shutil.copytree(ROOT / "tests" / "fixtures" / "s0_warmup", fixtures)
    wrong = json.loads((fixtures / "wrong_variants.json").read_text())
    solution = notebook.load(tmp_path / "source" / "s0_warmup" / "s0_warmup.ipynb")
    late = next(c.source for c in solution.cells if notebook.meta(c).get("grade_id") == "s0_3_late")
    wrong.append({"name": "not wrong at all", "replace": {"s0_3_late": late}, "fails": ["s0_3_late_test"]})
    (fixtures / "wrong_variants.json").write_text(json.dumps(wrong))
    correct = json.loads((fixtures / "correct_variants.json").read_text())
    correct.append({"name": "not right at all", "replace": {"s0_1_dedupe": wrong[0]["replace"]["s0_1_dedupe"]}})
    (fixtures / "correct_variants.json").write_text(json.dumps(correct))
    result = discriminate.full(tmp_path, "s0_warmup", log=lambda _msg: None)
    assert not result["passed"]
    assert any("'not wrong at all' still passes ['s0_3_late_test']" in p for p in result["problems"])
    assert any("'not right at all'" in p and "also fails ['s0_1_dedupe_test'" in p for p in result["problems"])
    outcomes = {v["name"]: v["ok"] for v in result["variants"]}
    assert outcomes["not wrong at all"] is False and outcomes["not right at all"] is False
    assert outcomes["late events with an explicit loop over arrivals"] is True
