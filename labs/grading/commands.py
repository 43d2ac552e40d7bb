"""Command line of the grader: ``labs release``, ``labs grade``, ``labs gradebook``, ``labs demo-class``."""

from __future__ import annotations

import sys
from pathlib import Path

from labs.errors import BadValueError

from .limits import Limits


def _fast_imports() -> None:
    """jsonschema imports this optional IRI checker when installed; building its grammar takes
    seconds and nothing here needs it (nbformat and nbgrader validate without formats)."""
    sys.modules.setdefault("rfc3987_syntax", None)


def _course():
    from .course import Course

    return Course.load()


def cmd_release(args) -> int:
    _fast_imports()
    from .course import resolve_assignments
    from .release import check, release

    course = _course()
    assignments = resolve_assignments(course, args.assignments)
    if not assignments:
        print("no assignment in source/", file=sys.stderr)
        return 1
    if args.check:
        problems = check(course, assignments)
        if problems:
            print("release/ is not in sync with source/ or leaks solutions:", file=sys.stderr)
            for problem in problems:
                print(f"  - {problem}", file=sys.stderr)
            print("fix: run `labs release` (and never edit release/ by hand)", file=sys.stderr)
            return 1
        print(f"release/ is in sync with source/ and leaks nothing ({', '.join(assignments)})")
        return 0
    for path in release(course, assignments):
        print(f"wrote {path.relative_to(course.root)}")
    return 0


def _quiet_warnings() -> None:
    """nbgrader's gradebook API triggers SQLAlchemy warnings that say nothing to a user."""
    import warnings

    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", category=SAWarning)


def cmd_grade(args) -> int:
    _fast_imports()
    from .batch import Options, grade, parse_shard
    from .course import resolve_assignments
    from .report import export

    _quiet_warnings()
    shard = parse_shard(args.shard) if args.shard else None
    course = _course()
    assignments = resolve_assignments(course, args.assignments)
    given = {"cell_timeout": args.cell_timeout or course.cell_timeout, "notebook_timeout": args.timeout,
             "memory_mb": args.memory}
    limits = Limits(**{name: value for name, value in given.items() if value is not None})
    options = Options(students=args.students, workers=_workers(args.workers, limits), force=args.force, shard=shard,
                      limits=limits, feedback=not args.no_feedback, progress=not args.no_progress,
                      private_view=args.private_view, warm=not args.no_warm,
                      fork=not args.no_fork)
    summary = grade(course, assignments, options)
    csv_path, report_path = export(course)
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(summary.statuses.items())) or "none"
    print(f"graded {summary.graded} submission(s), skipped {summary.skipped} already graded, "
          f"in {summary.wall:.1f} s with {options.workers} worker(s); notebooks by status: {statuses}")
    for message in summary.messages:
        print(f"  ! {message}", file=sys.stderr)
    print(f"gradebook: {course.db_url}")
    print(f"grades:    {csv_path.relative_to(course.root)}")
    print(f"report:    {report_path.relative_to(course.root)}")
    _hand_grading(course)
    if options.feedback:
        print(f"feedback:  {course.feedback_dir.relative_to(course.root)}/<student>/<assignment>/")
    return 1 if summary.messages else 0


def _db_url(value: str) -> str:
    return value if "://" in value else f"sqlite:///{Path(value).resolve()}"


def cmd_merge(args) -> int:
    _fast_imports()
    from .gradebook import merge
    from .report import export

    _quiet_warnings()
    course = _course()
    target = _db_url(args.into) if args.into else course.db_url
    counts = merge(target, [_db_url(db) for db in args.databases], course.course_id)
    print(f"merged {counts['submissions']} submission(s) into {target} "
          f"({counts['skipped_older']} older duplicate(s) skipped)")
    if target == course.db_url:
        csv_path, report_path = export(course)
        print(f"grades: {csv_path.relative_to(course.root)}; report: {report_path.relative_to(course.root)}")
    return 0


def cmd_export(args) -> int:
    _fast_imports()
    from .report import export

    course = _course()
    csv_path, report_path = export(course)
    print(f"grades: {csv_path.relative_to(course.root)}\nreport: {report_path.relative_to(course.root)}")
    _hand_grading(course)
    return 0


def _hand_grading(course) -> None:
    from .report import HAND_GRADING, awaiting_hand_grading

    answers, submissions = awaiting_hand_grading(course)
    if answers:
        print(f"by hand:   {answers} answer(s) in {submissions} submission(s) wait for a grade (0 until then): "
              f"{HAND_GRADING}")


def cmd_demo(args) -> int:
    _fast_imports()
    from .course import resolve_assignments
    from .demo import VARIANTS, write_class

    variants = args.only.split(",") if args.only else None
    unknown = [v for v in variants or [] if v not in VARIANTS]
    if unknown:
        raise BadValueError(f"--only: unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    course = _course()
    assignments = resolve_assignments(course, args.assignments)
    for assignment in assignments:
        written = write_class(course, assignment, variants)
        print(f"{assignment}: wrote {len(written)} submission(s) into "
              f"{course.submitted_dir.relative_to(course.root)}/<student>/{assignment}/")
    return 0


def _workers(text: str, limits: Limits) -> int:
    from .course import auto_workers

    if str(text) == "auto":
        return auto_workers(limits.memory_mb)
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise BadValueError(f"--workers {text!r}: a number of notebooks at a time (1 or more), or auto")
    return n


def register(subparsers) -> None:
    p = subparsers.add_parser("release", help="generate release/ from source/ (nbgrader generate_assignment)",
                              description="Generate the student version of assignments into release/ with "
                                          "nbgrader's generate_assignment, or check that release/ is in sync.")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: every assignment in source/")
    p.add_argument("--check", action="store_true",
                   help="exit non-zero when release/ differs from a fresh generation or contains solution "
                        "or hidden-test text")
    p.set_defaults(func=cmd_release)

    p = subparsers.add_parser("grade", help="autograde submitted/ in parallel into the gradebook",
                              description="Autograde submissions (nbgrader semantics, papermill executor, one "
                                          "sandboxed kernel per notebook), then write grades.csv, report.html "
                                          "and feedback.")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: every assignment in source/")
    p.add_argument("--students", default="*", metavar="GLOB", help="only students whose id matches (default: *)")
    p.add_argument("--workers", default="auto", metavar="N",
                   help="notebooks graded at a time (default auto: one per core, fewer when memory is short "
                        "for that many notebooks at their --memory limit)")
    p.add_argument("--force", action="store_true", help="regrade submissions already graded and unchanged")
    p.add_argument("--shard", metavar="K/N", help="grade only shard K of N (split by student id); merge the "
                                                  "gradebooks with `labs gradebook merge`")
    p.add_argument("--cell-timeout", type=int, metavar="S",
                   help="per-cell limit in seconds (default: Execute.timeout of nbgrader_config.py)")
    p.add_argument("--timeout", type=int, metavar="S",
                   help=f"per-notebook deadline in seconds (default: {Limits.notebook_timeout})")
    p.add_argument("--memory", type=int, metavar="MB",
                   help=f"address-space limit of the kernel in MB (default: {Limits.memory_mb})")
    p.add_argument("--no-feedback", action="store_true", help="do not write feedback/ pages")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-warm", action="store_true",
                   help="start each notebook's runner and kernel only when its turn comes (default: the next "
                        "one starts while the current notebook runs)")
    p.add_argument("--no-fork", action="store_true",
                   help="start each runner and kernel as a new Python (default: fork them from one process per "
                        "worker that imported their modules once, in the same view and account)")
    p.add_argument("--private-view", choices=("auto", "on", "off"), default="auto",
                   help="run student code in a private filesystem view (bubblewrap): auto (default: when the "
                        "machine allows it, else say why and grade without), on (required), off")
    p.set_defaults(func=cmd_grade)

    p = subparsers.add_parser("gradebook", help="merge gradebooks, export grades.csv and report.html")
    sub = p.add_subparsers(dest="gradebook_command", metavar="ACTION")
    sub.required = True
    m = sub.add_parser("merge", help="merge gradebooks graded on other machines or shards into this course's")
    m.add_argument("databases", nargs="+", metavar="DB", help="gradebook files (or database URLs) to merge")
    m.add_argument("--into", metavar="DB", help="target gradebook (default: the course's autograded/gradebook.db)")
    m.set_defaults(func=cmd_merge)
    e = sub.add_parser("export", help="rebuild autograded/grades.csv and autograded/report.html")
    e.set_defaults(func=cmd_export)

    p = subparsers.add_parser("demo-class", help="write a deterministic demo class into submitted/",
                              description="Write one submission per variant (perfect, partial, wrong, empty "
                                          "and hostile ones) for each assignment into submitted/.")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: every assignment in source/")
    p.add_argument("--only", metavar="V1,V2", help="only these variants")
    p.set_defaults(func=cmd_demo)

