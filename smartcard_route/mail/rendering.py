"""Mail bodies: templates/emails/<name>.txt and .html rendered with the Jinja2 backend, and the
registry of template contexts for rows rendered when they are sent.

An app that queues rows with a template instead of bodies (the nudge sweep writes them in bulk and
renders each when it is sent, with the facts as they are then) registers, in its
AppConfig.ready(), the function that makes the template's context of such a row, under the row's
purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.template.loader import render_to_string

from smartcard_route.mail.models import OutboundEmail

TemplateContext = Callable[[OutboundEmail], dict[str, Any]]

_template_contexts: dict[str, TemplateContext] = {}


def render_bodies(template: str, context: dict[str, Any]) -> tuple[str, str]:
    """templates/emails/<template>.txt and .html rendered with the Jinja2 backend: the text part
    as plain text (the environment escapes no .txt template), the HTML part escaped."""
    text = render_to_string(f"emails/{template}.txt", context).strip() + "\n"
    html = render_to_string(f"emails/{template}.html", context)
    return text, html


def register_template_context(purpose: str, context: TemplateContext) -> None:
    """Rows of this purpose queued with a template are rendered with `context(row)` when sent."""
    _template_contexts[purpose] = context


def template_bodies(email: OutboundEmail) -> tuple[str, str]:
    """A template row's bodies, rendered now with the context registered for its purpose."""
    context = _template_contexts.get(email.purpose)
    if context is None:
        raise LookupError(f"No template context is registered for {email.purpose!r} mail.")
    return render_bodies(email.template, context(email))
