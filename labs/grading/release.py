"""Student versions of the assignments: ``labs release`` and ``labs release --check``.

Generation is nbgrader's own ``generate_assignment`` (its converter, run through nbgrader's
``capture_log`` helper). The check regenerates into a temporary folder with a throw-away
gradebook, compares with release/ while ignoring volatile metadata, and scans release/ for
solution and hidden-test text.
"""

from __future__ import annotations

import copy
import filecmp
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from labs.errors import LabsError

from .course import Course


class ReleaseError(LabsError):
    """nbgrader could not generate an assignment; the message carries its log."""


def generate(course: Course, assignment: str, release_root: Path | None = None,
             use_database: bool = True) -> str:
    """Run nbgrader's GenerateAssignment for one assignment; return its log.

    ``release_root`` defaults to the course's release/. With ``use_database=False`` the
    gradebook is left alone (nbgrader's ``--no-db``): the check and the demo use that.
    """
    from nbgrader.converters import GenerateAssignment
    from nbgrader.utils import capture_log

    overrides = {"assignment_id": assignment, "student_id": "."}
    if release_root is not None:
        overrides["release_directory"] = str(release_root)
    coursedir = course.coursedir(**overrides)
    cfg = copy.deepcopy(course.config)
    if use_database:
        course.autograded_dir.mkdir(parents=True, exist_ok=True)
    else:
        cfg.SaveCells.enabled = False
        cfg.GenerateAssignment.no_database = True
    converter = GenerateAssignment(coursedir=coursedir, config=cfg)
    converter.force = True
    converter.create_assignment = True
    result = capture_log(converter)
    if not result["success"]:
        raise ReleaseError(f"nbgrader generate_assignment failed for {assignment}; fix source/{assignment} "
                           f"and run `labs release` again:\n"
                           f"{result.get('log', '')}\n{result.get('error', '')}")
    return result.get("log", "")


def release(course: Course, assignments: list[str]) -> list[Path]:
    """Generate release/<assignment>/ for each assignment (and record it in the gradebook)."""
    written = []
    for assignment in assignments:
        generate(course, assignment)
        written.extend(sorted((course.release_dir / assignment).glob("*.ipynb")))
    return written


# --- the check ------------------------------------------------------------------------

def canonical(nb) -> dict:
    """What matters in a released notebook: cells, their nbgrader metadata and outputs.

    Cell ids, execution counts and notebook metadata other than the kernel are volatile.
    """
    cells = []
    for cell in nb.cells:
        meta = cell.get("metadata", {})
        cells.append({
            "cell_type": cell.cell_type,
            "source": cell.source,
            "nbgrader": meta.get("nbgrader"),
            "tags": sorted(meta.get("tags", [])),
            "editable": meta.get("editable"),
            "deletable": meta.get("deletable"),
            "outputs": cell.get("outputs", []),
        })
    kernelspec = nb.metadata.get("kernelspec", {})
    return {"nbformat": nb.nbformat, "kernel": kernelspec.get("name"), "cells": cells}


def _delimiters(course: Course) -> tuple[tuple[str, str], tuple[str, str], list[str]]:
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    sol = ClearSolutions(config=course.config)
    hid = ClearHiddenTests(config=course.config)
    stub_lines = []
    for text in list(sol.code_stub.values()) + [sol.text_stub]:
        stub_lines.extend(line.strip() for line in text.splitlines())
    return ((sol.begin_solution_delimeter, sol.end_solution_delimeter),
            (hid.begin_test_delimeter, hid.end_test_delimeter), stub_lines)


def _region_lines(text: str, begin: str, end: str) -> tuple[set[str], set[str]]:
    """Lines strictly inside begin/end regions, and the lines outside them."""
    inside, outside, depth = set(), set(), 0
    for line in text.splitlines():
        stripped = line.strip()
        if begin in line:
            depth += 1
            continue
        if end in line:
            depth = max(0, depth - 1)
            continue
        (inside if depth else outside).add(stripped)
    return inside, outside


@dataclass
class SecretText:
    """Solution and hidden-test lines of one source notebook (lines that must not be released)."""

    solution: set[str]
    hidden: set[str]

    def find(self, text: str) -> tuple[str, str] | None:
        for line in text.splitlines():
            stripped = line.strip()
            if stripped in self.hidden:
                return "hidden-test", stripped
            if stripped in self.solution:
                return "solution", stripped
        return None


def secret_text(course: Course, source_nb) -> SecretText:
    """Lines found only inside solution or hidden-test regions of a source notebook."""
    (sb, se), (hb, he), stub_lines = _delimiters(course)
    sol_in, hid_in, outside = set(), set(), set()
    for cell in source_nb.cells:
        s_in, s_out = _region_lines(cell.source, sb, se)
        h_in, h_out = _region_lines(cell.source, hb, he)
        sol_in |= s_in - h_in
        hid_in |= h_in
        outside |= s_out & h_out
    allowed = outside | set(stub_lines) | {""}
    return SecretText(solution=sol_in - allowed - hid_in, hidden=hid_in - allowed)


def _cell_texts(cell) -> list[str]:
    texts = [cell.source]
    for out in cell.get("outputs", []):
        if "text" in out:
            texts.append("".join(out["text"]))
        for value in out.get("data", {}).values():
            texts.append(value if isinstance(value, str) else json.dumps(value))
        texts.extend(out.get("traceback", []))
    return texts


def find_leaks(course: Course, assignment: str, release_dir: Path | None = None) -> list[str]:
    """Solution or hidden-test text found in release/<assignment>/ (one message per finding)."""
    release_dir = release_dir or course.release_dir / assignment
    problems = []
    for source_path in course.source_notebooks(assignment):
        secrets = secret_text(course, nbformat.read(source_path, as_version=4))
        released = release_dir / source_path.name
        if not released.exists():
            continue
        nb = nbformat.read(released, as_version=4)
        for index, cell in enumerate(nb.cells):
            for text in _cell_texts(cell):
                hit = secrets.find(text)
                if hit:
                    kind, line = hit
                    problems.append(f"{released.relative_to(course.root)} cell {index} contains "
                                    f"{kind} text: {line!r}")
                    break
    return problems


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")
            if p.is_file() and ".ipynb_checkpoints" not in p.parts and "__pycache__" not in p.parts}


def check(course: Course, assignments: list[str]) -> list[str]:
    """Problems that make release/ differ from a fresh generation, or leak secrets."""
    problems = []
    with tempfile.TemporaryDirectory(prefix="labs-release-check-") as tmp:
        tmp = Path(tmp)
        for assignment in assignments:
            fresh_root = tmp / "release"
            generate(course, assignment, release_root=fresh_root, use_database=False)
            fresh, current = fresh_root / assignment, course.release_dir / assignment
            if not current.is_dir():
                problems.append(f"release/{assignment}/ is missing; run `labs release {assignment}`")
                continue
            want, have = _files(fresh), _files(current)
            for name in sorted(want - have):
                problems.append(f"release/{assignment}/{name} is missing")
            for name in sorted(have - want):
                problems.append(f"release/{assignment}/{name} is not generated from source/")
            for name in sorted(want & have):
                if name.endswith(".ipynb"):
                    try:
                        got = nbformat.read(current / name, as_version=4)
                    except Exception as exc:  # noqa: BLE001 (any unreadable file is a finding)
                        problems.append(f"release/{assignment}/{name} is not a readable notebook: {exc}")
                        continue
                    if canonical(got) != canonical(nbformat.read(fresh / name, as_version=4)):
                        problems.append(f"release/{assignment}/{name} differs from source/{assignment}/{name}")
                elif not filecmp.cmp(fresh / name, current / name, shallow=False):
                    problems.append(f"release/{assignment}/{name} differs from source/{assignment}/{name}")
            problems.extend(find_leaks(course, assignment))
    return problems
