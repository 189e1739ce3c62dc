"""Reading console pages in tests: a page's HTML, and one cell of a change list."""

from __future__ import annotations

import re
from typing import Any


def page(response: Any) -> str:
    """The HTML of a console page that must have answered 200."""
    assert response.status_code == 200, response.status_code
    html: str = response.content.decode()
    return html


def cell(html: str, row_text: str, field: str) -> str:
    """The text of column `field` in the list row that contains `row_text`."""
    for row in re.findall(r"<tr[^>]*>.*?</tr>", html, flags=re.S):
        if row_text in row:
            match = re.search(rf'<t[dh] class="field-{field}[^"]*"[^>]*>(.*?)</t[dh]>', row, flags=re.S)
            assert match, f"no column {field} in the row of {row_text}"
            return re.sub(r"<[^>]+>", " ", match.group(1)).replace("&nbsp;", " ").strip()
    raise AssertionError(f"no row with {row_text}")
