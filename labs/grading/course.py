"""The course as nbgrader sees it: its configuration, directories and gradebook.

Everything is read from ``nbgrader_config.py`` at the course root (``labs.config.project_root()``),
so ``labs`` commands and plain ``nbgrader`` commands always agree on paths and ids.
"""

from __future__ import annotations

import fnmatch
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from labs import config as labs_config
from labs.errors import BadValueError

CONFIG_FILE = "nbgrader_config.py"


def load_nbgrader_config(root: Path):
    """The traitlets ``Config`` of ``<root>/nbgrader_config.py`` (empty when the file is missing)."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    path = root / CONFIG_FILE
    if not path.exists():
        return Config()
    return PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()


def _tools_on_path() -> None:
    """nbgrader runs the ``alembic`` command of its environment: make sure PATH finds it."""
    import sys

    bin_dir = os.path.dirname(sys.executable)
    path = os.environ.get("PATH", "")
    if bin_dir not in path.split(os.pathsep):
        os.environ["PATH"] = bin_dir + (os.pathsep + path if path else "")


@dataclass
class Course:
    """Paths and settings of one course checkout."""

    root: Path
    config: object = field(repr=False)

    @classmethod
    def load(cls, root: Path | str | None = None) -> Course:
        _tools_on_path()
        root = Path(root).resolve() if root else labs_config.project_root()
        cfg = load_nbgrader_config(root)
        cfg.CourseDirectory.root = str(root)  # a copied course must not point at the original
        course = cls(root=root, config=cfg)
        if "db_url" not in cfg.CourseDirectory:
            cfg.CourseDirectory.db_url = "sqlite:///" + str(course.autograded_dir / "gradebook.db")
        return course

    def coursedir(self, **overrides):
        """An nbgrader ``CourseDirectory`` configured for this course."""
        from nbgrader.coursedir import CourseDirectory

        cd = CourseDirectory(config=self.config)
        for key, value in overrides.items():
            setattr(cd, key, value)
        return cd

    # paths -------------------------------------------------------------------------
    def _dir(self, trait: str, default: str) -> Path:
        name = self.config.CourseDirectory.get(trait, default)
        return (self.root / name).resolve()

    @property
    def source_dir(self) -> Path:
        return self._dir("source_directory", "source")

    @property
    def release_dir(self) -> Path:
        return self._dir("release_directory", "release")

    @property
    def submitted_dir(self) -> Path:
        return self._dir("submitted_directory", "submitted")

    @property
    def autograded_dir(self) -> Path:
        return self._dir("autograded_directory", "autograded")

    @property
    def feedback_dir(self) -> Path:
        return self._dir("feedback_directory", "feedback")

    @property
    def course_id(self) -> str:
        return self.config.CourseDirectory.get("course_id", "default_course")

    @property
    def db_url(self) -> str:
        return self.config.CourseDirectory.db_url

    @property
    def db_path(self) -> Path | None:
        """The gradebook file when the gradebook is SQLite, else None."""
        url = self.db_url
        if url.startswith("sqlite:///"):
            return Path(url[len("sqlite:///"):])
        return None

    @property
    def cell_timeout(self) -> int:
        """Per-cell limit in seconds: nbgrader's ``Execute.timeout`` so both graders agree."""
        return int(self.config.Execute.get("timeout", 30) or 30)

    # listings ----------------------------------------------------------------------
    def assignments(self) -> list[str]:
        """Source assignments (folders of source/ holding at least one notebook), sorted."""
        if not self.source_dir.is_dir():
            return []
        return sorted(p.name for p in self.source_dir.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and any(p.glob("*.ipynb")))

    def source_notebooks(self, assignment: str) -> list[Path]:
        return sorted((self.source_dir / assignment).glob("*.ipynb"))

    def students(self, assignment: str, pattern: str = "*") -> list[str]:
        """Students with a folder submitted/<student>/<assignment>/, filtered by a glob."""
        if not self.submitted_dir.is_dir():
            return []
        found = []
        for student_dir in sorted(self.submitted_dir.iterdir()):
            if student_dir.name.startswith(".") or not (student_dir / assignment).is_dir():
                continue
            if fnmatch.fnmatchcase(student_dir.name, pattern):
                found.append(student_dir.name)
        return found

    def wrong_variants(self, assignment: str) -> list[dict]:
        """The recorded plausible wrong answers of an assignment (``tests/fixtures/<assignment>/
        wrong_variants.json``: name, replace {solution grade_id: code}, fails), [] when none."""
        path = self.root / "tests" / "fixtures" / assignment / "wrong_variants.json"
        return json.loads(path.read_text()) if path.is_file() else []

    def submission_dir(self, student: str, assignment: str) -> Path:
        return self.submitted_dir / student / assignment

    def autograded_notebook(self, student: str, assignment: str, notebook: str) -> Path:
        return self.autograded_dir / student / assignment / f"{notebook}.ipynb"

    def log_file(self, student: str, assignment: str, notebook: str) -> Path:
        return self.autograded_dir / "logs" / assignment / student / f"{notebook}.log"


def resolve_assignments(course: Course, names: list[str] | None) -> list[str]:
    """The assignments named on the command line (all source assignments when none)."""
    available = course.assignments()
    if not names:
        return available
    unknown = [n for n in names if n not in available]
    if unknown:
        raise BadValueError(f"unknown assignment(s): {', '.join(unknown)}; "
                            f"source/ has: {', '.join(available) or 'none'}")
    return list(names)


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (not Linux)
        return os.cpu_count() or 1


WARM_RUNNER_MB = 300  # a runner and its kernel waiting with the notebook's modules imported


def auto_workers(memory_mb: int, cores: int | None = None, available_mb: float | None = None) -> int:
    """Notebooks to grade at a time: one per core, as long as three quarters of the memory
    available now hold each slot's running notebook at its limit plus its warm runner."""
    import psutil

    cores = cores or cpu_count()
    if available_mb is None:
        available_mb = psutil.virtual_memory().available / 2**20
    return max(1, min(cores, int(0.75 * available_mb // (memory_mb + WARM_RUNNER_MB))))
