"""Shared fixtures. Tests marked ``stack`` need the local stack: `make test` starts it, and a
service that does not answer fails the test loudly (it never skips)."""

from __future__ import annotations

import uuid

import pytest

from labs.stack import manager


@pytest.fixture(scope="session")
def stack():
    """The stack's status rows; fails (not skips) when a service is down."""
    rows = manager.status()
    down = [f"{r.name} ({r.state})" for r in rows if r.state not in ("up", "external")]
    if down:
        pytest.fail(f"stack services not answering: {', '.join(down)}. Start them with `labs stack up` "
                    f"(make test does this), then look at `labs stack status`.")
    return {r.name: r for r in rows}


@pytest.fixture
def unique():
    """A short unique suffix for topic, table and connector names."""
    return uuid.uuid4().hex[:10]
