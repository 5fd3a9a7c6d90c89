from django.urls import path, register_converter

from issues import mail_views, views


class ReferenceConverter:
    """An issue reference in a URL: 'SC-000123' (any case); the view resolves it within scope."""

    regex = r"[Ss][Cc]-[0-9]{1,12}"

    def to_python(self, value: str) -> str:
        return value.upper()

    def to_url(self, value: str) -> str:
        return str(value).upper()


register_converter(ReferenceConverter, "reference")

app_name = "issues"

urlpatterns = [
    path("", views.issue_list, name="list"),
    path("report/", views.report_start, name="report"),
    path("report/<slug:step>/", views.report_step, name="report_step"),
    path("lpc/", views.lpc_dashboard, name="lpc_dashboard"),
    path("cpe-it/", views.cpe_dashboard, name="cpe_dashboard"),
    path("<reference:reference>/", views.issue_detail, name="detail"),
    path("<reference:reference>/reported/", views.report_done, name="reported"),
    path("<reference:reference>/contact-ra/", views.contact_ra, name="contact_ra"),
    path("<reference:reference>/actions/<slug:action>/", views.issue_action, name="action"),
    # Inbound mail (issues.mail_views): CPE IT's unmatched list, and inbound attachments.
    path("unmatched-mail/", mail_views.unmatched_mail, name="unmatched_mail"),
    path("unmatched-mail/<int:pk>/", mail_views.unmatched_mail_detail, name="unmatched_mail_detail"),
    path("unmatched-mail/<int:pk>/attach/", mail_views.unmatched_mail_attach, name="unmatched_mail_attach"),
    path("unmatched-mail/posts/<int:pk>/", mail_views.unreadable_post, name="unreadable_post"),
    path("attachments/<int:pk>/", mail_views.inbound_attachment, name="inbound_attachment"),
]
