"""Shared pieces of the operator console: the site's name, yuan in and out, image checks, read-only.

Money is stored as integer fen everywhere (DESIGN.md §6); operators think and type in yuan. The
form field below is the only place the console converts, so every money input behaves the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Model
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from import_export.forms import SelectableFieldsExportForm

from core.errors import DomainError
from core.images import ImageRejected, image_clean, image_limits
from core.money import fen_from_yuan, yuan

admin.site.site_header = "小程序商城 运营后台"
admin.site.site_title = "小程序商城 运营后台"
admin.site.index_title = "运营概览"
# Django's own "view site" link points at "/", which serves nothing (the shop is the mini-program).
admin.site.site_url = None


# ---------------------------------------------------------------------------------------------
# Money


def short_time(value: dt.datetime | None) -> str:
    """A compact local timestamp for list columns: '2026-11-23 11:41'."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


def yuan_text(fen: int | None) -> str:
    """1999 -> '¥19.99'; None -> '—' (the admin's empty marker)."""
    if fen is None:
        return "—"
    return f"¥{yuan(fen)}"


def money_display(field: str, description: str) -> Callable[[Any, Model], str]:
    """A list/readonly column showing the fen field `field` as yuan, sortable by that field."""

    @admin.display(description=description, ordering=field)
    def display(self: Any, obj: Model) -> str:
        return yuan_text(getattr(obj, field))

    display.__name__ = f"{field.removesuffix('_fen')}_yuan"
    return display


class YuanFormField(forms.Field):
    """Accepts '19.99' (also '¥19.99', '1,299') and cleans to fen (1999); shows fen as '19.99'.

    `empty_fen` is what an empty box means: None for an optional amount (no free-shipping
    threshold), 0 for a price that defaults to nothing (cost, crossed-out price).
    """

    default_error_messages = {
        "invalid": "请输入金额，例如 19.99",
        "negative": "金额不能为负数",
    }

    def __init__(self, *, empty_fen: int | None = None, allow_negative: bool = False,
                 **kwargs: Any) -> None:
        # Model-derived kwargs for integer fields make no sense for a text box of yuan.
        for key in ("min_value", "max_value", "step_size", "max_length", "empty_value"):
            kwargs.pop(key, None)
        kwargs.setdefault("widget", forms.TextInput(attrs={"class": "vYuanField", "size": 6,
                                                           "inputmode": "decimal"}))
        self.empty_fen = empty_fen
        self.allow_negative = allow_negative
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return yuan(value)
        return value

    def to_python(self, value: Any) -> int | None:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = "" if value is None else str(value)
        text = text.replace("¥", "").replace("￥", "").replace(",", "").replace("，", "").strip()
        if not text:
            return self.empty_fen
        try:
            fen = fen_from_yuan(text)
        except ValueError as exc:
            raise ValidationError(str(exc), code="invalid") from exc
        if fen < 0 and not self.allow_negative:
            raise ValidationError(self.error_messages["negative"], code="negative")
        return fen

    def validate(self, value: Any) -> None:
        # 0 is an amount, not an empty box: only None is missing.
        if value is None and self.required:
            raise ValidationError(self.error_messages["required"], code="required")


def may_view(user: AbstractUser | AnonymousUser, model: str) -> bool:
    """Whether `user` may open the console list of `model` ("app_label.model_name").

    The admin's own rule (ModelAdmin.has_view_permission): the view or the change permission.
    """
    app_label, model_name = model.split(".")
    return user.has_perm(f"{app_label}.view_{model_name}") or user.has_perm(f"{app_label}.change_{model_name}")


def request_operator(request: HttpRequest) -> AbstractBaseUser | None:
    """The signed-in operator, for services that record who acted (audit rows, ledgers)."""
    user = request.user
    return user if isinstance(user, AbstractBaseUser) else None


# ---------------------------------------------------------------------------------------------
# Images

# image_clean()'s refusal codes -> this field's messages, in the console's words.
IMAGE_ERROR_CODES = {
    "image_too_large": "too_big",
    "image_unsupported_format": "format",
    "image_too_many_pixels": "too_many_pixels",
    "image_invalid": "invalid_image",
}


class ValidatedImageField(forms.ImageField):
    """An operator's upload, through the same core.images.image_clean() as shoppers' photos.

    Refused unless it is really a JPEG/PNG/WebP within IMAGE_UPLOAD_MAX_MB and
    IMAGE_UPLOAD_MAX_PIXELS (the size checked before Pillow reads the file, the pixels from the
    header before anything decodes, so a decompression bomb is refused cheaply). What is stored is
    the re-encoded image under a random name: no EXIF (GPS, camera), no appended payload, no
    operator's file name in the public URL.
    """

    default_error_messages = {
        "too_big": "图片不能超过 {max_mb:g} MB",
        "format": "仅支持 JPEG、PNG、WebP 格式的图片",
        "too_many_pixels": "图片尺寸过大（不能超过 {max_wan_pixels:g} 万像素）",
        "invalid_image": "请上传有效的图片文件",
    }

    def to_python(self, data: Any) -> Any:
        if not isinstance(data, UploadedFile):
            return super().to_python(data)
        try:
            clean = image_clean(data)
        except ImageRejected as exc:
            code = IMAGE_ERROR_CODES.get(exc.code, "invalid_image")
            max_bytes, max_pixels = image_limits()
            message = self.error_messages[code].format(max_mb=max_bytes / (1024 * 1024),
                                                       max_wan_pixels=max_pixels / 10_000)
            raise ValidationError(message, code=code) from exc
        return clean.file


# ---------------------------------------------------------------------------------------------
# Read-only admins (ledgers, payments, members: the console looks, services write)


class ReadOnlyAdminMixin:
    """View-only: no add, no edit, no delete. Django then renders every field read-only."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# An inline class (styled in templates/admin/base_site.html) that drops the caption Django prints
# above each tabular row: for models without __str__ it reads "OrderLine object (22)".
NO_CAPTION = "mall-no-caption"


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    classes = [NO_CAPTION]
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False


class AuditTrailInline(ReadOnlyInline):
    """A state machine's audit trail (core.audit.AuditEvent rows) on its subject's page: when, what
    (the action's label, from the model's choices), who, the status it moved from and to, and why."""

    fields: ClassVar[tuple[str, ...]] = ("created_at", "action", "actor", "operator", "transition", "note")
    readonly_fields: ClassVar[tuple[str, ...]] = fields

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("operator").order_by("id")

    @admin.display(description="状态变化")
    def transition(self, event: Any) -> str:
        before, after = event.get_from_status_display(), event.get_to_status_display()
        if not before and not after:
            return "—"
        if before == after:
            return str(after)  # a decision taken in that status
        return f"{before or '—'} → {after or '—'}"


# ---------------------------------------------------------------------------------------------
# Import/export


class ExportFieldsForm(SelectableFieldsExportForm):
    """The export page's column checkboxes, labelled with the file's (Chinese) column headers.

    import-export titles them from the attribute name ("Order No (订单号)"), which operators
    should not have to read.
    """

    def _get_field_label(self, resource: Any, field_name: str) -> str:
        field = resource.fields.get(field_name)
        return str(field.column_name) if field is not None else field_name


# ---------------------------------------------------------------------------------------------
# Buttons that call a service


class ServiceViewMixin:
    """A ModelAdmin's buttons that call services (审核通过, 驳回, 打款…) on one object: GET shows what
    is decided (facts) and the form, a valid POST calls the service and goes back to the object.

    A DomainError (another operator was faster, maker-checker, a wrong status) is shown as the
    service worded it and the form stays filled in. Rendered by admin/service_form.html, which
    extends the console's one action page (admin/shop/action_form.html).
    """

    def has_operate_permission(self, request: HttpRequest) -> bool:
        model_admin: Any = self
        opts = model_admin.model._meta
        return bool(request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}"))

    def service_view(self, request: HttpRequest, object_id: str, *, title: str, button: str,
                     perform: Callable[[Any, dict[str, Any]], str], facts: Callable[[Any], list[tuple[str, Any]]],
                     form_class: type[forms.Form] = forms.Form, danger: bool = False) -> Any:
        model_admin: Any = self
        if not self.has_operate_permission(request):
            raise PermissionDenied
        obj = model_admin.get_object(request, unquote(object_id))
        if obj is None:
            return model_admin._get_obj_does_not_exist_redirect(request, model_admin.opts, object_id)
        form = form_class(request.POST if request.method == "POST" else None)
        opts = model_admin.opts
        change_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        if request.method == "POST" and form.is_valid():
            try:
                done = perform(obj, form.cleaned_data)
            except DomainError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, done)
                return HttpResponseRedirect(change_url)
        context = {
            **model_admin.admin_site.each_context(request),
            "title": f"{title}：{obj}", "action_title": title, "button": button, "danger": danger, "opts": opts,
            "object_id": obj.pk, "object_name": str(obj), "facts": facts(obj), "form": form,
        }
        return TemplateResponse(request, "admin/service_form.html", context)
