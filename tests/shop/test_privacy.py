"""注销 across the shop: what waits, what is masked, what is erased, and the retention job after it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from analytics.models import ActiveDay, Event
from analytics.services.rollups import active_days_rollup
from campaigns.models import PointsExchange, PointsExchangeStatus, PointsMallItem, PointsMallItemKind
from core.media import private_storage
from members.models import Address, Member
from members.services import member_delete_account
from shop.models import AfterSale, AfterSalePhoto, Order, OrderStatus, Review, ReviewPhoto, Shipment
from shop.services.privacy import orders_anonymise_expired
from tests.builders import lines_of, order_up_to, requested_after_sale
from tests.factories import SkuFactory
from tests.shop.support_reviews import jpeg_bytes, make_review

pytestmark = pytest.mark.django_db

RECEIVER = ("张三", "13800138000", "浙江省", "杭州市", "西湖区", "文三路 100 号")  # AddressFactory's
MASKED = ("张**", "138****8000", "浙江省", "杭州市", "", "")
ANONYMISED = ("", "", "", "", "", "")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Member photos live in the private store (core.media); both roots point at this test's folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings.PRIVATE_MEDIA_ROOT


def receiver(order: Order) -> tuple[str, ...]:
    return tuple(Order.objects.filter(pk=order.pk).values_list(
        "receiver_name", "receiver_phone", "province", "city", "district", "address_detail").get())


def delete_via_api(shopper, capture):
    with capture(execute=True):
        return shopper.client.delete("/api/v1/me")


def stored_photo(name: str) -> str:
    return private_storage().save(name, ContentFile(jpeg_bytes()))


def received(member: Member, *, remark: str = "") -> Order:
    order = order_up_to(OrderStatus.RECEIVED, member=member, lines=[(SkuFactory.create(stock=5), 1)])
    Order.objects.filter(pk=order.pk).update(buyer_remark=remark)
    Shipment.objects.filter(order=order).update(checkpoints=[{"text": "张三 已签收，文三路 100 号"}])
    return order


def age(order: Order, *, days: int, **fields) -> None:
    """Every step of the order `days` ago."""
    then = timezone.now() - dt.timedelta(days=days)
    Order.objects.filter(pk=order.pk).update(created_at=then, paid_at=then, shipped_at=then, received_at=then,
                                             **fields)


# --- deletion ---------------------------------------------------------------------------------------


def test_deletion_masks_the_receivers_of_kept_orders(shopper, freight, django_capture_on_commit_callbacks):
    order = received(shopper.member, remark="放门卫，电话 13800138000")
    assert receiver(order) == RECEIVER

    response = delete_via_api(shopper, django_capture_on_commit_callbacks)

    assert response.status_code == 204
    assert receiver(order) == MASKED
    kept = Order.objects.get(pk=order.pk)
    assert (kept.member_id, kept.status, kept.buyer_remark, kept.paid_fen) == (
        shopper.member.pk, OrderStatus.RECEIVED, "", order.paid_fen)
    assert list(Shipment.objects.filter(order=order).values_list("checkpoints", "tracking_no")) == [
        ([], "SF1000000001")]
    assert not Address.objects.filter(member=shopper.member).exists()


def test_deletion_makes_reviews_anonymous_and_deletes_their_photos(client, shopper, freight, media,
                                                                   django_capture_on_commit_callbacks):
    order = received(shopper.member)
    review = make_review(lines_of(order)[0], content="很好用")
    name = stored_photo("reviews/2026/11/mine.jpg")
    ReviewPhoto.objects.create(review=review, member=shopper.member, image=name)
    Review.objects.filter(pk=review.pk).update(has_photos=True)
    unattached = ReviewPhoto.objects.create(member=shopper.member, image=stored_photo("reviews/2026/11/spare.jpg"))
    upload = AfterSalePhoto.objects.create(member=shopper.member, image=stored_photo("aftersales/2026/11/up.jpg"))

    delete_via_api(shopper, django_capture_on_commit_callbacks)

    assert list(Review.objects.filter(pk=review.pk).values_list(
        "is_anonymous", "has_photos", "content", "rating")) == [(True, False, "很好用", 5)]
    assert not ReviewPhoto.objects.filter(pk__in=[unattached.pk]).exists()
    assert not ReviewPhoto.objects.filter(review=review).exists()
    assert not AfterSalePhoto.objects.filter(pk=upload.pk).exists()
    assert not any(private_storage().exists(n) for n in (name, unattached.image.name, upload.image.name))
    body = client.get(f"/api/v1/products/{review.product_id}/reviews/").json()
    shown = body["results"] if isinstance(body, dict) else body
    assert [(r["nickname"], r["avatar_url"]) for r in shown] == [("已**", "")]


def test_deletion_erases_the_members_event_identities(shopper, other_shopper, django_capture_on_commit_callbacks):
    occurred = timezone.now()
    Event.objects.create(name="view", member_id=None, anonymous_id="device-1", occurred_at=occurred)
    Event.objects.create(name="login", member_id=shopper.member.pk, anonymous_id="device-1", occurred_at=occurred)
    Event.objects.create(name="order_paid", member_id=shopper.member.pk, occurred_at=occurred)
    theirs = Event.objects.create(name="login", member_id=other_shopper.member.pk, anonymous_id="device-2",
                                  occurred_at=occurred)
    today = timezone.localdate(occurred)
    assert active_days_rollup(first=today, last=today) == 1  # the member's paid order

    delete_via_api(shopper, django_capture_on_commit_callbacks)

    assert not Event.objects.filter(member_id=shopper.member.pk).exists()
    assert not Event.objects.filter(anonymous_id="device-1").exists()
    assert Event.objects.filter(member_id=None, anonymous_id="").count() >= 3  # the events stay, nameless
    assert list(Event.objects.filter(pk=theirs.pk).values_list("member_id", "anonymous_id")) == [
        (other_shopper.member.pk, "device-2")]
    assert not ActiveDay.objects.exists()  # the rollup's row naming the member went with them


def test_deletion_masks_points_mall_gift_receivers(shopper, django_capture_on_commit_callbacks):
    item = PointsMallItem.objects.create(name="保温杯", kind=PointsMallItemKind.GIFT, points_price=100,
                                         stock_total=5, stock_left=4)
    gift = PointsExchange.objects.create(member=shopper.member, item=item, item_name="保温杯", points=100,
                                         status=PointsExchangeStatus.SHIPPED, receiver_name="李四",
                                         receiver_phone="13912341111", address="广东省深圳市南山区科技园 1 号")

    delete_via_api(shopper, django_capture_on_commit_callbacks)

    assert list(PointsExchange.objects.filter(pk=gift.pk).values_list(
        "receiver_name", "receiver_phone", "address", "item_name")) == [("李**", "139****1111", "", "保温杯")]


def test_deletion_leaves_other_members_orders_alone(shopper, other_shopper, freight,
                                                    django_capture_on_commit_callbacks):
    theirs = received(other_shopper.member, remark="周末送")

    delete_via_api(shopper, django_capture_on_commit_callbacks)

    assert receiver(theirs) == RECEIVER
    assert Order.objects.get(pk=theirs.pk).buyer_remark == "周末送"


# --- deletion must wait -----------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "line"), [
    (OrderStatus.PENDING_PAYMENT, "待付款的订单 1 笔"),
    (OrderStatus.PAID, "待发货的订单 1 笔"),
    (OrderStatus.SHIPPED, "已发货未收货的订单 1 笔"),
])
def test_an_unfinished_order_holds_deletion_up_and_nothing_changes(shopper, freight, status, line,
                                                                    django_capture_on_commit_callbacks):
    order = order_up_to(status, member=shopper.member, lines=[(SkuFactory.create(stock=5), 1)])
    before = Member.objects.filter(pk=shopper.member.pk).values().get()

    response = delete_via_api(shopper, django_capture_on_commit_callbacks)

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "member_deletion_blocked"
    assert body["detail"]["unfinished"] == [f"{line}：{order.order_no}"]
    assert body["message"] == f"以下事项未完成，暂不能注销：{line}：{order.order_no}"
    assert Member.objects.filter(pk=shopper.member.pk).values().get() == before
    assert Address.objects.filter(member=shopper.member).count() == 1
    assert receiver(order) == RECEIVER
    assert shopper.client.get("/api/v1/me").status_code == 200


def test_an_open_after_sale_holds_deletion_up(shopper, freight, django_capture_on_commit_callbacks):
    order = received(shopper.member)
    after_sale = requested_after_sale(order=order, lines={lines_of(order)[0]: 1})

    response = delete_via_api(shopper, django_capture_on_commit_callbacks)

    assert response.status_code == 409
    assert response.json()["detail"]["unfinished"] == [f"处理中的售后 1 笔：{after_sale.after_sale_no}"]
    assert Member.objects.get(pk=shopper.member.pk).deleted_at is None
    assert receiver(order) == RECEIVER


def test_a_gift_waiting_to_ship_holds_deletion_up(shopper, django_capture_on_commit_callbacks):
    item = PointsMallItem.objects.create(name="保温杯", kind=PointsMallItemKind.GIFT, points_price=100,
                                         stock_total=5, stock_left=4)
    PointsExchange.objects.create(member=shopper.member, item=item, item_name="保温杯", points=100,
                                  status=PointsExchangeStatus.AWAITING_SHIPMENT, receiver_name="李四",
                                  receiver_phone="13912341111", address="广东省深圳市南山区科技园 1 号")

    response = delete_via_api(shopper, django_capture_on_commit_callbacks)

    assert (response.status_code, response.json()["detail"]["unfinished"]) == (409, ["待发货的积分兑换 1 笔"])
    assert Member.objects.get(pk=shopper.member.pk).deleted_at is None


def test_finished_and_cancelled_orders_do_not_hold_deletion_up(shopper, freight):
    received(shopper.member)
    order_up_to(OrderStatus.CANCELLED, member=shopper.member, lines=[(SkuFactory.create(stock=5), 1)])

    member = member_delete_account(member_id=shopper.member.pk)

    assert member.deleted_at is not None


# --- the retention job ------------------------------------------------------------------------------


def test_the_job_anonymises_orders_past_retention_and_leaves_newer_ones(settings, shopper, freight,
                                                                        django_capture_on_commit_callbacks):
    settings.ORDER_PII_RETENTION_DAYS = 1096
    old = received(shopper.member)
    after_sale = requested_after_sale(order=old, lines={lines_of(old)[0]: 1}, description="杯子裂了，联系我 138…")
    AfterSale.objects.filter(pk=after_sale.pk).update(status="rejected")
    evidence = AfterSalePhoto.objects.create(after_sale=after_sale, member=shopper.member,
                                             image=stored_photo("aftersales/2026/11/crack.jpg"))
    new = received(shopper.member)
    age(old, days=1100, operator_remark="客户要求放门卫")
    age(new, days=1200)  # placed long ago, but received 1,000 days ago: retention counts from the last step
    Order.objects.filter(pk=new.pk).update(received_at=timezone.now() - dt.timedelta(days=1000))
    delete_via_api(shopper, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        result = orders_anonymise_expired()

    assert result == {"masked": 0, "anonymised": 1}
    assert receiver(old) == ANONYMISED
    assert list(Order.objects.filter(pk=old.pk).values_list("operator_remark", "buyer_remark", "paid_fen")) == [
        ("", "", old.paid_fen)]
    assert AfterSale.objects.get(pk=after_sale.pk).description == ""
    assert not AfterSalePhoto.objects.filter(pk=evidence.pk).exists()
    assert not private_storage().exists(evidence.image.name)
    assert receiver(new) == MASKED


def test_the_job_runs_twice_without_changing_anything_more(shopper, freight, django_capture_on_commit_callbacks):
    old = received(shopper.member)
    age(old, days=1200)
    delete_via_api(shopper, django_capture_on_commit_callbacks)
    assert orders_anonymise_expired() == {"masked": 0, "anonymised": 1}
    after_first = Order.objects.filter(pk=old.pk).values().get()

    assert orders_anonymise_expired() == {"masked": 0, "anonymised": 0}

    assert Order.objects.filter(pk=old.pk).values().get() == after_first


def test_the_job_masks_what_a_failed_hook_left_and_never_touches_active_members(shopper, other_shopper, freight):
    mine = received(shopper.member)
    theirs = received(other_shopper.member)
    age(theirs, days=2000)
    member_delete_account(member_id=shopper.member.pk)  # its hooks never ran (no commit in this test)
    assert receiver(mine) == RECEIVER

    result = orders_anonymise_expired()

    assert result == {"masked": 1, "anonymised": 0}
    assert receiver(mine) == MASKED
    assert receiver(theirs) == RECEIVER


def test_the_job_is_scheduled(settings):
    jobs = {job["name"]: job for job in settings.PERIODIC_TASKS}

    assert jobs["orders.anonymise-expired"]["task"] == "shop.tasks.anonymise_expired_orders"
    assert jobs["orders.anonymise-expired"]["label"] == "注销会员订单到期匿名化"
