"""nbgrader's autograde, split around a sandboxed execution.

Before execution (trusted): read the submitted notebook from a copy of its bytes, then
nbgrader's sanitize steps (``ClearOutput``, ``DeduplicateIds``, ``OverwriteKernelspec``,
``OverwriteCells``, ``CheckCellMetadata``) with three additions that nbgrader 0.9.6 lacks:

- nbgrader flags of cells whose ``grade_id`` is known are reset to the source's (points,
  grade, locked, cell type), so a retyped or re-flagged test cell is restored and graded
  instead of breaking the whole submission; cells claiming an unknown ``grade_id`` lose
  their nbgrader metadata (they are plain student code);
- locked and test cells missing from the submission are put back (the released version,
  after the nearest cell that precedes them in the release), and ``OverwriteCells`` then
  restores their hidden tests like any other test cell;
- a cell counts as tampered only when it differs from what the student *received* (the
  released cell), not from the source: hidden tests alone never trigger it.

After execution (trusted): nbgrader's autograde steps (``IgnorePattern``,
``ClearMetadataPreprocessor``, ``LimitOutput``, ``SaveAutoGrades``, ``AssignLatePenalties``,
``CheckCellMetadata``) write the gradebook, with one change: stderr stream outputs of graded
cells are set aside while ``SaveAutoGrades`` scores them (a test passes when its code raised
no error, warnings or not) and put back afterwards for the feedback.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.v4.nbbase import new_output

from .course import Course

STATUS_ORDER = ["error", "corrupted", "missing", "kernel_died", "memory_limit", "timeout", "tampered", "ok"]
STATUSES = tuple(STATUS_ORDER)

# Student code that reaches into the test machinery. Flagged for a human; never scored.
SUSPICIOUS = [
    (re.compile(r"input_transformers|ast_transformers|\.run_cell\b|set_custom_exc|events\.register"),
     "changes how IPython runs cells"),
    # the module, not the word: an error record's type reads "builtins.KeyError"
    (re.compile(r"\bimport\s+builtins\b|\bfrom\s+builtins\s+import\b|__builtins__|__import__\(\s*['\"]builtins"),
     "changes Python builtins"),
    (re.compile(r"\b(testing|unittest|pytest)\s*\.\s*\w+\s*=(?!=)"), "replaces a testing helper"),
    (re.compile(r"\bassert_\w+\s*=(?!=)|AssertionError\s*=(?!=)"), "replaces an assertion helper"),
    (re.compile(r"sys\.settrace|sys\.setprofile|sys\.modules\s*\["), "changes the interpreter state"),
    (re.compile(r"gradebook\.db|nbgrader_config|/source/|\.\./source"), "reaches for grader files"),
]


class CorruptedNotebook(ValueError):
    pass


@dataclass
class AssignmentSpec:
    """What the grader needs to know about one assignment (built once per batch)."""

    name: str
    released: dict[str, object]               # notebook name -> released NotebookNode
    source_hash: str
    supporting_files: list[tuple[Path, str]]  # (absolute source path, path relative to the notebook)
    hidden_lines: set[str] = field(default_factory=set)
    solution_lines: set[str] = field(default_factory=set)  # source-only lines of the solution regions
    truths: dict[str, dict] = field(default_factory=dict)    # notebook name -> its cells in the gradebook


@dataclass
class NotebookOutcome:
    notebook: str
    status: str = "ok"
    notes: list[str] = field(default_factory=list)
    duration: float = 0.0
    tests: dict[str, dict] = field(default_factory=dict)
    flagged: bool = False
    executed: object | None = None   # the graded notebook (None when corrupted or missing)

    def to_row(self) -> dict:
        return {"notebook": self.notebook, "status": self.status, "notes": self.notes,
                "duration": round(self.duration, 3), "tests": self.tests, "flagged": self.flagged}


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _resources(course: Course, assignment: str, student: str, notebook: str) -> dict:
    return {"unique_key": notebook, "output_files_dir": f"{notebook}_files",
            "nbgrader": {"student": student, "assignment": assignment, "notebook": notebook,
                         "db_url": course.db_url}}


# --- reading ------------------------------------------------------------------------------

def read_submission(raw: bytes):
    """Parse a submitted notebook; CorruptedNotebook when it is not a usable nbformat 4 file."""
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except Exception as exc:  # noqa: BLE001 (JSON, encoding or schema errors alike)
        raise CorruptedNotebook(f"not a readable notebook: {type(exc).__name__}: {str(exc)[:200]}") from None
    try:
        if nb.nbformat_minor < 5:
            nb = nbformat.v4.upgrade(nb, from_version=4, from_minor=nb.nbformat_minor)
        nbformat.validate(nb)
    except Exception:  # noqa: BLE001
        try:
            from nbformat.validator import normalize

            _, nb = normalize(nb)
            nb = nbformat.from_dict(nb)
            nbformat.validate(nb)
        except Exception as exc:  # noqa: BLE001
            raise CorruptedNotebook(f"invalid notebook structure: {str(exc)[:200]}") from None
    if not isinstance(nb.get("cells"), list):
        raise CorruptedNotebook("notebook has no list of cells")
    return nb


# --- tampering ------------------------------------------------------------------------------

def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def _is_locked_in_release(cell) -> bool:
    from nbgrader import utils

    return utils.is_locked(cell) or (utils.is_grade(cell) and not utils.is_solution(cell))


def find_tampering(submitted, released) -> tuple[bool, list[str]]:
    """Compare locked and test cells of a submission with the released ones."""
    from nbgrader import utils

    copies: dict[str, list] = {}
    for cell in submitted.cells:
        gid = _nbgrader_meta(cell).get("grade_id")
        if isinstance(gid, str):
            copies.setdefault(gid, []).append(cell)
    tampered, notes = False, []
    for rcell in released.cells:
        if not _is_locked_in_release(rcell):
            continue
        gid = rcell.metadata.nbgrader["grade_id"]
        kind = "test cell" if utils.is_grade(rcell) else "locked cell"
        found = copies.get(gid, [])
        if not found:
            tampered = True
            notes.append(f"{kind} {gid} was deleted; restored from source and graded")
            continue
        if len(found) > 1:
            notes.append(f"{kind} {gid} appears {len(found)} times; the last copy is graded")
        cell = found[-1]
        meta = _nbgrader_meta(cell)
        if cell.cell_type != rcell.cell_type:
            tampered = True
            notes.append(f"{kind} {gid} was changed from {rcell.cell_type} to {cell.cell_type}; restored")
        elif _norm(cell.source) != _norm(rcell.source):
            tampered = True
            notes.append(f"{kind} {gid} was edited; restored from source")
        if utils.is_grade(rcell) and str(meta.get("points")) != str(rcell.metadata.nbgrader.get("points")):
            tampered = True
            notes.append(f"{kind} {gid}: points changed to {meta.get('points')!r}; restored")
        elif any(bool(meta.get(k)) != bool(rcell.metadata.nbgrader.get(k)) for k in ("grade", "solution", "locked")):
            tampered = True
            notes.append(f"{kind} {gid}: nbgrader flags changed; restored")
    return tampered, notes


def find_suspicious(submitted) -> list[str]:
    notes = []
    for cell in submitted.cells:
        if cell.cell_type != "code" or _is_locked_in_release(cell):
            continue
        for pattern, what in SUSPICIOUS:
            match = pattern.search(cell.source)
            if match and f"suspicious: {what}" not in " ".join(notes):
                notes.append(f"suspicious: {what} ({match.group(0)!r})")
    return notes


# --- sanitizing ------------------------------------------------------------------------------

def _source_truth(course: Course, assignment: str, notebook: str) -> dict:
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        nbrec = gb.find_notebook(notebook, assignment)
        grade = {c.name: float(c.max_score) for c in nbrec.grade_cells}
        solution = {c.name for c in nbrec.solution_cells}
        task = {c.name for c in nbrec.task_cells}
        source = {c.name: {"cell_type": c.cell_type, "locked": bool(c.locked)} for c in nbrec.source_cells}
    return {"grade": grade, "solution": solution, "task": task, "source": source}


def _fix_metadata(nb, truth: dict, notes: list[str]) -> None:
    """Reset nbgrader flags of known cells to the source's; strip unknown or broken ones."""
    from nbgrader.preprocessors import OverwriteCells

    retype = OverwriteCells()
    for cell in nb.cells:
        metadata = cell.get("metadata", {})
        if "nbgrader" not in metadata:
            continue
        meta = metadata["nbgrader"]
        gid = meta.get("grade_id") if isinstance(meta, dict) else None
        if not isinstance(gid, str) or gid not in truth["source"]:
            if isinstance(meta, dict) and (meta.get("grade") or meta.get("locked") or meta.get("solution")):
                notes.append(f"a cell claimed nbgrader id {gid!r}, unknown to the source; treated as plain code")
            del metadata["nbgrader"]
            continue
        src = truth["source"][gid]
        meta["grade"] = gid in truth["grade"]
        meta["solution"] = gid in truth["solution"]
        meta["locked"] = src["locked"]
        if gid in truth["task"]:
            meta["task"] = True
        else:
            meta.pop("task", None)
        if meta["grade"]:
            meta["points"] = truth["grade"][gid]
        else:
            meta.pop("points", None)
        meta["schema_version"] = 3
        if cell.cell_type != src["cell_type"]:
            retype.update_cell_type(cell, src["cell_type"])


def _restore_missing(nb, released) -> None:
    """Put back locked and test cells missing from the submission (the released version)."""
    def ids(cells):
        return [_nbgrader_meta(c).get("grade_id") for c in cells]

    order = [c for c in released.cells if _nbgrader_meta(c).get("grade_id")]
    for position, rcell in enumerate(order):
        gid = rcell.metadata.nbgrader["grade_id"]
        if not _is_locked_in_release(rcell) or gid in ids(nb.cells):
            continue
        insert_at = 0
        present = ids(nb.cells)
        for previous in reversed(order[:position]):
            pid = previous.metadata.nbgrader["grade_id"]
            if pid in present:
                insert_at = len(present) - present[::-1].index(pid)
                break
        cell = copy.deepcopy(rcell)
        if "id" in cell or nb.nbformat_minor >= 5:
            cell["id"] = uuid.uuid4().hex[:8]
        nb.cells.insert(insert_at, cell)


def sanitize(course: Course, spec: AssignmentSpec, student: str, notebook: str, raw: bytes):
    """The notebook to execute: nbgrader's sanitize steps plus the additions above.

    Returns (notebook, tampered, notes). Raises CorruptedNotebook.
    """
    from nbgrader.preprocessors import (
        CheckCellMetadata,
        ClearOutput,
        DeduplicateIds,
        OverwriteCells,
        OverwriteKernelspec,
    )

    nb = read_submission(raw)
    released = spec.released[notebook]
    tampered, notes = find_tampering(nb, released)
    notes += find_suspicious(nb)
    resources = _resources(course, spec.name, student, notebook)
    cfg = course.config
    # nbgrader warns about the checksum of every test cell with hidden tests, touched or not;
    # tampering is reported by find_tampering instead, so its sanitize steps log errors only.
    quiet = logging.getLogger("labs.grading.nbgrader")
    quiet.setLevel(logging.ERROR)
    nb, resources = ClearOutput(config=cfg, log=quiet)(nb, resources)
    if notebook not in spec.truths:  # the gradebook's source cells, read once a batch
        spec.truths[notebook] = _source_truth(course, spec.name, notebook)
    _fix_metadata(nb, spec.truths[notebook], notes)
    nb, resources = DeduplicateIds(config=cfg, log=quiet)(nb, resources)
    for cell in nb.cells:  # DeduplicateIds leaves {} behind, which CheckCellMetadata rejects
        if cell.get("metadata", {}).get("nbgrader") == {}:
            del cell.metadata["nbgrader"]
    _restore_missing(nb, released)
    for pp in (OverwriteKernelspec, OverwriteCells, CheckCellMetadata):
        nb, resources = pp(config=cfg, log=quiet)(nb, resources)
    return nb, tampered, notes


# --- after execution ------------------------------------------------------------------------------

NOT_RUN = {"ename": "NotExecuted", "evalue": "this test did not run ({why})",
           "traceback": ["NotExecuted: this test did not run ({why})"]}


def merge_results(nb, run, why: str):
    """The sanitized notebook with the executed cells that came back from the sandbox.

    Graded code cells that did not run get an error output, so they score 0 (nbgrader would
    give full marks to a test cell with no output).
    """
    from nbgrader import utils

    executed = copy.deepcopy(nb)
    for index, cell in enumerate(executed.cells):
        if index in run.cells:
            got = run.cells[index]
            cell["outputs"] = got.get("outputs", []) if cell.cell_type == "code" else cell.get("outputs")
            if cell.cell_type == "code":
                cell["execution_count"] = got.get("execution_count")
                cell.setdefault("metadata", {})
                for key in ("papermill", "execution"):
                    if key in got.get("metadata", {}):
                        cell.metadata[key] = got["metadata"][key]
        elif cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell):
            cell["outputs"] = [new_output("error", ename=NOT_RUN["ename"],
                                          evalue=NOT_RUN["evalue"].format(why=why),
                                          traceback=[NOT_RUN["traceback"][0].format(why=why)])]
    for cell in executed.cells:
        if cell.cell_type != "code":
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    return executed


def _graded_code_cells(nb):
    from nbgrader import utils

    return [c for c in nb.cells if c.cell_type == "code" and utils.is_grade(c)]


def score_and_save(course: Course, spec: AssignmentSpec, student: str, notebook: str, nb, timestamp=None):
    """nbgrader's autograde steps on an executed notebook; writes the gradebook.

    Returns the notebook (stderr outputs back in place) and per-test details.
    """
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader import utils
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        IgnorePattern,
        LimitOutput,
        SaveAutoGrades,
    )

    cfg = course.config
    resources = _resources(course, spec.name, student, notebook)
    with Gradebook(course.db_url, course.course_id) as gb:
        gb.update_or_create_student(student)
        if timestamp is not None:
            gb.update_or_create_submission(spec.name, student, timestamp=timestamp)
        else:
            gb.update_or_create_submission(spec.name, student)

    for pp in (IgnorePattern, ClearMetadataPreprocessor, LimitOutput):
        nb, resources = pp(config=cfg)(nb, resources)

    # A test passes when its code raised no error: stderr (warnings, logging) is set aside
    # while SaveAutoGrades scores, then put back for the feedback.
    stashed = {}
    for cell in _graded_code_cells(nb):
        kept, err = [], []
        for out in cell.get("outputs", []):
            (err if out.get("output_type") == "stream" and out.get("name") == "stderr" else kept).append(out)
        if err:
            stashed[id(cell)] = (cell, err)
            cell["outputs"] = kept
    tests = {}
    for cell in _graded_code_cells(nb):
        score, max_score = utils.determine_grade(cell)
        error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
        tests[cell.metadata.nbgrader["grade_id"]] = {
            "score": score, "max_score": max_score,
            "passed": None if score is None else score >= max_score,
            "ename": error.get("ename") if error else None,
            "evalue": (error.get("evalue") or "")[:500] if error else None,
            "stderr": id(cell) in stashed,
        }
    nb, resources = SaveAutoGrades(config=cfg)(nb, resources)
    for cell, err in stashed.values():
        cell["outputs"] = cell.get("outputs", []) + err
    for pp in (AssignLatePenalties, CheckCellMetadata):
        nb, resources = pp(config=cfg)(nb, resources)
    return nb, tests


def zero_notebook(course: Course, assignment: str, student: str, notebook: str, timestamp=None) -> dict:
    """Score 0 for every graded cell of a notebook that was not graded (missing, corrupted)."""
    from nbgrader.api import Gradebook

    tests = {}
    with Gradebook(course.db_url, course.course_id) as gb:
        gb.update_or_create_student(student)
        if timestamp is not None:
            gb.update_or_create_submission(assignment, student, timestamp=timestamp)
        else:
            gb.update_or_create_submission(assignment, student)
        submission = gb.find_submission_notebook(notebook, assignment, student)
        for grade in submission.grades:
            grade.auto_score = 0
            grade.needs_manual_grade = False
            tests[grade.name] = {"score": 0.0, "max_score": float(grade.max_score), "passed": False,
                                 "ename": None, "evalue": None, "stderr": False}
        gb.db.commit()
    return tests


def set_flag(course: Course, assignment: str, student: str, notebook: str, flagged: bool) -> None:
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        submission = gb.find_submission_notebook(notebook, assignment, student)
        submission.flagged = flagged
        gb.db.commit()


def status_of(run, nb_executed) -> tuple[str, list[str]]:
    """Execution status of one run (before tampering is taken into account)."""
    notes = []
    errors = []
    for cell in nb_executed.cells:
        for out in cell.get("outputs", []) or []:
            if out.get("output_type") == "error":
                errors.append(out.get("ename"))
    if run.truncated:
        notes.append(f"output of {len(run.truncated)} cell(s) truncated")
    if run.deadline_hit:
        return "timeout", notes + ["the notebook hit its deadline; tests that did not run score 0"]
    if run.kernel_died or (run.kernel_started and not run.finished):
        memory = "MemoryError" in run.log_tail or "Cannot allocate memory" in run.log_tail
        why = "the kernel died" if run.kernel_died else "the executor was killed"
        if memory:
            return "memory_limit", notes + [f"{why} out of memory; tests after that point score 0"]
        return "kernel_died", notes + [f"{why}; tests after that point score 0"]
    if not run.kernel_started:
        return "error", notes + [f"the kernel did not start: {run.runner_error or run.log_tail[-300:]}"]
    if "MemoryError" in errors:
        return "memory_limit", notes + ["a cell ran out of memory"]
    if "CellTimeoutError" in errors:
        return "timeout", notes + ["a cell hit the per-cell time limit and was interrupted"]
    return "ok", notes


def worst(statuses: list[str]) -> str:
    return min(statuses, key=STATUS_ORDER.index) if statuses else "ok"
