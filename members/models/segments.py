"""Tags (标签, set by operators) and segments (人群): named sets of members.

A segment's members are materialised in `SegmentMember` when it is evaluated (nightly, or on
demand), so campaigns can target it with a plain join and the preview count is the count a job
later targets.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Tag(models.Model):
    name = models.CharField("标签名", max_length=32, unique=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "会员标签"
        verbose_name_plural = "会员标签"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MemberTag(models.Model):
    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.CASCADE,
                               related_name="member_tags")
    tag = models.ForeignKey(Tag, verbose_name="标签", on_delete=models.CASCADE, related_name="member_tags")
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="操作人", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField("打标时间", auto_now_add=True)

    class Meta:
        verbose_name = "会员标签关系"
        verbose_name_plural = "会员标签关系"
        constraints = [models.UniqueConstraint(fields=["tag", "member"], name="member_tag_once")]


class Segment(models.Model):
    """A rule-based set of members. `rules` is evaluated by members.segments (members issue)."""

    name = models.CharField("人群名称", max_length=64, unique=True)
    description = models.CharField("说明", max_length=200, blank=True, default="")
    rules = models.JSONField("规则", default=dict, blank=True)
    member_count = models.PositiveIntegerField("人数", default=0, editable=False)
    evaluated_at = models.DateTimeField("最近计算", null=True, blank=True, editable=False)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "会员人群"
        verbose_name_plural = "会员人群"
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.name


class SegmentMember(models.Model):
    """A member in a segment as of its last evaluation."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = "人群成员"
        verbose_name_plural = "人群成员"
        constraints = [models.UniqueConstraint(fields=["segment", "member"], name="segment_member_once")]
