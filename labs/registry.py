"""A small client of the stack's schema registry, through its Confluent-compatible API.

>>> from labs import registry
>>> schema_id = registry.register(run.subject("orders-value"), avro_schema_json)
>>> registry.set_compatibility(run.subject("orders-value"), "FULL_TRANSITIVE")
>>> ok, why = registry.verdict(run.subject("scratch"), [v1, v2], candidate, "BACKWARD")

Schemas travel as JSON text (``json.dumps`` of an Avro schema). Name subjects through
``run.subject(...)`` so that ``run.clean()`` deletes them. Importing this module has no side effects.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence

import requests

from labs import config
from labs.errors import LabsError

LEVELS = ("NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE")
_HEADERS = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
_TIMEOUT = 10
_ATTEMPTS = 6


class RegistryError(LabsError):
    """The registry refused a request or did not answer."""


class IncompatibleSchemaError(RegistryError):
    """The registry refused a new version under the subject's compatibility level (HTTP 409)."""


def url() -> str:
    return config.registry_url()


def _text(schema) -> str:
    return schema if isinstance(schema, str) else json.dumps(schema)


def _transient(method: str, response: requests.Response) -> bool:
    """A failure that passes when asked again (see the note in ``_call``)."""
    if response.status_code >= 500:
        return True
    if response.status_code == 404:  # registering never meets a missing subject; a read may, briefly
        return method == "POST" or (method == "GET" and "No artifact" in response.text)
    return False


def _call(method: str, path: str, body: dict | None = None, ok: tuple[int, ...] = (200,)):
    # Apicurio stores a schema text once for every subject that has it, and deleting a subject deletes the
    # texts no version uses any more, in the same request. A registration of the same text racing with
    # such a deletion fails (HTTP 500 on a foreign key, or 404 "no content"), and a subject registered a
    # moment ago can read as missing (404 "no artifact"). Registering is idempotent and reading has no
    # effect, so both are asked again, a read that still finds nothing only briefly.
    attempts = 3 if method == "GET" else _ATTEMPTS
    for attempt in range(attempts):
        try:
            response = requests.request(method, f"{url()}{path}", json=body, headers=_HEADERS, timeout=_TIMEOUT)
        except requests.RequestException as exc:
            raise RegistryError(f"the schema registry at {url()} did not answer ({exc.__class__.__name__}); "
                                f"start the stack with `labs stack up`") from None
        if not _transient(method, response) or attempt == attempts - 1:
            break
        time.sleep(0.05 * 2 ** attempt)
    if response.status_code == 409:
        raise IncompatibleSchemaError(response.json().get("message", response.text))
    if response.status_code not in ok:
        raise RegistryError(f"{method} {path}: HTTP {response.status_code}: {response.text[:300]}")
    return response.json() if response.content else None


def subjects(prefix: str = "", deleted: bool = False) -> list[str]:
    """Subjects whose name starts with ``prefix`` (``deleted``: also the soft-deleted ones)."""
    listed = _call("GET", "/subjects?deleted=true" if deleted else "/subjects")
    return sorted(s for s in listed if s.startswith(prefix))


def register(subject: str, schema, schema_type: str = "AVRO") -> int:
    """Register ``schema`` under ``subject``; returns its global id (the same for the same schema text).
    Raises ``IncompatibleSchemaError`` with the registry's reasons when the subject's level refuses it."""
    body = {"schema": _text(schema)}
    if schema_type != "AVRO":
        body["schemaType"] = schema_type
    return _call("POST", f"/subjects/{subject}/versions", body)["id"]


def versions(subject: str) -> list[int]:
    return _call("GET", f"/subjects/{subject}/versions")


def schema(subject: str, version: int | str = "latest") -> dict:
    """``{"subject", "version", "id", "schema"}`` of one version (``schema`` is JSON text)."""
    return _call("GET", f"/subjects/{subject}/versions/{version}")


def schema_by_id(schema_id: int) -> str:
    """The schema text registered under a global id (what a consumer looks up from the wire format)."""
    return _call("GET", f"/schemas/ids/{schema_id}")["schema"]


def set_compatibility(subject: str, level: str) -> None:
    """Set the subject's compatibility level (the subject must have a version already)."""
    if level not in LEVELS:
        raise ValueError(f"compatibility level {level!r}: choose one of {', '.join(LEVELS)}")
    _call("PUT", f"/config/{subject}", {"compatibility": level})


def compatibility(subject: str) -> str:
    """The subject's own level, or the registry's default when it has none."""
    try:
        return _call("GET", f"/config/{subject}")["compatibilityLevel"]
    except RegistryError:
        return _call("GET", "/config")["compatibilityLevel"]


def delete_subject(subject: str, permanent: bool = True) -> None:
    """Delete a subject: hide it and its versions (soft), then, when ``permanent``, remove them for good.
    A soft delete keeps the schema texts: only a permanent one makes the registry collect the texts no
    version uses any more, which races with another run registering the same text (see ``_call``)."""
    _call("DELETE", f"/subjects/{subject}", ok=(200, 404))
    if permanent:
        _call("DELETE", f"/subjects/{subject}?permanent=true", ok=(200, 404))


def verdict(scratch_subject: str, history: Sequence, candidate, level: str) -> tuple[bool, str]:
    """Would the registry accept ``candidate`` as the next version of a subject holding ``history``
    (oldest first) under ``level``? Asked for real: the history is registered under a new subject
    named after ``scratch_subject`` (soft-deleted after, removed for good with the run's other subjects by
    ``run.clean()``), then the candidate. Returns ``(accepted, the registry's reason when refused)``."""
    if not history:
        return True, ""  # a subject's first version is always accepted
    scratch = f"{scratch_subject}-{uuid.uuid4().hex[:8]}"  # new, so nothing to delete first
    try:
        register(scratch, history[0])  # the subject exists from here: it can have a level
        set_compatibility(scratch, "NONE")
        for old in history[1:]:
            register(scratch, old)
        set_compatibility(scratch, level)
        try:
            register(scratch, candidate)
        except IncompatibleSchemaError as exc:
            return False, str(exc)
        return True, ""
    finally:
        delete_subject(scratch, permanent=False)
