"""Reading a one-column upload (兑换码, a member list) and handing it between a preview and its confirmation.

The file is a CSV (UTF-8 with or without BOM, or GBK as Excel saves it in China) or an XLSX; the
first column holds the values, one per row, optionally under a header. Between the preview and
the confirmation the values travel in the page as a signed, compressed token, so the
confirmation applies exactly what the operator saw.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any
from zipfile import BadZipFile

from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from openpyxl import load_workbook

MAX_ROWS = 100_000
TOKEN_MAX_AGE = 2 * 3600  # a preview left open longer is previewed again
HEADER_WORDS = {"兑换码", "券码", "code", "codes", "会员id", "会员编号", "member_id", "id", "openid", "手机号",
                "手机", "phone", "mobile"}


@dataclass(frozen=True)
class Row:
    row_no: int  # the spreadsheet's row number
    value: str


def read_column(upload: UploadedFile) -> list[Row]:
    """The first column's non-empty values, with their row numbers. Raises ValidationError."""
    name = (upload.name or "").lower()
    table = _xlsx_table(upload) if name.endswith(".xlsx") else _csv_table(upload)
    rows: list[Row] = []
    for row_no, cells in enumerate(table, start=1):
        value = _text(cells[0]) if cells else ""
        if not value:
            continue
        if not rows and value.replace(" ", "").lower() in HEADER_WORDS:
            continue  # the header
        rows.append(Row(row_no=row_no, value=value))
        if len(rows) > MAX_ROWS:
            raise ValidationError(f"一次最多 {MAX_ROWS} 行，请拆分文件")
    if not rows:
        raise ValidationError("文件中没有数据行")
    return rows


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel keeps long digit strings (phones, ids) as numbers
    text = str(value).strip().lstrip("\ufeff")
    if text.startswith("'"):
        text = text[1:]  # a leading apostrophe is how Excel users force text
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
        return list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise ValidationError(f"CSV 格式有误：{exc}") from exc


def _xlsx_table(upload: UploadedFile) -> list[tuple[Any, ...]]:
    try:
        workbook = load_workbook(io.BytesIO(upload.read()), read_only=True, data_only=True)
    except (BadZipFile, OSError, ValueError, KeyError) as exc:
        raise ValidationError("无法读取该 XLSX 文件，请确认它是 Excel 工作簿") from exc
    try:
        table = []
        for cells in workbook.worksheets[0].iter_rows(values_only=True):
            table.append(tuple(cells))
            if len(table) > MAX_ROWS + 50:
                break
        return table
    finally:
        workbook.close()


def duplicates(rows: list[Row]) -> dict[str, list[int]]:
    """Values that appear more than once, with the row numbers they appear on."""
    seen: dict[str, list[int]] = {}
    for row in rows:
        seen.setdefault(row.value, []).append(row.row_no)
    return {value: numbers for value, numbers in seen.items() if len(numbers) > 1}


def sign(payload: Any, *, salt: str) -> str:
    return signing.dumps(payload, salt=salt, compress=True)


def unsign(token: str, *, salt: str) -> Any:
    """Raises ValidationError when the token was altered or is too old."""
    try:
        return signing.loads(token, salt=salt, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature as exc:
        raise ValidationError("预览已过期或内容被修改，请重新上传文件") from exc
