"""The evidence pack of a systemic case: one .zip with summary.html and every email in and out of
its issues as .eml files that the email module reads, with their original Message-IDs; CPE IT's
only; a constant number of queries however many emails."""

from __future__ import annotations

import email
import io
import zipfile
from email import policy
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from issues import services
from issues.evidence_pack import REBUILT_HEADER
from issues.models import Issue, MailPurpose, State, SystemicCase
from smartcard_route.mail.models import OutboundEmail
from smartcard_route.mail.services import SendOutcome, outbound_email_send
from tests.issues.factories import IssueEventFactory, IssueFactory, outbound_email_about
from tests.issues.inbound_fixtures import *  # noqa: F403
from tests.issues.inbound_fixtures import RA_EMAIL, REQUEST_MESSAGE_ID, Deliver, tracking_address
from tests.mail.payloads import Mail

pytestmark = pytest.mark.django_db


def download(client: Any, case: SystemicCase) -> zipfile.ZipFile:
    response = client.get(reverse("cases:evidence_pack", args=[case.reference]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="{case.reference}-evidence-pack.zip"'
    assert response["Cache-Control"] == "no-store"
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def parsed(pack: zipfile.ZipFile, name: str) -> email.message.EmailMessage:
    message = email.message_from_bytes(pack.read(name), policy=policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def test_it_packs_the_summary_and_every_email_as_its_original_message(
    client: Any, cpe_it: Any, issue: Issue, ra_request: OutboundEmail, deliver: Deliver, settings: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    other = IssueFactory.create(state=State.LPC_CC, summary="Reader will not read the card")
    IssueEventFactory.create(issue=other, text="Tried another reader.")
    sent = outbound_email_about(
        other,
        purpose=MailPurpose.LPC_CC,
        from_email="Smartcard Route <noreply@smartcard-route.localhost>",
        to=["lpc@lpc.example"],
        subject=f"[{other.reference}] The LPC's help",
        body_text="Please help.",
        body_html="<p>Please help.</p>",
        message_id="<forward-1@smartcard-route.localhost>",
    )
    assert outbound_email_send(email_id=sent.pk).outcome is SendOutcome.SENT
    reply = Mail(
        from_email=RA_EMAIL,
        to=[tracking_address(issue)],
        subject=f"RE: [{issue.reference}] Smartcard help",
        text="We have unlocked the card.\n",
        html="<p>We have <b>unlocked</b> the card.</p>",
        in_reply_to=REQUEST_MESSAGE_ID,
        references=REQUEST_MESSAGE_ID,
        attachments=[("form.pdf", "application/pdf", b"%PDF-1.4 the form")],
    )
    assert deliver(reply).status_code == 200
    case = services.case_create(user=cpe_it, title="Cards at the RA", description="Why.", issues=[issue, other])
    services.case_record_highlight(
        user=cpe_it, case=case, highlighted_at=case.created_at, to="td@england.nhs.example", text="What we sent."
    )
    client.force_login(cpe_it)

    pack = download(client, case)

    names = pack.namelist()
    # The request to the RA, and the notice to the reporter that the RA's reply arrived.
    out_of_issue = OutboundEmail.objects.filter(issue=issue).count()
    assert out_of_issue == 2
    assert names == [
        "summary.html",
        f"{issue.reference}/out-001.eml",
        f"{issue.reference}/out-002.eml",
        f"{issue.reference}/in-001.eml",
        f"{other.reference}/out-001.eml",
    ]
    summary = pack.read("summary.html").decode()
    for linked in (issue, other):
        assert f"{linked.reference}: {linked.summary}" in summary
    assert "Cards at the RA" in summary and "td@england.nhs.example" in summary and "What we sent." in summary
    assert "West Yorkshire RA" in summary and "Tried another reader." in summary
    assert "Added to systemic case" in summary and f"{issue.reference}/in-001.eml" in summary

    request = parsed(pack, f"{issue.reference}/out-001.eml")
    assert request["Message-ID"] == REQUEST_MESSAGE_ID and request["To"] == RA_EMAIL
    assert request["Subject"] == ra_request.subject
    forward = parsed(pack, f"{other.reference}/out-001.eml")
    assert forward["Message-ID"] == "<forward-1@smartcard-route.localhost>"
    assert forward.get_content_type() == "multipart/alternative"
    html = forward.get_body(preferencelist=("html",))
    assert html is not None and html.get_content().strip() == "<p>Please help.</p>"

    received = parsed(pack, f"{issue.reference}/in-001.eml")
    assert received["Message-ID"] == reply.message_id
    assert received["In-Reply-To"] == REQUEST_MESSAGE_ID
    assert RA_EMAIL in received["From"]
    assert "Rebuilt by Smartcard Route" in received[REBUILT_HEADER]
    text = received.get_body(preferencelist=("plain",))
    assert text is not None and text.get_content().strip() == "We have unlocked the card."
    attachments = {part.get_filename(): part.get_content() for part in received.iter_attachments()}
    assert attachments["form.pdf"] == b"%PDF-1.4 the form"
    assert "original-headers.txt" in attachments


def test_it_packs_a_large_case_in_a_constant_number_of_queries(client: Any, cpe_it: Any) -> None:
    def case_with(issue_count: int, emails_each: int) -> SystemicCase:
        issues = [IssueFactory.create() for _ in range(issue_count)]
        for issue in issues:
            for n in range(emails_each):
                outbound_email_about(
                    issue,
                    purpose=MailPurpose.NUDGE,
                    from_email="noreply@x.example",
                    to=["a@x.example"],
                    subject=f"[{issue.reference}] {n}",
                    body_text="text",
                    message_id=f"<{issue.pk}.{n}@x.example>",
                )
                IssueEventFactory.create(issue=issue)
        return services.case_create(user=cpe_it, title=f"{issue_count}", description="", issues=issues)

    small, large = case_with(1, 1), case_with(30, 4)
    client.force_login(cpe_it)
    counts = []
    for case in (small, large):
        with CaptureQueriesContext(connection) as queries:
            pack = download(client, case)
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert len(pack.namelist()) == 1 + 30 * 4
    message = parsed(pack, pack.namelist()[-1])
    assert message["Message-ID"].endswith("@x.example>")


@pytest.mark.parametrize("persona", ["reporter", "owner", "lpc_officer"])
def test_it_is_cpe_its_only(client: Any, request: Any, persona: str, cpe_it: Any, issue: Issue) -> None:
    case = services.case_create(user=cpe_it, title="T", description="", issues=[issue])
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("cases:evidence_pack", args=[case.reference])).status_code == 404
