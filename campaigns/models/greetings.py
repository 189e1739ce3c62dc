"""Birthday and registration-anniversary greetings (生日 / 注册纪念日).

Which coupon each kind hands out, and whether it is on, is a GiftRule with trigger BIRTHDAY or
ANNIVERSARY (the newest active one in its window). A Greeting is one member's greeting of one
kind in one year: unique, so the 09:00 job can run any number of times and still give one
coupon and one poster per member per year.
"""

from __future__ import annotations

from django.db import models

from core.media import private_storage


class GreetingKind(models.TextChoices):
    BIRTHDAY = "birthday", "生日"
    ANNIVERSARY = "anniversary", "注册纪念日"


class Greeting(models.Model):
    member = models.ForeignKey("members.Member", verbose_name="会员", on_delete=models.PROTECT,
                               related_name="greetings")
    kind = models.CharField("类型", max_length=16, choices=GreetingKind.choices)
    year = models.PositiveSmallIntegerField("年份")
    day = models.DateField("日期")
    # Anniversaries: how many years since registration (0 for birthdays).
    years = models.PositiveSmallIntegerField("周年", default=0)
    coupon = models.ForeignKey("campaigns.Coupon", verbose_name="赠送优惠券", null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    # Why no coupon came with the greeting (no active rule, the tier has no birthday gift, the
    # coupon's own rules): a code, shown in Chinese in the console.
    skip_reason = models.CharField("未赠券原因", max_length=40, blank=True, default="")
    poster = models.FileField("海报", upload_to="greetings/%Y/%m/", storage=private_storage, blank=True, default="",
                              max_length=200)
    poster_error = models.CharField("海报生成失败原因", max_length=200, blank=True, default="")
    poster_at = models.DateTimeField("海报生成时间", null=True, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "生日/纪念日祝福"
        verbose_name_plural = "生日/纪念日祝福"
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["member", "kind", "year"], name="greeting_once_a_year")]
        indexes = [models.Index(fields=["day", "kind"], name="greeting_by_day")]

    def __str__(self) -> str:
        return f"{self.year} {self.get_kind_display()}"
