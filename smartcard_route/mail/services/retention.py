"""The mail layer's part of retention (DESIGN.md, "Personal data"): redact, in place, the outbox
rows, inbound emails (with their attachments' files) and inbound posts it is given.

Which rows are due is for the caller to say (the mail layer knows no issue: issues.services.retention
decides from the issues each row is about, or from its age). Each function takes a queryset, works
on at most `limit` of its rows, claims each row by setting `redacted_at` where it is still null
(so two runs at once redact a row once), and returns how many it redacted. What stays: ids,
Message-IDs and thread headers (not personal: they keep threading and deduplication right),
statuses and times, purposes, the attachments' sizes and content types.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from smartcard_route.mail.models import InboundAttachment, InboundEmail, InboundPost, OutboundEmail

logger = logging.getLogger(__name__)

# What a redacted text reads, wherever one is shown (the timeline, the evidence pack, the admin).
REDACTED = "[Redacted after the retention period]"

# Outbox rows still to be sent are never redacted: the sender would send the redacted text.
PENDING_STATUSES = (OutboundEmail.Status.QUEUED, OutboundEmail.Status.SENDING)


def _ids(queryset: QuerySet[Any], limit: int) -> list[int]:
    return list(queryset.filter(redacted_at__isnull=True).order_by("pk").values_list("pk", flat=True)[:limit])


def outbound_emails_redact(*, emails: QuerySet[OutboundEmail], now: datetime, limit: int) -> int:
    """Redact up to `limit` outbox rows of `emails` (rows still queued or sending are left for a
    later run): recipients, subject, bodies, template context and the last error go; the purpose,
    status, Message-ID, thread headers and times stay."""
    ids = _ids(emails.exclude(status__in=PENDING_STATUSES), limit)
    if not ids:
        return 0
    return (
        OutboundEmail.objects.filter(pk__in=ids, redacted_at__isnull=True)
        .exclude(status__in=PENDING_STATUSES)
        .update(
            to=[],
            cc=[],
            subject=REDACTED,
            body_text=REDACTED,
            body_html="",
            template="",
            context={},
            last_error="",
            redacted_at=now,
        )
    )


def inbound_emails_redact(*, emails: QuerySet[InboundEmail], now: datetime, limit: int) -> int:
    """Redact up to `limit` inbound emails of `emails`: addresses, names, subject, headers, bodies
    and notes go; each attachment's file is deleted (after commit, so a rollback keeps it) and its
    name redacted, its size and content type kept."""
    ids = _ids(emails, limit)
    if not ids:
        return 0
    with transaction.atomic():
        claimed = list(
            InboundEmail.objects.select_for_update()
            .filter(pk__in=ids, redacted_at__isnull=True)
            .values_list("pk", flat=True)
        )
        redacted = InboundEmail.objects.filter(pk__in=claimed).update(
            from_email="",
            from_name="",
            to=[],
            cc=[],
            recipients=[],
            subject=REDACTED,
            headers="",
            body_text=REDACTED,
            body_html="",
            notes="",
            redacted_at=now,
        )
        attachments = list(InboundAttachment.objects.filter(email_id__in=claimed).exclude(file=""))
        names = [str(attachment.file.name) for attachment in attachments]
        storage = InboundAttachment._meta.get_field("file").storage  # type: ignore[attr-defined]
        InboundAttachment.objects.filter(email_id__in=claimed).update(filename=REDACTED, file="")
        transaction.on_commit(lambda: _delete_files(storage, names))
    return redacted


def _delete_files(storage: object, names: list[str]) -> None:
    for name in names:
        try:
            storage.delete(name)  # type: ignore[attr-defined]
        except OSError:
            # The row no longer names it; a file left behind is logged by id-free path only.
            logger.warning("retention: an attachment file could not be deleted")


def inbound_posts_redact(*, posts: QuerySet[InboundPost], now: datetime, limit: int) -> int:
    """Empty up to `limit` inbound posts of `posts`: the provider's payload, its headers and the
    reading error go; the row (its provider, status and times) stays as the trace."""
    ids = _ids(posts, limit)
    if not ids:
        return 0
    return InboundPost.objects.filter(pk__in=ids, redacted_at__isnull=True).update(
        body=b"", headers={}, error="", redacted_at=now
    )
