"""Channel codes (渠道码, 扫码领券): a permanent mini-program code per offline placement, and the scan.

A channel's code is made once with WeChat's getwxacodeunlimit (codes never expire) and stored in
`Channel.qrcode`; the admin offers it for download. Scanning it opens the mini-program with the
channel's `scene`, which the mini-program posts back: `channel_scan()` claims the channel's
template with the coupon attributed to the channel, and records the scan either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from campaigns.errors import ChannelNotFound
from campaigns.models import Channel, ChannelScan, Coupon, CouponSource
from campaigns.services.coupons import coupon_grant
from core.errors import DomainError
from core.tracking import track
from members.models import Member
from wechat.miniprogram import get_wxacode_unlimit


@dataclass(frozen=True)
class ScanResult:
    channel: Channel
    coupon: Coupon


def channel_generate_code(*, channel_id: int) -> Channel:
    """The channel with its mini-program code PNG stored (Channel.qrcode, qrcode_generated_at).

    Generated once: a channel that has a code is returned as it is, without calling WeChat. The
    WeChat call and the file write happen outside any transaction; the file is then attached
    with one conditional UPDATE (`qrcode = ''`), so of two concurrent calls exactly one file is
    kept — the loser deletes its own and returns the winner's. Raises ChannelNotFound, and
    ValidationFailed / WechatApiError from get_wxacode_unlimit (nothing stored then).
    """
    channel = Channel.objects.filter(pk=channel_id).first()
    if channel is None:
        raise ChannelNotFound(detail={"channel_id": channel_id})
    if channel.qrcode:
        return channel
    png = get_wxacode_unlimit(scene=channel.scene, page=channel.page)
    storage = channel.qrcode.storage
    # The storage picks a free name (it adds a suffix when taken), so a racing call never
    # overwrites the file the winner attached.
    name = storage.save(channel.qrcode.field.generate_filename(channel, f"channel-{channel.pk}.png"),
                        ContentFile(png))
    with transaction.atomic(durable=True):
        attached = Channel.objects.filter(pk=channel.pk, qrcode="").update(
            qrcode=name, qrcode_generated_at=timezone.now())
    if not attached:
        storage.delete(name)
    return Channel.objects.get(pk=channel.pk)


def channel_scan(*, member: Member, scene: str) -> ScanResult:
    """A member scanned a channel code: claim the channel's template, attributed to the channel.

    Unknown scene or a disabled channel: ChannelNotFound (404), nothing recorded. Otherwise one
    ChannelScan row is written for the scan, `claimed`, or `refused` with the refusal's error
    code as the reason (limit reached, sold out, not eligible…), in the same durable transaction
    as the grant; then the refusal is raised. The grant goes through coupon_grant (source SCAN,
    channel_id set), which takes the member's quota and the template's stock with conditional
    UPDATEs — so a double tap claims once and the second scan is recorded as refused.
    """
    channel = Channel.objects.select_related("template").filter(scene=scene, is_active=True).first()
    if channel is None:
        raise ChannelNotFound(detail={"scene": scene})
    refusal: DomainError | None = None
    with transaction.atomic(durable=True):
        try:
            grant = coupon_grant(template=channel.template, member=member, source=CouponSource.SCAN,
                                 channel_id=channel.pk)
        except DomainError as exc:
            refusal = exc
            ChannelScan.objects.create(channel=channel, member=member, outcome=ChannelScan.Outcome.REFUSED,
                                       reason=exc.code[:64])
        else:
            ChannelScan.objects.create(channel=channel, member=member, outcome=ChannelScan.Outcome.CLAIMED)
    track("channel_scanned", member_id=member.pk,
          properties={"channel_id": channel.pk, "claimed": refusal is None,
                      "reason": refusal.code if refusal else ""})
    if refusal is not None:
        raise refusal
    return ScanResult(channel=channel, coupon=grant.coupon)
