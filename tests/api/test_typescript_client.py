"""The TypeScript client a front end generates from /api/schema/ (openapi-typescript, pinned in
clients/typescript) type-checks real responses: each body captured below, from a member's way
through the shop, is written as a literal of the generated response type and `tsc --strict` must
accept it. An object literal may carry no property the type lacks, a null only where the schema
allows one, an enum value only from its enum: so a response that strays from the schema fails.

Node and the npm packages come from scripts/install_ts_client.sh (`make test` runs it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from shop.demo.images import product_image
from tests.campaigns.support_checkout import full_reduction, give, template
from tests.factories import FlashItemFactory, SkuFactory, default_freight
from tests.shop.support_member_price import give_card, put_in_tier

pytestmark = pytest.mark.django_db

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "typescript"
BIN = CLIENT / "node_modules" / ".bin"


class Capture:
    """Responses by (schema path, method, status), as the generated `paths` type addresses them."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, str, int, Any]] = []

    def call(self, client: APIClient, method: str, path: str, url: str, status: int, body: Any = None) -> Any:
        response = getattr(client, method)(url, body, format="json") if body is not None else \
            getattr(client, method)(url)
        assert response.status_code == status, (method, url, response.status_code, response.content[:300])
        data = response.json()
        self.bodies.append((path, method, status, data))
        return data

    def typescript(self) -> str:
        lines = ['import type { paths } from "./schema";', ""]
        for i, (path, method, status, data) in enumerate(self.bodies):
            kind = f'paths["{path}"]["{method}"]["responses"][{status}]["content"]["application/json"]'
            lines.append(f"export const r{i}: {kind} = {json.dumps(data, ensure_ascii=False, indent=1)};")
        return "\n".join(lines) + "\n"


def _node_tool(name: str) -> str:
    tool = BIN / name
    assert tool.exists() and shutil.which("node"), "run scripts/install_ts_client.sh (make test does)"
    return str(tool)


@pytest.fixture
def shop_world(shopper, sandbox):
    """A product with a photo and two SKUs, a 满减, a flash item, a coupon in the centre and one
    held, and a 黄金 member with a paid card."""
    default_freight()
    sku = SkuFactory.create(price_fen=12900, original_price_fen=15900, stock=20)
    SkuFactory.create(product=sku.product, price_fen=13900, stock=20)
    sku.product.main_image.save("milk.jpg", ContentFile(product_image(seed=3, shape="bubble",
                                                                      palette=((255, 214, 222),))), save=True)
    FlashItemFactory.create(sku=SkuFactory.create(price_fen=5900, stock=5), flash_price_fen=3900)
    full_reduction(name="店庆满减", steps=[(19900, 2000)])
    template(name="领券中心券", show_in_center=True)
    give(shopper.member, template(name="已领的券", threshold_fen=5000, amount_fen=500))
    put_in_tier(shopper.member, 2)
    give_card(shopper.member)
    return sku


def test_the_generated_client_type_checks_real_responses(shopper, shop_world, sandbox, tmp_path):
    sku, product_id, me = shop_world, shop_world.product_id, shopper.client
    capture, guest = Capture(), APIClient()
    capture.call(guest, "get", "/api/v1/categories/", "/api/v1/categories/", 200)
    capture.call(guest, "get", "/api/v1/products/", "/api/v1/products/?page_size=5", 200)
    capture.call(guest, "get", "/api/v1/products/{product_id}/", f"/api/v1/products/{product_id}/", 200)
    capture.call(guest, "get", "/api/v1/flash-sales/sessions", "/api/v1/flash-sales/sessions", 200)
    capture.call(guest, "get", "/api/v1/coupons/center", "/api/v1/coupons/center", 200)
    capture.call(me, "get", "/api/v1/me", "/api/v1/me", 200)
    capture.call(me, "get", "/api/v1/me/tier", "/api/v1/me/tier", 200)
    capture.call(me, "get", "/api/v1/products/{product_id}/offers", f"/api/v1/products/{product_id}/offers", 200)
    capture.call(me, "get", "/api/v1/products/{product_id}/share", f"/api/v1/products/{product_id}/share", 200)
    capture.call(me, "post", "/api/v1/me/favourites/", "/api/v1/me/favourites/", 201, {"product_id": product_id})
    capture.call(me, "get", "/api/v1/me/favourites/", "/api/v1/me/favourites/", 200)
    capture.call(me, "get", "/api/v1/me/footprints/", "/api/v1/me/footprints/", 200)
    capture.call(me, "post", "/api/v1/cart/items/", "/api/v1/cart/items/", 201, {"sku_id": sku.pk, "quantity": 1})
    capture.call(me, "get", "/api/v1/cart/items/", "/api/v1/cart/items/", 200)
    capture.call(me, "get", "/api/v1/cart/hints", "/api/v1/cart/hints", 200)
    capture.call(me, "post", "/api/v1/checkout/preview", "/api/v1/checkout/preview", 200, {})
    order = capture.call(me, "post", "/api/v1/orders/", "/api/v1/orders/", 201, {})
    number = order["order_no"]
    capture.call(me, "get", "/api/v1/orders/", "/api/v1/orders/", 200)
    capture.call(me, "get", "/api/v1/orders/counts", "/api/v1/orders/counts", 200)
    capture.call(me, "get", "/api/v1/orders/{order_no}/", f"/api/v1/orders/{number}/", 200)
    capture.call(me, "post", "/api/v1/orders/{order_no}/pay", f"/api/v1/orders/{number}/pay", 200, {})
    capture.call(me, "post", "/api/v1/orders/{order_no}/buy-again", f"/api/v1/orders/{number}/buy-again", 200, {})
    capture.call(me, "get", "/api/v1/coupons/mine", "/api/v1/coupons/mine", 200)
    capture.call(me, "get", "/api/v1/me/points", "/api/v1/me/points", 200)
    capture.call(me, "get", "/api/v1/addresses/", "/api/v1/addresses/", 200)

    schema = SchemaGenerator().get_schema(request=None, public=True)
    (tmp_path / "schema.json").write_text(json.dumps(schema, ensure_ascii=False))
    (tmp_path / "responses.ts").write_text(capture.typescript())
    (tmp_path / "tsconfig.json").write_text(json.dumps({
        "compilerOptions": {"strict": True, "noEmit": True, "target": "ES2020", "module": "ESNext",
                            "moduleResolution": "bundler", "types": [], "lib": ["ES2020"]},
        "files": ["responses.ts", "schema.d.ts"]}))
    generate = subprocess.run([_node_tool("openapi-typescript"), "schema.json", "-o", "schema.d.ts"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
    assert generate.returncode == 0, generate.stderr
    check = subprocess.run([_node_tool("tsc"), "-p", "."], cwd=tmp_path, capture_output=True, text=True, timeout=180)

    assert check.returncode == 0, check.stdout[-4000:]
    assert len(capture.bodies) == 25
