"""Where analytics' tables live: the default database, or a PostgreSQL of their own.

With `ANALYTICS_DATABASE_URL` set, the `analytics` database alias holds the event table, its
buffer, the device map and the rollups (docs/analytics.md). Every analytics read and write goes
there through AnalyticsRouter, and analytics' raw SQL runs on `analytics_db()`. EventLoss stays in
the default database: it counts what could not be written when the analytics database was down.

With `REPORTS_DATABASE_URL` set (a read replica of the default database), the rollups read the
shop's orders and refunds from it (`reports_db()`), keeping report queries off the primary.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, models

ANALYTICS_ALIAS = "analytics"
REPORTS_ALIAS = "reports"
# Analytics models that stay in the default database whatever the settings.
IN_DEFAULT = frozenset({"eventloss"})


def analytics_db() -> str:
    """The database alias analytics' own tables are in."""
    return ANALYTICS_ALIAS if ANALYTICS_ALIAS in settings.DATABASES else DEFAULT_DB_ALIAS


def reports_db() -> str:
    """The database alias other apps' rows are read from for reports (a replica, or the default)."""
    return REPORTS_ALIAS if REPORTS_ALIAS in settings.DATABASES else DEFAULT_DB_ALIAS


def _owned(app_label: str, model_name: str | None) -> bool:
    return app_label == "analytics" and (model_name or "").lower() not in IN_DEFAULT


class AnalyticsRouter:
    """Sends analytics' models to analytics_db(); everything else is left to the default."""

    def db_for_read(self, model: type[models.Model], **hints: Any) -> str | None:
        return analytics_db() if _owned(model._meta.app_label, model._meta.model_name) else None

    def db_for_write(self, model: type[models.Model], **hints: Any) -> str | None:
        return self.db_for_read(model, **hints)

    def allow_relation(self, obj1: models.Model, obj2: models.Model, **hints: Any) -> bool | None:
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        if db == REPORTS_ALIAS:
            return False  # a replica follows the primary
        if ANALYTICS_ALIAS not in settings.DATABASES:
            return None
        if _owned(app_label, model_name):
            return db == ANALYTICS_ALIAS
        return db != ANALYTICS_ALIAS
