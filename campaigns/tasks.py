"""Celery tasks: thin wrappers that call a service. Safe to run twice."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from celery import shared_task

from campaigns.services.bargain import bargains_expire_due
from campaigns.services.distribution import distributor_grades_upgrade
from campaigns.services.flash import flash_sessions_create_for_day
from campaigns.services.gift_packs import card_gift_packs_issue
from campaigns.services.greetings import greetings_send_today
from campaigns.services.reminders import coupons_expire, coupons_remind_expiring
from campaigns.services.settlement import commissions_settle_due
from campaigns.services.sharing import invite_reward_first_order
from campaigns.services.targeted import targeted_issue_run


@shared_task(name="campaigns.tasks.expire_coupons")
def expire_coupons() -> int:
    return coupons_expire()


@shared_task(name="campaigns.tasks.remind_expiring_coupons")
def remind_expiring_coupons() -> int:
    return coupons_remind_expiring()


@shared_task(name="campaigns.tasks.create_flash_sessions")
def create_flash_sessions() -> int:
    """Tomorrow's default flash-sale sessions (FLASH_SALE_SLOTS), if not there yet."""
    return len(flash_sessions_create_for_day())


@shared_task(name="campaigns.tasks.expire_bargains")
def expire_bargains() -> int:
    """砍价 launches past their deadline (or not bought in time at the floor) become expired."""
    return bargains_expire_due()


@shared_task(name="campaigns.tasks.reward_invite_first_order")
def reward_invite_first_order(invitee_id: int, order_no: str) -> str | None:
    """The inviter's reward for an invited friend's first paid order (once per friend)."""
    reward = invite_reward_first_order(invitee_id=invitee_id, order_no=order_no)
    return reward.outcome if reward else None


@shared_task(name="campaigns.tasks.run_targeted_issue")
def run_targeted_issue(issue_id: int) -> dict[str, Any]:
    return targeted_issue_run(issue_id=issue_id)


# --- paid-card monthly gift packs (会员卡每月礼包) -------------------------------------------------


@shared_task(name="campaigns.tasks.issue_card_gift_packs")
def issue_card_gift_packs() -> int:
    """This month's card gift packs that are due (idempotent per member, template and month)."""
    return card_gift_packs_issue()


@shared_task(name="campaigns.tasks.send_greetings")
def send_greetings() -> dict[str, Any]:
    """09:00 Shanghai: birthday and anniversary greetings (coupon, message). Safe to repeat.

    Posters are not drawn here but on the member's first view (greeting_poster_ensure)."""
    return greetings_send_today()


# --- distribution (分销) ---------------------------------------------------------------------------


@shared_task(name="campaigns.tasks.settle_commissions")
def settle_commissions() -> dict[str, int]:
    """Frozen commissions whose after-sales window has closed become withdrawable (set-based)."""
    return asdict(commissions_settle_due())


@shared_task(name="campaigns.tasks.upgrade_distributor_grades")
def upgrade_distributor_grades() -> int:
    """Distributors move up to the highest grade whose conditions they meet."""
    return distributor_grades_upgrade()
