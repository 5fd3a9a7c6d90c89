"""Site-wide views: the health check and the error pages (the start page is the issues app's:
issues/start_urls.py, since it tells the route)."""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from smartcard_route import metrics as site_metrics
from smartcard_route import monitoring
from smartcard_route.celery import app as celery_app

logger = logging.getLogger(__name__)

# Where smartcard_route/urls.py mounts the JSON API and its schema.
API_PREFIX = "/api/"


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.warning("health check: database unreachable", exc_info=True)
        return False
    return True


# A load balancer polls this page: it must answer quickly even when a server hangs.
HEALTH_CHECK_TIMEOUT_SECONDS = 2


def _broker_ok() -> bool:
    try:
        with celery_app.connection_for_write(
            connect_timeout=HEALTH_CHECK_TIMEOUT_SECONDS,
            transport_options={
                "socket_connect_timeout": HEALTH_CHECK_TIMEOUT_SECONDS,
                "socket_timeout": HEALTH_CHECK_TIMEOUT_SECONDS,
            },
        ) as conn:
            # One attempt, no retry loop: a broker that does not answer now is reported as down.
            conn.ensure_connection(max_retries=0, timeout=HEALTH_CHECK_TIMEOUT_SECONDS)
    except Exception:
        logger.warning("health check: broker unreachable", exc_info=True)
        return False
    return True


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the broker answer, 503 when either does not. The worker's last beat
    is reported beside them but does not change the answer: a load balancer takes a web server out
    for its own faults, not for a stopped worker (which /metrics and its alert are for)."""
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    healthy = all(checks.values())
    body: dict[str, object] = {
        "status": "ok" if healthy else "unavailable",
        **{k: "ok" if v else "unavailable" for k, v in checks.items()},
        **_worker(),
    }
    return JsonResponse(body, status=200 if healthy else 503)


def _worker() -> dict[str, object]:
    try:
        beat = monitoring.worker_beat()
    except Exception:
        logger.warning("health check: monitoring cache unreachable", exc_info=True)
        return {"worker": "unknown", "worker_last_beat": None}
    return {"worker": beat.status, "worker_last_beat": beat.last_run.isoformat() if beat.last_run else None}


@login_not_required
@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus' scrape (smartcard_route.metrics): 404 unless metrics are switched on, 401 without
    the bearer token (from an address not on the allow-list)."""
    access = site_metrics.metrics_access(request)
    if access == site_metrics.Access.HIDDEN:
        return page_not_found(request)
    if access == site_metrics.Access.UNAUTHORISED:
        response = HttpResponse("A bearer token is needed.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(site_metrics.metrics_text(), content_type=site_metrics.CONTENT_TYPE)


@login_not_required
@never_cache
@require_GET
def bench_bare(request: HttpRequest) -> HttpResponse:
    """The load benchmark's floor (bench/load.py): the whole middleware stack, then no query, no
    template. Mounted only when settings.BENCH_BARE_VIEW is set (smartcard_route/urls.py)."""
    return HttpResponse("ok", content_type="text/plain")


@login_not_required
def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # A URL under the API that matches no route (a malformed reference, an unknown path) answers
    # as the API's own 404 does, in JSON, as the schema documents it.
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": "Not found."}, status=404)
    return render(request, "errors/404.jinja", status=404)


@login_not_required
def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/403.jinja", status=403)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent without a valid CSRF token: most often a page left open past the session's end."""
    message = "This form has expired. Go back, refresh the page and try again."
    return render(request, "errors/403.jinja", {"message": message}, status=403)


@login_not_required
def server_error(request: HttpRequest) -> HttpResponse:
    # Rendered without the request context on purpose: whatever broke may be in it (the user, the
    # session, the database). Only the CSP nonce is taken from it, for the page template's script.
    # (django-csp's nonce is lazy and falsy until read: str() reads it, which puts it in the header.)
    nonce = getattr(request, "csp_nonce", None)
    context = {"csp_nonce": str(nonce) if nonce is not None else ""}
    return render(None, "errors/500.jinja", context, status=500)  # type: ignore[arg-type]
