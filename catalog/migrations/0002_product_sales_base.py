"""Product.sales_base: what was sold before this system, kept apart so the nightly counters
reconcile can recompute sales_count (= sales_base + units of paid orders - units refunded).

Until now sales_count was the base plus every paid order's units (refunds never took any back),
so the base of an existing product is sales_count minus those units: the count it shows today is
kept, and the reconcile then takes back the units refunded so far.
"""

from django.db import migrations, models
from django.db.models import F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Greatest


def base_from_shown_sales(apps, schema_editor):
    Product = apps.get_model("catalog", "Product")
    OrderLine = apps.get_model("shop", "OrderLine")
    sold = (OrderLine.objects.filter(order__paid_at__isnull=False, product_id_snapshot=OuterRef("pk"))
            .order_by().values("product_id_snapshot").annotate(units=Sum("quantity")).values("units"))
    Product.objects.update(sales_base=Greatest(F("sales_count") - Coalesce(Subquery(sold), Value(0)), Value(0)))


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0001_initial"),
        ("shop", "0013_payments_move_to_payments_app"),
    ]

    operations = [
        migrations.AddField(
            model_name="product",
            name="sales_base",
            field=models.PositiveIntegerField(default=0, editable=False, help_text="接入本系统前的销量，计入展示的销量",
                                              verbose_name="历史销量"),
        ),
        migrations.RunPython(base_from_shown_sales, migrations.RunPython.noop),
    ]
