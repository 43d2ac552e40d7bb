"""labs.registry against the real schema registry of the local stack (``labs stack up``)."""

from __future__ import annotations

import json
import uuid

import pytest

from labs import registry

pytestmark = pytest.mark.stack


def record(*fields) -> dict:
    return {"type": "record", "name": "Order", "namespace": "shop", "fields": list(fields)}


V1 = record({"name": "id", "type": "int"})
V2 = record({"name": "id", "type": "int"}, {"name": "note", "type": "string", "default": ""})
WIDER = record({"name": "id", "type": "long"})


@pytest.fixture
def subject():
    name = f"labs-test-registry-{uuid.uuid4().hex[:10]}"
    yield name
    registry.delete_subject(name)


def test_register_versions_and_lookups(subject):
    first = registry.register(subject, V1)
    again = registry.register(subject, json.dumps(V1))  # the same schema: no new version
    second = registry.register(subject, V2)
    assert first == again != second
    assert registry.versions(subject) == [1, 2]
    latest = registry.schema(subject)
    assert (latest["version"], latest["id"]) == (2, second)
    assert json.loads(registry.schema_by_id(first))["fields"] == V1["fields"]
    assert subject in registry.subjects(prefix=subject[:20])


def test_level_refuses_an_incompatible_version_with_the_registrys_reason(subject):
    registry.register(subject, V2)
    registry.set_compatibility(subject, "FORWARD")
    assert registry.compatibility(subject) == "FORWARD"
    with pytest.raises(registry.IncompatibleSchemaError, match="LONG"):
        registry.register(subject, WIDER)  # a reader of int cannot read long
    assert registry.versions(subject) == [1]
    with pytest.raises(ValueError, match="choose one of"):
        registry.set_compatibility(subject, "SIDEWAYS")


@pytest.mark.parametrize("level, accepted", [
    ("NONE", True),
    ("BACKWARD", True),               # the long reader reads the latest (int) data: int promotes to long
    ("BACKWARD_TRANSITIVE", True),
    ("FORWARD", False),               # the latest (int) reader cannot read long data
    ("FULL", False),
])
def test_verdict_asks_the_registry_and_leaves_nothing(subject, level, accepted):
    ok, why = registry.verdict(subject, [V1, V2], WIDER, level)
    assert ok is accepted
    assert (why == "") is accepted
    assert subject not in registry.subjects(prefix=subject)


def test_verdict_on_transitive_levels_looks_past_the_latest_version(subject):
    needs_id = record({"name": "id", "type": "int"})
    no_id = record({"name": "note", "type": "string", "default": ""})
    candidate = record({"name": "note", "type": "string", "default": ""}, {"name": "qty", "type": "int", "default": 0})
    # the latest version has no id; the first one needs it, so only the transitive check refuses
    assert registry.verdict(subject, [needs_id, no_id], candidate, "FORWARD") == (True, "")
    assert registry.verdict(subject, [needs_id, no_id], candidate, "FORWARD_TRANSITIVE")[0] is False
    assert registry.verdict(subject, [], candidate, "FULL_TRANSITIVE") == (True, "")


def test_a_schema_equal_to_a_registered_version_is_accepted_whatever_the_level(subject):
    """The registry answers an already-registered schema with its version, without checking."""
    needs_id = record({"name": "id", "type": "int"})
    no_id = record({"name": "note", "type": "string", "default": ""})
    assert registry.verdict(subject, [needs_id, no_id], no_id, "FORWARD_TRANSITIVE") == (True, "")


def test_a_runs_subjects_go_with_the_run():
    from labs import runs, sweep

    run, other = runs.Run("s4", runs.new_id()), runs.Run("s4", runs.new_id())
    mine, theirs = run.subject("orders-value"), other.subject("orders-value")
    try:
        registry.register(mine, V1)
        registry.register(theirs, V1)
        swept = sweep.sweep(run.id)
        assert swept.subjects == [mine] and not swept.errors
        assert registry.subjects(prefix=run.prefix) == []
        assert registry.subjects(prefix=other.prefix) == [theirs]
        # hidden, its schema texts kept until a sweep of every run removes it for good
        assert registry.subjects(prefix=run.prefix, deleted=True) == [mine]
        assert json.loads(registry.schema_by_id(registry.register(theirs, V1)))["fields"] == V1["fields"]
    finally:
        registry.delete_subject(mine)
        registry.delete_subject(theirs)


def test_a_permanent_delete_removes_the_soft_deleted_subject_too(subject):
    registry.register(subject, V1)
    registry.delete_subject(subject, permanent=False)
    assert subject not in registry.subjects(prefix=subject) and subject in registry.subjects(subject, deleted=True)
    registry.delete_subject(subject)
    assert subject not in registry.subjects(prefix=subject, deleted=True)
