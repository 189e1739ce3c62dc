"""Redemption codes (兑换码) for partner brands (异业合作): generated or imported in batches, each
redeemable once for one coupon of the batch's template.

Codes are stored upper-case without separators. What a shopper types is normalised the same way
(spaces and hyphens dropped, upper-cased), so "abcd-efgh-jkmn" finds ABCDEFGHJKMN.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from campaigns.errors import (
    CodeAlreadyRedeemed,
    CodeImportInvalid,
    CodeInvalid,
    CodeNotFound,
    CodeQuantityInvalid,
    CouponTemplateNotFound,
)
from campaigns.models import CodeBatch, Coupon, CouponSource, CouponTemplate, RedeemCode
from campaigns.services.coupons import coupon_grant
from core.operators import operator_id
from core.tracking import track
from members.models import Member

# 32 symbols without the look-alikes 0/O and 1/I: a code read off a card is typed right.
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
GENERATED_LENGTH = 12
MAX_BATCH = 100_000
# Imported partner codes: whatever their system made, within reason.
CODE_FORMAT = re.compile(r"[0-9A-Z]{4,32}")
# At most this many offending rows are listed in an import error (the count says how many in all).
MAX_LISTED_ROWS = 200
_SEPARATORS = re.compile(r"[\s\-]+")

REASONS = {
    "format": "格式不正确（4–32 位字母或数字）",
    "duplicate": "与文件中前面的行重复",
    "exists": "兑换码已存在",
}


def code_normalise(raw: str) -> str:
    """What a shopper typed, as codes are stored: upper-case, no spaces or hyphens."""
    return _SEPARATORS.sub("", raw).upper()


def code_batch_generate(*, template_id: int, name: str, partner: str, quantity: int,
                        operator: AbstractBaseUser | None = None) -> CodeBatch:
    """A batch of `quantity` (1–100,000) new random codes of GENERATED_LENGTH from ALPHABET.

    One durable transaction: the batch row, then the codes in bulk with
    `INSERT … ON CONFLICT (code) DO NOTHING RETURNING`, drawing fresh codes for any that
    collided with an existing one (or a concurrent batch) until the batch is full. All or nothing.
    Raises CouponTemplateNotFound, CodeQuantityInvalid.
    """
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_BATCH:
        raise CodeQuantityInvalid(detail={"quantity": quantity, "max": MAX_BATCH})
    template = _template(template_id)
    with transaction.atomic(durable=True):
        batch = CodeBatch.objects.create(name=name, partner=partner, template=template,
                                         origin=CodeBatch.Origin.GENERATED, quantity=quantity,
                                         created_by_id=operator_id(operator))
        missing = quantity
        while missing:
            missing -= len(_insert(batch.pk, _random_codes(missing)))
    return batch


def code_batch_import(*, template_id: int, name: str, partner: str, codes: list[str],
                      operator: AbstractBaseUser | None = None) -> CodeBatch:
    """A batch of the partner's own codes. All or nothing.

    Each entry is stripped and upper-cased; blank entries are skipped. Any entry that is not 4–32
    letters or digits, repeats an earlier one, or already exists in any batch refuses the whole
    import with CodeImportInvalid, whose detail lists the rows (1-based, as in the file) and why:
    {"rows": [{"row", "code", "reason", "message"}…], "error_count"}. The insert runs in one
    durable transaction and re-checks for codes a concurrent import took meanwhile.
    Raises CouponTemplateNotFound, CodeQuantityInvalid (none, or more than 100,000).
    """
    template = _template(template_id)
    rows: list[tuple[int, str]] = [(i, str(raw).strip().upper()) for i, raw in enumerate(codes, start=1)]
    rows = [(row, code) for row, code in rows if code]
    if not 1 <= len(rows) <= MAX_BATCH:
        raise CodeQuantityInvalid(detail={"quantity": len(rows), "max": MAX_BATCH})
    problems: list[tuple[int, str, str]] = []
    first_row: dict[str, int] = {}
    for row, code in rows:
        if not CODE_FORMAT.fullmatch(code):
            problems.append((row, code, "format"))
        elif code in first_row:
            problems.append((row, code, "duplicate"))
        else:
            first_row[code] = row
    taken = _existing(first_row)
    problems += [(first_row[code], code, "exists") for code in taken]
    if problems:
        raise _import_refused(problems)
    with transaction.atomic(durable=True):
        batch = CodeBatch.objects.create(name=name, partner=partner, template=template,
                                         origin=CodeBatch.Origin.IMPORTED, quantity=len(first_row),
                                         created_by_id=operator_id(operator))
        inserted = _insert(batch.pk, list(first_row))
        if len(inserted) != len(first_row):  # a concurrent import took some of them meanwhile
            raise _import_refused([(first_row[c], c, "exists") for c in first_row if c not in inserted])
    return batch


def code_redeem(*, member: Member, code: str) -> Coupon:
    """Redeem a code: the member gets one coupon of its batch's template.

    Malformed: CodeInvalid (400). Unknown: CodeNotFound (404). Redeemed by another member:
    CodeAlreadyRedeemed (409). Redeemed by this member already: their coupon again (idempotent).
    One durable transaction: a conditional UPDATE claims the code (`redeemed_by IS NULL`) — of
    members racing for one code exactly one gets the row — then coupon_grant (source CODE,
    issue_key "code:<code>", the template's claim window and limits apply). If the grant is
    refused (limit reached, sold out, not eligible…) the refusal is raised and the whole
    transaction rolls back: the code stays unredeemed for someone who can use it.
    """
    normalised = code_normalise(code) if isinstance(code, str) else ""
    if not CODE_FORMAT.fullmatch(normalised):
        raise CodeInvalid()
    found = RedeemCode.objects.select_related("batch__template").filter(code=normalised).first()
    if found is None:
        raise CodeNotFound()
    issue_key = f"code:{normalised}"
    if found.redeemed_by_id is not None:
        return _redeemed_before(found, member=member, issue_key=issue_key)
    with transaction.atomic(durable=True):
        now = timezone.now()
        claimed = RedeemCode.objects.filter(pk=found.pk, redeemed_by__isnull=True).update(
            redeemed_by=member, redeemed_at=now)
        if not claimed:
            # Another request took it first and has committed (the UPDATE waited for its lock).
            found.refresh_from_db(fields=["redeemed_by", "coupon"])
            return _redeemed_before(found, member=member, issue_key=issue_key)
        grant = coupon_grant(template=found.batch.template, member=member, source=CouponSource.CODE,
                             issue_key=issue_key, now=now)
        RedeemCode.objects.filter(pk=found.pk).update(coupon=grant.coupon)
    track("code_redeemed", member_id=member.pk, properties={"batch_id": found.batch_id, "coupon_id": grant.coupon.pk})
    return grant.coupon


def _redeemed_before(found: RedeemCode, *, member: Member, issue_key: str) -> Coupon:
    if found.redeemed_by_id == member.pk:
        coupon = Coupon.objects.filter(issue_key=issue_key, member=member).first()
        if coupon is not None:
            return coupon
    raise CodeAlreadyRedeemed()


def _template(template_id: int) -> CouponTemplate:
    template = CouponTemplate.objects.filter(pk=template_id).first()
    if template is None:
        raise CouponTemplateNotFound(detail={"template_id": template_id})
    return template


def _random_codes(count: int) -> list[str]:
    """`count` distinct random codes: 12 symbols of 32 is 60 bits, so a collision with the
    codes already stored is rare, but it is handled (see code_batch_generate)."""
    assert len(ALPHABET) == 32  # a random byte's low 5 bits pick a symbol uniformly
    codes: set[str] = set()
    while len(codes) < count:
        raw = secrets.token_bytes(GENERATED_LENGTH)
        codes.add("".join(ALPHABET[b & 31] for b in raw))
    return list(codes)


def _insert(batch_id: int, codes: list[str]) -> set[str]:
    """Insert the codes that are free; return those inserted. One statement per 20,000 codes."""
    inserted: set[str] = set()
    table = RedeemCode._meta.db_table
    with connection.cursor() as cursor:
        for start in range(0, len(codes), 20_000):
            cursor.execute(
                f"INSERT INTO {table} (batch_id, code) SELECT %s, unnest(%s::varchar[]) "
                "ON CONFLICT (code) DO NOTHING RETURNING code",
                [batch_id, codes[start:start + 20_000]])
            inserted.update(row[0] for row in cursor.fetchall())
    return inserted


def _existing(codes: Iterable[str]) -> set[str]:
    wanted = list(codes)
    found: set[str] = set()
    for start in range(0, len(wanted), 20_000):
        found.update(RedeemCode.objects.filter(code__in=wanted[start:start + 20_000]).values_list("code", flat=True))
    return found


def _import_refused(problems: list[tuple[int, str, str]]) -> CodeImportInvalid:
    problems.sort()
    rows: list[dict[str, Any]] = [
        {"row": row, "code": code, "reason": reason, "message": REASONS[reason]}
        for row, code, reason in problems[:MAX_LISTED_ROWS]
    ]
    return CodeImportInvalid(f"兑换码导入失败：{len(problems)} 行有误，请修改后重新导入",
                             detail={"rows": rows, "error_count": len(problems)})
