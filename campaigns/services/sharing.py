"""Shares, the visits and new members they bring, the orders they are credited with, and the
invite-a-friend rewards.

- `share_create`: a member shares something (商品, 拼团, 砍价, 邀请, 优惠券, 页面); the share card and
  poster carry the returned `share_no`. The share's parent is the share the sharer came in
  through, which makes the spread tree.
- `share_visit_record`: the mini-program reports that a logged-in member opened a share, with the
  WeChat entry scene. A member who registered just before (settings.SHARE_NEW_MEMBER_MINUTES) and
  was brought by no share yet is credited to it (ShareSignup); through an invitation that is also
  the friend's Invitation, which may reward the inviter.
- `share_order_attribute`: a paid order is credited to the last share its buyer opened within
  settings.SHARE_ATTRIBUTION_DAYS (last touch), never to the buyer's own share.
- Invitation rewards (`invite_reward_first_order` and the registration one): per the operators'
  InviteSettings, once per friend and trigger (a unique row, whatever the outcome), never for an
  account re-created with a deleted account's OpenID or phone, never to a blocked inviter, within
  the inviter's daily and total caps and the friend's device's daily cap. WeChat forbids rewarding
  the share itself: nothing is paid when a share is made or opened by someone already a member.
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Least
from django.utils import timezone

from campaigns.errors import ShareNotFound
from campaigns.models import (
    CouponSource,
    Invitation,
    InviteReward,
    InviteRewardKind,
    InviteRewardOutcome,
    InviteRewardTrigger,
    InviteSettings,
    Share,
    ShareKind,
    ShareOrder,
    ShareSignup,
    ShareVisit,
)
from campaigns.services.coupons import coupon_grant
from campaigns.services.guards import ALL_TIME, allowance_take, day_window, device_seen
from core.errors import DomainError, ValidationFailed
from core.jobs import enqueue_after_commit
from core.tracking import track
from members.models import Member, PointsKind
from members.selectors import member_identity_recycled
from members.services import points_award

Outcome = InviteRewardOutcome


def invite_settings_current() -> InviteSettings:
    """The operators' 邀请有礼 settings (the one row; created with the defaults if missing)."""
    row, _ = InviteSettings.objects.get_or_create(pk=1)
    return row


def _share_no() -> str:
    return secrets.token_hex(5).upper()


def share_create(*, member_id: int, kind: str, target: str = "", via_share_no: str = "",
                 now: dt.datetime | None = None) -> Share:
    """Record a share by `member_id` and return it (its share_no goes on the card and the poster).

    The parent is `via_share_no` when the member came in through that share, else the last share
    they opened within the attribution window, else the one they registered through; depth is the
    parent's + 1. A share of an unknown kind is ValidationFailed (400 invalid_share_kind). Nothing
    is rewarded for sharing. One insert, no lock.
    """
    if kind not in ShareKind.values:
        raise ValidationFailed("分享内容类型有误", code="invalid_share_kind", detail={"kind": kind})
    now = now or timezone.now()
    parent = None
    if via_share_no:
        parent = Share.objects.filter(share_no=via_share_no).exclude(sharer_id=member_id).first()
    if parent is None:
        since = now - dt.timedelta(days=settings.SHARE_ATTRIBUTION_DAYS)
        visit = (ShareVisit.objects.filter(visitor_id=member_id, created_at__gte=since)
                 .exclude(share__sharer_id=member_id).select_related("share").order_by("-created_at", "-pk").first())
        parent = visit.share if visit else None
    if parent is None:
        signup = ShareSignup.objects.filter(member_id=member_id).select_related("share").first()
        parent = signup.share if signup else None
    share = Share.objects.create(share_no=_share_no(), sharer_id=member_id, kind=kind, target=target[:64],
                                 parent=parent, depth=parent.depth + 1 if parent else 1)
    track("share_created", member_id=member_id, properties={"share_no": share.share_no, "kind": kind})
    return share


def share_visit_record(*, member_id: int, share_no: str, scene: int | None = None, device_id: str = "",
                       now: dt.datetime | None = None) -> ShareVisit | None:
    """A logged-in member opened a share: record it with the entry scene. Returns the visit, or
    None when the member opened their own share (not a visit).

    A member who registered within settings.SHARE_NEW_MEMBER_MINUTES before now, after the share
    was made, and was brought by no share yet, is credited to this one (ShareSignup, unique per
    member: two reports at once credit one share); through an invitation share, the friend becomes
    the sharer's Invitation and the registration reward is decided (`_invite_reward`). Unknown
    share: ShareNotFound (404). One durable transaction.
    """
    now = now or timezone.now()
    share = Share.objects.filter(share_no=share_no).first()
    if share is None:
        raise ShareNotFound(detail={"share_no": share_no})
    if share.sharer_id == member_id:
        return None
    member = Member.objects.filter(pk=member_id).values("registered_at").get()
    window = dt.timedelta(minutes=settings.SHARE_NEW_MEMBER_MINUTES)
    is_new = (member["registered_at"] >= max(now - window, share.created_at)
              and not ShareSignup.objects.filter(member_id=member_id).exists())
    with transaction.atomic(durable=True):
        visit = ShareVisit.objects.create(share=share, visitor_id=member_id, scene=scene, device_id=device_id[:64],
                                          is_new_member=is_new)
        device_seen(device_id=device_id, member_id=member_id)
        if is_new:
            try:
                with transaction.atomic():
                    ShareSignup.objects.create(member_id=member_id, share=share, scene=scene)
            except IntegrityError:  # another report of this member's arrival credited a share first
                ShareVisit.objects.filter(pk=visit.pk).update(is_new_member=False)
                visit.is_new_member = False
            else:
                if share.kind == ShareKind.INVITATION:
                    invitation = Invitation.objects.create(
                        invitee_id=member_id, inviter_id=share.sharer_id, share=share, device_id=device_id[:64],
                        recycled=member_identity_recycled(member_id=member_id))
                    _invite_reward(invitation=invitation, trigger=InviteRewardTrigger.REGISTRATION, reference="",
                                   now=now)
        track("share_visited", member_id=member_id,
              properties={"share_no": share_no, "scene": scene, "new_member": visit.is_new_member})
    return visit


def share_order_attribute(*, order_no: str, member_id: int, paid_fen: int, paid_at: dt.datetime) -> ShareOrder | None:
    """Credit a paid order to the last share its buyer opened within settings.SHARE_ATTRIBUTION_DAYS
    before paying (last touch), and queue the inviter's first-order reward when the buyer was
    invited. Returns the attribution, or None when no share touched the buyer.

    Runs in the caller's (payment) transaction: inserts only, no lock; once per order (unique
    order_no: a repeat changes nothing). The invitation reward runs after commit in its own
    transaction (campaigns.tasks.reward_invite_first_order), so the inviter's member row is never
    locked inside the buyer's payment.
    """
    since = paid_at - dt.timedelta(days=settings.SHARE_ATTRIBUTION_DAYS)
    # WeChat's payment time has whole seconds (and its own clock): a minute's grace after it.
    until = paid_at + dt.timedelta(minutes=1)
    visit = (ShareVisit.objects.filter(visitor_id=member_id, created_at__gte=since, created_at__lte=until)
             .exclude(share__sharer_id=member_id).order_by("-created_at", "-pk").values("share_id").first())
    if Invitation.objects.filter(invitee_id=member_id).exists():
        enqueue_after_commit("campaigns.tasks.reward_invite_first_order", member_id, order_no, robust=True)
    if visit is None:
        return None
    rows = ShareOrder.objects.bulk_create(
        [ShareOrder(order_no=order_no, share_id=visit["share_id"], member_id=member_id, paid_fen=paid_fen,
                    paid_at=paid_at)], ignore_conflicts=True)
    return rows[0] if rows and rows[0].pk else ShareOrder.objects.filter(order_no=order_no).first()


def share_order_refunded(*, order_no: str, refunded_total_fen: int) -> None:
    """The order's goods refunded so far (this refund included): the attribution's net sales follow.
    Idempotent (sets the total, capped at what was paid); nothing when the order was not attributed."""
    ShareOrder.objects.filter(order_no=order_no).update(
        refunded_fen=Least(Value(max(refunded_total_fen, 0)), F("paid_fen")))


# --- invitation rewards ---------------------------------------------------------------------------


def invite_reward_first_order(*, invitee_id: int, order_no: str) -> InviteReward | None:
    """The invited friend paid an order: reward the inviter for the friend's first paid order, per
    the settings. Once per friend (InviteReward is unique per invitation and trigger), so the second
    order, or this one again, changes nothing. Returns the reward row (whatever its outcome) or None
    when the friend was not invited or the settings do not reward first orders. Outermost transaction.
    """
    invitation = Invitation.objects.filter(invitee_id=invitee_id).first()
    if invitation is None:
        return None
    with transaction.atomic(durable=True):
        return _invite_reward(invitation=invitation, trigger=InviteRewardTrigger.FIRST_ORDER, reference=order_no,
                              now=timezone.now())


class _Capped(Exception):
    """A cap refused the reward: roll back the allowances taken so far."""


def _invite_reward(*, invitation: Invitation, trigger: str, reference: str, now: dt.datetime) -> InviteReward | None:
    """Decide and record what this trigger earns the inviter; in the caller's transaction.

    The reward row goes in first (unique per invitation and trigger: a repeat or a racer stops
    there, returning None); then the outcome: disabled / not rewarded for this trigger → None
    (nothing recorded); recycled account, blocked inviter → recorded, nothing paid; the caps (the
    inviter's day and total, the friend's device's day), all or nothing in a savepoint → capped;
    else the points (points_award, reference = the reward) or the coupon (coupon_grant) are given.
    Locks: the allowance rows, then the inviter's member row (points) — campaign rows before members.
    """
    rules = invite_settings_current()
    wanted = (rules.reward_on_registration if trigger == InviteRewardTrigger.REGISTRATION
              else rules.reward_on_first_order)
    if not rules.enabled or not wanted:
        return None
    inviter = Member.objects.filter(pk=invitation.inviter_id).values("is_blocked", "deleted_at").get()
    try:
        with transaction.atomic():
            reward = InviteReward.objects.create(invitation=invitation, inviter_id=invitation.inviter_id,
                                                 trigger=trigger, outcome=Outcome.GRANTED, kind=rules.reward_kind,
                                                 reference=reference[:32])
    except IntegrityError:
        return None
    outcome = Outcome.GRANTED
    if invitation.recycled or member_identity_recycled(member_id=invitation.invitee_id):
        outcome = Outcome.RECYCLED
    elif inviter["is_blocked"] or inviter["deleted_at"] is not None:
        outcome = Outcome.BLOCKED
    else:
        try:
            with transaction.atomic():
                _take_invite_caps(invitation=invitation, rules=rules, now=now)
                _pay(reward=reward, rules=rules)
        except _Capped:
            outcome = Outcome.CAPPED
        except DomainError:  # the coupon could not be issued (sold out, budget): recorded, nothing paid
            outcome = Outcome.CAPPED
    if outcome != Outcome.GRANTED:
        reward.points, reward.coupon_id = 0, None
    reward.outcome = outcome
    reward.save(update_fields=["outcome", "kind", "points", "coupon_id"])
    track("invite_rewarded", member_id=invitation.inviter_id,
          properties={"invitee_id": invitation.invitee_id, "trigger": trigger, "outcome": outcome})
    return reward


def _take_invite_caps(*, invitation: Invitation, rules: InviteSettings, now: dt.datetime) -> None:
    day = day_window(now)
    caps = [(f"invite:member:{invitation.inviter_id}", day, rules.daily_cap),
            (f"invite:member:{invitation.inviter_id}", ALL_TIME, rules.total_cap)]
    if invitation.device_id:
        caps.append((f"invite:device:{invitation.device_id}", day, rules.device_daily_cap))
    for key, window, limit in caps:
        if not allowance_take(key=key, window=window, limit=limit):
            raise _Capped(key)


def _pay(*, reward: InviteReward, rules: InviteSettings) -> None:
    if rules.reward_kind == InviteRewardKind.COUPON and rules.reward_coupon_template is not None:
        inviter = Member.objects.get(pk=reward.inviter_id)
        grant = coupon_grant(template=rules.reward_coupon_template, member=inviter, source=CouponSource.INVITE,
                             issue_key=f"invite-{reward.pk}")
        reward.coupon_id = grant.coupon.pk
        return
    reward.kind = InviteRewardKind.POINTS
    reward.points = rules.reward_points
    points_award(member_id=reward.inviter_id, points=rules.reward_points, kind=PointsKind.INVITE,
                 reference=f"invite-{reward.pk}", note="邀请好友奖励")
