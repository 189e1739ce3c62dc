"""Redemption-code console: batches by 生成 or 导入 (a preview first; a bad file creates nothing),
redeemed / total per batch, and a batch's codes exported as CSV (BOM, for Excel) or XLSX."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from campaigns.admin.codes import IMPORT_SALT
from campaigns.admin.uploads import sign
from campaigns.models import CodeBatch, RedeemCode
from campaigns.services.codes import code_batch_import, code_redeem
from tests.admin.support_pages import cell, page
from tests.factories import CouponTemplateFactory, MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def template():
    return CouponTemplateFactory.create(name="咖啡联名券")


def csv_file(lines: list[str], name: str = "codes.csv", encoding: str = "utf-8-sig") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, "\n".join(lines).encode(encoding), content_type="text/csv")


def xlsx_file(values: list[object], name: str = "codes.xlsx") -> SimpleUploadedFile:
    workbook = Workbook()
    sheet = workbook.active
    for value in values:
        sheet.append([value])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue())


def import_post(template, upload) -> dict[str, object]:
    return {"template": str(template.pk), "name": "咖啡店 12 月", "partner": "某某咖啡", "file": upload}


def test_batch_list_shows_redeemed_of_total_and_the_buttons(admin_client, template):
    batch = code_batch_import(template_id=template.pk, name="联名第一批", partner="某某咖啡",
                              codes=["COFFEE0001", "COFFEE0002", "COFFEE0003"])
    code_redeem(member=MemberFactory.create(), code="coffee-0001")

    html = page(admin_client.get(reverse("admin:campaigns_codebatch_changelist")))

    for label in ("兑换码批次", "批次名称", "合作方", "兑换的优惠券", "已兑换 / 总数", "生成兑换码", "导入兑换码",
                  "导出"):
        assert label in html
    assert cell(html, "联名第一批", "redeemed") == "1 / 3"
    assert cell(html, "联名第一批", "origin") == "导入"
    assert batch.pk


def test_batch_list_query_count_does_not_grow_with_rows(admin_client, template, django_assert_max_num_queries):
    url = reverse("admin:campaigns_codebatch_changelist")
    code_batch_import(template_id=template.pk, name="批次0", partner="", codes=["BATCH0CODE1"])
    admin_client.get(url)
    with django_assert_max_num_queries(8) as few:
        page(admin_client.get(url))
    for index in range(1, 21):
        code_batch_import(template_id=template.pk, name=f"批次{index}", partner="", codes=[f"BATCH{index}CODE1"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = page(admin_client.get(url))
    assert html.count('class="field-redeemed"') == 21


def test_generate_a_batch(admin_client, admin_user, template):
    url = reverse("admin:campaigns_codebatch_generate")
    assert "生成数量" in page(admin_client.get(url))

    html = page(admin_client.post(url, {"template": str(template.pk), "name": "门店赠卡", "partner": "",
                                        "quantity": "50"}, follow=True))

    batch = CodeBatch.objects.get()
    assert (batch.name, batch.origin, batch.quantity, batch.created_by, batch.template_id) == (
        "门店赠卡", CodeBatch.Origin.GENERATED, 50, admin_user, template.pk)
    assert RedeemCode.objects.filter(batch=batch).count() == 50
    assert "已生成 50 个兑换码（批次“门店赠卡”）" in html
    assert "兑换码（前 20 个）" in html and "0 / 50" in html


def test_generate_refuses_a_bad_quantity(admin_client, template):
    html = page(admin_client.post(reverse("admin:campaigns_codebatch_generate"), {
        "template": str(template.pk), "name": "太多了", "partner": "", "quantity": "100001"}))

    assert "确保该值小于或等于100000" in html
    assert not CodeBatch.objects.exists()


def test_import_previews_then_confirms(admin_client, admin_user, template):
    url = reverse("admin:campaigns_codebatch_import")
    assert "第一列" in page(admin_client.get(url))

    preview = page(admin_client.post(url, import_post(template, csv_file(
        ["兑换码", "coffee0001", "COFFEE0002", "", "Coffee0003"]))))

    assert "预览（尚未导入）" in preview and "共 <strong>3</strong> 个兑换码" in preview and "全部可以导入" in preview
    assert "确认导入（3 个）" in preview
    assert not CodeBatch.objects.exists() and not RedeemCode.objects.exists()
    token = preview.split('name="token" value="')[1].split('"')[0]

    done = page(admin_client.post(url, {"token": token}, follow=True))

    batch = CodeBatch.objects.get()
    assert (batch.origin, batch.quantity, batch.partner, batch.created_by) == (
        CodeBatch.Origin.IMPORTED, 3, "某某咖啡", admin_user)
    assert sorted(RedeemCode.objects.values_list("code", flat=True)) == ["COFFEE0001", "COFFEE0002", "COFFEE0003"]
    assert "已导入 3 个兑换码" in done


def test_import_from_xlsx(admin_client, template):
    url = reverse("admin:campaigns_codebatch_import")
    preview = page(admin_client.post(url, import_post(template, xlsx_file(["兑换码", "PARTNER001", 20261234]))))
    token = preview.split('name="token" value="')[1].split('"')[0]

    admin_client.post(url, {"token": token})

    assert sorted(RedeemCode.objects.values_list("code", flat=True)) == ["20261234", "PARTNER001"]


def test_a_file_with_duplicates_is_refused_with_its_rows_and_creates_nothing(admin_client, template):
    code_batch_import(template_id=template.pk, name="旧批次", partner="", codes=["TAKEN0001"])
    before = RedeemCode.objects.count()

    html = page(admin_client.post(reverse("admin:campaigns_codebatch_import"), import_post(template, csv_file(
        ["兑换码", "GOOD0001", "DUP00001", "dup00001", "TAKEN0001", "bad!"]))))

    assert "有问题 <strong>3</strong> 行" in html
    assert "<td>4</td><td><code>dup00001</code></td><td class=\"cmp-failed\">✗ 与文件中前面的行重复</td>" in html
    assert "<td>5</td><td><code>TAKEN0001</code></td><td class=\"cmp-failed\">✗ 兑换码已存在</td>" in html
    assert "<td>6</td><td><code>bad!</code></td><td class=\"cmp-failed\">✗ 格式不正确" in html
    assert 'name="token"' not in html and "确认导入" not in html
    assert CodeBatch.objects.count() == 1 and RedeemCode.objects.count() == before


def test_a_confirmation_the_service_refuses_creates_nothing_and_names_the_file_rows(admin_client, template):
    # A token signed for a list with a repeat (as if the file changed hands): the service checks again.
    token = sign({"template_id": template.pk, "name": "被篡改", "partner": "", "codes": ["AAAA1111", "AAAA1111"],
                  "rows": [2, 3]}, salt=IMPORT_SALT)

    html = page(admin_client.post(reverse("admin:campaigns_codebatch_import"), {"token": token}))

    assert "导入失败，未导入任何兑换码" in html and "兑换码导入失败：1 行有误" in html
    assert "<td>3</td><td><code>AAAA1111</code></td>" in html
    assert not CodeBatch.objects.exists() and not RedeemCode.objects.exists()


def test_an_altered_token_is_refused(admin_client, template):
    html = page(admin_client.post(reverse("admin:campaigns_codebatch_import"), {"token": "forged"}, follow=True))

    assert "预览已过期或内容被修改，请重新上传文件" in html
    assert not CodeBatch.objects.exists()


def test_an_empty_or_wrong_file_is_refused(admin_client, template):
    url = reverse("admin:campaigns_codebatch_import")

    assert "文件中没有数据行" in page(admin_client.post(url, import_post(template, csv_file(["兑换码", ""]))))
    assert "仅支持 CSV 或 XLSX 文件" in page(admin_client.post(url, import_post(
        template, SimpleUploadedFile("codes.txt", b"ABCD1234"))))
    assert "无法读取该 XLSX 文件" in page(admin_client.post(url, import_post(
        template, SimpleUploadedFile("codes.xlsx", b"not a workbook"))))
    assert not CodeBatch.objects.exists()


@pytest.fixture
def redeemed_batch(template):
    batch = code_batch_import(template_id=template.pk, name="联名/第一批", partner="某某咖啡",
                              codes=["COFFEE0001", "COFFEE0002"])
    code_redeem(member=MemberFactory.create(nickname="喝咖啡的人"), code="COFFEE0002")
    return batch


def test_export_csv_with_bom_and_redeemed_status(admin_client, redeemed_batch):
    response = admin_client.get(reverse("admin:campaigns_codebatch_export", args=[redeemed_batch.pk, "csv"]))

    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f"attachment; filename*=utf-8''{quote('兑换码-联名_第一批.csv')}"
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["兑换码", "批次", "合作方", "兑换的优惠券", "状态", "兑换时间", "兑换会员"]
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows[1:]] == [
        ("COFFEE0001", "联名/第一批", "某某咖啡", "咖啡联名券", "未兑换"),
        ("COFFEE0002", "联名/第一批", "某某咖啡", "咖啡联名券", "已兑换")]
    assert rows[1][5:] == ["", ""] and rows[2][5] != "" and rows[2][6].startswith("喝咖啡的人（ID ")


def test_export_xlsx(admin_client, redeemed_batch):
    response = admin_client.get(reverse("admin:campaigns_codebatch_export", args=[redeemed_batch.pk, "xlsx"]))

    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [tuple(cell.value for cell in row[:5]) for row in sheet.iter_rows()]
    assert rows == [("兑换码", "批次", "合作方", "兑换的优惠券", "状态"),
                    ("COFFEE0001", "联名/第一批", "某某咖啡", "咖啡联名券", "未兑换"),
                    ("COFFEE0002", "联名/第一批", "某某咖啡", "咖啡联名券", "已兑换")]


def test_codes_are_searchable_as_a_shopper_types_them(admin_client, redeemed_batch):
    html = page(admin_client.get(reverse("admin:campaigns_redeemcode_changelist"), {"q": "coffee-0002"}))

    assert "COFFEE0002" in html and "COFFEE0001" not in html and "已兑换" in html
    assert admin_client.get(reverse("admin:campaigns_codebatch_delete", args=[redeemed_batch.pk])).status_code == 403
