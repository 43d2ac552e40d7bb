"""labs release and labs release --check."""

from __future__ import annotations

import os
import subprocess
import sys

import nbformat

from labs.grading.course import Course
from labs.grading.release import check, release, secret_text

from .conftest import ASSIGNMENT, REPO, make_course


def test_repository_release_is_in_sync():
    assert check(Course.load(REPO), [ASSIGNMENT]) == []


def test_release_has_nbgrader_layout_and_no_outputs(tmp_path):
    course = make_course(tmp_path / "c")
    (course.release_dir / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").unlink()
    written = release(course, [ASSIGNMENT])
    assert written == [course.release_dir / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"]
    nb = nbformat.read(written[0], as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    text = "\n".join(c.source for c in nb.cells)
    assert "NotImplementedError" in text and "BEGIN HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text
    assert check(course, [ASSIGNMENT]) == []


def _released(course):
    path = course.release_dir / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    return path, nbformat.read(path, as_version=4)


def test_check_fails_when_release_is_out_of_sync(tmp_path):
    course = make_course(tmp_path / "c")
    path, nb = _released(course)
    nb.cells[0].source += "\nAn edit made by hand."
    nbformat.write(nb, path)
    problems = check(course, [ASSIGNMENT])
    assert any("differs from source" in p for p in problems), problems


def test_check_ignores_volatile_metadata(tmp_path):
    course = make_course(tmp_path / "c")
    path, nb = _released(course)
    nb.metadata["widgets"] = {"state": {}}
    for cell in nb.cells:
        cell["id"] = "x" + cell["id"][1:]
    nbformat.write(nb, path)
    assert check(course, [ASSIGNMENT]) == []


def test_check_finds_solution_and_hidden_test_text(tmp_path):
    course = make_course(tmp_path / "c")
    source = nbformat.read(course.source_dir / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    secrets = secret_text(course, source)
    solution_line = sorted(secrets.solution, key=len)[-1]
    hidden_line = sorted(secrets.hidden, key=len)[-1]
    path, nb = _released(course)
    nb.cells.append(nbformat.v4.new_markdown_cell(f"Hint:\n{solution_line}"))
    nb.cells.append(nbformat.v4.new_code_cell(f"x = 1\n{hidden_line}"))
    nbformat.write(nb, path)
    problems = check(course, [ASSIGNMENT])
    assert any("contains solution text" in p for p in problems), problems
    assert any("contains hidden-test text" in p for p in problems), problems


def test_cli_check_exit_codes(tmp_path):
    course = make_course(tmp_path / "c")
    env = {**os.environ, "LABS_HOME": str(course.root)}
    cmd = [sys.executable, "-m", "labs.cli", "release", "--check"]
    ok = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "in sync" in ok.stdout
    (course.release_dir / ASSIGNMENT / "extra.txt").write_text("stray file")
    bad = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert bad.returncode == 1
    assert "extra.txt is not generated from source/" in bad.stderr
