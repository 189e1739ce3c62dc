"""What the story tests share: the phone (the mini-program's HTTP calls with our bearer token)
and the console (an operator's browser session, CSRF token and all)."""

from __future__ import annotations

import re
from typing import Any

import requests
from django.contrib.auth import get_user_model


class Phone:
    """The mini-program: a requests session that carries our bearer token."""

    def __init__(self, base: str) -> None:
        self.base = base + "/api/v1"
        self.http = requests.Session()

    def call(self, method: str, path: str, expected: int = 200, **kwargs: Any) -> Any:
        """Call the API; the status must be `expected`. The JSON body, or None when empty."""
        response = self.http.request(method, self.base + path, timeout=30, **kwargs)
        assert response.status_code == expected, (method, path, response.status_code, response.text[:500])
        return response.json() if response.content else None


def csrf_token(html: str) -> str:
    """The CSRF token of the form on a console page."""
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match is not None, "no CSRF token on the page"
    return match.group(1)


def operator_session(base: str, username: str = "ops") -> requests.Session:
    """A console session of a new superuser `username`, logged in through the admin's login form."""
    password = f"a-long-password-{username}"
    get_user_model().objects.create_superuser(username, f"{username}@example.com", password)
    http = requests.Session()
    login_page = http.get(f"{base}/admin/login/", timeout=30)
    response = http.post(f"{base}/admin/login/?next=/admin/", timeout=30, data={
        "csrfmiddlewaretoken": csrf_token(login_page.text), "username": username, "password": password})
    # Logged in: redirected to the console's index, which offers to log out.
    assert (response.status_code, response.url) == (200, f"{base}/admin/"), response.text[:300]
    assert "/admin/logout/" in response.text
    return http


def console_post(ops: requests.Session, url: str, data: dict[str, Any] | None = None) -> requests.Response:
    """Open the console form at `url` and post it with `data`; the page must answer 200."""
    form = ops.get(url, timeout=30)
    assert form.status_code == 200, form.text[:300]
    response = ops.post(url, data={"csrfmiddlewaretoken": csrf_token(form.text), **(data or {})}, timeout=30)
    assert response.status_code == 200, response.text[:300]
    return response
