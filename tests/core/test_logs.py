"""A client's mistake logs one short line; a server error keeps its traceback."""

from __future__ import annotations

import logging
import sys
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from core.logs import ClientErrorsWithoutTraceback


def formatted(record: logging.LogRecord) -> str:
    """The record as the console handler of settings.LOGGING writes it."""
    logging_config: dict[str, Any] = settings.LOGGING
    console = logging_config["handlers"]["console"]
    assert "client_errors_without_traceback" in console["filters"]
    ClientErrorsWithoutTraceback().filter(record)
    return logging.Formatter(logging_config["formatters"]["plain"]["format"]).format(record)


@pytest.mark.django_db
def test_a_plain_403_logs_one_line_without_a_traceback(client, caplog):
    operator = get_user_model().objects.create_user("clerk", password="x", is_staff=True)  # no permissions
    client.force_login(operator)

    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/admin/shop/order/")

    assert response.status_code == 403
    [record] = [r for r in caplog.records if r.name == "django.request"]
    line = formatted(record)  # Django attached the PermissionDenied; the console drops it
    assert "Forbidden (Permission denied): /admin/shop/order/" in line
    assert "Traceback" not in line and "\n" not in line


def test_a_server_error_keeps_its_traceback():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal Server Error: %s",
                                   ("/api/v1/x",), exc_info=sys.exc_info())
    record.status_code = 500

    assert "Traceback" in formatted(record)
