"""The systemic case pages, mounted at /cases/ by smartcard_route.urls (namespace "cases")."""

from django.urls import path, register_converter

from issues.urls import ReferenceConverter
from issues.views import cases


class CaseReferenceConverter(ReferenceConverter):
    """A case reference in a URL: 'CASE-00012' (any case); the view resolves it within scope."""

    regex = r"[Cc][Aa][Ss][Ee]-[0-9]{1,12}"


register_converter(CaseReferenceConverter, "case_reference")

app_name = "cases"

urlpatterns = [
    path("", cases.case_list, name="list"),
    path("new/", cases.case_new, name="new"),
    path("suggestions/", cases.case_suggestions, name="suggestions"),
    path("<case_reference:reference>/", cases.case_detail, name="detail"),
    path("<case_reference:reference>/actions/<slug:action>/", cases.case_action, name="action"),
    path("<case_reference:reference>/evidence-pack/", cases.case_evidence_pack, name="evidence_pack"),
]
