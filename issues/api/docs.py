"""/api/docs/: the API's reference, drawn by Swagger UI from the OpenAPI schema at /api/schema/.

Swagger UI is served from the site itself (drf-spectacular-sidecar's copy, SWAGGER_UI_DIST =
"SIDECAR"), inside the NHS.UK layout (templates/api/docs.jinja). drf-spectacular's split view
delivers the page and its start-up script as two responses (the script at ?script), so the page
has no inline script and the Content Security Policy stays as it is everywhere else.

Like the schema and the API, it is for logged-in users; anyone else gets a 403 with a link to log in.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET
from drf_spectacular.views import SpectacularSwaggerSplitView

_swagger_ui = SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api/docs.jinja")


@login_not_required  # /api/ answers 401/403 rather than redirecting (smartcard_route.middleware)
@require_GET
def api_docs(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        login_url = f"{reverse('login')}?{urlencode({'next': request.path})}"
        return render(request, "api/docs_log_in.jinja", {"login_url": login_url}, status=403)
    return _swagger_ui(request)
