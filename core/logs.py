"""Log records that say what matters once: a client's mistake is a line, not a stack trace."""

from __future__ import annotations

import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """Drop the traceback from records about 4xx responses (`django.request`, `django.server`).

    Django logs a PermissionDenied or a SuspiciousOperation with the exception attached, so a
    plain 403 printed a full traceback. A 4xx is the request's fault and its one line (method,
    path, status) is all an operator needs; 5xx records keep their traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
