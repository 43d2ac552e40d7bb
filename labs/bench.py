"""``labs bench stack``: cold start, memory and Spark session figures of the local stack.

Prints figures, asserts nothing: the machine is shared and noisy, so targets are shown next
to the measurements. The Spark Connect session time is also shown as a ratio against a
classic in-process session measured in the same run.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from labs.stack import manager

TARGETS = {"stack_ready_s": 30.0, "stack_rss_gb": 3.0, "spark_session_s": 3.0}

SESSION_PROBE = r"""
import sys, time
t0 = time.perf_counter()
import labs.spark
spark = labs.spark.session(mode=sys.argv[1])
spark.range(10).count()
print(time.perf_counter() - t0)
spark.stop()
"""


def spark_session_seconds(mode: str, runs: int) -> list[float]:
    """Seconds from a fresh interpreter to a first answered Spark query, ``runs`` times."""
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", SESSION_PROBE, mode], capture_output=True, text=True, timeout=300,
                             check=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return times


def bench_stack(runs: int = 3, classic: bool = True) -> dict:
    print("stopping the stack to measure a cold start (data directories are kept: this is a start after setup)")
    manager.down(log=lambda _msg: None)
    t0 = time.monotonic()
    started = manager.up(log=lambda _msg: None)
    whole = time.monotonic() - t0
    print("\ncold start, services started together (Connect after Kafka):")
    for row in started:
        print(f"  {row.name:14s} ready after {row.seconds:6.1f} s")
    print(f"  {'whole stack':14s} ready after {whole:6.1f} s   (target <= {TARGETS['stack_ready_s']:.0f} s)")

    connect = spark_session_seconds("connect", runs)  # also warms the server, as a lab would
    rows = manager.status()
    total = sum(r.rss_mb or 0 for r in rows)
    print("\nresident memory after a first Spark query:")
    for r in rows:
        print(f"  {r.name:14s} {r.rss_mb or 0:7.0f} MB")
    print(f"  {'total':14s} {total:7.0f} MB   (target <= {TARGETS['stack_rss_gb'] * 1024:.0f} MB)")

    med = statistics.median(connect)
    print(f"\nSpark session ready (fresh interpreter -> first query answered), {runs} runs:")
    print(f"  Spark Connect   median {med:5.2f} s  runs {', '.join(f'{t:.2f}' for t in connect)}"
          f"   (target <= {TARGETS['spark_session_s']:.0f} s)")
    figures = {"stack_ready_s": whole, "stack_rss_mb": total, "spark_connect_s": med,
               "services": {r.name: r.seconds for r in started}}
    if classic:
        local = spark_session_seconds("classic", 1)[0]
        print(f"  classic local   {local:5.2f} s   -> Spark Connect is {local / med:.1f}x faster to a first answer")
        figures["spark_classic_s"] = local
    return figures


def register(sub) -> None:
    p = sub.add_parser("bench", help="print performance figures (no pass/fail): `labs bench stack`")
    p.add_argument("what", choices=["stack", "grade", "labs", "stability"],
                   help="stack: start time, memory, Spark session; grade: labs grade against serial nbgrader "
                   "autograde; labs: each lab's solution and stub run time and slowest cells; stability: "
                   "each lab's solution --runs times, two notebooks at once, passes per test cell")
    p.add_argument("labs", nargs="*", metavar="LAB",
                   help="(labs) the labs to time (default: all); (grade) grade --submissions of these real labs")
    p.add_argument("--runs", type=int, default=3,
                   help="repetitions of the Spark session probe (stack), of each lab's solution (stability), "
                   "rounds of the three graders (grade)")
    p.add_argument("--no-classic", action="store_true", help="skip the classic local Spark baseline")
    p.add_argument("--submissions", type=int, default=20, help="(grade) submissions to grade")
    p.set_defaults(func=_run)


def _run(args) -> int:
    if args.what == "grade":
        from labs.grading import bench as grading_bench

        return grading_bench.run(args)
    if args.what in ("labs", "stability"):
        from labs.grading.course import Course
        from labs.verify import commands as verify

        course = Course.load()
        labs = args.labs or course.assignments()
        if args.what == "labs":
            verify.bench_labs(course.root, labs)
        else:
            verify.stability(course.root, labs, args.runs)
        return 0
    bench_stack(args.runs, classic=not args.no_classic)
    return 0

