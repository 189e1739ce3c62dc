"""The catalog leaves shop for its own app, every row kept.

shop's migrations created these tables as shop_*. Here the models are created in the migration
state only, on those tables; then the tables and their auto-named indexes are renamed to
catalog_*, and the content types follow (so permissions, groups and admin log entries keep
pointing at the same models). campaigns 0005 and shop 0011 then re-point their foreign keys in
state only and shop forgets its copies: no foreign key constraint is touched in the database.
"""

import django.contrib.postgres.fields
import django.contrib.postgres.indexes
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MODELS = ["freighttemplate", "freightrule", "category", "product", "productimage", "sku", "stock", "stockmovement"]


def move_content_types(apps, schema_editor):
    _relabel(apps, schema_editor, old="shop", new="catalog")


def move_content_types_back(apps, schema_editor):
    _relabel(apps, schema_editor, old="catalog", new="shop")


def _relabel(apps, schema_editor, *, old, new):
    content_type = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    # A row already under the new label (the app was migrated before and the old one came back)
    # wins: the update would break the (app_label, model) unique constraint.
    taken = content_type.objects.using(db).filter(app_label=new, model__in=MODELS).values_list("model", flat=True)
    content_type.objects.using(db).filter(app_label=old, model__in=MODELS).exclude(model__in=list(taken)).update(
        app_label=new)
    content_type.objects.clear_cache()


class Migration(migrations.Migration):

    initial = True

    # After every migration that creates something on the old tables (campaigns' scopes and
    # flash items refer to them), so a database built from zero renames them last.
    dependencies = [
        ("campaigns", "0004_d1_points_mall"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("shop", "0010_g1_order_points"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="FreightTemplate",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=64, verbose_name="模板名称")),
                        ("is_default", models.BooleanField(default=False, verbose_name="默认模板")),
                        ("free_threshold_fen", models.BigIntegerField(blank=True, help_text="商品金额达到该值免运费；留空表示不包邮", null=True, verbose_name="包邮门槛（分）")),
                    ],
                    options={
                        "verbose_name": "运费模板",
                        "verbose_name_plural": "运费模板",
                        "db_table": "shop_freighttemplate",
                        "constraints": [models.UniqueConstraint(condition=models.Q(("is_default", True)), fields=("is_default",), name="one_default_freight_template")],
                    },
                ),
                migrations.CreateModel(
                    name="FreightRule",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("provinces", django.contrib.postgres.fields.ArrayField(base_field=models.CharField(max_length=32), blank=True, default=list, help_text="留空表示其他所有地区", size=None, verbose_name="适用省份")),
                        ("first_count", models.PositiveIntegerField(default=1, verbose_name="首件（件）")),
                        ("first_fee_fen", models.BigIntegerField(default=0, verbose_name="首件运费（分）")),
                        ("extra_count", models.PositiveIntegerField(default=1, verbose_name="续件（件）")),
                        ("extra_fee_fen", models.BigIntegerField(default=0, verbose_name="续件运费（分）")),
                        ("is_deliverable", models.BooleanField(default=True, verbose_name="可配送")),
                        ("template", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="rules", to="catalog.freighttemplate")),
                    ],
                    options={
                        "verbose_name": "运费规则",
                        "verbose_name_plural": "运费规则",
                        "db_table": "shop_freightrule",
                        "constraints": [models.CheckConstraint(condition=models.Q(("first_fee_fen__gte", 0), ("extra_fee_fen__gte", 0)), name="freight_fee_non_negative"), models.CheckConstraint(condition=models.Q(("first_count__gte", 1), ("extra_count__gte", 1)), name="freight_counts_positive")],
                    },
                ),
                migrations.CreateModel(
                    name="Category",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=32, verbose_name="名称")),
                        ("icon", models.ImageField(blank=True, upload_to="categories/", verbose_name="图标")),
                        ("sort", models.PositiveIntegerField(default=0, help_text="数字越小越靠前", verbose_name="排序")),
                        ("is_active", models.BooleanField(default=True, verbose_name="显示")),
                        ("parent", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="children", to="catalog.category", verbose_name="上级分类")),
                    ],
                    options={
                        "verbose_name": "商品分类",
                        "verbose_name_plural": "商品分类",
                        "ordering": ["sort", "id"],
                        "db_table": "shop_category",
                    },
                ),
                migrations.CreateModel(
                    name="Product",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=100, verbose_name="商品名称")),
                        ("subtitle", models.CharField(blank=True, default="", max_length=200, verbose_name="副标题")),
                        ("description", models.TextField(blank=True, default="", verbose_name="商品详情")),
                        ("main_image", models.ImageField(blank=True, upload_to="products/", verbose_name="主图")),
                        ("tags", django.contrib.postgres.fields.ArrayField(base_field=models.CharField(choices=[("new", "新品"), ("hot", "热卖"), ("recommended", "推荐")], max_length=16), blank=True, default=list, size=None, verbose_name="标签")),
                        ("is_on_shelf", models.BooleanField(default=False, verbose_name="上架")),
                        ("early_access_until", models.DateTimeField(blank=True, help_text="在此时间之前仅限指定等级及以上会员购买；留空表示不限", null=True, verbose_name="优先购截止时间")),
                        ("early_access_min_tier_level", models.PositiveSmallIntegerField(blank=True, help_text="会员等级序号（等级越高数字越大）", null=True, verbose_name="优先购最低会员等级")),
                        ("min_price_fen", models.BigIntegerField(default=0, editable=False, verbose_name="最低价（分）")),
                        ("sales_count", models.PositiveIntegerField(default=0, editable=False, verbose_name="销量")),
                        ("sort", models.PositiveIntegerField(default=0, verbose_name="排序")),
                        ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="创建时间")),
                        ("updated_at", models.DateTimeField(auto_now=True, verbose_name="更新时间")),
                        ("category", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="products", to="catalog.category", verbose_name="分类")),
                        ("freight_template", models.ForeignKey(blank=True, help_text="留空则使用默认运费模板", null=True, on_delete=django.db.models.deletion.PROTECT, to="catalog.freighttemplate", verbose_name="运费模板")),
                    ],
                    options={
                        "verbose_name": "商品",
                        "verbose_name_plural": "商品",
                        "ordering": ["sort", "-id"],
                        "db_table": "shop_product",
                        "indexes": [
                            models.Index(fields=["is_on_shelf", "sort", "-id"], name="product_shelf_default_order"),
                            models.Index(fields=["is_on_shelf", "category"], name="shop_produc_is_on_s_a9f02b_idx"),
                            models.Index(fields=["is_on_shelf", "-sales_count"], name="shop_produc_is_on_s_26aeb3_idx"),
                            models.Index(fields=["is_on_shelf", "min_price_fen"], name="shop_produc_is_on_s_9d0715_idx"),
                            django.contrib.postgres.indexes.GinIndex(fields=["tags"], name="shop_produc_tags_b520e3_gin"),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="ProductImage",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("image", models.ImageField(upload_to="products/", verbose_name="图片")),
                        ("sort", models.PositiveIntegerField(default=0, verbose_name="排序")),
                        ("product", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="images", to="catalog.product")),
                    ],
                    options={
                        "verbose_name": "商品图片",
                        "verbose_name_plural": "商品图片",
                        "ordering": ["sort", "id"],
                        "db_table": "shop_productimage",
                    },
                ),
                migrations.CreateModel(
                    name="Sku",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("code", models.CharField(max_length=64, unique=True, verbose_name="SKU 编码")),
                        ("specs", models.JSONField(blank=True, default=dict, verbose_name="规格")),
                        ("price_fen", models.BigIntegerField(verbose_name="售价（分）")),
                        ("original_price_fen", models.BigIntegerField(default=0, verbose_name="划线价（分）")),
                        ("cost_fen", models.BigIntegerField(default=0, verbose_name="成本价（分）")),
                        ("weight_g", models.PositiveIntegerField(default=0, verbose_name="重量（克）")),
                        ("is_active", models.BooleanField(default=True, verbose_name="启用")),
                        ("product", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="skus", to="catalog.product", verbose_name="商品")),
                    ],
                    options={
                        "verbose_name": "SKU",
                        "verbose_name_plural": "SKU",
                        "ordering": ["product_id", "id"],
                        "db_table": "shop_sku",
                        "constraints": [models.CheckConstraint(condition=models.Q(("price_fen__gte", 0)), name="sku_price_non_negative"), models.CheckConstraint(condition=models.Q(("cost_fen__gte", 0)), name="sku_cost_non_negative")],
                    },
                ),
                migrations.CreateModel(
                    name="Stock",
                    fields=[
                        ("sku", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name="stock", serialize=False, to="catalog.sku", verbose_name="SKU")),
                        ("available", models.IntegerField(default=0, verbose_name="可售库存")),
                    ],
                    options={
                        "verbose_name": "库存",
                        "verbose_name_plural": "库存",
                        "db_table": "shop_stock",
                        "constraints": [models.CheckConstraint(condition=models.Q(("available__gte", 0)), name="stock_available_non_negative")],
                    },
                ),
                migrations.CreateModel(
                    name="StockMovement",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("delta", models.IntegerField(verbose_name="变动数量")),
                        ("reason", models.CharField(choices=[("initial", "初始库存"), ("adjust", "人工调整"), ("import", "导入"), ("order_reserve", "下单占用"), ("order_release", "取消释放")], max_length=20, verbose_name="原因")),
                        ("reference", models.CharField(blank=True, default="", max_length=64, verbose_name="关联单号")),
                        ("note", models.CharField(blank=True, default="", max_length=200, verbose_name="备注")),
                        ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="时间")),
                        ("operator", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, to=settings.AUTH_USER_MODEL, verbose_name="操作员")),
                        ("sku", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="movements", to="catalog.sku", verbose_name="SKU")),
                    ],
                    options={
                        "verbose_name": "库存流水",
                        "verbose_name_plural": "库存流水",
                        "ordering": ["-id"],
                        "db_table": "shop_stockmovement",
                        "constraints": [models.UniqueConstraint(condition=models.Q(("reason", "order_release")), fields=("sku", "reference"), name="stock_release_once_per_order")],
                    },
                ),
            ],
            database_operations=[],
        ),
        # The tables take the app's name (catalog_*); foreign keys into them follow the rename.
        *(migrations.AlterModelTable(name=name, table=None) for name in MODELS),
        migrations.RenameIndex(model_name="product", new_name="catalog_pro_is_on_s_9bfce6_idx", old_name="shop_produc_is_on_s_a9f02b_idx"),
        migrations.RenameIndex(model_name="product", new_name="catalog_pro_is_on_s_2d1545_idx", old_name="shop_produc_is_on_s_26aeb3_idx"),
        migrations.RenameIndex(model_name="product", new_name="catalog_pro_is_on_s_10179d_idx", old_name="shop_produc_is_on_s_9d0715_idx"),
        migrations.RenameIndex(model_name="product", new_name="catalog_pro_tags_7c2650_gin", old_name="shop_produc_tags_b520e3_gin"),
        # PostgreSQL's pattern-ops index on Sku.code is found by a name derived from the table
        # when the column is altered later: give it the name the new table implies.
        migrations.RunSQL(
            "ALTER INDEX IF EXISTS shop_sku_code_7d303f80_like RENAME TO catalog_sku_code_55ded985_like",
            "ALTER INDEX IF EXISTS catalog_sku_code_55ded985_like RENAME TO shop_sku_code_7d303f80_like",
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
