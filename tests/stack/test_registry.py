"""The schema registry's Confluent-compatible API: Avro schemas, BACKWARD compatibility."""

from __future__ import annotations

import json

import fastavro
import pytest
import requests

from labs import config

HEADERS = {"Content-Type": "application/vnd.schemaregistry.v1+json"}

V1 = {"type": "record", "name": "Payment", "namespace": "labs.test",
      "fields": [{"name": "id", "type": "string"}, {"name": "amount_cents", "type": "long"}]}
# adds a field with a default: readers on v2 can still read v1 data -> BACKWARD compatible
V2_OK = {**V1, "fields": V1["fields"] + [{"name": "currency", "type": "string", "default": "EUR"}]}
# adds a required field without a default: v2 readers cannot read v1 data -> BACKWARD incompatible
V2_BAD = {**V1, "fields": V1["fields"] + [{"name": "merchant", "type": "string"}]}


@pytest.fixture
def subject(unique):
    name = f"test-payments-{unique}-value"
    yield name
    requests.delete(f"{config.registry_url()}/subjects/{name}", timeout=10)
    requests.delete(f"{config.registry_url()}/subjects/{name}?permanent=true", timeout=10)


def register(subject: str, schema: dict) -> requests.Response:
    return requests.post(f"{config.registry_url()}/subjects/{subject}/versions", headers=HEADERS,
                         data=json.dumps({"schema": json.dumps(schema), "schemaType": "AVRO"}), timeout=10)


def test_backward_compatibility_is_enforced(subject):
    for schema in (V1, V2_OK, V2_BAD):
        fastavro.parse_schema(schema)  # all three are valid Avro on their own
    base = config.registry_url()
    first = register(subject, V1)
    assert first.status_code == 200, first.text
    assert "id" in first.json()
    resp = requests.put(f"{base}/config/{subject}", headers=HEADERS, data=json.dumps({"compatibility": "BACKWARD"}),
                        timeout=10)
    assert resp.status_code == 200, resp.text
    assert requests.get(f"{base}/config/{subject}", timeout=10).json()["compatibilityLevel"] == "BACKWARD"

    check = requests.post(f"{base}/compatibility/subjects/{subject}/versions/latest", headers=HEADERS,
                          data=json.dumps({"schema": json.dumps(V2_BAD)}), timeout=10)
    assert check.status_code == 200 and check.json()["is_compatible"] is False

    rejected = register(subject, V2_BAD)
    assert rejected.status_code == 409, rejected.text
    accepted = register(subject, V2_OK)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["id"] != first.json()["id"]

    versions = requests.get(f"{base}/subjects/{subject}/versions", timeout=10).json()
    assert versions == [1, 2]
    latest = requests.get(f"{base}/subjects/{subject}/versions/latest", timeout=10).json()
    assert [f["name"] for f in json.loads(latest["schema"])["fields"]] == ["id", "amount_cents", "currency"]
