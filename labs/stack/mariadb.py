"""MariaDB as a user-space server with a row binlog, ready for Debezium.

The data directory lives in ``var/mariadb`` (git-ignored). On first start the server is
initialised, then two accounts are created: ``labs`` (what notebooks use, all privileges)
and ``debezium`` (the replication grants Debezium's MariaDB connector needs).
"""

from __future__ import annotations

import getpass
import shutil
import subprocess
from pathlib import Path

from labs import config
from labs.errors import LabsError
from labs.stack.service import Service

DEBEZIUM_USER = ("debezium", "debezium")
BINARIES = ("mariadbd", "mariadb-install-db", "mariadb")
INSTALL_HINT = "sudo apt-get install -y mariadb-server mariadb-client   (macOS: brew install mariadb)"


def binary(name: str) -> str | None:
    """Path of a MariaDB program: PATH first, then /usr/sbin (where Debian puts the server)."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/usr/bin")


class MariaDB(Service):
    def __init__(self) -> None:
        db = config.mariadb()
        super().__init__(
            name="mariadb",
            ports={config.mariadb_port(): "LABS_MARIADB_PORT"},
            endpoint=f"{db.host}:{db.port}/{db.database}",
            start_timeout=60,
            external=config.is_external("mariadb"),
        )

    @property
    def home(self) -> Path:
        return config.var_dir() / "mariadb"

    @property
    def socket(self) -> Path:
        return config.var_dir() / "run" / "mariadb.sock"

    @property
    def cnf(self) -> Path:
        return self.home / "my.cnf"

    def write_cnf(self) -> None:
        settings = {
            "user": getpass.getuser(),
            "datadir": self.home / "data",
            "socket": self.socket,
            "port": config.mariadb_port(),
            "bind-address": config.HOST,
            "pid-file": config.var_dir() / "run" / "mariadbd.pid",
            "tmpdir": config.work_dir() / "tmp",
            "log-error": config.log_dir() / "mariadb.log",
            "server_id": 1,
            "log_bin": self.home / "binlog" / "mariadb-bin",
            "binlog_format": "ROW",
            "binlog_row_image": "FULL",
            "expire_logs_days": 1,
            "innodb_buffer_pool_size": "64M",
            "innodb_log_file_size": "32M",
            "key_buffer_size": "8M",
            "max_connections": 100,
            "performance_schema": "OFF",
            "skip-name-resolve": "ON",
            "character-set-server": "utf8mb4",
            "collation-server": "utf8mb4_general_ci",
        }
        body = "".join(f"{k} = {v}\n" for k, v in settings.items())
        self.cnf.write_text(f"[mariadbd]\n{body}\n[client]\nsocket = {self.socket}\n")

    def prepare(self) -> None:
        missing = [b for b in BINARIES if not binary(b)]
        if missing:
            raise LabsError(f"MariaDB is not installed ({', '.join(missing)} not found). Run: {INSTALL_HINT}")
        for d in (self.home / "binlog", config.work_dir() / "tmp", config.var_dir() / "run", config.log_dir()):
            d.mkdir(parents=True, exist_ok=True)
        self.write_cnf()
        if (self.home / "data" / "mysql").is_dir():
            return
        subprocess.run(
            [binary("mariadb-install-db"), f"--defaults-file={self.cnf}", "--auth-root-authentication-method=normal",
             "--skip-test-db"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )

    def argv(self) -> list[str]:
        return [binary("mariadbd"), f"--defaults-file={self.cnf}"]

    def marks(self) -> tuple[str, ...]:
        return (f"--defaults-file={self.cnf}",)

    def healthy(self) -> bool:
        import pymysql

        with pymysql.connect(connect_timeout=2, **config.mariadb().connect_kwargs()) as conn, conn.cursor() as cur:
            cur.execute("SELECT @@log_bin, @@binlog_format, @@binlog_row_image")
            return cur.fetchone() == (1, "ROW", "FULL") or self.external

    def root(self):
        import pymysql

        return pymysql.connect(unix_socket=str(self.socket), user="root", password="", autocommit=True,
                               connect_timeout=2)

    def answers(self) -> bool:
        with self.root() as conn:
            conn.ping()
        return True

    def after_start(self) -> None:
        """Create the course's accounts and database (over the local socket as root)."""
        db = config.mariadb()
        du, dp = DEBEZIUM_USER
        statements = [
            f"CREATE DATABASE IF NOT EXISTS `{db.database}`",
            f"CREATE USER IF NOT EXISTS '{db.user}'@'%' IDENTIFIED BY '{db.password}'",
            f"GRANT ALL PRIVILEGES ON *.* TO '{db.user}'@'%' WITH GRANT OPTION",
            f"CREATE USER IF NOT EXISTS '{du}'@'%' IDENTIFIED BY '{dp}'",
            "GRANT SELECT, RELOAD, SHOW DATABASES, LOCK TABLES, REPLICATION SLAVE, BINLOG MONITOR "
            f"ON *.* TO '{du}'@'%'",
            "FLUSH PRIVILEGES",
        ]
        with self.root() as conn, conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
