"""Every lab with recorded wrong variants, on the real stack: the source solution passes every
graded test cell, the released stub fails every one, each recorded plausible-wrong solution
fails the cells it targets and only those, and `labs grade` gives the solution full marks and
the stub zero. The grading runs the solution again on the same stack, so it also shows that a
run cleans up after itself and can run again."""

from __future__ import annotations

import json
import shutil
import warnings
from collections import Counter
from pathlib import Path

import pytest

from . import harness

LABS = sorted(p.parent.name for p in (harness.ROOT / "tests" / "fixtures").glob("*/wrong_variants.json"))
pytestmark = [pytest.mark.slow]


def source_notebook(lab: str) -> Path:
    return harness.ROOT / "source" / lab / f"{lab}.ipynb"


def touched(variant: dict) -> set[str]:
    """Tests a variant fails, or may fail: ``may_fail`` lists later cells whose outcome depends on
    how the run happens to go (e.g. whether a duplicate lands in the same poll as its original)."""
    return set(variant["fails"]) | set(variant.get("may_fail", ()))


def rounds(variants: list[dict]) -> list[list[dict]]:
    """Pack variants into runs whose replaced cells and touched tests do not overlap."""
    packed: list[list[dict]] = []
    for v in variants:
        for r in packed:
            cells = {c for x in r for c in x["replace"]}
            tests = {t for x in r for t in touched(x)}
            if not (cells & set(v["replace"])) and not (tests & touched(v)):
                r.append(v)
                break
        else:
            packed.append([v])
    return packed


@pytest.fixture(scope="module", params=LABS)
def lab(request, stack, tmp_path_factory):
    nb = harness.load(source_notebook(request.param))
    variants = json.loads((harness.ROOT / "tests" / "fixtures" / request.param / "wrong_variants.json").read_text())
    return request.param, nb, variants, tmp_path_factory.mktemp(request.param)


def test_solution_passes_every_test_cell(lab):
    _, nb, _, cwd = lab
    results = harness.run(nb, cwd)
    failed = [t for t, ok in results.items() if not ok]
    assert not failed, f"the solution fails {failed}"
    assert set(results) == set(harness.graded_tests(nb))


def test_released_stub_fails_every_test_cell(lab):
    _, nb, _, cwd = lab
    passed = [t for t, ok in harness.run(harness.stubbed(nb), cwd).items() if ok]
    assert not passed, f"the stub passes {passed}"


def test_every_graded_cell_has_two_recorded_wrong_variants(lab):
    _, nb, variants, _ = lab
    counts = Counter(t for v in variants for t in v["fails"])
    thin = {t: counts[t] for t in harness.graded_tests(nb) if counts[t] < 2}
    assert not thin, f"graded cells with fewer than two wrong variants: {thin}"
    for v in variants:
        assert set(v["replace"]) <= set(harness.solution_ids(nb)), v["name"]


def test_wrong_variants_lose_exactly_their_points(lab):
    _, nb, variants, cwd = lab
    problems = []
    for group in rounds(variants):
        replace = {cell: code for v in group for cell, code in v["replace"].items()}
        results = harness.run(harness.substitute(nb, replace), cwd)
        must_fail = {t for v in group for t in touched(v)}
        for v in group:
            survived = [t for t in v["fails"] if results[t]]
            if survived:
                problems.append(f"{v['name']!r} still passes {survived}")
        broken = [t for t, ok in results.items() if not ok and t not in must_fail]
        if broken:
            problems.append(f"round {[v['name'] for v in group]} also fails {broken}")
    assert not problems, "\n".join(problems)


def test_labs_grade_gives_full_marks_to_the_solution_and_zero_to_the_stub(lab, tmp_path):
    from labs.grading import batch, demo
    from labs.grading.course import Course
    from labs.grading.execute import Limits

    name, nb, _, _ = lab
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(harness.ROOT / "nbgrader_config.py", root)
    for folder in ("source", "release"):
        shutil.copytree(harness.ROOT / folder / name, root / folder / name)
    (root / "autograded").mkdir()
    course = Course.load(root)
    demo.write_class(course, name, ["perfect", "empty"])
    options = batch.Options(workers=2, limits=Limits(cell_timeout=120, notebook_timeout=600), progress=False,
                            feedback=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = batch.grade(course, [name], options, log=lambda msg: None)
        from nbgrader.api import Gradebook

        with Gradebook(course.db_url, course.course_id) as gb:
            got = {s.student.id: (float(s.score), float(s.max_score)) for s in gb.assignment_submissions(name)}
    total = sum(harness.graded_tests(nb).values())
    assert got["perfect"] == (total, total) and got["empty"] == (0.0, total), (got, summary.statuses)
