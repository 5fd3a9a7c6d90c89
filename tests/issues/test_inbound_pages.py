"""The pages around inbound mail: CPE IT's unmatched list and attaching an email to an issue,
inbound attachments, and inbound email on the issue's timeline for the people who may see it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from issues.models import Deadline, EventKind, InboundEmailMatch, Issue, IssueEvent, State
from smartcard_route.mail.models import InboundEmail, InboundPost
from tests.issues.inbound_fixtures import *  # noqa: F403
from tests.issues.inbound_fixtures import GENERIC_ADDRESS, RA_EMAIL, make_issue, routed, tracking_address
from tests.mail import payloads
from tests.mail.payloads import Mail

pytestmark = pytest.mark.django_db

LIST_URL = "/issues/unmatched-mail/"


def receive(client: Client, mail: Mail) -> InboundEmail:
    response = payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, payloads.postmark_inbound(mail))
    assert response.status_code == 200
    return InboundEmail.objects.get(message_id=mail.message_id)


@pytest.fixture
def unmatched(client: Client, issue: Issue) -> InboundEmail:
    """The RA wrote from its own address to the generic inbound address, with no reference."""
    email = receive(
        client,
        Mail(
            from_email=RA_EMAIL,
            to=[GENERIC_ADDRESS],
            subject="Card unlocked for your pharmacy",
            text="Done. <script>alert('x')</script>",
            attachments=[("letter.pdf", "application/pdf", b"%PDF-1.4 letter")],
        ),
    )
    assert routed(email)[0] == "unmatched"
    client.logout()
    return email


def test_it_lists_unmatched_mail_for_cpe_it(
    client: Client, cpe_it: Any, unmatched: InboundEmail, django_assert_max_num_queries: Any
) -> None:
    for n in range(30):
        receive(client, Mail(from_email=f"stranger{n}@elsewhere.example", to=[GENERIC_ADDRESS], subject=f"Spam {n}"))
    client.force_login(cpe_it)

    with django_assert_max_num_queries(12):
        response = client.get(LIST_URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Card unlocked for your pharmacy" in page
    assert reverse("issues:unmatched_mail_detail", args=[unmatched.pk]) in page
    assert "(31)" in page


@pytest.mark.parametrize("who", ["reporter", "owner", "lpc_officer"])
def test_it_hides_unmatched_mail_from_everyone_but_cpe_it(
    client: Client, unmatched: InboundEmail, who: str, request: pytest.FixtureRequest
) -> None:
    client.force_login(request.getfixturevalue(who))

    assert client.get(LIST_URL).status_code == 404
    assert client.get(reverse("issues:unmatched_mail_detail", args=[unmatched.pk])).status_code == 404
    response = client.post(reverse("issues:unmatched_mail_attach", args=[unmatched.pk]), {"reference": "SC-1"})
    assert response.status_code == 404
    assert routed(unmatched)[0] == "unmatched"


def test_it_asks_an_anonymous_visitor_to_log_in(client: Client, unmatched: InboundEmail) -> None:
    response = client.get(LIST_URL)

    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_it_shows_an_unmatched_email_escaped(client: Client, cpe_it: Any, unmatched: InboundEmail) -> None:
    client.force_login(cpe_it)

    response = client.get(reverse("issues:unmatched_mail_detail", args=[unmatched.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert "&lt;script&gt;alert(" in page and "<script>alert(" not in page
    assert "letter.pdf" in page
    assert "No tracking address" in page  # why it was not matched


def test_it_attaches_an_unmatched_email_and_records_it_like_a_match(
    client: Client, cpe_it: Any, unmatched: InboundEmail, issue: Issue
) -> None:
    client.force_login(cpe_it)

    response = client.post(
        reverse("issues:unmatched_mail_attach", args=[unmatched.pk]),
        {"reference": f" [{issue.reference.lower()}] ", "confirm": "yes"},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("issues:detail", kwargs={"reference": issue.reference})
    assert routed(unmatched)[:3] == ("matched", issue.pk, "manual")
    assert InboundEmailMatch.objects.get(email=unmatched).attached_by == cpe_it
    event = IssueEvent.objects.get(issue=issue, kind=EventKind.EMAIL_IN)
    assert "Attached by Casey IT" in event.text
    issue.refresh_from_db()
    assert issue.due_kind == Deadline.PHARMACY_UPDATE  # the RA's reply stopped the RA window

    again = client.post(
        reverse("issues:unmatched_mail_attach", args=[unmatched.pk]), {"reference": issue.reference, "confirm": "yes"}
    )
    assert again.status_code == 409 and "already attached" in again.content.decode()
    assert IssueEvent.objects.filter(issue=issue, kind=EventKind.EMAIL_IN).count() == 1


@pytest.mark.parametrize(
    ("reference", "message"),
    [("", "Enter the reference"), ("hello", "Enter an issue reference"), ("SC-999999", "There is no issue SC-999999")],
)
def test_it_explains_a_wrong_reference(
    client: Client, cpe_it: Any, unmatched: InboundEmail, reference: str, message: str
) -> None:
    client.force_login(cpe_it)

    response = client.post(reverse("issues:unmatched_mail_attach", args=[unmatched.pk]), {"reference": reference})

    assert response.status_code == 400
    page = response.content.decode()
    assert "There is a problem" in page and message in page
    assert routed(unmatched)[0] == "unmatched"


def test_it_lets_those_who_see_the_issue_download_its_attachments_and_nobody_else(
    client: Client, issue: Issue, reporter: Any, other_issue: Issue
) -> None:
    email = receive(
        client,
        Mail(
            from_email=RA_EMAIL,
            to=[tracking_address(issue)],
            attachments=[("page.html", "text/html", b"<script>alert(1)</script>")],
        ),
    )
    attachment = email.attachments.get()
    url = reverse("issues:inbound_attachment", args=[attachment.pk])

    client.force_login(reporter)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="page.html"')
    assert response["Content-Type"] == "application/octet-stream"
    assert response.getvalue() == b"<script>alert(1)</script>"

    client.force_login(other_issue.reporter)
    assert client.get(url).status_code == 404


def test_it_shows_inbound_email_on_the_timeline_to_the_lpc_and_cpe_it(
    client: Client, pharmacy: Any, reporter: Any, lpc_officer: Any, cpe_it: Any
) -> None:
    issue = make_issue(pharmacy=pharmacy, reporter=reporter, state=State.LPC_CC)
    receive(
        client,
        Mail(
            from_email=RA_EMAIL,
            from_name="RA Team",
            to=[tracking_address(issue)],
            subject="We need the premises code",
            text="Please send the ODS code of the second site.",
            attachments=[("form.pdf", "application/pdf", b"%PDF-1.4")],
        ),
    )
    receive(
        client,
        Mail(
            from_email=RA_EMAIL,
            to=[tracking_address(issue)],
            subject="Out of office",
            headers={"Auto-Submitted": "auto-replied"},
        ),
    )

    for user in (lpc_officer, cpe_it, reporter):
        client.force_login(user)
        response = client.get(reverse("issues:detail", kwargs={"reference": issue.reference}))
        page = response.content.decode()
        assert response.status_code == 200, user
        assert "We need the premises code" in page
        assert "Please send the ODS code of the second site." in page
        assert "form.pdf" in page
        assert "Automatic reply" in page


def test_it_shows_cpe_it_a_post_that_could_not_be_read_and_lets_them_download_it(
    client: Client, cpe_it: Any, reporter: Any
) -> None:
    assert payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, '{"FromFull": 7}').status_code == 200
    post = InboundPost.objects.get()
    client.force_login(cpe_it)

    page = client.get(LIST_URL).content.decode()

    assert "Posts that could not be read" in page
    assert "object has no attribute" in post.error and "object has no attribute" in page
    download = client.get(reverse("issues:unreadable_post", args=[post.pk]))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/octet-stream"
    assert download["Content-Disposition"].startswith("attachment;")
    assert download.content == b'{"FromFull": 7}'

    client.force_login(reporter)
    assert client.get(reverse("issues:unreadable_post", args=[post.pk])).status_code == 404
