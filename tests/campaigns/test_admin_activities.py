"""满减 and flash-sale console, and its guard rails: the price floor with a permitted confirmation,
overlap warnings, activity stock changed by a conditional UPDATE, live stock on the session page."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from campaigns.errors import FlashSoldOut, FlashStockBelowSold
from campaigns.models import FlashItem, FlashSession, FullReduction, FullReductionStep
from campaigns.services.activities import FlashItemInput, flash_item_save
from campaigns.services.flash import FlashWant, flash_reserve
from catalog.models import StockMovement
from catalog.services import stock_adjust
from shop.models import Order
from tests.admin.conftest import catalog  # noqa: F401 (the catalog fixture)
from tests.admin.support_pages import page
from tests.builders import buyer, pay, placed_order
from tests.concurrency import run_concurrently
from tests.factories import FlashItemFactory, FlashSessionFactory, SkuFactory

pytestmark = pytest.mark.django_db


def _local(value: dt.datetime) -> tuple[str, str]:
    local = timezone.localtime(value)
    return local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S")


def session_post(session: FlashSession, items: list[dict[str, str]], **fields: str) -> dict[str, str]:
    """The change form of `session` as posted, with `items` as the inline rows (existing ones first)."""
    start, end = _local(session.starts_at), _local(session.ends_at)
    data = {
        "name": session.name, "starts_at_0": start[0], "starts_at_1": start[1], "ends_at_0": end[0],
        "ends_at_1": end[1], "unpaid_timeout_minutes": str(session.unpaid_timeout_minutes), "budget_fen": "",
        "is_active": "on",
        "items-TOTAL_FORMS": str(len(items)), "items-MIN_NUM_FORMS": "0", "items-MAX_NUM_FORMS": "1000",
        "items-INITIAL_FORMS": str(sum(1 for item in items if item.get("id"))),
    }
    data.update(fields)
    for index, item in enumerate(items):
        row = {"session": str(session.pk), "per_member_limit": "1", "sort": "0", **item}
        for key, value in row.items():
            data[f"items-{index}-{key}"] = value
    return data


def change_url(session: FlashSession) -> str:
    return reverse("admin:campaigns_flashsession_change", args=[session.pk])


@pytest.fixture
def session(db) -> FlashSession:
    return FlashSessionFactory.create(name="今日 10:00 场")


def operator(*, can_approve: bool) -> User:
    """A staff operator who may edit flash sessions; with or without campaigns.approve_below_cost."""
    user = User.objects.create_user(username=f"op-{uuid.uuid4().hex[:6]}", password="x", is_staff=True)
    codenames = ["view_flashsession", "change_flashsession", "add_flashitem", "change_flashitem",
                 "delete_flashitem", "view_flashitem"]
    if can_approve:
        codenames.append("approve_below_cost")
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="campaigns", codename__in=codenames))
    return user


# ---------------------------------------------------------------------------------------------
# The price floor


def test_a_price_below_cost_is_refused_in_chinese_and_nothing_is_saved(admin_client, session, catalog):  # noqa: F811
    html = page(admin_client.post(change_url(session), session_post(session, [
        {"sku": str(catalog.red.pk), "flash_price_fen": "99.00", "stock_total": "10"}])))

    assert "SKU MILK-1 的秒杀价 ¥99.00 低于成本价 ¥120.00 × 1（¥120.00），不能保存" in html
    assert "确认低于成本价" in html
    assert not FlashItem.objects.exists()


def test_ticking_the_confirmation_without_the_permission_is_refused(client, session, catalog):  # noqa: F811
    client.force_login(operator(can_approve=False))

    html = page(client.post(change_url(session), session_post(session, [
        {"sku": str(catalog.red.pk), "flash_price_fen": "99", "stock_total": "10", "confirm_below_cost": "on"}])))

    assert "您没有“可确认低于成本价的活动价”权限" in html
    assert not FlashItem.objects.exists()
    assert not LogEntry.objects.filter(change_message__startswith="确认低于成本价").exists()


def test_a_permitted_operator_who_ticks_it_saves_and_the_audit_shows_who(client, session, catalog):  # noqa: F811
    approver = operator(can_approve=True)
    client.force_login(approver)

    response = client.post(change_url(session), session_post(session, [
        {"sku": str(catalog.red.pk), "flash_price_fen": "99", "stock_total": "10", "confirm_below_cost": "on"}]))

    assert response.status_code == 302, response.content.decode()[:3000]
    item = FlashItem.objects.get(session=session)
    assert (item.flash_price_fen, item.below_cost_confirmed, item.stock_total, item.stock_left) == (9900, True, 10, 10)
    entry = LogEntry.objects.get(object_id=str(item.pk), change_message__startswith="确认低于成本价")
    assert entry.user == approver
    assert entry.change_message == "确认低于成本价：SKU MILK-1 秒杀价 ¥99.00，成本价 ¥120.00，底线 ¥120.00"
    html = page(client.get(change_url(session)))
    assert "低于成本价确认记录" in html and approver.username in html and "已确认" in html


def test_a_permitted_operator_still_has_to_tick_it(admin_client, session, catalog):  # noqa: F811
    page(admin_client.post(change_url(session), session_post(session, [
        {"sku": str(catalog.red.pk), "flash_price_fen": "99", "stock_total": "10"}])))

    assert not FlashItem.objects.exists()


def test_a_confirmed_price_stays_confirmed_when_other_fields_change_and_needs_it_again_when_lowered(
        client, session, catalog):  # noqa: F811
    item = flash_item_save(session_id=session.pk, operator=User.objects.create_superuser("boss", password="x"),
                           data=FlashItemInput(sku_id=catalog.red.pk, flash_price_fen=9900, stock_total=10,
                                               confirm_below_cost=True))
    client.force_login(operator(can_approve=False))
    row = {"id": str(item.pk), "sku": str(catalog.red.pk), "flash_price_fen": "99", "stock_total": "12"}

    assert client.post(change_url(session), session_post(session, [row])).status_code == 302
    assert FlashItem.objects.get(pk=item.pk).stock_total == 12

    html = page(client.post(change_url(session), session_post(session, [{**row, "flash_price_fen": "89"}])))
    assert "低于成本价 ¥120.00" in html
    item = FlashItem.objects.get(pk=item.pk)
    assert (item.flash_price_fen, item.below_cost_confirmed) == (9900, True)


def test_a_price_at_or_above_the_floor_needs_nothing(admin_client, session, catalog, settings):  # noqa: F811
    settings.CAMPAIGN_PRICE_FLOOR = 0.8  # a 20% loss is allowed: the floor is ¥96.00

    response = admin_client.post(change_url(session), session_post(session, [
        {"sku": str(catalog.red.pk), "flash_price_fen": "96", "stock_total": "10"}]))

    assert response.status_code == 302
    assert FlashItem.objects.get(session=session).below_cost_confirmed is False


# ---------------------------------------------------------------------------------------------
# Activity stock


def _reserve(item: FlashItem, quantity: int, *, paid: bool) -> Order:
    """Given: a new buyer's order holding `quantity` units of the item (paid, or waiting for payment)."""
    order = placed_order(lines=[(item.sku, quantity)], flash=item)
    return pay(order) if paid else order


@pytest.fixture
def sold_item(session, catalog) -> FlashItem:  # noqa: F811
    """20 units at ¥50.00 (the SKU's cost: no confirmation needed); 2 sold, 3 waiting for payment."""
    item = FlashItemFactory.create(session=session, sku=catalog.blue, flash_price_fen=5000, stock_total=20,
                                   per_member_limit=5)
    stock_adjust(sku=catalog.blue, delta=20, reason=StockMovement.Reason.ADJUST)  # for every order of these tests
    _reserve(item, 2, paid=True)
    _reserve(item, 3, paid=False)
    return FlashItem.objects.get(pk=item.pk)


def _row(item: FlashItem, **fields: str) -> dict[str, str]:
    return {"id": str(item.pk), "sku": str(item.sku_id), "flash_price_fen": "50", "stock_total": str(item.stock_total),
            "per_member_limit": str(item.per_member_limit), **fields}


def test_the_session_page_shows_live_stock_sold_and_pending(admin_client, sold_item):
    html = page(admin_client.get(change_url(sold_item.session)))

    for label in ("秒杀商品（实时库存）", "秒杀价（元）", "活动库存", "剩余 / 总量", "已售（待支付）", "每人限购",
                  "成本价"):
        assert label in html
    assert "<strong>15</strong> / 20" in html
    assert "2（3）" in html  # 2 paid, 3 waiting for payment
    assert 'value="50.00"' in html  # the price in yuan
    listing = page(admin_client.get(reverse("admin:campaigns_flashsession_changelist")))
    assert "15 / 20" in listing and "今日 10:00 场" in listing and "进行中" in listing


def test_raising_stock_total_adds_the_difference_to_what_is_left(admin_client, sold_item):
    response = admin_client.post(change_url(sold_item.session),
                                 session_post(sold_item.session, [_row(sold_item, stock_total="30")]))

    assert response.status_code == 302
    item = FlashItem.objects.get(pk=sold_item.pk)
    assert (item.stock_total, item.stock_left) == (30, 25)


def test_lowering_stock_total_to_what_is_taken_leaves_nothing(admin_client, sold_item):
    admin_client.post(change_url(sold_item.session),
                      session_post(sold_item.session, [_row(sold_item, stock_total="5")]))

    item = FlashItem.objects.get(pk=sold_item.pk)
    assert (item.stock_total, item.stock_left) == (5, 0)


def test_lowering_stock_total_below_what_is_taken_is_refused(admin_client, sold_item):
    html = page(admin_client.post(change_url(sold_item.session),
                                  session_post(sold_item.session, [_row(sold_item, stock_total="4")])))

    assert "活动库存不能少于已售出及待支付的 5 件" in html
    item = FlashItem.objects.get(pk=sold_item.pk)
    assert (item.stock_total, item.stock_left) == (20, 15)


def test_the_service_refuses_when_sales_came_in_after_the_form_was_read(sold_item):
    # The operator's page said 15 left; meanwhile 10 more were sold.
    for _ in range(2):
        _reserve(sold_item, 5, paid=True)

    with pytest.raises(FlashStockBelowSold) as refused:
        flash_item_save(session_id=sold_item.session_id, data=FlashItemInput(
            sku_id=sold_item.sku_id, flash_price_fen=5000, stock_total=10, per_member_limit=5, item_id=sold_item.pk))

    assert refused.value.detail == {"taken": 15, "stock_total": 10}
    item = FlashItem.objects.get(pk=sold_item.pk)
    assert (item.stock_total, item.stock_left) == (20, 5)


def test_a_new_item_starts_with_all_its_stock_left(admin_client, session, catalog):  # noqa: F811
    response = admin_client.post(change_url(session), session_post(session, [
        {"sku": str(catalog.blue.pk), "flash_price_fen": "59.90", "stock_total": "50", "per_member_limit": "2"}]))

    assert response.status_code == 302
    item = FlashItem.objects.get(session=session)
    assert (item.flash_price_fen, item.stock_total, item.stock_left, item.per_member_limit) == (5990, 50, 50, 2)


def test_an_item_with_orders_cannot_be_deleted(admin_client, sold_item):
    html = page(admin_client.post(change_url(sold_item.session),
                                  session_post(sold_item.session, [_row(sold_item, DELETE="on")]), follow=True))

    assert FlashItem.objects.filter(pk=sold_item.pk).exists()
    assert "已有订单（售出或占用 5 件），不能删除" in html


@pytest.mark.django_db(transaction=True)
def test_shrinking_stock_while_buyers_rush_never_oversells():
    """One operator lowers stock_total from 20 to 8 while 12 buyers each take one unit: whatever
    the interleaving, stock_left never goes negative and units taken == reservations made."""
    item = FlashItemFactory.create(stock_total=20, flash_price_fen=5000, sku=SkuFactory.create(cost_fen=1000, stock=12))
    buyers = [buyer() for _ in range(12)]
    orders = [placed_order(member=m, lines=[(item.sku, 1)]) for m in buyers]

    def act(i: int):
        if i == 12:
            return flash_item_save(session_id=item.session_id, data=FlashItemInput(
                sku_id=item.sku_id, flash_price_fen=5000, stock_total=8, item_id=item.pk))
        with transaction.atomic(durable=True):
            flash_reserve(member_id=buyers[i].pk, order_id=orders[i].pk,
                          wants=[FlashWant(item.pk, 1, item.sku.price_fen)])
        return "reserved"

    results = run_concurrently(act, 13)

    # Either the change landed (the buyers before it took t <= 8 units, the ones after it share
    # the 8 - t left, so exactly 8 are taken and 4 buyers find it sold out), or it came after more
    # than 8 were taken and was refused (the 20 units serve all 12 buyers).
    outcomes = Counter("reserved" if r == "reserved" else type(r).__name__ for r in results[:12])
    reserved = outcomes["reserved"]
    fresh = FlashItem.objects.get(pk=item.pk)
    assert fresh.stock_left >= 0
    assert fresh.stock_total - fresh.stock_left == reserved
    if isinstance(results[12], FlashItem):
        assert outcomes == Counter({"reserved": 8, FlashSoldOut.__name__: 4})
        assert (fresh.stock_total, fresh.stock_left) == (8, 0)
    else:
        assert isinstance(results[12], FlashStockBelowSold), results[12]
        assert outcomes == Counter({"reserved": 12})
        assert (fresh.stock_total, fresh.stock_left) == (20, 8)


# ---------------------------------------------------------------------------------------------
# Overlap warnings


def test_the_same_sku_in_an_overlapping_session_warns_and_saves(admin_client, session, catalog):  # noqa: F811
    other = FlashSessionFactory.create(name="加场 10:30", starts_at=session.starts_at + dt.timedelta(minutes=30))
    FlashItemFactory.create(session=other, sku=catalog.blue, flash_price_fen=6000)

    html = page(admin_client.post(change_url(session), session_post(session, [
        {"sku": str(catalog.blue.pk), "flash_price_fen": "55", "stock_total": "10"}]), follow=True))

    assert "SKU MILK-2 同时在秒杀场次“加场 10:30”" in html and "（已保存）" in html
    assert FlashItem.objects.filter(session=session, sku=catalog.blue).exists()


def test_a_session_later_in_the_day_does_not_warn(admin_client, session, catalog):  # noqa: F811
    later = FlashSessionFactory.create(name="晚场", starts_at=session.ends_at + dt.timedelta(hours=1))
    FlashItemFactory.create(session=later, sku=catalog.blue, flash_price_fen=6000)

    html = page(admin_client.post(change_url(session), session_post(session, [
        {"sku": str(catalog.blue.pk), "flash_price_fen": "55", "stock_total": "10"}]), follow=True))

    assert "同时在秒杀场次" not in html
    assert FlashItem.objects.filter(session=session).count() == 1


def _reduction_post(name: str, steps: list[tuple[str, str]], *, starts: dt.datetime, ends: dt.datetime,
                    kind: str = FullReduction.Kind.AMOUNT, **fields: str) -> dict[str, str]:
    start, end = _local(starts), _local(ends)
    data = {"name": name, "kind": kind, "is_active": "on", "starts_at_0": start[0], "starts_at_1": start[1],
            "ends_at_0": end[0], "ends_at_1": end[1], "scope": "all",
            "steps-TOTAL_FORMS": str(len(steps)), "steps-INITIAL_FORMS": "0", "steps-MIN_NUM_FORMS": "0",
            "steps-MAX_NUM_FORMS": "1000", **fields}
    for index, (first, second) in enumerate(steps):
        if kind == FullReduction.Kind.AMOUNT:
            data |= {f"steps-{index}-threshold_fen": first, f"steps-{index}-discount_fen": second}
        else:
            data |= {f"steps-{index}-threshold_count": first, f"steps-{index}-pay_percent": second}
    return data


def test_a_reduction_ladder_is_saved_in_fen(admin_client):
    now = timezone.now()
    response = admin_client.post(reverse("admin:campaigns_fullreduction_add"), _reduction_post(
        "双十二满减", [("299", "40"), ("199", "20")], starts=now, ends=now + dt.timedelta(days=3)))

    assert response.status_code == 302, response.content.decode()[:3000]
    activity = FullReduction.objects.get(name="双十二满减")
    assert list(activity.steps.values_list("threshold_fen", "discount_fen")) == [(19900, 2000), (29900, 4000)]
    html = page(admin_client.get(reverse("admin:campaigns_fullreduction_changelist")))
    assert "满减活动" in html and "满199减20，满299减40" in html and "进行中" in html


@pytest.mark.parametrize(("steps", "kind", "message"), [
    ([("20", "20")], FullReduction.Kind.AMOUNT, "满 ¥20.00 的一档：门槛必须大于减免金额"),
    ([("199", "30"), ("299", "20")], FullReduction.Kind.AMOUNT, "满 ¥299.00 的一档减免应多于满 ¥199.00 的一档"),
    ([], FullReduction.Kind.AMOUNT, "请至少设置一档优惠"),
    ([("2", "100")], FullReduction.Kind.QUANTITY, "满 2 件的一档：折扣应为 1–99"),
    ([("2", "90"), ("3", "95")], FullReduction.Kind.QUANTITY, "满 3 件的一档折扣应低于满 2 件的一档"),
])
def test_a_bad_ladder_is_refused_in_chinese(admin_client, steps, kind, message):
    now = timezone.now()
    html = page(admin_client.post(reverse("admin:campaigns_fullreduction_add"), _reduction_post(
        "坏的满减", steps, kind=kind, starts=now, ends=now + dt.timedelta(days=1))))

    assert message in html
    assert not FullReduction.objects.exists() and not FullReductionStep.objects.exists()


def test_a_reduction_window_must_end_after_it_starts(admin_client):
    now = timezone.now()
    html = page(admin_client.post(reverse("admin:campaigns_fullreduction_add"), _reduction_post(
        "倒着的满减", [("199", "20")], starts=now, ends=now - dt.timedelta(hours=1))))

    assert "开始时间必须早于结束时间" in html
    assert not FullReduction.objects.exists()


def test_a_reduction_overlapping_another_and_a_flash_session_warns_naming_them(admin_client, session, catalog):  # noqa: F811
    FlashItemFactory.create(session=session, sku=catalog.red, flash_price_fen=15000)
    now = timezone.now()
    existing = FullReduction.objects.create(name="母婴专场满减", starts_at=now - dt.timedelta(days=1),
                                            ends_at=now + dt.timedelta(days=1), scope="categories")
    existing.categories.set([catalog.parent])  # the parent covers 奶粉, where MILK-1 is

    html = page(admin_client.post(reverse("admin:campaigns_fullreduction_add"), _reduction_post(
        "全场满减", [("199", "20")], starts=now, ends=now + dt.timedelta(days=2)), follow=True))

    assert "与满减活动“母婴专场满减”" in html and "有相同商品且时间重叠" in html
    assert "部分商品同时在秒杀场次“今日 10:00 场”" in html
    assert FullReduction.objects.filter(name="全场满减").exists()


def test_a_reduction_on_other_products_does_not_warn(admin_client, catalog):  # noqa: F811
    now = timezone.now()
    other = SkuFactory.create()
    existing = FullReduction.objects.create(name="别的商品满减", starts_at=now, ends_at=now + dt.timedelta(days=1),
                                            scope="products")
    existing.products.set([other.product])

    html = page(admin_client.post(reverse("admin:campaigns_fullreduction_add"), _reduction_post(
        "奶粉满减", [("199", "20")], starts=now, ends=now + dt.timedelta(days=1), scope="products",
        products=str(catalog.product.pk)), follow=True))

    assert "有相同商品且时间重叠" not in html
    assert FullReduction.objects.filter(name="奶粉满减").exists()


# ---------------------------------------------------------------------------------------------
# 生成明日默认场次


def test_create_tomorrows_default_sessions_once(admin_client):
    url = reverse("admin:campaigns_flashsession_create_tomorrow")
    listing = page(admin_client.get(reverse("admin:campaigns_flashsession_changelist")))
    assert "生成明日默认场次" in listing

    first = page(admin_client.post(url, follow=True))
    second = page(admin_client.post(url, follow=True))

    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    starts = sorted(timezone.localtime(s).strftime("%H:%M") for s in FlashSession.objects.values_list(
        "starts_at", flat=True))
    assert starts == ["10:00", "14:00", "20:00"]
    assert all(timezone.localtime(s.starts_at).date() == tomorrow for s in FlashSession.objects.all())
    assert "已生成明日 3 个默认场次" in first
    assert "明日的默认场次已存在" in second
    assert admin_client.get(url).status_code == 403  # a GET changes nothing



def test_flash_session_list_query_count_does_not_grow_with_rows(admin_client, django_assert_max_num_queries):
    url = reverse("admin:campaigns_flashsession_changelist")
    FlashItemFactory.create()
    admin_client.get(url)
    with django_assert_max_num_queries(8) as few:
        page(admin_client.get(url))
    budget = len(few.captured_queries)  # now: a later request empties the connection's query log
    for _ in range(15):
        item = FlashItemFactory.create(stock_total=10)
        FlashItemFactory.create(session=item.session, stock_total=5)
    with django_assert_max_num_queries(budget):
        html = page(admin_client.get(url))
    assert html.count('class="field-stock"') == 16


def test_a_budget_below_the_subsidy_already_spent_is_refused(admin_client, sold_item):
    FlashSession.objects.filter(pk=sold_item.session_id).update(subsidy_fen=12345)

    html = page(admin_client.post(change_url(sold_item.session),
                                  session_post(sold_item.session, [_row(sold_item)], budget_fen="100")))

    assert "预算不能低于已用补贴 ¥123.45" in html
    assert FlashSession.objects.get(pk=sold_item.session_id).budget_fen is None
