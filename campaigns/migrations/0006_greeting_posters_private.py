"""Greeting posters move to the private storage (signed, expiring links); their files move with them."""

from django.core.files.storage import default_storage
from django.db import migrations, models

import core.media


def posters(apps):
    greeting = apps.get_model("campaigns", "Greeting")
    return greeting.objects.exclude(poster="").values_list("poster", flat=True).iterator()


def to_private(apps, schema_editor):
    core.media.media_move(posters(apps), source=default_storage, target=core.media.private_storage())


def to_public(apps, schema_editor):
    core.media.media_move(posters(apps), source=core.media.private_storage(), target=default_storage)


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0005_foreign_keys_to_catalog'),
    ]

    operations = [
        migrations.AlterField(
            model_name='greeting',
            name='poster',
            field=models.FileField(blank=True, default='', max_length=200, storage=core.media.private_storage, upload_to='greetings/%Y/%m/', verbose_name='海报'),
        ),
        migrations.RunPython(to_private, to_public, elidable=False),
    ]
