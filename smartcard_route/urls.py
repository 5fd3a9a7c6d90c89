from django.contrib import admin
from django.urls import include, path

from issues.api import api_docs, api_schema
from smartcard_route import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("", include("directory.account_urls")),
    path("account/", include("issues.account_urls")),
    path("directory/", include("directory.urls")),
    path("issues/", include("issues.urls")),
    path("admin/", admin.site.urls),
    # ESP webhooks (inbound mail, delivery tracking): public, authenticated by ANYMAIL["WEBHOOK_SECRET"].
    path("webhooks/anymail/", include("smartcard_route.mail.urls")),
    path("api/v1/", include("issues.api_urls")),
    path("api/schema/", api_schema, name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
]

handler403 = "smartcard_route.views.permission_denied"
handler404 = "smartcard_route.views.page_not_found"
handler500 = "smartcard_route.views.server_error"
