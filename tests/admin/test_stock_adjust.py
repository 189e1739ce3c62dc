"""调整库存: the only way the console changes stock, through stock_adjust, leaving a ledger row."""

from __future__ import annotations

import pytest
from django.urls import reverse

from catalog.models import Stock, StockMovement
from tests.admin.support_pages import page

pytestmark = pytest.mark.django_db


def test_adjust_form_shows_current_stock(admin_client, catalog):
    html = page(admin_client.get(reverse("admin:catalog_sku_adjust_stock", args=[catalog.red.pk])))

    assert "调整库存" in html and "当前库存" in html and "MILK-1" in html
    assert "<strong>10</strong>" in html
    assert "初始库存" in html  # the recent ledger rows


def test_adjust_writes_a_movement_and_changes_stock(admin_client, admin_user, catalog):
    url = reverse("admin:catalog_sku_adjust_stock", args=[catalog.red.pk])

    response = admin_client.post(url, {"delta": "-3", "note": "盘点差异"}, follow=True)

    assert "库存已调整 -3" in page(response)
    assert Stock.objects.get(sku=catalog.red).available == 7
    movement = StockMovement.objects.filter(sku=catalog.red).latest("id")
    assert (movement.delta, movement.reason, movement.note, movement.operator) == (
        -3, StockMovement.Reason.ADJUST, "盘点差异", admin_user)


def test_adjust_below_zero_shows_the_service_message_and_changes_nothing(admin_client, catalog):
    url = reverse("admin:catalog_sku_adjust_stock", args=[catalog.red.pk])
    movements = StockMovement.objects.count()

    html = page(admin_client.post(url, {"delta": "-11", "note": "出库"}))

    assert "库存不足" in html
    assert Stock.objects.get(sku=catalog.red).available == 10
    assert StockMovement.objects.count() == movements


@pytest.mark.parametrize(("data", "message"), [
    ({"delta": "0", "note": "x"}, "调整数量不能为 0"),
    ({"delta": "1.5", "note": "x"}, "输入整数"),
    ({"delta": "5", "note": ""}, "该字段是必填项"),
])
def test_bad_input_is_refused(admin_client, catalog, data, message):
    url = reverse("admin:catalog_sku_adjust_stock", args=[catalog.red.pk])

    assert message in page(admin_client.post(url, data))
    assert Stock.objects.get(sku=catalog.red).available == 10


def test_stock_movement_ledger_is_read_only_and_searchable(admin_client, catalog):
    url = reverse("admin:catalog_stockmovement_changelist")

    html = page(admin_client.get(url, {"q": "MILK-2"}))
    assert "库存流水" in html and "MILK-2" in html and "MILK-1" not in html
    html = page(admin_client.get(url, {"reason__exact": "initial"}))
    assert "初始库存" in html and "+10" in html
    movement = StockMovement.objects.filter(sku=catalog.red).earliest("id")
    assert admin_client.get(reverse("admin:catalog_stockmovement_delete", args=[movement.pk])).status_code == 403
    assert admin_client.get(reverse("admin:catalog_stockmovement_add")).status_code == 403


def test_stock_itself_is_not_in_the_admin(admin_client):
    from django.contrib import admin

    from catalog.models import Stock as StockModel

    assert not admin.site.is_registered(StockModel)
