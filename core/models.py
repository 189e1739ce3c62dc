"""core's one table: the rate-limit counters when no Redis is configured (core.ratelimit)."""

from __future__ import annotations

from django.db import models


class RateLimitCounter(models.Model):
    """Hits of one subject (a member, a client address) on one limit in one fixed time window.

    Written only by core.ratelimit's atomic upsert; rows past `expires_at` are purged by a job.
    """

    key = models.CharField("键", max_length=200)
    window = models.BigIntegerField("时间窗")
    hits = models.PositiveIntegerField("次数", default=0)
    expires_at = models.DateTimeField("过期时间", db_index=True)

    class Meta:
        verbose_name = verbose_name_plural = "频率限制计数"
        constraints = [models.UniqueConstraint(fields=["key", "window"], name="ratelimit_counter_key_window")]

    def __str__(self) -> str:
        return f"{self.key}@{self.window}: {self.hits}"
