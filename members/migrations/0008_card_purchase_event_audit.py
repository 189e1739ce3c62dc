"""Card purchase events take the shared audit shape: an action, who acted (actor, operator).

Rows written before had one action per target status and no actor: a purchase became paid by
WeChat's word and was cancelled by the expiry job, so both are derived from the row itself.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

ACTIONS = [("paid", "支付成功"), ("cancelled", "取消")]
ACTORS = [("member", "会员"), ("operator", "运营"), ("system", "系统"), ("wechat", "微信支付")]
STATUSES = [("pending", "待支付"), ("paid", "已支付"), ("cancelled", "已取消")]


def derive_action_and_actor(apps, schema_editor):
    events = apps.get_model("members", "CardPurchaseEvent").objects
    events.filter(to_status="paid").update(action="paid", actor="wechat")
    events.filter(to_status="cancelled").update(action="cancelled", actor="system")


class Migration(migrations.Migration):

    dependencies = [
        ("members", "0007_d2_growth_signin_cards"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="cardpurchaseevent",
            name="action",
            field=models.CharField(choices=ACTIONS, default="", max_length=32, verbose_name="动作"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="cardpurchaseevent",
            name="actor",
            field=models.CharField(choices=ACTORS, default="system", max_length=16, verbose_name="操作方"),
        ),
        migrations.AddField(
            model_name="cardpurchaseevent",
            name="operator",
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT,
                                    related_name="+", to=settings.AUTH_USER_MODEL, verbose_name="操作员"),
        ),
        migrations.AlterField(
            model_name="cardpurchaseevent",
            name="from_status",
            field=models.CharField(blank=True, choices=STATUSES, default="", max_length=16, verbose_name="原状态"),
        ),
        migrations.AlterField(
            model_name="cardpurchaseevent",
            name="to_status",
            field=models.CharField(blank=True, choices=STATUSES, default="", max_length=16, verbose_name="新状态"),
        ),
        migrations.AlterField(
            model_name="cardpurchaseevent",
            name="note",
            field=models.CharField(blank=True, default="", max_length=300, verbose_name="说明"),
        ),
        migrations.RunPython(derive_action_and_actor, migrations.RunPython.noop),
    ]
