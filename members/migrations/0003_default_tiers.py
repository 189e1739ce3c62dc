"""The default growth tiers of DESIGN.md §7; operators edit them in the admin."""

from django.db import migrations

DEFAULT_TIERS = [
    # name, level, min_growth, discount %, free shipping above (fen), birthday, priority, early access
    ("普通会员", 0, 0, 100, None, False, False, False),
    ("白银会员", 1, 1000, 98, None, True, False, False),
    ("黄金会员", 2, 5000, 95, 9900, True, False, True),
    ("钻石会员", 3, 15000, 90, 0, True, True, True),
]


def create_tiers(apps, schema_editor):
    Tier = apps.get_model("members", "Tier")
    for name, level, growth, discount, free_above, birthday, priority, early in DEFAULT_TIERS:
        Tier.objects.get_or_create(level=level, defaults={
            "name": name, "min_growth": growth, "discount_percent": discount,
            "free_shipping_threshold_fen": free_above, "birthday_gift": birthday,
            "priority_service": priority, "early_access": early,
        })


class Migration(migrations.Migration):
    dependencies = [("members", "0002_loyalty_foundation")]
    operations = [migrations.RunPython(create_tiers, migrations.RunPython.noop)]
