"""Fixtures for the screen tests: the referral test process and an organisation."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest

import workflows
from tests.views import support


@pytest.fixture
def referral_process() -> Iterator[str]:
    """Register the `referral_test` process's lanes and forms for one test."""
    workflows.register(support.PROCESS, support.Referral)
    yield support.PROCESS
    workflows.unregister(support.PROCESS)


@pytest.fixture
def world(app, referral_process) -> SimpleNamespace:
    """The test organisation with one open referral case of student1 (counselor1's class)."""
    people = support.world()
    people.case = support.open_case(people.student1, counselor_id=people.counselor1.id)
    return people
