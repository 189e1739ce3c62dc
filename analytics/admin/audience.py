"""The 数据 section's pages about who the members are and where they came from: 用户画像 (profiles,
with the province map) and 渠道效果 (channel codes and partner code batches). Each builds a Report
(analytics.admin.reports) from analytics.selectors.members; the URLs hang off the daily KPI page's
admin (its view permission shows them)."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest

from analytics.admin.reports import (
    Report,
    Table,
    china_map_chart,
    date_range,
    line_chart,
    pie_chart,
)
from analytics.selectors.members import channel_effect, code_batch_effect, member_profiles
from core.money import yuan
from core.regions import PROVINCES


def profiles_report(request: HttpRequest) -> tuple[Report, None]:
    found = member_profiles()
    on_map = {name: n for name, n in found.province if name in PROVINCES}
    off_map = sum(n for name, n in found.province if name not in PROVINCES and name != "未填写")
    report = Report(title="用户画像", note=(
        f"共 {found.members} 位会员（不含已注销）。性别、生日、地区为会员自己填写，未填写地区的取其默认收货地址；"
        "获客渠道为其第一次进入小程序的入口；平台为最近一次使用的设备。"))
    cities = [(name, n) for name, n in found.city if name != "未填写"][:10]
    report.charts = [
        china_map_chart("province", "会员地域分布（省份）", on_map),
        pie_chart("gender", "性别", found.gender), pie_chart("age", "年龄段", found.age),
        pie_chart("tier", "会员等级", found.tier), pie_chart("acquisition", "获客渠道", found.acquisition),
        pie_chart("platform", "平台", found.platform),
        line_chart("city", "城市（前 10）", [name for name, _ in cities], {"人数": [n for _, n in cities]}, bar=True),
    ]
    report.charts[-1].option["xAxis"]["axisLabel"] = {"interval": 0}  # every city named
    province_note = "省份按简称合并（“广东省”“广东”“Guangdong”计为广东）。"
    if off_map:
        province_note += f"另有 {off_map} 位会员填写的省份无法对应到地图，仍列在表中。"
    report.tables = [Table(key, title, [title, "人数"], [[k, v] for k, v in items],
                           note=province_note if key == "province" else "")
                     for key, title, items in (
        ("province", "省份", found.province), ("city", "城市（前 20）", found.city), ("gender", "性别", found.gender),
        ("age", "年龄段", found.age), ("tier", "会员等级", found.tier), ("acquisition", "获客渠道", found.acquisition),
        ("platform", "平台", found.platform))]
    return report, None


def _ratio(value: float | None) -> float | str:
    return value if value is not None else "—"


def channels_report(request: HttpRequest) -> tuple[Report, forms.Form]:
    form, first, last = date_range(request, days=30)
    channels = channel_effect(first=first, last=last)
    batches = code_batch_effect(first=first, last=last)
    report = Report(title="渠道效果", note=(
        "渠道码：访问人数、新访客、订单与净销售额来自每日指标中以该渠道码进入的访客；新会员为扫码当天注册的扫码会员。"
        "兑换码批次：兑换码在登录后输入，不带入口渠道，故按兑换会员归因——订单与净销售额为兑换会员自其在时段内首次兑换起"
        "至时段结束所下的订单（已付金额减已退款）；新会员为兑换当天注册的兑换会员；同一会员兑换两个批次的码时两个批次都计入。"
        "券成本为该渠道或批次发出的券在时段内被使用时的抵扣金额；投入产出比 = 净销售额 ÷ 券成本。"))
    report.charts = [
        line_chart("channels", "各渠道码扫码与访问人数", [c.name for c in channels[:15]],
                   {"扫码": [c.scans for c in channels[:15]], "访问人数": [c.visitors for c in channels[:15]]},
                   bar=True),
        line_chart("batches", "各兑换码批次兑换与订单", [b.name for b in batches[:15]],
                   {"兑换次数": [b.redemptions for b in batches[:15]], "订单数": [b.orders for b in batches[:15]]},
                   bar=True),
    ]
    report.tables = [
        Table("channels", "渠道码效果", ["渠道", "场景值", "扫码次数", "访问人数", "新访客", "新会员", "订单数",
                                         "净销售额(元)", "券成本(元)", "投入产出比"],
              [[c.name, c.scene, c.scans, c.visitors, c.new_visitors, c.new_members, c.orders, yuan(c.net_fen),
                yuan(c.coupon_cost_fen), _ratio(c.return_on_cost)] for c in channels]),
        Table("batches", "兑换码批次效果（异业合作）", ["批次", "合作方", "码数", "兑换次数", "兑换人数", "新会员",
                                                      "订单数", "净销售额(元)", "券成本(元)", "投入产出比"],
              [[b.name, b.partner or "—", b.codes, b.redemptions, b.redeemers, b.new_members, b.orders,
                yuan(b.net_fen), yuan(b.coupon_cost_fen), _ratio(b.return_on_cost)] for b in batches],
              note="兑换次数相当于渠道码的扫码次数，兑换人数相当于访问人数。"),
    ]
    return report, form
