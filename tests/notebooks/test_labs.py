"""Every lab with recorded variants, on the real stack, in two tiers.

Every CI run: one `labs grade` batch over every lab (a perfect, an empty and a wrong submission
each, and one whose kernel dies half way, two notebooks at a time through the sandbox, as an
instructor would grade): the solution earns every point of every graded cell, the released stub
none, the fixture files are well formed, and two minutes after the batch nothing any of its runs
created is left on the stack.

The full discrimination (every recorded wrong variant fails exactly the cells it targets, every
recorded correct variant passes) runs only for a lab whose files changed since its record in
``tests/fixtures/<lab>/verified.json`` (see labs/verify/record.py); `make verify-lab LAB=...`
runs it and writes the record."""

from __future__ import annotations

import shutil
import time
import warnings
from pathlib import Path

import pytest

from labs.verify import discriminate, notebook, record

ROOT = Path(__file__).resolve().parents[2]

LABS = record.verifiable(ROOT)
STACK_LABS = [lab for lab in LABS if lab != "s0_warmup"]
pytestmark = [pytest.mark.slow]
QUIET_S = 120  # how long after the batch nothing of its runs may reappear


def source_notebook(lab: str):
    return notebook.load(ROOT / "source" / lab / f"{lab}.ipynb")


@pytest.fixture(scope="module")
def class_grades(stack, tmp_path_factory):
    """(lab, student) -> {grade_id: test row} from one batch grading of every lab, with the run ids
    the batch used and when it ended."""
    from labs.grading import batch, demo, spark_sessions
    from labs.grading import gradebook as gbook
    from labs.grading.course import Course
    from labs.grading.execute import Limits

    root = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", root)
    for lab in LABS:
        for folder in ("source", "release"):
            shutil.copytree(ROOT / folder / lab, root / folder / lab)
        shutil.copytree(ROOT / "tests" / "fixtures" / lab, root / "tests" / "fixtures" / lab)
    (root / "autograded").mkdir()
    course = Course.load(root)
    for lab in LABS:
        demo.write_class(course, lab, ["perfect", "empty", "wrong"])
    demo.write_class(course, "c1_cdc_debezium", ["os-exit"])  # dies after its setup created databases
    run_ids: list[str] = []
    finished: list[str] = []

    def provision(run_id: str) -> dict:
        run_ids.append(run_id)
        return spark_sessions.provision(run_id)

    def finish(run_id: str) -> list[str]:
        finished.append(run_id)
        return spark_sessions.finish(run_id)

    options = batch.Options(workers=2, limits=Limits(cell_timeout=150, notebook_timeout=600), progress=False,
                            feedback=False, hooks=batch.RunHooks(provision=provision, finish=finish))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = batch.grade(course, LABS, options, log=lambda msg: None)
    rows = gbook.runs(course.db_url)
    grades = {(lab, student): {"status": row["status"], "tests": row["tests"], "notes": row["notes"]}
              for (lab, student, _nb), row in rows.items()}
    return grades, summary, {"run_ids": run_ids, "finished": finished, "ended": time.monotonic()}


def _lost(tests: dict) -> dict[str, str]:
    return {gid: f"{t['score']}/{t['max_score']} {t.get('ename') or ''}: {t.get('evalue') or ''}"
            for gid, t in tests.items() if (t["score"] or 0) < t["max_score"]}


def _earned(tests: dict) -> dict[str, str]:
    return {gid: f"{t['score']}/{t['max_score']}" for gid, t in tests.items() if (t["score"] or 0) > 0}


@pytest.mark.parametrize("lab", LABS)
def test_labs_grade_gives_the_solution_every_point(lab, class_grades):
    grades, summary, _ = class_grades
    run = grades.get((lab, "perfect"))
    assert run, f"no graded run of {lab}'s perfect submission: {summary.messages[-5:]}"
    assert run["status"] == "ok", run
    assert set(run["tests"]) == set(notebook.graded_tests(source_notebook(lab)))
    lost = _lost(run["tests"])
    assert not lost, f"the solution of {lab} loses points: {lost}"


@pytest.mark.parametrize("lab", LABS)
def test_labs_grade_gives_the_released_stub_zero(lab, class_grades):
    grades, _, _ = class_grades
    run = grades[(lab, "empty")]
    earned = _earned(run["tests"])
    assert not earned, f"the released stub of {lab} earns points: {earned}"
    assert set(run["tests"]) == set(notebook.graded_tests(source_notebook(lab)))


@pytest.mark.parametrize("lab", LABS)
def test_recorded_variants_are_well_formed(lab):
    problems = discriminate.Variants.load(ROOT, lab).problems(source_notebook(lab))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lab", LABS)
def test_right_answers_written_another_way_are_recorded(lab):
    """correct_variants.json exists and is not empty (the full discrimination grades each one)."""
    variants = discriminate.Variants.load(ROOT, lab)
    assert variants.correct, \
        f"{lab}: record right answers written another way in tests/fixtures/{lab}/correct_variants.json"


@pytest.mark.parametrize("lab", LABS)
def test_mutation_pass_is_recorded_for_todays_notebook(lab):
    """A mutation pass on today's notebook killed at least its minimum share of the mutants.
    It is not repeated here (minutes to tens of minutes a lab): `labs mutate LAB` records it."""
    state = record.mutation_state(ROOT, lab)
    assert state.fresh, state.describe()


@pytest.mark.parametrize("lab", LABS)
def test_full_discrimination_is_recorded_for_todays_files(lab, stack):
    """Fresh record: nothing the lab depends on changed since a full run passed. Stale: run it now."""
    state = record.freshness(ROOT, lab)
    if state.fresh:
        recorded = record.load(ROOT, lab)
        assert recorded["passed"] and not recorded["problems"]
        assert all(v["ok"] for v in recorded["variants"]), [v for v in recorded["variants"] if not v["ok"]]
        return
    print(state.describe(), "- running it now; record it with `make verify-lab LAB=" + lab + "`")
    result = discriminate.full(ROOT, lab, jobs=2)
    assert result["passed"], f"{lab}: " + "\n".join(result["problems"])


@pytest.mark.parametrize("lab", LABS)
def test_labs_grade_takes_points_from_the_wrong_answers(lab, class_grades):
    grades, _, _ = class_grades
    run = grades[(lab, "wrong")]
    assert _lost(run["tests"]), f"the recorded wrong answers of {lab} lose no point: {run}"


def test_nothing_a_graded_run_created_is_left_on_the_stack(class_grades):
    """Two minutes after the batch (perfect, empty, wrong and a killed kernel), none of its runs' topics,
    consumer groups, connectors, databases, accounts or schema subjects exists."""
    import requests

    from labs import config, connectors, db, runs
    from labs import kafka as lk

    grades, _, batch_info = class_grades
    assert grades[("c1_cdc_debezium", "os-exit")]["status"] == "kernel_died"
    ids = batch_info["run_ids"]
    # one run a notebook, plus the runners warmed for a next notebook that never came (one a slot
    # at most); every run provisioned was finished
    assert 3 * len(LABS) + 1 <= len(ids) <= 3 * len(LABS) + 1 + 2
    assert sorted(batch_info["finished"]) == sorted(ids)
    time.sleep(max(0.0, QUIET_S - (time.monotonic() - batch_info["ended"])))
    mine = [runs.matcher(run_id) for run_id in ids]
    client = lk.admin()
    try:
        groups = [g["group_id"] for g in client.list_groups()]
    finally:
        client.close()
    present = {
        "topics": lk.list_topics(), "groups": groups, "connectors": connectors.names(),
        "databases": [r[0] for r in db.query("SHOW DATABASES")],
        "accounts": [r[0] for r in db.query("SELECT User FROM mysql.user")],
        "subjects": requests.get(f"{config.registry_url()}/subjects", timeout=10).json(),
    }
    left = {kind: [n for n in names if any(m(n) for m in mine)] for kind, names in present.items()}
    assert not any(left.values()), left
