"""The course's cache: what the course builds once and graded runs only read.

``LABS_CACHE_DIR``, by default ``var/cache/``. Nothing in it comes from a lab's source (today it
holds Airflow's migrated, empty metadata database), so the private view of a graded notebook
shows it read-only. Importing this module has no side effects.
"""

from __future__ import annotations

import os
from pathlib import Path

from labs import config


def folder() -> Path:
    """The cache folder (``LABS_CACHE_DIR``, else ``var/cache``); it may not exist yet."""
    given = os.environ.get("LABS_CACHE_DIR", "").strip()
    return Path(given or config.var_dir() / "cache").resolve()
