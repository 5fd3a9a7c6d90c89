from django.urls import path, register_converter

from issues.views import contact_ra, detail, lists, report, unmatched_mail


class ReferenceConverter:
    """An issue reference in a URL: 'SC-000123' (any case); the view resolves it within scope.
    A case's reference (issues.case_urls) is the same with another prefix."""

    regex = r"[Ss][Cc]-[0-9]{1,12}"

    def to_python(self, value: str) -> str:
        return value.upper()

    def to_url(self, value: str) -> str:
        return str(value).upper()


register_converter(ReferenceConverter, "reference")

app_name = "issues"

urlpatterns = [
    path("", lists.issue_list, name="list"),
    path("export.csv", lists.issue_list_csv, name="export_csv"),
    path("report/", report.report_start, name="report"),
    path("report/<slug:step>/", report.report_step, name="report_step"),
    path("<reference:reference>/", detail.issue_detail, name="detail"),
    path("<reference:reference>/reported/", report.report_done, name="reported"),
    path("<reference:reference>/contact-ra/", contact_ra.contact_ra, name="contact_ra"),
    path("<reference:reference>/actions/<slug:action>/", detail.issue_action, name="action"),
    # Inbound mail (issues.views.unmatched_mail): CPE IT's unmatched list, and inbound attachments.
    path("unmatched-mail/", unmatched_mail.unmatched_mail, name="unmatched_mail"),
    path("unmatched-mail/<int:pk>/", unmatched_mail.unmatched_mail_detail, name="unmatched_mail_detail"),
    path("unmatched-mail/<int:pk>/attach/", unmatched_mail.unmatched_mail_attach, name="unmatched_mail_attach"),
    path("unmatched-mail/<int:pk>/undo/", unmatched_mail.unmatched_mail_undo, name="unmatched_mail_undo"),
    path("unmatched-mail/posts/<int:pk>/", unmatched_mail.unreadable_post, name="unreadable_post"),
    path("attachments/<int:pk>/", unmatched_mail.inbound_attachment, name="inbound_attachment"),
]
