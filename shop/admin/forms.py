"""Forms of the shop console: what operators type, parsed into the values services and models take."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from core.errors import DomainError
from shop.models import Carrier
from shop.services.shipping import carrier_resolve

# ---------------------------------------------------------------------------------------------
# Service forms (orders, shipping)


def carrier_choices() -> list[tuple[str, str]]:
    """Carriers by WeChat's delivery_id code (the upload needs the code), shown by name."""
    return [("", "请选择"), *Carrier.choices]


class CarrierField(forms.ChoiceField):
    """A carrier by code ("SF") or by name ("顺丰速运", "顺丰"); cleans to the code."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("choices", carrier_choices)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str:
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
