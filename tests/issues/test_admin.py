"""The admin shows issues read-only and changes them only through the service layer."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from issues.models import EventKind, Issue, IssueEvent, State


@pytest.fixture
def admin_cpe_it(cpe_it):
    cpe_it.is_staff = cpe_it.is_superuser = True
    cpe_it.save()
    return cpe_it


def test_it_shows_an_issue_and_its_timeline_read_only(client, admin_cpe_it, issue):
    IssueEvent.objects.create(issue=issue, kind=EventKind.NOTE, text="A note on the timeline")
    client.force_login(admin_cpe_it)
    response = client.get(reverse("admin:issues_issue_change", args=[issue.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "A note on the timeline" in content
    assert 'name="state"' not in content
    assert client.get(reverse("admin:issues_issue_add")).status_code == 403
    assert client.post(reverse("admin:issues_issue_delete", args=[issue.pk])).status_code == 403
    assert client.get(reverse("admin:issues_issueevent_add")).status_code == 403


def test_it_resolves_through_the_service_with_its_permission_check(client, admin_cpe_it, issue, staff):
    client.force_login(admin_cpe_it)
    url = reverse("admin:issues_issue_changelist")
    response = client.post(url, {"action": "resolve_as_cpe_it", "_selected_action": [issue.pk]}, follow=True)
    assert response.status_code == 200
    issue = Issue.objects.get(pk=issue.pk)
    assert issue.state == State.RESOLVED
    assert IssueEvent.objects.get(issue=issue, kind=EventKind.TRANSITION).actor == admin_cpe_it


def test_it_refuses_an_admin_without_a_role_on_the_issue(client, issue, directory_manager):
    directory_manager.is_staff = directory_manager.is_superuser = True
    directory_manager.save()
    client.force_login(directory_manager)
    url = reverse("admin:issues_issue_changelist")
    response = client.post(url, {"action": "resolve_as_cpe_it", "_selected_action": [issue.pk]}, follow=True)
    assert "You cannot see this issue." in response.content.decode()
    assert Issue.objects.get(pk=issue.pk).state == State.IN_PHARMACY


def test_it_logs_no_reply_call_or_note_in_the_admin(client, admin_cpe_it, issue):
    """The admin is no door to the timeline: a reply, a call or a note goes through the page or the
    API, whose services keep the route's rules (an RA reply only once the RA was asked)."""
    client.force_login(admin_cpe_it)
    response = client.post(
        reverse("admin:issues_issueevent_add"),
        {"issue": issue.pk, "kind": EventKind.RA_REPLY, "text": "The RA replied", "data": "{}"},
    )
    assert response.status_code == 403
    response = client.post(
        reverse("admin:issues_issue_change", args=[issue.pk]),
        {"events-TOTAL_FORMS": "1", "events-INITIAL_FORMS": "0", "events-0-kind": "ra_reply", "events-0-text": "Hi"},
    )
    assert response.status_code == 403
    changelist = client.get(reverse("admin:issues_issue_changelist")).content.decode()
    actions = changelist.split('name="action"', 1)[1].split("</select>", 1)[0]
    assert re.findall(r'<option value="([^"]*)"', actions) == ["", "resolve_as_cpe_it"]
    assert not IssueEvent.objects.filter(issue=issue).exists()
