"""``labs bench stack``: cold start, memory and Spark session figures of the local stack;
``labs bench rights``: what the access control of graded runs costs (labs.stack.rights, the gate).

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


def _median_ms(action, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        action()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def bench_rights(runs: int = 3, messages: int = 50_000) -> dict:
    """A run's principal made and removed; a client's first answer and a producer's throughput on
    the plaintext listener against the SASL one (rounds alternate, in this one process); a REST call
    through the gate against the registry's own port."""
    import requests
    from kafka import KafkaAdminClient, KafkaProducer

    from labs import config
    from labs import kafka as lk
    from labs.grading.kafka_clients import from_env
    from labs.runs import new_id
    from labs.stack import gate, rights

    if not rights.available() or not rights.course_open():
        raise SystemExit("the stack's broker must be up with the course open: labs stack up")
    run_id = new_id()
    topic = lk.create_topic(f"b-{run_id}-bench")
    grants = []
    for _ in range(max(5, runs * 3)):
        other = new_id()
        t0 = time.perf_counter()
        rights.grant(other, [f"b-{other}"])
        rights.revoke(other)
        grants.append((time.perf_counter() - t0) * 1000)
    env = rights.grant(run_id, [f"b-{run_id}"])
    sasl = {"bootstrap_servers": env["LABS_KAFKA_BOOTSTRAP"], **from_env(env).kafka_python()}
    plain = {"bootstrap_servers": config.kafka_bootstrap()}
    try:
        def first_answer(settings):
            client = KafkaAdminClient(**settings)
            client.list_topics()
            client.close()

        connect = {name: _median_ms(lambda s=settings: first_answer(s), runs * 5)
                   for name, settings in (("plaintext", plain), ("sasl", sasl))}
        payload = b"x" * 100
        rates: dict[str, list[float]] = {"plaintext": [], "sasl": []}
        for _ in range(runs):
            for name, settings in (("plaintext", plain), ("sasl", sasl)):
                producer = KafkaProducer(linger_ms=5, batch_size=256 * 1024, **settings)
                t0 = time.perf_counter()
                for _ in range(messages):
                    producer.send(topic, payload)
                producer.flush()
                rates[name].append(messages / (time.perf_counter() - t0))
                producer.close()
    finally:
        rights.revoke(run_id)
        lk.delete_topics([topic])
    calls = 200
    through = _median_ms(lambda: requests.get(f"{config.registry_url()}/subjects", timeout=10), calls)
    direct = _median_ms(lambda: requests.get(f"{gate.internal_registry_url()}/subjects", timeout=10), calls)

    print(f"\na graded run's Kafka principal made and removed (SCRAM user + ACLs): "
          f"median {statistics.median(grants):.0f} ms of {len(grants)}")
    print(f"a client's first answer (admin client, list topics), median of {runs * 5}:")
    print(f"  plaintext {connect['plaintext']:6.1f} ms   SASL/SCRAM {connect['sasl']:6.1f} ms   "
          f"ratio {connect['sasl'] / connect['plaintext']:.2f}")
    print(f"producer throughput ({messages} records of 100 bytes, kafka-python), {runs} alternating rounds:")
    for name in ("plaintext", "sasl"):
        print(f"  {name:9s} median {statistics.median(rates[name]):9.0f} records/s   runs "
              f"{', '.join(f'{r:.0f}' for r in rates[name])}")
    ratio = statistics.median(rates["sasl"]) / statistics.median(rates["plaintext"])
    print(f"  SASL / plaintext throughput ratio {ratio:.2f}")
    print(f"registry GET /subjects, median of {calls}: through the gate {through:.2f} ms, on its own port "
          f"{direct:.2f} ms (the gate adds {through - direct:.2f} ms)")
    return {"grant_revoke_ms": statistics.median(grants), "connect_ms": connect,
            "throughput": {k: statistics.median(v) for k, v in rates.items()}, "gate_ms": through, "direct_ms": direct}


def register(sub) -> None:
    p = sub.add_parser("bench", help="print performance figures (no pass/fail): `labs bench stack`")
    p.add_argument("what", choices=["stack", "grade", "labs", "stability", "rights"],
                   help="stack: start time, memory, Spark session; rights: what graded runs' access control "
                   "costs; grade: labs grade against serial nbgrader "
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
    if args.what == "rights":
        bench_rights(args.runs)
        return 0
    bench_stack(args.runs, classic=not args.no_classic)
    return 0

