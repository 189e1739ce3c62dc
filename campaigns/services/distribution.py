"""Distributors (分销员): applying, the operators' review, freezing, grades.

    distributor_apply(member=…, data=ApplicationInput(…))      the mini-program's 申请成为分销员
    distributor_ensure(member=…)                                 人人分销 / 满额分销: the rules make one
    distributor_approve / distributor_reject(reason)              the console's 待审核 queue
    distributor_freeze(reason) / distributor_unfreeze             frozen: earns nothing new, cannot withdraw
    distributor_set_grade / distributor_grades_upgrade            by hand / the nightly job

Every status change goes through DISTRIBUTOR_MACHINE (audit row included) under the distributor's
row lock; the application's outcome is written in the same transaction. The applicant gets a
subscribe message with the result (where they have a consent credit for it), queued in the
decision's transaction and sent after commit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Count, F, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns.errors import (
    DistributionDisabled,
    DistributionThresholdNotMet,
    DistributorAlreadyActive,
    DistributorApplicationInvalid,
    DistributorApplicationPending,
    DistributorFrozen,
    DistributorInvalidTransition,
    DistributorNotFound,
    NotADistributor,
    ReasonRequired,
)
from campaigns.models import Binding, Commission, Distributor, DistributorApplication, DistributorGrade
from campaigns.models.commissions import CommissionStatus
from campaigns.models.distribution import (
    DISTRIBUTOR_MACHINE,
    ApplicationOutcome,
    BindingStatus,
    DistributionMode,
    DistributionSettings,
    DistributorAction,
    DistributorEvent,
    DistributorSource,
    DistributorStatus,
)
from campaigns.posters import SharePosterContent, share_poster_render
from campaigns.selectors.distribution import distribution_settings_current, share_scene
from campaigns.services.commissions import commission_preview_percent
from catalog.errors import ProductUnavailable
from catalog.models import Product
from core.audit import Actor
from core.money import apply_rate
from core.operators import operator_id
from core.privacy import mask_name, mask_phone
from core.tracking import track
from members.models import Member
from wechat.messages import subscribe_message_queue
from wechat.miniprogram import get_wxacode_unlimit

DS = DistributorStatus
PHONE = re.compile(r"1\d{10}")
REVIEW_TEMPLATE = "distributor_review"


@dataclass(frozen=True)
class ApplicationInput:
    real_name: str
    phone: str
    reason: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


def distributor_apply(*, member: Member, data: ApplicationInput) -> Distributor:
    """申请成为分销员.

    指定分销: a DistributorApplication and the distributor 待审核 (a first application, or again
    after a rejection). 人人分销, or 满额分销 with the paid total reached: an active distributor at
    once (the answers are kept as their name and phone). Refused: distribution off (409
    distribution_disabled), bad answers (400 distributor_application_invalid, nothing stored), an
    open application (409 distributor_application_pending), already a distributor (409
    distributor_already_active / distributor_frozen), 满额 below the threshold (409
    distribution_threshold_not_met). One durable transaction, distributor row locked; a double tap
    files one application.
    """
    rules = distribution_settings_current()
    if not rules.enabled:
        raise DistributionDisabled()
    answers = _clean_application(data, rules)
    if rules.mode != DistributionMode.APPOINTED:
        _check_automatic(member, rules)
    with transaction.atomic(durable=True):
        distributor = _lock_or_create(member.pk)
        if distributor.status == DS.ACTIVE:
            raise DistributorAlreadyActive()
        if distributor.status == DS.FROZEN:
            raise DistributorFrozen()
        if rules.mode != DistributionMode.APPOINTED:
            return _activate_automatically(distributor, rules, real_name=answers.real_name, phone=answers.phone)
        if distributor.status == DS.APPLYING and DistributorApplication.objects.filter(
                distributor=distributor, outcome=ApplicationOutcome.PENDING).exists():
            raise DistributorApplicationPending()
        if distributor.status == DS.REJECTED:
            distributor, _ = DISTRIBUTOR_MACHINE.transition(pk=distributor.pk, to=DS.APPLYING,
                                                            action=DistributorAction.APPLIED, actor=Actor.MEMBER,
                                                            note="重新申请")
        else:
            DISTRIBUTOR_MACHINE.record(distributor, action=DistributorAction.APPLIED, actor=Actor.MEMBER,
                                       from_status="")
        DistributorApplication.objects.create(distributor=distributor, member=member, real_name=answers.real_name,
                                              phone=answers.phone, reason=answers.reason, extra=dict(answers.extra))
        Distributor.objects.filter(pk=distributor.pk).update(real_name=answers.real_name, phone=answers.phone)
    track("distributor_applied", member_id=member.pk, properties={"distributor_id": distributor.pk})
    return Distributor.objects.get(pk=distributor.pk)


def distributor_ensure(*, member: Member) -> Distributor | None:
    """The member's distributor row when the rules make everyone (人人分销) or this member (满额分销,
    paid total at the threshold) one: created or activated here; under 指定分销, whatever the member
    has (maybe None). Distribution off: None. A frozen distributor stays frozen."""
    rules = distribution_settings_current()
    if not rules.enabled:
        return None
    existing = Distributor.objects.filter(member_id=member.pk).first()
    if existing is not None and existing.status in (DS.ACTIVE, DS.FROZEN):
        return existing
    if rules.mode == DistributionMode.APPOINTED or not _qualifies_automatically(member, rules):
        return existing
    with transaction.atomic(durable=True):
        distributor = _lock_or_create(member.pk)
        if distributor.status in (DS.ACTIVE, DS.FROZEN):
            return distributor
        return _activate_automatically(distributor, rules, real_name="", phone=member.phone)


def distributor_approve(*, distributor_id: int, operator: AbstractBaseUser | None) -> Distributor:
    """审核通过: the applicant becomes an active distributor; the open application is approved and
    the applicant told. Approving one already active is a no-op; other states are refused (409)."""
    with transaction.atomic(durable=True):
        distributor, changed = DISTRIBUTOR_MACHINE.transition(
            pk=distributor_id, to=DS.ACTIVE, action=DistributorAction.APPROVED, actor=Actor.OPERATOR,
            operator=operator, allowed_from=[DS.APPLYING], fields={"reject_reason": ""})
        if changed:
            application = _decide_application(distributor, ApplicationOutcome.APPROVED, operator=operator, reason="")
            _tell(distributor, application, result="审核通过", remark="恭喜成为分销员，分享好物赚佣金")
    return distributor


def distributor_reject(*, distributor_id: int, operator: AbstractBaseUser | None, reason: str) -> Distributor:
    """审核驳回, with the reason the applicant is shown (required: 400 reason_required). The member may
    apply again. Rejecting one already rejected is a no-op."""
    reason = _required(reason)
    with transaction.atomic(durable=True):
        distributor, changed = DISTRIBUTOR_MACHINE.transition(
            pk=distributor_id, to=DS.REJECTED, action=DistributorAction.REJECTED, actor=Actor.OPERATOR,
            operator=operator, note=reason, allowed_from=[DS.APPLYING], fields={"reject_reason": reason})
        if changed:
            application = _decide_application(distributor, ApplicationOutcome.REJECTED, operator=operator,
                                              reason=reason)
            _tell(distributor, application, result="未通过", remark=reason)
    return distributor


def distributor_freeze(*, distributor_id: int, operator: AbstractBaseUser | None, reason: str) -> Distributor:
    """冻结 (reason required): earns nothing new and cannot withdraw; what was earned stays and keeps
    settling. Idempotent."""
    reason = _required(reason)
    with transaction.atomic(durable=True):
        distributor, _ = DISTRIBUTOR_MACHINE.transition(
            pk=distributor_id, to=DS.FROZEN, action=DistributorAction.FROZEN, actor=Actor.OPERATOR,
            operator=operator, note=reason, fields={"freeze_reason": reason})
    return distributor


def distributor_unfreeze(*, distributor_id: int, operator: AbstractBaseUser | None) -> Distributor:
    """解冻: active again. Idempotent; only a frozen distributor can be unfrozen (409 otherwise)."""
    with transaction.atomic(durable=True):
        distributor, _ = DISTRIBUTOR_MACHINE.transition(
            pk=distributor_id, to=DS.ACTIVE, action=DistributorAction.UNFROZEN, actor=Actor.OPERATOR,
            operator=operator, allowed_from=[DS.FROZEN], fields={"freeze_reason": ""})
    return distributor


def distributor_set_grade(*, distributor_id: int, grade_id: int | None,
                          operator: AbstractBaseUser | None) -> Distributor:
    """调整等级 by hand, audited. The nightly job only ever moves distributors up from there."""
    with transaction.atomic(durable=True):
        distributor = Distributor.objects.select_for_update().filter(pk=distributor_id).first()
        if distributor is None:
            raise DistributorNotFound(detail={"id": distributor_id})
        if distributor.grade_id == grade_id:
            return distributor
        grade = DistributorGrade.objects.filter(pk=grade_id).first() if grade_id else None
        before = str(distributor.grade or "无")
        distributor.grade = grade
        distributor.save(update_fields=["grade"])
        DISTRIBUTOR_MACHINE.record(distributor, action=DistributorAction.GRADE, actor=Actor.OPERATOR,
                                   operator=operator, note=f"{before} → {grade or '无'}",
                                   data={"grade_id": grade_id})
    return distributor


def distributor_grades_upgrade() -> int:
    """The nightly upgrade: each active distributor moves up to the highest grade whose conditions
    (promoted sales net of refunds, direct team size) they meet; never down. Returns how many moved.

    One statement per grade (highest first) picks who qualifies; their rows move by one UPDATE
    conditional on the grade they were read with, with an audit row each."""
    grades = list(DistributorGrade.objects.order_by("-level"))
    if not grades:
        return 0
    sales = (Commission.objects.filter(distributor=OuterRef("pk"), level=1).exclude(status=CommissionStatus.CANCELLED)
             .order_by().values("distributor")
             .annotate(total=Sum(F("base_fen") * (F("amount_fen") - F("refunded_fen")) / F("amount_fen")))
             .values("total"))
    now = timezone.now()
    team = (Binding.objects.filter(distributor=OuterRef("pk"), status=BindingStatus.ACTIVE)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now)).order_by().values("distributor")
            .annotate(n=Count("pk")).values("n"))
    stats = (Distributor.objects.filter(status=DS.ACTIVE)
             .annotate(sales=Coalesce(Subquery(sales, output_field=IntegerField()), Value(0)),
                       team=Coalesce(Subquery(team, output_field=IntegerField()), Value(0))))
    moved = 0
    for grade in grades:
        below = Q(grade__isnull=True) | Q(grade__level__lt=grade.level)
        rows = list(stats.filter(below, sales__gte=grade.upgrade_sales_fen, team__gte=grade.upgrade_team_size)
                    .values_list("pk", "grade_id"))
        for pk, old_grade in rows:
            with transaction.atomic(durable=True):
                if Distributor.objects.filter(pk=pk, grade_id=old_grade).update(grade=grade) != 1:
                    continue
                DistributorEvent.objects.create(distributor_id=pk, action=DistributorAction.GRADE,
                                                from_status=DS.ACTIVE, to_status=DS.ACTIVE, actor=Actor.SYSTEM,
                                                note=f"达到升级条件，升为{grade.name}", data={"grade_id": grade.pk})
                moved += 1
    return moved


def distributors_forget_member(*, member_id: int) -> int:
    """A deleted member's distribution data: the distributor frozen (会员已注销: they earn nothing
    new and nobody binds under them), their name and phone masked, their applications' answers
    erased. Withdrawals on their way and withdrawable money hold a deletion up
    (campaigns.selectors.privacy.distribution_deletion_blockers). Idempotent. A member-deleted hook
    (settings.MEMBER_DELETED_HOOKS), after the deletion committed; outermost transaction. Returns
    the number of rows masked."""
    with transaction.atomic(durable=True):
        distributor = Distributor.objects.select_for_update().filter(member_id=member_id).first()
        if distributor is None:
            return 0
        if distributor.status == DS.ACTIVE:
            DISTRIBUTOR_MACHINE.transition(pk=distributor.pk, to=DS.FROZEN, action=DistributorAction.FROZEN,
                                           note="会员已注销", fields={"freeze_reason": "会员已注销"})
        Distributor.objects.filter(pk=distributor.pk).update(real_name=mask_name(distributor.real_name),
                                                             phone=mask_phone(distributor.phone))
        masked = DistributorApplication.objects.filter(member_id=member_id).exclude(reason="", extra={}, phone="")
        rows = list(masked)
        for application in rows:
            application.real_name, application.phone = mask_name(application.real_name), ""
            application.reason, application.extra = "", {}
        DistributorApplication.objects.bulk_update(rows, ["real_name", "phone", "reason", "extra"])
    return 1 + len(rows)


# --- sharing ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductShare:
    """分享赚: what sharing a product would earn the distributor (level 1, at its lowest price)."""

    distributor: Distributor
    percent: Decimal
    earn_fen: int
    scene: str
    path: str


def distributor_for_sharing(*, member: Member) -> Distributor:
    """The member's distributor row, for what only an active distributor may do (poster, 分享赚,
    centre): created or activated when the rules make everyone or this member one. 403
    not_a_distributor otherwise; a frozen one is 409 distributor_frozen."""
    distributor = distributor_ensure(member=member)
    if distributor is None or distributor.status in (DS.APPLYING, DS.REJECTED):
        raise NotADistributor()
    if distributor.status == DS.FROZEN:
        raise DistributorFrozen()
    return distributor


def distributor_share_code(*, distributor_id: int) -> Distributor:
    """The distributor with their mini-program code stored (scene "d=<id>", opening
    settings.DISTRIBUTION_SHARE_PAGE). Made once: WeChat's codes are permanent. The WeChat call and
    the file write run outside any transaction; the file is attached by one conditional UPDATE
    (share_code = ''), so of two concurrent calls one file is kept and the loser deletes its own."""
    distributor = Distributor.objects.filter(pk=distributor_id).first()
    if distributor is None:
        raise DistributorNotFound(detail={"id": distributor_id})
    if distributor.share_code:
        return distributor
    png = get_wxacode_unlimit(scene=share_scene(distributor.pk), page=settings.DISTRIBUTION_SHARE_PAGE)
    storage = distributor.share_code.storage
    name = storage.save(distributor.share_code.field.generate_filename(distributor, f"d-{distributor.pk}.png"),
                        ContentFile(png))
    with transaction.atomic(durable=True):
        attached = Distributor.objects.filter(pk=distributor.pk, share_code="").update(share_code=name)
    if not attached:
        storage.delete(name)
    return Distributor.objects.get(pk=distributor.pk)


def distributor_poster(*, member: Member) -> bytes:
    """我的海报: the PNG of the member's share poster — their nickname and the code whose scene binds
    whoever scans it. Refused unless they are an active distributor (see distributor_for_sharing).
    Network I/O (the code, the first time): never inside a transaction."""
    distributor = distributor_share_code(distributor_id=distributor_for_sharing(member=member).pk)
    with distributor.share_code.open("rb") as code:
        code_png = code.read()
    return share_poster_render(SharePosterContent(
        nickname=member.nickname, headline="好物分享", message="我在这里买到了好东西，推荐给你。会员专享价，新人有礼",
        code_png=code_png, code_caption=("长按识别小程序码", "进入商城选购"), brand=settings.DISTRIBUTION_POSTER_BRAND))


def distributor_product_share(*, member: Member, product_id: int) -> ProductShare:
    """分享赚 ¥x on a product page: the level-1 commission the member would earn if someone they
    share the product with bought it at its lowest price, and the page path that carries them.
    Refused unless they are an active distributor; an unknown or unlisted product is 404."""
    distributor = distributor_for_sharing(member=member)
    product = Product.objects.filter(pk=product_id, is_on_shelf=True).values("pk", "category_id",
                                                                               "min_price_fen").first()
    if product is None:
        raise ProductUnavailable(code="product_not_found", status=404, detail={"product_id": product_id})
    percent = commission_preview_percent(distributor=distributor, product_id=product["pk"],
                                         category_id=product["category_id"])
    scene = share_scene(distributor.pk)
    return ProductShare(distributor=distributor, percent=percent,
                        earn_fen=apply_rate(product["min_price_fen"], percent / 100), scene=scene,
                        path=f"{settings.DISTRIBUTION_PRODUCT_PAGE}?id={product['pk']}&{scene}")


# --- the pieces ------------------------------------------------------------------------------------------


def _required(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    return reason[:200]


def _clean_application(data: ApplicationInput, rules: DistributionSettings) -> ApplicationInput:
    real_name = (data.real_name or "").strip()
    if not 2 <= len(real_name) <= 32:
        raise DistributorApplicationInvalid("请填写真实姓名", detail={"field": "real_name"})
    phone = (data.phone or "").strip()
    if not PHONE.fullmatch(phone):
        raise DistributorApplicationInvalid("请填写正确的手机号", detail={"field": "phone"})
    reason = (data.reason or "").strip()
    if len(reason) > 300:
        raise DistributorApplicationInvalid("申请理由不能超过 300 字", detail={"field": "reason"})
    extra: dict[str, str] = {}
    for question in rules.application_fields or []:
        key = str(question.get("key", ""))
        value = str((data.extra or {}).get(key, "") or "").strip()
        if question.get("required") and not value:
            raise DistributorApplicationInvalid(f"请填写{question.get('label') or key}", detail={"field": key})
        if len(value) > 200:
            raise DistributorApplicationInvalid(f"{question.get('label') or key}不能超过 200 字", detail={"field": key})
        if key and value:
            extra[key] = value
    return ApplicationInput(real_name=real_name, phone=phone, reason=reason, extra=extra)


def _qualifies_automatically(member: Member, rules: DistributionSettings) -> bool:
    if rules.mode == DistributionMode.EVERYONE:
        return True
    paid = Member.objects.filter(pk=member.pk).values_list("paid_total_fen", flat=True).first() or 0
    return rules.mode == DistributionMode.THRESHOLD and paid >= rules.threshold_fen


def _check_automatic(member: Member, rules: DistributionSettings) -> None:
    if not _qualifies_automatically(member, rules):
        paid = Member.objects.filter(pk=member.pk).values_list("paid_total_fen", flat=True).first() or 0
        raise DistributionThresholdNotMet(f"累计消费满 ¥{rules.threshold_fen / 100:.2f} 即可成为分销员",
                                          detail={"threshold_fen": rules.threshold_fen, "paid_total_fen": paid})


def _lock_or_create(member_id: int) -> Distributor:
    """The member's distributor row, locked; created (待审核, no audit yet) if missing. A concurrent
    creation loses the unique race in a savepoint and locks the winner's row."""
    distributor = Distributor.objects.select_for_update().filter(member_id=member_id).first()
    if distributor is not None:
        return distributor
    try:
        with transaction.atomic():
            return Distributor.objects.create(member_id=member_id)
    except IntegrityError:
        return Distributor.objects.select_for_update().get(member_id=member_id)


def _activate_automatically(distributor: Distributor, rules: DistributionSettings, *, real_name: str,
                            phone: str) -> Distributor:
    source = DistributorSource.EVERYONE if rules.mode == DistributionMode.EVERYONE else DistributorSource.THRESHOLD
    fields = {"source": source, "real_name": real_name or distributor.real_name, "phone": phone or distributor.phone}
    note = "人人分销" if source == DistributorSource.EVERYONE else "累计消费达到满额分销门槛"
    if distributor.status == DS.APPLYING and not DistributorEvent.objects.filter(distributor=distributor).exists():
        # Created just now: there is no earlier state to move from.
        for name, value in fields.items():
            setattr(distributor, name, value)
        distributor.status, distributor.approved_at = DS.ACTIVE, timezone.now()
        distributor.save(update_fields=[*fields, "status", "approved_at"])
        DISTRIBUTOR_MACHINE.record(distributor, action=DistributorAction.AUTO, from_status="", note=note)
        return distributor
    try:
        distributor, _ = DISTRIBUTOR_MACHINE.transition(pk=distributor.pk, to=DS.ACTIVE, action=DistributorAction.AUTO,
                                                        note=note, fields=fields)
    except DistributorInvalidTransition:  # frozen: the rules never unfreeze anyone
        raise DistributorFrozen() from None
    DistributorApplication.objects.filter(distributor=distributor, outcome=ApplicationOutcome.PENDING).update(
        outcome=ApplicationOutcome.APPROVED, decided_at=timezone.now())
    return distributor


def _decide_application(distributor: Distributor, outcome: str, *, operator: AbstractBaseUser | None,
                        reason: str) -> DistributorApplication | None:
    application = (DistributorApplication.objects.filter(distributor=distributor, outcome=ApplicationOutcome.PENDING)
                   .order_by("-id").first())
    if application is None:
        return None
    application.outcome, application.reject_reason = outcome, reason
    application.decided_by_id, application.decided_at = operator_id(operator), timezone.now()
    application.save(update_fields=["outcome", "reject_reason", "decided_by", "decided_at"])
    if outcome == ApplicationOutcome.APPROVED:
        Distributor.objects.filter(pk=distributor.pk).update(real_name=application.real_name,
                                                             phone=application.phone)
    return application


def _tell(distributor: Distributor, application: DistributorApplication | None, *, result: str, remark: str) -> None:
    """The review's result to the applicant, once per application (sent only with a consent credit)."""
    member = Member.objects.filter(pk=distributor.member_id).values("openid", "is_active", "deleted_at").first()
    if application is None or member is None or not member["is_active"] or member["deleted_at"] is not None:
        return
    subscribe_message_queue(member_id=distributor.member_id, openid=member["openid"], template_key=REVIEW_TEMPLATE,
                            values={"result": result, "remark": remark, "decided_at": timezone.now()},
                            reference=f"distributor_review:{application.pk}")
