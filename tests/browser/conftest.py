"""Fixtures of the browser tests: a real headless Chromium (the system's, which `make setup` installs),
and a private JupyterLab started by the test on a free port over a copy of the course. Screenshots
of every step are kept under var/browser/<test>/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from labs import config

from .lab import JupyterLab, chromium_path

REPO = Path(__file__).resolve().parents[2]
VIEWPORT = {"width": 1280, "height": 900}


def artefacts(name: str, fresh: bool = True) -> Path:
    """var/browser/<name>/, emptied first unless ``fresh`` is False."""
    folder = config.var_dir() / "browser" / name
    if fresh:
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium driven by Playwright; fails (never skips) when the browser is missing."""
    path = chromium_path()
    if path is None:
        pytest.fail("no Chromium on this machine: `make setup` installs it (sudo apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, request):
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    page.screenshot(path=str(artefacts(request.node.name, fresh=False) / "last.png"))
    context.close()



@pytest.fixture(scope="session")
def student_lab(tmp_path_factory, stack):
    """JupyterLab over a student's copy of the course (release/, and source/ for the solved notebooks)."""
    root = tmp_path_factory.mktemp("student") / "course"
    root.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", root)
    for name in ("release", "source"):
        shutil.copytree(REPO / name, root / name)
    lab = JupyterLab(root, root.parent / "jupyter", artefacts("student-server") / "jupyterlab.log").start()
    yield lab
    lab.stop()
