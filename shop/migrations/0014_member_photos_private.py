"""Review and after-sale photos move to the private storage (signed, expiring links); their files move with them."""

from django.core.files.storage import default_storage
from django.db import migrations, models

import core.media


def photos(apps):
    for model_name in ("ReviewPhoto", "AfterSalePhoto"):
        model = apps.get_model("shop", model_name)
        yield from model.objects.exclude(image="").values_list("image", flat=True).iterator()


def to_private(apps, schema_editor):
    core.media.media_move(photos(apps), source=default_storage, target=core.media.private_storage())


def to_public(apps, schema_editor):
    core.media.media_move(photos(apps), source=core.media.private_storage(), target=default_storage)


class Migration(migrations.Migration):

    dependencies = [
        ('shop', '0013_payments_move_to_payments_app'),
    ]

    operations = [
        migrations.AlterField(
            model_name='aftersalephoto',
            name='image',
            field=models.ImageField(storage=core.media.private_storage, upload_to='aftersales/%Y/%m/', verbose_name='图片'),
        ),
        migrations.AlterField(
            model_name='reviewphoto',
            name='image',
            field=models.ImageField(storage=core.media.private_storage, upload_to='reviews/%Y/%m/', verbose_name='图片'),
        ),
        migrations.RunPython(to_private, to_public, elidable=False),
    ]
