"""A systemic case's evidence pack (DESIGN.md, "LPC officers and CPE IT"): one .zip holding

- `summary.html`: a readable, self-contained page: the case (title, description, status, the RAs
  and kinds concerned, the highlight to NHS England and the guidance back, its history), then each
  issue with its details and its whole timeline in words;
- `<SC-reference>/out-NNN.eml`: every email sent about the issue, as the message the outbox builds
  for sending (smartcard_route.mail's build_message: the same Message-ID, headers, text and HTML
  parts), dated when it was sent;
- `<SC-reference>/in-NNN.eml`: every email received on the issue. The mail layer does not keep an
  inbound email's raw MIME (InboundPost holds the provider's post, in the provider's own format),
  so each is rebuilt from its stored fields (addresses, subject, date, Message-ID and thread
  headers, the text part, the sanitised HTML part, the stored attachments) and says so in an
  `X-Smartcard-Route-Rebuilt` header; the original header block comes with it as
  `original-headers.txt`.

The pack is written into a spooled temporary file (memory up to SPOOL_IN_MEMORY_BYTES, then disk),
one message at a time, so a large case does not fill memory. Its data comes from
issues.selectors.cases.case_evidence in a constant number of queries.
"""

from __future__ import annotations

import logging
import tempfile
import zipfile
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import IO, Any

from django.http import FileResponse
from django.template.loader import render_to_string
from django.utils import timezone

from issues import presentation
from issues.models import EventKind, Issue, Kind, SystemicCase
from issues.selectors.cases import CaseEvidence
from smartcard_route.mail.models import InboundEmail, OutboundEmail
from smartcard_route.mail.services import build_message

logger = logging.getLogger(__name__)

SPOOL_IN_MEMORY_BYTES = 8 * 1024 * 1024
REBUILT_HEADER = "X-Smartcard-Route-Rebuilt"
REBUILT_NOTE = (
    "Rebuilt by Smartcard Route from the stored email (the raw message is not kept): addresses, subject, "
    "date and thread headers, the text part, the sanitised HTML part and the stored attachments; the "
    "original headers are attached as original-headers.txt."
)


def evidence_pack_filename(case: SystemicCase) -> str:
    return f"{case.reference}-evidence-pack.zip"


def outbound_file(issue: Issue, number: int) -> str:
    return f"{issue.reference}/out-{number:03d}.eml"


def inbound_file(issue: Issue, number: int) -> str:
    return f"{issue.reference}/in-{number:03d}.eml"


def evidence_pack_spooled(evidence: CaseEvidence) -> IO[bytes]:
    """The pack written into a spooled temporary file, rewound, for the response to stream."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115 (the response closes it)
    write_evidence_pack(evidence, spool)
    spool.seek(0)
    return spool  # type: ignore[return-value]


def evidence_pack_response(evidence: CaseEvidence) -> FileResponse:
    """The pack as a download (the page's and the API's): spooled, never cached (it holds personal data)."""
    response = FileResponse(
        evidence_pack_spooled(evidence),
        as_attachment=True,
        filename=evidence_pack_filename(evidence.case),
        content_type="application/zip",
    )
    response["Cache-Control"] = "no-store"
    return response


def write_evidence_pack(evidence: CaseEvidence, out: IO[bytes]) -> None:
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as pack:
        pack.writestr("summary.html", summary_html(evidence))
        for issue in evidence.issues:
            for number, link in enumerate(evidence.outbound[issue.pk], start=1):
                pack.writestr(outbound_file(issue, number), outbound_eml(link.email))
            for number, match in enumerate(evidence.inbound[issue.pk], start=1):
                pack.writestr(inbound_file(issue, number), inbound_eml(match.email))


# summary.html ----------------------------------------------------------------------------------


def _event_title(event: Any, labels: dict[str, str]) -> str:
    if event.kind == EventKind.TRANSITION and event.to_state:
        title = labels.get(event.to_state, event.to_state)
        if event.from_state:
            title += f" (from “{labels.get(event.from_state, event.from_state)}”)"
        return title
    return str(event.get_kind_display())


def summary_html(evidence: CaseEvidence) -> str:
    case = evidence.case
    ras = sorted({issue.pharmacy.ra.name for issue in evidence.issues if issue.pharmacy.ra})
    kinds = sorted({str(Kind(issue.kind).label) for issue in evidence.issues})
    issues = []
    for issue in evidence.issues:
        labels = presentation.status_labels_by_state(issue)
        issues.append(
            {
                "issue": issue,
                "status": presentation.status_label(issue),
                "timeline": [
                    {"event": event, "title": _event_title(event, labels)} for event in evidence.events[issue.pk]
                ],
                "outbound": [
                    {"file": outbound_file(issue, n), "email": link.email}
                    for n, link in enumerate(evidence.outbound[issue.pk], start=1)
                ],
                "inbound": [
                    {"file": inbound_file(issue, n), "email": match.email}
                    for n, match in enumerate(evidence.inbound[issue.pk], start=1)
                ],
            }
        )
    context = {
        "case": case,
        "ras": ras,
        "kinds": kinds,
        "issues": issues,
        "history": evidence.history,
        "made_at": timezone.now(),
    }
    return render_to_string("issues/cases/evidence_summary.jinja", context)


# Outbound: the message as the outbox builds it ---------------------------------------------------


def outbound_eml(email: OutboundEmail) -> bytes:
    """The row as the outbox builds it for sending (build_message), dated when it was sent (or
    queued, if it was not sent: a header then says its status)."""
    # A row sent keeps the bodies it was sent with (a template row's too): those, as sent. Only a
    # template row not sent yet is rendered, as the outbox would render it now.
    stored = (email.body_text, email.body_html) if email.body_text or not email.template else None
    try:
        django_message = build_message(email, bodies=stored)
    except LookupError:
        # A template row whose context is no longer registered.
        django_message = build_message(email, bodies=("(not rendered)", ""))
    message = django_message.message()
    del message["Date"]
    message["Date"] = format_datetime(timezone.localtime(email.sent_at or email.created_at))
    if email.status not in (OutboundEmail.Status.SENT, OutboundEmail.Status.DELIVERED):
        message["X-Smartcard-Route-Status"] = str(email.get_status_display())
    return message.as_bytes()


# Inbound: rebuilt from the stored fields -------------------------------------------------------


def _one_line(value: str) -> str:
    return " ".join(str(value).split())


def _set_header(message: EmailMessage, name: str, value: str, notes: list[str]) -> None:
    if not value:
        return
    try:
        message[name] = value
    except Exception as error:  # the email package raises many kinds of error on odd values
        notes.append(f"{name} not kept ({type(error).__name__})")


def _address(address: str, name: str = "") -> str:
    try:
        return str(Address(display_name=_one_line(name), addr_spec=address))
    except Exception:  # an address the header registry will not take is kept as written
        return address


def inbound_eml(email: InboundEmail) -> bytes:
    """An inbound email rebuilt from its stored fields (module docstring), with its attachments."""
    message = EmailMessage(policy=policy.default)
    notes: list[str] = []
    message[REBUILT_HEADER] = REBUILT_NOTE
    _set_header(message, "Message-ID", _one_line(email.message_id), notes)
    _set_header(message, "From", _address(email.from_email, email.from_name) if email.from_email else "", notes)
    _set_header(message, "To", ", ".join(_address(a) for a in email.to), notes)
    _set_header(message, "Cc", ", ".join(_address(a) for a in email.cc), notes)
    _set_header(message, "Subject", _one_line(email.subject), notes)
    _set_header(message, "Date", format_datetime(timezone.localtime(email.sent_at or email.received_at)), notes)
    _set_header(message, "In-Reply-To", _one_line(email.in_reply_to), notes)
    _set_header(message, "References", _one_line(email.references), notes)
    if notes:
        message["X-Smartcard-Route-Notes"] = "; ".join(notes)
    message.set_content(email.body_text or "(no text part)")
    if email.body_html:
        message.add_alternative(email.body_html, subtype="html")
    if email.headers:
        message.add_attachment(email.headers, filename="original-headers.txt")
    for attachment in email.attachments.all():
        if not attachment.file:
            continue
        try:
            with attachment.file.open("rb") as handle:
                content = handle.read()
        except OSError:
            logger.warning("evidence pack: inbound attachment %s could not be read", attachment.pk)
            continue
        maintype, _, subtype = (attachment.content_type or "application/octet-stream").partition("/")
        message.add_attachment(
            content, maintype=maintype or "application", subtype=subtype or "octet-stream", filename=attachment.filename
        )
    return message.as_bytes()
