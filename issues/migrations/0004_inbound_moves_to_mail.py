"""Inbound mail moves to the mail layer (smartcard_route.mail), which knows no issue.

1. What said where an email landed (its status, issue, event, how it matched, who sent it, who
   attached it) becomes rows of the issues app, copied over here: an InboundEmailMatch per
   matched email, an UnmatchedEmail (CPE IT's queue) per unmatched one.
2. The email loses those columns, and its Message-ID its uniqueness (the mail layer's 0002 makes
   Message-ID and content unique together), while its table still has its old name.
3. Its tables are renamed mail_inboundemail and mail_inboundattachment, and mail's 0002 (which
   runs after this one, `run_before`) takes the models over; issues' 0005 then points the new
   rows at mail's models.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def copy_matches(apps, schema_editor):
    InboundEmail = apps.get_model("issues", "InboundEmail")
    InboundEmailMatch = apps.get_model("issues", "InboundEmailMatch")
    UnmatchedEmail = apps.get_model("issues", "UnmatchedEmail")
    IssueEvent = apps.get_model("issues", "IssueEvent")
    for email in InboundEmail.objects.filter(status="matched", issue__isnull=False).iterator():
        event_id = email.event_id
        if event_id is None:  # never so when written by the app; an event keeps the timeline true
            event_id = IssueEvent.objects.create(
                issue_id=email.issue_id,
                kind="email_in",
                text=f"Email from {email.from_email or 'an unknown sender'}: {email.subject or '(no subject)'}",
                data={"inbound_email_id": email.pk, "message_id": email.message_id},
                created_at=email.received_at,
            ).pk
        InboundEmailMatch.objects.create(
            email_id=email.pk,
            issue_id=email.issue_id,
            event_id=event_id,
            matched_by=email.matched_by or "manual",
            sender_role=email.sender_role,
            attached_by_id=email.attached_by_id,
            created_at=email.received_at,
        )
    UnmatchedEmail.objects.bulk_create(
        (
            UnmatchedEmail(email_id=pk, created_at=received_at)
            for pk, received_at in InboundEmail.objects.exclude(status="matched", issue__isnull=False)
            .values_list("pk", "received_at")
            .iterator()
        ),
        batch_size=1000,
    )


def copy_matches_back(apps, schema_editor):
    InboundEmail = apps.get_model("issues", "InboundEmail")
    InboundEmailMatch = apps.get_model("issues", "InboundEmailMatch")
    for match in InboundEmailMatch.objects.order_by("email_id", "created_at").iterator():
        # The old schema had one issue per email: the first match.
        InboundEmail.objects.filter(pk=match.email_id, status="unmatched").update(
            status="matched",
            issue_id=match.issue_id,
            event_id=match.event_id,
            matched_by=match.matched_by,
            sender_role=match.sender_role,
            attached_by_id=match.attached_by_id,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0003_outbox_links"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]
    run_before = [("mail", "0002_inbound")]

    operations = [
        # The old field's reverse name goes to the match's (no change in the database).
        migrations.AlterField(
            model_name="inboundemail",
            name="attached_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.CreateModel(
            name="InboundEmailMatch",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "matched_by",
                    models.CharField(
                        choices=[
                            ("token", "The issue's tracking address"),
                            ("thread", "A reply to an earlier email on the issue"),
                            ("reference", "The issue reference in the subject"),
                            ("manual", "Attached by CPE IT"),
                        ],
                        max_length=10,
                    ),
                ),
                (
                    "sender_role",
                    models.CharField(
                        choices=[
                            ("unknown", "Unknown sender"),
                            ("ra", "The pharmacy's RA"),
                            ("reporter", "The person who reported the issue"),
                            ("pharmacy", "The pharmacy (staff or owner)"),
                            ("lpc", "The pharmacy's LPC"),
                            ("cpe_it", "CPE IT team"),
                        ],
                        default="unknown",
                        max_length=10,
                    ),
                ),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "attached_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="attached_emails",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "email",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="matches", to="issues.inboundemail"
                    ),
                ),
                (
                    "event",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="inbound_matches",
                        to="issues.issueevent",
                    ),
                ),
                (
                    "issue",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="inbound_matches", to="issues.issue"
                    ),
                ),
            ],
            options={
                "ordering": ("created_at", "id"),
                "constraints": [
                    models.UniqueConstraint(fields=("email", "issue"), name="inbound_match_once_per_issue")
                ],
            },
        ),
        migrations.CreateModel(
            name="UnmatchedEmail",
            fields=[
                (
                    "email",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        primary_key=True,
                        related_name="unmatched",
                        serialize=False,
                        to="issues.inboundemail",
                    ),
                ),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "ordering": ("-created_at", "-email_id"),
                "indexes": [models.Index(fields=["created_at"], name="unmatched_email_created")],
            },
        ),
        migrations.RunPython(copy_matches, copy_matches_back, elidable=False),
        migrations.RemoveIndex(model_name="inboundemail", name="inbound_status_received"),
        migrations.RemoveIndex(model_name="inboundemail", name="inbound_issue_received"),
        migrations.RemoveField(model_name="inboundemail", name="attached_by"),
        migrations.RemoveField(model_name="inboundemail", name="event"),
        migrations.RemoveField(model_name="inboundemail", name="issue"),
        migrations.RemoveField(model_name="inboundemail", name="matched_by"),
        migrations.RemoveField(model_name="inboundemail", name="sender_role"),
        migrations.RemoveField(model_name="inboundemail", name="status"),
        migrations.AlterField(model_name="inboundemail", name="message_id", field=models.CharField(max_length=998)),
        migrations.AlterModelTable(name="inboundemail", table="mail_inboundemail"),
        migrations.AlterModelTable(name="inboundattachment", table="mail_inboundattachment"),
    ]
