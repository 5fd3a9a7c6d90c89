"""The LPC's email from the site, answered: the contact's reply to the tracking address (the
email's Reply-To) lands on the issue's timeline through the inbound matcher, and the issue page
shows it."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from issues import services
from issues.models import Deadline, EventKind, Issue, IssueEvent, MailPurpose, State
from smartcard_route.mail.models import OutboundEmail
from tests.issues.inbound_fixtures import *  # noqa: F403
from tests.issues.inbound_fixtures import Deliver, make_issue, only_email, routed
from tests.mail.payloads import Mail

pytestmark = pytest.mark.django_db


@pytest.fixture
def lpc_issue(pharmacy: Any, reporter: Any) -> Issue:
    return make_issue(pharmacy=pharmacy, reporter=reporter, state=State.LPC_CC)


def test_the_nhse_contacts_reply_lands_on_the_issues_timeline(
    deliver: Deliver, lpc_issue: Issue, lpc_officer: Any, client: Any
) -> None:
    services.issue_log_lpc_work(
        user=lpc_officer,
        issue=lpc_issue,
        with_whom="nhse_region",
        how="email",
        to="smartcard.lead@england.nhs.example",
        text="Could you ask the RA to look at this?",
    )
    sent = OutboundEmail.objects.get(issue=lpc_issue, purpose=MailPurpose.LPC_WORK)

    response = deliver(
        Mail(
            from_email="smartcard.lead@england.nhs.example",
            to=[sent.reply_to],
            subject=f"RE: {sent.subject}",
            text="We have asked the RA to unlock the card today.",
            in_reply_to=sent.message_id,
            references=sent.message_id,
        )
    )

    assert response.status_code == 200
    assert routed(only_email())[:3] == ("matched", lpc_issue.pk, "token")
    assert IssueEvent.objects.filter(issue=lpc_issue, kind=EventKind.EMAIL_IN).count() == 1
    lpc_issue.refresh_from_db()
    assert (lpc_issue.state, lpc_issue.due_kind) == (State.LPC_CC, Deadline.LPC_FOLLOW_UP)
    client.force_login(lpc_officer)
    page = client.get(reverse("issues:detail", args=[lpc_issue.reference])).content.decode()
    assert "We have asked the RA to unlock the card today." in page
