# After-sales: refund audit trail, upload-then-reference photos, request idempotency.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('members', '0001_initial'),
        ('shop', '0004_fulfilment_aftersales_reviews'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='RefundEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('action', models.CharField(max_length=32, verbose_name='动作')),
                ('from_status', models.CharField(blank=True, choices=[('pending', '待提交'), ('processing', '退款中'), ('succeeded', '退款成功'), ('failed', '退款失败')], default='', max_length=16, verbose_name='原状态')),
                ('to_status', models.CharField(blank=True, choices=[('pending', '待提交'), ('processing', '退款中'), ('succeeded', '退款成功'), ('failed', '退款失败')], default='', max_length=16, verbose_name='新状态')),
                ('actor', models.CharField(max_length=16, verbose_name='操作方')),
                ('note', models.CharField(blank=True, default='', max_length=300, verbose_name='说明')),
                ('data', models.JSONField(blank=True, default=dict, verbose_name='数据')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='时间')),
            ],
            options={
                'verbose_name': '退款日志',
                'verbose_name_plural': '退款日志',
                'ordering': ['id'],
            },
        ),
        migrations.AddField(
            model_name='aftersale',
            name='idempotency_key',
            field=models.CharField(blank=True, editable=False, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name='aftersale',
            name='request_hash',
            field=models.CharField(blank=True, default='', editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name='aftersalephoto',
            name='created_at',
            field=models.DateTimeField(auto_now_add=True, null=True, verbose_name='上传时间'),
        ),
        migrations.AddField(
            model_name='aftersalephoto',
            name='member',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='members.member', verbose_name='会员'),
        ),
        migrations.AlterField(
            model_name='aftersale',
            name='reason',
            field=models.CharField(choices=[('no_longer_wanted', '不想要了'), ('ordered_by_mistake', '拍错/多拍'), ('not_shipped_in_time', '未按约定时间发货'), ('not_received', '快递一直未送达'), ('damaged', '商品破损'), ('missing_parts', '少件/漏发'), ('quality', '质量问题'), ('not_as_described', '商品与描述不符'), ('wrong_item_sent', '卖家发错货'), ('size_unsuitable', '尺码/规格不合适'), ('other', '其他')], max_length=64, verbose_name='原因'),
        ),
        migrations.AlterField(
            model_name='aftersalephoto',
            name='after_sale',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='photos', to='shop.aftersale'),
        ),
        migrations.AddConstraint(
            model_name='aftersale',
            constraint=models.UniqueConstraint(condition=models.Q(('idempotency_key__isnull', False)), fields=('member', 'idempotency_key'), name='after_sale_idempotency_key_per_member'),
        ),
        migrations.AddField(
            model_name='refundevent',
            name='operator',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, to=settings.AUTH_USER_MODEL, verbose_name='操作员'),
        ),
        migrations.AddField(
            model_name='refundevent',
            name='refund',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='events', to='shop.refund'),
        ),
    ]
