"""A member's recent searches (最近搜索), shown under the search box and cleared by the member."""

from __future__ import annotations

from django.db import models


class RecentSearch(models.Model):
    """One query a member searched, once per query: searching it again moves it to the top."""

    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.CASCADE,
                               related_name="recent_searches")
    query = models.CharField("搜索词", max_length=64)
    searched_at = models.DateTimeField("搜索时间")

    class Meta:
        verbose_name = "最近搜索"
        verbose_name_plural = "最近搜索"
        ordering = ["-searched_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["member", "query"], name="recent_search_once_per_query")]
        indexes = [models.Index(fields=["member", "-searched_at"], name="recent_search_member_latest")]

    def __str__(self) -> str:
        return self.query
