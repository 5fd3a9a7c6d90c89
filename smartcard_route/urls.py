"""The site's URLs. The plumbing imports no app: each app's URLs are included by module name."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from smartcard_route import views

urlpatterns = [
    # The start page tells the route, so it is the issues app's (named "home").
    path("", include("issues.start_urls")),
    path("healthz", views.healthz, name="healthz"),
    # Prometheus' scrape: 404 unless METRICS_TOKEN or METRICS_ALLOWED_IPS is set (docs/operations.md).
    path("metrics", views.metrics, name="metrics"),
    # Logging in and out, password reset (directory.accounts): not namespaced, as Django's LOGIN_URL expects.
    path("", include("directory.accounts.urls")),
    # The reminder-emails page of issues (namespace "notifications"), on the account's paths.
    path("account/", include("issues.account_urls")),
    path("directory/", include("directory.urls")),
    path("issues/", include("issues.urls")),
    path("dashboard/", include("issues.dashboard_urls")),
    path("cases/", include("issues.case_urls")),
    # Subject-access export (the directory manager and CPE IT): issues.subject_access_urls.
    path("subject-access/", include("issues.subject_access_urls")),
    path("admin/", admin.site.urls),
    # ESP webhooks (inbound mail, delivery tracking): public, authenticated by ANYMAIL["WEBHOOK_SECRET"].
    path("webhooks/anymail/", include("smartcard_route.mail.urls")),
    path("api/v1/", include("issues.api.urls")),
    path("api/", include("issues.api.reference_urls")),
]

if settings.BENCH_BARE_VIEW:
    # The load benchmark's floor (bench/load.py), only when the setting asks for it.
    urlpatterns.append(path("bench/bare/", views.bench_bare, name="bench_bare"))

handler403 = "smartcard_route.views.permission_denied"
handler404 = "smartcard_route.views.page_not_found"
handler500 = "smartcard_route.views.server_error"
