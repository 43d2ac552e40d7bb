"""A deterministic demo class: ``labs demo-class`` writes submitted/<student>/<assignment>/.

Every submission is built from the assignment itself: the released notebook (what a student
receives) with solution cells filled from source/ (perfect), left as released (empty), or
filled with plausible wrong answers; plus hostile submissions that try what students (or
their bugs) do to graders. The same command always writes the same files.
"""

from __future__ import annotations

import copy
import json
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .course import Course


@dataclass
class Context:
    course: Course
    assignment: str
    released: object           # released NotebookNode
    solutions: dict[str, str]  # solution grade_id -> source solution code (delimiters removed)
    wrong: dict[str, str] = field(default_factory=dict)  # solution grade_id -> a plausible wrong answer

    def filled(self, answers: dict[str, str] | None = None):
        """The released notebook with solution cells replaced (perfect by default)."""
        nb = copy.deepcopy(self.released)
        answers = self.solutions if answers is None else answers
        for cell in nb.cells:
            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if gid in answers and cell.metadata.nbgrader.get("solution"):
                cell.source = answers[gid]
        return nb

    def solution_ids(self) -> list[str]:
        return list(self.solutions)

    def index_of(self, nb, grade_id: str) -> int:
        for i, cell in enumerate(nb.cells):
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
                return i
        raise KeyError(grade_id)

    def test_ids(self) -> list[str]:
        return [c.metadata.nbgrader["grade_id"] for c in self.released.cells
                if c.get("metadata", {}).get("nbgrader", {}).get("grade")
                and not c.metadata.nbgrader.get("solution")]


def _strip_delimiters(text: str) -> str:
    return "\n".join(line for line in text.splitlines()
                     if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line)


def _code(source: str):
    return nbformat.v4.new_code_cell(source)


def _prepend(nb, index: int, code: str) -> None:
    nb.cells[index].source = code + "\n" + nb.cells[index].source


def _append(nb, index: int, code: str) -> None:
    nb.cells[index].source = nb.cells[index].source + "\n" + code


# --- the variants ------------------------------------------------------------------------------
# Each returns the bytes of the submitted notebook.

def _nb_bytes(nb) -> bytes:
    return nbformat.writes(nb).encode()


def perfect(ctx: Context) -> bytes:
    return _nb_bytes(ctx.filled())


def empty(ctx: Context) -> bytes:
    return _nb_bytes(ctx.released)


def wrong_answers(course: Course, assignment: str) -> dict[str, str]:
    """Plausible wrong answers per solution cell: the first recorded wrong variant of each cell
    in the course's ``tests/fixtures/<assignment>/wrong_variants.json`` (none when it has none)."""
    answers: dict[str, str] = {}
    for variant in course.wrong_variants(assignment):
        for grade_id, code in variant["replace"].items():
            answers.setdefault(grade_id, code)
    return answers


def partial(ctx: Context) -> bytes:
    ids = ctx.solution_ids()
    wrong = ctx.wrong
    answers = {gid: ctx.solutions[gid] for gid in ids[: max(1, len(ids) // 3)]}
    for gid in ids[len(answers): len(answers) + 1]:
        if gid in wrong:
            answers[gid] = wrong[gid]
    return _nb_bytes(ctx.filled(answers))


def wrong(ctx: Context) -> bytes:
    return _nb_bytes(ctx.filled({**ctx.solutions, **ctx.wrong}))


def _insert_in_body(nb, index: int, code: str) -> None:
    """Insert indented ``code`` as the first statement of the function in cell ``index``."""
    lines = nb.cells[index].source.splitlines()
    body = next(n for n, line in enumerate(lines) if line.startswith("    ") and '"""' not in line)
    lines.insert(body, code)
    nb.cells[index].source = "\n".join(lines)


def stderr_but_correct(ctx: Context) -> bytes:
    """Correct answers that print a warning to stderr whenever they run."""
    nb = ctx.filled()
    _insert_in_body(nb, ctx.index_of(nb, ctx.solution_ids()[0]),
                    '    import sys\n    print("warning: dropping redelivered events", file=sys.stderr)')
    return _nb_bytes(nb)


# The demo's endless notebooks ask for a short per-cell limit of their own (a notebook may
# shorten its limit, never lengthen it: labs.grading.runner.cell_timeouts), so a demo class is
# graded in minutes while real submissions keep the course's limits.
DEMO_CELL_TIMEOUT = 10


def infinite_loop(ctx: Context) -> bytes:
    """The second answer never returns (the per-cell limit interrupts it)."""
    nb = ctx.filled()
    i = ctx.index_of(nb, ctx.solution_ids()[1])
    _insert_in_body(nb, i, "    while True:\n        pass")
    nb.metadata.setdefault("labs", {})["cell_timeout"] = DEMO_CELL_TIMEOUT
    return _nb_bytes(nb)


def ignores_interrupts(ctx: Context) -> bytes:
    """The last answer cell ignores SIGINT and spins: only the deadlines stop it."""
    nb = ctx.filled()
    i = ctx.index_of(nb, ctx.solution_ids()[-1])
    _append(nb, i, "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass")
    nb.metadata.setdefault("labs", {})["cell_timeout"] = DEMO_CELL_TIMEOUT
    return _nb_bytes(nb)


def os_exit(ctx: Context) -> bytes:
    """The kernel exits in the second answer cell."""
    nb = ctx.filled()
    _prepend(nb, ctx.index_of(nb, ctx.solution_ids()[1]), "import os\nos._exit(3)")
    return _nb_bytes(nb)


def memory_bomb(ctx: Context) -> bytes:
    """The second answer cell allocates until memory runs out (before defining its answer)."""
    nb = ctx.filled()
    _prepend(nb, ctx.index_of(nb, ctx.solution_ids()[1]),
             "try:\n    _blocks = []\n    while True:\n        _blocks.append(bytearray(64 * 1024 * 1024))\n"
             "finally:\n    _blocks = None")
    return _nb_bytes(nb)


def process_spray(ctx: Context) -> bytes:
    """Correct answers, plus thousands of forked processes that sleep."""
    nb = ctx.filled()
    _append(nb, ctx.index_of(nb, ctx.solution_ids()[0]), '''import os, time
_children = []
try:
    while len(_children) < 5000:
        _pid = os.fork()
        if _pid == 0:
            time.sleep(600)
            os._exit(0)
        _children.append(_pid)
except OSError as _exc:
    print("fork refused after", len(_children), "children:", type(_exc).__name__)''')
    return _nb_bytes(nb)


def output_flood(ctx: Context) -> bytes:
    """Correct answers, plus 100 MB printed by one cell."""
    nb = ctx.filled()
    _append(nb, ctx.index_of(nb, ctx.solution_ids()[0]),
            'for _ in range(100):\n    print("x" * (1024 * 1024 - 1))')
    return _nb_bytes(nb)


def corrupted(ctx: Context) -> bytes:
    """A perfect notebook cut in the middle of its JSON."""
    data = perfect(ctx)
    return data[: len(data) // 2]


def nbformat_44(ctx: Context) -> bytes:
    """A perfect notebook saved as nbformat 4.4 (cells without ids)."""
    nb = json.loads(perfect(ctx))
    nb["nbformat_minor"] = 4
    for cell in nb["cells"]:
        cell.pop("id", None)
    return json.dumps(nb, indent=1).encode()


def deleted_test(ctx: Context) -> bytes:
    nb = ctx.filled()
    del nb.cells[ctx.index_of(nb, ctx.test_ids()[1])]
    return _nb_bytes(nb)


def altered_test(ctx: Context) -> bytes:
    """A wrong first answer whose test cell was replaced by one that always passes."""
    nb = ctx.filled({**ctx.solutions, **{k: v for k, v in ctx.wrong.items() if k == ctx.solution_ids()[0]}})
    nb.cells[ctx.index_of(nb, ctx.test_ids()[0])].source = "assert True"
    return _nb_bytes(nb)


def duplicated_test(ctx: Context) -> bytes:
    nb = ctx.filled()
    i = ctx.index_of(nb, ctx.test_ids()[-1])
    dup = copy.deepcopy(nb.cells[i])
    dup["id"] = "dup0cell"
    nb.cells.insert(i, dup)
    return _nb_bytes(nb)


def retyped_test(ctx: Context) -> bytes:
    nb = ctx.filled()
    i = ctx.index_of(nb, ctx.test_ids()[-1])
    cell = nb.cells[i]
    nb.cells[i] = nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata)
    nb.cells[i]["id"] = cell.get("id", "retyped0")
    return _nb_bytes(nb)


def _probe(label: str, action: str) -> str:
    return f'''try:
    {action}
    print("{label}: LEAKED")
except Exception as _exc:
    print("{label}: blocked", type(_exc).__name__)'''


def reads_source(ctx: Context) -> bytes:
    """Correct answers; also tries to read solutions, other submissions, and prints history."""
    nb = ctx.filled()
    nb_name = f"{ctx.assignment}/{ctx.assignment}.ipynb"
    probes = "\n".join([
        _probe("relative source", f'open("../source/{nb_name}").read()'),
        _probe("absolute source", f'open("{ctx.course.source_dir}/{nb_name}").read()'),
        _probe("list submitted", f'print(__import__("os").listdir("{ctx.course.submitted_dir}"))'),
    ])
    nb.cells.insert(ctx.index_of(nb, ctx.solution_ids()[0]) + 1, _code(probes))
    nb.cells.append(_code('print("\\n".join(In))  # the input history holds the hidden tests that ran'))
    return _nb_bytes(nb)


SEARCH_DISK = r"""import os, time
_deadline, _found, _seen = time.monotonic() + 3, [], 0
for _top in sorted(set(os.listdir("/")) - {"proc", "sys", "dev", "usr"}):
    for _dir, _subdirs, _files in os.walk("/" + _top):
        _seen += len(_files)
        _found += [os.path.join(_dir, f) for f in _files  # source/<assignment>/<assignment>.ipynb
                   if f == os.path.basename(_dir) + ".ipynb" and os.path.basename(os.path.dirname(_dir)) == "source"]
        if time.monotonic() > _deadline:
            break
for _path in [p for p in _found if "s0_warmup" in p][:1]:  # what a cheat wants first: the hidden tests
    _cells = ["".join(c["source"]) for c in __import__("json").load(open(_path))["cells"]]
    print("\n".join(c for c in _cells if "BEGIN HIDDEN TESTS" in c))
for _path in _found:
    print("course notebook found:", _path)
print(f"course notebooks found: {len(_found)} (of {_seen} files seen)")"""


def searches_disk(ctx: Context) -> bytes:
    """Correct answers; also walks the whole filesystem for course notebooks (any clone of the
    course on the machine) and prints the paths and text it finds."""
    nb = ctx.filled()
    nb.cells.insert(ctx.index_of(nb, ctx.solution_ids()[0]) + 1, _code(SEARCH_DISK))
    return _nb_bytes(nb)


TAMPER_STACK = r"""import requests as _rq
from kafka import KafkaAdminClient as _KA, KafkaConsumer as _KC, TopicPartition as _TP
from kafka.admin import NewTopic as _NT
from labs import config as _config
from labs.stack import gate as _gate

def _refused(label, reached):
    try:
        print(f"{label}: LEAKED" if reached() else f"{label}: blocked (saw nothing)")
    except Exception as _exc:
        print(f"{label}: blocked", type(_exc).__name__)

def _connect_configs():  # every connector's configuration, database passwords included
    _c = _KC(bootstrap_servers=_config.kafka_bootstrap(), enable_auto_commit=False, consumer_timeout_ms=1000)
    _c.assign([_TP("_labs_connect_configs", 0)])
    _c.seek(_TP("_labs_connect_configs", 0), 0)
    return [r for rs in _c.poll(timeout_ms=1000).values() for r in rs]

_refused("kafka: other topics listed", lambda: _KA(bootstrap_servers=_config.kafka_bootstrap()).list_topics())
_refused("kafka: Connect's stored configurations read", _connect_configs)
_refused("kafka: topic created outside the run",
         lambda: _KA(bootstrap_servers=_config.kafka_bootstrap()).create_topics([_NT("not-this-run", 1, 1)]) or True)
_refused("connect: connectors listed", lambda: _rq.get(f"{_config.connect_url()}/connectors", timeout=5).json())
_refused("connect: a connector of another run deleted",
         lambda: _rq.delete(f"{_config.connect_url()}/connectors/c1-00000000-main", timeout=5).status_code != 403)
_refused("connect: its internal port", lambda: _rq.get(f"{_gate.internal_connect_url()}/connectors", timeout=5))
_refused("registry: subjects listed", lambda: _rq.get(f"{_config.registry_url()}/subjects", timeout=5).json())
_refused("registry: every subject's compatibility changed",
         lambda: _rq.put(f"{_config.registry_url()}/config", json={"compatibility": "NONE"},
                         timeout=5).status_code != 403)
_refused("registry: its internal port", lambda: _rq.get(f"{_gate.internal_registry_url()}/subjects", timeout=5))"""


def tampers_with_stack(ctx: Context) -> bytes:
    """Correct answers; also tries to see and change what is not its run's on Kafka, Kafka Connect
    and the schema registry (other runs' topics and connectors, Connect's stored configurations,
    the registry's global settings, the services' internal ports)."""
    nb = ctx.filled()
    nb.cells.insert(ctx.index_of(nb, ctx.solution_ids()[0]) + 1, _code(TAMPER_STACK))
    return _nb_bytes(nb)


def writes_gradebook(ctx: Context) -> bytes:
    """The released stubs, plus attempts to give itself full marks in the gradebook."""
    nb = copy.deepcopy(ctx.released)
    db = ctx.course.db_path or Path("/nonexistent.db")
    probes = "\n".join([
        _probe("gradebook write", f'import sqlite3; _c = sqlite3.connect("file:{db}?mode=rw", uri=True); '
                                  '_c.execute("UPDATE grade SET auto_score = 100"); _c.commit()'),
        _probe("autograded write", f'open("{ctx.course.autograded_dir}/pwned.txt", "w").write("x")'),
        _probe("relative gradebook", 'open("../autograded/gradebook.db", "r+b")'),
    ])
    nb.cells.insert(ctx.index_of(nb, ctx.solution_ids()[0]) + 1, _code(probes))
    return _nb_bytes(nb)


def monkeypatch_asserts(ctx: Context) -> bytes:
    """Wrong answers, plus assertion helpers replaced by functions that never fail."""
    nb = ctx.filled({**ctx.solutions, **ctx.wrong})
    nb.cells.insert(ctx.index_of(nb, ctx.solution_ids()[0]), _code(
        "import numpy.testing, pandas.testing, unittest\n"
        "numpy.testing.assert_allclose = lambda *a, **k: None\n"
        "pandas.testing.assert_frame_equal = lambda *a, **k: None\n"
        "unittest.TestCase.assertEqual = lambda *a, **k: None"))
    return _nb_bytes(nb)


VARIANTS: dict[str, Callable[[Context], bytes]] = {
    "perfect": perfect,
    "partial": partial,
    "wrong": wrong,
    "empty": empty,
    "stderr-correct": stderr_but_correct,
    "infinite-loop": infinite_loop,
    "ignores-interrupt": ignores_interrupts,
    "os-exit": os_exit,
    "memory-bomb": memory_bomb,
    "process-spray": process_spray,
    "output-flood": output_flood,
    "corrupted-json": corrupted,
    "nbformat-44": nbformat_44,
    "deleted-test": deleted_test,
    "altered-test": altered_test,
    "duplicated-test": duplicated_test,
    "retyped-test": retyped_test,
    "reads-source": reads_source,
    "searches-disk": searches_disk,
    "tampers-with-stack": tampers_with_stack,
    "writes-gradebook": writes_gradebook,
    "monkeypatch-asserts": monkeypatch_asserts,
}


# Assignments that get every variant, hostile ones included; labs (long notebooks on the
# stack) get the ordinary four, so `make grade` on a fresh clone stays a matter of minutes.
FULL_DEMO = ("s0_warmup",)
LAB_DEMO = ("perfect", "partial", "wrong", "empty")


def context(course: Course, assignment: str) -> Context:
    """Released notebook (generated fresh, throw-away gradebook) and source solutions."""
    from .release import generate

    sources = course.source_notebooks(assignment)
    if len(sources) != 1:
        raise ValueError(f"the demo class needs exactly one notebook in source/{assignment}/")
    with tempfile.TemporaryDirectory(prefix="labs-demo-") as tmp:
        generate(course, assignment, release_root=Path(tmp) / "release", use_database=False)
        released = nbformat.read(Path(tmp) / "release" / assignment / sources[0].name, as_version=4)
    source = nbformat.read(sources[0], as_version=4)
    solutions = {}
    for cell in source.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and cell.cell_type in ("code", "markdown"):  # markdown: a written answer
            solutions[meta["grade_id"]] = _strip_delimiters(cell.source)
    return Context(course=course, assignment=assignment, released=released, solutions=solutions,
                   wrong=wrong_answers(course, assignment))


def write_class(course: Course, assignment: str, variants: list[str] | None = None,
                prefix: str = "") -> dict[str, Path]:
    """Write one submission per variant; returns student id -> notebook path."""
    ctx = context(course, assignment)
    notebook_name = course.source_notebooks(assignment)[0].name
    written = {}
    if variants is None:  # the hostile variants on the small fixture assignment; labs get the four ordinary ones
        variants = list(VARIANTS) if assignment in FULL_DEMO else list(LAB_DEMO)
    for name in variants:
        student = f"{prefix}{name}"
        folder = course.submission_dir(student, assignment)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / notebook_name
        path.write_bytes(VARIANTS[name](ctx))
        (folder / "timestamp.txt").write_text("2024-01-15 12:00:00.000000 UTC\n")
        written[student] = path
    enrol(course, list(written))
    return written


def enrol(course: Course, students: list[str]) -> None:
    """Put the demo students on the course roster with a name, as an instructor's roster import
    would (``nbgrader db student import``); the formgrader shows "None, None" for a nameless student."""
    from nbgrader.api import Gradebook

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(course.db_url, course.course_id) as gb:
            for student in students:
                gb.update_or_create_student(student, first_name=student.replace("-", " ").capitalize(),
                                            last_name="Demo")
