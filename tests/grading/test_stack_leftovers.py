"""A submission that leaves things on the stack (a topic, a database) and then hangs loses
nothing else: the grader removes what carries that run's id, and says so in the notes."""

from __future__ import annotations

import re

import nbformat

from labs import db
from labs import kafka as lk
from labs.grading import demo
from labs.grading import gradebook as gbook

from .conftest import ASSIGNMENT, grade, make_course

LEAK = '''from labs import config, db as _db, kafka as _lk
_run = config.run_id()
_lk.create_topic(f"s0-{_run}-leftover")
_db.create_database(f"s0_{_run}_leftover")
while True:
    pass
'''


def leftovers() -> tuple[set, set]:
    topics = {t for t in lk.list_topics() if re.fullmatch(r"s0-[0-9a-f]{8}-leftover", t)}
    dbs = {r[0] for r in db.query("SHOW DATABASES") if re.fullmatch(r"s0_[0-9a-f]{8}_leftover", r[0])}
    return topics, dbs


def test_what_a_hanging_run_left_on_the_stack_is_removed(tmp_path, stack):
    before = leftovers()
    course = make_course(tmp_path / "leak")
    ctx = demo.context(course, ASSIGNMENT)
    nb = ctx.filled()
    first = ctx.index_of(nb, ctx.solution_ids()[0])
    nb.cells[first].source = LEAK + nb.cells[first].source
    folder = course.submission_dir("leaky", ASSIGNMENT)
    folder.mkdir(parents=True)
    (folder / f"{ASSIGNMENT}.ipynb").write_text(nbformat.writes(nb))

    grade(course)
    run = gbook.runs(course.db_url)[(ASSIGNMENT, "leaky", ASSIGNMENT)]
    assert run["status"] in ("timeout", "ok"), run
    assert any("removed what the run left on the stack: 1 topic(s), 1 database(s)" in n for n in run["notes"]), run
    assert leftovers() == before
