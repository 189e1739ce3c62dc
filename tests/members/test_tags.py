"""Tags in the console: bulk 打标签 / 移除标签, import with a dry-run preview, export, the services."""

from __future__ import annotations

import pytest
from django.contrib.admin import helpers
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from members.models import MemberAudit, MemberTag, Tag
from members.services import member_delete_account, tag_add, tag_remove
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def _pairs() -> set[tuple[int, str]]:
    return set(MemberTag.objects.values_list("member_id", "tag__name"))


def test_tag_add_is_idempotent_and_skips_deleted_members(admin_user):
    a, b, gone = MemberFactory.create(), MemberFactory.create(), MemberFactory.create()
    member_delete_account(member_id=gone.pk)
    tag = Tag.objects.create(name="高价值")

    assert tag_add(tag=tag, member_ids=[a.pk, b.pk, gone.pk, 999999], operator=admin_user) == 2
    assert tag_add(tag=tag, member_ids=[a.pk, b.pk], operator=admin_user) == 0

    assert _pairs() == {(a.pk, "高价值"), (b.pk, "高价值")}
    assert MemberAudit.objects.filter(action="tag_added").count() == 2


def test_tag_remove_counts_what_it_removed(admin_user):
    a, b = MemberFactory.create(), MemberFactory.create()
    tag = Tag.objects.create(name="高价值")
    tag_add(tag=tag, member_ids=[a.pk], operator=admin_user)

    assert tag_remove(tag=tag, member_ids=[a.pk, b.pk], operator=admin_user) == 1
    assert tag_remove(tag=tag, member_ids=[a.pk], operator=admin_user) == 0
    assert _pairs() == set()
    assert list(MemberAudit.objects.filter(action="tag_removed").values_list("member_id", flat=True)) == [a.pk]


def test_the_member_list_action_tags_the_selected_members_with_a_new_tag(admin_client):
    a, b, c = MemberFactory.create(), MemberFactory.create(), MemberFactory.create()
    url = reverse("admin:members_member_changelist")
    selected = {"action": "add_tag", helpers.ACTION_CHECKBOX_NAME: [a.pk, b.pk]}

    form_page = admin_client.post(url, selected)
    assert form_page.status_code == 200
    assert "为所选会员打标签" in form_page.content.decode()

    response = admin_client.post(url, {**selected, "apply": "1", "new_tag": "母婴新客"}, follow=True)

    assert response.status_code == 200
    assert "已为 2 位会员打上标签“母婴新客”" in response.content.decode()
    assert _pairs() == {(a.pk, "母婴新客"), (b.pk, "母婴新客")}
    assert c.pk not in MemberTag.objects.values_list("member_id", flat=True)


def test_the_member_list_action_removes_a_tag(admin_client, admin_user):
    a, b = MemberFactory.create(), MemberFactory.create()
    tag = Tag.objects.create(name="高价值")
    tag_add(tag=tag, member_ids=[a.pk, b.pk], operator=admin_user)

    admin_client.post(reverse("admin:members_member_changelist"),
                      {"action": "remove_tag", helpers.ACTION_CHECKBOX_NAME: [a.pk], "apply": "1", "tag": tag.pk})

    assert _pairs() == {(b.pk, "高价值")}


def test_the_action_without_a_tag_asks_again_and_changes_nothing(admin_client):
    a = MemberFactory.create()

    response = admin_client.post(reverse("admin:members_member_changelist"),
                                 {"action": "add_tag", helpers.ACTION_CHECKBOX_NAME: [a.pk], "apply": "1"})

    assert response.status_code == 200
    assert "请选择标签或填写新标签名" in response.content.decode()
    assert not MemberTag.objects.exists()


def _csv(*rows: str) -> SimpleUploadedFile:
    content = "\n".join(["会员（ID/OpenID/手机号）,标签", *rows]) + "\n"
    return SimpleUploadedFile("tags.csv", content.encode("utf-8-sig"), content_type="text/csv")


def test_import_previews_then_tags_members_by_id_openid_and_phone(admin_client, admin_user):
    by_id = MemberFactory.create()
    by_openid, by_phone = MemberFactory.create(openid="o-import-1"), MemberFactory.create(phone="13900001111")
    rows = (f"{by_id.pk},高价值", "o-import-1,高价值", "13900001111,新客")

    preview = admin_client.post(reverse("admin:members_membertag_import"), {"format": "0", "import_file": _csv(*rows)})

    assert preview.status_code == 200
    assert preview.context["confirm_form"] is not None
    assert "确认导入" in preview.content.decode()
    assert not MemberTag.objects.exists() and not Tag.objects.exists()  # the dry run left nothing

    admin_client.post(reverse("admin:members_membertag_process_import"), preview.context["confirm_form"].initial,
                      follow=True)

    assert _pairs() == {(by_id.pk, "高价值"), (by_openid.pk, "高价值"), (by_phone.pk, "新客")}
    assert set(MemberTag.objects.values_list("operator_id", flat=True)) == {admin_user.pk}
    assert MemberAudit.objects.filter(action="tag_added").count() == 3


def test_import_with_an_unknown_member_shows_the_row_error_and_imports_nothing(admin_client):
    a = MemberFactory.create()

    response = admin_client.post(reverse("admin:members_membertag_import"),
                                 {"format": "0", "import_file": _csv(f"{a.pk},高价值", "o-nobody,高价值")})

    html = response.content.decode()
    assert "找不到会员：o-nobody" in html
    assert response.context.get("confirm_form") is None
    assert "确认导入" not in html
    assert not MemberTag.objects.exists() and not Tag.objects.exists()


def test_export_lists_member_tags(admin_client, admin_user):
    a = MemberFactory.create(nickname="小鱼", phone="13900002222")
    tag_add(tag=Tag.objects.create(name="高价值"), member_ids=[a.pk], operator=admin_user)

    response = admin_client.post(reverse("admin:members_membertag_export"),
                                 {"format": "0", "membertagresource_member": True, "membertagresource_tag": True,
                                  "membertagresource_nickname": True, "membertagresource_phone": True,
                                  "membertagresource_created_at": True, "resource": "0"})

    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    assert text.splitlines()[0] == "会员（ID/OpenID/手机号）,标签,昵称,手机号,打标时间"
    assert text.splitlines()[1].startswith(f"{a.pk},高价值,小鱼,13900002222,")
