"""Reading a bulk-shipping file (批量导入发货) into rows, and the signed hand-over between steps.

The file is a CSV (UTF-8 with or without BOM, or GBK as Excel saves it in China) or an XLSX with
a header row naming the columns 订单号, 快递公司, 快递单号 (a few synonyms and the English names
are accepted, in any order). What each row would do is decided by
shop.services.shipping.shipment_import_preview(); this module only parses.

Between the preview and the confirmation the rows travel in the page as a signed, compressed
token, so the confirmation applies exactly the rows the operator saw and nothing typed into
the page in between.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any
from zipfile import BadZipFile

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from openpyxl import load_workbook

from shop.services.shipping_import import ImportOutcome, ImportRow

COLUMNS = {
    "order_no": ("订单号", "订单编号", "order_no"),
    "carrier": ("快递公司", "物流公司", "快递", "carrier"),
    "tracking_no": ("快递单号", "运单号", "物流单号", "tracking_no"),
}
COLUMN_LABELS = {"order_no": "订单号", "carrier": "快递公司", "tracking_no": "快递单号"}
SIGNING_SALT = "shop.admin.shipping_import"
TOKEN_MAX_AGE = 2 * 3600  # a preview left open longer is previewed again


def read_rows(upload: UploadedFile) -> list[ImportRow]:
    """The file's data rows (row_no is the spreadsheet's row number). Raises ValidationError."""
    name = (upload.name or "").lower()
    table = _xlsx_table(upload) if name.endswith(".xlsx") else _csv_table(upload)
    rows = iter(enumerate(table, start=1))
    header: dict[str, int] | None = None
    for _, cells in rows:
        if any(_text(c) for c in cells):
            header = _header([_text(c) for c in cells])
            break
    if header is None:
        raise ValidationError("文件是空的")
    result = []
    for row_no, cells in rows:
        values = {key: _text(cells[index]) if index < len(cells) else "" for key, index in header.items()}
        if not any(values.values()):
            continue
        result.append(ImportRow(row_no=row_no, order_no=values["order_no"], carrier=values["carrier"],
                                tracking_no=values["tracking_no"]))
        if len(result) > settings.SHIPPING_IMPORT_MAX_ROWS:
            raise ValidationError(f"一次最多导入 {settings.SHIPPING_IMPORT_MAX_ROWS} 行，请拆分文件")
    if not result:
        raise ValidationError("文件中没有数据行")
    return result


def _header(names: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, name in enumerate(names):
        cleaned = name.replace(" ", "").replace("\u3000", "").lower()
        for key, synonyms in COLUMNS.items():
            if cleaned in synonyms and key not in found:
                found[key] = index
    missing = [COLUMN_LABELS[key] for key in COLUMNS if key not in found]
    if missing:
        raise ValidationError(f"缺少列：{'、'.join(missing)}（第一行应为表头：订单号、快递公司、快递单号）")
    return found


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel keeps long digit strings as numbers
    text = str(value).strip()
    if text.startswith("'"):
        text = text[1:]  # a leading apostrophe is how Excel users force text
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    return text.strip()


def _csv_table(upload: UploadedFile) -> list[list[str]]:
    raw = upload.read()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise ValidationError("无法识别文件编码，请另存为 UTF-8 的 CSV")
    try:
        return [row for row in csv.reader(io.StringIO(text))]
    except csv.Error as exc:
        raise ValidationError(f"CSV 格式有误：{exc}") from exc


def _xlsx_table(upload: UploadedFile) -> list[tuple[Any, ...]]:
    try:
        workbook = load_workbook(io.BytesIO(upload.read()), read_only=True, data_only=True)
    except (BadZipFile, OSError, ValueError, KeyError) as exc:
        raise ValidationError("无法读取该 XLSX 文件，请确认它是 Excel 工作簿") from exc
    try:
        sheet = workbook.worksheets[0]
        table = []
        for cells in sheet.iter_rows(values_only=True):
            table.append(tuple(cells))
            if len(table) > settings.SHIPPING_IMPORT_MAX_ROWS + 50:
                break
        return table
    finally:
        workbook.close()


def rows_token(rows: Iterable[ImportRow]) -> str:
    return signing.dumps([r.as_json() for r in rows], salt=SIGNING_SALT, compress=True)


def rows_from_token(token: str) -> list[ImportRow]:
    """Raises ValidationError when the token was altered or is too old."""
    try:
        data = signing.loads(token, salt=SIGNING_SALT, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature as exc:
        raise ValidationError("预览已过期或内容被修改，请重新上传文件") from exc
    return [ImportRow.from_json(item) for item in data]


def failed_report_token(outcomes: Sequence[ImportOutcome]) -> str:
    failed = [[*o.row.as_json(), o.message] for o in outcomes if not o.ok]
    return signing.dumps(failed, salt=SIGNING_SALT + ".failed", compress=True)


def failed_report_csv(token: str) -> str:
    """The failed rows as a CSV an operator can fix and import again (with a 失败原因 column)."""
    try:
        failed = signing.loads(token, salt=SIGNING_SALT + ".failed", max_age=TOKEN_MAX_AGE)
    except signing.BadSignature as exc:
        raise ValidationError("报告已过期，请重新上传文件") from exc
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["行号", "订单号", "快递公司", "快递单号", "失败原因"])
    for row_no, order_no, carrier, tracking_no, reason in failed:
        # A leading tab keeps Excel from showing long order numbers as 2.02611E+15.
        writer.writerow([row_no, f"\t{order_no}" if order_no.isdigit() else order_no, carrier,
                         tracking_no, reason])
    return out.getvalue()
