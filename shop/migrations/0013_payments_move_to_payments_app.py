"""Orders' payments and every payment notification move to the payments app (payments.Payment,
payments.PaymentNotification), which keeps trades of every payable kind.

Rows are copied (kind "order", the same out_trade_no, status, prepay, WeChat transaction id and
times; notifications as they are, card purchases' included), refunds are pointed at the copied
payment by out_trade_no, and the old tables are dropped. The content types (so operators'
permissions on the payment pages) move with the models. Reversible: going back copies the order
payments and the notifications into the old tables again.
"""

import django.db.models.deletion
from django.db import migrations, models

MOVED_MODELS = ("payment", "paymentnotification")


def copy_to_payments(apps, schema_editor):
    old_payment = apps.get_model("shop", "Payment")._meta.db_table
    old_notification = apps.get_model("shop", "PaymentNotification")._meta.db_table
    refund = apps.get_model("shop", "Refund")._meta.db_table
    payment = apps.get_model("payments", "Payment")._meta.db_table
    notification = apps.get_model("payments", "PaymentNotification")._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"""
            INSERT INTO {payment} (kind, out_trade_no, amount_fen, status, prepay_id, prepay_expires_at,
                                   transaction_id, paid_at, created_at)
            SELECT 'order', out_trade_no, amount_fen, status, prepay_id, prepay_expires_at, transaction_id,
                   paid_at, created_at
            FROM {old_payment} ORDER BY id""")
        cursor.execute(f"""
            INSERT INTO {notification} (transaction_id, out_trade_no, total_fee_fen, raw_xml, outcome, received_at)
            SELECT transaction_id, out_trade_no, total_fee_fen, raw_xml, outcome, received_at
            FROM {old_notification} ORDER BY id""")
        cursor.execute(f"""
            UPDATE {refund} r SET new_payment_id = p.id
            FROM {old_payment} o JOIN {payment} p ON p.out_trade_no = o.out_trade_no
            WHERE r.payment_id = o.id""")
        # The refunds' foreign keys are deferred: check them now, so the columns can be altered
        # in this same transaction ("pending trigger events" otherwise).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    _move_content_types(apps, source="shop", target="payments")


def copy_back_to_shop(apps, schema_editor):
    old_payment = apps.get_model("shop", "Payment")._meta.db_table
    old_notification = apps.get_model("shop", "PaymentNotification")._meta.db_table
    order = apps.get_model("shop", "Order")._meta.db_table
    refund = apps.get_model("shop", "Refund")._meta.db_table
    payment = apps.get_model("payments", "Payment")._meta.db_table
    notification = apps.get_model("payments", "PaymentNotification")._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"""
            INSERT INTO {old_payment} (order_id, out_trade_no, amount_fen, status, prepay_id, prepay_expires_at,
                                       transaction_id, paid_at, created_at)
            SELECT o.id, p.out_trade_no, p.amount_fen, p.status, p.prepay_id, p.prepay_expires_at,
                   p.transaction_id, p.paid_at, p.created_at
            FROM {payment} p JOIN {order} o ON o.order_no = p.out_trade_no
            WHERE p.kind = 'order' ORDER BY p.id""")
        cursor.execute(f"""
            INSERT INTO {old_notification} (transaction_id, out_trade_no, total_fee_fen, raw_xml, outcome,
                                            received_at)
            SELECT transaction_id, out_trade_no, total_fee_fen, raw_xml, outcome, received_at
            FROM {notification} ORDER BY id""")
        cursor.execute(f"""
            UPDATE {refund} r SET payment_id = o.id
            FROM {payment} p JOIN {old_payment} o ON o.out_trade_no = p.out_trade_no
            WHERE r.new_payment_id = p.id""")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    _move_content_types(apps, source="payments", target="shop")


def _move_content_types(apps, *, source, target):
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in MOVED_MODELS:
        if not content_type.objects.filter(app_label=target, model=model).exists():
            content_type.objects.filter(app_label=source, model=model).update(app_label=target)


class Migration(migrations.Migration):

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("payments", "0001_initial"),
        ("shop", "0012_audit_event_choices"),
    ]

    operations = [
        migrations.AddField(
            model_name="refund",
            name="new_payment",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+",
                                    to="payments.payment"),
        ),
        migrations.AlterField(
            model_name="refund",
            name="payment",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="refunds",
                                    to="shop.payment", verbose_name="支付记录"),
        ),
        migrations.RunPython(copy_to_payments, copy_back_to_shop),
        migrations.RemoveField(
            model_name="refund",
            name="payment",
        ),
        migrations.RenameField(
            model_name="refund",
            old_name="new_payment",
            new_name="payment",
        ),
        migrations.AlterField(
            model_name="refund",
            name="payment",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="refunds",
                                    to="payments.payment", verbose_name="支付记录"),
        ),
        migrations.DeleteModel(
            name="PaymentNotification",
        ),
        migrations.DeleteModel(
            name="Payment",
        ),
    ]
