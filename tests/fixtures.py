"""Shared fixtures. Factories live in tests/factories.py."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from members.models import Member
from members.services.identity import _token_issue
from tests.factories import AddressFactory, MemberFactory


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@dataclass
class Shopper:
    member: Member
    token: str
    client: APIClient


def make_shopper(**member_fields) -> Shopper:
    """A member with a bearer token and a default address, and an API client using the token.

    The token is issued the way login issues it; login itself is tested against the sandbox.
    """
    from django.utils import timezone

    member = MemberFactory.create(**member_fields)
    AddressFactory.create(member=member)
    token, _ = _token_issue(member=member, now=timezone.now())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return Shopper(member=member, token=token, client=client)


@pytest.fixture
def shopper(db) -> Shopper:
    return make_shopper()


@pytest.fixture
def other_shopper(db) -> Shopper:
    return make_shopper()


@pytest.fixture(scope="session")
def wechat_sandbox():
    """One WeChat sandbox for the suite; settings point the WeChat clients at it."""
    from django.conf import settings

    from wechat.sandbox.testing import sandbox_for_settings

    with sandbox_for_settings(settings) as server:
        yield server


@pytest.fixture
def sandbox(wechat_sandbox):
    """Control of the sandbox (the phone and WeChat's side), reset for each test."""
    from wechat.sandbox.client import SandboxControl

    control = SandboxControl(wechat_sandbox.base_url)
    control.reset()
    return control


@pytest.fixture
def mall(live_server, settings, sandbox):
    """The mall served over HTTP, with WeChat notifications addressed to it."""
    settings.SITE_URL = live_server.url
    return live_server
