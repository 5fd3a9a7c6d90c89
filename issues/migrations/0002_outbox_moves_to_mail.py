"""The outbox moves to the mail layer (smartcard_route.mail), which knows no issue.

1. Each outbox row's issue and event become a link row of the issues app (IssueOutboundEmail),
   copied over here; the outbox loses its two foreign keys.
2. Its table is renamed mail_outboundemail, and mail's first migration (which runs after this one,
   `run_before`) takes the model over without touching the database; issues' 0003 then points
   the link rows and digest items at mail's model.
"""

import django.db.models.deletion
from django.db import migrations, models


def copy_links(apps, schema_editor):
    OutboundEmail = apps.get_model("issues", "OutboundEmail")
    IssueOutboundEmail = apps.get_model("issues", "IssueOutboundEmail")
    rows = OutboundEmail.objects.filter(issue__isnull=False).values_list("pk", "issue_id", "event_id")
    IssueOutboundEmail.objects.bulk_create(
        (
            IssueOutboundEmail(email_id=pk, issue_id=issue_id, event_id=event_id)
            for pk, issue_id, event_id in rows.iterator()
        ),
        batch_size=1000,
    )


def copy_links_back(apps, schema_editor):
    OutboundEmail = apps.get_model("issues", "OutboundEmail")
    IssueOutboundEmail = apps.get_model("issues", "IssueOutboundEmail")
    for link in IssueOutboundEmail.objects.all().iterator():
        OutboundEmail.objects.filter(pk=link.email_id).update(issue_id=link.issue_id, event_id=link.event_id)


class Migration(migrations.Migration):
    dependencies = [("issues", "0001_initial")]
    run_before = [("mail", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="IssueOutboundEmail",
            fields=[
                (
                    "email",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        primary_key=True,
                        related_name="issue_link",
                        serialize=False,
                        to="issues.outboundemail",
                    ),
                ),
                (
                    "event",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="outbound_links",
                        to="issues.issueevent",
                    ),
                ),
                (
                    "issue",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="outbound_links", to="issues.issue"
                    ),
                ),
            ],
        ),
        migrations.RunPython(copy_links, copy_links_back, elidable=False),
        migrations.RemoveField(model_name="outboundemail", name="event"),
        migrations.RemoveField(model_name="outboundemail", name="issue"),
        migrations.AlterModelTable(name="outboundemail", table="mail_outboundemail"),
    ]
