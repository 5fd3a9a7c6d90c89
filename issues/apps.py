from django.apps import AppConfig


class IssuesConfig(AppConfig):
    name = "issues"
    verbose_name = "Smartcard issues"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Inbound mail and delivery tracking arrive as anymail signals (issues.webhooks).
        from anymail.signals import inbound, tracking

        from issues.inbound import on_anymail_inbound
        from issues.tracking import on_anymail_tracking

        inbound.connect(on_anymail_inbound, dispatch_uid="issues.inbound")
        tracking.connect(on_anymail_tracking, dispatch_uid="issues.tracking")
