"""'Contact the RA': the prepared request, sent from the app or from the user's own email."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from django.urls import reverse

from issues.correspondence.outbound import tracking_address
from issues.models import EventKind, Issue, MailPurpose, State
from smartcard_route.mail.models import OutboundEmail
from tests.issues.factories import IssueFactory
from tests.issues.pages import text_of

pytestmark = pytest.mark.django_db


def contact(issue: Issue) -> str:
    return reverse("issues:contact_ra", args=[issue.reference])


def answers(**changes: str) -> dict[str, str]:
    return {
        "contact_name": "Sam Patel",
        "contact_phone": "0113 496 0002",
        "smartcard_number": "1234 5678 9012",
        "question": "My card is locked and the unlock email never arrives. Please unlock it.",
        "send_via": "app",
        **changes,
    }


def test_it_shows_the_prepared_request_filled_in_from_the_issue_and_the_directory(client, staff, issue):
    client.force_login(staff)
    response = client.get(contact(issue))
    page = response.content.decode()
    ra = issue.pharmacy.ra
    assert response.status_code == 200
    assert ra.name in page and ra.email in page and ra.phone in page
    assert issue.pharmacy.ods_code in page
    assert 'value="Sam Patel"' in page and 'value="0113 496 0002"' in page
    assert 'value="1234 5678 9012"' in page
    assert tracking_address(issue) in page
    assert f"[{issue.reference}]" in page  # the subject as the RA will see it


def test_it_sends_the_request_from_the_app_through_the_outbox(client, staff, issue):
    client.force_login(staff)
    response = client.post(contact(issue), answers())
    assert response.status_code == 302 and response.url == reverse("issues:detail", args=[issue.reference])
    issue.refresh_from_db()
    assert issue.state == State.RA_CONTACTED and issue.due_at is not None
    email = OutboundEmail.objects.get(issue=issue, purpose=MailPurpose.RA_REQUEST)
    assert email.to == [issue.pharmacy.ra.email]
    assert email.subject.startswith(f"[{issue.reference}]")
    assert email.reply_to == tracking_address(issue)
    assert "Please unlock it." in email.body_text and "123456789012" not in email.subject
    assert "on its way to the RA" in client.get(response.url).content.decode()


def test_it_prepares_the_email_for_the_users_own_mailbox_and_records_it_once_confirmed(client, staff, issue):
    client.force_login(staff)
    response = client.post(contact(issue), answers(send_via="own_mail"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Send the request from your own email" in page
    mailto = page.split('href="mailto:')[1].split('"')[0]
    assert unquote(mailto).startswith(issue.pharmacy.ra.email)
    assert f"cc={tracking_address(issue)}" in unquote(mailto)
    assert "Please unlock it." in unquote(mailto)
    assert 'name="confirmed" value="yes"' in page
    issue.refresh_from_db()
    assert issue.state == State.IN_PHARMACY  # nothing is recorded before they say they sent it

    response = client.post(contact(issue), {**answers(send_via="own_mail"), "confirmed": "yes"})
    assert response.status_code == 302
    issue.refresh_from_db()
    assert issue.state == State.RA_CONTACTED
    assert issue.events.filter(kind=EventKind.REQUEST_CONFIRMED).exists()
    assert not OutboundEmail.objects.filter(issue=issue, purpose=MailPurpose.RA_REQUEST).exists()


def test_it_validates_the_details_and_saves_nothing_when_they_are_wrong(client, staff, issue):
    client.force_login(staff)
    response = client.post(contact(issue), answers(contact_phone="not a phone", smartcard_number="12", question=""))
    page = response.content.decode()
    assert response.status_code == 400
    assert "There is a problem" in page
    assert 'href="#contact_phone"' in page and 'href="#smartcard_number"' in page and 'href="#question"' in page
    issue.refresh_from_db()
    assert issue.state == State.IN_PHARMACY
    assert not OutboundEmail.objects.exists()


def test_it_updates_the_issue_with_corrected_details(client, staff, issue):
    client.force_login(staff)
    client.post(contact(issue), answers(contact_name="Priya Shah", smartcard_number="", no_card_yet="on"))
    issue.refresh_from_db()
    assert issue.contact_name == "Priya Shah" and issue.no_card_yet and issue.smartcard_number == ""


def test_it_tells_them_to_phone_the_ra_now_in_an_emergency(client, pharmacy, staff):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, is_emergency=True)
    client.force_login(staff)
    page = client.get(contact(issue)).content.decode()
    assert "This is an emergency: phone the RA now" in page
    assert f'href="tel:{pharmacy.ra.phone.replace(" ", "")}"' in page
    assert "half a working day" in page
    assert "2 working days" not in page


def test_it_formats_the_smartcard_number_once_in_the_preview(client, staff, issue):
    """The form shows the number as printed on the card; the preview is made from the number itself,
    not from the form's formatted copy (which came out as "1234  567 8 90 12")."""
    client.force_login(staff)
    page = client.get(contact(issue)).content.decode()
    assert 'value="1234 5678 9012"' in page
    assert "Smartcard number: 1234 5678 9012\n" in page.split('id="ra-request-preview"')[1]
    assert "Smartcard number: 1234 5678 9012" in text_of(page, id="ra-request-preview")
    own_mail = client.post(contact(issue), answers(send_via="own_mail")).content.decode()
    assert "Smartcard number: 1234 5678 9012\n" in own_mail.split('id="ra-request-text"')[1]
    assert "1234  567" not in page + own_mail


def test_it_does_not_ask_again_what_was_already_tried(client, pharmacy, staff):
    tried = IssueFactory.create(pharmacy=pharmacy, reporter=staff, tried_in_pharmacy="Asked our Sponsor.")
    untried = IssueFactory.create(pharmacy=pharmacy, reporter=staff, tried_in_pharmacy="")
    client.force_login(staff)
    page = client.get(contact(tried)).content.decode()
    assert "What we have already tried: Asked our Sponsor." in page  # in the prepared question
    assert "What you have already tried." not in page and "what you have tried" not in page
    assert "What you told us you already tried in the pharmacy is in the question below." in page
    page = client.get(contact(untried)).content.decode()
    assert "What you have already tried." in page


def test_it_says_so_when_the_directory_has_no_ra_and_links_to_report_it(client, pharmacy, staff):
    pharmacy.ra = None
    pharmacy.save()
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    client.force_login(staff)
    page = client.get(contact(issue)).content.decode()
    assert "We do not know this pharmacy&#39;s RA" in page
    assert reverse("directory:lpc_report", args=[pharmacy.lpc.pk]) in page
    assert 'name="send_via"' not in page
    response = client.post(contact(issue), answers())
    assert response.status_code == 409
    assert "no Registration Authority" in response.content.decode()
    issue.refresh_from_db()
    assert issue.state == State.IN_PHARMACY


def test_it_lets_the_owner_copy_in_the_lpc_at_once(client, pharmacy, staff, owner):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    client.force_login(staff)
    assert 'name="cc_lpc"' not in client.get(contact(issue)).content.decode()
    client.force_login(owner)
    assert 'name="cc_lpc"' in client.get(contact(issue)).content.decode()
    client.post(contact(issue), answers(cc_lpc="on"))
    issue.refresh_from_db()
    assert issue.state == State.LPC_CC
    assert OutboundEmail.objects.filter(issue=issue, purpose=MailPurpose.LPC_CC).exists()


def test_it_ignores_a_cc_lpc_from_staff(client, staff, issue):
    client.force_login(staff)
    client.post(contact(issue), answers(cc_lpc="on"))
    issue.refresh_from_db()
    assert issue.state == State.RA_CONTACTED


def test_it_sends_people_who_may_not_contact_the_ra_back_to_the_issue(client, pharmacy, staff, cpe_it, issue):
    client.force_login(cpe_it)
    response = client.get(contact(issue))
    assert response.status_code == 302 and response.url == reverse("issues:detail", args=[issue.reference])
    assert "You cannot contact the RA" in client.get(response.url).content.decode()
    assert client.post(contact(issue), answers()).status_code == 403  # the action the role may not take
    issue.refresh_from_db()
    assert issue.state == State.IN_PHARMACY

    already = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED)
    client.force_login(staff)
    assert client.get(contact(already)).status_code == 302


def test_it_answers_404_outside_scope(client, outsider, issue):
    client.force_login(outsider)
    assert client.get(contact(issue)).status_code == 404
    assert client.post(contact(issue), answers()).status_code == 404
