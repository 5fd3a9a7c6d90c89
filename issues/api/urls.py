"""/api/v1/: the JSON API's routes (the router's root lists them in the browsable API)."""

from rest_framework.routers import APIRootView, DefaultRouter

from issues.api.cases import CaseViewSet
from issues.api.views import API_AUTHENTICATION, IssueViewSet

app_name = "api"


class ApiRootView(APIRootView):
    authentication_classes = API_AUTHENTICATION


router = DefaultRouter()
router.APIRootView = ApiRootView
router.register("issues", IssueViewSet, basename="issue")
router.register("cases", CaseViewSet, basename="case")

urlpatterns = router.urls
