"""Inbound mail, stored first (DESIGN.md, "Inbound mail, stored first").

1. `inbound_post_store`: the inbound webhook, once the provider's secret is right, stores what it
   posted (body, content type, its own headers) in one INSERT, before anything else can fail; then
   `inbound_post_enqueue_read` hands the reading to the Celery worker (the task
   `read_inbound_post`, enqueued by name: `READ_TASK`), and the webhook answers 200. That is all
   the request does (settings.INBOUND_READ_IN_REQUEST=True reads it in the request instead).
2. `inbound_post_read` (the task) and `inbound_post_process` read the post with the provider's
   anymail parser (`reader`), once: the read claims the post first (`reading_since`, a conditional
   UPDATE), so a task delivered twice, the sweep and the admin never read it at once, and a post
   read or failed is left alone. A post that cannot be read stays a row with the reason (status
   "failed", for CPE IT to see); each email in it is parsed and sanitised
   (`parsing.parse_inbound_message`) and stored once (`inbound_email_store`), then handed over to
   the apps above (`inbound_email_hand_over`: the `inbound_email_received` signal; an error there
   is logged and noted on the email, which stays stored).
3. `inbound_posts_process_stale` (beat) reads posts whose task was lost (the broker down when the
   webhook enqueued it, Redis emptied) or whose reader died, and hands over emails a crash left
   stored but not handed over.

Deduplication never drops a message that would land somewhere else: an email is one row per
Message-ID *and content* (a different message reusing a Message-ID is kept), and the same message
posted again (a retried webhook, a second provider, another of its recipients) adds its new
recipients to the row and is handed over again with them (`new_recipients`), so that mail to two
issues' addresses lands on both.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from smartcard_route.celery import app
from smartcard_route.mail.models import InboundAttachment, InboundEmail, InboundPost
from smartcard_route.mail.parsing import ParsedEmail, parse_inbound_message
from smartcard_route.mail.signals import inbound_email_received

logger = logging.getLogger(__name__)

# Request headers kept with a post: the provider's own (Amazon SNS's x-amz-sns-*, for instance),
# never credentials or cookies.
KEPT_HEADERS_NOT = {"HTTP_AUTHORIZATION", "HTTP_COOKIE", "HTTP_PROXY_AUTHORIZATION"}

# The worker's read of one stored post, enqueued by name: the tasks module imports this one.
READ_TASK = "smartcard_route.mail.tasks.read_inbound_post"


class Unreadable(Exception):
    """The provider's payload is malformed: there is no email in it to keep."""


# A provider's reader: the stored request in, (event id, AnymailInboundMessage, envelope
# recipients, the provider's own event payload) for each email in it out; raises Unreadable on a
# malformed payload.
Reader = Callable[[HttpRequest], list[tuple[str, Any, list[str], Any]]]


class PostOutcome(enum.Enum):
    READ = "read"
    UNREADABLE = "unreadable"  # malformed: kept "failed" with the reason, for CPE IT
    FAILED = "failed"  # our own error while storing: kept for CPE IT and the admin's "read again"
    SKIPPED = "skipped"  # read or failed already, gone, or another read holds it: nothing done


@dataclass
class PostResult:
    outcome: PostOutcome
    emails: list[InboundEmail] = field(default_factory=list)
    error: str = ""


@dataclass(frozen=True)
class StoredEmail:
    email: InboundEmail
    created: bool
    new_recipients: list[str]


def inbound_post_store(*, esp: str, request: HttpRequest) -> InboundPost:
    """One INSERT: what the provider posted, as it came. Call it outside any transaction (as the
    webhook does), so the row is committed before anything else runs."""
    headers = {
        _storable(name): _storable(str(value))
        for name, value in request.META.items()
        if name.startswith("HTTP_") and name not in KEPT_HEADERS_NOT
    }
    return InboundPost.objects.create(
        esp=esp[:40],
        content_type=_storable(str(request.META.get("CONTENT_TYPE", "")))[:200],
        headers=headers,
        body=request.body,
        received_at=timezone.now(),
    )


def inbound_post_enqueue_read(*, post: InboundPost) -> bool:
    """Hand the reading of a stored post to the worker (`READ_TASK`). Call it once the post is
    committed (the webhook stores it outside any transaction), so the worker finds it.

    False when the broker cannot take the task (Redis down, or any error publishing it): the post
    is stored, so nothing is lost; it stays "received" and the beat sweep reads it after
    INBOUND_STALE_AFTER_MINUTES (`inbound_posts_process_stale`)."""
    try:
        app.send_task(READ_TASK, args=(post.pk,))
    except Exception as error:
        # The error's text may carry the broker's URL and password: its kind only.
        logger.warning(
            "inbound post %s stored but its read not enqueued (%s); the stale-post sweep will read it",
            post.pk,
            type(error).__name__,
        )
        return False
    return True


def _storable(text: str) -> str:
    """Text PostgreSQL can store (no NUL, no lone surrogate): the header of a post must never stop
    it being stored. The body is stored as bytes, untouched."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def stored_request(post: InboundPost) -> HttpRequest:
    """The post as a request again, for the provider's parser (reading a post later than it came)."""
    request = HttpRequest()
    request.method = "POST"
    request.META = {**post.headers, "CONTENT_TYPE": post.content_type, "CONTENT_LENGTH": str(len(post.body))}
    request._body = bytes(post.body)  # type: ignore[attr-defined]
    return request


def inbound_post_read(*, post_id: int, readers: dict[str, Reader]) -> PostOutcome:
    """The worker's read of one stored post (the task `read_inbound_post`, which the webhook
    enqueued). A post that is gone, read or failed already is left alone (SKIPPED), without
    loading its body; so is one another read holds (`inbound_post_process` claims it). A task
    delivered twice therefore reads the post, and hands its emails over, once."""
    post = InboundPost.objects.filter(pk=post_id, status=InboundPost.Status.RECEIVED).first()
    if post is None:
        return PostOutcome.SKIPPED
    reader = readers.get(post.esp)
    if reader is None:
        logger.error("inbound post %s: no reader for %r", post.pk, post.esp)
        return PostOutcome.SKIPPED
    return inbound_post_process(post=post, reader=reader).outcome


def inbound_post_process(
    *, post: InboundPost, reader: Reader, request: HttpRequest | None = None, again: bool = False
) -> PostResult:
    """Read a stored post and store each email in it; hand each over to the apps above.

    1. Claim it (`_post_claim`): only a post still "received" (with `again`, the admin's "read
       again", also one that failed) that no other read holds. Otherwise nothing is done (SKIPPED).
    2. Read it with the provider's parser (the webhook, reading in the request, passes its own
       request; a later read rebuilds it from the row). Malformed: the post is "failed" with the
       reason (UNREADABLE).
    3. Store each email once (`inbound_email_store`). Any other error (ours, or the provider's
       parser failing to fetch what it needs) leaves the post "failed" with the reason (FAILED),
       to be read again once fixed.
    4. Mark the post read (and the claim given up), then hand over each email that is new (or was
       stored by an earlier read that failed), and each known one with the recipients it was not
       known to have.
    """
    if not _post_claim(post, again=again):
        return PostResult(PostOutcome.SKIPPED)
    stored: list[StoredEmail] = []
    try:
        try:
            messages = reader(request if request is not None else stored_request(post))
        except Unreadable as error:
            reason = f"The provider's post could not be read: {error}"[:2000]
            _post_failed(post, reason)
            return PostResult(PostOutcome.UNREADABLE, error=reason)
        for event_id, message, envelope_recipients, esp_event in messages:
            stored.append(
                inbound_email_store(
                    message=message,
                    esp_name=post.esp,
                    esp_event_id=event_id,
                    envelope_recipients=envelope_recipients,
                    post=post,
                    esp_event=esp_event,
                )
            )
    except Exception as error:
        logger.exception("inbound post %s could not be read or stored", post.pk)
        reason = f"Could not be read ({type(error).__name__}: {str(error)[:300]}); it can be read again."
        _post_failed(post, reason)
        return PostResult(PostOutcome.FAILED, [item.email for item in stored], reason)
    InboundPost.objects.filter(pk=post.pk).update(
        status=InboundPost.Status.READ, error="", read_at=timezone.now(), reading_since=None
    )
    for item in stored:
        if item.created or item.email.handed_over_at is None:  # new, or stored by a read that failed
            inbound_email_hand_over(email=item.email, created=True, new_recipients=list(item.email.recipients))
        elif item.new_recipients:
            inbound_email_hand_over(email=item.email, created=False, new_recipients=item.new_recipients)
    return PostResult(PostOutcome.READ, [item.email for item in stored])


def _post_claim(post: InboundPost, *, again: bool) -> bool:
    """Claim a post for one read: a conditional UPDATE of its `reading_since`, which only one of
    two readers at once can make (the other's UPDATE, once the first commits, matches no row).
    A claim older than INBOUND_STALE_AFTER_MINUTES is a reader that died: it can be taken over."""
    now = timezone.now()
    statuses = [InboundPost.Status.RECEIVED, InboundPost.Status.FAILED] if again else [InboundPost.Status.RECEIVED]
    free = Q(reading_since__isnull=True) | Q(reading_since__lt=now - _stale_after())
    return InboundPost.objects.filter(free, pk=post.pk, status__in=statuses).update(reading_since=now) == 1


def _stale_after() -> timedelta:
    return timedelta(minutes=float(settings.INBOUND_STALE_AFTER_MINUTES))


def _post_failed(post: InboundPost, reason: str) -> None:
    # The reason may quote the payload (an address, a header): it is on the row, not in the log.
    logger.warning("inbound post %s (%s) not read; the reason is on the post", post.pk, post.esp)
    InboundPost.objects.filter(pk=post.pk).update(status=InboundPost.Status.FAILED, error=reason, reading_since=None)


def inbound_email_store(
    *,
    message: Any,
    esp_name: str,
    esp_event_id: str = "",
    envelope_recipients: list[str] | None = None,
    post: InboundPost | None = None,
    esp_event: Any = None,
) -> StoredEmail:
    """Parse one email and store it once per Message-ID and content.

    A message stored before (the same Message-ID and content) is the same row: recipients it was
    not known to have are added (`new_recipients`), nothing else changes. Each email is stored in
    a transaction of its own, with its attachments.
    """
    parsed = parse_inbound_message(
        message,
        esp_name=esp_name,
        esp_event_id=esp_event_id,
        envelope_recipients=envelope_recipients,
        esp_event=esp_event,
    )
    existing = InboundEmail.objects.filter(message_id=parsed.message_id, content_hash=parsed.content_hash).first()
    if existing is None:
        try:
            with transaction.atomic():
                email = _store(parsed, esp_name=esp_name, esp_event_id=esp_event_id, post=post)
        except IntegrityError:
            # The same message, posted twice at once: the other request stored it.
            existing = InboundEmail.objects.get(message_id=parsed.message_id, content_hash=parsed.content_hash)
        else:
            logger.info("inbound mail %s stored (%s attachments)", email.pk, len(parsed.attachments))
            return StoredEmail(email, True, list(email.recipients))
    return StoredEmail(existing, False, _add_recipients(existing, parsed.recipients))


def _add_recipients(email: InboundEmail, recipients: list[str]) -> list[str]:
    with transaction.atomic():
        locked = InboundEmail.objects.select_for_update().get(pk=email.pk)
        new = [address for address in recipients if address not in locked.recipients]
        if new:
            locked.recipients = [*locked.recipients, *new]
            locked.save(update_fields=["recipients"])
    email.recipients = locked.recipients
    logger.info("inbound mail %s received again (%s new recipients)", email.pk, len(new))
    return new


def _store(parsed: ParsedEmail, *, esp_name: str, esp_event_id: str, post: InboundPost | None) -> InboundEmail:
    email = InboundEmail.objects.create(
        post=post,
        esp_name=esp_name[:40],
        esp_event_id=esp_event_id[:254],
        message_id=parsed.message_id,
        content_hash=parsed.content_hash,
        in_reply_to=" ".join(parsed.in_reply_to),
        references=" ".join(parsed.references),
        from_email=parsed.from_email,
        from_name=parsed.from_name,
        to=parsed.to,
        cc=parsed.cc,
        recipients=parsed.recipients,
        subject=parsed.subject,
        sent_at=parsed.sent_at,
        headers=parsed.headers,
        body_text=parsed.body_text,
        body_html=parsed.body_html,
        automatic_reason=parsed.automatic_reason,
        spam_detected=parsed.spam_detected,
        spf=parsed.spf,
        dkim=parsed.dkim,
        dmarc=parsed.dmarc,
        notes="\n".join(parsed.notes),
    )
    for attachment in parsed.attachments:
        row = InboundAttachment(
            email=email,
            filename=attachment.filename,
            content_type=attachment.content_type,
            size=attachment.size,
            refused_reason=attachment.refused_reason,
        )
        if attachment.content is not None:
            row.file.save(attachment.filename, ContentFile(attachment.content), save=False)
        else:
            # Ids and sizes only: a file name is the sender's words (DESIGN.md, "Personal data").
            logger.warning("inbound mail %s: an attachment of %s bytes refused", email.pk, attachment.size)
        row.save()
    return email


def inbound_email_hand_over(*, email: InboundEmail, created: bool, new_recipients: list[str]) -> None:
    """Tell the apps above (`inbound_email_received`), each receiver on its own: one that fails is
    logged and noted on the email, which stays stored. Then mark it handed over."""
    for receiver, response in inbound_email_received.send_robust(
        sender=InboundEmail, email=email, created=created, new_recipients=new_recipients
    ):
        if isinstance(response, Exception):
            logger.error(
                "inbound mail %s: receiver %s failed",
                email.pk,
                getattr(receiver, "__qualname__", receiver),
                exc_info=(type(response), response, response.__traceback__),
            )
            inbound_email_note(email=email, note=f"Not handed over ({type(response).__name__}); left as it is.")
    InboundEmail.objects.filter(pk=email.pk, handed_over_at__isnull=True).update(handed_over_at=timezone.now())


def inbound_email_note(*, email: InboundEmail, note: str) -> None:
    """Add a line to what happened while receiving the email (shown with it)."""
    with transaction.atomic():
        locked = InboundEmail.objects.select_for_update().only("notes").get(pk=email.pk)
        locked.notes = f"{locked.notes}\n{note}".strip()
        locked.save(update_fields=["notes"])
    email.notes = locked.notes


def inbound_posts_process_stale(*, readers: dict[str, Reader], now: datetime | None = None) -> list[int]:
    """Posts left unread for longer than INBOUND_STALE_AFTER_MINUTES (their task lost: the broker
    was down when the webhook enqueued it, or Redis lost its queue; or their reader died) are read,
    and emails stored but not handed over are handed over. A post another read holds (claimed
    less than INBOUND_STALE_AFTER_MINUTES ago) is left to it; one whose task is only late is read
    here, and the task then finds it read. Posts that failed stay failed: they need a fix first
    (the admin's "read again"). Returns the ids of the posts read."""
    now = now or timezone.now()
    before = now - _stale_after()
    unclaimed = Q(reading_since__isnull=True) | Q(reading_since__lt=before)
    posts = list(
        InboundPost.objects.filter(unclaimed, status=InboundPost.Status.RECEIVED, received_at__lt=before).order_by(
            "received_at"
        )[:100]
    )
    read = []
    for post in posts:
        reader = readers.get(post.esp)
        if reader is None:
            logger.error("inbound post %s: no reader for %r", post.pk, post.esp)
            continue
        if inbound_post_process(post=post, reader=reader).outcome is not PostOutcome.SKIPPED:
            read.append(post.pk)
    # An email whose post a read holds now is that read's to hand over.
    stranded = (
        InboundEmail.objects.filter(handed_over_at__isnull=True, received_at__lt=before)
        .exclude(post__reading_since__gte=before)
        .order_by("received_at")[:100]
    )
    for email in stranded:
        inbound_email_hand_over(email=email, created=True, new_recipients=list(email.recipients))
    return read
