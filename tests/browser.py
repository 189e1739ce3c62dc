"""The console in a real browser: Debian's Chromium driven by Playwright (never a browser build
Playwright downloads), watched for requests to other hosts, failed responses and script errors."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.urls import reverse
from playwright.sync_api import Page

CHROMIUM = "/usr/bin/chromium"  # Debian's package (scripts/install_browser.sh)


def watch(page: Page, base_url: str) -> tuple[list[str], list[str], list[str]]:
    """Lists that fill as the page works: requests to another host, responses ≥ 400, page errors."""
    server = urlsplit(base_url).netloc
    foreign: list[str] = []
    failed: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: foreign.append(request.url)
            if urlsplit(request.url).scheme in ("http", "https") and urlsplit(request.url).netloc != server
            else None)
    page.on("response", lambda response: failed.append(f"{response.status} {response.url}")
            if response.status >= 400 else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return foreign, failed, errors


def console_login(page: Page, base_url: str, *, username: str = "admin", password: str = "password") -> None:
    """Sign in on the console's login page and wait for its home page."""
    page.goto(f"{base_url}{reverse('admin:login')}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base_url}{reverse('admin:index')}")
