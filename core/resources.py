"""Import/export (django-import-export) pieces every console uses: the file formats, yuan columns."""

from __future__ import annotations

import importlib.util
from typing import Any

from import_export import widgets
from import_export.formats.base_formats import CSV, XLSX

from core.money import fen_from_yuan, yuan

# XLSX needs openpyxl; without it the console offers CSV only (Excel opens our UTF-8-BOM CSV).
FILE_FORMATS = [CSV, XLSX] if importlib.util.find_spec("openpyxl") else [CSV]


class YuanWidget(widgets.Widget):
    """'19.99' in a file <-> 1999 fen in the database."""

    def __init__(self, *, required: bool = True, empty_fen: int | None = None) -> None:
        super().__init__(coerce_to_string=True)
        self.required = required
        self.empty_fen = empty_fen

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> int | None:
        text = "" if value is None else str(value).replace("¥", "").replace("￥", "").replace(",", "").strip()
        if not text:
            if self.required:
                raise ValueError("金额不能为空")
            return self.empty_fen
        fen = fen_from_yuan(text)  # ValueError carries a Chinese message
        if fen < 0:
            raise ValueError("金额不能为负数")
        return fen

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return "" if value is None else yuan(value)
