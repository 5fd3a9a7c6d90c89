"""Inbound mail: every email that reaches an issue's tracking address (DESIGN.md, "Email").

An ESP posts each received email to django-anymail's inbound webhook (issues.webhooks), which sends
the `anymail.signals.inbound` signal; `on_anymail_inbound` hands the message to
`inbound_email_receive`, which:

1. parses it once (`parse_inbound_message`): addresses, Message-ID and thread headers, the text
   body, the HTML body sanitised with nh3, attachments up to settings.INBOUND_MAX_ATTACHMENT_BYTES
   (larger ones are listed with the reason and logged, not stored), and whether it is an
   auto-reply or part of a mail loop;
2. stores it once per Message-ID (a retried webhook or a second copy is a no-op);
3. finds its issue (`inbound_email_match`): the plus-token of the tracking address in any
   recipient; else In-Reply-To/References against the Message-IDs of our outbound mail and of
   earlier inbound mail; else an issue reference in the subject. A match by headers or subject
   also needs a sender known to that issue (its people, its RA, its LPC or CPE IT), so a forged
   In-Reply-To from a stranger never lands on another pharmacy's issue;
4. records it on the issue (`inbound_email_record`): an EMAIL_IN event, a note to the reporter
   (outbox, sent after commit); the RA's reply stops the RA window (issues.services); the
   pharmacy's own email to the RA, copied to the tracking address, is recorded as the request
   sent (contact_ra with send_via="own_mail"). Auto-replies and loops are recorded but change
   nothing else.

Mail that matches no issue stays "unmatched" for CPE IT, who attach it by reference
(`inbound_email_attach`); nothing received is ever dropped.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import getaddresses, parseaddr
from pathlib import PurePath
from typing import Any

import nh3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.text import get_valid_filename

from directory.models import User
from issues import emails
from issues.exceptions import IssueActionForbidden, IssueServiceError, TransitionNotAllowedNow
from issues.models import (
    EventKind,
    InboundAttachment,
    InboundEmail,
    Issue,
    IssueEvent,
    IssueOutboundEmail,
    MailPurpose,
    State,
    format_reference,
    parse_reference,
)

logger = logging.getLogger(__name__)

Sender = InboundEmail.Sender
MatchedBy = InboundEmail.MatchedBy

# Issue references anywhere in a subject: "[SC-000123]", "Re: SC-123 ...".
REFERENCE_IN_SUBJECT = re.compile(r"\bSC-(\d{1,12})\b", re.IGNORECASE)
MESSAGE_ID = re.compile(r"<[^<>\s]+>")
# Bodies beyond this are cut (with a note): a mail body is a letter, not a data dump.
MAX_BODY_CHARS = 1_000_000
MAX_HEADERS_CHARS = 64_000
AUTOMATIC_PRECEDENCE = {"bulk", "junk", "auto_reply", "list"}
MAIL_SERVER_SENDERS = {"mailer-daemon", "postmaster"}
# No <img>: remote images are trackers; everything else is nh3's safe default (no script, no style,
# no event handlers, no javascript: links).
SAFE_HTML_TAGS = set(nh3.ALLOWED_TAGS) - {"img", "map", "area"}


# Parsing --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedAttachment:
    filename: str
    content_type: str
    size: int
    content: bytes | None  # None when refused
    refused_reason: str = ""


@dataclass
class ParsedEmail:
    message_id: str
    in_reply_to: list[str]
    references: list[str]
    from_email: str
    from_name: str
    to: list[str]
    cc: list[str]
    recipients: list[str]
    subject: str
    sent_at: datetime | None
    headers: str
    body_text: str
    body_html: str
    automatic_reason: str
    spam_detected: bool | None
    attachments: list[ParsedAttachment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _safe(getter: Any, default: Any) -> Any:
    """A header the sender mangled must not lose the whole message: fall back and go on."""
    try:
        value = getter()
    except Exception:  # the email package raises many kinds of error on hostile headers
        logger.info("inbound mail: unreadable header part", exc_info=True)
        return default
    return default if value is None else value


def _header(message: Any, name: str) -> str:
    return str(_safe(lambda: message.get(name), "")).strip()


def _addresses(message: Any, *names: str) -> list[str]:
    """Lower-cased addr-specs from these address headers, in order, without repeats."""
    found: list[str] = []
    for name in names:
        values = _safe(lambda name=name: message.get_all(name), [])
        for _, address in getaddresses([str(value) for value in values]):
            address = address.strip().lower()
            if "@" in address and address not in found:
                found.append(address)
    return found


def _message_ids(value: str) -> list[str]:
    return MESSAGE_ID.findall(value or "")


def _clip(text: str, limit: int, notes: list[str], what: str) -> str:
    if len(text) <= limit:
        return text
    notes.append(f"The {what} was {len(text):,} characters long; only the first {limit:,} are kept.")
    return text[:limit]


def html_to_text(html: str) -> str:
    """A readable plain-text version of an HTML body (for mail that has no text part)."""
    text = nh3.clean(re.sub(r"(?i)<br\s*/?>|</p>|</div>|</li>|</tr>|</h[1-6]>", "\n", html), tags=set())
    lines = [line.strip() for line in html_lib.unescape(text).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def sanitise_html(html: str) -> str:
    return nh3.clean(html, tags=SAFE_HTML_TAGS)


def own_addresses() -> set[str]:
    """Addresses we send from: mail from them coming back in is a loop."""
    own = {parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower(), parseaddr(settings.SERVER_EMAIL)[1].lower()}
    own.add(f"{settings.INBOUND_LOCAL_PART}@{settings.INBOUND_DOMAIN}".lower())
    return {address for address in own if address}


def is_tracking_address(address: str) -> bool:
    local, _, domain = address.lower().rpartition("@")
    base = local.partition("+")[0]
    return domain == settings.INBOUND_DOMAIN.lower() and base == settings.INBOUND_LOCAL_PART.lower()


def automatic_reason(message: Any, *, from_email: str, envelope_sender: str | None) -> str:
    """Why this email is an auto-reply, a bounce or part of a mail loop; "" when a person wrote it.

    Recognised (RFC 3834 and common practice): Auto-Submitted other than "no"; X-Autoreply /
    X-Autorespond; Precedence bulk, junk, list or auto_reply; an X-Loop header; mail from our own
    sending or tracking address; an empty envelope sender or a delivery report (bounces); mail from
    mailer-daemon or postmaster.
    """
    auto_submitted = _header(message, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted[:80]}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response"):
        if _safe(lambda name=name: message.get(name), None) is not None:
            return f"{name} header"
    precedence = _header(message, "Precedence").lower()
    if precedence in AUTOMATIC_PRECEDENCE:
        return f"Precedence: {precedence}"
    if _safe(lambda: message.get("X-Loop"), None) is not None:
        return "X-Loop header (a mail loop)"
    if from_email and (from_email in own_addresses() or is_tracking_address(from_email)):
        return "sent from Smartcard Route's own address (a mail loop)"
    if envelope_sender is not None and envelope_sender.strip() in ("", "<>"):
        return "empty return path (a delivery status notification)"
    if _safe(lambda: message.get_content_type(), "") == "multipart/report":
        return "a delivery report"
    if from_email.partition("@")[0] in MAIL_SERVER_SENDERS:
        return "sent by a mail server"
    return ""


def _attachment_parts(message: Any) -> list[Any]:
    """Every part that is not the message's own body: attachments and inline files (images...)."""
    parts = list(_safe(lambda: message.attachments, []))
    for part in _safe(lambda: message.inlines, []):
        if part not in parts and (part.get_content_maintype() not in ("text", "multipart") or part.get_filename()):
            parts.append(part)
    return parts


def _estimated_size(part: Any) -> int:
    """The decoded size, estimated without decoding (a 50 MB attachment is not decoded to refuse it)."""
    payload = part.get_payload(decode=False)
    if not isinstance(payload, str):
        return len(part.as_bytes())
    if str(part.get("Content-Transfer-Encoding", "")).strip().lower() == "base64":
        encoded = len(payload) - payload.count("\n") - payload.count("\r") - payload.count(" ")
        return encoded * 3 // 4
    return len(payload)


def _parse_attachment(part: Any, index: int, limit: int) -> ParsedAttachment:
    raw_name = str(_safe(lambda: part.get_filename(), "") or "")
    filename = get_valid_filename(PurePath(raw_name.replace("\\", "/")).name)[:150] if raw_name else ""
    filename = filename or f"attachment-{index}"
    content_type = str(_safe(lambda: part.get_content_type(), "application/octet-stream"))[:150]
    size = _estimated_size(part)
    if size > limit:
        return ParsedAttachment(
            filename,
            content_type,
            size,
            None,
            f"Not stored: about {size / 1_048_576:.1f} MB, over the {limit / 1_048_576:.0f} MB limit for attachments.",
        )
    try:
        content = part.get_content_bytes()
    except Exception:
        logger.warning("inbound mail: attachment %r could not be decoded", filename, exc_info=True)
        return ParsedAttachment(filename, content_type, size, None, "Not stored: it could not be decoded.")
    if content is None:
        content = b""
    if len(content) > limit:
        return ParsedAttachment(
            filename,
            content_type,
            len(content),
            None,
            f"Not stored: {len(content) / 1_048_576:.1f} MB, over the {limit / 1_048_576:.0f} MB limit "
            "for attachments.",
        )
    return ParsedAttachment(filename, content_type, len(content), content)


def _fallback_message_id(message: Any, *, esp_name: str, esp_event_id: str, text: str) -> str:
    """A stable stand-in for a missing Message-ID, so a retried webhook still dedupes."""
    if esp_event_id:
        seed = f"{esp_name}:{esp_event_id}"
    else:
        seed = "\n".join(
            [
                _header(message, "From"),
                _header(message, "To"),
                _header(message, "Date"),
                _header(message, "Subject"),
                text,
            ]
        )
    digest = hashlib.sha256(seed.encode("utf-8", "replace")).hexdigest()[:40]
    return f"<{digest}@no-message-id.invalid>"


def parse_inbound_message(message: Any, *, esp_name: str = "", esp_event_id: str = "") -> ParsedEmail:
    """Everything we keep of an anymail AnymailInboundMessage, read defensively (hostile mail)."""
    notes: list[str] = []
    from_name, from_email = parseaddr(_header(message, "From"))
    from_email = from_email.strip().lower()
    to = _addresses(message, "To")
    cc = _addresses(message, "Cc")
    recipients = _addresses(message, "To", "Cc", "Bcc", "Delivered-To", "X-Original-To", "Envelope-To")
    envelope_recipient = str(getattr(message, "envelope_recipient", None) or "").strip().lower()
    if "@" in envelope_recipient and envelope_recipient not in recipients:
        recipients.append(envelope_recipient)
    envelope_sender = getattr(message, "envelope_sender", None)

    text = _safe(lambda: message.text, "") or ""
    raw_html = _safe(lambda: message.html, "") or ""
    body_html = sanitise_html(_clip(raw_html, MAX_BODY_CHARS * 2, notes, "HTML body")) if raw_html else ""
    if not text.strip() and body_html:
        text = html_to_text(body_html)
    text = _clip(text.replace("\x00", ""), MAX_BODY_CHARS, notes, "text")
    body_html = _clip(body_html.replace("\x00", ""), MAX_BODY_CHARS, notes, "sanitised HTML body")

    message_ids = _message_ids(_header(message, "Message-ID"))
    message_id = (
        message_ids[0]
        if message_ids
        else _fallback_message_id(message, esp_name=esp_name, esp_event_id=esp_event_id, text=text)
    )
    headers = "\n".join(f"{name}: {value}" for name, value in _safe(lambda: message.items(), []))

    limit = int(settings.INBOUND_MAX_ATTACHMENT_BYTES)
    attachments = [_parse_attachment(part, index, limit) for index, part in enumerate(_attachment_parts(message), 1)]
    for attachment in attachments:
        if attachment.refused_reason:
            notes.append(f"Attachment {attachment.filename}: {attachment.refused_reason}")

    spam = getattr(message, "spam_detected", None)
    return ParsedEmail(
        message_id=message_id[:998],
        in_reply_to=_message_ids(_header(message, "In-Reply-To")),
        references=_message_ids(_header(message, "References")),
        from_email=from_email[:254],
        from_name=from_name.strip()[:200],
        to=to,
        cc=cc,
        recipients=recipients,
        subject=" ".join(_header(message, "Subject").split())[:998],
        sent_at=_safe(lambda: message.date, None),
        headers=_clip(headers.replace("\x00", ""), MAX_HEADERS_CHARS, notes, "header block"),
        body_text=text,
        body_html=body_html,
        automatic_reason=automatic_reason(message, from_email=from_email, envelope_sender=envelope_sender),
        spam_detected=spam if isinstance(spam, bool) else None,
        attachments=attachments,
        notes=notes,
    )


# Receiving ------------------------------------------------------------------------------------


def on_anymail_inbound(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    """Receiver of anymail.signals.inbound (connected in IssuesConfig.ready)."""
    inbound_email_receive(message=event.message, esp_name=esp_name, esp_event_id=str(event.event_id or ""))


def inbound_email_receive(*, message: Any, esp_name: str, esp_event_id: str = "") -> InboundEmail:
    """Store one received email (once per Message-ID) and attach it to its issue when one matches.

    Storing happens in its own transaction before matching, so an error while matching or recording
    leaves the email stored and unmatched (with the error in its notes) rather than lost. A
    Message-ID seen before returns the stored email and changes nothing.
    """
    parsed = parse_inbound_message(message, esp_name=esp_name, esp_event_id=esp_event_id)
    existing = InboundEmail.objects.filter(message_id=parsed.message_id).first()
    if existing is not None:
        logger.info("inbound mail %s already received (email %s): ignored", parsed.message_id, existing.pk)
        return existing
    try:
        with transaction.atomic():
            email = _store(parsed, esp_name=esp_name, esp_event_id=esp_event_id)
    except IntegrityError:
        # The same message, posted twice at once: the other request stored it.
        return InboundEmail.objects.get(message_id=parsed.message_id)
    logger.info(
        "inbound mail %s stored as email %s (from %s, %s attachments)",
        email.message_id,
        email.pk,
        email.from_email,
        len(parsed.attachments),
    )
    try:
        match, reason = inbound_email_match(email=email)
        if match is None:
            _add_note(email, reason)
            logger.info("inbound mail %s unmatched: %s", email.pk, reason)
        else:
            inbound_email_record(email=email, issue=match.issue, matched_by=match.matched_by)
    except Exception as error:
        logger.exception("inbound mail %s stored but could not be attached to an issue", email.pk)
        _add_note(email, f"Could not be attached automatically ({type(error).__name__}); left for CPE IT.")
    email.refresh_from_db()
    return email


def _store(parsed: ParsedEmail, *, esp_name: str, esp_event_id: str) -> InboundEmail:
    email = InboundEmail.objects.create(
        status=InboundEmail.Status.UNMATCHED,
        esp_name=esp_name[:40],
        esp_event_id=esp_event_id[:254],
        message_id=parsed.message_id,
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
            logger.warning(
                "inbound mail %s: attachment %r refused: %s",
                parsed.message_id,
                attachment.filename,
                attachment.refused_reason,
            )
        row.save()
    return email


def _add_note(email: InboundEmail, note: str) -> None:
    email.refresh_from_db(fields=["notes"])
    email.notes = f"{email.notes}\n{note}".strip()
    email.save(update_fields=["notes"])


# Matching -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    issue: Issue
    matched_by: str


def token_from_address(address: str) -> str | None:
    """The tracking token of "<INBOUND_LOCAL_PART>+<token>@<INBOUND_DOMAIN>", else None."""
    local, _, domain = address.strip().lower().rpartition("@")
    base, plus, token = local.partition("+")
    if not plus or not token:
        return None
    if domain != settings.INBOUND_DOMAIN.lower() or base != settings.INBOUND_LOCAL_PART.lower():
        return None
    return token


def _shared_domains() -> set[str]:
    return {domain.strip().lower() for domain in settings.INBOUND_SHARED_MAIL_DOMAINS}


def sender_role(issue: Issue, address: str) -> str:
    """Who the sender is to this issue (InboundEmail.Sender). The RA is recognised by its address, or
    by its mail domain unless that domain is shared by many organisations (nhs.net, gmail.com...)."""
    address = address.strip().lower()
    if "@" not in address:
        return Sender.UNKNOWN
    domain = address.rpartition("@")[2]
    pharmacy = issue.pharmacy
    ra = pharmacy.ra
    if ra is not None and ra.email and address == ra.email.lower():
        return Sender.RA
    if issue.reporter.email.lower() == address:
        return Sender.REPORTER
    if address in {pharmacy.email.lower(), pharmacy.owner.email.lower()} - {""}:
        return Sender.PHARMACY
    user = _user_for(address)
    if user is not None and (
        pharmacy.staff.filter(pk=user.pk).exists() or pharmacy.owner.members.filter(pk=user.pk).exists()
    ):
        return Sender.PHARMACY
    if ra is not None and ra.email_domain and domain == ra.email_domain and domain not in _shared_domains():
        return Sender.RA
    lpc = pharmacy.lpc
    if lpc is not None and (
        (lpc.email and address == lpc.email.lower()) or (user is not None and lpc.officers.filter(pk=user.pk).exists())
    ):
        return Sender.LPC
    if address == settings.CPE_IT_EMAIL.lower() or (user is not None and user.is_cpe_it):
        return Sender.CPE_IT
    return Sender.UNKNOWN


def _user_for(address: str) -> User | None:
    return User.objects.filter(email__iexact=address, is_active=True).first()


def inbound_email_match(*, email: InboundEmail) -> tuple[Match | None, str]:
    """The issue this email belongs to, and how it was found; or None and the reason why not."""
    for address in email.recipients:
        token = token_from_address(address)
        if token is None:
            continue
        issue = Issue.objects.select_related("pharmacy").filter(tracking_token=token).first()
        if issue is not None:
            return Match(issue, MatchedBy.TOKEN), ""
    reasons: list[str] = []

    thread_ids = [*email.in_reply_to.split(), *reversed(email.references.split())]
    if thread_ids:
        candidates: list[int] = []
        for issue_id in [
            *IssueOutboundEmail.objects.filter(email__message_id__in=thread_ids).values_list("issue_id", flat=True),
            *InboundEmail.objects.filter(message_id__in=thread_ids, issue__isnull=False)
            .exclude(pk=email.pk)
            .values_list("issue_id", flat=True),
        ]:
            if issue_id is not None and issue_id not in candidates:
                candidates.append(issue_id)
        for issue in Issue.objects.select_related("pharmacy", "reporter").filter(pk__in=candidates):
            if sender_role(issue, email.from_email) != Sender.UNKNOWN:
                return Match(issue, MatchedBy.THREAD), ""
            reasons.append(
                f"It replies to an email on {issue.reference}, but {email.from_email or 'the sender'} is not "
                "known to that issue."
            )

    for number in dict.fromkeys(int(found) for found in REFERENCE_IN_SUBJECT.findall(email.subject)):
        issue = Issue.objects.select_related("pharmacy", "reporter").filter(pk=number).first()
        if issue is None:
            reasons.append(f"The subject names {format_reference(number)}, which does not exist.")
        elif sender_role(issue, email.from_email) != Sender.UNKNOWN:
            return Match(issue, MatchedBy.REFERENCE), ""
        else:
            reasons.append(
                f"The subject names {issue.reference}, but {email.from_email or 'the sender'} is not known "
                "to that issue."
            )
    if not reasons:
        reasons.append("No tracking address, earlier email or issue reference identifies its issue.")
    return None, " ".join(reasons)


# Recording on an issue ------------------------------------------------------------------------


def inbound_email_record(
    *, email: InboundEmail, issue: Issue, matched_by: str, attached_by: User | None = None
) -> InboundEmail:
    """Attach a stored, unmatched email to an issue, in one transaction.

    1. Lock the issue; claim the email (unmatched -> matched); if someone else attached it first,
       change nothing.
    2. Write the EMAIL_IN event (its data carries the Message-ID for threading).
    3. Unless it is an auto-reply or a loop: the RA's email stops the RA window
       (issues.services.issue_record_ra_response); the pharmacy's own email to the RA, copied to
       the tracking address, is recorded as the request sent (contact_ra, send_via="own_mail",
       as the sending user) when the issue has not reached the RA yet; the reporter is told
       (outbox, after commit) unless they sent it.
    A step that the issue's state refuses is noted on the email; the email stays recorded.
    """
    from issues import services  # issues.services imports issues.emails; keep import order simple

    now = timezone.now()
    with transaction.atomic():
        locked = Issue.objects.select_for_update().select_related("pharmacy", "reporter").get(pk=issue.pk)
        role = sender_role(locked, email.from_email)
        sender_user = _user_for(email.from_email) if role != Sender.RA else None
        automatic = bool(email.automatic_reason)
        event = IssueEvent.objects.create(
            issue=locked,
            kind=EventKind.EMAIL_IN,
            actor=sender_user if role != Sender.UNKNOWN else None,
            text=_event_text(email, role, attached_by),
            data={
                "inbound_email_id": email.pk,
                "message_id": email.message_id,
                "from": email.from_email,
                "from_name": email.from_name,
                "subject": email.subject,
                "sender_role": role,
                "matched_by": matched_by,
                "automatic": email.automatic_reason,
                "attached_by": attached_by.pk if attached_by else None,
            },
            created_at=now,
        )
        claimed = InboundEmail.objects.filter(pk=email.pk, status=InboundEmail.Status.UNMATCHED).update(
            status=InboundEmail.Status.MATCHED,
            issue=locked,
            event=event,
            matched_by=matched_by,
            sender_role=role,
            attached_by=attached_by,
        )
        if claimed != 1:
            raise TransitionNotAllowedNow("This email is already attached to an issue.")
        notes: list[str] = []
        if not automatic:
            if role == Sender.RA:
                services.issue_record_ra_response(issue=locked, actor=None, source="email", now=now)
            elif role in (Sender.PHARMACY, Sender.REPORTER):
                notes += _record_own_mail_request(locked, email, sender_user)
            if role != Sender.REPORTER:
                _notify_reporter(locked, email, event, role)
        else:
            notes.append(f"Recorded as an automatic email ({email.automatic_reason}): the deadline is unchanged.")
        if notes:
            email.refresh_from_db(fields=["notes"])
            email.notes = "\n".join([email.notes, *notes]).strip()
            email.save(update_fields=["notes"])
    logger.info("inbound mail %s recorded on %s (%s, sender %s)", email.pk, locked.reference, matched_by, role)
    email.refresh_from_db()
    return email


def sender_label(role: str) -> str:
    """ "the pharmacy's RA", "CPE IT team"...: the label, to follow "from"."""
    label = str(Sender(role).label)
    return label if label.startswith("CPE") else label[:1].lower() + label[1:]


def _event_text(email: InboundEmail, role: str, attached_by: User | None) -> str:
    who = f"{email.from_name} <{email.from_email}>" if email.from_name else email.from_email or "an unknown sender"
    text = f"Email from {who} ({sender_label(role)}): {email.subject or '(no subject)'}"
    if email.automatic_reason:
        text += " [automatic reply]"
    if attached_by is not None:
        text += f". Attached by {attached_by.full_name}"
    return text


def _record_own_mail_request(issue: Issue, email: InboundEmail, sender_user: User | None) -> list[str]:
    """The pharmacy's own email to the RA, copied to us: the request is sent (starts the RA window)."""
    from issues import services

    ra = issue.pharmacy.ra
    if ra is None or not ra.email or ra.email.lower() not in {*email.to, *email.cc, *email.recipients}:
        return []
    if issue.state not in (State.IN_PHARMACY, State.CIS_SELF_SERVICE):
        return []
    if sender_user is None:
        return ["Sent to the RA from a pharmacy address that is not a user's: record the request on the issue page."]
    question = (email.body_text or email.subject).strip()[: services.MAX_TEXT] or email.subject[: services.MAX_TEXT]
    try:
        with transaction.atomic():
            services.issue_transition(
                user=sender_user, issue=issue, transition="contact_ra", send_via="own_mail", question=question
            )
    except (IssueServiceError, ValidationError) as error:
        message = "; ".join(error.messages) if isinstance(error, ValidationError) else error.message
        logger.info("inbound mail %s: own-mail request not recorded on %s: %s", email.pk, issue.reference, message)
        return [f"Not recorded as the request to the RA: {message}"]
    return ["Recorded as the request sent to the RA from the pharmacy's own mailbox."]


def _notify_reporter(issue: Issue, email: InboundEmail, event: IssueEvent, role: str) -> None:
    reporter = issue.reporter
    if not reporter.is_active or not reporter.email:
        return
    text, html = emails.render_bodies(
        "issue_inbound_email",
        {
            "issue": issue,
            "email": email,
            "sender": sender_label(role),
            "issue_url": emails.issue_url(issue),
            "site_url": settings.SITE_URL,
        },
    )
    emails.queue_outbound_email(
        purpose=MailPurpose.NOTIFICATION,
        issue=issue,
        event=event,
        to=[reporter.email],
        subject=emails.subject_for(issue, f"New email from {sender_label(role)}: {email.subject}"[:250]),
        body_text=text,
        body_html=html,
    )


# CPE IT: the unmatched list -------------------------------------------------------------------


def inbound_email_attach(*, user: User, email: InboundEmail, reference: str) -> InboundEmail:
    """CPE IT attaches an unmatched email to the issue with this reference ("SC-000123" or 123);
    the email is then recorded exactly as if it had matched (events, RA window, notification)."""
    from issues.selectors import issues_visible_to

    if not (user.is_authenticated and user.is_active and user.is_cpe_it):
        raise IssueActionForbidden("Only the CPE IT team can attach unmatched email.")
    text = (reference or "").strip().strip("[]").strip()
    number = int(text) if text.isdigit() else parse_reference(text)
    if number is None:
        raise ValidationError({"reference": ["Enter an issue reference, like SC-000123."]})
    issue = issues_visible_to(user).select_related("pharmacy", "reporter").filter(pk=number).first()
    if issue is None:
        raise ValidationError({"reference": [f"There is no issue {format_reference(number)}."]})
    if email.status != InboundEmail.Status.UNMATCHED:
        raise TransitionNotAllowedNow("This email is already attached to an issue.")
    return inbound_email_record(email=email, issue=issue, matched_by=MatchedBy.MANUAL, attached_by=user)


# Reads (scoped) -------------------------------------------------------------------------------


def inbound_emails_visible_to(user: User | Any) -> QuerySet[InboundEmail]:
    """CPE IT see every inbound email (the unmatched ones are theirs to sort out); others see the
    emails of the issues they may see (issues.selectors.issues_visible_to)."""
    from issues.selectors import issues_visible_to

    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return InboundEmail.objects.none()
    if user.is_cpe_it:
        return InboundEmail.objects.all()
    return InboundEmail.objects.filter(issue__in=issues_visible_to(user))


def unmatched_emails(*, user: User | Any) -> QuerySet[InboundEmail]:
    """The unmatched list, newest first, with attachment counts (CPE IT only; empty for others)."""
    if not getattr(user, "is_cpe_it", False):
        return InboundEmail.objects.none()
    return (
        inbound_emails_visible_to(user)
        .filter(status=InboundEmail.Status.UNMATCHED)
        .annotate(attachment_count=Count("attachments"))
        .order_by("-received_at", "-pk")
    )


def inbound_attachment_visible(*, user: User | Any, pk: int) -> InboundAttachment:
    """An attachment whose email the user may see, else Http404."""
    emails_seen = inbound_emails_visible_to(user)
    attachment = InboundAttachment.objects.select_related("email").filter(pk=pk, email__in=emails_seen).first()
    if attachment is None:
        raise Http404("No such attachment.")
    return attachment
