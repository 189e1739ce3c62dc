"""Path converters for the API's URLs.

`<number:order_no>` is a document number (订单号, 售后单号, 会员卡购买单号): 1 to 32 ASCII letters or
digits, which is every number the services make. Anything else (a NUL byte, bytes that are not
UTF-8, a quote, 33 characters) does not match the route, so Django answers the API's 404 before
a view or the database sees it — PostgreSQL refuses a NUL in a text parameter with an error, not
with "no such row".
"""

from __future__ import annotations

NUMBER_PATTERN = "[0-9A-Za-z]{1,32}"
# The same rule in the OpenAPI schema (SPECTACULAR_SETTINGS["PATH_CONVERTER_OVERRIDES"]).
NUMBER_SCHEMA = {"type": "string", "pattern": f"^{NUMBER_PATTERN}$"}


class NumberConverter:
    regex = NUMBER_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
