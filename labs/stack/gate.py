"""The gate: the stack's front for Kafka Connect's and the schema registry's REST APIs.

Notebooks reach Connect at ``LABS_CONNECT_PORT`` (8083) and the registry at ``LABS_REGISTRY_PORT``
(8081), as before; the services themselves listen on internal ports (``LABS_CONNECT_INTERNAL_PORT``,
18083, and ``LABS_REGISTRY_INTERNAL_PORT``, 18081) and the gate forwards every request to them.

Who asks is read from the kernel: on loopback, the account that owns the client's socket
(``/proc/net/tcp``). A client of any account but the grader's sandbox accounts passes unchanged
(students working alone, the instructor, the grader). A sandboxed graded run (``labs-grader-<n>``)
may only use what is named after its run (``labs.runs``):

- Connect: list, create, change, restart, pause or delete only connectors whose names start with one
  of the run's prefixes. A connector's configuration must keep its topics inside the run's names
  (``topic.prefix`` and the schema history topic start with a prefix; no client overrides, no other
  Kafka credentials, no transform that renames topics), and gets the run's own Kafka credentials for
  the clients it opens itself (Debezium's schema history).
- Registry (Confluent-compatible API): subjects named after the run; the list of subjects shows
  only those. Reading a schema by its global id stays open (ids name schema texts, which the
  registry shares between subjects).

The grader tells the gate which run an account serves (``register``/``unregister``: a file per
account under ``var/run/gate``, readable only by the stack's account), and keeps sandbox accounts
off the internal ports with the system's firewall (``labs.grading.firewall``).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import pwd
import re
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from labs import config
from labs.stack.process import port_open
from labs.stack.service import Service

SANDBOX_PREFIX = "labs-grader-"
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "host", "content-length"}
# Single Message Transforms that leave the topic name alone (routers and renaming strategies are refused)
SAFE_TRANSFORMS = re.compile(
    r"^(io\.debezium\.transforms\.(ExtractNewRecordState|ExtractChangedRecordState|HeaderToValue|TimezoneConverter)"
    r"|org\.apache\.kafka\.connect\.transforms\.(Cast|DropHeaders|ExtractField|Filter|Flatten|HeaderFrom|HoistField"
    r"|InsertField|InsertHeader|MaskField|ReplaceField|SetSchemaMetadata|TimestampConverter|ValueToKey)"
    r"(\$(Key|Value))?)$")
FORBIDDEN_KEYS = re.compile(r"(^|\.)(sasl\.|security\.protocol|ssl\.)|override\.|^(producer|consumer|admin)\.|"
                            r"^topic\.naming\.strategy$|^topic\.heartbeat\.prefix$|^topic\.delimiter$|"
                            r"bootstrap\.servers$")


def internal_connect_port() -> int:
    return config._port("LABS_CONNECT_INTERNAL_PORT", 18083)


def internal_registry_port() -> int:
    return config._port("LABS_REGISTRY_INTERNAL_PORT", 18081)


def internal_connect_url() -> str:
    return f"http://{config.HOST}:{internal_connect_port()}"


def internal_registry_url() -> str:
    return f"http://{config.HOST}:{internal_registry_port()}/apis/ccompat/v7"


def fronted() -> dict[str, tuple[int, int]]:
    """Service -> (public port, internal port), for the services the stack runs itself."""
    out = {}
    if not config.is_external("connect"):
        out["connect"] = (config.connect_port(), internal_connect_port())
    if not config.is_external("registry"):
        out["registry"] = (config.registry_port(), internal_registry_port())
    return out


@contextlib.contextmanager
def grader_direct() -> Iterator[None]:
    """In the grader's process while a class is graded: ``labs.config`` gives Connect's and the
    registry's internal addresses. The gate lets the grader's requests through unchanged anyway,
    after reading the kernel's table of sockets to learn who asks: a hop and about ten
    milliseconds of CPU for each request of a run's clean-up (``labs.sweep``)."""
    saved = config.connect_url, config.registry_url
    front = fronted()
    if "connect" in front:
        config.connect_url = internal_connect_url
    if "registry" in front:
        config.registry_url = internal_registry_url
    try:
        yield
    finally:
        config.connect_url, config.registry_url = saved


# --- which run an account serves ------------------------------------------------------------------

def runs_dir() -> Path:
    """The gate's table of runs, in the var folder of the gate that is running (labs.stack.discover)."""
    from labs.stack.discover import listener_cmdline

    cmdline = listener_cmdline(next(iter(fronted().values()), (config.connect_port(), 0))[0])
    return (Path(cmdline[-1]) if "labs.stack.gate" in cmdline else config.var_dir()) / "run" / "gate"


def register(uid: int, run_id: str, prefixes: list[str], kafka: dict | None) -> None:
    """From now on, requests of account ``uid`` are run ``run_id``'s (``kafka``: its client settings)."""
    folder = runs_dir()
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    path = folder / f"{uid}.json"
    tmp = folder / f".{uid}.json.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"run_id": run_id, "prefixes": prefixes, "kafka": kafka or {}}, fh)
    os.replace(tmp, path)


def unregister(uid: int) -> None:
    (runs_dir() / f"{uid}.json").unlink(missing_ok=True)


def peer_uid(client_port: int, server_port: int) -> int | None:
    """The account owning the loopback TCP socket ``client_port`` -> ``server_port``."""
    want_local, want_remote = f":{client_port:04X}", f":{server_port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 7 and fields[1].endswith(want_local) and fields[2].endswith(want_remote):
                return int(fields[7])
    return None


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def identify(client_port: int, server_port: int) -> dict | None:
    """The run a request comes from (None: not a sandbox account, pass unchanged); raises Refused
    for a sandbox account that serves no run."""
    uid = peer_uid(client_port, server_port)
    if uid is None:
        raise Refused(403, "the gate could not tell which account sent this request")
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = ""
    if not name.startswith(SANDBOX_PREFIX):
        return None
    try:
        return json.loads((_SERVED / f"{uid}.json").read_text())
    except (OSError, ValueError):
        raise Refused(403, f"account {name} serves no graded run now") from None


def _owned(name: str, run: dict) -> bool:
    return any(name.startswith(prefix) for prefix in run["prefixes"])


def _deny_name(kind: str, name: str, run: dict) -> Refused:
    return Refused(403, f"{kind} {name!r} is not this run's: a graded notebook may only use {kind}s whose names "
                        f"start with {' or '.join(repr(p) for p in run['prefixes'])} (use run.{kind}(...))")


# --- Kafka Connect --------------------------------------------------------------------------------

def connector_config(config_: dict, run: dict) -> dict:
    """A run's connector configuration, checked and given the run's Kafka credentials."""
    for key, value in config_.items():
        if key.startswith("database."):
            continue  # how the connector reaches the run's own database (MariaDB restricts that account)
        if FORBIDDEN_KEYS.search(key) and key != "schema.history.internal.kafka.bootstrap.servers":
            raise Refused(403, f"connector setting {key!r} is not allowed in a graded run: the stack sets how "
                               f"connectors reach Kafka")
        if key.startswith("transforms.") and key.endswith(".type") and not SAFE_TRANSFORMS.match(str(value)):
            raise Refused(403, f"transform {value!r} may rename topics, which a graded run may not do; "
                               f"use a transform that keeps the topic (e.g. ExtractNewRecordState)")
        if key.startswith("predicates.") or key.startswith("schema.history.internal.") and key.endswith(".class") \
                or key == "schema.history.internal":
            raise Refused(403, f"connector setting {key!r} is not allowed in a graded run")
    for key in ("topic.prefix", "schema.history.internal.kafka.topic", "offsets.storage.topic", "name"):
        if key in config_ and not _owned(str(config_[key]), run):
            raise Refused(403, f"{key}={config_[key]!r} is not this run's: it must start with "
                               f"{' or '.join(repr(p) for p in run['prefixes'])} (use run.topic(...))")
    out = dict(config_)
    kafka = run.get("kafka") or {}
    if kafka and "schema.history.internal.kafka.bootstrap.servers" in out:
        out["schema.history.internal.kafka.bootstrap.servers"] = kafka["bootstrap"]
        for client in ("producer", "consumer"):
            for key, value in kafka["java"].items():
                out[f"schema.history.internal.{client}.{key}"] = value
    return out


def connect_request(method: str, path: str, body: bytes, run: dict) -> tuple[bytes, callable]:
    """Check a run's request to Connect; returns the body to forward and a filter for the answer."""
    parts = [unquote(p) for p in urlsplit(path).path.split("/") if p]
    keep = lambda data: data  # noqa: E731
    if not parts or parts[0] == "connector-plugins":
        if method in ("GET", "PUT"):
            return body, keep  # list plugins, validate a configuration: no effect
    elif parts[0] == "connectors" and len(parts) == 1:
        if method == "GET":
            def mine(data: bytes) -> bytes:
                listed = json.loads(data)
                if isinstance(listed, dict):
                    return json.dumps({k: v for k, v in listed.items() if _owned(k, run)}).encode()
                return json.dumps([n for n in listed if _owned(n, run)]).encode()
            return body, mine
        if method == "POST":
            doc = _json(body)
            name = str(doc.get("name", ""))
            if not _owned(name, run):
                raise _deny_name("connector", name, run)
            doc["config"] = connector_config({**doc.get("config", {}), "name": name}, run)
            return json.dumps(doc).encode(), keep
    elif parts[0] == "connectors":
        name = parts[1]
        if not _owned(name, run):
            raise _deny_name("connector", name, run)
        if method == "PUT" and parts[2:] == ["config"]:
            doc = _json(body)
            return json.dumps(connector_config({**doc, "name": doc.get("name", name)}, run)).encode(), keep
        if method == "PATCH" and parts[2:] == ["config"]:
            return json.dumps(connector_config(_json(body), run)).encode(), keep
        return body, keep
    raise Refused(403, f"{method} {urlsplit(path).path} is not open to a graded run")


# --- schema registry (Confluent-compatible API) ---------------------------------------------------

def registry_request(method: str, path: str, body: bytes, run: dict) -> tuple[bytes, callable]:
    keep = lambda data: data  # noqa: E731
    base = "/apis/ccompat/v7"
    url = urlsplit(path)
    if not url.path.startswith(base):
        raise Refused(403, f"{url.path} is not open to a graded run; use the Confluent-compatible API under {base}")
    parts = [unquote(p) for p in url.path[len(base):].split("/") if p]
    if not parts:
        raise Refused(403, f"{method} {url.path} is not open to a graded run")
    head = parts[0]
    subject = None
    if head == "subjects":
        if len(parts) == 1:
            if method != "GET":
                raise Refused(403, f"{method} /subjects is not open to a graded run")
            return body, lambda data: json.dumps([s for s in json.loads(data) if _owned(s, run)]).encode()
        subject = parts[1]
    elif head == "compatibility" and len(parts) >= 3 and parts[1] == "subjects":
        subject = parts[2]
    elif head in ("config", "mode"):
        if len(parts) == 1:
            if method == "GET":
                return body, keep
            raise Refused(403, f"{method} /{head} changes every subject; a graded run may only set its own: "
                               f"/{head}/<subject>")
        subject = parts[1]
    elif head == "schemas" and method == "GET":
        if parts[-1] == "subjects":
            return body, lambda data: json.dumps([s for s in json.loads(data) if _owned(s, run)]).encode()
        if parts[-1] == "versions":
            return body, lambda data: json.dumps([v for v in json.loads(data)
                                                  if _owned(v.get("subject", ""), run)]).encode()
        return body, keep
    elif head == "types" and method == "GET":
        return body, keep
    if subject is None:
        raise Refused(403, f"{method} {url.path} is not open to a graded run")
    if not _owned(subject, run):
        raise _deny_name("subject", subject, run)
    return body, keep


def _json(body: bytes) -> dict:
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        raise Refused(400, "the request body is not JSON") from None
    if not isinstance(doc, dict):
        raise Refused(400, "the request body is not a JSON object")
    return doc


# --- the service -------------------------------------------------------------------------------------

def handler_for(service: str, public: int, upstream: int):
    check = connect_request if service == "connect" else registry_request

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002 (the base class's name)
            pass

        def _answer(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
            self.send_response(status)
            for key, value in headers:
                if key.lower() not in HOP_BY_HOP:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _refuse(self, exc: Refused) -> None:
            body = json.dumps({"error_code": exc.status, "message": str(exc)}).encode()
            self._answer(exc.status, body, [("Content-Type", "application/json")])

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            answer = lambda data: data  # noqa: E731
            try:
                run = identify(self.client_address[1], public)
                if run is not None:
                    body, answer = check(self.command, self.path, body, run)
            except Refused as exc:
                self._refuse(exc)
                return
            conn = http.client.HTTPConnection(config.HOST, upstream, timeout=120)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                conn.request(self.command, self.path, body=body if body or length else None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                if 200 <= resp.status < 300 and data:
                    try:
                        data = answer(data)
                    except (ValueError, AttributeError, TypeError):
                        pass  # not the JSON the filter expects: an error document, passed on
                self._answer(resp.status, data, resp.getheaders())
            except OSError as exc:
                self._answer(502, json.dumps({"error_code": 502, "message": f"{service} does not answer behind "
                                              f"the gate ({exc}); run `labs stack up`"}).encode(),
                             [("Content-Type", "application/json")])
            finally:
                conn.close()

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _forward

    return Handler


class Gate(Service):
    def __init__(self) -> None:
        front = fronted()
        super().__init__(
            name="gate",
            ports={public: f"LABS_{service.upper()}_PORT" for service, (public, _) in front.items()},
            endpoint=", ".join(f"{service} :{public} -> :{internal}" for service, (public, internal) in front.items())
            or "-",
            start_timeout=20,
            external=not front,
        )

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "labs.stack.gate", str(config.var_dir())]

    def marks(self) -> tuple[str, ...]:
        return ("labs.stack.gate", str(config.var_dir()))

    def healthy(self) -> bool:
        return all(port_open(public) for public, _ in fronted().values())


_SERVED = Path()  # the gate process's own table of runs (set by serve)


def serve() -> None:
    global _SERVED
    _SERVED = config.var_dir() / "run" / "gate"
    servers = []
    for service, (public, upstream) in fronted().items():
        server = ThreadingHTTPServer((config.HOST, public), handler_for(service, public, upstream))
        server.daemon_threads = True
        servers.append(server)
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"gate: {', '.join(f'{s}: {p} -> {u}' for s, (p, u) in fronted().items())}", flush=True)
    if servers:
        servers[0].serve_forever()


if __name__ == "__main__":
    sys.exit(serve())
