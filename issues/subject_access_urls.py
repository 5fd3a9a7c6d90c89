"""The subject-access export's pages, mounted at /subject-access/ by smartcard_route.urls (namespace
"subject_access"); in the issues app because the export gathers issues and mail (imports go one
way: directory <- issues)."""

from django.urls import path

from issues.views import subject_access

app_name = "subject_access"

urlpatterns = [
    path("", subject_access.subject_access_search, name="search"),
    path("export/", subject_access.subject_access_export, name="export"),
]
