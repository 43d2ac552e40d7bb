"""Who may do what on the stack's broker (labs.stack.rights): the course's plaintext clients while
the course is open and while a class is graded, a run's own principal, a wrong password."""

from __future__ import annotations

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAuthorizationFailedError

from labs import config
from labs import kafka as lk
from labs.grading.kafka_clients import from_env
from labs.stack import rights


@pytest.fixture
def names(unique):
    mine, other = f"t-{unique[:8]}", f"t-{unique[2:10]}"
    yield mine, other
    lk.delete_topics(prefix=f"t-{unique[:8]}")
    lk.delete_topics(prefix=f"t-{unique[2:10]}")


def plaintext(**kw) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=config.kafka_bootstrap(), request_timeout_ms=5000, **kw)


def test_the_open_course_lets_plaintext_clients_do_anything(names):
    assert rights.course_open(), "labs stack up opens the course"
    client = plaintext()
    try:
        client.create_topics([NewTopic(f"{names[0]}-open", 1, 1)])
        assert f"{names[0]}-open" in client.list_topics()
    finally:
        client.close()


def test_while_grading_an_unauthenticated_client_is_refused(names):
    lk.create_topic(f"{names[1]}-victim")
    with rights.grading():
        assert not rights.course_open()
        client = plaintext()
        try:
            assert client.list_topics() == [], "a plaintext client sees no topic while a class is graded"
            with pytest.raises(TopicAuthorizationFailedError):
                client.create_topics([NewTopic(f"{names[0]}-closed", 1, 1)])
            with pytest.raises(TopicAuthorizationFailedError):
                client.delete_topics([f"{names[1]}-victim"])
        finally:
            client.close()
        producer = KafkaProducer(bootstrap_servers=config.kafka_bootstrap(), max_block_ms=5000)
        with pytest.raises(KafkaError):
            producer.send(f"{names[1]}-victim", b"x").get(timeout=5)
        producer.close()
    assert rights.course_open(), "the course opens again when the last grader ends"


def test_a_run_principal_reaches_only_its_own_names_and_a_wrong_password_nothing(names):
    mine, other = names
    lk.create_topic(f"{other}-theirs")
    run_id = mine[2:]
    env = rights.grant(run_id, [mine])
    settings = {"bootstrap_servers": env["LABS_KAFKA_BOOTSTRAP"], **from_env(env).kafka_python()}
    try:
        client = KafkaAdminClient(request_timeout_ms=5000, **settings)
        try:
            client.create_topics([NewTopic(f"{mine}-own", 1, 1)])
            assert client.list_topics() == [f"{mine}-own"]
            with pytest.raises(TopicAuthorizationFailedError):
                client.delete_topics([f"{other}-theirs"])
        finally:
            client.close()
        wrong = {**settings, "sasl_plain_password": "not-the-password"}
        with pytest.raises(KafkaError):
            KafkaAdminClient(request_timeout_ms=3000, api_version_auto_timeout_ms=3000, **wrong).list_topics()
    finally:
        assert rights.revoke(run_id) == []
    with pytest.raises(KafkaError):  # removed with the run
        KafkaAdminClient(request_timeout_ms=3000, api_version_auto_timeout_ms=3000, **settings).list_topics()
