"""/api/v1/: the JSON API's routes (the router's root lists them in the browsable API)."""

from rest_framework.routers import DefaultRouter

from issues.api.views import IssueViewSet

app_name = "api"

router = DefaultRouter()
router.register("issues", IssueViewSet, basename="issue")

urlpatterns = router.urls
