"""Signing in to the console: lockout after repeated failures, and TOTP two-factor for money roles.

- **Lockout** is django-axes (settings in config/settings/signin.py): five failed sign-ins lock the
  account, and five from one address lock that address, for CONSOLE_LOCKOUT_MINUTES. A wrong
  two-factor code counts as a failed sign-in too (below), so the code cannot be guessed either.
- **Two-factor** is django-otp's TOTP device (any authenticator app). It is optional, for the roles
  that move money or hold every permission (财务, 超级管理员: TWO_FACTOR_ROLES): such an operator turns
  it on at 两步验证 (`two_factor_view`) by scanning a QR code and typing the first code. From then
  on the sign-in form refuses the password alone. 超级管理员 removes a lost phone's device under
  设置 › 两步验证设备, and the operator enrols again.
"""

from __future__ import annotations

import io
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.safestring import mark_safe
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.qr import write_qrcode_image

from config.console import FINANCE
from config.roles import SUPERUSER

TWO_FACTOR_ROLES = (SUPERUSER, FINANCE)
DEVICE_NAME = "身份验证器"


def may_use_two_factor(user: Any) -> bool:
    """Two-factor is offered to superusers and the 财务 and 超级管理员 roles."""
    return bool(user.is_superuser or user.groups.filter(name__in=TWO_FACTOR_ROLES).exists())


def confirmed_device(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


class ConsoleLoginForm(AdminAuthenticationForm):
    """The admin's sign-in form plus the authenticator's code, required once two-factor is on."""

    otp_token = forms.CharField(
        label="动态验证码", required=False, max_length=8,
        help_text="已开启两步验证的账号请填写身份验证器上的 6 位数字",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "otp_required": "该账号已开启两步验证，请填写身份验证器上的 6 位动态验证码",
        "otp_invalid": "动态验证码不正确或已过期，请重新输入",
        "otp_throttled": "动态验证码错误次数过多，请稍候片刻再输入",
    }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()  # the password (django-axes counts a wrong one)
        user = self.get_user()
        device = confirmed_device(user) if user is not None else None
        if device is None:
            return cleaned
        token = (cleaned.get("otp_token") or "").strip()
        if not token:
            raise forms.ValidationError(self.error_messages["otp_required"], code="otp_required")
        allowed, _ = device.verify_is_allowed()
        if allowed and device.verify_token(token):
            return cleaned
        # A wrong code (or one typed during django-otp's back-off) is a failed sign-in: django-axes
        # counts it towards the lockout, so the code cannot be guessed either.
        user_login_failed.send(sender=type(self), request=self.request,
                               credentials={"username": cleaned.get("username")})
        code = "otp_invalid" if allowed else "otp_throttled"
        raise forms.ValidationError(self.error_messages[code], code=code)


class EnrolForm(forms.Form):
    token = forms.CharField(label="动态验证码", max_length=8,
                            widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))


def two_factor_view(request: HttpRequest) -> HttpResponse:
    """两步验证: turn TOTP on (scan, then confirm with the first code) or see that it is on.

    Until confirmed, the device does not count at sign-in, so a half-finished enrolment never
    locks anyone out. Turning it off is the 超级管理员's (deleting the device), not a stolen session's.
    """
    user: Any = request.user
    if not may_use_two_factor(user):
        raise PermissionDenied
    context: dict[str, Any] = {**admin.site.each_context(request), "title": "两步验证"}
    device = confirmed_device(user)
    if device is not None:
        context["device"] = device
        return TemplateResponse(request, "admin/two_factor.html", context)
    pending, _ = TOTPDevice.objects.get_or_create(user=user, confirmed=False, defaults={"name": DEVICE_NAME})
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if pending.verify_token(form.cleaned_data["token"].strip()):
            pending.confirmed = True
            pending.save(update_fields=["confirmed"])
            messages.success(request, "两步验证已开启：以后登录需要填写身份验证器上的动态验证码")
            return HttpResponseRedirect(reverse("console-two-factor"))
        form.add_error("token", "动态验证码不正确，请确认手机时间准确后重新输入")
    svg = io.BytesIO()
    write_qrcode_image(pending.config_url, svg)
    # segno's SVG of our own otpauth:// URL: no markup from outside.
    context |= {"form": form, "qr_svg": mark_safe(svg.getvalue().decode()), "secret": _grouped(pending.config_url)}
    return TemplateResponse(request, "admin/two_factor.html", context)


def _grouped(config_url: str) -> str:
    """The base32 secret from the otpauth:// URL, in groups of four for typing by hand."""
    secret = config_url.split("secret=", 1)[1].split("&", 1)[0]
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def locked_out(request: HttpRequest, original_response: HttpResponse | None = None,
               credentials: dict[str, Any] | None = None) -> HttpResponse:
    """django-axes' answer to a locked account or address: the sign-in page with the reason, in Chinese."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "admin/locked_out.html", {"minutes": minutes, "limit": settings.AXES_FAILURE_LIMIT,
                                                     "title": "登录已锁定", "site_header": "小程序商城 运营后台"},
                  status=429)


def client_address(request: HttpRequest) -> str:
    """The signing-in client's address for the per-address lockout: behind NUM_PROXIES trusted proxies
    (nginx in production), the address the outermost of them saw, as DRF's throttles read it."""
    proxies = int(str(settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0))
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return str(request.META.get("REMOTE_ADDR", ""))
