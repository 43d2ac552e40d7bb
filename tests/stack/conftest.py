import pytest


@pytest.fixture(autouse=True)
def _needs_stack(stack):
    """Every test in this folder runs against the real stack."""
    return stack
