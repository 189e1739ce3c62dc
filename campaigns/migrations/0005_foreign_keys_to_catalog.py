"""Coupon and 满减 scopes and flash items point at the catalog app's models (catalog 0001 moved
them out of shop). State only: the columns and their foreign key constraints already point at
the same tables."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("campaigns", "0004_d1_points_mall"),
        ("catalog", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name=model_name,
                    name="categories",
                    field=models.ManyToManyField(blank=True, related_name="+", to="catalog.category", verbose_name="适用分类"),
                )
                for model_name in ("coupontemplate", "fullreduction")
            ] + [
                migrations.AlterField(
                    model_name=model_name,
                    name=name,
                    field=models.ManyToManyField(blank=True, related_name="+", to="catalog.product", verbose_name=label),
                )
                for model_name in ("coupontemplate", "fullreduction")
                for name, label in (("products", "适用商品"), ("excluded_products", "排除商品"))
            ] + [
                migrations.AlterField(
                    model_name="flashitem",
                    name="sku",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="catalog.sku", verbose_name="SKU"),
                ),
            ],
            database_operations=[],
        ),
    ]
