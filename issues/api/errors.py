"""The API's error bodies, one shape per status as the schema documents them (issues.api.serializers:
FIELD_ERRORS_SCHEMA for 400, ErrorSerializer for the others).

DRF answers a 400 in several shapes: `{field: [messages]}` from a serializer, but `{"detail": "JSON
parse error ..."}` for a body that is not JSON, and nested dictionaries for a list's items
(`{"issues": {"0": ["Not a valid string."]}}`). Every 400 leaves here as field errors: a field's
nested messages are flattened into its own list (naming the item), and a message that names no
field goes under "non_field_errors".
"""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

from issues.api.serializers import FIELD_ERRORS_SCHEMA

NON_FIELD = api_settings.NON_FIELD_ERRORS_KEY


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = exception_handler(exc, context)
    if response is not None and response.status_code == status.HTTP_400_BAD_REQUEST:
        response.data = field_errors(response.data)
    return response


def field_errors(data: Any) -> dict[str, list[str]]:
    if isinstance(data, dict) and set(data) == {"detail"} and isinstance(data["detail"], str):
        return {NON_FIELD: [str(data["detail"])]}
    if isinstance(data, dict):
        return {str(name): _messages(errors) for name, errors in data.items()}
    return {NON_FIELD: _messages(data)}


def _messages(errors: Any, where: str = "") -> list[str]:
    """Every message under `errors` as a flat list, each prefixed with the item it is about."""
    if isinstance(errors, dict):
        return [message for key, inner in errors.items() for message in _messages(inner, _item(where, key))]
    if isinstance(errors, list | tuple):
        return [message for inner in errors for message in _messages(inner, where)]
    return [f"{where}: {errors}" if where else str(errors)]


def _item(where: str, key: Any) -> str:
    name = f"item {int(key) + 1}" if str(key).isdigit() else str(key)
    return f"{where}, {name}" if where else name[:1].upper() + name[1:]


def document_page_errors(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: a paginated list answers 400 (field errors) to a page
    number or size that is not a positive whole number (issues.api.views.IssuePagination), so every
    operation taking `page` or `page_size` documents its 400."""
    for item in result.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            names = {parameter.get("name") for parameter in operation.get("parameters", [])}
            if names & {"page", "page_size"} and "400" not in operation.get("responses", {}):
                operation["responses"]["400"] = {
                    "description": "Field errors (a page number or size that is not a whole number, 1 or more).",
                    "content": {"application/json": {"schema": FIELD_ERRORS_SCHEMA}},
                }
    return result
