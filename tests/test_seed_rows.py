"""Whatever ran before — a transactional test, a flush, in any order — a test sees exactly the rows the
migrations seed and the content types and permissions with their migrated ids, and after a flush new
rows in those tables get the ids they would get right after migrate (tests/conftest.py puts them back
after every flush). Sequences are checked right after the flush, in the same test: a rolled-back test
that ran in between on the same xdist worker advances a sequence (PostgreSQL sequences ignore
rollbacks), so no test can count on what ran before it."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command

from members.models import CardPlan, GrowthRule, MemberPriceSettings, SignInReward, Tier

TIERS = importlib.import_module("members.migrations.0003_default_tiers").DEFAULT_TIERS
DEFAULTS = importlib.import_module("members.migrations.0007_d2_growth_signin_cards")

MIGRATED = {
    "tiers": TIERS,
    "rewards": DEFAULTS.SIGNIN_REWARDS,
    "plans": [(name, price, days, sort) for name, price, days, _, _, _, sort in DEFAULTS.CARD_PLANS],
    "singletons": [1, 1],
}


def seeded() -> dict[str, Any]:
    return {
        "tiers": list(Tier.objects.order_by("level").values_list(
            "name", "level", "min_growth", "discount_percent", "free_shipping_threshold_fen", "birthday_gift",
            "priority_service", "early_access")),
        "rewards": list(SignInReward.objects.order_by("streak_day").values_list("streak_day", "points")),
        "plans": list(CardPlan.objects.order_by("sort").values_list("name", "price_fen", "days", "sort")),
        "singletons": [GrowthRule.objects.get().pk, MemberPriceSettings.objects.get().pk],
    }


def change_every_seeded_table() -> None:
    Tier.objects.filter(level=3).delete()
    Tier.objects.create(name="测试会员", level=9, min_growth=99999, discount_percent=80)
    SignInReward.objects.filter(streak_day=7).update(points=1)
    CardPlan.objects.all().delete()
    GrowthRule.objects.all().delete()
    MemberPriceSettings.objects.all().delete()


def test_the_migrated_database_holds_the_seed_rows(db):
    assert seeded() == MIGRATED


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_changes_every_seeded_table():
    change_every_seeded_table()

    assert Tier.objects.filter(level__in=[3, 9]).values_list("level", flat=True).get() == 9
    assert not CardPlan.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_later_test_sees_exactly_the_migrated_seed_rows():
    assert seeded() == MIGRATED


@pytest.mark.django_db(transaction=True)
def test_a_flush_puts_the_seed_rows_back_whatever_ran_before():
    content_types = list(ContentType.objects.order_by("pk").values_list("pk", "app_label", "model"))
    permissions = list(Permission.objects.order_by("pk").values_list("pk", "content_type", "codename"))
    change_every_seeded_table()

    call_command("flush", interactive=False, verbosity=0)

    assert seeded() == MIGRATED
    assert list(ContentType.objects.order_by("pk").values_list("pk", "app_label", "model")) == content_types
    assert list(Permission.objects.order_by("pk").values_list("pk", "content_type", "codename")) == permissions
    assert ContentType.objects.get_for_model(Tier).pk == [pk for pk, app, model in content_types if model == "tier"][0]
    assert CardPlan.objects.create(name="周卡", price_fen=500, days=7).pk == len(DEFAULTS.CARD_PLANS) + 1
    assert Tier.objects.create(name="新等级", level=4, min_growth=30000).pk == len(TIERS) + 1
