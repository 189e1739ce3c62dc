"""Input serializers that take JSON values of exactly the types the schema gives them.

DRF's fields coerce: a CharField takes 0 as "0", a BooleanField takes 0, "no" and "false", an
IntegerField takes "12". The OpenAPI schema says string, boolean, integer, and a client written
against it must be able to trust that what the schema forbids is refused. So the API's input
serializers check every JSON value's type against its field first (an integral float such as 3.0
counts as an integer, as in JSON Schema), and only then let the fields validate as usual.

Form data (multipart uploads) is all strings by nature and is left to the fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import QueryDict
from rest_framework import serializers

_MESSAGES = {
    "string": "须为字符串",
    "boolean": "须为 true 或 false",
    "integer": "须为整数",
    "number": "须为数字",
    "array": "须为数组",
    "object": "须为对象",
}

_STRING_FIELDS = (serializers.CharField, serializers.ChoiceField, serializers.DateField, serializers.DateTimeField,
                  serializers.TimeField, serializers.DurationField, serializers.UUIDField)


def _json_type(field: serializers.Field) -> str | None:
    """The JSON type a field takes, or None when the field itself is left to judge."""
    if isinstance(field, serializers.BooleanField):
        return "boolean"
    if isinstance(field, serializers.IntegerField):
        return "integer"
    if isinstance(field, serializers.FloatField | serializers.DecimalField):
        return "number"
    if isinstance(field, serializers.ListField | serializers.ListSerializer):
        return "array"
    if isinstance(field, serializers.DictField | serializers.Serializer):
        return "object"
    if isinstance(field, _STRING_FIELDS):
        return "string"
    return None


def _has_type(value: Any, json_type: str) -> bool:
    if json_type == "string":
        return isinstance(value, str)
    if json_type == "boolean":
        return isinstance(value, bool)
    if json_type == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer())
    if json_type == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if json_type == "array":
        return isinstance(value, list)
    return isinstance(value, dict)


def type_errors(field: serializers.Field, value: Any) -> Any:
    """DRF-shaped errors for the values under `field` whose JSON type is not the field's; None if none.

    `null` is left to the field (allow_null decides), as are fields of other kinds.
    """
    if value is None or field.read_only:
        return None
    json_type = _json_type(field)
    if json_type is None:
        return None
    if not _has_type(value, json_type):
        return [_MESSAGES[json_type]]
    if isinstance(field, serializers.ListSerializer):
        return _errors_by_index([type_errors(field.child, item) for item in value])  # type: ignore[arg-type]
    if isinstance(field, serializers.ListField):
        return _errors_by_index([type_errors(field.child, item) for item in value])
    if isinstance(field, serializers.DictField):
        found = {key: type_errors(field.child, item) for key, item in value.items()}
        return {key: errors for key, errors in found.items() if errors} or None
    if isinstance(field, serializers.Serializer):
        return _errors_by_field(field, value)
    return None


def _errors_by_index(errors: list[Any]) -> list[Any] | None:
    if not any(errors):
        return None
    # DRF reports a list's errors by index, with an empty entry for each valid item.
    return [error or {} for error in errors]


def _errors_by_field(serializer: serializers.Serializer, data: Mapping[str, Any]) -> dict[str, Any] | None:
    found = {name: type_errors(field, data[name]) for name, field in serializer.fields.items() if name in data}
    return {name: errors for name, errors in found.items() if errors} or None


class StrictJsonTypes:
    """Mixin for a serializer the API parses a JSON body with (see the module docstring)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping) and not isinstance(data, QueryDict) and isinstance(self, serializers.Serializer):
            errors = _errors_by_field(self, data)
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]


class InputSerializer(StrictJsonTypes, serializers.Serializer):
    """The base of the API's input serializers. The outermost one checks the whole body, nested
    serializers and lists included, so a nested serializer may stay a plain Serializer."""
