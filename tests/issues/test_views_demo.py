"""seed_demo's issues: every state of the route, real timelines and mail, and safe to run again.

(Named test_views_demo because the demo exists to fill the issue pages on a first `make run`.)
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from directory.demo import ROLES
from directory.models import User
from issues.models import EventKind, Issue, IssueEvent, MailPurpose, State
from issues.nudges import nudges_sweep
from smartcard_route.mail.models import OutboundEmail

pytestmark = pytest.mark.django_db


def test_it_creates_issues_in_every_state_through_the_services():
    call_command("seed_demo", "--quiet")
    assert set(Issue.objects.values_list("state", flat=True)) == set(State.values)
    for issue in Issue.objects.all():
        kinds = list(issue.events.values_list("kind", flat=True))
        assert kinds[0] == EventKind.REPORTED
        if issue.state != State.IN_PHARMACY:
            assert EventKind.TRANSITION in kinds
    assert OutboundEmail.objects.filter(purpose=MailPurpose.RA_REQUEST).count() >= 3
    assert OutboundEmail.objects.filter(purpose=MailPurpose.CPE_ESCALATION).count() == 1


def test_it_leaves_one_issue_waiting_on_an_ra_whose_window_has_passed():
    call_command("seed_demo", "--quiet")
    overdue = Issue.objects.filter(state=State.RA_CONTACTED, due_at__lt=timezone.now())
    assert overdue.count() == 1
    late = overdue.get()
    assert late.summary == "Add the locum code FFFFF to my card"
    # What the beat's sweep does on a first `make run`: it finds that issue, and only that one, late.
    nudges_sweep()
    assert list(IssueEvent.objects.filter(kind=EventKind.NUDGE).values_list("issue_id", flat=True)) == [late.pk]


def test_it_changes_nothing_when_run_again():
    call_command("seed_demo", "--quiet")
    before = (Issue.objects.count(), IssueEvent.objects.count(), OutboundEmail.objects.count())
    call_command("seed_demo", "--quiet")
    assert (Issue.objects.count(), IssueEvent.objects.count(), OutboundEmail.objects.count()) == before


def test_it_fills_every_demo_accounts_pages(client):
    call_command("seed_demo", "--quiet")
    emails = {role.key: role.email for role in ROLES}
    staff = User.objects.get(email=emails["staff"])
    client.force_login(staff)
    page = client.get(reverse("issues:list"), {"state": "all"}).content.decode()
    assert page.count('class="nhsuk-table__row"') >= 8
    for issue in Issue.objects.filter(pharmacy__staff=staff):
        assert client.get(reverse("issues:detail", args=[issue.reference])).status_code == 200
    client.force_login(User.objects.get(email=emails["lpc_officer"]))
    assert "New ODS code not on the team" in client.get(reverse("dashboards:lpc")).content.decode()
    client.force_login(User.objects.get(email=emails["cpe_it"]))
    assert "Pharmacist role missing after the move" in client.get(reverse("dashboards:cpe_it")).content.decode()
