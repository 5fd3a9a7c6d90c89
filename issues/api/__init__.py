"""The JSON API (/api/v1/, views.py) and its human-readable reference (/api/docs/, docs.py)."""

from issues.api.docs import api_docs
from issues.api.views import IssueViewSet, api_schema

__all__ = ["IssueViewSet", "api_docs", "api_schema"]
