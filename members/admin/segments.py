"""The segment builder (人群): conditions in a form, one row per kind, no JavaScript.

预览人数 counts the members the conditions select right now without saving; 保存 stores the rules
(validated by members.segments); 立即计算 materialises the members (segment_evaluate). Rules are
ANDed; an "any" group written through the JSON rules is kept as it is and shown read-only.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from catalog.models import Category
from core.admin import YuanFormField, short_time
from core.errors import DomainError
from members.errors import SegmentRulesInvalid
from members.models import Gender, RfmThresholds, Segment, Tag, Tier
from members.segments import RFM_GROUPS, rules_describe, rules_validate
from members.services.segments import segment_evaluate, segment_preview, segment_save

MONTHS = [(m, f"{m}月") for m in range(1, 13)]


def category_choices() -> list[tuple[int, str]]:
    """Product categories for the "bought from" condition (the condition stores plain ids)."""
    rows = list(Category.objects.select_related("parent"))

    def place(c: Category) -> tuple[int, int, int, int, int]:  # each parent, then its children
        root = c.parent or c
        return (root.sort, root.pk, 1 if c.parent_id else 0, c.sort, c.pk)

    return [(c.pk, f"{c.parent.name} / {c.name}" if c.parent else c.name) for c in sorted(rows, key=place)]


class SegmentForm(forms.ModelForm):
    """The builder: every condition is optional; a filled-in row becomes one ANDed condition."""

    tier_min = forms.TypedChoiceField(label="会员等级不低于", required=False, coerce=int, empty_value=None)
    tier_levels = forms.TypedMultipleChoiceField(label="或会员等级为", required=False, coerce=int,
                                                 widget=forms.CheckboxSelectMultiple)
    points_min = forms.IntegerField(label="积分余额 ≥", required=False, min_value=0)
    points_max = forms.IntegerField(label="积分余额 ≤", required=False, min_value=0)
    paid_total_min = YuanFormField(label="累计支付 ≥（元）", required=False)
    paid_total_max = YuanFormField(label="累计支付 ≤（元）", required=False)
    paid_orders_min = forms.IntegerField(label="支付订单数 ≥", required=False, min_value=0)
    paid_orders_max = forms.IntegerField(label="支付订单数 ≤", required=False, min_value=0)
    inactive_days = forms.IntegerField(label="超过 N 天未下单", required=False, min_value=1,
                                       help_text="含从未下单的会员")
    active_days = forms.IntegerField(label="N 天内下过单", required=False, min_value=1)
    birthday_this_month = forms.BooleanField(label="生日在本月", required=False,
                                             help_text="按计算当天（上海时间）的月份")
    birthday_months = forms.TypedMultipleChoiceField(label="或生日月份", choices=MONTHS, coerce=int, required=False,
                                                     widget=forms.CheckboxSelectMultiple)
    provinces = forms.CharField(label="省份", required=False, max_length=500,
                                help_text="多个用逗号或空格分隔，如 广东省，浙江省")
    genders = forms.MultipleChoiceField(label="性别", choices=Gender.choices, required=False,
                                        widget=forms.CheckboxSelectMultiple)
    tags = forms.ModelMultipleChoiceField(label="标签（含其一）", queryset=Tag.objects.all(), required=False,
                                          widget=forms.CheckboxSelectMultiple)
    tags_negate = forms.BooleanField(label="改为：不含这些标签", required=False)
    categories = forms.TypedMultipleChoiceField(label="购买过的分类", coerce=int, required=False,
                                                widget=forms.SelectMultiple(attrs={"size": 6}))
    category_days = forms.IntegerField(label="在最近 N 天内", required=False, min_value=1)
    rfm_groups = forms.MultipleChoiceField(label="RFM 分组", required=False, widget=forms.CheckboxSelectMultiple,
                                           choices=[(code, name) for code, (_, name) in RFM_GROUPS.items()])

    class Meta:
        model = Segment
        fields = ["name", "description"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tiers = [(t.level, t.name) for t in Tier.objects.order_by("level")]
        cast(forms.ChoiceField, self.fields["tier_min"]).choices = [("", "不限")] + [
            (level, f"{name}及以上") for level, name in tiers]
        cast(forms.ChoiceField, self.fields["tier_levels"]).choices = tiers
        cast(forms.ChoiceField, self.fields["categories"]).choices = category_choices()
        thresholds = RfmThresholds.objects.filter(pk=1).first() or RfmThresholds()
        self.fields["rfm_groups"].help_text = (
            f"近期 = {thresholds.recent_days} 天内支付过；高频 = 支付订单 ≥ {thresholds.frequent_orders}；"
            f"高消费 = 累计支付 ≥ ¥{thresholds.monetary_fen / 100:g}（在“RFM 阈值”中修改）")
        if self.instance.pk and not self.is_bound:
            self.initial.update(_initial_from_rules(self.instance.rules))

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        conditions = _conditions_from(data)
        kept_any = (self.instance.rules or {}).get("any", []) if self.instance.pk else []
        try:
            data["rules"] = rules_validate({"all": conditions, "any": kept_any})
        except SegmentRulesInvalid as exc:
            raise forms.ValidationError("；".join(str(v) for v in exc.detail.values()) or exc.message) from exc
        return data


def _conditions_from(d: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def span(kind: str, low_key: str, high_key: str, low: Any, high: Any) -> None:
        params = {k: v for k, v in ((low_key, low), (high_key, high)) if v is not None}
        if params:
            out.append({"type": kind, **params})

    if d.get("tier_min") is not None:
        out.append({"type": "tier", "min_level": d["tier_min"]})
    elif d.get("tier_levels"):
        out.append({"type": "tier", "levels": d["tier_levels"]})
    span("points", "min", "max", d.get("points_min"), d.get("points_max"))
    span("paid_total", "min_fen", "max_fen", d.get("paid_total_min"), d.get("paid_total_max"))
    span("paid_orders", "min", "max", d.get("paid_orders_min"), d.get("paid_orders_max"))
    span("last_order", "min_days", "max_days", d.get("inactive_days"), d.get("active_days"))
    if d.get("birthday_this_month"):
        out.append({"type": "birthday_month", "this_month": True})
    elif d.get("birthday_months"):
        out.append({"type": "birthday_month", "months": d["birthday_months"]})
    provinces = [p for p in (d.get("provinces") or "").replace("，", ",").replace("、", ",").replace(",", " ").split()]
    if provinces:
        out.append({"type": "region", "provinces": provinces})
    if d.get("genders"):
        out.append({"type": "gender", "values": d["genders"]})
    if d.get("tags"):
        out.append({"type": "tag", "tag_ids": [t.pk for t in d["tags"]], "negate": bool(d.get("tags_negate"))})
    if d.get("categories") or d.get("category_days"):
        out.append({"type": "category", "category_ids": d.get("categories") or [], "days": d.get("category_days")})
    if d.get("rfm_groups"):
        out.append({"type": "rfm", "groups": d["rfm_groups"]})
    return out


def _initial_from_rules(rules: Any) -> dict[str, Any]:
    initial: dict[str, Any] = {}
    try:
        conditions = rules_validate(rules)["all"]
    except SegmentRulesInvalid:
        return initial
    for c in conditions:
        kind = c["type"]
        if kind == "tier":
            initial["tier_min" if "min_level" in c else "tier_levels"] = c.get("min_level", c.get("levels"))
        elif kind in ("points", "paid_orders"):
            initial[f"{kind}_min"], initial[f"{kind}_max"] = c.get("min"), c.get("max")
        elif kind == "paid_total":
            initial["paid_total_min"], initial["paid_total_max"] = c.get("min_fen"), c.get("max_fen")
        elif kind == "last_order":
            initial["inactive_days"], initial["active_days"] = c.get("min_days"), c.get("max_days")
        elif kind == "birthday_month":
            initial["birthday_this_month"] = bool(c.get("this_month"))
            initial["birthday_months"] = c.get("months", [])
        elif kind == "region":
            initial["provinces"] = "，".join(c["provinces"])
        elif kind == "gender":
            initial["genders"] = c["values"]
        elif kind == "tag":
            initial["tags"], initial["tags_negate"] = c["tag_ids"], c.get("negate", False)
        elif kind == "category":
            initial["categories"], initial["category_days"] = c["category_ids"], c["days"]
        elif kind == "rfm":
            initial["rfm_groups"] = c["groups"]
    return initial


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentForm
    change_form_template = "admin/members/segment/change_form.html"
    list_display = ["name", "conditions", "member_count", "evaluated", "description"]
    search_fields = ["name"]
    fieldsets = [
        ("人群", {"fields": ["name", "description"]}),
        ("会员等级", {"fields": ["tier_min", "tier_levels"]}),
        ("积分与消费", {"fields": [("points_min", "points_max"), ("paid_total_min", "paid_total_max"),
                                   ("paid_orders_min", "paid_orders_max"), ("inactive_days", "active_days")]}),
        ("资料", {"fields": ["birthday_this_month", "birthday_months", "provinces", "genders"]}),
        ("标签", {"fields": ["tags", "tags_negate"]}),
        ("购买品类", {"fields": [("categories", "category_days")]}),
        ("RFM", {"fields": ["rfm_groups"]}),
        ("计算结果", {"fields": ["member_count", "evaluated", "rules_text"]}),
    ]
    readonly_fields = ["member_count", "evaluated", "rules_text"]

    def get_urls(self) -> list[Any]:
        custom = [path("<path:object_id>/evaluate/", self.admin_site.admin_view(self.evaluate_view),
                       name="members_segment_evaluate")]
        return custom + super().get_urls()

    @admin.display(description="条件")
    def conditions(self, segment: Segment) -> str:
        return format_html_join("", "<div>{}</div>", ((line,) for line in rules_describe(segment.rules)))

    @admin.display(description="规则")
    def rules_text(self, segment: Segment) -> str:
        return self.conditions(segment)

    @admin.display(description="最近计算", ordering="evaluated_at")
    def evaluated(self, segment: Segment) -> str:
        return short_time(segment.evaluated_at) if segment.evaluated_at else "未计算"

    def save_model(self, request: HttpRequest, obj: Segment, form: Any, change: bool) -> None:
        obj.rules = form.cleaned_data["rules"]
        segment_save(segment=obj)

    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.method == "POST" and "_preview" in request.POST:
            return self._preview(request, object_id, extra_context)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _preview(self, request: HttpRequest, object_id: str | None,
                 extra_context: dict[str, Any] | None) -> HttpResponse:
        """预览人数: validate the form and count, save nothing, show the same form again."""
        obj = self.get_object(request, unquote(object_id)) if object_id else None
        add = obj is None
        if add and not self.has_add_permission(request) or not add and not self.has_change_permission(request, obj):
            raise PermissionDenied
        form = self.get_form(request, obj, change=not add)(request.POST, instance=obj)
        count = None
        if form.is_valid():
            count = segment_preview(rules=form.cleaned_data["rules"])
        fieldsets = self.get_fieldsets(request, obj)
        admin_form = helpers.AdminForm(form, cast(Any, fieldsets), {}, self.get_readonly_fields(request, obj),
                                       model_admin=self)
        context = {
            **self.admin_site.each_context(request),
            "title": ("添加" if add else "修改") + "会员人群",
            "subtitle": None,
            "adminform": admin_form,
            "object_id": object_id,
            "original": obj,
            "is_popup": False,
            "to_field": None,
            "media": self.media + admin_form.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []),
            "preserved_filters": self.get_preserved_filters(request),
            "preview_count": count,
            "preview_lines": rules_describe(form.cleaned_data["rules"]) if count is not None else [],
            **(extra_context or {}),
        }
        return self.render_change_form(request, context, add=add, change=not add, obj=obj)

    def evaluate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """立即计算 (POST): materialise the segment's members now."""
        segment = self.get_object(request, unquote(object_id))
        if segment is None:
            messages.warning(request, "人群不存在或已删除")
            return HttpResponseRedirect(reverse("admin:members_segment_changelist"))
        if request.method != "POST" or not self.has_change_permission(request, segment):
            raise PermissionDenied
        try:
            count = segment_evaluate(segment_id=segment.pk)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, format_html("人群“{}”已计算：{} 人", segment.name, count))
        return HttpResponseRedirect(reverse("admin:members_segment_change", args=[segment.pk]))


@admin.register(RfmThresholds)
class RfmThresholdsAdmin(admin.ModelAdmin):
    """The one row of RFM cut-offs; the list page goes straight to it."""

    fields = ["recent_days", "frequent_orders", "monetary", "updated_at"]
    readonly_fields = ["updated_at"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        class Form(forms.ModelForm):
            monetary = YuanFormField(label="高消费（累计支付 ≥，元）")

            class Meta:
                model = RfmThresholds
                fields = ["recent_days", "frequent_orders"]

            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, **kw)
                self.fields["monetary"].initial = self.instance.monetary_fen

            def save(self, commit: bool = True) -> Any:
                self.instance.monetary_fen = self.cleaned_data["monetary"]
                return super().save(commit)

        kwargs["form"] = Form
        return super().get_form(request, obj, change, **kwargs)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not RfmThresholds.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        row, _ = RfmThresholds.objects.get_or_create(pk=1)
        return HttpResponseRedirect(reverse("admin:members_rfmthresholds_change", args=[row.pk]))
