"""Password reset email, sent by a Celery worker rather than inside the request.

Listed in CELERY_IMPORTS so that every worker registers it.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from celery import shared_task
from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.core.mail import EmailMultiAlternatives
from django.template import loader

logger = logging.getLogger(__name__)

SUBJECT_TEMPLATE = "emails/password_reset_subject.txt"
TEXT_TEMPLATE = "emails/password_reset.txt"
HTML_TEMPLATE = "emails/password_reset.html"


class _PasswordResetMailer(PasswordResetForm):
    """Django's reset email (one-use link, active accounts with a password only), letting send errors
    propagate so that the task retries instead of Django logging and dropping them."""

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        message = EmailMultiAlternatives(
            subject, loader.render_to_string(email_template_name, context), from_email, [to_email]
        )
        if html_email_template_name:
            message.attach_alternative(loader.render_to_string(html_email_template_name, context), "text/html")
        message.send()


def _duration_in_words(seconds: int) -> str:
    hours = max(1, round(seconds / 3600))
    if hours % 24 == 0:
        days = hours // 24
        return "1 day" if days == 1 else f"{days} days"
    return "1 hour" if hours == 1 else f"{hours} hours"


def password_reset_send(*, email: str) -> bool:
    """Email a password reset link to the account with this address, if there is one.

    The link is built on SITE_URL, never on the Host header of whoever asked. Returns whether the
    address was well formed (an unknown address sends nothing and is not an error).
    """
    mailer = _PasswordResetMailer(data={"email": email})
    if not mailer.is_valid():
        return False
    site = urlsplit(settings.SITE_URL)
    mailer.save(
        domain_override=site.netloc,
        use_https=site.scheme == "https",
        subject_template_name=SUBJECT_TEMPLATE,
        email_template_name=TEXT_TEMPLATE,
        html_email_template_name=HTML_TEMPLATE,
        extra_email_context={
            "site_url": settings.SITE_URL,
            "service_name": "Smartcard Route",
            "link_valid_for": _duration_in_words(settings.PASSWORD_RESET_TIMEOUT),
        },
    )
    return True


@shared_task(autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=8)
def send_password_reset_email(email: str) -> None:
    password_reset_send(email=email)
