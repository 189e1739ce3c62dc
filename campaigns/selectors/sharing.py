"""Reads about shares: a member's invitations, a campaign's or product's share report (who shared,
visits, new members, attributed orders and net sales, the spread tree, the K-factor), and the
suspicious patterns the console lists."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, F, Prefetch, QuerySet, Sum
from django.db.models.functions import Coalesce

from campaigns.models import BargainHelp, DeviceSighting, Invitation, InviteReward, Share, ShareOrder, ShareVisit
from core.money import yuan
from members.models import Member


def invitations_for_inviter(*, member_id: int) -> QuerySet[Invitation]:
    """The member's invited friends, newest first, with their rewards (two queries a page)."""
    return (Invitation.objects.filter(inviter_id=member_id).annotate(invitee_nickname=F("invitee__nickname"))
            .prefetch_related(Prefetch("rewards", queryset=InviteReward.objects.order_by("pk"))).order_by("-pk"))


@dataclass
class ShareNode:
    """One share in the report: its numbers, and the shares made by the people it brought."""

    share_id: int
    share_no: str
    sharer_id: int
    sharer_name: str
    depth: int
    created_at: dt.datetime
    visits: int = 0
    new_members: int = 0
    orders: int = 0
    paid_fen: int = 0
    refunded_fen: int = 0
    children: list[ShareNode] = field(default_factory=list)

    @property
    def net_fen(self) -> int:
        return self.paid_fen - self.refunded_fen


@dataclass(frozen=True)
class SharerRow:
    sharer_id: int
    sharer_name: str
    shares: int
    visits: int
    new_members: int
    orders: int
    net_fen: int

    @property
    def net_yuan(self) -> str:
        return yuan(self.net_fen)


@dataclass(frozen=True)
class ShareReport:
    kind: str
    target: str
    roots: list[ShareNode]
    sharers: list[SharerRow]
    shares: int
    visits: int
    new_members: int
    orders: int
    net_fen: int
    max_depth: int

    @property
    def k_factor(self) -> float:
        """New members brought per sharer (K-factor): above 1 the campaign spreads on its own."""
        return round(self.new_members / len(self.sharers), 2) if self.sharers else 0.0


def share_report(*, kind: str, target: str) -> ShareReport:
    """Every share of (kind, target) — a product, a bargain activity's launch, a page — and every
    share made downstream of them (any kind: a friend brought by a product share who then shares an
    invitation still spreads it), as a forest, with visits, new members and attributed orders per
    share and per sharer. A fixed number of queries: the shares hop by hop (at most 10 hops), then
    one aggregate each for visits, sign-ups and orders."""
    nodes: dict[int, ShareNode] = {}
    parents: dict[int, int | None] = {}
    level = list(Share.objects.filter(kind=kind, target=target).select_related("sharer").order_by("pk"))
    hops = 0
    while level and hops < 10:
        for s in level:
            nodes[s.pk] = ShareNode(share_id=s.pk, share_no=s.share_no, sharer_id=s.sharer_id,
                                    sharer_name=str(s.sharer), depth=s.depth, created_at=s.created_at)
            parents[s.pk] = s.parent_id
        level = list(Share.objects.filter(parent_id__in=[s.pk for s in level]).exclude(pk__in=list(nodes))
                     .select_related("sharer").order_by("pk"))
        hops += 1
    roots = []
    for pk, node in nodes.items():
        parent_id = parents[pk]
        if parent_id in nodes:
            nodes[parent_id].children.append(node)
        else:
            roots.append(pk)
    ids = list(nodes)
    for row in ShareVisit.objects.filter(share_id__in=ids).values("share_id").annotate(n=Count("pk")):
        nodes[row["share_id"]].visits = row["n"]
    for row in Share.objects.filter(pk__in=ids).annotate(n=Count("signups")).values("pk", "n"):
        nodes[row["pk"]].new_members = row["n"]
    for row in ShareOrder.objects.filter(share_id__in=ids).values("share_id").annotate(
            n=Count("pk"), paid=Coalesce(Sum("paid_fen"), 0), refunded=Coalesce(Sum("refunded_fen"), 0)):
        node = nodes[row["share_id"]]
        node.orders, node.paid_fen, node.refunded_fen = row["n"], row["paid"], row["refunded"]
    per_sharer: dict[int, list[ShareNode]] = defaultdict(list)
    for node in nodes.values():
        per_sharer[node.sharer_id].append(node)
    sharers = sorted((SharerRow(sharer_id=sid, sharer_name=group[0].sharer_name, shares=len(group),
                                visits=sum(n.visits for n in group), new_members=sum(n.new_members for n in group),
                                orders=sum(n.orders for n in group), net_fen=sum(n.net_fen for n in group))
                      for sid, group in per_sharer.items()),
                     key=lambda r: (-r.new_members, -r.net_fen, r.sharer_id))
    all_nodes = list(nodes.values())
    return ShareReport(kind=kind, target=target, roots=[nodes[pk] for pk in roots], sharers=sharers,
                       shares=len(all_nodes), visits=sum(n.visits for n in all_nodes),
                       new_members=sum(n.new_members for n in all_nodes), orders=sum(n.orders for n in all_nodes),
                       net_fen=sum(n.net_fen for n in all_nodes),
                       max_depth=max((n.depth for n in all_nodes), default=0))


def share_targets_top(*, limit: int = 20) -> list[dict[str, object]]:
    """The most shared (kind, target) pairs, for the report's picker."""
    return list(Share.objects.values("kind", "target").annotate(shares=Count("pk"))
                .order_by("-shares", "kind", "target")[:limit])


@dataclass(frozen=True)
class DeviceCluster:
    device_id: str
    members: list[Member]


@dataclass(frozen=True)
class HelperBurst:
    launch_id: int
    launch_no: str
    launcher: str
    new_helpers: int
    helpers: int


def suspicious_devices(*, min_accounts: int | None = None, limit: int = 50) -> list[DeviceCluster]:
    """Devices seen with at least settings.ABUSE_ACCOUNTS_PER_DEVICE members (helping, visiting a
    share, registering through one), most accounts first. Two queries."""
    threshold = min_accounts or settings.ABUSE_ACCOUNTS_PER_DEVICE
    rows = list(DeviceSighting.objects.values("device_id").annotate(n=Count("member_id", distinct=True))
                .filter(n__gte=threshold).order_by("-n", "device_id")[:limit])
    devices = [r["device_id"] for r in rows]
    members: dict[str, list[Member]] = defaultdict(list)
    for sighting in DeviceSighting.objects.filter(device_id__in=devices).select_related("member").order_by("pk"):
        members[sighting.device_id].append(sighting.member)
    return [DeviceCluster(device_id=d, members=members[d]) for d in devices]


def suspicious_helper_bursts(*, min_new: int | None = None, hours: int | None = None,
                             limit: int = 50) -> list[HelperBurst]:
    """Bargain launches helped by at least settings.ABUSE_NEW_HELPER_BURST members who had
    registered less than settings.ABUSE_NEW_HELPER_HOURS before they helped: brand-new accounts
    made to cut one launch. One aggregate query."""
    threshold = min_new or settings.ABUSE_NEW_HELPER_BURST
    window = dt.timedelta(hours=hours or settings.ABUSE_NEW_HELPER_HOURS)
    rows = (BargainHelp.objects.filter(helper_registered_at__isnull=False,
                                       helper_registered_at__gte=F("created_at") - window)
            .values("launch_id", "launch__launch_no", "launch__member__nickname", "launch__helpers_count")
            .annotate(n=Count("pk")).filter(n__gte=threshold).order_by("-n", "launch_id")[:limit])
    return [HelperBurst(launch_id=r["launch_id"], launch_no=r["launch__launch_no"],
                        launcher=r["launch__member__nickname"] or "微信用户", new_helpers=r["n"],
                        helpers=r["launch__helpers_count"]) for r in rows]
