"""Demo 砍价, shares and invitations, so their console pages show something believable.

Two bargain activities; a launch at the floor and bought, one still going with three cuts, one
that ran out of time; a product share passed on over three hops with the new members it brought
and their orders; an invitation with its rewards; and what the 异常行为 page is for: five brand-new
accounts on one phone helping one launch. Created once (skipped when
any bargain activity exists), through the services, as shoppers' taps would.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from campaigns.models import BargainActivity, BargainLaunch, InviteSettings
from campaigns.services.bargain import bargain_activity_save, bargain_help, bargain_launch
from campaigns.services.sharing import share_create, share_visit_record
from catalog.models import Sku
from members.models import Member
from members.services.identity import address_create
from shop.demo.history import demo_pay
from shop.services.orders import CheckoutInput, LineInput, order_place

SOCIAL_OPENID = "demo_openid_s"
FRIENDS = ("阿May", "Leo", "豆豆妈", "小野", "奶茶续命", "周末去露营", "一颗柠檬", "早睡早起")


def load_social_demo(*, members: list[Member]) -> str:
    """Create the demo bargains, shares and invitations unless a bargain activity exists."""
    if BargainActivity.objects.exists() or len(members) < 6:
        return "skipped (bargain activities exist)"
    skus = list(Sku.objects.filter(is_active=True, product__is_on_shelf=True, stock__available__gte=30)
                .select_related("product").order_by("-price_fen")[:2])
    if len(skus) < 2:
        return "skipped (no SKU in stock)"
    now = timezone.now()
    activities = [bargain_activity_save(activity=BargainActivity(
        name=f"好友帮砍：{sku.product.name}"[:64], sku=sku, start_price_fen=sku.price_fen,
        floor_price_fen=max(sku.cost_fen, sku.price_fen // 5), helpers_needed=helpers, hours_to_finish=24,
        helps_per_helper=3, buy_before_floor=buy_early, stock_total=50, starts_at=now - dt.timedelta(days=3),
        ends_at=now + dt.timedelta(days=14))) for sku, helpers, buy_early in ((skus[0], 3, False), (skus[1], 5, True))]
    friends = [_friend(i, name) for i, name in enumerate(FRIENDS)]

    # 小鹿妈妈 reached the floor with three friends and bought it; 阿杰 has three cuts of five.
    done, _ = bargain_launch(member_id=members[0].pk, activity_id=activities[0].pk)
    for friend in friends[:3]:
        bargain_help(helper_id=friend.pk, launch_no=done.launch_no, device_id=f"phone-{friend.pk}")
    order, _ = order_place(member=members[0], data=CheckoutInput(
        items=(LineInput(activities[0].sku_id, 1, bargain_launch_id=done.pk),)))
    demo_pay(order)
    going, _ = bargain_launch(member_id=members[1].pk, activity_id=activities[1].pk)
    for friend in friends[3:6]:
        bargain_help(helper_id=friend.pk, launch_no=going.launch_no, device_id=f"phone-{friend.pk}")
    late, _ = bargain_launch(member_id=members[2].pk, activity_id=activities[1].pk)
    bargain_help(helper_id=friends[6].pk, launch_no=late.launch_no)
    BargainLaunch.objects.filter(pk=late.pk).update(created_at=now - dt.timedelta(days=2),
                                                    expires_at=now - dt.timedelta(days=1))

    # A product share over three hops: 糖糖爱烘焙 → 阿May (new) → 豆豆妈… and an invitation.
    product = str(skus[0].product_id)
    first = share_create(member_id=members[2].pk, kind="product", target=product)
    hop2 = _joins(first.share_no, "新朋友·可乐", scene=1007)
    second = share_create(member_id=hop2.pk, kind="product", target=product)
    hop3 = _joins(second.share_no, "新朋友·橙子", scene=1008)
    third = share_create(member_id=hop3.pk, kind="product", target=product)
    _joins(third.share_no, "新朋友·西瓜", scene=1047)
    share_visit_record(member_id=members[4].pk, share_no=first.share_no, scene=1007)
    for buyer in (hop2, hop3, members[4]):
        buy, _ = order_place(member=buyer, data=CheckoutInput(items=(LineInput(skus[1].pk, 1),)))
        demo_pay(buy)
    InviteSettings.objects.get_or_create(pk=1)
    invitation = share_create(member_id=members[3].pk, kind="invitation")
    for n in range(2):
        _joins(invitation.share_no, f"被邀请的朋友{n + 1}", scene=1007)

    # 异常行为: five accounts made just now, on one phone, helping one launch to the floor.
    farm = [_friend(20 + i, f"小号{i + 1}") for i in range(5)]
    target, _ = bargain_launch(member_id=members[5].pk, activity_id=activities[1].pk)
    for account in farm:
        bargain_help(helper_id=account.pk, launch_no=target.launch_no, device_id="phone-shared-01")
    return "created"


def _friend(index: int, nickname: str) -> Member:
    member, _ = Member.objects.get_or_create(openid=f"{SOCIAL_OPENID}{index:02d}", defaults={"nickname": nickname})
    return member


def _joins(share_no: str, nickname: str, *, scene: int) -> Member:
    """A new member registers through a share (opens it right after logging in) and gets an address."""
    member = Member.objects.create(openid=f"{SOCIAL_OPENID}{nickname}", nickname=nickname)
    share_visit_record(member_id=member.pk, share_no=share_no, scene=scene, device_id=f"phone-{member.pk}")
    address_create(member=member, data={"receiver_name": nickname[-2:], "phone": "13800000000", "province": "上海市",
                                        "city": "上海市", "district": "徐汇区", "detail": "漕溪北路 88 号"})
    return member
