"""Import/export of the catalog's master data: products and SKUs, one row per SKU code.

Prices in files are yuan ("19.99"); the database holds fen. A stock column is a target, not a
write: the import calls the stock service with reason IMPORT for the difference, so every unit
that appears or disappears has a ledger row (StockMovement) like any other change.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from import_export import resources, widgets
from import_export.fields import Field
from import_export.instance_loaders import CachedInstanceLoader

from catalog.models import Category, Product, Sku, StockMovement
from catalog.search.index import search_document_refresh
from catalog.services import product_refresh_denormalised, stock_ensure_row, stock_set
from catalog.specs import specs_from_text, specs_to_text
from core.resources import YuanWidget


class StrippedTextWidget(widgets.Widget):
    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> str:
        text = "" if value is None else str(value).strip()
        # Spreadsheets turn a numeric code into "1001.0"; the code is text.
        return text[:-2] if re.fullmatch(r"\d+\.0", text) else text

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return "" if value is None else str(value)


class ComputedField(Field):
    """A column read from the object by a function; imported by the resource's own code.

    import-export's dry-run preview diffs `field.export()` (not `dehydrate_*`), so the value
    has to come from the field itself for the preview to show it.
    """

    def __init__(self, *, getter: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.getter = getter

    def export(self, instance: Any, **kwargs: Any) -> str:
        return self.getter(instance)


class SpecsWidget(widgets.Widget):
    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> dict[str, str]:
        try:
            return specs_from_text("" if value is None else str(value))
        except ValidationError as exc:
            raise ValueError(exc.messages[0]) from exc

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return specs_to_text(value)


_TRUE = {"是", "上架", "1", "true", "yes", "y", "on"}
_FALSE = {"否", "下架", "0", "false", "no", "n", "off"}


def _parse_bool(value: Any) -> bool | None:
    text = "" if value is None else str(value).strip().lower()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"应填“是”或“否”：{value}")


def _parse_stock(value: Any) -> int | None:
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    if re.fullmatch(r"\d+(\.0+)?", text):
        return int(float(text))
    raise ValueError(f"库存应为不小于 0 的整数：{value}")


def category_path(category: Category | None) -> str:
    if category is None:
        return ""
    parent = category.parent
    return f"{parent.name}/{category.name}" if parent is not None else category.name


def category_from_path(text: str) -> Category:
    """'母婴/奶粉' -> that child category; '母婴' -> the top-level one. Never creates one."""
    parts = [p.strip() for p in re.split(r"[/／]", text or "") if p.strip()]
    if not parts or len(parts) > 2:
        raise ValueError("分类应为“一级分类/二级分类”或“一级分类”")
    if len(parts) == 1:
        found = Category.objects.filter(parent__isnull=True, name=parts[0])
    else:
        found = Category.objects.filter(parent__parent__isnull=True, parent__name=parts[0], name=parts[1])
    category = found.select_related("parent").order_by("sort", "id").first()
    if category is None:
        raise ValueError(f"分类不存在：{'/'.join(parts)}（请先在“商品分类”中创建）")
    return category


# Export values (also what the dry-run preview shows as before → after).


def _product_name(sku: Sku) -> str:
    product = _product_of(sku)
    return product.name if product else ""


def _category_path_of(sku: Sku) -> str:
    product = _product_of(sku)
    return category_path(product.category) if product else ""


def _stock_of(sku: Sku) -> str:
    target = getattr(sku, "_import_stock", None)  # what an import row asks for
    if target is not None:
        return str(target)
    stock = getattr(sku, "stock", None) if sku.pk else None
    return str(stock.available) if stock else "0"


def _on_shelf_of(sku: Sku) -> str:
    asked = getattr(sku, "_import_on_shelf", None)
    if asked is not None:
        return "是" if asked else "否"
    found = _product_of(sku)
    return "是" if found and found.is_on_shelf else "否"


def _product_of(sku: Sku) -> Product | None:
    """The SKU's product, including one assigned during an import that has no primary key yet."""
    cached = sku._state.fields_cache.get("product")
    if cached is not None:
        return cached
    return sku.product if sku.product_id else None


class SkuResource(resources.ModelResource):
    """One row per SKU, keyed by SKU code; product columns repeat on each of its SKUs.

    A new code with a product name (and category) that exists adds a SKU to that product; a name
    not seen before creates the product, off the shelf unless 上架 says 是. An existing code keeps
    its product, and the row's name, category and 上架 update that product.
    """

    code = Field(attribute="code", column_name="SKU编码", widget=StrippedTextWidget())
    product_name = ComputedField(column_name="商品名称", getter=_product_name)
    category = ComputedField(column_name="分类", getter=_category_path_of)
    specs = Field(attribute="specs", column_name="规格", widget=SpecsWidget())
    price = Field(attribute="price_fen", column_name="售价（元）", widget=YuanWidget())
    original_price = Field(attribute="original_price_fen", column_name="划线价（元）",
                           widget=YuanWidget(required=False, empty_fen=0))
    cost = Field(attribute="cost_fen", column_name="成本价（元）",
                 widget=YuanWidget(required=False, empty_fen=0))
    stock = ComputedField(column_name="库存", getter=_stock_of)
    on_shelf = ComputedField(column_name="上架", getter=_on_shelf_of)

    class Meta:
        model = Sku
        name = "商品与SKU"
        import_id_fields = ["code"]
        fields = ["code", "product_name", "category", "specs", "price", "original_price", "cost", "stock",
                  "on_shelf"]
        export_order = fields
        instance_loader_class = CachedInstanceLoader
        clean_model_instances = True
        use_transactions = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._touched_products: set[int] = set()

    def get_queryset(self) -> Any:
        return Sku.objects.select_related("product__category__parent", "stock").order_by("product_id", "id")

    # --- import -------------------------------------------------------------------------------

    def import_instance(self, instance: Sku, row: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, Any] = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        try:
            instance.product = self._product_for_row(instance, row)
        except ValueError as exc:
            errors.setdefault("product", []).append(str(exc))
        for name, parse, attr in (("stock", _parse_stock, "_import_stock"),
                                  ("on_shelf", _parse_bool, "_import_on_shelf")):
            column = self.fields[name].column_name
            try:
                setattr(instance, attr, parse(row.get(column)) if column in row else None)
            except ValueError as exc:
                errors.setdefault(name, []).append(str(exc))
        if errors:
            raise ValidationError(errors)

    def validate_instance(self, instance: Sku, import_validation_errors: Any = None,
                          validate_unique: bool = True) -> None:
        """Model validation of the SKU (and of a product the row creates), errors by column header.

        A new product is saved just before its SKU (before_save_instance), so at this point the
        SKU's product has no id yet: the product is validated on its own instead.
        """
        errors: dict[str, Any] = dict(import_validation_errors or {})
        exclude = set(errors)
        product = _product_of(instance)
        if product is not None and product.pk is None:
            exclude.add("product")
            try:
                product.full_clean(validate_unique=False, validate_constraints=False)
            except ValidationError as exc:
                errors.setdefault("product", []).extend(exc.messages)
        try:
            instance.full_clean(exclude=exclude, validate_unique=validate_unique)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if errors:
            # The preview lists errors under their keys: name them by the file's column headers.
            raise ValidationError({self._column_for(key): messages
                                   for key, messages in ValidationError(errors).message_dict.items()})

    def _column_for(self, key: str) -> str:
        if key == "product":
            return self.fields["product_name"].column_name
        for name, field in self.fields.items():
            if key in (name, field.attribute):
                return field.column_name
        return key

    def _product_for_row(self, sku: Sku, row: dict[str, Any]) -> Product:
        name = str(row.get(self.fields["product_name"].column_name) or "").strip()
        category_text = str(row.get(self.fields["category"].column_name) or "").strip()
        category = category_from_path(category_text) if category_text else None
        if sku.pk:
            product = sku.product
        else:
            if not name:
                raise ValueError("新 SKU 必须填写商品名称")
            product = self._find_product(name, category) or Product(name=name)
            if product.pk is None and category is None:
                raise ValueError(f"新商品“{name}”必须填写分类")
        if name:
            product.name = name
        if category is not None:
            product.category = category
        return product

    @staticmethod
    def _find_product(name: str, category: Category | None) -> Product | None:
        found = Product.objects.filter(name=name)
        if category is not None:
            found = found.filter(category=category)
        matches = list(found.select_related("category__parent")[:2])
        if len(matches) > 1:
            raise ValueError(f"存在多个同名商品“{name}”，请填写分类以区分")
        return matches[0] if matches else None

    def before_save_instance(self, instance: Sku, row: dict[str, Any], **kwargs: Any) -> None:
        # The product (new or renamed) is saved first so the SKU can point at it. In a dry run
        # this is inside import-export's transaction, which is rolled back after the preview.
        product = instance.product
        on_shelf = getattr(instance, "_import_on_shelf", None)
        if on_shelf is not None:
            product.is_on_shelf = on_shelf
        product.save()
        instance.product = product

    def after_save_instance(self, instance: Sku, row: dict[str, Any], **kwargs: Any) -> None:
        self._touched_products.add(instance.product_id)
        if kwargs.get("dry_run"):
            return  # the preview shows the target stock (_stock_of); nothing is moved
        stock_ensure_row(sku=instance)
        target = getattr(instance, "_import_stock", None)
        if target is None:
            return
        file_name = kwargs.get("file_name") or ""
        stock_set(sku=instance, target=target, reason=StockMovement.Reason.IMPORT,
                  operator=kwargs.get("user"), note=f"导入 {file_name}".strip()[:200])

    def after_import(self, dataset: Any, result: Any, **kwargs: Any) -> None:
        super().after_import(dataset, result, **kwargs)
        if kwargs.get("dry_run") or result.has_errors() or result.has_validation_errors():
            return
        for product_id in sorted(self._touched_products):
            product_refresh_denormalised(product_id=product_id)
        # Names, specs and categories may have changed: search finds them as imported.
        search_document_refresh(product_ids=self._touched_products)
