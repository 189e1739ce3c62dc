"""Fixtures of the payments tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.payments.payouts import HOOK_CALLS, HookCall


@pytest.fixture
def hooks() -> Iterator[list[HookCall]]:
    """The calls to the test transfer kind's hooks during the test (the live server's threads too)."""
    HOOK_CALLS.clear()
    yield HOOK_CALLS
    HOOK_CALLS.clear()
