"""Forms of the catalog console: what operators type, parsed into the values services and models take."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from catalog.models import Category, FreightRule, FreightTemplate, Product, ProductImage, ProductTag, Sku
from catalog.specs import specs_from_text, specs_to_text
from core.admin import ValidatedImageField, YuanFormField
from core.regions import PROVINCES


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


class StockAdjustForm(forms.Form):
    delta = forms.IntegerField(label="调整数量", help_text="正数为入库，负数为出库，例如 20 或 -3")
    note = forms.CharField(label="调整原因", max_length=200,
                           widget=forms.TextInput(attrs={"size": 50, "placeholder": "如 盘点差异、到货入库"}))

    def clean_delta(self) -> int:
        delta = self.cleaned_data["delta"]
        if delta == 0:
            raise ValidationError("调整数量不能为 0")
        return delta
