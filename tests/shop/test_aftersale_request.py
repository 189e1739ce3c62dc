"""A shopper's after-sales request: which units, how much, when — and refusals that change nothing."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from shop.models import AfterSale, AfterSaleEvent, AfterSaleLine, AfterSalePhoto, AfterSaleStatus, Order
from shop.services.aftersales import (
    AfterSaleWindowClosed,
    MixedShipment,
    MoreThanBought,
    MoreThanLeft,
    NotShippedYet,
    OrderNotRefundable,
    after_sale_withdraw,
    unit_shares,
)
from shop.services.orders import order_ship
from tests.builders import lines_of, order_discount, paid_order, placed_order, receive, requested_after_sale, ship
from tests.factories import SkuFactory, default_freight
from tests.fixtures import make_shopper

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(db):
    default_freight()  # ¥10 first piece, ¥5 each more, free from ¥99
    return {
        "towel": SkuFactory.create(price_fen=3333, stock=20),
        "soap": SkuFactory.create(price_fen=1000, stock=20),
        "brush": SkuFactory.create(price_fen=555, stock=20),
    }


@pytest.fixture
def buyer(db):
    return make_shopper()


def snapshot(order: Order) -> tuple:
    order.refresh_from_db()
    return (AfterSale.objects.count(), AfterSaleLine.objects.count(), AfterSaleEvent.objects.count(),
            order.refunded_fen, order.refund_state,
            [(line.refunded_quantity, line.refunded_fen) for line in lines_of(order)])


def test_units_of_a_line_refund_its_exact_share_and_always_sum_to_what_it_paid(catalog, buyer, sandbox, monkeypatch):
    # given three lines with an order-level discount allocated to them to the fen
    order_discount(monkeypatch, 1001)
    order = paid_order(member=buyer.member, lines=[(catalog["towel"], 3), (catalog["soap"], 1), (catalog["brush"], 2)],
                       sandbox=sandbox)
    towel, soap, brush = lines_of(order)
    assert [line.payable_fen for line in (towel, soap, brush)] != [9999, 1000, 1110]
    assert sum(line.payable_fen for line in (towel, soap, brush)) == 12109 - 1001

    # when the towels are refunded one unit at a time
    parts = [requested_after_sale(order=order, lines={towel: 1}).amount_fen for _ in range(3)]

    # then each took a largest-remainder share and together exactly what the line paid
    assert parts == unit_shares(towel)
    assert sum(parts) == towel.payable_fen
    assert max(parts) - min(parts) <= 1


def test_the_request_that_takes_the_last_units_takes_exactly_what_is_left(catalog, buyer, sandbox, monkeypatch):
    order_discount(monkeypatch, 777)
    order = paid_order(member=buyer.member, lines=[(catalog["towel"], 3), (catalog["soap"], 4)], sandbox=sandbox)
    _, soap = lines_of(order)

    first = requested_after_sale(order=order, lines={soap: 3})
    last = requested_after_sale(order=order, lines={soap: 1})

    assert first.amount_fen + last.amount_fen == soap.payable_fen
    assert first.freight_fen == last.freight_fen == 0


def test_before_shipping_a_refund_restocks_and_freight_goes_back_only_with_the_whole_order(catalog, buyer, sandbox):
    # given an order under the free-freight threshold: 2 × ¥10 soap + 1 × ¥5.55 brush, freight ¥20
    order = paid_order(member=buyer.member, lines=[(catalog["soap"], 2), (catalog["brush"], 1)], sandbox=sandbox)
    soap, brush = lines_of(order)
    assert order.freight_fen == 2000

    partial = requested_after_sale(order=order, lines={soap: 2})
    rest = requested_after_sale(order=order, lines={brush: 1})

    assert (partial.restock, partial.freight_fen, partial.amount_fen) == (True, 0, soap.payable_fen)
    assert (rest.restock, rest.freight_fen, rest.amount_fen) == (True, 2000, brush.payable_fen + 2000)
    assert partial.amount_fen + rest.amount_fen == order.paid_fen


def test_after_shipping_freight_stays_and_nothing_is_restocked(catalog, buyer, sandbox):
    order = ship(paid_order(member=buyer.member, lines=[(catalog["soap"], 2), (catalog["brush"], 1)], sandbox=sandbox))
    soap, brush = lines_of(order)

    everything = requested_after_sale(order=order, lines={soap: 2, brush: 1}, kind="return_refund")

    assert (everything.restock, everything.freight_fen) == (False, 0)
    assert everything.amount_fen == order.paid_fen - order.freight_fen


def test_on_the_way_both_kinds_are_allowed_without_a_window(catalog, buyer, sandbox):
    order = ship(paid_order(member=buyer.member, lines=[(catalog["towel"], 2)], sandbox=sandbox))
    (towel,) = lines_of(order)

    kept = requested_after_sale(order=order, lines={towel: 1}, reason="not_received")
    returned = requested_after_sale(order=order, lines={towel: 1}, kind="return_refund")

    assert kept.restock is False and returned.restock is False
    assert kept.status == returned.status == AfterSaleStatus.REQUESTED


def test_a_return_of_goods_never_shipped_is_refused(catalog, buyer, sandbox):
    order = paid_order(member=buyer.member, lines=[(catalog["towel"], 1)], sandbox=sandbox)
    before = snapshot(order)

    with pytest.raises(NotShippedYet) as refused:
        requested_after_sale(order=order, lines={lines_of(order)[0]: 1}, kind="return_refund")

    assert refused.value.status == 409 and refused.value.code == "after_sale_not_shipped"
    assert snapshot(order) == before


def ship_first_package(order: Order, line, quantity: int) -> None:
    """One package with `quantity` units of `line`, the rest still to ship (as multi-package
    shipping records it: ShipmentLine rows and the line's shipped_quantity)."""
    from shop.models import OrderLine, Shipment, ShipmentLine

    shipment = Shipment.objects.create(order=order, carrier="顺丰速运", carrier_code="SF", tracking_no="SF2000000001")
    ShipmentLine.objects.create(shipment=shipment, order_line=line, quantity=quantity)
    OrderLine.objects.filter(pk=line.pk).update(shipped_quantity=quantity)


def test_refund_only_of_shipped_and_unshipped_units_together_is_refused(catalog, buyer, sandbox):
    order = paid_order(member=buyer.member, lines=[(catalog["towel"], 1), (catalog["soap"], 1)], sandbox=sandbox)
    towel, soap = lines_of(order)
    ship_first_package(order, towel, 1)

    with pytest.raises(MixedShipment):
        requested_after_sale(order=order, lines={towel: 1, soap: 1})

    assert requested_after_sale(order=order, lines={soap: 1}).restock is True
    assert requested_after_sale(order=order, lines={towel: 1}).restock is False


def test_within_the_window_after_receipt_it_is_accepted(catalog, buyer, sandbox, settings):
    settings.AFTER_SALE_WINDOW_DAYS = 7
    order = receive(ship(paid_order(member=buyer.member, lines=[(catalog["towel"], 1)], sandbox=sandbox)), days_ago=6.9)
    assert requested_after_sale(order=order, lines={lines_of(order)[0]: 1}, kind="return_refund").amount_fen == 3333


def test_after_the_window_it_is_refused_and_nothing_changes(catalog, buyer, sandbox, settings):
    settings.AFTER_SALE_WINDOW_DAYS = 7
    order = receive(ship(paid_order(member=buyer.member, lines=[(catalog["towel"], 1)], sandbox=sandbox)),
                    days_ago=7.01)
    before = snapshot(order)

    with pytest.raises(AfterSaleWindowClosed) as refused:
        requested_after_sale(order=order, lines={lines_of(order)[0]: 1}, kind="return_refund")

    assert refused.value.status == 409 and refused.value.code == "after_sale_window_closed"
    assert refused.value.detail["window_days"] == 7
    assert snapshot(order) == before


def test_more_than_bought_and_more_than_left_are_refused(catalog, buyer, sandbox):
    order = paid_order(member=buyer.member, lines=[(catalog["towel"], 2)], sandbox=sandbox)
    (towel,) = lines_of(order)

    with pytest.raises(MoreThanBought) as bought:
        requested_after_sale(order=order, lines={towel: 3})
    assert (bought.value.status, bought.value.code) == (400, "after_sale_more_than_bought")

    requested_after_sale(order=order, lines={towel: 1})
    before = snapshot(order)
    with pytest.raises(MoreThanLeft) as left:
        requested_after_sale(order=order, lines={towel: 2})
    assert (left.value.status, left.value.code) == (409, "after_sale_more_than_left")
    assert left.value.detail == {"left": {str(towel.pk): 1}}
    assert snapshot(order) == before


def test_a_withdrawn_request_frees_its_units(catalog, buyer, sandbox):
    order = paid_order(member=buyer.member, lines=[(catalog["towel"], 1)], sandbox=sandbox)
    (towel,) = lines_of(order)
    first = requested_after_sale(order=order, lines={towel: 1})

    after_sale_withdraw(member=buyer.member, after_sale_no=first.after_sale_no)
    after_sale_withdraw(member=buyer.member, after_sale_no=first.after_sale_no)  # a repeat is a no-op

    again = requested_after_sale(order=order, lines={towel: 1})
    assert again.amount_fen == first.amount_fen == order.paid_fen  # the whole unshipped order, freight too
    assert list(AfterSaleEvent.objects.filter(after_sale=first).values_list("action", flat=True)) == [
        "requested", "withdrawn"]


@pytest.mark.parametrize("state", ["unpaid", "cancelled"])
def test_orders_that_were_not_paid_cannot_have_after_sales(catalog, buyer, sandbox, state):
    from shop.services.orders import order_cancel

    order = placed_order(member=buyer.member, lines=[(catalog["towel"], 1)])
    if state == "cancelled":
        order = order_cancel(order=order, reason="买家取消", actor="member")

    with pytest.raises(OrderNotRefundable):
        requested_after_sale(order=order, lines={lines_of(order)[0]: 1})
    assert AfterSale.objects.count() == 0


def test_the_same_idempotency_key_replays_and_another_body_conflicts(catalog, buyer, sandbox):
    from shop.errors import IdempotencyKeyReused

    order = paid_order(member=buyer.member, lines=[(catalog["towel"], 2)], sandbox=sandbox)
    (towel,) = lines_of(order)

    first = requested_after_sale(order=order, lines={towel: 1}, key="as-1")
    again = requested_after_sale(order=order, lines={towel: 1}, key="as-1")
    with pytest.raises(IdempotencyKeyReused):
        requested_after_sale(order=order, lines={towel: 2}, key="as-1")

    assert again.pk == first.pk and AfterSale.objects.count() == 1


def test_a_shipped_order_counts_as_shipped_even_without_package_lines(catalog, buyer, sandbox):
    # Orders shipped before packages recorded their lines: everything went out.
    order = paid_order(member=buyer.member, lines=[(catalog["towel"], 1)], sandbox=sandbox)
    order_ship(order=order, carrier="顺丰速运", tracking_no="SF3000000001")
    from shop.models import OrderLine, ShipmentLine

    ShipmentLine.objects.filter(shipment__order=order).delete()
    OrderLine.objects.filter(order=order).update(shipped_quantity=0)

    assert requested_after_sale(order=Order.objects.get(pk=order.pk), lines={lines_of(order)[0]: 1}).restock is False


# --- over the API --------------------------------------------------------------------------------------


def png(width: int = 40, height: int = 30) -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, "PNG")
    buffer.seek(0)
    buffer.name = "photo.png"
    return buffer


def bomb_png(width: int = 30000, height: int = 30000) -> io.BytesIO:
    """A tiny PNG whose header claims `width` × `height` pixels: a decompression bomb."""
    import struct
    import zlib

    small = png(1, 1).getvalue()
    ihdr = struct.pack(">II", width, height) + small[24:29]
    chunk = b"IHDR" + ihdr
    forged = small[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + small[33:]
    return io.BytesIO(forged)


def upload(client, file) -> dict:
    response = client.post("/api/v1/uploads/after-sale-photos", {"file": file}, format="multipart")
    return {"status": response.status_code, **response.json()}


def test_the_api_creates_a_request_with_photos_and_shows_it_only_to_its_member(catalog, buyer, other_shopper,
                                                                              sandbox):
    order = paid_order(member=buyer.member, lines=[(catalog["towel"], 2)], sandbox=sandbox)
    (towel,) = lines_of(order)
    photos = [upload(buyer.client, png()) for _ in range(2)]
    assert [p["status"] for p in photos] == [201, 201]
    assert all(p["url"].startswith("http://testserver/private-media/aftersales/") for p in photos)
    assert "photo.png" not in photos[0]["url"]

    response = buyer.client.post("/api/v1/after-sales/", {
        "order_no": order.order_no, "kind": "refund_only", "reason": "no_longer_wanted", "description": "不想要了",
        "lines": [{"order_line_id": towel.pk, "quantity": 1}], "photo_ids": [p["id"] for p in photos],
    }, format="json", HTTP_IDEMPOTENCY_KEY="req-1")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "requested" and body["status_label"] == "待审核"
    assert body["amount_fen"] == unit_shares(towel)[0]
    assert [line["quantity"] for line in body["lines"]] == [1]
    assert len(body["photos"]) == 2
    assert body["order_refund_state_label"] == "无退款"
    assert [p["label"] for p in body["progress"]] == ["提交申请"]
    no = body["after_sale_no"]
    assert buyer.client.get("/api/v1/after-sales/").json()["results"][0]["after_sale_no"] == no
    assert other_shopper.client.get(f"/api/v1/after-sales/{no}/").status_code == 404
    assert other_shopper.client.get("/api/v1/after-sales/").json()["results"] == []


def test_another_members_order_is_not_found_and_nothing_changes(catalog, buyer, other_shopper, sandbox):
    order = paid_order(member=buyer.member, lines=[(catalog["towel"], 1)], sandbox=sandbox)
    before = snapshot(order)

    response = other_shopper.client.post("/api/v1/after-sales/", {
        "order_no": order.order_no, "kind": "refund_only", "reason": "quality",
        "lines": [{"order_line_id": lines_of(order)[0].pk, "quantity": 1}]}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "order_not_found"
    assert snapshot(order) == before


@pytest.mark.parametrize(("quantity", "status", "code"), [(2, 400, "after_sale_more_than_bought"),
                                                          (0, 400, "invalid_input")])
def test_the_api_refuses_bad_quantities_with_stable_codes(catalog, buyer, sandbox, quantity, status, code):
    order = paid_order(member=buyer.member, lines=[(catalog["towel"], 1)], sandbox=sandbox)
    before = snapshot(order)
    response = buyer.client.post("/api/v1/after-sales/", {
        "order_no": order.order_no, "kind": "refund_only", "reason": "quality",
        "lines": [{"order_line_id": lines_of(order)[0].pk, "quantity": quantity}]}, format="json")
    assert response.status_code == status and response.json()["code"] == code
    assert set(response.json()) == {"code", "message", "detail"}
    assert snapshot(order) == before


def test_the_api_refuses_after_the_window(catalog, buyer, sandbox, settings):
    order = receive(ship(paid_order(member=buyer.member, lines=[(catalog["towel"], 1)], sandbox=sandbox)), days_ago=30)
    before = snapshot(order)
    response = buyer.client.post("/api/v1/after-sales/", {
        "order_no": order.order_no, "kind": "return_refund", "reason": "quality",
        "lines": [{"order_line_id": lines_of(order)[0].pk, "quantity": 1}]}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "after_sale_window_closed"
    assert snapshot(order) == before


def test_a_line_of_another_order_is_refused(catalog, buyer, sandbox):
    mine = paid_order(member=buyer.member, lines=[(catalog["towel"], 1)], sandbox=sandbox)
    other = paid_order(member=buyer.member, lines=[(catalog["soap"], 1)], sandbox=sandbox)
    response = buyer.client.post("/api/v1/after-sales/", {
        "order_no": mine.order_no, "kind": "refund_only", "reason": "quality",
        "lines": [{"order_line_id": lines_of(other)[0].pk, "quantity": 1}]}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "after_sale_line_not_in_order"


def test_photos_must_be_the_members_own_unused_uploads(catalog, buyer, other_shopper, sandbox):
    order = paid_order(member=buyer.member, lines=[(catalog["towel"], 2)], sandbox=sandbox)
    (towel,) = lines_of(order)
    theirs = upload(other_shopper.client, png())["id"]
    mine = upload(buyer.client, png())["id"]

    def request(photo_ids):
        return buyer.client.post("/api/v1/after-sales/", {
            "order_no": order.order_no, "kind": "refund_only", "reason": "quality",
            "lines": [{"order_line_id": towel.pk, "quantity": 1}], "photo_ids": photo_ids}, format="json")

    refused = request([theirs])
    assert refused.status_code == 400 and refused.json()["code"] == "after_sale_photo_not_found"
    assert request([mine]).status_code == 201
    reused = request([mine])
    assert reused.status_code == 400 and reused.json()["code"] == "after_sale_photo_not_found"
    assert AfterSale.objects.count() == 1
    assert request(list(range(1, 8))).json()["code"] == "invalid_input"  # more than 6


@pytest.mark.parametrize(("make", "code", "status"), [
    (lambda: io.BytesIO(b"%PDF-1.4 not an image"), "image_invalid", 400),
    (bomb_png, "image_too_many_pixels", 400),  # 900 MP claimed by a file of a few dozen bytes
    (lambda: io.BytesIO(b"\xff\xd8" + b"0" * (5 * 1024 * 1024 + 10)), "image_too_large", 413),
])
def test_uploads_that_are_not_acceptable_images_are_refused(buyer, make, code, status):
    file = make()
    file.name = "x.png"
    answer = upload(buyer.client, file)
    assert (answer["status"], answer["code"]) == (status, code)
    assert AfterSalePhoto.objects.count() == 0


def test_an_uploaded_photo_is_re_encoded_without_metadata(buyer):
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "SecretPhone"  # Make
    Image.new("RGB", (20, 20)).save(buffer, "JPEG", exif=exif.tobytes())
    buffer.seek(0)
    buffer.name = "IMG_0001.jpg"

    answer = upload(buyer.client, buffer)

    photo = AfterSalePhoto.objects.get(pk=answer["id"])
    with photo.image.open("rb") as stored, Image.open(stored) as image:
        assert image.format == "JPEG" and not image.getexif()
    assert "IMG_0001" not in photo.image.name


def test_the_list_has_a_query_budget_that_does_not_grow(catalog, buyer, sandbox, django_assert_max_num_queries):
    order = paid_order(member=buyer.member, lines=[(catalog["towel"], 12)], sandbox=sandbox)
    (towel,) = lines_of(order)
    for _ in range(12):
        requested_after_sale(order=order, lines={towel: 1})
    with django_assert_max_num_queries(8):
        response = buyer.client.get("/api/v1/after-sales/?page_size=12")
    assert len(response.json()["results"]) == 12


def test_the_reasons_are_listed_in_chinese(buyer):
    reasons = buyer.client.get("/api/v1/after-sales/reasons").json()
    assert {"value": "quality", "label": "质量问题"} in reasons


def test_the_options_show_what_each_line_can_still_ask_for(catalog, buyer, other_shopper, sandbox, monkeypatch):
    order_discount(monkeypatch, 500)
    order = paid_order(member=buyer.member, lines=[(catalog["towel"], 3), (catalog["soap"], 1)], sandbox=sandbox)
    towel, soap = lines_of(order)
    requested_after_sale(order=order, lines={towel: 1})

    body = buyer.client.get(f"/api/v1/orders/{order.order_no}/after-sale-options").json()

    assert body["open"] is True and body["window_closes_at"] is None
    by_line = {line["order_line_id"]: line for line in body["lines"]}
    assert (by_line[towel.pk]["unshipped_left"], by_line[towel.pk]["shipped_left"]) == (2, 0)
    assert by_line[towel.pk]["amount_all_fen"] == towel.payable_fen - unit_shares(towel)[0]
    assert by_line[soap.pk]["amount_all_fen"] == soap.payable_fen
    assert other_shopper.client.get(f"/api/v1/orders/{order.order_no}/after-sale-options").status_code == 404


def test_the_options_say_when_the_window_has_closed(catalog, buyer, sandbox):
    order = receive(ship(paid_order(member=buyer.member, lines=[(catalog["towel"], 1)], sandbox=sandbox)), days_ago=8)
    body = buyer.client.get(f"/api/v1/orders/{order.order_no}/after-sale-options").json()
    assert (body["open"], body["reason"]) == (False, "已超过售后期限")
    assert body["lines"][0]["shipped_left"] == 0
