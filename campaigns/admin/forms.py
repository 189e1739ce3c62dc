"""Forms of the campaigns console: what operators type (yuan, Chinese), parsed into what services take.

Checks that need the database (the price floor, the 满减 ladder) call the guard-rail functions in
campaigns.services.activities, so the form and the save agree; the save checks again.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError

from campaigns.models import (
    Channel,
    CouponKind,
    CouponTemplate,
    FlashItem,
    FlashSession,
    FullReduction,
    FullReductionStep,
    GiftRule,
    Scope,
    TargetedIssue,
    Validity,
)
from campaigns.selectors.targets import IdKind
from campaigns.services.activities import StepInput, flash_item_price_check, full_reduction_steps_check
from core.admin import YuanFormField, yuan_text
from core.errors import DomainError
from members.models import Segment, Tag
from wechat.miniprogram import WXACODE_SCENE, WXACODE_SCENE_MAX

UPLOAD_HELP = "CSV 或 XLSX，第一列每行一个；可带表头；不超过 5 MB"
UPLOAD_MAX_BYTES = 5 * 1024 * 1024


def _window_error(form: forms.BaseForm, data: dict[str, Any], start: str, end: str, message: str) -> None:
    if data.get(start) and data.get(end) and data[start] >= data[end]:
        # On the field, so the model's CheckConstraint (English message) is not checked again.
        form.add_error(end, message)


# ---------------------------------------------------------------------------------------------
# Coupon templates

# The rule fields of a template: once coupons are out they describe what members hold.
RULE_FIELDS = ("kind", "threshold_fen", "amount_fen", "pay_percent", "max_discount_fen")


class CouponTemplateForm(forms.ModelForm):
    threshold_fen = YuanFormField(label="使用门槛（元）", required=False, empty_fen=0,
                                  help_text="满减券：订单金额满多少可用；0 表示无门槛")
    amount_fen = YuanFormField(label="优惠金额（元）", required=False, empty_fen=0,
                               help_text="满减券、无门槛券减多少；运费券填 0 表示免全部运费")
    max_discount_fen = YuanFormField(label="最高优惠（元）", required=False,
                                     help_text="折扣券必填：一张券最多优惠多少")
    budget_fen = YuanFormField(label="补贴预算（元）", required=False,
                               help_text="发放面值或核销金额达到预算后自动停止领取；留空表示不限")

    class Meta:
        model = CouponTemplate
        fields = ["name", "kind", "is_active", "show_in_center",
                  "threshold_fen", "amount_fen", "pay_percent", "max_discount_fen", "stacks_with_activities",
                  "return_on_full_refund",
                  "scope", "categories", "products", "excluded_products",
                  "validity", "valid_from", "valid_until", "valid_days",
                  "total_quantity", "per_member_limit", "per_day_limit", "claim_starts_at", "claim_ends_at",
                  "new_customer_only", "tiers", "segments",
                  "budget_fen"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance.pk:  # the common case, so a new form starts where most operators start
            self.fields["kind"].initial = CouponKind.FULL_REDUCTION
            self.fields["valid_days"].initial = 7
        if self.instance.pk and self.instance.issued_count:
            for name in RULE_FIELDS:  # the fieldset's description says why
                if name in self.fields:
                    self.fields[name].disabled = True
                    self.fields[name].help_text = "已发放，不可修改"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self._clean_rules(data)
        self._clean_validity(data)
        _window_error(self, data, "claim_starts_at", "claim_ends_at", "开始领取时间必须早于结束领取时间")
        scope = data.get("scope")
        if scope == Scope.CATEGORIES and not data.get("categories"):
            self.add_error("categories", "适用范围为“指定分类”时，请至少选择一个分类")
        if scope == Scope.PRODUCTS and not data.get("products"):
            self.add_error("products", "适用范围为“指定商品”时，请至少选择一个商品")
        if data.get("budget_fen") is not None and data["budget_fen"] <= 0:
            self.add_error("budget_fen", "补贴预算必须大于 0；不限请留空")
        if data.get("per_member_limit") is not None and data["per_member_limit"] < 1:
            self.add_error("per_member_limit", "每人限领至少 1 张")
        if data.get("total_quantity") == 0:
            self.add_error("total_quantity", "发行总量至少 1 张；不限请留空")
        return data

    def _clean_rules(self, data: dict[str, Any]) -> None:
        kind = data.get("kind")
        threshold, amount = data.get("threshold_fen") or 0, data.get("amount_fen") or 0
        if kind == CouponKind.FULL_REDUCTION:
            if amount <= 0:
                self.add_error("amount_fen", "满减券请填写优惠金额")
            elif threshold <= amount:
                self.add_error("threshold_fen", "满减券的使用门槛必须大于优惠金额")
        elif kind == CouponKind.DISCOUNT:
            percent = data.get("pay_percent")
            if percent is None or not 1 <= percent <= 99:
                self.add_error("pay_percent", "折扣券请填写 1–99 的折扣（85 表示 8.5 折）")
            if not data.get("max_discount_fen"):
                self.add_error("max_discount_fen", "折扣券请填写最高优惠金额")
            data["amount_fen"] = 0
        elif kind == CouponKind.NO_THRESHOLD:
            if amount <= 0:
                self.add_error("amount_fen", "无门槛券请填写优惠金额")
            if threshold:
                self.add_error("threshold_fen", "无门槛券的使用门槛应为 0；有门槛请选择“满减券”")
        if kind != CouponKind.DISCOUNT:
            data["pay_percent"] = None
            data["max_discount_fen"] = None

    def _clean_validity(self, data: dict[str, Any]) -> None:
        if data.get("validity") == Validity.FIXED:
            if not data.get("valid_from"):
                self.add_error("valid_from", "固定日期的券请填写生效时间")
            if not data.get("valid_until"):
                self.add_error("valid_until", "固定日期的券请填写失效时间")
            _window_error(self, data, "valid_from", "valid_until", "生效时间必须早于失效时间")
            data["valid_days"] = None
        elif data.get("validity") == Validity.RELATIVE:
            if not data.get("valid_days"):
                self.add_error("valid_days", "请填写领取后有效天数（至少 1 天）")
            data["valid_from"] = data["valid_until"] = None


class GiftRuleForm(forms.ModelForm):
    min_paid_fen = YuanFormField(label="订单实付满（元）", required=False, empty_fen=0,
                                 help_text="仅“支付有礼”使用：订单实付达到该金额才赠送")

    class Meta:
        model = GiftRule
        fields = ["name", "trigger", "template", "min_paid_fen", "starts_at", "ends_at", "is_active"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        _window_error(self, data, "starts_at", "ends_at", "开始时间必须早于结束时间")
        return data


# ---------------------------------------------------------------------------------------------
# Channels

# WeChat's rule for getwxacodeunlimit's scene (wechat.miniprogram checks it again before calling):
# at most 32 visible characters, digits, letters and !#$&'()*+,/:;=?@-._~ (no %, so no Chinese).
SCENE_PATTERN = WXACODE_SCENE
SCENE_HELP = "最多 32 个字符，只能用字母、数字和 !#$&'()*+,/:;=?@-._~，例如 cashier-01"


def clean_scene(value: str) -> str:
    scene = (value or "").strip()
    if len(scene) > WXACODE_SCENE_MAX:
        raise ValidationError(f"场景值最多 {WXACODE_SCENE_MAX} 个字符（现在 {len(scene)} 个）")
    if not SCENE_PATTERN.fullmatch(scene):
        bad = sorted({c for c in scene if not SCENE_PATTERN.fullmatch(c)})
        shown = "、".join(f"“{c}”" for c in bad) or "空白"
        raise ValidationError(f"场景值含有不允许的字符 {shown}；只能用字母、数字和 !#$&'()*+,/:;=?@-._~")
    return scene


class ChannelForm(forms.ModelForm):
    # No max_length here: clean_scene() says what is wrong with a long scene, in the operator's words.
    scene = forms.CharField(label="场景值", help_text=SCENE_HELP, strip=True,
                            widget=forms.TextInput(attrs={"size": 34, "autocomplete": "off"}))

    class Meta:
        model = Channel
        fields = ["name", "kind", "template", "scene", "page", "is_active"]
        help_texts = {"page": "扫码后打开的小程序页面，一般不用改"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.qrcode and "scene" in self.fields:
            # The code is permanent and carries the scene: changing it would orphan printed codes.
            for name in ("scene", "page"):
                self.fields[name].disabled = True
                self.fields[name].help_text = "小程序码已生成（永久有效），不能再修改；如需新的场景值请新建渠道"

    def clean_scene(self) -> str:
        return clean_scene(self.cleaned_data.get("scene", ""))


# ---------------------------------------------------------------------------------------------
# Uploads (codes, member lists)


class UploadField(forms.FileField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", UPLOAD_HELP)
        kwargs.setdefault("widget", forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}))
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        upload = super().clean(data, initial)
        if upload is None:
            return upload
        if not (upload.name or "").lower().endswith((".csv", ".xlsx")):
            raise ValidationError("仅支持 CSV 或 XLSX 文件")
        if upload.size and upload.size > UPLOAD_MAX_BYTES:
            raise ValidationError("文件不能超过 5 MB")
        return upload


def _template_field(label: str) -> forms.ModelChoiceField:
    return forms.ModelChoiceField(label=label, queryset=CouponTemplate.objects.filter(is_active=True).order_by("-id"),
                                  empty_label="请选择优惠券")


class CodeBatchBaseForm(forms.Form):
    template = _template_field("兑换的优惠券")
    name = forms.CharField(label="批次名称", max_length=64, widget=forms.TextInput(attrs={"size": 40}))
    partner = forms.CharField(label="合作方", max_length=64, required=False,
                              widget=forms.TextInput(attrs={"size": 40, "placeholder": "如 某某咖啡（异业合作）"}))


class CodeGenerateForm(CodeBatchBaseForm):
    quantity = forms.IntegerField(label="生成数量", min_value=1, max_value=100_000,
                                  help_text="一次最多 100,000 个；每个兑换码只能兑换一次")


class CodeImportForm(CodeBatchBaseForm):
    file = UploadField(label="兑换码文件",
                       help_text="CSV 或 XLSX，第一列每行一个兑换码（可带表头“兑换码”）；不超过 5 MB")


class TargetedIssueForm(forms.Form):
    template = _template_field("发放的优惠券")
    target = forms.ChoiceField(label="发放对象", choices=TargetedIssue.Target.choices, widget=forms.RadioSelect,
                               initial=TargetedIssue.Target.SEGMENT)
    segment = forms.ModelChoiceField(label="会员人群", queryset=Segment.objects.order_by("name"), required=False,
                                     empty_label="请选择人群")
    tag = forms.ModelChoiceField(label="会员标签", queryset=Tag.objects.order_by("name"), required=False,
                                 empty_label="请选择标签")
    id_kind = forms.ChoiceField(label="名单内容", choices=IdKind.CHOICES, initial=IdKind.MEMBER_ID,
                                widget=forms.RadioSelect, required=False)
    file = UploadField(label="会员名单", required=False,
                       help_text="CSV 或 XLSX，第一列每行一个会员 ID、OpenID 或手机号（可带表头）；不超过 5 MB")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        target = data.get("target")
        if target == TargetedIssue.Target.SEGMENT and not data.get("segment"):
            self.add_error("segment", "请选择会员人群")
        if target == TargetedIssue.Target.TAG and not data.get("tag"):
            self.add_error("tag", "请选择会员标签")
        if target == TargetedIssue.Target.MEMBERS:
            if not data.get("file"):
                self.add_error("file", "请上传会员名单")
            if not data.get("id_kind"):
                self.add_error("id_kind", "请选择名单内容")
        return data


# ---------------------------------------------------------------------------------------------
# 满减


class FullReductionForm(forms.ModelForm):
    class Meta:
        model = FullReduction
        fields = ["name", "kind", "is_active", "starts_at", "ends_at", "scope", "categories", "products",
                  "excluded_products"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        _window_error(self, data, "starts_at", "ends_at", "开始时间必须早于结束时间")
        if data.get("scope") == Scope.CATEGORIES and not data.get("categories"):
            self.add_error("categories", "适用范围为“指定分类”时，请至少选择一个分类")
        if data.get("scope") == Scope.PRODUCTS and not data.get("products"):
            self.add_error("products", "适用范围为“指定商品”时，请至少选择一个商品")
        return data


class FullReductionStepForm(forms.ModelForm):
    threshold_fen = YuanFormField(label="满（元）", required=False, empty_fen=0, help_text="满额减：订单满多少元")
    discount_fen = YuanFormField(label="减（元）", required=False, empty_fen=0, help_text="满额减：减多少元")
    threshold_count = forms.IntegerField(label="满（件）", required=False, min_value=0, help_text="满件折：买满几件",
                                         widget=forms.NumberInput(attrs={"style": "width: 5em"}))

    class Meta:
        model = FullReductionStep
        fields = ["threshold_fen", "discount_fen", "threshold_count", "pay_percent"]
        labels = {"pay_percent": "折扣（%）"}
        help_texts = {"pay_percent": "满件折：90 表示 9 折"}
        widgets = {"pay_percent": forms.NumberInput(attrs={"style": "width: 5em"})}

    def clean_threshold_count(self) -> int:
        return self.cleaned_data.get("threshold_count") or 0


class FullReductionStepFormSet(forms.BaseInlineFormSet):
    """The ladder as a whole: checked by campaigns.services.activities.full_reduction_steps_check."""

    def clean(self) -> None:
        super().clean()
        kind = getattr(self, "activity_kind", None) or self.instance.kind
        steps = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            steps.append(StepInput(threshold_fen=data.get("threshold_fen") or 0,
                                   discount_fen=data.get("discount_fen") or 0,
                                   threshold_count=data.get("threshold_count") or 0,
                                   pay_percent=data.get("pay_percent")))
        try:
            full_reduction_steps_check(kind=kind, steps=steps)
        except DomainError as exc:
            raise ValidationError(exc.message) from exc


# ---------------------------------------------------------------------------------------------
# Flash sales


class FlashSessionForm(forms.ModelForm):
    budget_fen = YuanFormField(label="补贴预算（元）", required=False,
                               help_text="（原价 − 秒杀价）× 件数 累计达到预算后停止下单；留空表示不限")

    class Meta:
        model = FlashSession
        fields = ["name", "starts_at", "ends_at", "unpaid_timeout_minutes", "budget_fen", "is_active",
                  "commission_enabled"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        _window_error(self, data, "starts_at", "ends_at", "结束时间必须晚于开始时间")
        if data.get("budget_fen") is not None and data["budget_fen"] < self.instance.subsidy_fen:
            self.add_error("budget_fen", f"预算不能低于已用补贴 {yuan_text(self.instance.subsidy_fen)}")
        return data


class FlashItemForm(forms.ModelForm):
    """One SKU of a session. Saved by campaigns.services.activities.flash_item_save, not by the form."""

    flash_price_fen = YuanFormField(label="秒杀价（元）")
    confirm_below_cost = forms.BooleanField(
        label="确认低于成本价", required=False,
        help_text="秒杀价低于成本价时，需有“可确认低于成本价的活动价”权限的运营勾选")

    # Set per request by the admin (FlashItemInline.get_formset): who is saving.
    operator: AbstractBaseUser | None = None

    class Meta:
        model = FlashItem
        fields = ["sku", "flash_price_fen", "stock_total", "per_member_limit", "sort", "confirm_below_cost"]
        widgets = {"stock_total": forms.NumberInput(attrs={"style": "width: 5em"}),
                   "per_member_limit": forms.NumberInput(attrs={"style": "width: 4em"}),
                   "sort": forms.NumberInput(attrs={"style": "width: 4em"})}

    def check_delete(self) -> None:
        """An item orders refer to stays (flash_item_delete refuses it too): say so in words.

        Replaces the inline's generic protected-objects check (FlashItemInline.get_formset)."""
        if not self.cleaned_data.get("DELETE") or not self.instance.pk:
            return
        item = self.instance
        if item.stock_left != item.stock_total or item.reservations.exists():
            taken = item.stock_total - item.stock_left
            raise ValidationError(f"“{item.sku}”已有订单（售出或占用 {taken} 件），不能删除；可把活动库存改为已售数量")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        sku, price = data.get("sku"), data.get("flash_price_fen")
        if data.get("DELETE") or sku is None or price is None:
            return data
        if price < 0:
            self.add_error("flash_price_fen", "秒杀价不能为负数")
            return data
        current = self.instance if self.instance.pk else None
        unchanged = current is not None and current.sku_id == sku.pk and current.flash_price_fen == price
        try:
            flash_item_price_check(sku_id=sku.pk, flash_price_fen=price,
                                   confirm_below_cost=bool(data.get("confirm_below_cost")), operator=self.operator,
                                   confirmed_before=unchanged and current is not None and current.below_cost_confirmed)
        except DomainError as exc:
            self.add_error("flash_price_fen", exc.message)
        if current is not None and current.sku_id != sku.pk and current.stock_left != current.stock_total:
            self.add_error("sku", "该商品已有订单，不能更换 SKU；可新增一行")
        total = data.get("stock_total")
        if current is not None and total is not None:
            taken = current.stock_total - current.stock_left
            if total < taken:
                self.add_error("stock_total", f"活动库存不能少于已售出及待支付的 {taken} 件")
        return data
