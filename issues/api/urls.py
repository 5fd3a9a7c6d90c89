"""/api/v1/: the JSON API's routes (the router's root lists them in the browsable API)."""

from django.urls import path
from rest_framework.routers import APIRootView, DefaultRouter

from issues.api.cases import CaseViewSet
from issues.api.cpe import CpeDashboardView, UnmatchedMailViewSet
from issues.api.figures import FiguresView
from issues.api.views import API_AUTHENTICATION, IssueViewSet, LpcDashboardView

app_name = "api"


class ApiRootView(APIRootView):
    authentication_classes = API_AUTHENTICATION


# No format-suffix routes (`/api/v1/issues.json`, `/api/v1/cases/CASE-00001/close.json`, ...): the
# API speaks JSON only (the export's CSV is its own endpoint), the schema never listed them, and the
# viewsets' methods take no `format` argument, so every one of them answered 500 for every role.
router = DefaultRouter()
router.include_format_suffixes = False
router.APIRootView = ApiRootView
router.register("issues", IssueViewSet, basename="issue")
router.register("unmatched-mail", UnmatchedMailViewSet, basename="unmatched-mail")
router.register("cases", CaseViewSet, basename="case")

urlpatterns = [
    path("dashboards/lpc/", LpcDashboardView.as_view(), name="dashboard-lpc"),
    path("dashboards/cpe-it/", CpeDashboardView.as_view(), name="dashboard-cpe-it"),
    path("figures/", FiguresView.as_view(), name="figures"),
    *router.urls,
]
