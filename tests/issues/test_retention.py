"""Retention (issues.services.retention): the run redacts every personal field of an issue closed
longer ago than RETENTION_MONTHS, with its events, mail, attachments and posts, and nothing of a
recent or open one; the figures before and after are equal; a second run changes nothing; the dry
run counts what the run then redacts; a closed systemic case's texts and evidence pack follow."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Model
from django.urls import reverse

from issues import services
from issues.models import EventKind, InboundEmailMatch, Issue, IssueEvent, SystemicCase
from issues.selectors.figures import figures_for
from issues.services.retention import REDACTED, retention_plan, retention_run
from smartcard_route.mail.models import InboundAttachment, InboundEmail, InboundPost, OutboundEmail
from tests.issues.factories import IssueFactory
from tests.issues.journey import CONTACT_PHONE, PERSONAL_TEXTS, RA_EMAIL, SMARTCARD, Journey, run_journey

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
OLD = datetime(2024, 6, 3, 10, 0, tzinfo=UTC)  # 30 months ago: past the default 24
RECENT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # 9 months ago


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def journey_at(moment: datetime, client: Any, settings: Any, tag: str) -> Journey:
    with time_machine.travel(moment, tick=True):
        return run_journey(client, settings=settings, tag=tag, resolve=True)


def rows_of(issue: Issue) -> list[Model]:
    """Every row that holds data of the issue: itself, its events, its mail, posts and attachments."""
    emails = InboundEmail.objects.filter(matches__issue=issue)
    return [
        Issue.objects.get(pk=issue.pk),
        *IssueEvent.objects.filter(issue=issue),
        *OutboundEmail.objects.filter(issue=issue),
        *emails,
        *InboundPost.objects.filter(emails__in=emails),
        *InboundAttachment.objects.filter(email__in=emails),
    ]


def dump(row: Model) -> str:
    values = {}
    for f in row._meta.concrete_fields:
        value = getattr(row, f.attname)
        values[f.name] = value.tobytes().decode("utf-8", "replace") if isinstance(value, memoryview) else str(value)
    return json.dumps(values, ensure_ascii=False)


def personal_in(rows: list[Model], people: list[str]) -> list[str]:
    found = []
    for row in rows:
        text = dump(row)
        for needle in (*PERSONAL_TEXTS, *people):
            if needle in text or needle.replace(" ", "") in text:
                found.append(f"{row._meta.label} {row.pk}: {needle}")
    return found


def test_it_redacts_every_personal_field_of_an_old_closed_issue_and_nothing_of_a_recent_one(
    client: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    old = journey_at(OLD, client, settings, "old")
    recent = journey_at(RECENT, client, settings, "recent")
    with time_machine.travel(OLD - timedelta(days=1)):
        still_open = IssueFactory.create(state="ra_contacted")  # reported long ago, never closed
    people = [RA_EMAIL, *(person.email for person in old.people.values())]
    assert personal_in(rows_of(old.issue), people), "the journey wrote no personal data: the check is vacuous"
    attachment = InboundAttachment.objects.get(email__matches__issue=old.issue)
    path = attachment.file.path
    recent_before = [dump(row) for row in rows_of(recent.issue)]
    open_before = dump(still_open)

    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        planned = retention_plan()
        counts = retention_run(batch_size=3)  # several batches

    assert counts.as_dict() == planned.as_dict()
    assert counts.issues == 1 and counts.inbound_emails == 1 and counts.inbound_posts == 1
    assert counts.outbound_emails == OutboundEmail.objects.filter(issue=old.issue).count() > 1
    assert personal_in(rows_of(old.issue), people) == []
    old.issue.refresh_from_db()
    assert old.issue.redacted_at == NOW and old.issue.summary == REDACTED
    assert (old.issue.contact_name, old.issue.contact_phone, old.issue.smartcard_number) == ("", "", "")
    attachment.refresh_from_db()
    assert not attachment.file and attachment.filename == REDACTED
    assert not (settings.MEDIA_ROOT / path).exists()
    assert all(row.redacted_at == NOW for row in OutboundEmail.objects.filter(issue=old.issue))
    # What stays: the events, their kinds, states and times, the match and who sent it.
    kinds = list(IssueEvent.objects.filter(issue=old.issue).values_list("kind", flat=True))
    assert EventKind.EMAIL_IN in kinds and EventKind.TRIAGE in kinds and kinds.count(EventKind.TRANSITION) >= 5
    assert InboundEmailMatch.objects.get(issue=old.issue).sender_role == "ra"
    # Nothing of the recent issue, nor of the open one.
    assert [dump(row) for row in rows_of(recent.issue)] == recent_before
    still_open.refresh_from_db()
    assert dump(still_open) == open_before
    assert CONTACT_PHONE in dump(recent.issue) and SMARTCARD in dump(recent.issue)


def test_the_figures_before_and_after_redaction_are_equal(client: Any, settings: Any) -> None:
    old = journey_at(OLD, client, settings, "old")
    journey_at(OLD + timedelta(days=7), client, settings, "old2")
    cpe_it = old.people["cpe_it"]
    as_of = OLD + timedelta(weeks=4)  # a period that holds the old issues
    before = figures_for(user=cpe_it, weeks=13, now=as_of)
    assert before.resolved == 2 and before.ras, "the figures hold nothing: the check is vacuous"

    with time_machine.travel(NOW, tick=False):
        assert retention_run().issues == 2

    assert figures_for(user=cpe_it, weeks=13, now=as_of) == before


def test_a_second_run_changes_nothing_and_the_dry_run_then_counts_nothing(client: Any, settings: Any) -> None:
    old = journey_at(OLD, client, settings, "old")
    with time_machine.travel(NOW, tick=False):
        assert retention_run().total > 0
        snapshot = [dump(row) for row in rows_of(old.issue)]
        assert retention_run().total == 0
        assert retention_plan().total == 0
    assert [dump(row) for row in rows_of(old.issue)] == snapshot


def test_it_keeps_an_issue_closed_within_the_period_and_follows_the_setting(client: Any, settings: Any) -> None:
    recent = journey_at(RECENT, client, settings, "recent")
    with time_machine.travel(NOW, tick=False):
        assert retention_plan().issues == 0
        settings.RETENTION_MONTHS = 6
        assert retention_plan().issues == 1
        assert retention_run().issues == 1
    recent.issue.refresh_from_db()
    assert recent.issue.redacted_at is not None


def test_it_redacts_a_withdrawn_issue_from_its_withdrawal(client: Any, settings: Any) -> None:
    with time_machine.travel(OLD, tick=True):
        journey = run_journey(client, settings=settings, tag="w")
        issue = services.issue_withdraw(user=journey.people["reporter"], issue=journey.issue, reason="Priya left.")
    with time_machine.travel(NOW, tick=False):
        assert retention_run().issues == 1
    issue.refresh_from_db()
    assert issue.withdrawn_reason == REDACTED and issue.state == "withdrawn"


def test_the_dry_run_command_counts_and_changes_nothing(client: Any, settings: Any) -> None:
    old = journey_at(OLD, client, settings, "old")
    out = io.StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("redact_expired", "--dry-run", stdout=out)
    assert "The next run would redact" in out.getvalue()
    assert "       1  issues" in out.getvalue()
    old.issue.refresh_from_db()
    assert old.issue.redacted_at is None and old.issue.contact_phone == CONTACT_PHONE
    out = io.StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("redact_expired", stdout=out)
    assert "Redacted:" in out.getvalue()
    old.issue.refresh_from_db()
    assert old.issue.redacted_at is not None


def test_it_redacts_a_closed_case_past_the_period_and_its_evidence_pack_shows_it(client: Any, settings: Any) -> None:
    old = journey_at(OLD, client, settings, "old")
    cpe_it = old.people["cpe_it"]
    with time_machine.travel(OLD + timedelta(days=2), tick=True):
        case = services.case_create(
            user=cpe_it, title="Locked cards", description="Priya and others.", issues=[old.issue]
        )
        case = services.case_record_highlight(
            user=cpe_it, case=case, highlighted_at=OLD + timedelta(days=2), to="td.person@england.example", text="Priya"
        )
        case = services.case_close(user=cpe_it, case=case, note="Fixed for Priya.", notify=False)
    with time_machine.travel(RECENT, tick=True):
        recent_issue = journey_at(RECENT, client, settings, "r").issue
        recent_case = services.case_create(user=cpe_it, title="Recent", description="Kept text.", issues=[recent_issue])
        services.case_close(user=cpe_it, case=recent_case, note="Kept note.", notify=False)

    with time_machine.travel(NOW, tick=False):
        counts = retention_run()

    assert counts.cases == 1
    case = SystemicCase.objects.get(pk=case.pk)
    assert case.redacted_at == NOW and case.title == "Locked cards"
    assert (case.description, case.highlight_text, case.closing_note, case.highlighted_to) == (
        REDACTED,
        REDACTED,
        REDACTED,
        "",
    )
    assert "Priya" not in "".join(dump(event) for event in case.events.all())
    assert SystemicCase.objects.get(pk=recent_case.pk).description == "Kept text."
    client.force_login(cpe_it)
    response = client.get(reverse("cases:evidence_pack", kwargs={"reference": case.reference}))
    assert response.status_code == 200
    pack = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    summary = pack.read("summary.html").decode()
    assert REDACTED in summary and "Priya" not in summary and "td.person@england.example" not in summary
    for name in pack.namelist():
        assert b"Priya" not in pack.read(name), name


def test_the_beat_schedule_runs_it_nightly_through_the_task(client: Any, settings: Any) -> None:
    from celery.schedules import crontab
    from django.conf import settings as live

    from issues.tasks import redact_expired_personal_data

    entry = live.CELERY_BEAT_SCHEDULE["retention-redact"]
    assert entry["task"] == "issues.tasks.redact_expired_personal_data" == redact_expired_personal_data.name
    assert entry["schedule"] == crontab(hour=2, minute=30)
    journey_at(OLD, client, settings, "task")
    with time_machine.travel(NOW, tick=False):
        assert redact_expired_personal_data() > 0
        assert redact_expired_personal_data() == 0
