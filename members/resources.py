"""Import/export of members and their tags (CSV / XLSX), with import-export's dry-run preview.

Member tags import: one row per (member, tag). The member column takes a member ID, an OpenID or
a phone number; the tag is a name (a new name creates the tag). Rows go through tag_add(), so
the import writes the same audit rows as the console's 打标签 action; a pair that already exists
is skipped. Members are exported read-only (they come from WeChat login, not from files).
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from import_export import resources, widgets
from import_export.fields import Field

from core.money import yuan
from core.privacy import console_phone
from members.models import Member, MemberTag, Tag
from members.services.segments import tag_add, tag_get_or_create

PHONE = re.compile(r"1\d{10}")


def member_lookup(text: str) -> Member:
    """The member a file names by ID, OpenID or phone; ValueError (shown on the row) otherwise."""
    text = str(text or "").strip()
    if re.fullmatch(r"\d+\.0", text):  # spreadsheets turn numbers into floats
        text = text[:-2]
    if not text:
        raise ValueError("会员不能为空")
    if PHONE.fullmatch(text):
        found = list(Member.objects.filter(phone=text, deleted_at__isnull=True)[:2])
        if len(found) > 1:
            raise ValueError(f"手机号 {text} 对应多个会员，请改用会员 ID")
    elif text.isdigit():
        found = list(Member.objects.filter(pk=int(text))[:1])
    else:
        found = list(Member.objects.filter(openid=text)[:1])
    if not found:
        raise ValueError(f"找不到会员：{text}")
    if found[0].deleted_at is not None:
        raise ValueError(f"会员 {text} 已注销")
    return found[0]


class MemberWidget(widgets.Widget):
    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Member:
        return member_lookup(value)

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return "" if value is None else str(value.pk)


class TagWidget(widgets.Widget):
    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Tag:
        name = str(value or "").strip()
        if not name:
            raise ValueError("标签不能为空")
        if len(name) > 32:
            raise ValueError("标签名不能超过 32 个字")
        return tag_get_or_create(name=name)

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return "" if value is None else value.name


class MemberTagResource(resources.ModelResource):
    member = Field(attribute="member", column_name="会员（ID/OpenID/手机号）", widget=MemberWidget())
    tag = Field(attribute="tag", column_name="标签", widget=TagWidget())
    nickname = Field(column_name="昵称", readonly=True)
    phone = Field(column_name="手机号", readonly=True)
    created_at = Field(column_name="打标时间", readonly=True)

    class Meta:
        model = MemberTag
        fields = ("member", "tag", "nickname", "phone", "created_at")
        import_id_fields = ("member", "tag")
        skip_unchanged = True
        report_skipped = True
        use_transactions = True

    def dehydrate_nickname(self, row: MemberTag) -> str:
        return row.member.nickname

    def dehydrate_phone(self, row: MemberTag) -> str:
        return console_phone(row.member.phone)

    def dehydrate_created_at(self, row: MemberTag) -> str:
        return timezone.localtime(row.created_at).strftime("%Y-%m-%d %H:%M")

    def get_instance(self, instance_loader: Any, row: dict[str, Any]) -> MemberTag | None:
        member = self.fields["member"].clean(row)
        tag = self.fields["tag"].clean(row)
        return MemberTag.objects.filter(member=member, tag=tag).first()

    def save_instance(self, instance: MemberTag, is_create: bool, row: Any, **kwargs: Any) -> None:
        """Through the service (audit rows); inside import-export's transaction, rolled back on a dry run."""
        tag_add(tag=instance.tag, member_ids=[instance.member_id], operator=kwargs.get("user"))
        saved = MemberTag.objects.filter(member_id=instance.member_id, tag=instance.tag).first()
        if saved is not None:
            instance.pk, instance.created_at = saved.pk, saved.created_at

    def get_queryset(self) -> QuerySet[MemberTag]:
        return MemberTag.objects.select_related("member", "tag").order_by("tag__name", "member_id")


class MemberExportResource(resources.ModelResource):
    """The member list as operators read it (no OpenID, no tokens, no session key)."""

    id = Field(attribute="id", column_name="会员ID")
    nickname = Field(attribute="nickname", column_name="昵称")
    phone = Field(column_name="手机号")
    gender = Field(column_name="性别")
    birthday = Field(attribute="birthday", column_name="生日", widget=widgets.DateWidget("%Y-%m-%d"))
    province = Field(attribute="province", column_name="省份")
    city = Field(attribute="city", column_name="城市")
    tier = Field(column_name="会员等级")
    growth = Field(attribute="growth", column_name="成长值")
    points_balance = Field(attribute="points_balance", column_name="积分余额")
    paid_order_count = Field(attribute="paid_order_count", column_name="支付订单数")
    paid_total = Field(column_name="累计支付（元）")
    last_paid_at = Field(column_name="最近支付")
    registered_at = Field(column_name="注册时间")
    tags = Field(column_name="标签")

    class Meta:
        model = Member
        fields = ("id", "nickname", "phone", "gender", "birthday", "province", "city", "tier", "growth",
                  "points_balance", "paid_order_count", "paid_total", "last_paid_at", "registered_at", "tags")
        export_order = fields

    def get_queryset(self) -> QuerySet[Member]:
        return Member.objects.select_related("tier").prefetch_related("member_tags__tag")

    def dehydrate_phone(self, member: Member) -> str:
        return console_phone(member.phone)

    def dehydrate_gender(self, member: Member) -> str:
        return member.get_gender_display()

    def dehydrate_tier(self, member: Member) -> str:
        return member.tier.name if member.tier else ""

    def dehydrate_paid_total(self, member: Member) -> str:
        return yuan(member.paid_total_fen)

    def dehydrate_last_paid_at(self, member: Member) -> str:
        return timezone.localtime(member.last_paid_at).strftime("%Y-%m-%d %H:%M") if member.last_paid_at else ""

    def dehydrate_registered_at(self, member: Member) -> str:
        return timezone.localtime(member.registered_at).strftime("%Y-%m-%d %H:%M")

    def dehydrate_tags(self, member: Member) -> str:
        return "、".join(sorted(mt.tag.name for mt in member.member_tags.all()))
