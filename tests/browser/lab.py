"""Drive JupyterLab the way a person does: a private server on a free port, and a notebook page in a
real Chromium (through Playwright) where cells are clicked, typed into and run with the keyboard."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat

# Settings a fresh JupyterLab shows to a new user that would cover the page in a test: the news
# question, and windowed rendering (cells far below the fold are not in the page until scrolled to).
SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def kernel_is(status: str) -> str:
    """A page condition: the notebook's kernel indicator shows ``status`` ('idle', 'busy')."""
    return f"document.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status === '{status}'"


IDLE = kernel_is("idle")
TRACEBACK = "Traceback (most recent call last)"


def chromium_path() -> str | None:
    """The system Chromium (Debian's `chromium`), which `make setup` installs."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLab:
    """A JupyterLab server of its own (config, settings and workspaces in ``home``) serving ``root``."""

    def __init__(self, root: Path, home: Path, log: Path):
        self.root, self.home, self.log = root, home, log
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 90) -> JupyterLab:
        for name, values in SETTINGS.items():
            path = self.home / "settings" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = dict(os.environ, JUPYTER_CONFIG_DIR=str(self.home / "config"),
                   JUPYTERLAB_SETTINGS_DIR=str(self.home / "settings"),
                   JUPYTERLAB_WORKSPACES_DIR=str(self.home / "workspaces"))
        jupyter = Path(sys.executable).with_name("jupyter")
        command = [str(jupyter), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
                   f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}"]
        if os.geteuid() == 0:
            command.append("--allow-root")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(command, cwd=self.root, env=env, stdout=self.log.open("w"),
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.process.returncode}; see {self.log}")
            try:
                urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2)
                return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"JupyterLab did not answer on {self.url} within {timeout_s:.0f} s; see {self.log}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def page_url(self, path: str) -> str:
        return f"{self.url}/{path.lstrip('/')}{'&' if '?' in path else '?'}token={self.token}"


class Notebook:
    """One notebook open in JupyterLab, its cells addressed by their nbgrader name (grade_id)."""

    def __init__(self, page, lab: JupyterLab, relative: str, shots: Path):
        self.page, self.lab, self.relative, self.shots = page, lab, relative, shots
        self.names = [(c.metadata.get("nbgrader", {}).get("grade_id") or c.get("id"))
                      for c in nbformat.read(lab.root / relative, as_version=4).cells]
        self.step = 0

    def open(self, timeout_s: float = 120) -> Notebook:
        # A workspace of its own: JupyterLab would otherwise reopen the tabs an earlier page left
        workspace = secrets.token_hex(4)
        self.page.goto(self.lab.page_url(f"lab/workspaces/{workspace}/tree/{self.relative}?reset"))
        self.page.wait_for_function(IDLE, timeout=timeout_s * 1000)
        self.page.wait_for_function(f"document.querySelectorAll('.jp-Notebook .jp-Cell').length === "
                                    f"{len(self.names)}", timeout=timeout_s * 1000)
        self.shot("opened")
        return self

    def shot(self, what: str) -> Path:
        """A screenshot of this step, kept as a test artefact."""
        self.step += 1
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{self.step:02d}-{re.sub(r'[^a-z0-9]+', '-', what.lower())}.png"
        self.page.screenshot(path=str(path))
        return path

    def cell(self, name: str):
        return self.page.locator(".jp-Notebook .jp-Cell").nth(self.names.index(name))

    def _prompt(self, name: str) -> str:
        return self.cell(name).locator(".jp-InputPrompt").first.inner_text().strip()

    def run(self, name: str, timeout_s: float = 120) -> str:
        """Select the cell, press Ctrl+Enter as a person would, wait until it has run; its output text."""
        before = self._prompt(name)
        cell = self.cell(name)
        cell.locator(".jp-InputPrompt").first.click()
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("Control+Enter")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            prompt = self._prompt(name)
            if re.fullmatch(r"\[\d+\]:", prompt) and prompt != before:
                self.page.wait_for_function(IDLE, timeout=timeout_s * 1000)
                outputs = self.cell(name).locator(".jp-OutputArea-output")
                if outputs.count():
                    outputs.last.scroll_into_view_if_needed()
                return self.output(name)
            time.sleep(0.2)
        self.shot(f"timeout {name}")
        raise TimeoutError(f"cell {name} did not finish within {timeout_s:.0f} s (prompt {self._prompt(name)!r})")

    def run_until(self, last: str, timeout_s: float = 120) -> None:
        """Run every code cell from the top to ``last`` (inclusive), one by one."""
        for name in self.names[: self.names.index(last) + 1]:
            if self.cell(name).get_attribute("class").find("jp-CodeCell") >= 0:
                self.run(name, timeout_s)

    def type_into(self, name: str, code: str) -> None:
        """Replace the cell's code: click into its editor, select all, type the new text."""
        editor = self.cell(name).locator(".cm-content").first
        editor.click()
        self.page.keyboard.press("Control+A")
        self.page.keyboard.insert_text(code)
        self.page.keyboard.press("Escape")

    def output(self, name: str) -> str:
        area = self.cell(name).locator(".jp-OutputArea")
        return area.first.inner_text() if area.count() else ""

    def has_traceback(self, name: str) -> bool:
        return TRACEBACK in self.output(name)

    def errors(self) -> dict[str, str]:
        """Cells whose output shows a Python traceback, with the text of that output."""
        return {n: self.output(n)[-1500:] for n in self.names if self.has_traceback(n)}
