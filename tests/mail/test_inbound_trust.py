"""Inbound mail the site can trust, and mail it cannot (issue 10, part 3):

- the provider's SPF, DKIM and DMARC verdicts are kept on each email (Postmark: its Received-SPF
  and Authentication-Results headers; Amazon SES: its receipt's verdicts), and mail that failed
  them stops no clock, does not count as the RA's reply in the figures, and says so on the issue's
  timeline and in CPE IT's unmatched list;
- deduplication never drops a message that belongs somewhere (a Message-ID reused by a stranger's
  earlier mail);
- only the providers the site supports and uses have webhook URLs.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse

from issues.models import Deadline, EventKind, Issue, IssueEvent, State
from issues.selectors.figures import RA_REPLY_EVENTS
from smartcard_route.mail import urls as mail_urls
from smartcard_route.mail.models import InboundEmail, InboundPost
from smartcard_route.mail.parsing import authentication_failure
from tests.issues.inbound_fixtures import *  # noqa: F403
from tests.issues.inbound_fixtures import (
    GENERIC_ADDRESS,
    RA_EMAIL,
    make_issue,
    only_email,
    routed,
    tracking_address,
)
from tests.mail import payloads
from tests.mail.payloads import Mail

pytestmark = pytest.mark.django_db

FAILED = {"spf": "fail", "dkim": "none", "dmarc": "fail"}
PASSED = {"spf": "pass", "dkim": "pass", "dmarc": "pass"}


def post_with_verdicts(client: Client, provider: str, mail: Mail, verdicts: dict[str, str]) -> Any:
    """Post `mail` as this provider would, with these sender-check verdicts in its own words."""
    if provider == "postmark":
        payload = payloads.postmark_inbound(mail)
        headers = [h for h in payload["Headers"] if h["Name"] != "Received-SPF"]
        ours = [
            {"Name": "Received-SPF", "Value": f"{verdicts['spf'].capitalize()} (p-pm-inbound: sender check)"},
            {
                "Name": "Authentication-Results",
                "Value": f"inbound.postmarkapp.com; dkim={verdicts['dkim']} header.d=ra.example; "
                f"dmarc={verdicts['dmarc']} header.from=ra.example",
            },
        ]
        # What the sender wrote itself, further down, never counts.
        forged = [{"Name": "Authentication-Results", "Value": "mx.ra.example; spf=pass; dkim=pass; dmarc=pass"}]
        payload["Headers"] = [headers[0], *ours, *headers[1:], *forged]
        return payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, payload)
    envelope = payloads.ses_inbound(mail)
    notification = json.loads(envelope["Message"])
    words = {"pass": "PASS", "fail": "FAIL", "none": "GRAY", "softfail": "FAIL"}
    for method, verdict in verdicts.items():
        notification["receipt"][f"{method}Verdict"] = {"status": words[verdict]}
    envelope["Message"] = json.dumps(notification)
    return payloads.post_sns(client, payloads.SES_INBOUND_URL, envelope)


def ra_replies(issue: Issue) -> list[IssueEvent]:
    """The events the figures count as the RA's reply on this issue."""
    return list(IssueEvent.objects.filter(RA_REPLY_EVENTS, issue=issue))


# The rule -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spf", "dkim", "dmarc", "failure"),
    [
        ("fail", "none", "fail", "SPF fail, DMARC fail"),
        ("pass", "fail", "fail", "DMARC fail"),
        ("softfail", "pass", "pass", ""),  # DMARC passed through DKIM aligned with From
        ("softfail", "", "", "SPF softfail"),
        ("fail", "", "", "SPF fail"),
        ("", "fail", "", "DKIM fail"),
        ("pass", "fail", "", ""),  # a signature broken on the way; SPF vouches for the sender
        ("neutral", "none", "none", ""),
        ("temperror", "temperror", "temperror", ""),
        ("", "", "", ""),  # not reported
        ("pass", "pass", "pass", ""),
    ],
)
def test_the_rule_of_what_fails_the_sender_checks(spf: str, dkim: str, dmarc: str, failure: str) -> None:
    assert authentication_failure(spf=spf, dkim=dkim, dmarc=dmarc) == failure


# Verdicts kept, and what a failure changes ---------------------------------------------------------


def test_it_keeps_each_providers_verdicts_on_the_email(client: Client, provider: str, issue: Issue) -> None:
    response = post_with_verdicts(client, provider, Mail(from_email=RA_EMAIL, to=[tracking_address(issue)]), PASSED)

    assert response.status_code == 200
    email = only_email()
    assert (email.spf, email.dkim, email.dmarc) == ("pass", "pass", "pass")
    assert email.authentication_failure == ""


def test_it_reads_postmarks_own_sample_headers(client: Client, issue: Issue) -> None:
    """Postmark's real sample: Received-SPF pass, no Authentication-Results (DKIM, DMARC not reported)."""
    payload = payloads.postmark_inbound(Mail(from_email=RA_EMAIL, to=[tracking_address(issue)]))
    assert payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, payload).status_code == 200

    email = only_email()
    assert (email.spf, email.dkim, email.dmarc) == ("pass", "", "")


def test_mail_from_the_ras_exact_address_that_failed_spf_and_dmarc_stops_no_clock(
    client: Client, provider: str, issue: Issue, reporter: Any, cpe_it: Any
) -> None:
    due = (issue.due_kind, issue.due_at)
    mail = Mail(from_email=RA_EMAIL, to=[tracking_address(issue)], subject="Card unlocked", text="Done.")

    assert post_with_verdicts(client, provider, mail, FAILED).status_code == 200

    email = only_email()
    assert (email.spf, email.dmarc) == ("fail", "fail")
    assert email.authentication_failure == "SPF fail, DMARC fail"
    assert routed(email) == ("matched", issue.pk, "token", "ra")  # kept on its issue, shown there...
    [event] = IssueEvent.objects.filter(issue=issue, kind=EventKind.EMAIL_IN)
    assert event.data["ra_reply"] is False and event.data["authentication_failure"] == "SPF fail, DMARC fail"
    assert "failed its sender checks (SPF fail, DMARC fail)" in event.text
    issue.refresh_from_db()
    assert (issue.due_kind, issue.due_at) == due == (Deadline.RA_REPLY, issue.due_at)  # ...the clock runs on
    assert not IssueEvent.objects.filter(issue=issue, kind=EventKind.CLOCK).exists()
    assert ra_replies(issue) == []  # and the figures do not count it
    assert "failed its sender checks" in email.notes

    client.force_login(reporter)
    page = client.get(reverse("issues:detail", args=[issue.reference])).content.decode()
    assert "Failed sender checks" in page
    assert "failed its sender checks (SPF fail, DMARC fail)" in page


def test_the_same_mail_passing_the_checks_counts_as_the_ras_reply(client: Client, provider: str, issue: Issue) -> None:
    mail = Mail(from_email=RA_EMAIL, to=[tracking_address(issue)], subject="Card unlocked", text="Done.")

    assert post_with_verdicts(client, provider, mail, PASSED).status_code == 200

    issue.refresh_from_db()
    assert issue.due_kind == Deadline.PHARMACY_UPDATE
    assert len(ra_replies(issue)) == 1


def test_a_forged_reply_in_the_ras_name_joins_no_issue_by_its_thread(
    client: Client, provider: str, issue: Issue, ra_request: Any, cpe_it: Any
) -> None:
    """Without the tracking address, a failing email is not taken to be from the RA it names, so
    its In-Reply-To alone does not put it on the issue: CPE IT see it, marked, with the reason."""
    mail = Mail(
        from_email=RA_EMAIL,
        to=[GENERIC_ADDRESS],
        subject=f"RE: [{issue.reference}] Smartcard help",
        in_reply_to=ra_request.message_id,
    )

    assert post_with_verdicts(client, provider, mail, FAILED).status_code == 200

    email = only_email()
    assert routed(email)[0] == "unmatched"
    assert "failed its sender checks (SPF fail, DMARC fail)" in email.notes
    client.force_login(cpe_it)
    listing = client.get(reverse("issues:unmatched_mail")).content.decode()
    assert "Failed sender checks: SPF fail, DMARC fail" in listing
    detail = client.get(reverse("issues:unmatched_mail_detail", args=[email.pk])).content.decode()
    assert "SPF fail, DKIM none, DMARC fail" in detail

    # Attached by hand, it is on the issue, and still not the RA's reply.
    attached = client.post(
        reverse("issues:unmatched_mail_attach", args=[email.pk]), {"reference": issue.reference, "confirm": "yes"}
    )
    assert attached.status_code == 302
    assert routed(email)[:3] == ("matched", issue.pk, "manual")
    issue.refresh_from_db()
    assert issue.due_kind == Deadline.RA_REPLY
    assert ra_replies(issue) == []


def test_the_pharmacys_own_failing_mail_to_the_ra_is_not_taken_for_the_request(
    client: Client, provider: str, pharmacy: Any, reporter: Any
) -> None:
    issue = make_issue(pharmacy=pharmacy, reporter=reporter, state=State.IN_PHARMACY)
    mail = Mail(from_email=reporter.email, to=[RA_EMAIL], cc=[tracking_address(issue)], subject="Please unlock")

    assert post_with_verdicts(client, provider, mail, FAILED).status_code == 200

    issue.refresh_from_db()
    assert (issue.state, issue.due_kind) == (State.IN_PHARMACY, Deadline.NONE)
    assert "not recorded as the request to the RA" in only_email().notes


# Deduplication drops nothing that belongs somewhere ------------------------------------------------


@pytest.mark.parametrize("stranger_to", ["unmatched", "another issue"])
def test_an_ra_reply_reusing_a_strangers_message_id_lands_on_its_issue(
    client: Client, provider: str, issue: Issue, other_issue: Issue, stranger_to: str
) -> None:
    reused = "<reused-1@mail.example>"
    stranger = Mail(
        from_email="someone@elsewhere.example",
        to=[GENERIC_ADDRESS if stranger_to == "unmatched" else tracking_address(other_issue)],
        subject="Hello",
        text="A stranger's mail.",
        message_id=reused,
    )
    reply = Mail(from_email=RA_EMAIL, to=[tracking_address(issue)], subject="Unlocked", text="Done.", message_id=reused)
    assert post_with_verdicts(client, provider, stranger, PASSED).status_code == 200

    assert post_with_verdicts(client, provider, reply, PASSED).status_code == 200

    assert InboundEmail.objects.filter(message_id=reused).count() == 2
    landed = InboundEmail.objects.get(message_id=reused, from_email=RA_EMAIL)
    assert routed(landed) == ("matched", issue.pk, "token", "ra")
    issue.refresh_from_db()
    assert issue.due_kind == Deadline.PHARMACY_UPDATE
    assert len(ra_replies(issue)) == 1


def test_the_same_message_id_to_two_issues_addresses_lands_on_both(
    client: Client, provider: str, issue: Issue, other_issue: Issue
) -> None:
    """Two posts, one per recipient (as providers do), of one message."""
    mail = Mail(from_email=RA_EMAIL, to=[tracking_address(issue), tracking_address(other_issue)])
    for recipient in (issue, other_issue):
        if provider == "postmark":
            payload = payloads.postmark_inbound(mail)
            payload["OriginalRecipient"] = tracking_address(recipient)
            payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, payload)
        else:
            envelope = payloads.ses_inbound(mail)
            notification = json.loads(envelope["Message"])
            notification["receipt"]["recipients"] = [tracking_address(recipient)]
            envelope["Message"] = json.dumps(notification)
            payloads.post_sns(client, payloads.SES_INBOUND_URL, envelope)

    email = only_email()
    assert set(email.matches.values_list("issue_id", flat=True)) == {issue.pk, other_issue.pk}


# Stored first, whatever comes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b'{"a": ' * 100_000 + b"1" + b"}" * 100_000, b"\x00\xff\xfe not json", b'{"Subject": "\\ud800"}'],
    ids=["deeply-nested", "nul-and-binary", "lone-surrogate"],
)
def test_a_hostile_post_is_stored_answered_200_and_listed_for_cpe_it(client: Client, body: bytes, cpe_it: Any) -> None:
    response = payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, body)

    assert response.status_code == 200
    post = InboundPost.objects.get()
    assert bytes(post.body) == body and post.status == InboundPost.Status.FAILED and post.error
    client.force_login(cpe_it)
    assert "Posts that could not be read" in client.get(reverse("issues:unmatched_mail")).content.decode()


def test_a_control_character_in_a_providers_header_does_not_stop_the_post_being_stored(
    client: Client, issue: Issue
) -> None:
    payload = payloads.postmark_inbound(Mail(from_email=RA_EMAIL, to=[tracking_address(issue)]))
    headers: dict[str, Any] = {**payloads.basic_auth(), "HTTP_X_PM_TRACE": "a\x00b\x1b"}
    response = client.post(payloads.POSTMARK_INBOUND_URL, json.dumps(payload), "application/json", **headers)

    assert response.status_code == 200
    assert InboundPost.objects.get().headers["HTTP_X_PM_TRACE"] == "a\ufffdb\x1b"
    assert routed(only_email())[1] == issue.pk


# Only the providers the site uses --------------------------------------------------------------------


@pytest.mark.parametrize("esp", ["mailgun", "sendgrid", "mailjet", "sparkpost", "brevo", "resend"])
@pytest.mark.parametrize("kind", ["inbound", "tracking"])
def test_providers_the_site_does_not_support_have_no_webhook(client: Client, esp: str, kind: str) -> None:
    response = client.post(f"/webhooks/anymail/{esp}/{kind}/", "{}", content_type="application/json")

    assert response.status_code == 404


def test_only_the_providers_the_settings_name_are_mounted() -> None:
    names = [pattern.name for pattern in mail_urls._patterns(["postmark"])]

    assert names == ["postmark_inbound", "postmark_tracking"]
    with pytest.raises(ImproperlyConfigured, match="unsupported providers"):
        mail_urls._patterns(["postmark", "mailgun"])
