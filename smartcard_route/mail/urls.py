"""The ESP webhooks, at anymail's usual paths under /webhooks/anymail/: only the providers named in
settings.MAIL_WEBHOOK_ESPS (webhooks.ESPS lists the ones supported), each authenticated."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import URLPattern, path

from smartcard_route.mail.webhooks import ESPS

app_name = "mail_webhooks"


def _patterns(esps: list[str]) -> list[URLPattern]:
    unknown = sorted(set(esps) - set(ESPS))
    if unknown:
        raise ImproperlyConfigured(
            f"MAIL_WEBHOOK_ESPS names unsupported providers {unknown}; supported: {sorted(ESPS)}"
        )
    patterns = []
    for esp in esps:
        inbound, tracking = ESPS[esp]
        patterns.append(path(f"{esp}/inbound/", inbound.as_view(), name=f"{esp}_inbound"))
        patterns.append(path(f"{esp}/tracking/", tracking.as_view(), name=f"{esp}_tracking"))
    return patterns


urlpatterns = _patterns(list(settings.MAIL_WEBHOOK_ESPS))
