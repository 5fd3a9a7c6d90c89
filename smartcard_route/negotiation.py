"""DRF's content negotiation for the API (REST_FRAMEWORK["DEFAULT_CONTENT_NEGOTIATION_CLASS"]).
Plumbing: it imports no app, so DRF can load it while its own modules load."""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer


class FormatNegotiation(DefaultContentNegotiation):
    """`?format=` naming a format the operation does not speak is a field error (400), not DRF's
    404, which the schema cannot document for a query parameter."""

    def filter_renderers(self, renderers: Iterable[BaseRenderer], format: str) -> list[BaseRenderer]:
        found = [renderer for renderer in renderers if renderer.format == format]
        if not found:
            choices = ", ".join(sorted({renderer.format for renderer in renderers}))
            raise ValidationError({"format": [f"Choose one of: {choices}."]})
        return found
