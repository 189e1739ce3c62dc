from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial")]

    operations = [
        TrigramExtension(),
        # Order numbers are date + a global sequence: readable, unique, no lock between buyers.
        migrations.RunSQL(
            "CREATE SEQUENCE IF NOT EXISTS shop_order_no_seq",
            "DROP SEQUENCE IF EXISTS shop_order_no_seq",
        ),
    ]
