"""Reading an inbound email (an anymail AnymailInboundMessage) defensively: hostile mail (control
characters in a header, a huge or deeply nested body, an unknown charset) never stops it being
stored.

`parse_inbound_message` reads addresses, Message-ID and thread headers, the text body, the HTML
body sanitised with nh3, attachments up to settings.INBOUND_MAX_ATTACHMENT_BYTES (larger ones are
listed with the reason, not stored), whether it is an auto-reply or part of a mail loop, and the
hash of its content that tells two messages with one Message-ID apart (`content_hash`).
"""

from __future__ import annotations

import hashlib
import html as html_lib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import getaddresses, parseaddr
from pathlib import PurePath
from typing import Any

import nh3
from django.conf import settings
from django.utils.text import get_valid_filename

logger = logging.getLogger(__name__)

MESSAGE_ID = re.compile(r"<[^<>\s]+>")
# Bodies beyond this are cut (with a note): a mail body is a letter, not a data dump.
MAX_BODY_CHARS = 1_000_000
MAX_HEADERS_CHARS = 64_000
AUTOMATIC_PRECEDENCE = {"bulk", "junk", "auto_reply", "list"}
MAIL_SERVER_SENDERS = {"mailer-daemon", "postmaster"}
# No <img>: remote images are trackers; everything else is nh3's safe default (no script, no style,
# no event handlers, no javascript: links).
SAFE_HTML_TAGS = set(nh3.ALLOWED_TAGS) - {"img", "map", "area"}


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
    content_hash: str
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
    spf: str = ""
    dkim: str = ""
    dmarc: str = ""
    attachments: list[ParsedAttachment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _safe(getter: Any, default: Any) -> Any:
    """A header the sender mangled must not lose the whole message: fall back and go on."""
    try:
        value = getter()
    except Exception as error:  # the email package raises many kinds of error on hostile headers
        # The error's kind only: its text may quote the header (an address, a name).
        logger.info("inbound mail: unreadable header part (%s)", type(error).__name__)
        return default
    return default if value is None else value


def storable(text: str) -> str:
    """Text PostgreSQL can store: no NUL, and no lone surrogate (the email package decodes a
    header's stray 8-bit bytes as surrogates; each becomes '?')."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _header(message: Any, name: str) -> str:
    return storable(str(_safe(lambda: message.get(name), ""))).strip()


def _addresses(message: Any, *names: str) -> list[str]:
    """Lower-cased addr-specs from these address headers, in order, without repeats."""
    found: list[str] = []
    for name in names:
        values = _safe(lambda name=name: message.get_all(name), [])
        for _, address in getaddresses([storable(str(value)) for value in values]):
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


def is_inbound_address(address: str) -> bool:
    """One of the site's own inbound addresses: INBOUND_LOCAL_PART@INBOUND_DOMAIN, or it with any
    +tag (an issue's tracking address)."""
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
    if from_email and (from_email in own_addresses() or is_inbound_address(from_email)):
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
    raw_name = storable(str(_safe(lambda: part.get_filename(), "") or ""))
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
    except Exception as error:
        # Not the file name, nor the traceback (it may quote the part): the sender's words stay out of logs.
        logger.warning("inbound mail: an attachment could not be decoded (%s)", type(error).__name__)
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


def content_hash(
    *, from_email: str, to: list[str], cc: list[str], subject: str, body_text: str, attachment_names: list[str]
) -> str:
    """What makes two emails with one Message-ID the same message: sender, addressees, subject,
    text and attachments' names (not the envelope, which differs for each recipient and provider,
    nor the HTML, which providers pass on differently). Read from the stored row's own fields, so
    rows stored before it existed get theirs too."""
    text = "\n".join(line.rstrip() for line in body_text.strip().splitlines())
    seen = [from_email.lower(), sorted(to), sorted(cc), " ".join(subject.split()), text, sorted(attachment_names)]
    return hashlib.sha256(json.dumps(seen, ensure_ascii=False).encode("utf-8", "replace")).hexdigest()


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


# Sender authentication (SPF, DKIM, DMARC) as the provider reported it ------------------------------

AUTH_METHODS = ("spf", "dkim", "dmarc")
# Amazon SES's receipt verdicts, in the words of RFC 8601 (Authentication-Results).
SES_VERDICTS = {"PASS": "pass", "FAIL": "fail", "GRAY": "none", "PROCESSING_FAILED": "temperror"}
AUTH_RESULT = re.compile(r"(?<![\w.-])(spf|dkim|dmarc)\s*=\s*([a-z]+)", re.IGNORECASE)
VERDICT_WORD = re.compile(r"[a-z]+")


def _verdict(word: object) -> str:
    match = VERDICT_WORD.match(str(word or "").strip().lower())
    return match.group(0)[:20] if match else ""


def _first_header(message: Any, name: str) -> str:
    """The topmost header of this name: the one the provider's own server added last."""
    values = _safe(lambda: message.get_all(name), []) or []
    return str(values[0]) if values else ""


def authentication_verdicts(message: Any, esp_event: Any = None) -> dict[str, str]:
    """SPF, DKIM and DMARC verdicts ("pass", "fail", "softfail", "none"...; "" when not reported),
    from what the provider says, best source first:

    1. Amazon SES: the receipt's spfVerdict, dkimVerdict and dmarcVerdict (in the SNS payload);
    2. the topmost Received-SPF header (Postmark's inbound server adds it; SES too), for SPF;
    3. the topmost Authentication-Results header (RFC 8601), for what is still missing.

    Only the topmost headers count: lower ones were there before the mail reached the provider,
    so a sender could have written them. A forged "pass" gains nothing: "not reported" counts the
    same (`authentication_failure`)."""
    found = dict.fromkeys(AUTH_METHODS, "")
    receipt = esp_event.get("receipt") if isinstance(esp_event, dict) else None
    if isinstance(receipt, dict):
        for method in AUTH_METHODS:
            verdict = receipt.get(f"{method}Verdict")
            status = verdict.get("status") if isinstance(verdict, dict) else None
            if isinstance(status, str):
                found[method] = SES_VERDICTS.get(status.upper(), _verdict(status))
    if not found["spf"]:
        found["spf"] = _verdict(_first_header(message, "Received-SPF"))
    results: dict[str, list[str]] = {}
    for method, word in AUTH_RESULT.findall(_first_header(message, "Authentication-Results")):
        results.setdefault(method.lower(), []).append(word.lower())
    for method, words in results.items():
        if not found[method]:
            # Several DKIM signatures: one that passes is enough.
            found[method] = "pass" if "pass" in words else _verdict(words[0])
    return found


SPF_FAILURES = {"fail", "softfail"}


def authentication_failure(*, spf: str, dkim: str, dmarc: str) -> str:
    """Why the provider's sender checks say this email may not be from its From address; "" when
    they do not say so. The one rule (an email that fails stops no clock and is shown as such):

    - DMARC, when reported, decides: "fail" fails, "pass" passes (SPF or DKIM aligned with From);
    - else SPF "fail" or "softfail" fails, and so does DKIM "fail" unless SPF passed.
    Anything else (none, neutral, temperror, not reported) is not a failure."""
    if dmarc == "fail":
        failed = [f"SPF {spf}"] if spf in SPF_FAILURES else []
        return ", ".join([*failed, "DMARC fail"])
    if dmarc == "pass":
        return ""
    failed = []
    if spf in SPF_FAILURES:
        failed.append(f"SPF {spf}")
    if dkim == "fail" and spf != "pass":
        failed.append("DKIM fail")
    return ", ".join(failed)


def parse_inbound_message(
    message: Any,
    *,
    esp_name: str = "",
    esp_event_id: str = "",
    envelope_recipients: list[str] | None = None,
    esp_event: Any = None,
) -> ParsedEmail:
    """Everything we keep of an anymail AnymailInboundMessage, read defensively (hostile mail).
    `envelope_recipients`: the addresses the provider says it delivered it to, beyond the one
    anymail records (Amazon SES lists every one its receipt rule matched); `esp_event`: the
    provider's own payload for it (SES's receipt verdicts)."""
    notes: list[str] = []
    from_name, from_email = parseaddr(_header(message, "From"))
    from_email = from_email.strip().lower()
    to = _addresses(message, "To")
    cc = _addresses(message, "Cc")
    recipients = _addresses(message, "To", "Cc", "Bcc", "Delivered-To", "X-Original-To", "Envelope-To")
    for envelope_recipient in [getattr(message, "envelope_recipient", None), *(envelope_recipients or [])]:
        address = storable(str(envelope_recipient or "")).strip().lower()
        if "@" in address and address not in recipients:
            recipients.append(address)
    envelope_sender = getattr(message, "envelope_sender", None)

    text = _safe(lambda: message.text, "") or ""
    raw_html = storable(_safe(lambda: message.html, "") or "")
    body_html = sanitise_html(_clip(raw_html, MAX_BODY_CHARS * 2, notes, "HTML body")) if raw_html else ""
    if not text.strip() and body_html:
        text = html_to_text(body_html)
    text = _clip(storable(text), MAX_BODY_CHARS, notes, "text")
    body_html = _clip(storable(body_html), MAX_BODY_CHARS, notes, "sanitised HTML body")

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
    subject = " ".join(_header(message, "Subject").split())[:998]
    return ParsedEmail(
        message_id=message_id[:998],
        content_hash=content_hash(
            from_email=from_email[:254],
            to=to,
            cc=cc,
            subject=subject,
            body_text=text,
            attachment_names=[attachment.filename for attachment in attachments],
        ),
        in_reply_to=_message_ids(_header(message, "In-Reply-To")),
        references=_message_ids(_header(message, "References")),
        from_email=from_email[:254],
        from_name=from_name.strip()[:200],
        to=to,
        cc=cc,
        recipients=recipients,
        subject=subject,
        sent_at=_safe(lambda: message.date, None),
        headers=_clip(storable(headers), MAX_HEADERS_CHARS, notes, "header block"),
        body_text=text,
        body_html=body_html,
        automatic_reason=automatic_reason(message, from_email=from_email, envelope_sender=envelope_sender),
        spam_detected=spam if isinstance(spam, bool) else None,
        **_safe(lambda: authentication_verdicts(message, esp_event), dict.fromkeys(AUTH_METHODS, "")),
        attachments=attachments,
        notes=notes,
    )
