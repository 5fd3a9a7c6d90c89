from django.apps import AppConfig


class IssuesConfig(AppConfig):
    name = "issues"
    verbose_name = "Smartcard issues"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, once the models are loaded: it imports them (Django's way for receivers).
        from issues.correspondence import hooks

        hooks.connect()
