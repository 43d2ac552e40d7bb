"""Who may do what on the stack's Kafka broker and MariaDB server.

- The course: ``User:ANONYMOUS`` (every client of the plaintext listener, so every notebook of a
  student working alone) may do anything, as before the broker had an authorizer. ``labs stack up``
  opens the course this way.
- A graded run: a SCRAM principal of its own (``run-<id>``, a random password handed only to the
  run's kernel), allowed everything on topics, consumer groups and transactional ids whose names
  start with one of the run's prefixes (``<lab>-<id>``, see ``labs.runs``), and nothing else.
- While a class is graded (``grading()``), the course is closed: ANONYMOUS may do nothing, so a
  graded notebook cannot reach another run's topics through the plaintext listener, or through a
  shared server (Spark's Kafka source runs in the stack's Spark Connect server). Graders of the same
  machine share the closing: the course opens again when the last of them ends.
- The stack's admin (``labs-admin``, super user, PLAIN on the SASL listener) does the above; the
  Connect worker and the grader's own clean-up use it.

MariaDB likewise: each graded run has its own account already (``labs.db.create_run_account``);
while a class is graded the course's account (``labs``, whose password every notebook knows) keeps
no privilege, root's password-less TCP accounts are locked, and the grader's own work goes through
an account of its own (``labs_grader``, a random password in a file only the stack's account reads).

A broker or database the user pointed elsewhere (``LABS_KAFKA_BOOTSTRAP``, ``LABS_MARIADB_DSN``) is
theirs: nothing here touches it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from labs import config
from labs.stack.kafka import ADMIN, admin_password, sasl_bootstrap

SCRAM = "SCRAM-SHA-256"
COURSE_PRINCIPAL = "User:ANONYMOUS"


def managed() -> bool:
    """True when the broker is the stack's own (so its rights are ours to set)."""
    return not config.is_external("kafka")


def available() -> bool:
    """The stack's own broker, and it accepts connections."""
    from labs.stack.kafka import sasl_port
    from labs.stack.process import port_open

    return managed() and port_open(sasl_port())


def admin_settings() -> dict:
    """kafka-python settings of the admin (SASL listener, PLAIN)."""
    return dict(bootstrap_servers=sasl_bootstrap(), security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
                sasl_plain_username=ADMIN, sasl_plain_password=admin_password())


def run_principal(run_id: str) -> str:
    return f"run-{run_id}"


def _admin():

    return KafkaAdminClient(client_id="labs-rights", request_timeout_ms=10000, **admin_settings())


def _course_acls() -> list:

    resources = [ResourcePattern(ResourceType.TOPIC, "*"), ResourcePattern(ResourceType.GROUP, "*"),
                 ResourcePattern(ResourceType.TRANSACTIONAL_ID, "*"),
                 ResourcePattern(ResourceType.CLUSTER, "kafka-cluster")]
    return [ACL(COURSE_PRINCIPAL, "*", ACLOperation.ALL, ACLPermissionType.ALLOW, r) for r in resources]


def _run_acls(run_id: str, prefixes: Iterable[str]) -> list:

    principal = f"User:{run_principal(run_id)}"
    out = []
    for prefix in sorted(set(prefixes)):
        for kind in (ResourceType.TOPIC, ResourceType.GROUP, ResourceType.TRANSACTIONAL_ID):
            pattern = ResourcePattern(kind, prefix, ACLResourcePatternType.PREFIXED)
            out.append(ACL(principal, "*", ACLOperation.ALL, ACLPermissionType.ALLOW, pattern))
    return out


def _filters(acls: list) -> list:
    return [ACLFilter(a.principal, a.host, ACLOperation.ANY, ACLPermissionType.ANY, a.resource_pattern) for a in acls]


def _create(client, acls: list) -> None:
    result = client.create_acls(acls)
    failed = result.get("failed", [])
    if failed:
        raise RuntimeError(f"the broker refused ACLs: {failed[0]}")


def open_course() -> None:
    """Let ANONYMOUS do anything (idempotent)."""
    if not available():
        return
    client = _admin()
    try:
        _create(client, _course_acls())
    finally:
        client.close()


def close_course() -> None:
    """Take every right from ANONYMOUS."""
    if not available():
        return

    client = _admin()
    try:
        client.delete_acls(_filters(_course_acls()))
    finally:
        client.close()


def course_open() -> bool:
    """True when ANONYMOUS holds the course's rights on topics."""

    client = _admin()
    try:
        acls, _error = client.describe_acls(ACLFilter(COURSE_PRINCIPAL, None, ACLOperation.ANY, ACLPermissionType.ANY,
                                                      ResourcePatternFilter(ResourceType.TOPIC, "*",
                                                                            ACLResourcePatternType.LITERAL)))
        return bool(acls)
    finally:
        client.close()


def _shared_acl(topic: str):

    return ACL("User:*", "*", ACLOperation.ALL, ACLPermissionType.ALLOW, ResourcePattern(ResourceType.TOPIC, topic))


def share_topic(topic: str) -> None:
    """Let every principal (graded runs included) read and write ``topic``: a topic of the course
    that is not any run's (``unshare_topic`` takes it back)."""
    if not available():
        return
    client = _admin()
    try:
        _create(client, [_shared_acl(topic)])
    finally:
        client.close()


def unshare_topic(topic: str) -> None:
    if not available():
        return

    client = _admin()
    try:
        client.delete_acls(_filters([_shared_acl(topic)]))
    finally:
        client.close()


def grant(run_id: str, prefixes: Iterable[str]) -> dict:
    """Make the run's principal with rights on names starting with ``prefixes``; returns the
    run's client settings as environment variables (empty when the broker is not the stack's)."""
    if not available():
        return {}

    password = secrets.token_urlsafe(18)
    user = run_principal(run_id)
    with _principals_admin() as client:
        errors = client.alter_user_scram_credentials(
            [UserScramCredentialUpsertion(user, ScramMechanism.SCRAM_SHA_256, password, iterations=4096)])
        if errors.get(user):
            raise RuntimeError(f"the broker refused the run's principal {user}: {errors[user]}")
        _create(client, _run_acls(run_id, prefixes))
    return {"LABS_KAFKA_BOOTSTRAP": sasl_bootstrap(), "LABS_KAFKA_SASL_MECHANISM": SCRAM,
            "LABS_KAFKA_USERNAME": user, "LABS_KAFKA_PASSWORD": password,
            "LABS_KAFKA_GROUP_PREFIX": f"{sorted(set(prefixes))[0]}-spark"}


def revoke(run_id: str) -> list[str]:
    """Remove the run's principal and its ACLs; notes when that fails."""
    if not available():
        return []

    user = run_principal(run_id)
    try:
        with _principals_admin() as client:
            client.delete_acls([ACLFilter(f"User:{user}", None, ACLOperation.ANY, ACLPermissionType.ANY,
                                          ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY))])
            client.alter_user_scram_credentials([UserScramCredentialDeletion(user, ScramMechanism.SCRAM_SHA_256)])
        return []
    except Exception as exc:  # noqa: BLE001 (a note for the gradebook)
        return [f"could not remove the run's Kafka principal {user} ({type(exc).__name__}: {exc})"]


_batch_admins: list = []  # the admin client of run_principals(), while a batch grades
_batch_admin_lock = threading.Lock()


@contextlib.contextmanager
def run_principals() -> Iterator[None]:
    """While a batch grades, ``grant`` and ``revoke`` share one admin client, one call at a time.
    A client per call cost a connection, its authentication and a network thread, twice a run."""
    if not available():
        yield
        return
    client = _admin()
    _batch_admins.append(client)
    try:
        yield
    finally:
        with _batch_admin_lock:
            _batch_admins.remove(client)
        client.close()


@contextlib.contextmanager
def _principals_admin():
    """The batch's admin client (``run_principals``), or a new one closed after use."""
    with _batch_admin_lock:
        if _batch_admins:
            yield _batch_admins[-1]
            return
    client = _admin()
    try:
        yield client
    finally:
        client.close()


def _holders_dir() -> Path:
    from labs.stack.kafka import broker_var_dir

    return broker_var_dir() / "run" / "kafka-closed"  # shared by every grader of the running broker


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


@contextlib.contextmanager
def _holders_lock() -> Iterator[Path]:
    folder = _holders_dir()
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield folder
    finally:
        os.close(fd)


def _live_holders(folder: Path) -> list[Path]:
    live = []
    for path in folder.glob("[0-9]*"):
        if _alive(int(path.name)):
            live.append(path)
        else:
            path.unlink(missing_ok=True)  # a grader that died without opening the course again
    return live


# --- MariaDB ----------------------------------------------------------------------------------

GRADER_ACCOUNT = "labs_grader"


def _db_var() -> Path:
    """The var folder of the MariaDB server answering on the course's port (labs.stack.discover)."""
    from labs.stack.discover import listener_cmdline

    files = [a.split("=", 1)[1] for a in listener_cmdline(config.mariadb_port()) if a.startswith("--defaults-file=")]
    return Path(files[0]).parent.parent if files else config.var_dir()


def _db_root():
    """Root over the server's own socket (in the stack's var folder: the stack's account only)."""
    import pymysql

    return pymysql.connect(unix_socket=str(_db_var() / "run" / "mariadb.sock"), user="root", password="",
                           autocommit=True, connect_timeout=5)


def db_managed() -> bool:
    return not config.is_external("mariadb") and (_db_var() / "run" / "mariadb.sock").exists()


def grader_db_password() -> str:
    from labs.stack.discover import stored_secret

    return stored_secret(_db_var() / "mariadb" / "grader.secret")


def _root_tcp_accounts(cur) -> list[str]:
    """Root's accounts a TCP client can log in to: the server skips name resolution, so only the
    ones whose host is an address (or ``%``) match a connection."""
    cur.execute("SELECT Host FROM mysql.user WHERE User = 'root' AND Host <> 'localhost'")
    hosts = [host for (host,) in cur.fetchall() if host == "%" or re.fullmatch(r"[0-9a-fA-F.:%/]+", host)]
    return [f"'root'@'{host}'" for host in hosts]


def close_database() -> None:
    """Take the course account's privileges, lock root over TCP, and make the grader's account."""
    course = config.mariadb()
    with _db_root() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE USER IF NOT EXISTS '{GRADER_ACCOUNT}'@'{config.HOST}' IDENTIFIED BY %s",
                    (grader_db_password(),))
        cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{GRADER_ACCOUNT}'@'{config.HOST}' WITH GRANT OPTION")
        cur.execute(f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM '{course.user}'@'%'")
        for account in _root_tcp_accounts(cur):
            cur.execute(f"ALTER USER {account} ACCOUNT LOCK")


def open_database() -> None:
    """Give the course account its privileges back and unlock root over TCP."""
    course = config.mariadb()
    with _db_root() as conn, conn.cursor() as cur:
        cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{course.user}'@'%' WITH GRANT OPTION")
        for account in _root_tcp_accounts(cur):
            cur.execute(f"ALTER USER {account} ACCOUNT UNLOCK")


def database_closed() -> bool:
    """True when the course's MariaDB account holds no privilege (a class is being graded)."""
    course = config.mariadb()
    with _db_root() as conn, conn.cursor() as cur:
        cur.execute("SHOW GRANTS FOR %s@'%%'", (course.user,))
        return not any("ALL PRIVILEGES" in row[0] for row in cur.fetchall())


class _GraderAccount(config.MariaDB):
    """The grader's account on the stack's own MariaDB, on loopback, where the server has no TLS:
    PyMySQL would otherwise build a TLS context (reading the system's certificate bundle, 24 ms of
    CPU) for each of the several connections a graded run costs, only to fall back to plain."""

    def connect_kwargs(self) -> dict:
        return {**super().connect_kwargs(), "ssl_disabled": True}


@contextlib.contextmanager
def grader_database() -> Iterator[None]:
    """In the grader's process, while a class is graded: ``labs.db`` and ``labs.config.mariadb()``
    use the grader's own account (the course's holds no privilege then)."""
    if not db_managed():
        yield
        return
    course = config.mariadb
    settings = course()
    mine = _GraderAccount(host=config.HOST, port=settings.port, user=GRADER_ACCOUNT,
                          password=grader_db_password(), database=settings.database)
    config.mariadb = lambda: mine
    try:
        yield
    finally:
        config.mariadb = course


@contextlib.contextmanager
def grading() -> Iterator[None]:
    """Close the course for the duration of a graded batch (see the module's text), and open it
    again when the last batch of the machine ends."""
    kafka, database = available(), db_managed()
    if not kafka and not database:
        yield
        return
    with _holders_lock() as folder:
        (folder / str(os.getpid())).touch()
        if kafka:
            close_course()
        if database:
            close_database()
    try:
        yield
    finally:
        with _holders_lock() as folder:
            (folder / str(os.getpid())).unlink(missing_ok=True)
            if not _live_holders(folder):
                if kafka:
                    open_course()
                if database:
                    open_database()


def reopen_if_abandoned() -> bool:
    """Open the course when no live grader holds it closed (a grader killed mid-batch); True when
    something was closed and is open now."""
    kafka, database = available(), db_managed()
    if not kafka and not database:
        return False
    with _holders_lock() as folder:
        if _live_holders(folder):
            return False
        reopened = False
        if kafka and not course_open():
            open_course()
            reopened = True
        if database and database_closed():
            open_database()
            reopened = True
        return reopened


def closing_graders() -> list[int]:
    """Process ids of the graders that hold the course closed now."""
    with _holders_lock() as folder:
        return sorted(int(p.name) for p in _live_holders(folder))
