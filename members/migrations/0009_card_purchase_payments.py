"""Card purchases are paid through the payments core: every purchase that was sent to WeChat (it
has a prepay id) gets its trade as a payments.Payment of kind "card" — pending, paid (with its
WeChat transaction id and time) or closed (cancelled: the trade was closed at WeChat first) — and
the prepay id lives on that trade only. Reversible."""

from django.db import migrations

STATUS = "CASE c.status WHEN 'paid' THEN 'paid' WHEN 'cancelled' THEN 'closed' ELSE 'pending' END"


def create_card_payments(apps, schema_editor):
    purchase = apps.get_model("members", "CardPurchase")._meta.db_table
    payment = apps.get_model("payments", "Payment")._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"""
            INSERT INTO {payment} (kind, out_trade_no, amount_fen, status, prepay_id, prepay_expires_at,
                                   transaction_id, paid_at, created_at)
            SELECT 'card', c.purchase_no, c.amount_fen, {STATUS}, c.prepay_id, c.expires_at, c.transaction_id,
                   c.paid_at, c.created_at
            FROM {purchase} c WHERE c.prepay_id <> '' ORDER BY c.id
            ON CONFLICT (out_trade_no) DO NOTHING""")


def restore_prepay_ids(apps, schema_editor):
    purchase = apps.get_model("members", "CardPurchase")._meta.db_table
    payment_model = apps.get_model("payments", "Payment")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"""
            UPDATE {purchase} c SET prepay_id = p.prepay_id
            FROM {payment_model._meta.db_table} p WHERE p.kind = 'card' AND p.out_trade_no = c.purchase_no""")
    payment_model.objects.filter(kind="card").delete()


class Migration(migrations.Migration):

    dependencies = [
        ("members", "0008_card_purchase_event_audit"),
        ("payments", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_card_payments, restore_prepay_ids),
        migrations.RemoveField(
            model_name="cardpurchase",
            name="prepay_id",
        ),
    ]
