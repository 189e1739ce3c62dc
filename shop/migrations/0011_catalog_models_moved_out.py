"""The catalog's models now live in the catalog app (catalog 0001 took over their tables): shop's
foreign keys point there and shop forgets its own copies. State only: no table, column or
constraint changes in the database."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("shop", "0010_g1_order_points"),
        ("catalog", "0001_initial"),
        # Every foreign key into the old models points elsewhere before they leave the state.
        ("campaigns", "0005_foreign_keys_to_catalog"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="cartitem",
                    name="sku",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="catalog.sku"),
                ),
                migrations.AlterField(
                    model_name="orderline",
                    name="sku",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="catalog.sku", verbose_name="SKU"),
                ),
                migrations.AlterField(
                    model_name="review",
                    name="product",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="reviews", to="catalog.product", verbose_name="商品"),
                ),
                migrations.DeleteModel(name="StockMovement"),
                migrations.DeleteModel(name="Stock"),
                migrations.DeleteModel(name="ProductImage"),
                migrations.DeleteModel(name="Sku"),
                migrations.DeleteModel(name="Product"),
                migrations.DeleteModel(name="Category"),
                migrations.DeleteModel(name="FreightRule"),
                migrations.DeleteModel(name="FreightTemplate"),
            ],
            database_operations=[],
        ),
    ]
