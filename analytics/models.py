"""The event table every later analytics feature reads (funnels, paths, retention...)."""

from __future__ import annotations

import uuid

from django.db import models


class Event(models.Model):
    event_id = models.UUIDField("事件ID", unique=True, default=uuid.uuid4)
    name = models.CharField("事件", max_length=64)
    member_id = models.BigIntegerField("会员ID", null=True, blank=True)
    anonymous_id = models.CharField("匿名ID", max_length=64, blank=True, default="")
    properties = models.JSONField("属性", default=dict, blank=True)
    occurred_at = models.DateTimeField("发生时间", db_index=True)

    class Meta:
        verbose_name = "事件"
        verbose_name_plural = "事件"
        ordering = ["-occurred_at"]
        indexes = [
            models.Index(fields=["name", "occurred_at"]),
            models.Index(fields=["member_id", "occurred_at"]),
        ]

    def __str__(self) -> str:
        return self.name
