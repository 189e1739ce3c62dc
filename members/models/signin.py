"""Sign-in (签到): once per member per Shanghai day, a streak, and the operators' reward table."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class SignIn(models.Model):
    """A member signed in on `day` (the Shanghai calendar day). The database, not a check in
    code, keeps it to one row per member per day: a double tap's second insert fails."""

    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.PROTECT,
                               related_name="signins")
    day = models.DateField("签到日期")
    streak = models.PositiveIntegerField("连续天数")
    points = models.PositiveIntegerField("奖励积分", default=0)
    growth = models.PositiveIntegerField("奖励成长值", default=0)
    created_at = models.DateTimeField("签到时间", auto_now_add=True)

    class Meta:
        verbose_name = "签到记录"
        verbose_name_plural = "签到记录"
        ordering = ["-day", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["member", "day"], name="signin_once_per_member_day"),
            models.CheckConstraint(condition=Q(streak__gte=1), name="signin_streak_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} 第{self.streak}天"


class SignInReward(models.Model):
    """What the n-th consecutive day of signing in gives. Past the last row, the last row repeats."""

    streak_day = models.PositiveSmallIntegerField("连续第几天", unique=True)
    points = models.PositiveIntegerField("奖励积分", default=0)
    growth = models.PositiveIntegerField("奖励成长值", null=True, blank=True,
                                         help_text="留空则使用成长值规则中的“每次签到”")

    class Meta:
        verbose_name = "签到奖励"
        verbose_name_plural = "签到奖励"
        ordering = ["streak_day"]
        constraints = [models.CheckConstraint(condition=Q(streak_day__gte=1), name="signin_reward_day_positive")]

    def __str__(self) -> str:
        return f"连续第{self.streak_day}天"
