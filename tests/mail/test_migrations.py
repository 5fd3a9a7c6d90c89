"""The mail layer's models moved out of the issues app: `migrate` carries a database of the old
schema, with its rows, over to the new one (and back)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from issues.models import EventKind, InboundEmailMatch, Issue, IssueEvent, IssueOutboundEmail, UnmatchedEmail
from smartcard_route.mail.models import InboundEmail, OutboundEmail
from tests.issues.factories import IssueFactory, UserFactory
from tests.mail import payloads
from tests.mail.payloads import Mail

# The schema before the move: every app at its first migration, the mail app not there yet.
BEFORE = [("directory", "0001_initial"), ("issues", "0001_initial"), ("mail", None)]


def migrate(targets: list[tuple[str, str | None]]) -> Any:
    """Migrate the test database to `targets`; the apps (historical models) of that state."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    nodes = [(app, name) for app, name in targets if name is not None]
    return executor.loader.project_state(nodes).apps


def migrate_to_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def old_issue(apps: Any) -> Issue:
    """An issue written through the old schema's model (the issue table has gained columns since,
    such as the nudge cursor, next_nudge_at), read back as today's model once migrated."""
    # The directory as that schema had it too (it has gained columns since, such as `active`).
    owner = apps.get_model("directory", "PharmacyOwner").objects.create(name="Patel Pharmacies Ltd")
    pharmacy = apps.get_model("directory", "Pharmacy").objects.create(
        ods_code="FA123", name="High Street Pharmacy", owner_id=owner.pk
    )
    reporter = apps.get_model("directory", "User").objects.create(email="sam@example.org", full_name="Sam Patel")
    row = apps.get_model("issues", "Issue").objects.create(
        pharmacy_id=pharmacy.pk,
        reporter_id=reporter.pk,
        kind="locked",
        summary="Card locked after three wrong passcodes",
        contact_name="Sam Patel",
        contact_phone="0113 496 0002",
    )
    return Issue(pk=row.pk, tracking_token=row.tracking_token)


@pytest.fixture
def old_schema(transactional_db: None) -> Iterator[Any]:
    """The database at the schema before the move (then back at the latest, whatever happens)."""
    try:
        yield migrate(BEFORE)
    finally:
        migrate_to_latest()


def test_it_carries_the_outbox_and_its_links_to_issues_over(old_schema: Any) -> None:
    issue = old_issue(old_schema)  # the directory and event tables are the same before and after
    event = IssueEvent.objects.create(issue_id=issue.pk, kind=EventKind.TRANSITION, text="Asked the RA")
    OldOutboundEmail = old_schema.get_model("issues", "OutboundEmail")
    row = {"from_email": "noreply@example.org", "to": ["ra@nhs.example"], "subject": "[SC-1] Help", "body_text": "x"}
    request = OldOutboundEmail.objects.create(
        issue_id=issue.pk, event_id=event.pk, purpose="ra_request", message_id="<request@example.org>", **row
    )
    reminder = OldOutboundEmail.objects.create(
        issue_id=issue.pk, purpose="nudge", message_id="<nudge@example.org>", status="sent", **row
    )
    digest = OldOutboundEmail.objects.create(purpose="digest", message_id="<digest@example.org>", **row)

    migrate_to_latest()

    assert set(OutboundEmail.objects.filter(issue=issue)) == {
        OutboundEmail.objects.get(pk=request.pk),
        OutboundEmail.objects.get(pk=reminder.pk),
    }
    assert list(event.emails.all()) == [OutboundEmail.objects.get(pk=request.pk)]
    assert not OutboundEmail.objects.filter(pk=digest.pk, issue__isnull=False).exists()
    moved = OutboundEmail.objects.get(pk=request.pk)
    assert (moved.message_id, moved.purpose, moved.status, moved.to) == (
        "<request@example.org>",
        "ra_request",
        "queued",
        ["ra@nhs.example"],
    )
    # Mail the app wrote of its own accord keeps going out as automatic mail.
    assert dict(OutboundEmail.objects.values_list("purpose", "auto_submitted")) == {
        "ra_request": False,
        "nudge": True,
        "digest": True,
    }
    assert OutboundEmail._meta.db_table == "mail_outboundemail"
    # New rows are numbered after the old ones.
    assert OutboundEmail.objects.create(purpose="nudge", message_id="<new@example.org>", **row).pk > digest.pk


def test_it_goes_back_to_the_old_schema_with_the_links_as_foreign_keys(old_schema: Any) -> None:
    migrate_to_latest()
    issue: Issue = IssueFactory.create()
    event = IssueEvent.objects.create(issue=issue, kind=EventKind.TRANSITION, text="Asked the RA")
    email = OutboundEmail.objects.create(
        purpose="ra_request", from_email="a@example.org", to=["b@example.org"], subject="x", body_text="x"
    )
    IssueOutboundEmail.objects.create(email=email, issue=issue, event=event)

    old = migrate(BEFORE)

    assert old.get_model("issues", "OutboundEmail").objects.values_list("pk", "issue_id", "event_id").get() == (
        email.pk,
        issue.pk,
        event.pk,
    )


def test_it_carries_inbound_mail_over_with_where_it_landed(old_schema: Any, settings: Any, client: Any) -> None:
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": payloads.WEBHOOK_SECRET}
    issue = old_issue(old_schema)
    attacher = UserFactory.create(is_cpe_it=True)
    received = IssueEvent.objects.create(issue_id=issue.pk, kind=EventKind.EMAIL_IN, text="Email from the RA")
    OldInboundEmail = old_schema.get_model("issues", "InboundEmail")
    reply = Mail(from_email="ra@ra.example", to=[f"issues+{issue.tracking_token}@smartcard-route.localhost"])
    matched = OldInboundEmail.objects.create(
        status="matched",
        issue_id=issue.pk,
        event_id=received.pk,
        matched_by="manual",
        sender_role="ra",
        attached_by_id=attacher.pk,
        esp_name="Postmark",
        message_id=reply.message_id,
        from_email=reply.from_email,
        to=reply.to,
        recipients=reply.to,
        subject=reply.subject,
        body_text=reply.text,
    )
    unmatched = OldInboundEmail.objects.create(
        esp_name="Postmark", message_id="<stray@elsewhere.example>", from_email="x@elsewhere.example", subject="?"
    )
    old_schema.get_model("issues", "InboundAttachment").objects.create(email_id=unmatched.pk, filename="a.pdf")

    migrate_to_latest()

    match = InboundEmailMatch.objects.get()
    assert (match.email_id, match.issue_id, match.event_id, match.matched_by, match.sender_role) == (
        matched.pk,
        issue.pk,
        received.pk,
        "manual",
        "ra",
    )
    assert match.attached_by_id == attacher.pk
    assert list(UnmatchedEmail.objects.values_list("email_id", flat=True)) == [unmatched.pk]
    stray = InboundEmail.objects.get(pk=unmatched.pk)
    assert [attachment.filename for attachment in stray.attachments.all()] == ["a.pdf"]
    assert stray.handed_over_at is not None and len(stray.content_hash) == 64
    assert InboundEmail._meta.db_table == "mail_inboundemail"

    # The same reply posted again after the move is the email stored before it, and changes nothing.
    response = payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, payloads.postmark_inbound(reply))
    assert response.status_code == 200
    assert InboundEmail.objects.count() == 2
    assert IssueEvent.objects.filter(issue=issue, kind=EventKind.EMAIL_IN).count() == 1
