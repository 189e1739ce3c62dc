"""Third-party console pages in Chinese: the beat schedule, and the user and group editors.

The beat schedule: each job by its Chinese label, the code's slug beside it, its timing in words.
settings.PERIODIC_TASKS owns a job's slug (PeriodicTask.name, the key `sync_periodic_tasks`
matches on) and its label (the description); operators pause and resume. Renaming a job defined
in code would detach it from the code (the next sync would create it again), so there its name
is read-only.

Users and groups: Django stores permission names in English ("Can add 订单"); the editors show
them as 新增订单 / 修改订单 / 删除订单 / 查看订单.
"""

from __future__ import annotations

from typing import Any

from axes.models import AccessAttempt, AccessLog
from cron_descriptor import ExpressionDescriptor, Options
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, Permission, User
from django.db.models import ManyToManyField
from django.forms import ModelMultipleChoiceField
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django_celery_beat.admin import PeriodicTaskAdmin
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from django_otp.plugins.otp_totp.models import TOTPDevice

from config.roles import ROLES, SUPERUSER
from config.signin import ConsoleLoginForm
from core.admin import short_time

admin.site.unregister(PeriodicTask)
admin.site.unregister(Group)
admin.site.unregister(User)

CRON_WORDS = Options()
CRON_WORDS.locale_code = "zh_CN"
CRON_WORDS.use_24hour_time_format = True


def crontab_in_words(crontab: CrontabSchedule) -> str:
    """'30 2 * * *' -> '每天 02:30', '*/5 * * * *' -> '每 5 分钟' (cron_descriptor's Chinese otherwise),
    with the time zone when it is not Shanghai's."""
    expression = " ".join([crontab.minute, crontab.hour, crontab.day_of_month, crontab.month_of_year,
                           crontab.day_of_week])
    daily = (crontab.day_of_month, crontab.month_of_year, crontab.day_of_week) == ("*", "*", "*")
    if daily and crontab.minute.isdigit() and crontab.hour.isdigit():
        words = f"每天 {int(crontab.hour):02d}:{int(crontab.minute):02d}"
    else:
        words = _described(expression)
    zone = str(crontab.timezone)
    return words if zone == settings.TIME_ZONE else f"{words}（{zone}）"


def _described(expression: str) -> str:
    try:
        return str(ExpressionDescriptor(expression, CRON_WORDS).get_description())
    except Exception:  # noqa: BLE001 - an expression it cannot read is shown as written
        return expression


class TaskNameFilter(admin.AllValuesFieldListFilter):
    # django-celery-beat's field is verbose_name='Task Name', not marked for translation.
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.title = "任务函数"


@admin.register(PeriodicTask)
class ScheduledJobAdmin(PeriodicTaskAdmin):
    list_display = ("label", "name", "enabled", "timing", "start_time", "last_run_at", "one_off")
    list_filter = ["enabled", "one_off", ("task", TaskNameFilter), "start_time", "last_run_at"]
    list_select_related = ["crontab", "interval", "solar", "clocked"]
    search_fields = ("description", "name", "task")
    change_form_template = "admin/django_celery_beat/periodictask/change_form.html"

    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        words = {crontab.pk: crontab_in_words(crontab) for crontab in CrontabSchedule.objects.all()}
        return super().changeform_view(request, object_id, form_url,
                                       extra_context={**(extra_context or {}), "crontabs_in_words": words})

    @admin.display(description="任务", ordering="description")
    def label(self, obj: PeriodicTask) -> str:
        return obj.description or obj.name

    @admin.display(description="执行周期")
    def timing(self, obj: PeriodicTask) -> str:
        if obj.crontab is not None:
            return crontab_in_words(obj.crontab)
        return str(obj.interval or obj.solar or obj.clocked or "—")

    @admin.display(description="周期说明")
    def crontab_translation(self, obj: PeriodicTask) -> str:
        return crontab_in_words(obj.crontab) if obj.crontab is not None else "—"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        defined_in_code = {entry["name"] for entry in settings.PERIODIC_TASKS}
        if obj is not None and obj.name in defined_in_code:
            return (*fields, "name")
        return fields


ACTIONS = {"add": "新增", "change": "修改", "delete": "删除", "view": "查看"}


# Apps and models whose own names are not Chinese (no verbose_name, or one not marked for translation).
APP_NAMES = {"axes": "登录保护", "otp_totp": "两步验证"}
MODEL_NAMES = {"otp_totp.totpdevice": "两步验证设备"}


def permission_label(permission: Permission) -> str:
    """'商城 | 订单 | 新增订单' for Django's four default permissions; a custom one by its own name."""
    content_type = permission.content_type
    model = content_type.model_class()
    app = model._meta.app_config.verbose_name if model is not None else content_type.app_label
    app = APP_NAMES.get(content_type.app_label, app)
    name = str(model._meta.verbose_name) if model is not None else content_type.model
    name = MODEL_NAMES.get(f"{content_type.app_label}.{content_type.model}", name)
    action, _, rest = permission.codename.partition("_")
    text = f"{ACTIONS[action]}{name}" if action in ACTIONS and rest == content_type.model else permission.name
    return f"{app} | {name} | {text}"


class ChinesePermissionsMixin:
    def formfield_for_manytomany(self, db_field: ManyToManyField, request: HttpRequest,
                                 **kwargs: Any) -> ModelMultipleChoiceField | None:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]
        if field is not None and db_field.name in ("permissions", "user_permissions"):
            field.label_from_instance = permission_label
        return field


@admin.register(Group)
class RoleAdmin(ChinesePermissionsMixin, GroupAdmin):
    """Groups. The console's roles (config.roles) are defined in code and shown read-only, their
    permissions in words; other groups are edited as usual."""

    list_display = ("name", "kind")

    @admin.display(description="类型")
    def kind(self, group: Group) -> str:
        return "内置角色（代码定义）" if group.name in ROLES else "自定义"

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and obj.name in ROLES:
            return ("name", "granted")
        return super().get_fields(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and obj.name in ROLES:
            return ("name", "granted")
        return super().get_readonly_fields(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return (obj is None or obj.name not in ROLES) and super().has_delete_permission(request, obj)

    @admin.display(description="权限（由 config/roles.py 定义，随发布更新）")
    def granted(self, group: Group) -> str:
        if group.name == SUPERUSER:
            return "全部权限"
        labels = sorted(permission_label(p) for p in group.permissions.select_related("content_type"))
        return format_html_join(mark_safe("<br>"), "{}", ((label,) for label in labels))


@admin.register(User)
class OperatorAdmin(ChinesePermissionsMixin, UserAdmin):
    pass


# ---------------------------------------------------------------------------------------------
# Signing in (config/signin.py): the form with the two-factor code, the attempts, the devices

admin.site.login_form = ConsoleLoginForm
admin.site.unregister(TOTPDevice)


@admin.register(AccessAttempt)
class FailedSignInAdmin(admin.ModelAdmin):
    """登录失败记录: failures per account and address since the last success; deleting a row unlocks it."""

    list_display = ("username", "ip_address", "failures", "locked", "attempt_time")
    list_filter = ("attempt_time",)
    search_fields = ("username", "ip_address")
    search_help_text = "按账号或网络地址搜索"
    fields = readonly_fields = ("username", "ip_address", "failures", "locked", "attempt_time", "path_info",
                                "user_agent")
    ordering = ("-attempt_time",)

    @admin.display(description="失败次数", ordering="failures_since_start")
    def failures(self, attempt: AccessAttempt) -> int:
        return attempt.failures_since_start

    @admin.display(description="状态")
    def locked(self, attempt: AccessAttempt) -> str:
        if attempt.failures_since_start >= settings.AXES_FAILURE_LIMIT:
            return "已锁定（删除此记录即解锁）"
        return f"还可尝试 {settings.AXES_FAILURE_LIMIT - attempt.failures_since_start} 次"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AccessLog)
class SignInLogAdmin(admin.ModelAdmin):
    """登录日志: every successful sign-in to the console, and when it signed out."""

    list_display = ("username", "ip_address", "attempt_time", "logout_time")
    list_filter = ("attempt_time",)
    search_fields = ("username", "ip_address")
    search_help_text = "按账号或网络地址搜索"
    fields = readonly_fields = ("username", "ip_address", "attempt_time", "logout_time", "user_agent")
    ordering = ("-attempt_time",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TOTPDevice)
class TwoFactorDeviceAdmin(admin.ModelAdmin):
    """两步验证设备: who has turned two-factor on. Deleting a device (a lost phone) lets its operator sign
    in with the password again and enrol anew at 两步验证; nothing else is edited here."""

    list_display = ("user", "device_name", "state", "created", "last_used")
    list_filter = ("confirmed",)
    list_select_related = ("user",)
    search_fields = ("user__username",)
    search_help_text = "按后台用户名搜索"
    fields = readonly_fields = ("user", "device_name", "state", "created", "last_used")

    @admin.display(description="名称")
    def device_name(self, device: TOTPDevice) -> str:
        return device.name

    @admin.display(description="状态", ordering="confirmed")
    def state(self, device: TOTPDevice) -> str:
        return "已开启" if device.confirmed else "未完成开启"

    @admin.display(description="开启时间", ordering="created_at")
    def created(self, device: TOTPDevice) -> str:
        return short_time(device.created_at)

    @admin.display(description="最近使用", ordering="last_used_at")
    def last_used(self, device: TOTPDevice) -> str:
        return short_time(device.last_used_at)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    # django-otp names the model "TOTP device", a string not marked for translation.
    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return super().changelist_view(request, {"title": "两步验证设备", **(extra_context or {})})

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return super().change_view(request, object_id, form_url, {"title": "查看两步验证设备", **(extra_context or {})})
