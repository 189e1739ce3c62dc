"""Redemption codes (兑换码) for partner brands: generated or imported batches, each code redeemable once."""

from __future__ import annotations

import re
from typing import Any

import pytest

from campaigns.errors import CodeImportInvalid, CodeQuantityInvalid, CouponTemplateNotFound
from campaigns.models import CodeBatch, Coupon, CouponEvent, CouponQuota, CouponSource, RedeemCode
from campaigns.selectors.delivery import code_batch_codes, code_batch_list_with_counts
from campaigns.services.codes import ALPHABET, MAX_BATCH, code_batch_generate, code_batch_import, code_redeem
from tests.factories import CouponTemplateFactory
from tests.fixtures import make_shopper

pytestmark = pytest.mark.django_db


def redeem(shopper, code: str):
    return shopper.client.post("/api/v1/coupons/redeem", {"code": code}, format="json")


def imported(codes: list[str], template=None) -> CodeBatch:
    template = template or CouponTemplateFactory.create()
    return code_batch_import(template_id=template.pk, name="京东联名", partner="京东",
                             codes=codes)


# --- generating and importing ----------------------------------------------------------------


def test_a_generated_batch_has_the_asked_number_of_distinct_unambiguous_codes():
    template = CouponTemplateFactory.create()

    batch = code_batch_generate(template_id=template.pk, name="星巴克联名", partner="星巴克", quantity=500)

    codes = list(code_batch_codes(batch_id=batch.pk).values_list("code", flat=True))
    assert (batch.quantity, batch.origin, batch.template_id, batch.partner) == (500, "generated", template.pk, "星巴克")
    assert len(codes) == len(set(codes)) == 500
    assert all(re.fullmatch(f"[{ALPHABET}]{{12}}", code) for code in codes)
    assert not any(ch in code for code in codes for ch in "01IO")


def test_generating_a_large_batch_is_one_bulk_insert_per_twenty_thousand(django_assert_max_num_queries):
    template = CouponTemplateFactory.create()

    with django_assert_max_num_queries(12):
        batch = code_batch_generate(template_id=template.pk, name="大批量", partner="", quantity=50_000)

    assert RedeemCode.objects.filter(batch=batch).count() == 50_000


@pytest.mark.parametrize("quantity", [0, -1, MAX_BATCH + 1, True])
def test_a_quantity_out_of_range_is_refused_and_nothing_is_created(quantity):
    template = CouponTemplateFactory.create()

    with pytest.raises(CodeQuantityInvalid) as refused:
        code_batch_generate(template_id=template.pk, name="x", partner="", quantity=quantity)

    assert (refused.value.status, refused.value.detail["max"]) == (400, 100_000)
    assert (CodeBatch.objects.count(), RedeemCode.objects.count()) == (0, 0)


def test_a_batch_for_an_unknown_template_is_refused():
    with pytest.raises(CouponTemplateNotFound):
        code_batch_generate(template_id=987654, name="x", partner="", quantity=1)
    assert CodeBatch.objects.count() == 0


def test_an_import_is_normalised_and_skips_blank_lines():
    batch = imported(["  jd2026aaa1 ", "JD2026AAA2", "", "   ", "jd2026aaa3"])

    assert (batch.origin, batch.quantity) == ("imported", 3)
    assert list(code_batch_codes(batch_id=batch.pk).values_list("code", flat=True)) == [
        "JD2026AAA1", "JD2026AAA2", "JD2026AAA3"]


def test_an_import_with_bad_rows_is_refused_as_a_whole_listing_every_bad_row():
    imported(["TAKEN0001"])

    with pytest.raises(CodeImportInvalid) as refused:
        imported(["GOOD0001", "bad code", "good0001", "ab", "taken0001", "GOOD0002", "码码码码"])

    assert refused.value.status == 400
    assert refused.value.detail["error_count"] == 5
    assert [(r["row"], r["code"], r["reason"]) for r in refused.value.detail["rows"]] == [
        (2, "BAD CODE", "format"), (3, "GOOD0001", "duplicate"), (4, "AB", "format"), (5, "TAKEN0001", "exists"),
        (7, "码码码码", "format")]
    assert refused.value.detail["rows"][1]["message"] == "与文件中前面的行重复"
    assert CodeBatch.objects.count() == 1
    assert sorted(RedeemCode.objects.values_list("code", flat=True)) == ["TAKEN0001"]


def test_an_empty_import_is_refused():
    with pytest.raises(CodeQuantityInvalid):
        imported(["", "  "])
    assert CodeBatch.objects.count() == 0


# --- redeeming ------------------------------------------------------------------------------------


def test_a_code_redeems_once_for_a_coupon_of_its_template():
    template = CouponTemplateFactory.create(name="京东联名满100减10")
    batch = imported(["JD2026AAA1"], template)
    shopper = make_shopper()

    response = redeem(shopper, " jd2026-aaa1 ")

    assert response.status_code == 201
    body = response.json()
    assert (body["template"]["template_id"], body["source"]) == (template.pk, "code")
    coupon = Coupon.objects.get()
    assert (coupon.member_id, coupon.source, coupon.issue_key) == (shopper.member.pk, CouponSource.CODE,
                                                                   "code:JD2026AAA1")
    code = RedeemCode.objects.get()
    assert (code.redeemed_by_id, code.coupon_id) == (shopper.member.pk, coupon.pk)
    assert code.redeemed_at is not None
    counted: Any = code_batch_list_with_counts().get(pk=batch.pk)  # redeemed_count is an annotation
    assert counted.redeemed_count == 1


def test_the_same_member_retrying_gets_the_same_coupon():
    imported(["JD2026AAA1"], CouponTemplateFactory.create(per_member_limit=5))
    shopper = make_shopper()
    first = redeem(shopper, "JD2026AAA1").json()

    again = redeem(shopper, "jd2026aaa1")

    assert again.status_code == 201
    assert again.json()["id"] == first["id"]
    assert Coupon.objects.count() == 1
    assert CouponQuota.objects.get().claimed_total == 1


def test_a_code_redeemed_by_someone_else_is_a_conflict_and_changes_nothing():
    template = CouponTemplateFactory.create()
    imported(["JD2026AAA1"], template)
    owner = make_shopper()
    redeem(owner, "JD2026AAA1")
    other = make_shopper()

    response = redeem(other, "JD2026AAA1")

    assert (response.status_code, response.json()["code"]) == (409, "code_already_redeemed")
    assert RedeemCode.objects.get().redeemed_by_id == owner.member.pk
    assert Coupon.objects.filter(member=other.member).count() == 0
    template.refresh_from_db()
    assert template.issued_count == 1


@pytest.mark.parametrize(("code", "status", "error"), [
    ("ab", 400, "invalid_code"),
    ("JD2026?AAA", 400, "invalid_code"),
    ("兑换码兑换码", 400, "invalid_code"),
    ("X" * 40, 400, "invalid_code"),
    ("NOSUCHCODE1", 404, "code_not_found"),
])
def test_a_malformed_or_unknown_code_gets_a_clear_error_and_changes_nothing(code, status, error):
    imported(["JD2026AAA1"])
    shopper = make_shopper()

    response = redeem(shopper, code)

    assert (response.status_code, response.json()["code"]) == (status, error)
    assert (Coupon.objects.count(), RedeemCode.objects.filter(redeemed_by__isnull=False).count()) == (0, 0)


def test_a_missing_code_or_no_login_is_refused(api_client):
    imported(["JD2026AAA1"])

    missing = make_shopper().client.post("/api/v1/coupons/redeem", {}, format="json")
    anonymous = api_client.post("/api/v1/coupons/redeem", {"code": "JD2026AAA1"}, format="json")

    assert (missing.status_code, missing.json()["code"]) == (400, "invalid_input")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "not_authenticated")
    assert RedeemCode.objects.get().redeemed_by_id is None


def test_a_refused_grant_leaves_the_code_unredeemed_for_someone_who_can_use_it():
    # given a code of a template the first member already holds (limit 1), and the template's last coupon
    template = CouponTemplateFactory.create(total_quantity=2)
    imported(["JD2026AAA1"], template)
    holder, newcomer = make_shopper(), make_shopper()
    holder.client.post(f"/api/v1/coupons/center/{template.pk}/claim")

    # when the holder tries the code, the grant is refused and the code stays free
    refused = redeem(holder, "JD2026AAA1")
    assert (refused.status_code, refused.json()["code"]) == (409, "coupon_limit_reached")
    code = RedeemCode.objects.get()
    assert (code.redeemed_by_id, code.redeemed_at, code.coupon_id) == (None, None, None)

    # then the newcomer redeems it
    assert redeem(newcomer, "JD2026AAA1").status_code == 201
    assert RedeemCode.objects.get().redeemed_by_id == newcomer.member.pk
    template.refresh_from_db()
    assert template.issued_count == 2
    assert CouponEvent.objects.filter(coupon__template=template, action="issued").count() == 2


def test_a_sold_out_template_refuses_the_code_and_keeps_it():
    template = CouponTemplateFactory.create(total_quantity=1)
    imported(["JD2026AAA1", "JD2026AAA2"], template)
    assert redeem(make_shopper(), "JD2026AAA1").status_code == 201

    response = redeem(make_shopper(), "JD2026AAA2")

    assert (response.status_code, response.json()["code"]) == (409, "coupon_sold_out")
    assert RedeemCode.objects.get(code="JD2026AAA2").redeemed_by_id is None


def test_the_export_lists_every_code_with_who_redeemed_it_in_few_queries(django_assert_num_queries):
    batch = imported([f"EXPORT{i:04d}" for i in range(30)])
    shopper = make_shopper(nickname="小王")
    code_redeem(member=shopper.member, code="EXPORT0007")

    with django_assert_num_queries(1):
        rows = [(c.code, c.redeemed_by.nickname if c.redeemed_by else "") for c in code_batch_codes(batch_id=batch.pk)]

    assert len(rows) == 30
    assert rows[7] == ("EXPORT0007", "小王")
    assert sum(1 for _, who in rows if who) == 1
