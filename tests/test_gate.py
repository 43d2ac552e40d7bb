"""The gate's rules for a graded run (labs.stack.gate), without a stack: what a run may ask of
Kafka Connect and of the registry, and what a connector configuration gets."""

from __future__ import annotations

import json
import socket

import pytest

from labs.stack import gate

RUN = {"run_id": "0123abcd", "prefixes": ["c1-0123abcd"],
       "kafka": {"bootstrap": "127.0.0.1:9094", "java": {"security.protocol": "SASL_PLAINTEXT",
                                                          "sasl.mechanism": "SCRAM-SHA-256",
                                                          "sasl.jaas.config": "x required;"}}}
MINE = "c1-0123abcd-main"
DEBEZIUM = {"connector.class": "io.debezium.connector.mariadb.MariaDbConnector", "database.hostname": "127.0.0.1",
            "database.ssl.mode": "disable", "topic.prefix": "c1-0123abcd-cdc",
            "schema.history.internal.kafka.topic": "c1-0123abcd-history",
            "schema.history.internal.kafka.bootstrap.servers": "127.0.0.1:9092", "exactly.once.support": "required"}


def refused(call, *args) -> str:
    with pytest.raises(gate.Refused) as info:
        call(*args)
    assert info.value.status in (400, 403)
    return str(info.value)


def test_a_connector_gets_the_run_s_credentials_for_its_schema_history():
    out = gate.connector_config(DEBEZIUM, RUN)
    assert out["schema.history.internal.kafka.bootstrap.servers"] == "127.0.0.1:9094"
    for client in ("producer", "consumer"):
        assert out[f"schema.history.internal.{client}.security.protocol"] == "SASL_PLAINTEXT"
        assert out[f"schema.history.internal.{client}.sasl.jaas.config"] == "x required;"
    assert out["database.ssl.mode"] == "disable" and out["exactly.once.support"] == "required"


@pytest.mark.parametrize("change", [
    {"topic.prefix": "c1-99999999-cdc"},                                    # another run's topics
    {"schema.history.internal.kafka.topic": "_labs_connect_configs"},
    {"offsets.storage.topic": "c1-99999999-offsets"},
    {"producer.override.sasl.jaas.config": "other credentials"},
    {"schema.history.internal.producer.sasl.jaas.config": "other credentials"},
    {"transforms": "r", "transforms.r.type": "org.apache.kafka.connect.transforms.RegexRouter"},
    {"topic.naming.strategy": "my.Strategy"},
])
def test_a_connector_may_not_reach_beyond_its_run(change):
    assert "not" in refused(gate.connector_config, {**DEBEZIUM, **change}, RUN)


def test_a_renaming_free_transform_is_allowed():
    cfg = {**DEBEZIUM, "transforms": "u", "transforms.u.type": "io.debezium.transforms.ExtractNewRecordState"}
    assert gate.connector_config(cfg, RUN)["transforms.u.type"].endswith("ExtractNewRecordState")


def test_connect_requests_are_limited_to_the_run_s_connectors():
    body, answer = gate.connect_request("GET", "/connectors?expand=status", b"", RUN)
    listed = json.loads(answer(json.dumps({MINE: {}, "c1-99999999-main": {}}).encode()))
    assert list(listed) == [MINE]
    assert json.loads(answer(json.dumps([MINE, "s2-00000000-x"]).encode())) == [MINE]
    assert "not this run's" in refused(gate.connect_request, "DELETE", "/connectors/c1-99999999-main", b"", RUN)
    assert "not this run's" in refused(gate.connect_request, "PUT", "/connectors/c1-99999999-main/pause", b"", RUN)
    body, _ = gate.connect_request("PUT", f"/connectors/{MINE}/config", json.dumps(DEBEZIUM).encode(), RUN)
    assert json.loads(body)["schema.history.internal.kafka.bootstrap.servers"] == "127.0.0.1:9094"
    gate.connect_request("PUT", "/connector-plugins/MariaDbConnector/config/validate", b"{}", RUN)
    refused(gate.connect_request, "PUT", "/admin/loggers/root", b"{}", RUN)


def test_registry_requests_are_limited_to_the_run_s_subjects():
    base = "/apis/ccompat/v7"
    _, answer = gate.registry_request("GET", f"{base}/subjects", b"", RUN)
    assert json.loads(answer(json.dumps(["c1-0123abcd-v", "c1-99999999-v"]).encode())) == ["c1-0123abcd-v"]
    gate.registry_request("POST", f"{base}/subjects/c1-0123abcd-v/versions", b"{}", RUN)
    gate.registry_request("PUT", f"{base}/config/c1-0123abcd-v", b"{}", RUN)
    gate.registry_request("GET", f"{base}/schemas/ids/3", b"", RUN)
    assert "not this run's" in refused(gate.registry_request, "DELETE", f"{base}/subjects/c1-99999999-v", b"", RUN)
    refused(gate.registry_request, "POST", f"{base}/compatibility/subjects/c1-99999999-v/versions/latest", b"{}", RUN)
    refused(gate.registry_request, "PUT", f"{base}/config", b"{}", RUN)
    refused(gate.registry_request, "DELETE", "/apis/registry/v3/groups/default", b"", RUN)


def test_the_peer_account_is_read_from_the_kernel_s_socket_table():
    import os

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname()) as client:
            assert gate.peer_uid(client.getsockname()[1], server.getsockname()[1]) == os.getuid()
