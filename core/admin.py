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
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.utils import unquote
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Model
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from import_export.forms import SelectableFieldsExportForm

from core.errors import DomainError
from core.images import ImageRejected, image_clean, image_limits
from core.money import fen_from_yuan, yuan
from core.privacy import console_phone

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


def phone_display(field: str, description: str) -> Callable[[Any, Model], str]:
    """A list/readonly column showing the phone field `field` as the operator may read it
    (core.privacy.console_phone: whole, or 138****8000)."""

    @admin.display(description=description, ordering=field)
    def display(self: Any, obj: Model) -> str:
        return console_phone(getattr(obj, field)) or "—"

    display.__name__ = f"{field}_shown"
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
# Who did what

HISTORY_ROWS = 50


def log_operator_write(request: HttpRequest, obj: Model | list[Model], message: str) -> None:
    """Record in the admin log (LogEntry, "修改") a write an operator made through a service button or
    action on `obj` (or each of a list, in one insert), worded as the console told them ("订单 … 已发货").
    Edits through Django's own forms are logged by the admin itself; the service writes its domain
    audit row (core.audit) as well."""
    user = request_operator(request)
    objs = obj if isinstance(obj, list) else [obj]
    if user is None or not objs:
        return
    # One row, or one insert of all (single_object=False).
    LogEntry.objects.log_actions(user_id=user.pk, queryset=objs, action_flag=CHANGE,
                                 change_message=message[:1000])


def operator_history(obj: Model) -> str:
    """The admin log of `obj`, newest first: when, who, what (a mini table for a read-only field)."""
    entries = (LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk))
               .select_related("user").order_by("-action_time")[:HISTORY_ROWS])
    rows = [(short_time(e.action_time), str(e.user), ACTION_WORDS.get(e.action_flag, "—"),
             e.get_change_message() or "—") for e in entries]
    if not rows:
        return "暂无后台操作"
    body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
    return format_html('<table class="mall-mini-table"><thead><tr><th>时间</th><th>操作员</th><th>操作</th>'
                       "<th>说明</th></tr></thead><tbody>{}</tbody></table>", body)


ACTION_WORDS = {1: "新增", 2: "修改", 3: "删除"}


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


class ExportPermissionMixin:
    """Exports need the model's own export permission ("shop.export_order"), not only the list's view
    permission: a file of orders or members leaves the console (config.roles gives it to 财务 / 运营)."""

    def has_export_permission(self, request: HttpRequest) -> bool:
        opts = self.opts  # type: ignore[attr-defined]
        return bool(request.user.has_perm(f"{opts.app_label}.export_{opts.model_name}"))


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
                log_operator_write(request, obj, done)
                return HttpResponseRedirect(change_url)
        context = {
            **model_admin.admin_site.each_context(request),
            "title": f"{title}：{obj}", "action_title": title, "button": button, "danger": danger, "opts": opts,
            "object_id": obj.pk, "object_name": str(obj), "facts": facts(obj), "form": form,
        }
        return TemplateResponse(request, "admin/service_form.html", context)
