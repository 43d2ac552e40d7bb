"""Kafka Connect REST API helpers: register, inspect, restart and delete connectors.

The connector's configuration is always the caller's; these functions only talk to the
worker (``LABS_CONNECT_URL``) and wait for the states a lab needs.
"""

from __future__ import annotations

import time

import requests

from labs import config


class ConnectError(RuntimeError):
    """The Connect worker refused a request or a connector did not reach a state in time."""


def _url(path: str = "") -> str:
    return f"{config.connect_url()}/connectors{path}"


def _check(resp: requests.Response, what: str) -> requests.Response:
    if resp.status_code >= 400:
        try:
            message = resp.json().get("message", resp.text)
        except ValueError:
            message = resp.text
        raise ConnectError(f"{what}: HTTP {resp.status_code}: {message}")
    return resp


def names() -> list[str]:
    return _check(requests.get(_url(), timeout=10), "list connectors").json()


def register(name: str, connector_config: dict) -> dict:
    """Create or update connector ``name`` (PUT /connectors/<name>/config); returns its info."""
    body = {k: str(v) for k, v in connector_config.items()}
    return _check(requests.put(_url(f"/{name}/config"), json=body, timeout=60), f"register {name}").json()


def validate(connector_config: dict) -> list[str]:
    """Errors the worker reports for ``connector_config`` (empty when it would be accepted)."""
    cls = connector_config.get("connector.class", "")
    plugin = cls.rsplit(".", 1)[-1]
    body = {"name": "validate", **{k: str(v) for k, v in connector_config.items()}}
    resp = _check(requests.put(f"{config.connect_url()}/connector-plugins/{plugin}/config/validate",
                               json=body, timeout=60), f"validate {plugin}")
    return [f"{c['value']['name']}: {e}" for c in resp.json().get("configs", []) for e in c["value"]["errors"]]


def status(name: str) -> dict:
    """The worker's status document, or ``{}`` when there is no such connector."""
    resp = requests.get(_url(f"/{name}/status"), timeout=10)
    if resp.status_code == 404:
        return {}
    return _check(resp, f"status of {name}").json()


def state(name: str) -> str:
    """One word: RUNNING, PAUSED, FAILED, UNASSIGNED, STOPPED, or MISSING; a failed task makes it FAILED."""
    doc = status(name)
    if not doc:
        return "MISSING"
    states = [doc["connector"]["state"]] + [t["state"] for t in doc.get("tasks", [])]
    if "FAILED" in states:
        return "FAILED"
    if not doc.get("tasks") and states[0] == "RUNNING":
        return "UNASSIGNED"
    return states[-1] if len(set(states)) > 1 else states[0]


def wait_for(name: str, wanted: str = "RUNNING", timeout: float = 60) -> dict:
    """Wait until ``state(name) == wanted``; raises ConnectError with the task's trace on FAILED or timeout."""
    deadline = time.monotonic() + timeout
    while True:
        now = state(name)
        if now == wanted:
            return status(name)
        if now == "FAILED" and wanted != "FAILED":
            traces = [t.get("trace", "") for t in status(name).get("tasks", []) if t.get("trace")]
            raise ConnectError(f"connector {name} FAILED: {traces[0].splitlines()[0] if traces else 'no trace'}")
        if time.monotonic() > deadline:
            raise ConnectError(f"connector {name} is {now}, not {wanted}, after {timeout:.0f} s")
        time.sleep(0.25)


def restart(name: str) -> None:
    """Restart the connector and its tasks."""
    _check(requests.post(_url(f"/{name}/restart?includeTasks=true"), timeout=30), f"restart {name}")


def pause(name: str) -> None:
    _check(requests.put(_url(f"/{name}/pause"), timeout=30), f"pause {name}")


def resume(name: str) -> None:
    _check(requests.put(_url(f"/{name}/resume"), timeout=30), f"resume {name}")


def delete(name: str, timeout: float = 30) -> bool:
    """Delete connector ``name`` and wait until the worker no longer has it (so that its topics
    can be deleted without the connector writing them again); False when it did not exist."""
    resp = requests.delete(_url(f"/{name}"), timeout=30)
    if resp.status_code == 404:
        return False
    _check(resp, f"delete {name}")
    deadline = time.monotonic() + timeout
    while status(name):
        if time.monotonic() > deadline:
            raise ConnectError(f"connector {name} still exists {timeout:.0f} s after its deletion")
        time.sleep(0.1)
    return True


def delete_prefix(prefix: str) -> list[str]:
    """Delete every connector whose name starts with ``prefix``."""
    return [n for n in names() if n.startswith(prefix) and delete(n)]
