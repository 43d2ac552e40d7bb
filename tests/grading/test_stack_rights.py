"""Two runs graded side by side on the stack: one (the victim) makes a topic with committed records,
a consumer group with a committed offset, a transactional id, a schema registry subject and a
Kafka Connect connector, all named after its run, then checks eighty seconds later that nothing
of it changed; the other (the attacker) is handed every run id of the batch and tries, meanwhile,
to list, read, write, delete or take over each of those things, through its own credentials, the
broker's plaintext listener, Spark's Kafka source on the shared Spark Connect server, the gate
and the services' internal ports. Every attempt must be refused by the system, and the victim
must keep its full score."""

from __future__ import annotations

import re
import secrets

import nbformat

from labs import runs
from labs.grading import batch, demo, spark_sessions
from labs.grading.execute import Limits

from .conftest import ASSIGNMENT, REPO, grade, make_course, scores

VICTIM = r'''import time as _time
from kafka import KafkaConsumer as _KC, KafkaProducer as _KP, TopicPartition as _TP
from labs import config as _config, connectors as _conn, kafka as _lk, registry as _reg, runs as _runs
_run = _runs.current("s0")
_ready = _time.time()
_topic = _lk.create_topic(_run.topic("victim"))
_p = _KP(bootstrap_servers=_config.kafka_bootstrap(), transactional_id=_run.transactional_id("tx"))
_p.init_transactions()
_p.begin_transaction()
for _i in range(5):
    _p.send(_topic, str(_i).encode())
_p.commit_transaction()
_c = _KC(bootstrap_servers=_config.kafka_bootstrap(), group_id=_run.group("g"), enable_auto_commit=False)
_c.assign([_TP(_topic, 0)])
_c.commit({_TP(_topic, 0): __import__("kafka.structs").structs.OffsetAndMetadata(5, "", -1)})
_schema = {"type": "record", "name": "Victim", "fields": [{"name": "id", "type": "long"}]}
_reg.register(_run.subject("victim-value"), _schema)
_db = _config.mariadb()
_conn_cfg = {"connector.class": "io.debezium.connector.mariadb.MariaDbConnector", "tasks.max": "1",
             "database.hostname": _db.host, "database.port": str(_db.port), "database.user": _db.user,
             "database.password": _db.password, "database.ssl.mode": "disable", "database.server.id": "48123",
             "topic.prefix": _run.topic("cdc"), "schema.history.internal.kafka.topic": _run.topic("history"),
             "schema.history.internal.kafka.bootstrap.servers": _config.kafka_bootstrap(),
             "snapshot.mode": "no_data"}
_conn.register(_run.connector("conn"), _conn_cfg)
from labs import db as _dbm
_vdb = _dbm.create_database(_run.database("victim"))
_dbm.query(f"CREATE TABLE `{_vdb}`.t (id INT PRIMARY KEY)")
_dbm.query(f"INSERT INTO `{_vdb}`.t VALUES (1), (2)")
_ready = _time.time()
print("VICTIM READY", _ready)
_time.sleep(80)
assert _topic in _lk.list_topics(), "topic gone"
assert [r.value for r in _lk.read_topic(_topic, isolation_level="read_committed")] == [b"0", b"1", b"2", b"3", b"4"]
assert _c.committed(_TP(_topic, 0)) == 5, "group offset changed"
_p.begin_transaction()   # still the owner of its transactional id (not fenced)
_p.send(_topic, b"5")
_p.commit_transaction()
assert _reg.subjects(_run.prefix) == [_run.subject("victim-value")], _reg.subjects(_run.prefix)
assert _conn.status(_run.connector("conn")), "connector gone"
assert _dbm.query(f"SELECT COUNT(*) FROM `{_vdb}`.t") == [(2,)], "database changed"
print("VICTIM INTACT", _time.time())
'''

ATTACKER = r'''import os as _os, time as _time, requests as _rq
from kafka import KafkaAdminClient as _KA, KafkaConsumer as _KC, KafkaProducer as _KP, TopicPartition as _TP
from kafka.structs import OffsetAndMetadata as _OM
from labs import config as _config, runs as _runs
from labs.stack import gate as _gate
_me = _runs.current("s0")
_peers = [p for p in _os.environ["PEER_RUN_IDS"].split(",") if p != _me.id]
_time.sleep(8)   # the victim makes its things first
_start = _time.time()
_connect, _registry = _config.connect_url(), _config.registry_url()
_inner_connect = _gate.internal_connect_url()
_inner_registry = _gate.internal_registry_url()
_plain = dict(bootstrap_servers=f"{_config.HOST}:{_config.kafka_port()}", security_protocol="PLAINTEXT")
_own = dict(bootstrap_servers=_config.kafka_bootstrap())   # the run's own credentials (the kernel's defaults)

def _attack(label, action):
    try:
        reached = action()
        print(f"ATTACK {label}: " + ("LEAKED " + str(reached)[:120] if reached else "blocked (saw nothing)"))
    except Exception as exc:
        print(f"ATTACK {label}: blocked {type(exc).__name__} {str(exc)[:100]}")

def _names(p):
    return {"topic": f"s0-{p}-victim", "group": f"s0-{p}-g", "tx": f"s0-{p}-tx", "subject": f"s0-{p}-victim-value",
            "connector": f"s0-{p}-conn"}

def _read(**kw):
    kw = kw or _own
    def go():
        out = []
        for p in _peers:
            c = _KC(enable_auto_commit=False, consumer_timeout_ms=3000, **kw)
            c.assign([_TP(_names(p)["topic"], 0)])
            c.seek(_TP(_names(p)["topic"], 0), 0)
            out += [r.value for recs in c.poll(timeout_ms=3000).values() for r in recs]
            c.close()
        return out
    return go

def _delete_topics(**kw):
    kw = kw or _own
    def go():
        a = _KA(request_timeout_ms=5000, **kw)
        a.delete_topics([_names(p)["topic"] for p in _peers])
        return "deleted"
    return go

def _write():
    out = []
    for p in _peers:
        pr = _KP(max_block_ms=5000, **_own)
        out.append(pr.send(_names(p)["topic"], b"evil").get(timeout=5))
    return out

def _group():
    for p in _peers:
        c = _KC(group_id=_names(p)["group"], enable_auto_commit=False, request_timeout_ms=5000, **_own)
        c.assign([_TP(_names(p)["topic"], 0)])
        c.commit({_TP(_names(p)["topic"], 0): _OM(0, "", -1)})
    return "offsets moved"

def _fence():
    for p in _peers:
        _KP(transactional_id=_names(p)["tx"], max_block_ms=5000, **_own).init_transactions()
    return "fenced"

def _spark():
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.remote(_os.environ["LABS_SPARK_REMOTE"]).getOrCreate()
    topics = ",".join(_names(p)["topic"] for p in _peers)
    return spark.read.format("kafka").option("kafka.bootstrap.servers", _plain["bootstrap_servers"]) \
        .option("kafka.security.protocol", "PLAINTEXT").option("subscribe", topics).load().count()

def _http(method, url, ok=(200, 204), **kw):
    r = _rq.request(method, url, timeout=10, **kw)
    if r.status_code not in ok:
        raise PermissionError(f"HTTP {r.status_code} {r.text[:80]}")
    return r

_attack("kafka list", lambda: [t for t in _KA(**_own).list_topics() if any(p in t for p in _peers)])
_attack("kafka list plaintext", lambda: [t for t in _KA(**_plain).list_topics() if any(p in t for p in _peers)])
_attack("kafka read", _read())
_attack("kafka read plaintext", _read(**_plain))
_attack("kafka write", _write)
_attack("kafka delete", _delete_topics())
_attack("kafka delete plaintext", _delete_topics(**_plain))
_attack("group offsets", _group)
_attack("group read", lambda: [_KA(**_own).list_group_offsets(_names(p)["group"]) for p in _peers])
_attack("group delete", lambda: _KA(**_own).delete_groups([_names(p)["group"] for p in _peers]))
_attack("transactional id", _fence)
_attack("spark read plaintext", _spark)
_attack("connect list", lambda: [n for n in _http("GET", f"{_connect}/connectors").json()
                                 if any(p in n for p in _peers)])
for _verb, _path in (("GET", "/config"), ("PUT", "/pause"), ("DELETE", "")):
    _attack(f"connect {_verb} {_path or '/'}",
            lambda: [_http(_verb, f"{_connect}/connectors/{_names(p)['connector']}{_path}", ok=(200, 202, 204)).text
                     for p in _peers])
_attack("connect internal port", lambda: _http("GET", f"{_inner_connect}/connectors").json())
_attack("registry list", lambda: [s for s in _http("GET", f"{_registry}/subjects").json()
                                  if any(p in s for p in _peers)])
_attack("registry read", lambda: [_http("GET", f"{_registry}/subjects/{_names(p)['subject']}/versions").json()
                                  for p in _peers])
_attack("registry write", lambda: [_http("POST", f"{_registry}/subjects/{_names(p)['subject']}/versions",
                                         json={"schema": '"string"'}).json() for p in _peers])
_attack("registry delete", lambda: [_http("DELETE", f"{_registry}/subjects/{_names(p)['subject']}").json()
                                    for p in _peers])
def _mariadb(user, password):
    def go():
        import pymysql
        c = pymysql.connect(host=_config.HOST, port=_config.mariadb_port(), user=user, password=password,
                            connect_timeout=5, autocommit=True)
        cur = c.cursor()
        cur.execute("SHOW DATABASES")
        seen = [r[0] for r in cur.fetchall() if any(p in r[0] for p in _peers)]
        for p in _peers:
            cur.execute(f"DROP DATABASE IF EXISTS `s0_{p}_victim`")
        return seen or "dropped"
    return go

_attack("mariadb course account", _mariadb("labs", "labs"))
_attack("mariadb root over tcp", _mariadb("root", ""))
_attack("registry internal port", lambda: _http("GET", f"{_inner_registry}/subjects").json())
print("ATTACK WINDOW", _start, _time.time())
'''

ATTACKS = {"kafka list", "kafka list plaintext", "kafka read", "kafka read plaintext", "kafka write", "kafka delete",
           "kafka delete plaintext", "group offsets", "group read", "group delete", "transactional id",
           "spark read plaintext",
           "connect list", "connect GET /config", "connect PUT /pause", "connect DELETE /", "connect internal port",
           "registry list", "registry read", "registry write", "registry delete", "registry internal port",
           "mariadb course account", "mariadb root over tcp"}


def _submit(course, student: str, code: str) -> None:
    ctx = demo.context(course, ASSIGNMENT)
    nb = ctx.filled()
    first = ctx.index_of(nb, ctx.solution_ids()[0])
    nb.cells[first].source = code + "\n" + nb.cells[first].source
    folder = course.submission_dir(student, ASSIGNMENT)
    folder.mkdir(parents=True)
    (folder / f"{ASSIGNMENT}.ipynb").write_text(nbformat.writes(nb))


def _printed(course, student: str) -> str:
    executed = nbformat.read(course.autograded_notebook(student, ASSIGNMENT, ASSIGNMENT), as_version=4)
    return "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))


def test_a_run_cannot_touch_what_another_run_graded_beside_it_has(tmp_path, stack, monkeypatch):
    course = make_course(tmp_path / "course")
    _submit(course, "victim", VICTIM)
    _submit(course, "attacker", ATTACKER)
    ids = [secrets.token_hex(4) for _ in range(8)]  # every run id the batch will use, known to the attacker
    handed = iter(ids)
    monkeypatch.setattr(runs, "new_id", lambda: next(handed))
    hooks = batch.RunHooks(provision=lambda rid: {**spark_sessions.provision(rid), "PEER_RUN_IDS": ",".join(ids)},
                           finish=spark_sessions.finish)
    grade(course, workers=2, limits=Limits(cell_timeout=120, notebook_timeout=240), hooks=hooks)

    attacker = _printed(course, "attacker")
    outcomes = dict(re.findall(r"^ATTACK (.+?): (.*)$", attacker, flags=re.M))
    assert set(outcomes) - {"WINDOW"} == ATTACKS, attacker[-3000:]
    leaked = {k: v for k, v in outcomes.items() if v.startswith("LEAKED")}
    assert not leaked, leaked
    broken = {k: v for k, v in outcomes.items()
              if re.search(r"blocked (AttributeError|NameError|TypeError|SyntaxError)", v)}
    assert not broken, ("an attack that failed by itself proves nothing", broken)
    print("\n".join(f"{k}: {v}" for k, v in sorted(outcomes.items())))
    victim = _printed(course, "victim")
    ready = float(re.search(r"VICTIM READY (\S+)", victim).group(1))
    assert "VICTIM INTACT" in victim, victim[-3000:]
    intact = float(re.search(r"VICTIM INTACT (\S+)", victim).group(1))
    window = [float(x) for x in re.search(r"ATTACK WINDOW (\S+) (\S+)", attacker).groups()]
    assert ready < window[0] and window[1] < intact, ("the attacks must happen while the victim's things exist",
                                                      ready, window, intact)
    perfect = scores(course)
    assert perfect["victim"] == max(perfect.values()) > 0, perfect


SPARK_FILES = r'''import os as _os
from pyspark.sql import SparkSession as _SS
from labs import runs as _runs
_spark = _SS.builder.remote(_os.environ["LABS_SPARK_REMOTE"]).getOrCreate()
for _label, _path in (("course source", "SOURCE"), ("second clone", "CLONE")):
    try:
        print(f"SPARK {_label}: LEAKED", _spark.read.text(_path).count())
    except Exception as _exc:
        print(f"SPARK {_label}: blocked", type(_exc).__name__)
try:
    _spark.range(1).write.mode("overwrite").text("TARGET")
    print("SPARK write outside: LEAKED")
except Exception as _exc:
    print("SPARK write outside: blocked", type(_exc).__name__)
_own = str(_runs.current("s0").path("own"))
_spark.range(3).write.mode("overwrite").parquet(_own)
print("SPARK own folder:", _spark.read.parquet(_own).count())
'''


def test_a_run_cannot_read_or_write_the_machine_s_files_through_spark(tmp_path, stack, second_clone):
    """The shared Spark Connect server runs in a view (labs.stack.confine): a submission's plan sees
    neither the course checkout nor another clone of it, and writes nowhere outside the folders of
    runs, while its own folder works."""
    from labs.stack import confine

    assert confine.problem() is None, confine.problem()
    source = REPO / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    clone = second_clone / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    target = second_clone / "written-by-spark"
    course = make_course(tmp_path / "course")
    _submit(course, "spark", SPARK_FILES.replace("SOURCE", str(source)).replace("CLONE", str(clone))
            .replace("TARGET", str(target)))
    grade(course, workers=1, limits=Limits(cell_timeout=90, notebook_timeout=150))
    out = _printed(course, "spark")
    assert "SPARK own folder: 3" in out, out[-3000:]
    seen = dict(re.findall(r"^SPARK (.+?): (\w+)", out, flags=re.M))
    assert seen == {"course source": "blocked", "second clone": "blocked", "write outside": "blocked",
                    "own folder": "3"}, out[-3000:]
    assert not target.exists()
