"""The grader releases a run's Spark Connect session with a request it serialises itself."""

from pyspark.sql.connect.proto import base_pb2

from labs.grading import spark_sessions


def test_release_request_is_sparks_own_message():
    session = "2b1c7c1e-59a0-4f51-9d0e-8a6f3e1c2d4b"
    expected = base_pb2.ReleaseSessionRequest(session_id=session, client_type="labs-grader")
    expected.user_context.user_id = "labs-run-r0123456789abcdef"
    got = spark_sessions.release_request("r0123456789abcdef", session)
    assert got == expected.SerializeToString()
    parsed = base_pb2.ReleaseSessionRequest.FromString(got)
    assert (parsed.session_id, parsed.user_context.user_id) == (session, "labs-run-r0123456789abcdef")


def test_long_fields_use_multi_byte_lengths():
    user = "x" * 300  # a length over 127 takes two bytes
    message = base_pb2.ReleaseSessionRequest(session_id="s", client_type="labs-grader")
    message.user_context.user_id = f"labs-run-{user}"
    assert spark_sessions.release_request(user, "s") == message.SerializeToString()
