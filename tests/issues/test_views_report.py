"""'Report a Smartcard problem': the question pages, check your answers and the confirmation."""

from __future__ import annotations

import pytest
from django.urls import reverse

from issues.models import RA_ONLY_KINDS, EventKind, Issue, Kind, State
from tests.issues.factories import PharmacyFactory
from tests.issues.pages import text_of

pytestmark = pytest.mark.django_db

START = reverse("issues:report")


def step(name: str) -> str:
    return reverse("issues:report_step", kwargs={"step": name})


GOOD_DETAILS = {
    "summary": "Card locked after three wrong passcodes",
    "details": "It locked at 8:50.\nThe locum typed the wrong passcode.",
    "smartcard_number": "1234 5678 9012",
    "contact_name": "Sam Patel",
    "contact_phone": "0113 496 0002",
    "is_emergency": "no",
}


def answer_up_to_check(client, *, kind: str = Kind.LOCKED, details: dict[str, str] | None = None) -> None:
    assert client.post(step("kind"), {"kind": kind}).status_code == 302
    assert client.post(step("tried"), {"tried_in_pharmacy": "Tried the unlock link."}).status_code == 302
    response = client.post(step("details"), details or GOOD_DETAILS)
    assert response.status_code == 302, response.content.decode()


def test_it_walks_the_question_pages_and_saves_only_on_the_final_submit(client, staff, pharmacy):
    client.force_login(staff)
    response = client.get(START)
    # One pharmacy: the pharmacy question is answered for them.
    assert response.status_code == 302 and response.url == step("kind")

    response = client.get(step("kind"))
    assert response.status_code == 200
    assert "Locked after 3 wrong passcodes" in response.content.decode()  # the kind's hint

    response = client.post(step("kind"), {"kind": Kind.LOCKED})
    assert response.url == step("tried")
    page = client.get(step("tried")).content.decode()
    assert "Care Identity Management" in page  # the in-pharmacy checks for a locked card

    client.post(step("tried"), {"tried_in_pharmacy": "Tried the unlock link."})
    page = client.get(step("details")).content.decode()
    assert 'value="Sam Patel"' in page  # the contact name starts as the user's own

    response = client.post(step("details"), GOOD_DETAILS)
    assert response.url == step("check")
    assert Issue.objects.count() == 0

    page = client.get(step("check")).content.decode()
    assert "Check your answers" in page
    assert "1234 5678 9012" in page
    assert f"{step('details')}?change=1" in page

    response = client.post(step("check"))
    issue = Issue.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("issues:reported", args=[issue.reference])
    assert issue.pharmacy == pharmacy and issue.reporter == staff and issue.state == State.IN_PHARMACY
    assert issue.smartcard_number == "123456789012"
    assert issue.tried_in_pharmacy == "Tried the unlock link."
    assert issue.is_emergency is False
    assert list(issue.events.values_list("kind", flat=True)) == [EventKind.REPORTED]

    page = client.get(response.url).content.decode()
    assert "Problem reported" in page and issue.reference in page
    # The answers are forgotten: a second submit cannot report it twice.
    assert client.post(step("check")).status_code == 302
    assert Issue.objects.count() == 1


def test_it_asks_which_pharmacy_when_the_user_has_several(client, owner, pharmacy):
    second = PharmacyFactory.create(name="Second Street Pharmacy", owner=pharmacy.owner)
    client.force_login(owner)
    assert client.get(START).url == step("pharmacy")
    page = client.get(step("pharmacy")).content.decode()
    assert "Riverside Pharmacy" in page and "Second Street Pharmacy" in page

    client.post(step("pharmacy"), {"pharmacy": second.pk})
    answer_up_to_check(client)
    page = client.get(step("check")).content.decode()
    assert "Second Street Pharmacy" in page
    client.post(step("check"))
    assert Issue.objects.get().pharmacy == second


def test_it_refuses_a_pharmacy_the_user_does_not_belong_to(client, owner, pharmacy):
    PharmacyFactory.create(owner=pharmacy.owner)
    elsewhere = PharmacyFactory.create(name="Not Theirs Pharmacy")
    client.force_login(owner)
    response = client.post(step("pharmacy"), {"pharmacy": elsewhere.pk})
    assert response.status_code == 400
    assert "Select one of your pharmacies" in response.content.decode()
    assert "Not Theirs Pharmacy" not in response.content.decode()


def test_it_shows_the_error_summary_and_keeps_nothing_for_bad_details(client, staff, pharmacy):
    client.force_login(staff)
    client.post(step("kind"), {"kind": Kind.LOCKED})
    client.post(step("tried"), {"tried_in_pharmacy": ""})
    bad = {**GOOD_DETAILS, "summary": "", "smartcard_number": "1234", "contact_phone": "call me"}
    response = client.post(step("details"), bad)
    page = response.content.decode()
    assert response.status_code == 400
    assert "There is a problem" in page
    assert 'href="#summary"' in page and 'href="#smartcard_number"' in page and 'href="#contact_phone"' in page
    assert "Enter the 12-digit Smartcard number" in page
    assert "<title>Error:" in page
    # Nothing was kept: the check page sends them back to the details.
    assert client.get(step("check")).url == step("details")
    assert Issue.objects.count() == 0


def test_it_wants_a_card_number_or_no_card_yet_but_not_both(client, staff, pharmacy):
    client.force_login(staff)
    client.post(step("kind"), {"kind": Kind.NEW_CARD})
    client.post(step("tried"), {})
    neither = {**GOOD_DETAILS, "smartcard_number": ""}
    assert client.post(step("details"), neither).status_code == 400
    both = {**GOOD_DETAILS, "no_card_yet": "on"}
    assert "not both" in client.post(step("details"), both).content.decode()
    response = client.post(step("details"), {**GOOD_DETAILS, "smartcard_number": "", "no_card_yet": "on"})
    assert response.status_code == 302
    client.post(step("check"))
    issue = Issue.objects.get()
    assert issue.no_card_yet is True and issue.smartcard_number == ""


def test_it_refuses_an_unknown_kind(client, staff, pharmacy):
    client.force_login(staff)
    response = client.post(step("kind"), {"kind": "exploded"})
    assert response.status_code == 400
    assert "Select one of the kinds of problem listed" in response.content.decode()


def test_it_does_not_let_a_question_be_skipped(client, staff, pharmacy):
    client.force_login(staff)
    assert client.get(step("details")).url == step("kind")
    assert client.post(step("check")).url == step("kind")
    assert Issue.objects.count() == 0


def test_it_goes_back_to_check_your_answers_after_a_change(client, staff, pharmacy):
    client.force_login(staff)
    answer_up_to_check(client)
    response = client.post(f"{step('kind')}?change=1", {"kind": Kind.READER_SOFTWARE})
    assert response.url == step("check")
    assert "Card reader or Identity Agent problem" in client.get(step("check")).content.decode()


def test_it_shows_html_in_answers_as_text(client, staff, pharmacy):
    client.force_login(staff)
    answer_up_to_check(client, details={**GOOD_DETAILS, "summary": "<script>alert('x')</script> locked"})
    page = client.get(step("check")).content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; locked" in page


def test_it_tells_people_without_a_pharmacy_that_they_cannot_report(client, lpc_officer, cpe_it):
    for user in (lpc_officer, cpe_it):
        client.force_login(user)
        response = client.get(START)
        assert response.status_code == 403
        assert "not linked to any pharmacy" in response.content.decode()
        assert client.post(step("kind"), {"kind": Kind.LOCKED}).status_code == 403
    assert Issue.objects.count() == 0


def test_it_answers_404_for_an_unknown_step(client, staff, pharmacy):
    client.force_login(staff)
    assert client.get(step("teleport")).status_code == 404


def test_it_sends_anonymous_visitors_to_log_in(client):
    response = client.get(START)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_it_shows_the_confirmation_only_to_people_who_can_see_the_issue(client, issue, outsider):
    client.force_login(outsider)
    assert client.get(reverse("issues:reported", args=[issue.reference])).status_code == 404


def issue_page(issue: Issue) -> str:
    return reverse("issues:detail", args=[issue.reference])


@pytest.mark.parametrize("kind", sorted(RA_ONLY_KINDS))
def test_it_sends_a_kind_only_the_ra_can_fix_straight_to_the_ra_without_asking_what_was_tried(
    client, staff, pharmacy, kind
):
    client.force_login(staff)
    response = client.post(step("kind"), {"kind": kind})
    assert response.url == step("details")  # no "what did you try"
    assert client.get(step("tried")).url == step("details")
    page = client.get(step("details")).content.decode()
    assert f'href="{step("kind")}"' in page  # the back link skips the question too
    client.post(step("details"), GOOD_DETAILS)
    page = client.get(step("check")).content.decode()
    assert "Already tried" not in page and step("tried") not in page
    assert f"{step('kind')}?change=1" in page

    client.post(step("check"))
    issue = Issue.objects.get()
    assert issue.kind == kind and issue.tried_in_pharmacy == "" and issue.state == State.IN_PHARMACY
    done = client.get(reverse("issues:reported", args=[issue.reference])).content.decode()
    assert f'href="{reverse("issues:contact_ra", args=[issue.reference])}"' in done
    assert text_of(done, class_name="app-guidance__title") == "Contact the Registration Authority (RA) now"
    assert "Care Identity Service" not in text_of(done, id="what-to-do-now")

    page = client.get(issue_page(issue)).content.decode()
    assert text_of(page, class_name="app-issue-status") == "Ready to contact the RA"
    assert reverse("issues:action", args=[issue.reference, "try_cis"]) not in page


def test_it_leads_a_problem_the_pharmacy_may_fix_to_the_issue_page(client, staff, pharmacy):
    client.force_login(staff)
    answer_up_to_check(client)
    client.post(step("check"))
    issue = Issue.objects.get()
    done = client.get(reverse("issues:reported", args=[issue.reference])).content.decode()
    assert reverse("issues:contact_ra", args=[issue.reference]) not in done
    assert "Go to the issue" in done
    # What they tried is on the issue; the guidance does not ask for the checks again.
    assert "You told us what you have already tried" in text_of(done, id="what-to-do-now")


def test_it_leads_an_emergency_to_contact_the_ra(client, staff, pharmacy):
    client.force_login(staff)
    answer_up_to_check(client, details={**GOOD_DETAILS, "is_emergency": "yes"})
    client.post(step("check"))
    issue = Issue.objects.get()
    done = client.get(reverse("issues:reported", args=[issue.reference])).content.decode()
    assert f'href="{reverse("issues:contact_ra", args=[issue.reference])}"' in done
    assert f'href="tel:{pharmacy.ra.phone.replace(" ", "")}"' in done
    assert "2 working days" not in done


def test_it_forgets_what_was_tried_when_the_kind_changes_to_one_only_the_ra_can_fix(client, staff, pharmacy):
    client.force_login(staff)
    answer_up_to_check(client)
    assert client.post(f"{step('kind')}?change=1", {"kind": Kind.MULTI_SITE}).url == step("check")
    page = client.get(step("check")).content.decode()
    assert "Already tried" not in page and "Tried the unlock link." not in page
    client.post(step("check"))
    assert Issue.objects.get().tried_in_pharmacy == ""


def test_it_asks_what_was_tried_when_the_kind_changes_to_one_the_pharmacy_may_fix(client, staff, pharmacy):
    client.force_login(staff)
    client.post(step("kind"), {"kind": Kind.PREMISES_ODS})
    client.post(step("details"), GOOD_DETAILS)
    response = client.post(f"{step('kind')}?change=1", {"kind": Kind.LOCKED})
    assert response.url == f"{step('tried')}?change=1"
    assert client.post(response.url, {"tried_in_pharmacy": "Rebooted."}).url == step("check")
    assert "Rebooted." in client.get(step("check")).content.decode()


def test_it_gives_the_emergency_window_from_the_settings(client, staff, pharmacy, settings):
    settings.WINDOW_RA_REPLY_EMERGENCY_DAYS = 1
    client.force_login(staff)
    client.post(step("kind"), {"kind": Kind.LOCKED})
    client.post(step("tried"), {})
    page = client.get(step("details")).content.decode()
    assert "The RA is then asked to reply within 1 working day" in page
