"""Services a run starts for itself, in its own folder and on free ports: a fault injector and MariaDB.

Some lessons need a service the shared stack must never give up: a proxy that cuts and slows one
run's connections, a database server a notebook kills, restores and restarts. Each run starts its
own here, under ``run.path(...)``, so one submission's faults never reach another's:

    tox = private.Toxiproxy(run)                 # toxiproxy's server on a free port
    db = tox.proxy("db", "127.0.0.1:3306")       # clients connect to db.port instead
    db.add_toxic("latency", latency=200)         # every answer 200 ms late
    db.cut(); db.restore()                       # connections refused, then accepted again

    primary = private.MariaDB(run, "primary")    # a server with a row binlog, its own data dir
    primary.connect(database="shop")             # a PyMySQL connection as root
    primary.kill(); primary.start()              # SIGKILL, then recovery from its own files

Processes die with the kernel that started them (the parent-death signal), and ``stop_all(run)``
stops every one a run started. Importing this module has no side effects.
"""

from __future__ import annotations

import ctypes
import json
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from labs import cache, config
from labs.errors import LabsError

TOXIPROXY_HINT = "run `make setup` (it builds toxiproxy's server with Go into var/cache/bin)"


def toxiproxy_binary() -> Path:
    """Where ``make setup`` puts toxiproxy's server."""
    return cache.folder() / "bin" / "toxiproxy-server"


def free_port() -> int:
    """A TCP port nobody listens on now, on the stack's host."""
    with socket.socket() as s:
        s.bind((config.HOST, 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def spawn(argv: list[str], out=subprocess.DEVNULL, env: dict | None = None) -> subprocess.Popen:
    """Start ``argv`` so that it dies with this process (``out``: a file for its output and errors).
    util-linux's ``setpriv`` sets the parent-death signal and execs the program, so Python needs no
    code between fork and exec: it then starts the child without running other libraries' fork
    handlers (gRPC's, in a kernel with a Spark Connect session, made a forked child fail now and
    then)."""
    setpriv = shutil.which("setpriv")
    if setpriv:
        return subprocess.Popen([setpriv, "--pdeathsig", "KILL", *argv], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env)
    return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                            preexec_fn=_die_with_parent)


class _Process:
    """One private server: a folder of the run, a log in it, a pid while it runs."""

    kind = "process"

    def __init__(self, run, name: str):
        self.run, self.name = run, name
        self.folder = run.path(f"{self.kind}-{name}")
        self.log = self.folder / f"{self.kind}.log"
        self.port = free_port()
        self._popen: subprocess.Popen | None = None

    def argv(self) -> list[str]:
        raise NotImplementedError

    def answers(self) -> bool:
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self.alive else None

    @property
    def alive(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def start(self, timeout_s: float = 30.0):
        """Start the server (a no-op when it runs) and wait until it answers."""
        if self.alive:
            return self
        with open(self.log, "ab") as out:
            self._popen = spawn(self.argv(), out)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._popen.poll() is not None:
                raise LabsError(f"{self.kind} {self.name!r} exited with code {self._popen.returncode} "
                                f"while starting; its log: {self.log}\n{self._tail()}")
            try:
                if self.answers():
                    return self
            except Exception:  # noqa: BLE001 - not up yet
                pass
            time.sleep(0.05)
        self.kill()
        raise LabsError(f"{self.kind} {self.name!r} did not answer within {timeout_s:.0f} s; its log: {self.log}\n"
                        f"{self._tail()}")

    def stop(self, timeout_s: float = 20.0) -> None:
        """Stop it cleanly (SIGTERM), waiting for it to exit; SIGKILL if it does not in time."""
        if not self.alive:
            return
        self._popen.terminate()
        try:
            self._popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """End it at once (SIGKILL): no flush, no clean shutdown, as a crash or a power cut would."""
        if self._popen is not None and self._popen.poll() is None:
            self._popen.kill()
            self._popen.wait()

    def restart(self, timeout_s: float = 30.0):
        self.stop()
        return self.start(timeout_s)

    def _tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.alive else "stopped"
        return f"<{self.kind} {self.name!r} on port {self.port}, {state}>"


class Proxy:
    """One TCP proxy of a toxiproxy server: clients connect to ``host:port``, it forwards to ``upstream``."""

    def __init__(self, server: Toxiproxy, name: str, upstream: str, listen: str):
        self.server, self.name, self.upstream = server, name, upstream
        self.host, port = listen.rsplit(":", 1)
        self.port = int(port)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def add_toxic(self, kind: str, name: str | None = None, stream: str = "downstream", toxicity: float = 1.0,
                  **attributes) -> str:
        """Add a toxic (``latency``, ``bandwidth``, ``slow_close``, ``timeout``, ``reset_peer``,
        ``slicer``, ``limit_data``) with its attributes; returns its name (for ``remove_toxic``)."""
        name = name or f"{kind}_{stream}"
        self.server.api("POST", f"/proxies/{self.name}/toxics",
                        {"name": name, "type": kind, "stream": stream, "toxicity": toxicity, "attributes": attributes})
        return name

    def remove_toxic(self, name: str) -> None:
        self.server.api("DELETE", f"/proxies/{self.name}/toxics/{name}")

    def toxics(self) -> list[dict]:
        return self.server.api("GET", f"/proxies/{self.name}/toxics")

    def clear(self) -> None:
        """Remove every toxic."""
        for toxic in self.toxics():
            self.remove_toxic(toxic["name"])

    def cut(self) -> None:
        """Disable the proxy: open connections are closed and new ones refused, like a network partition."""
        self.server.api("POST", f"/proxies/{self.name}", {"enabled": False})

    def restore(self) -> None:
        """Enable the proxy again (its toxics stay)."""
        self.server.api("POST", f"/proxies/{self.name}", {"enabled": True})

    @property
    def enabled(self) -> bool:
        return bool(self.server.api("GET", f"/proxies/{self.name}")["enabled"])

    def __repr__(self) -> str:
        return f"<proxy {self.name!r} {self.address} -> {self.upstream}>"


class Toxiproxy(_Process):
    """A run's own toxiproxy server (the fault injector between clients and a service)."""

    kind = "toxiproxy"

    def __init__(self, run, name: str = "faults", start: bool = True):
        super().__init__(run, name)
        if not toxiproxy_binary().is_file():
            raise LabsError(f"toxiproxy's server is not built ({toxiproxy_binary()} is missing): {TOXIPROXY_HINT}")
        if start:
            self.start()

    def argv(self) -> list[str]:
        startup = self.folder / "proxies.json"  # none at start; names the run's folder on the command line
        startup.write_text("[]")
        return [str(toxiproxy_binary()), "-host", config.HOST, "-port", str(self.port), "-config", str(startup)]

    def answers(self) -> bool:
        return isinstance(self.api("GET", "/version", timeout_s=1), (str, dict))

    def api(self, method: str, path: str, body: dict | None = None, timeout_s: float = 5.0):
        """One call of toxiproxy's REST API; the decoded JSON answer (None when empty)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://{config.HOST}:{self.port}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as answer:
                text = answer.read().decode()
        except urllib.error.HTTPError as e:
            said = e.read().decode(errors="replace").strip()
            raise LabsError(f"toxiproxy {method} {path}: HTTP {e.code}: {said}") from None
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return text

    def proxy(self, name: str, upstream: str, listen_port: int = 0) -> Proxy:
        """A new proxy to ``upstream`` ('host:port') on a free port (or ``listen_port``)."""
        answer = self.api("POST", "/proxies", {"name": name, "upstream": upstream, "enabled": True,
                                               "listen": f"{config.HOST}:{listen_port}"})
        return Proxy(self, name, upstream, answer["listen"])

    def proxies(self) -> dict[str, Proxy]:
        return {name: Proxy(self, name, p["upstream"], p["listen"]) for name, p in self.api("GET", "/proxies").items()}

    def reset(self) -> None:
        """Every proxy enabled again and every toxic removed."""
        self.api("POST", "/reset")


class MariaDB(_Process):
    """A run's own MariaDB server: its own data directory, a row binlog, root over TCP without password.

    The first ``start`` initialises the data directory (about 2 s). ``kill`` is a crash; ``start``
    after it recovers from the server's own redo log and binlog, as a real server does.
    """

    kind = "mariadb"

    def __init__(self, run, name: str = "db", start: bool = True, server_id: int = 1):
        super().__init__(run, name)
        self.server_id = server_id
        if start:
            self.start(60)

    @property
    def datadir(self) -> Path:
        return self.folder / "data"

    @property
    def binlog_dir(self) -> Path:
        return self.folder / "binlog"

    @property
    def cnf(self) -> Path:
        return self.folder / "my.cnf"

    @property
    def socket(self) -> Path:
        """In the temporary folder: a Unix socket's path may not exceed 107 bytes, a run's folder may."""
        import tempfile

        return Path(tempfile.gettempdir()) / f"{self.run.prefix}-{self.name[:40]}.sock"

    def _write_cnf(self) -> None:
        import getpass

        settings = {
            "user": getpass.getuser(), "datadir": self.datadir, "port": self.port, "bind-address": config.HOST,
            "socket": self.socket, "pid-file": self.folder / "mariadbd.pid",
            "tmpdir": self.folder, "log-error": self.log, "server_id": self.server_id,
            "log_bin": self.binlog_dir / "binlog", "binlog_format": "ROW", "binlog_row_image": "FULL",
            "sync_binlog": 1, "innodb_flush_log_at_trx_commit": 1,
            "innodb_buffer_pool_size": "16M", "innodb_log_file_size": "8M", "key_buffer_size": "1M",
            "max_connections": 30, "performance_schema": "OFF", "skip-name-resolve": "ON",
            "character-set-server": "utf8mb4", "collation-server": "utf8mb4_general_ci",
            "innodb_use_native_aio": 0,
        }
        body = "".join(f"{k} = {v}\n" for k, v in settings.items())
        self.cnf.write_text(f"[mariadbd]\n{body}")

    def start(self, timeout_s: float = 60.0):
        if not self.alive:
            self._prepare()
        return super().start(timeout_s)

    def _prepare(self) -> None:
        from labs.stack.mariadb import INSTALL_HINT, binary

        if not binary("mariadbd") or not binary("mariadb-install-db"):
            raise LabsError(f"MariaDB is not installed: {INSTALL_HINT}")
        self.binlog_dir.mkdir(parents=True, exist_ok=True)
        self._write_cnf()
        if (self.datadir / "mysql").is_dir():
            return
        done = subprocess.run([binary("mariadb-install-db"), f"--defaults-file={self.cnf}",
                               "--auth-root-authentication-method=normal", "--skip-test-db"],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if done.returncode:
            raise LabsError(f"mariadb-install-db failed for {self.name!r}:\n{done.stderr[-2000:]}")

    def argv(self) -> list[str]:
        from labs.stack.mariadb import binary

        return [binary("mariadbd"), f"--defaults-file={self.cnf}"]

    def answers(self) -> bool:
        with self.connect(connect_timeout=1) as conn:
            conn.ping()
        return True

    def connect(self, database: str | None = None, **kwargs):
        """A PyMySQL connection as root (autocommit on unless given)."""
        import pymysql

        options = {"host": config.HOST, "port": self.port, "user": "root", "password": "", "autocommit": True,
                   "connect_timeout": 5, **kwargs}
        return pymysql.connect(database=database, **options)

    def client_args(self) -> list[str]:
        """Connection options for MariaDB's command-line tools (mariadb, mariadb-dump, mariadb-binlog)."""
        return [f"--host={config.HOST}", f"--port={self.port}", "--user=root", "--password="]

    def binlogs(self) -> list[Path]:
        """The binlog files, oldest first."""
        return sorted(p for p in self.binlog_dir.glob("binlog.[0-9]*"))


def tool(name: str) -> str:
    """Path of a MariaDB command-line tool (``mariadb``, ``mariadb-dump``, ``mariadb-binlog``), or a clear error."""
    from labs.stack.mariadb import INSTALL_HINT, binary

    found = binary(name)
    if not found:
        raise LabsError(f"{name} is not installed: {INSTALL_HINT}")
    return found


def stop_all(run) -> int:
    """SIGKILL every process whose command line names a folder of ``run``; returns how many."""
    import psutil

    folder = str(config.work_dir() / "runs" / run.prefix)
    killed = 0
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(folder in arg for arg in proc.info["cmdline"] or []):
                proc.kill()
                killed += 1
        except psutil.Error:
            pass
    return killed

