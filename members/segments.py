"""The segment rule engine: `Segment.rules` (JSON) → one SQL query over members.

Rules are a JSON object with two lists of conditions:

    {"all": [<condition>, …],      every one must hold (AND)
     "any": [<condition>, …]}      if not empty, at least one must hold (OR), ANDed with "all"

An empty rule set matches every member. Deleted (注销) and inactive members never match. Each
condition is an object with a "type" and its parameters (ranges are inclusive; give min, max or
both):

    tier            {"min_level": 2}  or  {"levels": [1, 2]}      Tier.level (普通 0 … 钻石 3);
                                                                 members without a tier are level 0
    points          {"min": 100, "max": 5000}                    points balance
    paid_total      {"min_fen": 10000, "max_fen": 99900}         total paid, fen
    paid_orders     {"min": 1, "max": 10}                        number of paid orders
    last_order      {"min_days": 90}                             no paid order in the last 90 × 24 h
                                                                 (never ordered counts: "more than N")
                    {"max_days": 30}                             a paid order in the last 30 × 24 h
    birthday_month  {"months": [3, 4]}  or  {"this_month": true}  Shanghai calendar; no birthday: no match
    region          {"provinces": ["广东省", "浙江省"]}           the province the member filled in
    gender          {"values": ["female"]}                       male / female / unknown
    tag             {"tag_ids": [3, 5], "negate": false}         has any of these tags (negate: has none)
    category        {"category_ids": [12], "days": 30}           bought from any of these categories in
                                                                 the last N × 24 h (the shop reports
                                                                 category ids, parents included)
    rfm             {"groups": ["important_value", …]}           RFM group, see RFM_GROUPS

RFM: each member is high or low on three axes, by the operator's thresholds (RfmThresholds,
default R: paid within 90 days, F: ≥ 3 paid orders, M: ≥ ¥500 paid); the eight combinations are
the classic groups (重要价值 = R↑F↑M↑ … 一般挽留 = R↓F↓M↓). Never having paid is R↓F↓M↓.

`rules_validate()` normalises a rule set or raises SegmentRulesInvalid (detail names the condition).
`segment_queryset()` compiles it, relative to a moment `now`, into one queryset of members: plain
column comparisons, EXISTS over MemberTag / MemberCategoryPurchase (both indexed on their lookup),
and EXTRACT(MONTH FROM birthday), which the member_birthday_md expression index serves. Preview
and evaluation compile the same way, so a preview counts exactly what an evaluation materialises.

This is a domain read, not a report, so it stays in members rather than analytics: campaigns acts
on its result (coupons limited to segments, 定向发放 to a segment), and it reads members' own rows
only (the paid totals and category purchases shop reports through members' services).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import ExtractMonth
from django.db.models.lookups import In
from django.utils import timezone

from members.errors import SegmentRulesInvalid
from members.models import Gender, Member, MemberCategoryPurchase, MemberTag, RfmThresholds, Tag, Tier

MAX_CONDITIONS = 30
MAX_LIST = 500
MAX_INT = 2**62

# Chinese labels of the condition types (the console's builder, error details).
CONDITION_LABELS: dict[str, str] = {
    "tier": "会员等级",
    "points": "积分余额",
    "paid_total": "累计支付金额",
    "paid_orders": "支付订单数",
    "last_order": "距上次下单天数",
    "birthday_month": "生日月份",
    "region": "地区（省份）",
    "gender": "性别",
    "tag": "标签",
    "category": "近期购买品类",
    "rfm": "RFM 分组",
}

# group → (R high, F high, M high), Chinese name.
RFM_GROUPS: dict[str, tuple[tuple[bool, bool, bool], str]] = {
    "important_value": ((True, True, True), "重要价值客户"),
    "important_develop": ((True, False, True), "重要发展客户"),
    "important_keep": ((False, True, True), "重要保持客户"),
    "important_retain": ((False, False, True), "重要挽留客户"),
    "general_value": ((True, True, False), "一般价值客户"),
    "general_develop": ((True, False, False), "一般发展客户"),
    "general_keep": ((False, True, False), "一般保持客户"),
    "general_retain": ((False, False, False), "一般挽留客户"),
}


# ---------------------------------------------------------------------------------------------
# Validation


def rules_validate(rules: Any) -> dict[str, list[dict[str, Any]]]:
    """The normalised rule set ({"all": [...], "any": [...]}), or SegmentRulesInvalid.

    Unknown types or parameters, wrong value types, empty lists and inverted ranges are refused;
    the error's detail says which condition ("all[2]") and why, in Chinese.
    """
    if rules in (None, {}):
        return {"all": [], "any": []}
    if not isinstance(rules, dict):
        raise SegmentRulesInvalid(detail={"rules": "规则必须是 JSON 对象"})
    unknown = set(rules) - {"all", "any"}
    if unknown:
        raise SegmentRulesInvalid(detail={"rules": f"未知的键：{'、'.join(sorted(unknown))}"})
    normalised: dict[str, list[dict[str, Any]]] = {}
    total = 0
    for group in ("all", "any"):
        items = rules.get(group) or []
        if not isinstance(items, list):
            raise SegmentRulesInvalid(detail={group: "必须是条件列表"})
        total += len(items)
        normalised[group] = [_condition_validate(item, f"{group}[{i}]") for i, item in enumerate(items)]
    if total > MAX_CONDITIONS:
        raise SegmentRulesInvalid(detail={"rules": f"条件最多 {MAX_CONDITIONS} 个"})
    return normalised


def _condition_validate(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        raise SegmentRulesInvalid(detail={where: "条件必须是带 type 的对象"})
    kind = item["type"]
    spec = _SPECS.get(kind)
    if spec is None:
        raise SegmentRulesInvalid(detail={where: f"未知的条件类型：{kind}"})
    params = {k: v for k, v in item.items() if k != "type"}
    unknown = set(params) - set(spec.params)
    if unknown:
        raise SegmentRulesInvalid(detail={where: f"{CONDITION_LABELS[kind]}：未知的参数 {'、'.join(sorted(unknown))}"})
    try:
        cleaned = {name: spec.params[name](value) for name, value in params.items() if value is not None}
        spec.check(cleaned)
    except (TypeError, ValueError) as exc:
        raise SegmentRulesInvalid(detail={where: f"{CONDITION_LABELS[kind]}：{exc}"}) from None
    return {"type": kind, **cleaned}


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("数值必须是整数")
    if not 0 <= value <= MAX_INT:
        raise ValueError("数值超出范围")
    return value


def _int_list(low: int, high: int) -> Callable[[Any], list[int]]:
    def clean(value: Any) -> list[int]:
        if not isinstance(value, list) or not value or len(value) > MAX_LIST:
            raise ValueError(f"需要 1–{MAX_LIST} 个取值")
        items = [_int(v) for v in value]
        if any(not low <= v <= high for v in items):
            raise ValueError(f"取值须在 {low}–{high} 之间")
        return sorted(set(items))

    return clean


def _str_list(allowed: set[str] | None = None, max_length: int = 32) -> Callable[[Any], list[str]]:
    def clean(value: Any) -> list[str]:
        if not isinstance(value, list) or not value or len(value) > MAX_LIST:
            raise ValueError(f"需要 1–{MAX_LIST} 个取值")
        if any(not isinstance(v, str) or not v.strip() or len(v) > max_length for v in value):
            raise ValueError("取值必须是非空文字")
        items = sorted({v.strip() for v in value})
        if allowed is not None and set(items) - allowed:
            raise ValueError(f"未知的取值：{'、'.join(sorted(set(items) - allowed))}")
        return items

    return clean


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("必须是 true 或 false")
    return value


def _range(low: str, high: str) -> Callable[[dict[str, Any]], None]:
    def check(params: dict[str, Any]) -> None:
        if low not in params and high not in params:
            raise ValueError("至少填写一端的范围")
        if low in params and high in params and params[low] > params[high]:
            raise ValueError("下限不能大于上限")

    return check


def _one_of(*groups: tuple[str, ...]) -> Callable[[dict[str, Any]], None]:
    def check(params: dict[str, Any]) -> None:
        present = [g for g in groups if any(name in params for name in g)]
        if len(present) != 1:
            raise ValueError("参数组合有误")

    return check


def _requires(*names: str) -> Callable[[dict[str, Any]], None]:
    def check(params: dict[str, Any]) -> None:
        missing = [n for n in names if n not in params]
        if missing:
            raise ValueError(f"缺少参数 {'、'.join(missing)}")

    return check


def _this_month_only(params: dict[str, Any]) -> None:
    _one_of(("months",), ("this_month",))(params)
    if params.get("this_month") is False:
        raise ValueError("this_month 只能为 true")


class _Spec:
    def __init__(self, params: dict[str, Callable[[Any], Any]], check: Callable[[dict[str, Any]], None]) -> None:
        self.params = params
        self.check = check


_SPECS: dict[str, _Spec] = {
    "tier": _Spec({"min_level": _int, "levels": _int_list(0, 1000)}, _one_of(("min_level",), ("levels",))),
    "points": _Spec({"min": _int, "max": _int}, _range("min", "max")),
    "paid_total": _Spec({"min_fen": _int, "max_fen": _int}, _range("min_fen", "max_fen")),
    "paid_orders": _Spec({"min": _int, "max": _int}, _range("min", "max")),
    "last_order": _Spec({"min_days": _int, "max_days": _int}, _range("max_days", "min_days")),
    "birthday_month": _Spec({"months": _int_list(1, 12), "this_month": _bool}, _this_month_only),
    "region": _Spec({"provinces": _str_list()}, _requires("provinces")),
    "gender": _Spec({"values": _str_list(set(Gender.values))}, _requires("values")),
    "tag": _Spec({"tag_ids": _int_list(1, MAX_INT), "negate": _bool}, _requires("tag_ids")),
    "category": _Spec({"category_ids": _int_list(1, MAX_INT), "days": _int}, _requires("category_ids", "days")),
    "rfm": _Spec({"groups": _str_list(set(RFM_GROUPS))}, _requires("groups")),
}


# ---------------------------------------------------------------------------------------------
# Compilation


def eligible_members() -> QuerySet[Member]:
    """Members a segment may contain: active and not deleted."""
    return Member.objects.filter(is_active=True, deleted_at__isnull=True)


def segment_queryset(*, rules: Any, now: dt.datetime | None = None) -> QuerySet[Member]:
    """The members the rules select at `now` (default: now), as one unevaluated queryset.

    Validates first (SegmentRulesInvalid). Reads RfmThresholds once when an rfm condition is present.
    """
    normalised = rules_validate(rules)
    now = now or timezone.now()
    context = _Context(now)
    queryset = eligible_members()
    for condition in normalised["all"]:
        queryset = queryset.filter(_compile(condition, context))
    if normalised["any"]:
        either = Q()
        for condition in normalised["any"]:
            either |= _compile(condition, context)
        queryset = queryset.filter(either)
    return queryset.order_by()


class _Context:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self._rfm: RfmThresholds | None = None

    @property
    def rfm(self) -> RfmThresholds:
        if self._rfm is None:
            self._rfm = rfm_thresholds()
        return self._rfm


def rfm_thresholds() -> RfmThresholds:
    """The operator's RFM thresholds (the defaults until an operator saves them)."""
    return RfmThresholds.objects.filter(pk=1).first() or RfmThresholds(pk=1)


def _between(field: str, params: dict[str, Any], low: str, high: str) -> Q:
    q = Q()
    if low in params:
        q &= Q(**{f"{field}__gte": params[low]})
    if high in params:
        q &= Q(**{f"{field}__lte": params[high]})
    return q


def _compile(condition: dict[str, Any], context: _Context) -> Q:
    kind = condition["type"]
    now = context.now
    if kind == "tier":
        if "levels" in condition:
            q = Q(tier__level__in=condition["levels"])
            return q | Q(tier__isnull=True) if 0 in condition["levels"] else q
        if condition["min_level"] <= 0:
            return Q()
        return Q(tier__level__gte=condition["min_level"])
    if kind == "points":
        return _between("points_balance", condition, "min", "max")
    if kind == "paid_total":
        return _between("paid_total_fen", condition, "min_fen", "max_fen")
    if kind == "paid_orders":
        return _between("paid_order_count", condition, "min", "max")
    if kind == "last_order":
        q = Q()
        if "min_days" in condition:
            cutoff = now - dt.timedelta(days=condition["min_days"])
            q &= Q(last_paid_at__isnull=True) | Q(last_paid_at__lt=cutoff)
        if "max_days" in condition:
            q &= Q(last_paid_at__gte=now - dt.timedelta(days=condition["max_days"]))
        return q
    if kind == "birthday_month":
        months = [timezone.localtime(now).month] if condition.get("this_month") else condition["months"]
        # EXTRACT(MONTH FROM birthday): the member_birthday_md index's first column. NULL never matches.
        return Q(In(ExtractMonth("birthday"), months))
    if kind == "region":
        return Q(province__in=condition["provinces"])
    if kind == "gender":
        return Q(gender__in=condition["values"])
    if kind == "tag":
        has = Exists(MemberTag.objects.filter(member_id=OuterRef("pk"), tag_id__in=condition["tag_ids"]))
        return ~Q(has) if condition.get("negate") else Q(has)
    if kind == "category":
        since = now - dt.timedelta(days=condition["days"])
        return Q(Exists(MemberCategoryPurchase.objects.filter(
            member_id=OuterRef("pk"), category_id__in=condition["category_ids"], last_bought_at__gte=since)))
    if kind == "rfm":
        return _rfm_q(condition["groups"], context)
    raise SegmentRulesInvalid(detail={"type": kind})  # unreachable: validated


def _rfm_q(groups: list[str], context: _Context) -> Q:
    thresholds = context.rfm
    recent = Q(last_paid_at__gte=context.now - dt.timedelta(days=thresholds.recent_days))
    frequent = Q(paid_order_count__gte=thresholds.frequent_orders)
    monetary = Q(paid_total_fen__gte=thresholds.monetary_fen)
    q = Q(pk__in=[])
    for group in groups:
        (r, f, m), _ = RFM_GROUPS[group]
        # last_paid_at may be NULL (never paid): ~recent must then hold, so spell "not recent" out.
        not_recent = Q(last_paid_at__isnull=True) | Q(
            last_paid_at__lt=context.now - dt.timedelta(days=thresholds.recent_days))
        q |= (recent if r else not_recent) & (frequent if f else ~frequent) & (monetary if m else ~monetary)
    return q


def rfm_group_of(*, member: Member, now: dt.datetime | None = None,
                 thresholds: RfmThresholds | None = None) -> str:
    """The RFM group code of one member (the console's member page)."""
    now = now or timezone.now()
    thresholds = thresholds or rfm_thresholds()
    r = member.last_paid_at is not None and member.last_paid_at >= now - dt.timedelta(days=thresholds.recent_days)
    f = member.paid_order_count >= thresholds.frequent_orders
    m = member.paid_total_fen >= thresholds.monetary_fen
    return next(code for code, (axes, _) in RFM_GROUPS.items() if axes == (r, f, m))


def rules_describe(rules: Any) -> list[str]:
    """The rules in operators' words, one line per condition (the console's list and detail)."""
    try:
        normalised = rules_validate(rules)
    except SegmentRulesInvalid:
        return ["（规则有误）"]
    lines = [_describe(c) for c in normalised["all"]]
    if normalised["any"]:
        lines.append("满足其一：" + "；".join(_describe(c) for c in normalised["any"]))
    return lines or ["全部会员"]


def _describe(c: dict[str, Any]) -> str:
    kind, label = c["type"], CONDITION_LABELS[c["type"]]

    def span(low: str, high: str, unit: str = "", fmt: Callable[[int], str] = str) -> str:
        if low in c and high in c:
            return f"{fmt(c[low])}–{fmt(c[high])}{unit}"
        return f"≥ {fmt(c[low])}{unit}" if low in c else f"≤ {fmt(c[high])}{unit}"

    if kind == "tier":
        names = dict(Tier.objects.values_list("level", "name"))
        if "min_level" in c:
            return f"{label}：{names.get(c['min_level'], c['min_level'])}及以上"
        return f"{label}：{'、'.join(str(names.get(level, level)) for level in c['levels'])}"
    if kind == "points":
        return f"{label}：{span('min', 'max')}"
    if kind == "paid_total":
        return f"{label}：{span('min_fen', 'max_fen', fmt=lambda fen: f'¥{fen / 100:.2f}')}"
    if kind == "paid_orders":
        return f"{label}：{span('min', 'max', ' 单')}"
    if kind == "last_order":
        parts = []
        if "min_days" in c:
            parts.append(f"{c['min_days']} 天未下单（含从未下单）")
        if "max_days" in c:
            parts.append(f"{c['max_days']} 天内下过单")
        return f"{label}：{'，'.join(parts)}"
    if kind == "birthday_month":
        return f"{label}：{'本月' if c.get('this_month') else '、'.join(f'{m} 月' for m in c['months'])}"
    if kind == "region":
        return f"{label}：{'、'.join(c['provinces'])}"
    if kind == "gender":
        return f"{label}：{'、'.join(Gender(v).label for v in c['values'])}"
    if kind == "tag":
        names = dict(Tag.objects.filter(pk__in=c["tag_ids"]).values_list("pk", "name"))
        tags = "、".join(names.get(pk, f"#{pk}") for pk in c["tag_ids"])
        return f"{label}：{'不含' if c.get('negate') else '含'}{tags}"
    if kind == "category":
        return f"{label}：{c['days']} 天内购买过分类 #{'、#'.join(map(str, c['category_ids']))}"
    return f"{label}：{'、'.join(RFM_GROUPS[g][1] for g in c['groups'])}"
