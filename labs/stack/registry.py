"""Apicurio Registry 3.0 (the newest 3.x line that runs on Java 17), serving the
Confluent-compatible API under /apis/ccompat/v7.

Storage is an H2 database in a file under ``var/registry/`` (the registry's default SQL
storage, pointed at a file instead of memory), so schemas survive a restart of the stack.
"""

from __future__ import annotations

from pathlib import Path

import requests

from labs import config
from labs.errors import LabsError
from labs.stack.gate import internal_registry_port, internal_registry_url
from labs.stack.process import java, jvm_opts
from labs.stack.service import Service


class Registry(Service):
    def __init__(self) -> None:
        super().__init__(
            name="registry",
            ports={internal_registry_port(): "LABS_REGISTRY_INTERNAL_PORT"},
            endpoint=config.registry_url(),
            heap_mb=320,
            start_timeout=90,
            external=config.is_external("registry"),
            depends_on=("gate",),
            needs={config.jvm_dir() / "apicurio": "make setup"},
        )

    @staticmethod
    def jar() -> str:
        found = sorted((config.jvm_dir() / "apicurio").glob("*-runner.jar"))
        if not found:
            raise LabsError(f"no Apicurio runner jar in {config.jvm_dir() / 'apicurio'}; run: make setup")
        return str(found[-1])

    @property
    def home(self) -> Path:
        return config.var_dir() / "registry"

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)

    @property
    def datasource(self) -> str:
        return f"-Dapicurio.datasource.url=jdbc:h2:file:{self.home / 'registry'}"

    def argv(self) -> list[str]:
        return [java(), *jvm_opts(self.heap_mb), self.datasource,
                "-Dapicurio.datasource.jdbc.initial-size=2",
                "-Dapicurio.datasource.jdbc.min-size=2",
                "-Dapicurio.datasource.jdbc.max-size=10",
                f"-Dapicurio.storage.snapshot.location={self.home}",
                "-Dquarkus.http.host=" + config.HOST,
                f"-Dquarkus.http.port={internal_registry_port()}",  # behind the gate (labs.stack.gate)
                "-Dquarkus.log.level=WARN",
                "-Dquarkus.log.category.\"io.apicurio\".level=INFO",
                "-Dquarkus.banner.enabled=false",
                "-Dapicurio.rest.deletion.artifact.enabled=true",
                "-Dapicurio.rest.deletion.artifact-version.enabled=true",
                "-Dapicurio.rest.deletion.group.enabled=true",
                "-jar", self.jar()]

    def marks(self) -> tuple[str, ...]:
        return (self.datasource,)

    def healthy(self) -> bool:
        url = self.endpoint if self.external else internal_registry_url()
        return requests.get(f"{url}/subjects", timeout=3).status_code == 200
