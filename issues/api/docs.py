"""/api/docs/: the API's reference as an NHS.UK page, rendered on the server from the OpenAPI schema.

Like the schema and the API, it is for logged-in users; anyone else gets a 403 with a link to log in.

Swagger UI and Redoc need JavaScript from a CDN (or drf-spectacular's "sidecar" package), which the
site's Content Security Policy (self only) and offline installs rule out. This page needs neither:
it walks the same schema that /api/schema/ serves, so it cannot drift from the API.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET
from drf_spectacular.generators import SchemaGenerator

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
REF_PREFIX = "#/components/schemas/"


@dataclass(frozen=True)
class TypeInfo:
    text: str
    link: str = ""  # the name of an object schema described further down the page


@dataclass(frozen=True)
class Field:
    name: str
    type: TypeInfo
    required: bool
    read_only: bool
    description: str


@dataclass(frozen=True)
class Shape:
    name: str
    description: str
    fields: list[Field]
    title: str = ""  # e.g. 'transition = "resolve"' for one variant of a request body


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    description: str
    anchor: str
    parameters: list[Field]
    request: list[Shape]
    responses: list[tuple[str, str, TypeInfo | None]]


@dataclass
class ApiReference:
    title: str
    version: str
    description: str
    operations: list[Operation] = field(default_factory=list)
    shapes: list[Shape] = field(default_factory=list)


def _ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref", "")
    return ref[len(REF_PREFIX) :] if ref.startswith(REF_PREFIX) else None


class _Reader:
    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.components: dict[str, dict[str, Any]] = schema.get("components", {}).get("schemas", {})

    def type_of(self, schema: dict[str, Any]) -> TypeInfo:
        name = _ref_name(schema)
        if name is not None:
            target = self.components.get(name, {})
            if "enum" in target:
                values = [str(value) for value in target["enum"] if value not in ("", None)]
                return TypeInfo("one of: " + ", ".join(values))
            return TypeInfo(name, link=name)
        for combinator in ("allOf", "oneOf", "anyOf"):
            if combinator in schema:
                return self._combined(schema[combinator], nullable=schema.get("nullable", False))
        kind = schema.get("type", "object")
        if kind == "array":
            inner = self.type_of(schema.get("items", {}))
            return TypeInfo(f"list of {inner.text}", link=inner.link)
        text = {"string": "text", "integer": "whole number", "number": "number", "boolean": "true or false"}.get(
            kind, kind
        )
        if schema.get("format") == "date-time":
            text = "date and time (ISO 8601)"
        elif schema.get("format") == "uri":
            text = "URL"
        elif "enum" in schema:
            text = "one of: " + ", ".join(str(value) for value in schema["enum"] if value not in ("", None))
        elif "maxLength" in schema:
            text = f"text, up to {schema['maxLength']} characters"
        if schema.get("nullable"):
            text += ", or null"
        return TypeInfo(text)

    def _combined(self, parts: list[dict[str, Any]], *, nullable: bool) -> TypeInfo:
        infos = []
        suffix = ", or null" if nullable else ""
        for part in parts:
            name = _ref_name(part)
            if name == "BlankEnum":
                suffix = ', or "" (none)' + suffix
            elif name == "NullEnum":
                suffix += ", or null"
            else:
                infos.append(self.type_of(part))
        link = next((info.link for info in infos if info.link), "")
        return TypeInfo(" or ".join(info.text for info in infos) + suffix, link=link)

    def shape(self, name: str, *, title: str = "") -> Shape:
        schema = self.components[name]
        required = set(schema.get("required", []))
        fields = [
            Field(
                name=prop,
                type=self.type_of(spec),
                required=prop in required,
                read_only=bool(spec.get("readOnly")),
                description=spec.get("description", ""),
            )
            for prop, spec in schema.get("properties", {}).items()
        ]
        return Shape(name=name, description=schema.get("description", ""), fields=fields, title=title)

    def _variant(self, name: str, *, key: str, value: str) -> Shape:
        """One request body of a oneOf, with its discriminator field pinned to its value."""
        shape = self.shape(name, title=f'{key} = "{value}"')
        fields = [replace(item, type=TypeInfo(f'"{value}"')) if item.name == key else item for item in shape.fields]
        return replace(shape, fields=fields)

    def request_shapes(self, operation: dict[str, Any]) -> list[Shape]:
        content = operation.get("requestBody", {}).get("content", {})
        body = content.get("application/json", {}).get("schema")
        if not body:
            return []
        name = _ref_name(body)
        target = self.components.get(name, {}) if name else {}
        if "oneOf" in target:
            discriminator = target.get("discriminator", {})
            names = {value: ref[len(REF_PREFIX) :] for value, ref in discriminator.get("mapping", {}).items()}
            key = discriminator.get("propertyName", "")
            return [self._variant(part, key=key, value=value) for value, part in names.items()]
        return [self.shape(name)] if name else []

    def responses(self, operation: dict[str, Any]) -> list[tuple[str, str, TypeInfo | None]]:
        rows = []
        for code, response in sorted(operation.get("responses", {}).items()):
            body = response.get("content", {}).get("application/json", {}).get("schema")
            rows.append((code, response.get("description", ""), self.type_of(body) if body else None))
        return rows

    def parameters(self, operation: dict[str, Any]) -> list[Field]:
        return [
            Field(
                name=f"{parameter['name']} ({parameter['in']})",
                type=self.type_of(parameter.get("schema", {})),
                required=bool(parameter.get("required")),
                read_only=False,
                description=parameter.get("description", ""),
            )
            for parameter in operation.get("parameters", [])
        ]

    def reference(self) -> ApiReference:
        info = self.schema.get("info", {})
        api = ApiReference(
            title=info.get("title", ""), version=info.get("version", ""), description=info.get("description", "")
        )
        for path, item in self.schema.get("paths", {}).items():
            for method in HTTP_METHODS:
                if method not in item:
                    continue
                operation = item[method]
                api.operations.append(
                    Operation(
                        method=method.upper(),
                        path=path,
                        summary=operation.get("summary", ""),
                        description=operation.get("description", ""),
                        anchor=operation.get("operationId", f"{method}-{path}"),
                        parameters=self.parameters(operation),
                        request=self.request_shapes(operation),
                        responses=self.responses(operation),
                    )
                )
        request_names = {shape.name for operation in api.operations for shape in operation.request}
        api.shapes = [
            self.shape(name)
            for name, schema in sorted(self.components.items())
            if schema.get("type") == "object" and name not in request_names
        ]
        return api


def api_reference(schema: dict[str, Any]) -> ApiReference:
    """The page's content: every operation and every response shape of an OpenAPI 3 schema."""
    return _Reader(schema).reference()


@functools.cache
def _site_api_reference() -> ApiReference:
    # The schema only changes with the code, so one build per process is enough.
    return api_reference(SchemaGenerator().get_schema(request=None, public=True))


@login_not_required  # /api/ answers 401/403 rather than redirecting (smartcard_route.middleware)
@require_GET
def api_docs(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        login_url = f"{reverse('login')}?{urlencode({'next': request.path})}"
        return render(request, "api/docs_log_in.jinja", {"login_url": login_url}, status=403)
    return render(request, "api/docs.jinja", {"api": _site_api_reference()})
