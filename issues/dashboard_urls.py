"""The dashboards, mounted at /dashboard/ by smartcard_route.urls (namespace "dashboards")."""

from django.urls import path

from issues.views import dashboards, figures

app_name = "dashboards"

urlpatterns = [
    path("lpc/", dashboards.lpc_dashboard, name="lpc"),
    path("cpe-it/", dashboards.cpe_dashboard, name="cpe_it"),
    path("figures/", figures.figures_page, name="figures"),
]
