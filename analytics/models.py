"""Analytics' tables: the events, the buffer they arrive through, who a device is, and the rollups.

The event table is partitioned by month on `occurred_at` (PostgreSQL declarative partitioning,
made by migration 0002's SQL; analytics.services.storage creates partitions ahead and drops old
ones). Django sees it as an ordinary table keyed by `id`; the database's key is (id, occurred_at),
as a partitioned table's unique keys must hold its partition key. So the database cannot keep
`event_id` unique across partitions: the flush (analytics.services.storage.events_flush) does,
one flusher at a time, skipping ids already stored.
"""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone


class EventSource(models.TextChoices):
    CLIENT = "client", "小程序上报"  # POST /api/v1/events
    SERVER = "server", "服务端"  # core.tracking.track() in a service


class Event(models.Model):
    event_id = models.UUIDField("事件ID", default=uuid.uuid4, db_index=True)
    name = models.CharField("事件", max_length=64)
    member_id = models.BigIntegerField("会员ID", null=True, blank=True)
    # The anonymous id the mini-program generates and keeps (its device id); "" for server events.
    anonymous_id = models.CharField("匿名ID", max_length=64, blank=True, default="")
    properties = models.JSONField("属性", default=dict, blank=True)
    # The client's time clamped to the receive time (a clock ahead never puts an event in the future).
    occurred_at = models.DateTimeField("发生时间", db_index=True)
    received_at = models.DateTimeField("接收时间", default=timezone.now)
    client_time = models.DateTimeField("客户端时间", null=True, blank=True)
    source = models.CharField("来源", max_length=8, choices=EventSource.choices, default=EventSource.SERVER)
    platform = models.CharField("平台", max_length=16, blank=True, default="")
    # Platform facts of the sending device: os_version, model, wechat_version, network, ...
    context = models.JSONField("设备信息", default=dict, blank=True)

    class Meta:
        verbose_name = "事件"
        verbose_name_plural = "事件"
        ordering = ["-occurred_at"]
        indexes = [
            # Carries who did it, so a funnel's steps without property filters read the index alone.
            models.Index(fields=["name", "occurred_at"], include=["member_id", "anonymous_id", "id"],
                         name="analytics_event_name_who_idx"),
            models.Index(fields=["member_id", "occurred_at"], name="analytics_e_member__725168_idx"),
            models.Index(fields=["anonymous_id", "occurred_at"], name="analytics_event_device_idx"),
            models.Index(fields=["received_at"], name="analytics_event_received_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class EventBuffer(models.Model):
    """Events accepted but not yet flushed into Event: the request path COPYs rows here and a worker
    moves them (events_flush). Same columns as Event; duplicates are allowed here, not there."""

    event_id = models.UUIDField()
    name = models.CharField(max_length=64)
    member_id = models.BigIntegerField(null=True)
    anonymous_id = models.CharField(max_length=64, default="")
    properties = models.JSONField(default=dict)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    client_time = models.DateTimeField(null=True)
    source = models.CharField(max_length=8, choices=EventSource.choices)
    platform = models.CharField(max_length=16, default="")
    context = models.JSONField(default=dict)

    class Meta:
        verbose_name = "待入库事件"
        verbose_name_plural = "待入库事件"


class DeviceMember(models.Model):
    """A device (anonymous id) and the member who first logged in on it: the device's events from
    before the login count as that member's (queries resolve the person through this table)."""

    anonymous_id = models.CharField("匿名ID", max_length=64, primary_key=True)
    member_id = models.BigIntegerField("会员ID", db_index=True)
    linked_at = models.DateTimeField("关联时间", default=timezone.now)

    class Meta:
        verbose_name = "设备与会员"
        verbose_name_plural = "设备与会员"


class EventLoss(models.Model):
    """Events that could not be recorded (the analytics database down, a bad value), counted per
    Shanghai day and event name. Always in the default database, so it counts when analytics' is down."""

    day = models.DateField("日期")
    name = models.CharField("事件", max_length=64)
    lost = models.BigIntegerField("丢失数", default=0)

    class Meta:
        verbose_name = "丢失事件"
        verbose_name_plural = "丢失事件"
        constraints = [models.UniqueConstraint(fields=["day", "name"], name="analytics_eventloss_day_name")]


class DailyKpi(models.Model):
    """One Shanghai day's figures for one entry channel and one kind of visitor (new / returning).

    A person's day belongs to one cell: the channel of their first visit that day, and new when that
    day is their first day seen. So every figure, people counts included, adds up across cells.
    Written by analytics.services.rollups.kpi_rollup, which replaces a day's rows whole.
    """

    day = models.DateField("日期")
    channel = models.CharField("渠道", max_length=64)
    is_new = models.BooleanField("新访客")
    visits = models.IntegerField("打开次数", default=0)
    page_views = models.IntegerField("访问次数", default=0)
    visitors = models.IntegerField("访问人数", default=0)
    new_visitors = models.IntegerField("新访问人数", default=0)
    stay_seconds = models.BigIntegerField("停留总时长(秒)", default=0)
    bounces = models.IntegerField("跳出次数", default=0)
    shares = models.IntegerField("分享次数", default=0)
    sharers = models.IntegerField("分享人数", default=0)
    ordering_members = models.IntegerField("下单人数", default=0)
    orders = models.IntegerField("下单数", default=0)
    paying_members = models.IntegerField("支付人数", default=0)
    paid_orders = models.IntegerField("支付订单数", default=0)
    paid_fen = models.BigIntegerField("支付金额(分)", default=0)
    refunded_fen = models.BigIntegerField("退款金额(分)", default=0)
    paying_visitors = models.IntegerField("访问且支付人数", default=0)
    computed_at = models.DateTimeField("计算时间", default=timezone.now)

    class Meta:
        verbose_name = "每日指标"
        verbose_name_plural = "每日指标"
        ordering = ["-day", "channel", "is_new"]
        constraints = [models.UniqueConstraint(fields=["day", "channel", "is_new"], name="analytics_dailykpi_cell")]

    def __str__(self) -> str:
        return f"{self.day} {self.channel}"


class ActiveDay(models.Model):
    """Who was active on a Shanghai day, as the events name them (member and device, unresolved, so
    a device linked to a member later still counts as that member): one row per (member, device)
    seen that day with a mini-program event or a paid order, with that pair's first entry event of
    the day (time, id, and the channel it names; UNKNOWN when it names none; none when the pair had
    no entry event). Written by the KPI rollup with the day's DailyKpi rows
    (analytics.services.rollups.active_days_rollup, from analytics.activity.active_days_sql); retention
    reads it for the days rolled up, the events for the rest."""

    day = models.DateField("日期")
    member_id = models.BigIntegerField("会员ID", null=True, blank=True)
    anonymous_id = models.CharField("匿名ID", max_length=64, blank=True, default="")
    visited = models.BooleanField("访问", default=False)
    purchased = models.BooleanField("支付", default=False)
    entry_at = models.DateTimeField("首个入口事件时间", null=True, blank=True)
    entry_id = models.BigIntegerField("首个入口事件ID", null=True, blank=True)
    channel = models.CharField("入口渠道", max_length=64, blank=True, default="")

    class Meta:
        verbose_name = "活跃记录"
        verbose_name_plural = "活跃记录"
        indexes = [
            models.Index(fields=["day"], name="analytics_activeday_day_idx"),
            # "Seen before the range": one index-only probe per cohort person, by member, or by the
            # member-less rows of a device (its own, or a linked one's).
            models.Index(fields=["member_id", "day"], include=["visited", "purchased"],
                         condition=models.Q(member_id__isnull=False), name="analytics_activeday_member_idx"),
            models.Index(fields=["anonymous_id", "day"], include=["visited", "purchased"],
                         condition=models.Q(member_id__isnull=True), name="analytics_activeday_device_idx"),
        ]


class PageDay(models.Model):
    """One Shanghai day's figures for one page (page_view path): its views, the visits entering on it
    and the visits leaving on it. Visits are cut at midnight (analytics.selectors.paths), so days
    add up. Written with the day's KPIs (analytics.services.rollups.page_paths_rollup), replaced whole."""

    day = models.DateField("日期")
    path = models.TextField("页面")
    views = models.IntegerField("浏览次数", default=0)
    entries = models.IntegerField("入口次数", default=0)
    exits = models.IntegerField("退出次数", default=0)

    class Meta:
        verbose_name = "每日页面"
        verbose_name_plural = "每日页面"
        constraints = [models.UniqueConstraint(fields=["day", "path"], name="analytics_pageday_day_path")]


class PageLinkDay(models.Model):
    """One Shanghai day's paths after a page: of the visits that viewed `after`, counted from their
    first view of it (step 0), how many went from `source` at `step` to `target` next, NULL where
    the visit ended there. Steps 0..analytics.selectors.paths.MAX_DEPTH. Written with PageDay."""

    day = models.DateField("日期")
    after = models.TextField("起始页面")
    step = models.PositiveSmallIntegerField("步数")
    source = models.TextField("页面")
    target = models.TextField("下一页面", null=True, blank=True)
    visits = models.IntegerField("访问次数", default=0)

    class Meta:
        verbose_name = "每日页面路径"
        verbose_name_plural = "每日页面路径"
        indexes = [models.Index(fields=["day", "after", "step"], name="analytics_pagelinkday_day_idx")]


class RollupRun(models.Model):
    """When a rollup last ran for a day: events received after it make the day due again."""

    kind = models.CharField("汇总", max_length=32)
    day = models.DateField("日期")
    ran_at = models.DateTimeField("计算时间")

    class Meta:
        verbose_name = "汇总记录"
        verbose_name_plural = "汇总记录"
        constraints = [models.UniqueConstraint(fields=["kind", "day"], name="analytics_rolluprun_kind_day")]


class Funnel(models.Model):
    """A conversion funnel operators define: ordered steps, each an event with property filters,
    and the window in which a person must go from the first step to the last.

    `steps` is a list of {"event": name, "filters": [{"property", "op", "value"}]} as
    analytics.funnels.steps_parse makes it from the console's one-line-per-step text.
    """

    name = models.CharField("漏斗名称", max_length=64, unique=True)
    steps = models.JSONField("步骤", default=list)
    window_hours = models.PositiveIntegerField("转化窗口（小时）", default=24)
    description = models.CharField("说明", max_length=200, blank=True, default="")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    # Passages kept by the rollup before this are stale (the steps or the window may have changed).
    updated_at = models.DateTimeField("修改时间", auto_now=True)

    class Meta:
        verbose_name = "转化漏斗"
        verbose_name_plural = "转化漏斗"
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.name


class FunnelDay(models.Model):
    """One person's best passage through a funnel among their entries on one Shanghai day: how far
    they got and when (analytics.selectors.funnels.passages_sql). A report over days takes each
    person's best over the days, so the days kept here are never worked out from the events again.

    Written by analytics.services.funnel_rollups.funnel_rollup once the day's window has closed,
    a day's rows replaced whole with its RollupRun (kind "funnel:<id>"). `person` is as resolved
    when the day was kept; reports re-key a device since linked to a member."""

    funnel = models.ForeignKey(Funnel, on_delete=models.CASCADE, related_name="+", verbose_name="漏斗")
    day = models.DateField("进入日期")
    person = models.CharField("访客", max_length=80, db_collation="C")
    reached = models.PositiveSmallIntegerField("到达步骤")
    # Microseconds since the epoch of steps 1..reached.
    times = ArrayField(models.BigIntegerField(), verbose_name="各步时间")
    platform = models.CharField("平台", max_length=16, blank=True, default="")
    channel = models.CharField("进入渠道", max_length=64, blank=True, default="")

    class Meta:
        verbose_name = "漏斗每日进入"
        verbose_name_plural = "漏斗每日进入"
        indexes = [models.Index(fields=["funnel", "day"], name="analytics_funnelday_day_idx")]
