"""Who an uploaded list (定向发放 → 上传名单) names: member ids, OpenIDs or phone numbers → member ids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from members.models import Member


class IdKind:
    MEMBER_ID = "member_id"
    OPENID = "openid"
    PHONE = "phone"

    CHOICES = [(MEMBER_ID, "会员 ID"), (OPENID, "OpenID"), (PHONE, "手机号")]


@dataclass(frozen=True)
class Resolution:
    """member_ids: the active members found (ascending, each once); unknown: values that matched
    nobody; shared_phones: phone numbers that matched more than one member (all of them count)."""

    member_ids: list[int]
    unknown: list[str] = field(default_factory=list)
    duplicates: int = 0
    shared_phones: list[str] = field(default_factory=list)


_CHUNK = 5000


def members_resolve(*, values: Sequence[str], kind: str) -> Resolution:
    """Map uploaded identifiers of one kind to active members. Reads only, in chunks of 5,000.

    A value repeated in the file counts once (`duplicates` says how many repeats were dropped).
    """
    cleaned = [_normalise(v.strip(), kind) for v in values if v and v.strip()]
    unique = list(dict.fromkeys(cleaned))
    duplicates = len(cleaned) - len(unique)
    found: dict[str, list[int]] = {}
    lookup = {IdKind.MEMBER_ID: "pk", IdKind.OPENID: "openid", IdKind.PHONE: "phone"}[kind]
    candidates = [v for v in unique if _is_member_id(v)] if kind == IdKind.MEMBER_ID else unique
    for start in range(0, len(candidates), _CHUNK):
        chunk = candidates[start:start + _CHUNK]
        keys: list[object] = [int(v) for v in chunk] if kind == IdKind.MEMBER_ID else list(chunk)
        rows = Member.objects.filter(is_active=True, **{f"{lookup}__in": keys}).values_list(lookup, "pk")
        for key, member_id in rows:
            found.setdefault(str(key), []).append(member_id)
    member_ids = sorted({pk for ids in found.values() for pk in ids})
    unknown = [v for v in unique if v not in found]
    shared = [v for v, ids in found.items() if len(ids) > 1]
    return Resolution(member_ids=member_ids, unknown=unknown, duplicates=duplicates, shared_phones=sorted(shared))


def _is_member_id(value: str) -> bool:
    return value.isdigit() and len(value) < 19


def _normalise(value: str, kind: str) -> str:
    if kind == IdKind.MEMBER_ID and _is_member_id(value):
        return str(int(value))  # "007" is member 7
    if kind == IdKind.PHONE:
        return value.replace(" ", "").replace("-", "").removeprefix("+86")
    return value
