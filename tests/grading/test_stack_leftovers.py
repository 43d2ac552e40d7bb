"""A submission that leaves things on the stack (a topic, a database) and then hangs loses
nothing else: the grader removes what carries that run's id, and says so in the notes."""

from __future__ import annotations

import re
import time
import uuid

import nbformat

from labs import config, db
from labs import kafka as lk
from labs.grading import demo
from labs.grading import gradebook as gbook
from labs.grading.execute import Limits

from .conftest import ASSIGNMENT, grade, make_course

LEAK = '''from labs import db as _db, kafka as _lk, runs as _runs
_run = _runs.current("s0")
_lk.create_topic(_run.topic("leftover"))
_db.create_database(_run.database("leftover"))
while True:
    pass
'''


def submit(folder, student: str, code: str):
    """A course with one correct submission whose first answer cell starts with ``code``."""
    course = make_course(folder)
    ctx = demo.context(course, ASSIGNMENT)
    nb = ctx.filled()
    first = ctx.index_of(nb, ctx.solution_ids()[0])
    nb.cells[first].source = code + nb.cells[first].source
    submitted = course.submission_dir(student, ASSIGNMENT)
    submitted.mkdir(parents=True)
    (submitted / f"{ASSIGNMENT}.ipynb").write_text(nbformat.writes(nb))
    return course


def leftovers() -> tuple[set, set]:
    topics = {t for t in lk.list_topics() if re.fullmatch(r"s0-[0-9a-f]{8}-leftover", t)}
    dbs = {r[0] for r in db.query("SHOW DATABASES") if re.fullmatch(r"s0_[0-9a-f]{8}_leftover", r[0])}
    return topics, dbs


def test_what_a_hanging_run_left_on_the_stack_is_removed(tmp_path, stack):
    before = leftovers()
    course = submit(tmp_path / "leak", "leaky", LEAK)
    grade(course)
    run = gbook.runs(course.db_url)[(ASSIGNMENT, "leaky", ASSIGNMENT)]
    assert run["status"] in ("timeout", "ok"), run
    note = next(n for n in run["notes"] if n.startswith("removed what the run left on the stack: "))
    assert re.search(r"s0-[0-9a-f]{8}-leftover", note) and re.search(r"s0_[0-9a-f]{8}_leftover", note), note
    assert leftovers() == before


PROBE = '''from labs import config, db as _db, runs as _runs
_probe = {}
for _sql in ("DROP DATABASE labs", "SELECT COUNT(*) FROM mysql.user", "CREATE DATABASE not_mine"):
    try:
        _db.query(_sql)
        _probe[_sql] = "allowed"
    except Exception as _exc:
        _probe[_sql] = type(_exc).__name__
_mine = _db.create_database(_runs.current("s0").database("mine"))
_db.query(f"CREATE TABLE `{_mine}`.t (id INT PRIMARY KEY)")
print("PROBE", _probe, config.mariadb().user)
'''


def test_a_run_may_only_touch_its_own_databases(tmp_path, stack):
    """Each graded run gets a MariaDB account limited to databases named after its run id."""
    course = submit(tmp_path / "probe", "prober", PROBE)
    grade(course)
    executed = nbformat.read(course.autograded_notebook("prober", ASSIGNMENT, ASSIGNMENT), as_version=4)
    text = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "PROBE" in text, text[:2000]
    probe_line = next(line for line in text.splitlines() if line.startswith("PROBE"))
    assert "allowed" not in probe_line and re.search(r"run_[0-9a-f]{8}$", probe_line), probe_line
    assert db.query("SHOW DATABASES LIKE 'labs'") == [("labs",)]
    account = probe_line.rsplit(" ", 1)[1]
    assert db.query("SELECT User FROM mysql.user WHERE User = %s", (account,)) == []  # dropped after the run
    run = gbook.runs(course.db_url)[("s0_warmup", "prober", ASSIGNMENT)]
    assert run["status"] == "ok" and any("s0_" in n and "_mine" in n for n in run["notes"]), run


STREAM = '''import os as _os, time as _time
from labs import config as _config, spark as _spark
_query = (_spark.session().readStream.format("rate").option("rowsPerSecond", 50).load()
          .selectExpr("CAST(value AS STRING) AS value").writeStream.format("kafka")
          .option("kafka.bootstrap.servers", _config.kafka_bootstrap()).option("topic", "TOPIC")
          .option("checkpointLocation", "CHECKPOINT").start())
while not any(p.numInputRows for p in _query.recentProgress):
    _time.sleep(0.2)
_os.kill(_os.getpid(), 9)   # the kernel dies with its query running on the server
'''


def end_offset(topic: str) -> int:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=config.kafka_bootstrap())
    try:
        return sum(consumer.end_offsets([TopicPartition(topic, 0)]).values())
    finally:
        consumer.close()


def test_a_dead_kernel_s_streaming_query_stops_when_its_run_ends(tmp_path, stack):
    """A Spark streaming query lives in its Spark Connect session on the server, not in the kernel:
    the grader releases the run's session when the run ends, which stops the query."""
    from labs.stack import rights

    topic = lk.create_topic(f"labs-test-orphan-stream-{uuid.uuid4().hex[:8]}")
    rights.share_topic(topic)  # not the run's: the sweep must not remove it, and the run must reach it
    try:
        # the checkpoint is the server's, outside the run's folder (which the grader removes)
        checkpoint = tmp_path / "checkpoint"
        course = submit(tmp_path / "stream", "streamer",
                        STREAM.replace("TOPIC", topic).replace("CHECKPOINT", str(checkpoint)))
        grade(course, limits=Limits(cell_timeout=90, notebook_timeout=120))
        run = gbook.runs(course.db_url)[(ASSIGNMENT, "streamer", ASSIGNMENT)]
        assert run["status"] == "kernel_died", run
        written = end_offset(topic)
        assert written > 0, "the submission's query never wrote: the test proves nothing"
        time.sleep(5)
        assert end_offset(topic) == written, "the dead run's streaming query still writes after the run ended"
    finally:
        rights.unshare_topic(topic)
        lk.delete_topics([topic])
