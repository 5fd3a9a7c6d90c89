from django.urls import path, register_converter

from directory import manage_views, views


class EntryKindConverter:
    """The kinds of entry the directory manager keeps (directory.manage_views.KINDS)."""

    regex = "|".join(manage_views.KINDS)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(EntryKindConverter, "entrykind")


class OdsCodeConverter:
    """An ODS code in a URL: letters and digits only, so anything else (a control character,
    which PostgreSQL cannot even compare) is a 404 before any query."""

    regex = "[A-Za-z0-9]{1,10}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(OdsCodeConverter, "ods")

app_name = "directory"

urlpatterns = [
    path("", views.pharmacy_search, name="pharmacy_search"),
    path("pharmacies/<ods:ods_code>/", views.pharmacy_detail, name="pharmacy_detail"),
    path("pharmacies/<ods:ods_code>/report/", views.pharmacy_report, name="pharmacy_report"),
    path("ras/", views.ra_list, name="ra_list"),
    path("ras/<int:pk>/", views.ra_detail, name="ra_detail"),
    path("ras/<int:pk>/report/", views.ra_report, name="ra_report"),
    path("lpcs/", views.lpc_list, name="lpc_list"),
    path("lpcs/<int:pk>/", views.lpc_detail, name="lpc_detail"),
    path("lpcs/<int:pk>/report/", views.lpc_report, name="lpc_report"),
    path("corrections/", views.correction_reports, name="correction_reports"),
    path("corrections/<int:pk>/", views.correction_report_detail, name="correction_report_detail"),
    path("corrections/<int:pk>/done/", views.correction_report_done, name="correction_report_done"),
    # The directory manager's pages.
    path("manage/", manage_views.manage_index, name="manage"),
    path("manage/import/", manage_views.nhsbsa_upload, name="nhsbsa_upload"),
    path("manage/without-ra/", manage_views.pharmacies_without_ra, name="pharmacies_without_ra"),
    path("manage/<entrykind:kind>/", manage_views.entry_list, name="entry_list"),
    path("manage/<entrykind:kind>/new/", manage_views.entry_create, name="entry_create"),
    path("manage/<entrykind:kind>/<int:pk>/", manage_views.entry_edit, name="entry_edit"),
    path("manage/<entrykind:kind>/<int:pk>/history/", manage_views.entry_history, name="entry_history"),
]
