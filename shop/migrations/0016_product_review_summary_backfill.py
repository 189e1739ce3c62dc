"""Fill the rating summary now kept on each product row (catalog 0003) from its published reviews."""

from django.db import migrations
from django.db.models import Count, Q, Sum


def backfill(apps, schema_editor):
    Product = apps.get_model("catalog", "Product")
    Review = apps.get_model("shop", "Review")
    rows = (Review.objects.filter(status="published").order_by().values("product_id")
            .annotate(count=Count("id"), stars=Sum("rating"), with_photos=Count("id", filter=Q(has_photos=True)),
                      positive=Count("id", filter=Q(rating__gte=4))))
    for row in rows.iterator():
        Product.objects.filter(pk=row["product_id"]).update(
            review_count=row["count"], review_rating_sum=row["stars"], review_with_photos=row["with_photos"],
            review_positive=row["positive"])


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0003_product_review_summary"),
        ("shop", "0015_member_photos_media_checked"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
