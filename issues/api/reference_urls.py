"""/api/schema/ (the OpenAPI schema) and /api/docs/ (its reference page), not namespaced:
`api-schema` and `api-docs`. smartcard_route/urls.py includes this module by name."""

from django.urls import path

from issues.api import api_docs, api_schema

urlpatterns = [
    path("schema/", api_schema, name="api-schema"),
    path("docs/", api_docs, name="api-docs"),
]
