"""Forms of the shop console: what operators type, parsed into the values services and models take."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from core.admin import ValidatedImageField, YuanFormField
from core.errors import DomainError
from shop.models import Carrier, Category, FreightRule, FreightTemplate, Product, ProductImage, ProductTag, Sku

# ---------------------------------------------------------------------------------------------
# Specs: {"颜色": "红", "尺码": "M"} <-> "颜色:红;尺码:M" (full-width ：； accepted too)

_SPEC_SEPARATORS = re.compile(r"[;；\n]")
_SPEC_COLON = re.compile(r"[:：]")


def specs_to_text(specs: dict[str, Any] | None) -> str:
    return ";".join(f"{name}:{value}" for name, value in (specs or {}).items())


def specs_from_text(text: str) -> dict[str, str]:
    """Parse '颜色:红;尺码:M' (or a JSON object) into a dict, keeping the typed order.

    Raises ValidationError with a message an operator can act on.
    """
    text = (text or "").strip()
    if not text:
        return {}
    if text.startswith("{"):
        return _specs_from_json(text)
    specs: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in _SPEC_SEPARATORS.split(text))):
        pieces = _SPEC_COLON.split(part, maxsplit=1)
        if len(pieces) != 2 or not pieces[0].strip() or not pieces[1].strip():
            raise ValidationError(
                f"规格“{part}”格式不对，应为“规格名:规格值”，多个用分号隔开，如 颜色:红;尺码:M")
        name, value = pieces[0].strip(), pieces[1].strip()
        if name in specs:
            raise ValidationError(f"规格名“{name}”重复")
        specs[name] = value
    return specs


def _specs_from_json(text: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError("规格 JSON 格式有误") from exc
    if not isinstance(data, dict) or not all(isinstance(v, str | int | float) for v in data.values()):
        raise ValidationError("规格应为 {\"规格名\": \"规格值\"} 形式")
    return {str(k).strip(): str(v).strip() for k, v in data.items()}


class SpecsField(forms.Field):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "如 颜色:红;尺码:M")
        kwargs.setdefault("widget", forms.TextInput(attrs={"size": 12, "placeholder": "颜色:红;尺码:M"}))
        for key in ("encoder", "decoder", "max_length", "empty_value"):
            kwargs.pop(key, None)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        return specs_to_text(value) if isinstance(value, dict) else value

    def to_python(self, value: Any) -> dict[str, str]:
        if isinstance(value, dict):
            return value
        return specs_from_text("" if value is None else str(value))


# ---------------------------------------------------------------------------------------------
# Catalog


class CategoryForm(forms.ModelForm):
    icon = ValidatedImageField(label="图标", required=False)

    class Meta:
        model = Category
        fields = ["parent", "name", "icon", "sort", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Two levels only: a parent is always a top-level category, never the category itself.
        if "parent" in self.fields:
            parents = Category.objects.filter(parent__isnull=True)
            if self.instance.pk:
                parents = parents.exclude(pk=self.instance.pk)
            self.fields["parent"].queryset = parents  # type: ignore[attr-defined]
            self.fields["parent"].help_text = "留空表示一级分类；最多两级"

    def clean_parent(self) -> Category | None:
        parent = self.cleaned_data.get("parent")
        if parent and self.instance.pk and self.instance.children.exists():
            raise ValidationError("该分类下已有子分类，不能再设置上级分类（最多两级）")
        return parent


class ProductForm(forms.ModelForm):
    main_image = ValidatedImageField(label="主图", required=False, help_text="JPEG/PNG/WebP，不超过 5 MB")
    tags = forms.MultipleChoiceField(label="标签", choices=ProductTag.choices, required=False,
                                     widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Product
        fields = ["category", "name", "subtitle", "main_image", "description", "tags",
                  "freight_template", "is_on_shelf", "sort"]


class ProductImageForm(forms.ModelForm):
    image = ValidatedImageField(label="图片", help_text="JPEG/PNG/WebP，不超过 5 MB")

    class Meta:
        model = ProductImage
        fields = ["image", "sort"]


class SkuForm(forms.ModelForm):
    """A SKU row as operators edit it. Stock is not a field here: it moves only via the service."""

    specs = SpecsField(label="规格", required=False)
    price_fen = YuanFormField(label="售价（元）")
    original_price_fen = YuanFormField(label="划线价（元）", required=False, empty_fen=0)
    cost_fen = YuanFormField(label="成本价（元）", required=False, empty_fen=0)
    initial_stock = forms.IntegerField(
        label="初始库存", required=False, min_value=0,
        help_text="仅新建 SKU 时填写；已有 SKU 请用“调整库存”",
        widget=forms.NumberInput(attrs={"style": "width: 4em"}),
    )

    class Meta:
        model = Sku
        fields = ["code", "specs", "price_fen", "original_price_fen", "cost_fen", "weight_g", "is_active"]
        widgets = {"code": forms.TextInput(attrs={"size": 15}),
                   "weight_g": forms.NumberInput(attrs={"style": "width: 4em"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # Existing stock changes through 调整库存 (a ledger row with a reason), never here.
            self.fields["initial_stock"].disabled = True


class FreightTemplateForm(forms.ModelForm):
    free_threshold_fen = YuanFormField(label="包邮门槛（元）", required=False,
                                       help_text="商品金额达到该值免运费；留空表示不包邮")

    class Meta:
        model = FreightTemplate
        fields = ["name", "is_default", "free_threshold_fen"]

    def clean_is_default(self) -> bool:
        is_default = self.cleaned_data.get("is_default", False)
        other = FreightTemplate.objects.filter(is_default=True).exclude(pk=self.instance.pk).first()
        if is_default and other is not None:
            raise ValidationError(f"已有默认运费模板“{other.name}”，请先取消它的默认设置")
        return is_default


# Province-level divisions, by the short name that starts every spelling of it ("广东" / "广东省").
PROVINCES = (
    "北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽",
    "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西",
    "甘肃", "青海", "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门",
)
_PROVINCE_SEPARATORS = re.compile(r"[,，、;；\s]+")


def provinces_from_text(text: str) -> list[str]:
    names = [n for n in _PROVINCE_SEPARATORS.split((text or "").strip()) if n]
    unknown = [n for n in names if not n.startswith(PROVINCES)]
    if unknown:
        raise ValidationError(f"无法识别的省份：{'、'.join(unknown)}")
    seen: list[str] = []
    for name in names:
        if name not in seen:
            seen.append(name)
    return seen


class ProvincesField(forms.Field):
    def __init__(self, **kwargs: Any) -> None:
        for key in ("base_field", "max_length", "delimiter", "min_length", "empty_value"):
            kwargs.pop(key, None)
        kwargs.setdefault("widget", forms.TextInput(attrs={"size": 40, "placeholder": "广东,广西,海南"}))
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        return ",".join(value) if isinstance(value, list | tuple) else value

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list):
            return value
        return provinces_from_text("" if value is None else str(value))


class FreightRuleForm(forms.ModelForm):
    provinces = ProvincesField(label="适用省份", required=False,
                               help_text="省份名用逗号分隔；留空表示其他所有地区")
    first_fee_fen = YuanFormField(label="首件运费（元）", required=False, empty_fen=0)
    extra_fee_fen = YuanFormField(label="续件运费（元）", required=False, empty_fen=0)
    first_count = forms.IntegerField(label="首件（件）", min_value=1, initial=1)
    extra_count = forms.IntegerField(label="续件（件）", min_value=1, initial=1)

    class Meta:
        model = FreightRule
        fields = ["provinces", "first_count", "first_fee_fen", "extra_count", "extra_fee_fen",
                  "is_deliverable"]


class FreightRuleFormSet(forms.BaseInlineFormSet):
    """One price per province: a province in two rules, or two catch-all rules, is ambiguous."""

    def clean(self) -> None:
        super().clean()
        seen: dict[str, int] = {}
        catch_all = 0
        for index, form in enumerate(self.forms, start=1):
            if not hasattr(form, "cleaned_data") or not form.cleaned_data:
                continue
            if form.cleaned_data.get("DELETE"):
                continue
            provinces = form.cleaned_data.get("provinces") or []
            if not provinces:
                catch_all += 1
            for name in provinces:
                if name in seen:
                    raise ValidationError(f"省份“{name}”同时出现在第 {seen[name]} 条和第 {index} 条规则中")
                seen[name] = index
        if catch_all > 1:
            raise ValidationError("只能有一条“其他所有地区”（省份留空）的规则")


# ---------------------------------------------------------------------------------------------
# Service forms (stock, orders)


class StockAdjustForm(forms.Form):
    delta = forms.IntegerField(label="调整数量", help_text="正数为入库，负数为出库，例如 20 或 -3")
    note = forms.CharField(label="调整原因", max_length=200,
                           widget=forms.TextInput(attrs={"size": 50, "placeholder": "如 盘点差异、到货入库"}))

    def clean_delta(self) -> int:
        delta = self.cleaned_data["delta"]
        if delta == 0:
            raise ValidationError("调整数量不能为 0")
        return delta


def carrier_choices() -> list[tuple[str, str]]:
    """Carriers by WeChat's delivery_id code (the upload needs the code), shown by name."""
    return [("", "请选择"), *Carrier.choices]


class CarrierField(forms.ChoiceField):
    """A carrier by code ("SF") or by name ("顺丰速运", "顺丰"); cleans to the code."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("choices", carrier_choices)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str:
        from shop.services.shipping import carrier_resolve

        text = super().to_python(value)
        if not text:
            return text
        try:
            return carrier_resolve(text).value
        except DomainError:
            return text  # not a choice: validate() says so


TRACKING_NO_HELP = "快递单号应为 6 位以上的字母或数字（最长 32 位）"


def clean_tracking_no(value: str) -> str:
    tracking_no = re.sub(r"\s+", "", value or "").upper()
    if not re.fullmatch(r"[A-Z0-9-]{6,32}", tracking_no):
        raise ValidationError(TRACKING_NO_HELP)
    return tracking_no


def _tracking_widget() -> forms.TextInput:
    return forms.TextInput(attrs={"size": 22, "autocomplete": "off", "placeholder": "快递单号"})


class ShipForm(forms.Form):
    """One package with everything left to ship (the simple case, and the import's row)."""

    carrier = CarrierField(label="快递公司")
    tracking_no = forms.CharField(label="快递单号", max_length=64, widget=_tracking_widget())

    def clean_tracking_no(self) -> str:
        return clean_tracking_no(self.cleaned_data["tracking_no"])


class ShipPackagesForm(forms.Form):
    """发货 in one or several packages: per package a carrier, a tracking number, and how many
    units of each line go in it (the first package starts with everything left to ship).

    Fields: `carrier`/`tracking_no` for package 1 (so a plain one-package POST still works) and
    `carrier_<n>`/`tracking_no_<n>` for package n; `qty_<n>_<line id>` for the units. A POST
    without any qty_ field ships everything left as package 1. Extra packages left blank are
    ignored. The service checks it all again under the order's lock; this only spares the
    operator a round trip.
    """

    MAX_PACKAGES = 15

    packages = forms.IntegerField(min_value=1, max_value=MAX_PACKAGES, required=False, widget=forms.HiddenInput)

    def __init__(self, data: Any = None, *, lines: list[tuple[Any, int]], packages: int = 1) -> None:
        super().__init__(data)
        count = packages
        if data is not None and str(data.get("packages", "")).isdigit():
            count = int(data["packages"])
        self.package_count = max(1, min(count, self.MAX_PACKAGES))
        self.initial["packages"] = self.package_count
        self.lines = lines
        self.whole_order = data is not None and not any(str(k).startswith("qty_") for k in data)
        for n in range(1, self.package_count + 1):
            self.fields[self.field_name("carrier", n)] = CarrierField(label=f"包裹 {n} 快递公司", required=n == 1)
            self.fields[self.field_name("tracking_no", n)] = forms.CharField(
                label=f"包裹 {n} 快递单号", max_length=64, required=n == 1, widget=_tracking_widget())
            for line, remaining in lines:
                self.fields[self.qty_name(n, line.pk)] = forms.IntegerField(
                    label=f"包裹 {n}：{line.product_name}", min_value=0, max_value=remaining, required=False,
                    initial=remaining if n == 1 else 0,
                    widget=forms.NumberInput(attrs={"style": "width: 4em", "min": 0, "max": remaining}))

    @staticmethod
    def field_name(kind: str, n: int) -> str:
        return kind if n == 1 else f"{kind}_{n}"

    @staticmethod
    def qty_name(n: int, line_id: int) -> str:
        return f"qty_{n}_{line_id}"

    def layout(self) -> dict[str, Any]:
        """What the template draws: a column per package, a row per line."""
        heads = [{"no": n, "carrier": self[self.field_name("carrier", n)],
                  "tracking_no": self[self.field_name("tracking_no", n)]} for n in range(1, self.package_count + 1)]
        rows = [{"line": line, "remaining": remaining,
                 "cells": [self[self.qty_name(n, line.pk)] for n in range(1, self.package_count + 1)]}
                for line, remaining in self.lines]
        return {"heads": heads, "rows": rows}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        packages: list[dict[str, Any]] = []
        totals: dict[int, int] = {}
        for n in range(1, self.package_count + 1):
            carrier = data.get(self.field_name("carrier", n))
            raw_tracking = data.get(self.field_name("tracking_no", n)) or ""
            quantities = {line.pk: data.get(self.qty_name(n, line.pk)) or 0 for line, _ in self.lines}
            if n > 1 and not carrier and not raw_tracking.strip() and not any(quantities.values()):
                continue  # an extra package left blank
            tracking_no = self._tracking(n, raw_tracking)
            if n > 1 and not carrier:
                self.add_error(self.field_name("carrier", n), "请选择快递公司")
            if self.whole_order and n == 1:
                packages.append({"carrier": carrier, "tracking_no": tracking_no, "lines": None})
                continue
            if not any(quantities.values()):
                self.add_error(None, f"包裹 {n} 没有商品，请填写发货数量")
            for line_id, quantity in quantities.items():
                totals[line_id] = totals.get(line_id, 0) + quantity
            packages.append({"carrier": carrier, "tracking_no": tracking_no,
                             "lines": {k: v for k, v in quantities.items() if v}})
        for line, remaining in self.lines:
            if totals.get(line.pk, 0) > remaining:
                self.add_error(None, f"「{line.product_name}」各包裹合计 {totals[line.pk]} 件，"
                                     f"超过待发的 {remaining} 件")
        numbers = [p["tracking_no"] for p in packages if p["tracking_no"]]
        if len(set(numbers)) != len(numbers):
            self.add_error(None, "同一个快递单号不能用于两个包裹")
        data["package_list"] = packages
        return data

    def _tracking(self, n: int, raw: str) -> str:
        name = self.field_name("tracking_no", n)
        if not raw.strip():
            if n > 1:
                self.add_error(name, "请填写快递单号")
            return ""
        try:
            return clean_tracking_no(raw)
        except ValidationError as exc:
            self.add_error(name, exc)
            return ""


class ShippingImportForm(forms.Form):
    file = forms.FileField(label="发货文件", help_text="CSV 或 XLSX，列：订单号、快递公司、快递单号；不超过 2 MB",
                           widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}))

    MAX_BYTES = 2 * 1024 * 1024

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        name = (upload.name or "").lower()
        if not name.endswith((".csv", ".xlsx")):
            raise ValidationError("仅支持 CSV 或 XLSX 文件")
        if upload.size and upload.size > self.MAX_BYTES:
            raise ValidationError("文件不能超过 2 MB")
        return upload


class CancelForm(forms.Form):
    reason = forms.CharField(label="取消原因", max_length=100, initial="运营取消",
                             widget=forms.TextInput(attrs={"size": 40}))


class RemarkForm(forms.Form):
    text = forms.CharField(label="备注内容", max_length=300,
                           widget=forms.Textarea(attrs={"rows": 4, "cols": 60}))
