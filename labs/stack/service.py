"""What every stack service provides: how to prepare, start and probe it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from labs import config


@dataclass
class Service:
    """One process of the local stack.

    ``ports`` maps each port the service binds to the environment variable that moves it.
    ``external`` services were pointed elsewhere by the user: never started, only probed.
    """

    name: str
    ports: dict[int, str]
    endpoint: str
    heap_mb: int = 0
    start_timeout: float = 60.0
    depends_on: tuple[str, ...] = ()
    external: bool = False
    needs: dict[Path, str] = field(default_factory=dict)  # file that must exist -> how to get it

    @property
    def log(self) -> Path:
        return config.log_dir() / f"{self.name}.log"

    def prepare(self) -> None:
        """One-time initialisation (formatting storage, writing config). Idempotent."""

    def argv(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return {}

    def marks(self) -> tuple[str, ...]:
        """Arguments only this stack's process of the service has on its command line (its main class and a
        file of this var dir): a process carrying them all is ours even without a pid file."""
        return ()

    def healthy(self) -> bool:
        """The service answers as the labs will use it."""
        raise NotImplementedError

    def answers(self) -> bool:
        """The freshly started process answers (before ``after_start`` bootstraps it)."""
        return self.healthy()

    def after_start(self) -> None:
        """Bootstrap done once the service answers (users, grants). Idempotent."""
