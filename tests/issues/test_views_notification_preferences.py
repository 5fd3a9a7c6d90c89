"""The reminder emails page (/account/notifications/): each reminder straight away, or one email
each weekday morning; linked from the header for everyone reminders go to."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from issues.models import NotificationPreference

pytestmark = pytest.mark.django_db

PAGE = reverse("notifications:notification_preferences")
SAVE = reverse("notifications:notification_preferences_save")
IMMEDIATE = NotificationPreference.Delivery.IMMEDIATE
DIGEST = NotificationPreference.Delivery.DAILY_DIGEST
REMINDER_PEOPLE = ["staff", "owner", "lpc_officer", "cpe_it"]


def header_links(page: str) -> list[str]:
    nav = re.search(r'<nav class="nhsuk-header__navigation".*?</nav>', page, re.S)
    assert nav is not None
    return re.findall(r'href="([^"]+)"', nav.group(0))


def checked(page: str) -> list[str]:
    """The values of the checked radios."""
    return re.findall(r'<input[^>]*value="([a-z_]+)"[^>]*\bchecked\b', page)


@pytest.mark.parametrize("persona", REMINDER_PEOPLE)
def test_it_is_linked_from_the_header_for_everyone_reminders_go_to(client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    assert PAGE in header_links(client.get("/").content.decode())


def test_it_is_not_linked_for_a_directory_manager(client, directory_manager):
    client.force_login(directory_manager)
    assert PAGE not in header_links(client.get("/").content.decode())


def test_it_asks_an_anonymous_visitor_to_log_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert client.post(SAVE, {"nudge_delivery": DIGEST}).status_code == 302
    assert not NotificationPreference.objects.exists()


@pytest.mark.parametrize("persona", REMINDER_PEOPLE)
def test_it_offers_immediate_emails_until_the_person_chooses(client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(PAGE)
    page = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Reminder emails</h1>" in page
    assert "Email me each reminder straight away" in page
    assert "One email each weekday morning listing my reminders" in page
    assert "One email at 08:00 each weekday" in page
    assert checked(page) == [IMMEDIATE]


@pytest.mark.parametrize("persona", REMINDER_PEOPLE)
def test_it_saves_the_daily_digest_and_shows_it_chosen(client, request, persona):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    response = client.post(SAVE, {"nudge_delivery": DIGEST})
    assert response.status_code == 302 and response.url == PAGE
    assert NotificationPreference.objects.get(user=user).nudge_delivery == DIGEST
    page = client.get(PAGE).content.decode()
    assert "Saved: you will get one email each weekday morning listing your reminders." in page
    assert checked(page) == [DIGEST]


def test_it_goes_back_to_immediate_emails(client, owner):
    NotificationPreference.objects.create(user=owner, nudge_delivery=DIGEST)
    client.force_login(owner)
    assert checked(client.get(PAGE).content.decode()) == [DIGEST]
    client.post(SAVE, {"nudge_delivery": IMMEDIATE})
    assert NotificationPreference.objects.get(user=owner).nudge_delivery == IMMEDIATE
    page = client.get(PAGE).content.decode()
    assert "Saved: you will get each reminder by email straight away." in page
    assert checked(page) == [IMMEDIATE]


def test_it_changes_only_the_signed_in_persons_choice(client, staff, owner):
    client.force_login(staff)
    client.post(SAVE, {"nudge_delivery": DIGEST})
    assert list(NotificationPreference.objects.values_list("user", "nudge_delivery")) == [(staff.pk, DIGEST)]
    client.force_login(owner)
    assert checked(client.get(PAGE).content.decode()) == [IMMEDIATE]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"nudge_delivery": "hourly"}, "Select one of the ways of getting reminders listed"),
        ({}, "Select how you want your reminders"),
    ],
)
def test_it_shows_an_error_summary_for_a_bad_value_and_saves_nothing(client, staff, data, message):
    client.force_login(staff)
    response = client.post(SAVE, data)
    page = response.content.decode()
    assert response.status_code == 400
    assert "<title>Error: Reminder emails" in page
    summary = re.search(r'class="nhsuk-error-summary".*?</ul>', page, re.S)
    assert summary is not None
    assert message in summary.group(0)
    assert 'href="#nudge_delivery"' in summary.group(0)
    assert 'id="nudge_delivery"' in page  # the summary's link lands on the first radio
    assert page.count(message) == 2  # in the summary and inline
    assert not NotificationPreference.objects.exists()


def test_it_saves_only_on_post_and_shows_only_on_get(client, staff):
    client.force_login(staff)
    assert client.get(SAVE).status_code == 405
    assert client.post(PAGE, {"nudge_delivery": DIGEST}).status_code == 405
    assert not NotificationPreference.objects.exists()
