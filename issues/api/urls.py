"""/api/v1/: the JSON API's routes (the router's root lists them in the browsable API)."""

from django.urls import path
from rest_framework.routers import APIRootView, DefaultRouter

from issues.api.figures import FiguresView
from issues.api.views import API_AUTHENTICATION, IssueViewSet

app_name = "api"


class ApiRootView(APIRootView):
    authentication_classes = API_AUTHENTICATION


router = DefaultRouter()
router.APIRootView = ApiRootView
router.register("issues", IssueViewSet, basename="issue")

urlpatterns = [*router.urls, path("figures/", FiguresView.as_view(), name="figures")]
