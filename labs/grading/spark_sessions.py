"""The Spark Connect session of a graded run: named by the grader, released by the grader.

A Spark Connect session lives on the server until its client releases it or the server's idle
timeout (an hour) ends it. Graded kernels are killed, so they never release theirs: every graded
notebook left a session on the shared server, with its plans, cached data, temporary views and
any streaming query the notebook did not stop, still running. A class graded within the hour
filled the server's heap. So the grader hands each run a session id and user of its own, in the
kernel's ``LABS_SPARK_REMOTE`` (``labs.spark.session()`` and any ``SparkSession.builder.remote``
on that address use them), and releases that session when the run ends. Releasing a session
stops its streaming queries. The id is random (a notebook cannot work out another run's), and
known only to the grader and to the run's own processes.
"""

from __future__ import annotations

import threading
import uuid

from labs import config, runs
from labs.stack import clients

_sessions: dict[str, str] = {}  # run id -> the session id it was given
_lock = threading.Lock()


def _address(run_id: str, session: str) -> str:
    base = config.spark_remote()
    base = base if "/;" in base else base.rstrip("/") + "/"
    return f"{base};session_id={session};user_id=labs-run-{run_id}"


def remote(run_id: str) -> str:
    """The Spark Connect address of a graded run: the stack's, with the run's session and user."""
    with _lock:
        session = _sessions.setdefault(run_id, str(uuid.uuid4()))
    return _address(run_id, session)


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (wire type 2: a string or a nested message)."""
    def varint(value: int) -> bytes:
        out = bytearray()
        while True:
            out.append(value & 0x7F | (0x80 if value > 0x7F else 0))
            value >>= 7
            if not value:
                return bytes(out)

    return varint(number << 3 | 2) + varint(len(payload)) + payload


def release_request(run_id: str, session: str) -> bytes:
    """Spark Connect's ``ReleaseSessionRequest`` for the run's session, serialised: session_id (1),
    user_context (2) with its user_id (1), client_type (3). Written here rather than built with
    pyspark's client, whose import (pandas, pyarrow, the protocol's classes) costs the grader a CPU
    second per batch for one call a run; a test checks it against pyspark's own message."""
    return (_field(1, session.encode()) + _field(2, _field(1, f"labs-run-{run_id}".encode()))
            + _field(3, b"labs-grader"))


RELEASE_METHOD = "/spark.connect.SparkConnectService/ReleaseSession"


def release(run_id: str) -> list[str]:
    """Release the run's session on the server (nothing when the run had none, or no server
    answers); notes for the gradebook when that fails."""
    with _lock:
        session = _sessions.pop(run_id, None)
    if session is None or not clients.spark_connect_answers(timeout=0.5):
        return []
    try:
        if "/;" in config.spark_remote():  # a server of the user's, with a token or TLS: pyspark's client
            _release_with_client(run_id, session)
        else:
            _release(run_id, session)
    except Exception as exc:  # noqa: BLE001 (a note: the server ends the session after its idle timeout)
        text = getattr(exc, "details", lambda: None)() or str(exc) or type(exc).__name__
        return [f"could not release the run's Spark Connect session ({text.splitlines()[0][:200]})"]
    return []


def _release(run_id: str, session: str, attempts: int = 4) -> None:
    """The ReleaseSession call, on a connection of its own (several runs end at once, each in
    its thread), tried again when the connection failed rather than the call, as pyspark's
    client does."""
    import time

    import grpc

    from labs.stack.spark_connect import remote_address

    host, port = remote_address()
    transient = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL)
    for attempt in range(attempts):
        try:
            with grpc.insecure_channel(f"{host}:{port}", options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
                channel.unary_unary(RELEASE_METHOD)(release_request(run_id, session), timeout=30)
            return
        except grpc.RpcError as exc:
            if attempt == attempts - 1 or exc.code() not in transient:
                raise
            time.sleep(0.2 * 2 ** attempt)


def _release_with_client(run_id: str, session: str) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pyspark.sql.connect.client import SparkConnectClient

        client = SparkConnectClient(_address(run_id, session))
    try:
        client.release_session()
    finally:
        client.close()


def provision(run_id: str) -> dict:
    """The run's extra environment: the stack's (``labs.runs.provision``) and its Spark session."""
    return {**runs.provision(run_id), "LABS_SPARK_REMOTE": remote(run_id)}


def finish(run_id: str) -> list[str]:
    """Release the run's Spark session (stopping its streams), then remove what it left on the stack."""
    return release(run_id) + runs.finish(run_id)
