"""The OpenAPI document is valid, covers every endpoint, and the docs page works offline."""

from __future__ import annotations

import re

import yaml
from django.urls import get_resolver
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from core.api.schema import NOT_BLANK
from shop.models import AfterSaleKind, AfterSaleStatus, OrderStatus
from tests.api.schema_support import NOT_THE_MINI_PROGRAMS


def test_schema_is_valid_openapi_3_covering_every_api_route(api_client, db):
    response = api_client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)

    documented = set(schema["paths"])
    routes = set()
    for pattern in _walk(get_resolver().url_patterns, ""):
        if pattern.startswith("api/v1/"):
            routes.add("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", pattern))
    assert routes, "no API routes found"
    assert routes <= documented, routes - documented


def _walk(patterns, prefix):
    for p in patterns:
        if hasattr(p, "url_patterns"):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        else:
            yield prefix + str(p.pattern)


def test_docs_page_loads_its_assets_locally(api_client, db):
    response = api_client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    for url in assets:
        assert not url.startswith(("http://", "https://", "//")), url
    scripts_and_styles = [url for url in assets if url.endswith((".js", ".css"))]
    assert scripts_and_styles
    for url in scripts_and_styles:
        assert api_client.get(url).status_code == 200, url


def test_schema_generation_has_no_warning_or_error():
    """drf-spectacular warns when it has to guess: two components with one name (one of them is then
    documented wrongly), two choice sets on fields of one name (an order's status was documented
    with the after-sale statuses), a view it cannot read."""
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        SchemaGenerator().get_schema(request=None, public=True)

    assert (dict(GENERATOR_STATS._warn_cache), dict(GENERATOR_STATS._error_cache)) == ({}, {})


def test_each_status_field_is_documented_with_its_own_choices():
    schemas = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]

    def enum_of(component, field):
        ref = schemas[component]["properties"][field]["$ref"]
        return schemas[ref.rsplit("/", 1)[1]]["enum"]

    assert enum_of("OrderOutput", "status") == OrderStatus.values
    assert enum_of("OrderDetailOutput", "status") == OrderStatus.values
    assert enum_of("OrderShipmentsOutput", "status") == OrderStatus.values
    assert enum_of("AfterSaleOutput", "status") == AfterSaleStatus.values
    assert enum_of("AfterSaleOutput", "kind") == AfterSaleKind.values


def test_the_not_blank_pattern_is_pythons_strip():
    """The schema says a trimmed text field must hold a character outside NOT_BLANK's class; DRF
    strips with str.strip(). They must agree on every character (all of Python's whitespace is
    below U+3001)."""
    not_blank = re.compile(NOT_BLANK)

    disagree = [hex(c) for c in range(0x3100) if (not_blank.search(chr(c)) is None) != chr(c).isspace()]

    assert disagree == []


def test_every_error_response_lists_its_codes():
    document = SchemaGenerator().get_schema(request=None, public=True)
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if operation["operationId"] in NOT_THE_MINI_PROGRAMS:
                continue
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema["properties"]["code"]["enum"], (method, path, status)
                    assert set(schema["required"]) == {"code", "message", "detail"}


def test_every_operation_says_what_it_does_and_images_go_by_one_name_as_absolute_urls():
    document = SchemaGenerator().get_schema(request=None, public=True)
    undescribed = [operation["operationId"] for methods in document["paths"].values()
                   for operation in methods.values() if not operation.get("description", "").strip()]
    assert undescribed == []
    # A picture is `image_url` (a gallery `image_urls`), an absolute URI: never main_image, image or icon.
    other_names = sorted({(name, field) for name, component in document["components"]["schemas"].items()
                          for field in component.get("properties", {}) if field in {"main_image", "image", "icon",
                                                                                    "images"}})
    assert other_names == []
    image_urls = [component["properties"]["image_url"] for component in document["components"]["schemas"].values()
                  if "image_url" in component.get("properties", {})]
    assert image_urls and all(field.get("format") == "uri" for field in image_urls), image_urls
