"""The demo operator gets a password generated once and kept under var/."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.test import RequestFactory

pytestmark = pytest.mark.django_db


def test_creates_a_superuser_whose_password_is_stored_once(settings, tmp_path):
    settings.VAR_DIR = tmp_path

    call_command("ensure_demo_operator", verbosity=0)
    password = (tmp_path / "demo_operator_password").read_text().strip()
    call_command("ensure_demo_operator", verbosity=0)

    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser and user.is_staff
    assert (tmp_path / "demo_operator_password").read_text().strip() == password
    # django-axes' backend needs the request (the lockout is per address too).
    assert authenticate(RequestFactory().post("/admin/login/"), username="admin", password=password) == user
    assert (tmp_path / "demo_operator_password").stat().st_mode & 0o777 == 0o600
