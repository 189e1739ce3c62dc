"""Reads for the ways coupons reach members besides the centre: channels, code batches, targeted issues."""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from campaigns.models import Channel, ChannelScan, CodeBatch, RedeemCode


def _scans(outcome: str | None = None) -> Subquery:
    scans = ChannelScan.objects.filter(channel=OuterRef("pk"))
    if outcome is not None:
        scans = scans.filter(outcome=outcome)
    counted = scans.order_by().values("channel").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))  # type: ignore[return-value]


def channel_list_with_counts() -> QuerySet[Channel]:
    """Channels with `scan_count` (every scan by a logged-in member), `claim_count` (scans that
    issued a coupon) and `refused_count`; one query, however many channels (the admin list)."""
    return (Channel.objects.select_related("template")
            .annotate(scan_count=_scans(), claim_count=_scans(ChannelScan.Outcome.CLAIMED),
                      refused_count=_scans(ChannelScan.Outcome.REFUSED)))


def channel_with_counts(*, channel_id: int) -> Channel | None:
    """One channel with scan_count / claim_count / refused_count, or None."""
    return channel_list_with_counts().filter(pk=channel_id).first()


def code_batch_codes(*, batch_id: int) -> QuerySet[RedeemCode]:
    """A batch's codes in creation order, with who redeemed each and when: the export.

    Iterate with `.iterator(chunk_size=…)` for big batches (up to 100,000 codes)."""
    return (RedeemCode.objects.filter(batch_id=batch_id).select_related("redeemed_by")
            .only("id", "code", "batch_id", "redeemed_at", "coupon_id", "redeemed_by__id", "redeemed_by__nickname",
                  "redeemed_by__openid")
            .order_by("id"))


def code_batch_list_with_counts() -> QuerySet[CodeBatch]:
    """Batches with `redeemed_count` (codes redeemed so far); one query for the admin list."""
    redeemed = (RedeemCode.objects.filter(batch=OuterRef("pk"), redeemed_by__isnull=False).order_by()
                .values("batch").annotate(n=Count("pk")).values("n"))
    return CodeBatch.objects.select_related("template").annotate(
        redeemed_count=Coalesce(Subquery(redeemed, output_field=IntegerField()), Value(0)))
